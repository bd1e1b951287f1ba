"""densekit.distributed under a real ``mpiexec``: exactness, inputs, lost ranks, resuming.

Each test starts ``mpiexec -n N python tests/distributed_worker.py CONFIG`` (the
mpich wheel puts mpiexec beside the Python interpreter) and compares the weights
rank 0 wrote with a plain ``model.fit`` in this process.
"""

from __future__ import annotations

import json
import os
import re
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
from densekit.serialization.checkpoint import read_checkpoint  # noqa: E402

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


# Unshuffled, global batch k is rows [50k, 50k + 50) and rank r takes its positions r, r+2, ...:
# on two ranks, rank r trains on exactly the rows whose index is r modulo 2, every epoch.
UNSHUFFLED = {**FIT, "shuffle": False}
MEMORY_MAPS = ["load_mmap", "memmap", "mmap_view"]  # the forms of worker.open_input


def save_input(source: str, path: Path, array: np.ndarray) -> None:
    """Write ``array`` where ``worker.open_input(source, path)`` reads it."""
    if source == "memmap":
        np.ascontiguousarray(array, dtype=np.float64).tofile(path)
    else:
        np.save(path, array)


def input_config(source: str, x_path: Path, y_path: Path, fit: dict = UNSHUFFLED) -> dict:
    return {"dtype": "float64", "fit": fit, "input": source, "x_path": str(x_path),
            "y_path": str(y_path)}  # fmt: skip


def test_memory_maps_are_read_only_in_each_ranks_own_rows_bit_identical(tmp_path, data_file):
    x, y, _ = worker.dataset()
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    _, whole = run_mpi(
        tmp_path, 2, input_config("npy", tmp_path / "x.npy", tmp_path / "y.npy"), data_file
    )
    _, in_memory = run_mpi(tmp_path, 2, {"dtype": "float64", "fit": UNSHUFFLED}, data_file)
    for got, want in zip(weights_of(in_memory), weights_of(whole)):
        assert np.array_equal(got, want)
    for source in ["npy", *MEMORY_MAPS]:
        suffix = ".bin" if source == "memmap" else ".npy"
        for rank in range(2):
            # each rank's files hold NaN in the rows that only the other rank may read
            others = np.arange(len(x)) % 2 != rank
            save_input(source, tmp_path / f"x{rank}{suffix}", np.where(others[:, None], np.nan, x))
            save_input(source, tmp_path / f"y{rank}{suffix}", np.where(others, np.nan, y))
        config = input_config(
            source, tmp_path / f"x{{rank}}{suffix}", tmp_path / f"y{{rank}}{suffix}"
        )
        _, result = run_mpi(tmp_path, 2, config, data_file)
        assert result["ranks_agree"], source
        for got, want in zip(weights_of(result), weights_of(whole)):
            assert np.array_equal(got, want), source


@pytest.mark.parametrize(
    ("poisoned", "owner", "message"),
    [
        ("x", 1, "x contains NaN or infinite values (first at row 37, column 4)"),
        ("y", 0, "y contains NaN or infinite values (first at row 100)"),
    ],
)
def test_a_nan_in_a_ranks_own_rows_of_a_memory_map_is_refused_by_that_rank_naming_the_row(
    tmp_path, data_file, poisoned, owner, message
):
    x, y, _ = worker.dataset()
    if poisoned == "x":
        x[37, 4] = np.nan  # row 37 is odd: rank 1's
    else:
        y = y.astype(np.float64)
        y[100] = np.nan  # row 100 is even: rank 0's
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    config = input_config("load_mmap", tmp_path / "x.npy", tmp_path / "y.npy")
    done, result = run_mpi(tmp_path, 2, config, data_file, check=False)
    assert done.returncode != 0 and result is None
    assert (
        f"rank {owner} of 2 failed: InputError: {message}; expected finite numbers" in done.stderr
    )
    assert f"rank {1 - owner} of 2 failed" not in done.stderr


class CountBatches(dk.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.batches = 0

    def on_train_batch_begin(self, batch, logs=None):
        self.batches += 1


@pytest.mark.parametrize("form", ["path", "np.load"])
def test_validation_split_rows_of_a_memory_map_are_checked_before_training(tmp_path, form):
    from densekit.backend import make_rng
    from densekit.validation import validation_split_indices

    x, y, _ = worker.dataset()
    # the rows fit holds out: its first draw from the seed's generator, stratified by label
    _, held_out = validation_split_indices(len(x), 0.2, make_rng(7), y.astype(np.int64))
    row = int(held_out[3])
    x[row, 2] = np.inf
    path = tmp_path / "x.npy"
    np.save(path, x)
    x_in = str(path) if form == "path" else np.load(path, mmap_mode="r")
    counter = CountBatches()
    fit = {"validation_split": 0.2, "seed": 7, "epochs": 1, "verbose": 0, "callbacks": [counter]}
    with pytest.raises(dk.errors.InputError, match=rf"\(first at row {row}, column 2\)"):
        distributed.fit(worker.make_model(), x_in, y, **fit)
    assert counter.batches == 0  # found among the held-out rows, not in a training batch


def test_a_memory_mapped_ys_shape_is_checked_up_front_naming_its_whole_shape(tmp_path):
    x, y, _ = worker.dataset()
    np.save(tmp_path / "y.npy", np.stack([y, 1 - y], axis=1))
    with pytest.raises(dk.errors.InputError, match=re.escape("y has shape (569, 2), but the")):
        distributed.fit(
            worker.make_model(), x, str(tmp_path / "y.npy"), epochs=1, verbose=0, seed=7
        )


def test_a_float64_memory_map_too_large_for_float32_is_refused_naming_the_row(tmp_path):
    x, y, _ = worker.dataset()
    x[5, 1] = 1e300
    np.save(tmp_path / "x.npy", x)
    x_map = np.load(tmp_path / "x.npy", mmap_mode="r")
    with pytest.raises(
        dk.errors.InputError, match=re.escape("x has values too large for float32 (first at row 5,")
    ):
        distributed.fit(worker.make_model("float32"), x_map, y, epochs=1, verbose=0, seed=7)


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
    assert "val_accuracy" in result.stderr  # the epochs are messages: on stderr
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


def test_validation_data_is_evaluated_as_model_fit_evaluates_it():
    x, y, _ = worker.dataset()
    fit = {"validation_data": (x[:100], y[:100]), "epochs": 2, "verbose": 0, "seed": 7}
    plain, spread = worker.make_model(), worker.make_model()
    expected = plain.fit(x, y, **fit).history
    history = distributed.fit(spread, x, y, **fit).history  # one rank: bit-identical
    assert history["val_loss"] == expected["val_loss"]
    for got, want in zip(spread.get_weights(), plain.get_weights()):
        assert np.array_equal(got, want)


def test_a_bad_argument_is_refused_before_an_unbuilt_model_is_built():
    x, y, _ = worker.dataset()
    model = dk.Sequential([dk.layers.Dense(4, "relu"), dk.layers.Dense(1, "sigmoid")], seed=3)
    model.compile("adam", "binary_crossentropy")
    with pytest.raises(dk.errors.ArgumentTypeError, match="shuffle must be True or False"):
        distributed.fit(model, x, y, shuffle="no", epochs=1, verbose=0)
    assert not model.built
