"""densekit.distributed under a real ``mpiexec``: exactness, inputs, lost ranks, resuming.

Each test starts ``mpiexec -n N python tests/distributed_worker.py CONFIG`` (the
mpich wheel puts mpiexec beside the Python interpreter) and compares the weights
rank 0 wrote with a plain ``model.fit`` in this process.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("mpi4py")
pytest.importorskip("sklearn")

import densekit as dk  # noqa: E402
import distributed_worker as worker  # noqa: E402 - tests/ is on sys.path
from densekit import distributed  # noqa: E402
from densekit.checkpoint import read_checkpoint  # noqa: E402

HERE = Path(__file__).resolve().parent
MPIEXEC = shutil.which("mpiexec", path=str(Path(sys.executable).parent)) or shutil.which("mpiexec")
pytestmark = pytest.mark.skipif(MPIEXEC is None, reason="no mpiexec (pip install mpich)")

FIT = {"batch_size": 50, "epochs": 3, "seed": 7}  # 569 rows: the last batch has 19 (10 + 9)


@pytest.fixture(scope="module")
def data_file(tmp_path_factory) -> str:
    x, y, weights = worker.dataset()
    path = tmp_path_factory.mktemp("data") / "breast_cancer.npz"
    np.savez(path, x=x, y=y, weights=weights)
    return str(path)


def run_mpi(tmp_path: Path, ranks: int, config: dict, data: str, check: bool = True):
    """Run the worker on ``ranks`` ranks; return (completed process, rank 0's arrays)."""
    out = tmp_path / f"out-{len(list(tmp_path.glob('out-*')))}.npz"
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps({**config, "out": str(out), "data": data}))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE.parent / "src"), str(HERE)])}
    env["OMP_NUM_THREADS"] = env["OPENBLAS_NUM_THREADS"] = "1"
    command = [MPIEXEC, "-n", str(ranks), sys.executable, str(HERE / "distributed_worker.py")]
    done = subprocess.run(
        [*command, str(config_path)], env=env, capture_output=True, text=True, timeout=120
    )
    if check:
        assert done.returncode == 0, done.stdout + done.stderr
    result = dict(np.load(out)) if out.exists() else None
    return done, result


def weights_of(result: dict) -> list[np.ndarray]:
    return [result[f"arr_{i}"] for i in range(6)]


def single_process(dtype: str, callbacks=(), **fit) -> list[np.ndarray]:
    x, y, weights = worker.dataset()
    model = worker.make_model(dtype)
    model.fit(x, y, sample_weight=weights, verbose=0, callbacks=list(callbacks), **{**FIT, **fit})
    return model.get_weights()


def test_two_ranks_match_one_process_in_float64(tmp_path, data_file):
    _, result = run_mpi(tmp_path, 2, {"dtype": "float64", "fit": FIT}, data_file)
    for got, expected in zip(weights_of(result), single_process("float64")):
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)
    assert result["ranks_agree"]


def test_two_ranks_match_one_process_to_float32_rounding(tmp_path, data_file):
    _, result = run_mpi(tmp_path, 2, {"dtype": "float32", "fit": FIT}, data_file)
    for got, expected in zip(weights_of(result), single_process("float32")):
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


def test_one_rank_is_bit_identical_to_fit(tmp_path, data_file):
    fit = {**FIT, "validation_split": 0.2}
    _, result = run_mpi(tmp_path, 1, {"dtype": "float32", "fit": fit}, data_file)
    for got, expected in zip(weights_of(result), single_process("float32", validation_split=0.2)):
        assert np.array_equal(got, expected)


def test_more_ranks_than_rows_in_the_last_batch_is_still_exact(tmp_path, data_file):
    # 569 rows in batches of 4: the last batch has 1 row, so rank 1 has none.
    fit = {"batch_size": 4, "epochs": 1, "seed": 7}
    _, result = run_mpi(tmp_path, 2, {"dtype": "float64", "fit": fit}, data_file)
    for got, expected in zip(weights_of(result), single_process("float64", **fit)):
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)


def test_memory_mapped_npy_and_parquet_inputs_match_arrays(tmp_path, data_file):
    pq = pytest.importorskip("pyarrow.parquet")
    import pyarrow as pa

    x, y, _ = worker.dataset()
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    table = pa.table({**{f"f{i}": x[:, i] for i in range(30)}, "target": y})
    pq.write_table(table, tmp_path / "data.parquet", row_group_size=100)
    expected = single_process("float64")
    for source, x_path in [("npy", "x.npy"), ("parquet", "data.parquet")]:
        config = {
            "dtype": "float64",
            "fit": FIT,
            "input": source,
            "x_path": str(tmp_path / x_path),
            "y_path": str(tmp_path / "y.npy"),
        }
        _, result = run_mpi(tmp_path, 2, config, data_file)
        for got, want in zip(weights_of(result), expected):
            np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12, err_msg=source)


def test_parameter_averaging_keeps_ranks_equal_and_learns(tmp_path, data_file):
    fit = {**FIT, "epochs": 5, "sync_every": 4}
    _, result = run_mpi(tmp_path, 2, {"dtype": "float32", "fit": fit}, data_file)
    assert result["ranks_agree"]
    assert result["loss"][-1] < 0.5 * result["loss"][0]


def test_a_failing_rank_aborts_every_rank_with_its_error(tmp_path, data_file):
    done, result = run_mpi(
        tmp_path, 2, {"dtype": "float64", "fit": FIT, "raise_on_rank": 1}, data_file, check=False
    )
    assert done.returncode != 0
    assert "rank 1 of 2 failed: InputError" in done.stderr
    assert result is None


def test_a_lost_rank_stops_the_run_and_it_resumes_from_the_checkpoint(tmp_path, data_file):
    checkpoint = str(tmp_path / "checkpoint.safetensors")
    fit = {**FIT, "epochs": 4, "checkpoint": checkpoint, "resume": True}
    die = {"rank": 1, "epoch": 2, "batch": 3}
    done, result = run_mpi(
        tmp_path, 2, {"dtype": "float64", "fit": fit, "die": die}, data_file, check=False
    )
    assert done.returncode != 0, "mpiexec must fail when a rank is lost"
    assert result is None
    assert read_checkpoint(checkpoint)["epoch"] == 2  # epochs 0 and 1 finished
    resumed, result = run_mpi(tmp_path, 2, {"dtype": "float64", "fit": fit}, data_file)
    assert "resuming from" in resumed.stdout
    for got, expected in zip(weights_of(result), single_process("float64", epochs=4)):
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)


def test_an_adam_checkpoint_resumed_into_sgd_fails_naming_both(tmp_path, data_file):
    fit = {**FIT, "epochs": 1, "checkpoint": str(tmp_path / "adam.safetensors"), "resume": True}
    run_mpi(tmp_path, 2, {"dtype": "float64", "fit": fit}, data_file)
    config = {"dtype": "float64", "fit": {**fit, "epochs": 2}, "optimizer": "sgd"}
    done, result = run_mpi(tmp_path, 2, config, data_file, check=False)
    assert done.returncode != 0 and result is None
    assert "written with the optimizer Adam, but the model is compiled with SGD" in done.stderr


def test_a_learning_rate_lowered_by_a_callback_survives_resume_bit_identical(tmp_path, data_file):
    checkpoint = str(tmp_path / "checkpoint.safetensors")
    fit = {**FIT, "epochs": 2, "checkpoint": checkpoint, "resume": True}
    config = {"dtype": "float64", "fit": fit, "halve_learning_rate": True}
    run_mpi(tmp_path, 1, config, data_file)
    assert read_checkpoint(checkpoint)["learning_rate"] == 0.01 / 4
    _, result = run_mpi(tmp_path, 1, {**config, "fit": {**fit, "epochs": 4}}, data_file)
    expected = single_process("float64", [worker.halve_learning_rate()], epochs=4)
    for got, want in zip(weights_of(result), expected):
        assert np.array_equal(got, want)


def test_resume_on_two_ranks_restores_every_ranks_dropout_stream_bit_identical(tmp_path, data_file):
    checkpoint = str(tmp_path / "checkpoint.safetensors")
    config = {"dtype": "float64", "dropout": 0.3}
    _, uninterrupted = run_mpi(tmp_path, 2, {**config, "fit": {**FIT, "epochs": 4}}, data_file)
    fit = {**FIT, "checkpoint": checkpoint, "resume": True}
    run_mpi(tmp_path, 2, {**config, "fit": {**fit, "epochs": 2}}, data_file)
    assert {"rank0/layer/dropout", "rank1/layer/dropout_1"} <= set(
        read_checkpoint(checkpoint)["rng"]
    )
    _, resumed = run_mpi(tmp_path, 2, {**config, "fit": {**fit, "epochs": 4}}, data_file)
    for got, want in zip(weights_of(resumed), weights_of(uninterrupted)):
        assert np.array_equal(got, want)


def test_cli_trains_a_multiclass_table_on_two_ranks_with_a_validation_split(tmp_path):
    from sklearn.datasets import load_iris

    import densekit as dk

    frame = load_iris(as_frame=True).frame
    frame["species"] = frame.pop("target").map({0: "setosa", 1: "versicolor", 2: "virginica"})
    data, model_path = tmp_path / "iris.csv", tmp_path / "iris.safetensors"
    frame.to_csv(data, index=False)
    command = [MPIEXEC, "-n", "2", sys.executable, "-m", "densekit.cli", "train", str(data),
               "--target", "species", "-o", str(model_path), "--epochs", "30", "--distributed",
               "--checkpoint", str(tmp_path / "ck.safetensors")]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "val_accuracy" in result.stdout
    model = dk.load_model(model_path)
    x = frame.drop(columns="species").to_numpy(np.float32)
    assert model.input_dim == 4 and model.output_dim == 3
    assert np.isfinite(model.predict((x - x.mean(0)) / x.std(0))).all()


def test_terminate_on_nan_is_refused_on_several_ranks(tmp_path, data_file):
    # a rank that skipped its step would leave the others waiting in the Allreduce
    config = {"dtype": "float64", "fit": FIT, "terminate_on_nan": True}
    done, result = run_mpi(tmp_path, 2, config, data_file, check=False)
    assert done.returncode != 0 and result is None
    assert "TerminateOnNaN cannot be used here" in done.stderr


def test_callbacks_are_checked_like_model_fit():
    x, y, _ = worker.dataset()
    model = worker.make_model()
    with pytest.raises(dk.errors.ArgumentTypeError, match="must be a list"):
        distributed.fit(model, x, y, callbacks=dk.callbacks.EarlyStopping(), epochs=1)
    backup = dk.callbacks.BackupAndRestore("backup")
    with pytest.raises(dk.errors.ArgumentError, match="checkpoint=PATH, resume=True"):
        distributed.fit(model, x, y, callbacks=[backup], epochs=1)
