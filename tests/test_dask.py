"""densekit.dask on a real LocalCluster of two worker processes (one started for the module).

The cluster's workers have a small memory limit, so the Parquet test shows that a
dataset larger than a worker's memory streams through it.
"""

from __future__ import annotations

import os
import signal

import numpy as np
import pytest

dask = pytest.importorskip("dask")
distributed = pytest.importorskip("distributed")
da = pytest.importorskip("dask.array")
dd = pytest.importorskip("dask.dataframe")
pytest.importorskip("sklearn")

import densekit as dk  # noqa: E402
from densekit import dask as dkd  # noqa: E402
from densekit.errors import ModelFileError, TrainingError  # noqa: E402
from densekit.serialization.checkpoint import read_checkpoint  # noqa: E402

MEMORY_LIMIT = 400 * 2**20  # a worker's memory; an idle worker already holds about 230 MB


@pytest.fixture(scope="module")
def client():
    # the bound is checked by the peak-RSS assertion of the Parquet test, so Dask's own
    # pausing and killing are off: a worker it paused or killed after that test (idle
    # workers keep freed memory) would hang or fail the later tests instead
    dask.config.set(
        {"distributed.worker.memory.pause": False, "distributed.worker.memory.terminate": False}
    )
    cluster = distributed.LocalCluster(
        n_workers=2,
        processes=True,
        threads_per_worker=1,
        memory_limit=MEMORY_LIMIT,
        dashboard_address=None,
        # numba's compiler is a fixed ~160 MB a process, which this small limit (meant for
        # the data) cannot hold: the workers use the NumPy kernels, the driver numba's
        env={"DENSEKIT_KERNELS": "numpy"},
    )
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


@pytest.fixture(scope="module")
def cancer():
    from sklearn.datasets import load_breast_cancer

    x, y = load_breast_cancer(return_X_y=True)
    return (x - x.mean(axis=0)) / x.std(axis=0), y


def make_model(dtype: str = "float64", optimizer=None) -> dk.Sequential:
    model = dk.Sequential(
        [
            dk.layers.Dense(16, activation="relu", input_dim=30, kernel_regularizer="l2"),
            dk.layers.Dense(1, activation="sigmoid"),
        ],
        seed=3,
        dtype=dtype,
    )
    optimizer = dk.optimizers.Adam(0.01) if optimizer is None else optimizer
    model.compile(optimizer, "binary_crossentropy", metrics=["accuracy"])
    return model


def full_batch_reference(x, y, epochs: int, callbacks=()) -> list[np.ndarray]:
    model = make_model()
    model.fit(
        x, y, batch_size=len(x), epochs=epochs, shuffle=False, verbose=0, callbacks=list(callbacks)
    )
    return model.get_weights()


def halve_learning_rate() -> dk.callbacks.Callback:
    return dk.callbacks.LearningRateScheduler(lambda epoch, rate: rate / 2)


def test_exact_gradients_equal_full_batch_fit_in_float64(client, cancer):
    x, y = cancer
    half = -(-len(x) // 2)  # one partition per worker; the global batch covers both
    model = make_model()
    dkd.fit(model, da.from_array(x, chunks=half), da.from_array(y, chunks=half), client, 1,
            batch_size=len(x), epochs=4, verbose=0)  # fmt: skip
    for got, expected in zip(model.get_weights(), full_batch_reference(x, y, 4)):
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)


def test_a_dask_dataframe_with_a_target_column_trains_like_the_array(client, cancer):
    import pandas as pd

    x, y = cancer
    frame = pd.DataFrame(x, columns=[f"f{i}" for i in range(30)]).assign(target=y)
    half = -(-len(x) // 2)
    model = make_model()
    dkd.fit(model, dd.from_pandas(frame, chunksize=half), "target", client,
            batch_size=len(x), epochs=2, verbose=0)  # fmt: skip
    for got, expected in zip(model.get_weights(), full_batch_reference(x, y, 2)):
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)


ROWS, BATCH, EPOCHS = 4096, 96, 3  # 96 does not divide 1000: batches span chunks
CHUNKINGS = {
    "1000-row chunks": (1000, 1000, 1000, 1000, 96),
    "unequal chunks": (1, 700, 1395, 100, 1900),  # one row; one barely above a batch
}


def separable(features: int = 8) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((ROWS, features))
    return x, (x[:, 0] + x[:, 1] * x[:, 2] > 0).astype(np.float64)


def spread(client, array: np.ndarray, chunks: tuple[int, ...]):
    """``array`` as a persisted Dask array with these row chunks, chunk i held by worker
    i mod 2 (so consecutive chunks, and the batches that span them, are on two workers)."""
    workers = sorted(client.scheduler_info()["workers"])
    bounds = np.cumsum((0, *chunks))
    pieces = [
        client.persist(da.from_array(array[lo:hi], chunks=-1), workers=[workers[i % 2]])
        for i, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:]))
    ]
    whole = da.concatenate(pieces).persist()  # each alias task runs where its chunk is
    distributed.wait(whole)
    holders = {w for held in client.who_has(distributed.futures_of(whole)).values() for w in held}
    assert holders == set(workers[: len(chunks)]), "the chunks are not where they were put"
    return whole


def fit_both(client, dtype, chunks, shuffle):
    """The same rows, order, batch size and seed: dask.fit on two workers, and model.fit."""
    x, y = separable()
    model = dk.Sequential(
        [
            dk.layers.Dense(16, activation="relu", input_dim=8, kernel_regularizer="l2"),
            dk.layers.Dense(1, activation="sigmoid"),
        ],
        seed=3,
        dtype=dtype,
    )
    model.compile(dk.optimizers.Adam(0.01), "binary_crossentropy", metrics=["accuracy"])
    one = model.copy()
    settings = {"batch_size": BATCH, "epochs": EPOCHS, "shuffle": shuffle, "seed": 7, "verbose": 0}
    on_dask = dkd.fit(model, spread(client, x, chunks), spread(client, y, chunks), client, 1,
                      **settings)  # fmt: skip
    in_one = one.fit(x, y, **settings)
    return model, one, on_dask, in_one


def sum_tolerance(dtype: str) -> float:
    """Each step's gradient is a sum of BATCH terms added in another order (per worker,
    then across): its relative error is at most BATCH * eps; over every step, steps times."""
    steps = EPOCHS * -(-ROWS // BATCH)
    return steps * BATCH * float(np.finfo(dtype).eps)  # float64: 2.7e-12; float32: 1.5e-3


@pytest.mark.parametrize("shuffle", [False, True], ids=["in order", "shuffled"])
@pytest.mark.parametrize("chunks", CHUNKINGS.values(), ids=CHUNKINGS.keys())
def test_sync_every_1_takes_the_steps_of_one_process_in_float64(client, chunks, shuffle):
    model, one, on_dask, in_one = fit_both(client, "float64", chunks, shuffle)
    tolerance = sum_tolerance("float64")
    for got, expected in zip(model.get_weights(), one.get_weights()):
        np.testing.assert_allclose(got, expected, rtol=tolerance, atol=tolerance)
    # the logged loss holds the l2 penalty once, as model.fit's does
    np.testing.assert_allclose(on_dask.history["loss"], in_one.history["loss"], rtol=tolerance)
    np.testing.assert_allclose(on_dask.history["accuracy"], in_one.history["accuracy"])


def test_sync_every_1_in_float32_agrees_to_the_rounding_of_its_sums(client):
    model, one, _, _ = fit_both(client, "float32", CHUNKINGS["1000-row chunks"], shuffle=False)
    tolerance = sum_tolerance("float32")
    for got, expected in zip(model.get_weights(), one.get_weights()):
        np.testing.assert_allclose(got, expected, rtol=tolerance, atol=tolerance)


def test_sync_every_1_resumed_draws_the_permutations_an_uninterrupted_run_draws(client, tmp_path):
    x, y = separable()
    xs, ys = spread(client, x, CHUNKINGS["1000-row chunks"]), spread(client, y, (ROWS,))
    settings = {"batch_size": BATCH, "seed": 7, "verbose": 0}
    checkpoint = tmp_path / "checkpoint.safetensors"
    model = dk.Sequential([dk.layers.Dense(1, activation="sigmoid", input_dim=8)], seed=3,
                          dtype="float64")  # fmt: skip
    model.compile(dk.optimizers.Adam(0.01), "binary_crossentropy")
    one = model.copy()
    dkd.fit(model.copy(), xs, ys, client, epochs=2, checkpoint=checkpoint, **settings)
    dkd.fit(model, xs, ys, client, epochs=EPOCHS, checkpoint=checkpoint, resume=True, **settings)
    one.fit(x, y, epochs=EPOCHS, **settings)
    tolerance = sum_tolerance("float64")
    for got, expected in zip(model.get_weights(), one.get_weights()):
        np.testing.assert_allclose(got, expected, rtol=tolerance, atol=tolerance)


def test_sync_every_1_refuses_batch_normalization(client):
    x, y = separable()
    model = dk.Sequential(
        [dk.layers.Dense(8, input_dim=8), dk.layers.BatchNormalization(name="bn"),
         dk.layers.Dense(1, activation="sigmoid")]
    )  # fmt: skip
    model.compile("adam", "binary_crossentropy")
    with pytest.raises(
        dk.errors.ArgumentError, match="'bn' \\(BatchNormalization\\).*sync_every > 1"
    ):
        dkd.fit(model, da.from_array(x, chunks=1000), da.from_array(y, chunks=1000), client, 1,
                verbose=0)  # fmt: skip


def test_parameter_averaging_every_k_steps_learns_with_dropout(client, cancer):
    x, y = cancer
    model = dk.Sequential(
        [
            dk.layers.Dense(16, activation="relu", input_dim=30),
            dk.layers.Dropout(0.1),
            dk.layers.Dense(1, activation="sigmoid"),
        ],
        seed=3,
    )
    model.compile(dk.optimizers.Adam(0.01), "binary_crossentropy", metrics=["accuracy"])
    history = dkd.fit(model, da.from_array(x, chunks=100), da.from_array(y, chunks=100), client,
                      sync_every=4, batch_size=64, epochs=4, verbose=0)  # fmt: skip
    assert history.history["accuracy"][-1] > 0.95
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]


def write_parquet_files(folder, files: int, rows: int, columns: int = 31) -> int:
    """Random features and a separable target, one Parquet file (partition) at a time."""
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    folder.mkdir()
    rng = np.random.default_rng(0)
    for k in range(files):
        x = rng.random((rows, columns), dtype=np.float32) - 0.5
        table = {f"f{i}": x[:, i] for i in range(columns)}
        table["target"] = (x[:, 0] + x[:, 1] > 0).astype(np.float32)
        pq.write_table(pa.table(table), folder / f"part-{k:03d}.parquet", compression="none")
    return files * rows * (columns + 1) * 4


def test_persisted_partitions_are_trained_by_the_worker_that_holds_them(client):
    x = da.from_array(np.random.default_rng(0).random((1000, 5)), chunks=(100, 5)).persist()
    distributed.wait(x)
    _, lengths, _, keys = dkd.partitions(x, np.zeros(1000), client)
    plan = dkd.assign(keys, lengths, sorted(client.scheduler_info()["workers"]), client)
    holders = {str(k): v[0] for k, v in client.who_has(distributed.futures_of(x)).items()}
    for worker, parts in plan.items():
        assert all(holders[str(keys[p])] == worker for p in parts)


def test_parquet_larger_than_worker_memory_streams_in_bounded_memory(client, tmp_path):
    size = write_parquet_files(tmp_path / "big", files=70, rows=50_000)  # 448 MB as float32
    assert size > MEMORY_LIMIT
    model = dk.Sequential([dk.layers.Dense(1, activation="sigmoid", input_dim=31)], seed=0)
    model.compile(dk.optimizers.Adam(0.05), "binary_crossentropy", metrics=["accuracy"])
    history = dkd.fit(model, dd.read_parquet(tmp_path / "big"), "target", client,
                      sync_every=50, batch_size=8192, epochs=1, verbose=0)  # fmt: skip
    assert history.history["accuracy"][0] > 0.9
    peaks = client.run(peak_resident_bytes)
    assert max(peaks.values()) < MEMORY_LIMIT, peaks


def peak_resident_bytes() -> int:
    """The worker's own peak RSS (VmHWM). ru_maxrss would not do: on Linux it carries the
    parent's peak through fork and exec, so a worker started from a large pytest process
    reports that process's size."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def test_tune_runs_trials_on_the_workers_and_resumes_from_its_storage(client, cancer, tmp_path):
    pytest.importorskip("optuna_integration")
    x, y = cancer
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    settings = {"epochs": 2, "batch_size": 64, "study_name": "cancer", "storage": storage}
    settings["space"] = {
        "layers": (1, 2),
        "units": (4, 32, "log"),
        "learning_rate": (1e-3, 3e-2, "log"),
    }
    first = dkd.tune(x, y, n_trials=3, client=client, **settings)
    assert len(first.trials) == 3
    resumed = dkd.tune(x, y, n_trials=5, client=client, **settings)
    assert len(resumed.trials) == 5  # two more, not five more
    assert all(t.state.name == "COMPLETE" for t in resumed.trials)
    assert resumed.best_value < 0.5


class KillAWorker(dk.callbacks.Callback):
    """Kill one worker process (like a lost machine) when an epoch ends."""

    def __init__(self, client, epoch: int):
        super().__init__()
        self.client, self.epoch = client, epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            pid = next(iter(self.client.run(os.getpid).values()))
            os.kill(pid, signal.SIGKILL)


def test_a_lost_worker_is_reported_and_training_resumes_from_the_checkpoint(
    client, cancer, tmp_path
):
    x, y = cancer
    half = -(-len(x) // 2)
    xs, ys = da.from_array(x, chunks=half), da.from_array(y, chunks=half)
    checkpoint = tmp_path / "checkpoint.safetensors"
    settings = {"batch_size": len(x), "epochs": 4, "verbose": 0, "checkpoint": checkpoint}
    model = make_model()
    with pytest.raises(TrainingError, match="was lost during epoch 3"):
        dkd.fit(model, xs, ys, client, callbacks=[KillAWorker(client, 1)], **settings)
    # as after losing a machine: bring the cluster back whole before resuming (a nanny's
    # respawned worker alone can register before it takes work)
    client.restart(wait_for_workers=True)
    client.wait_for_workers(2, timeout=60)
    resumed = make_model()
    dkd.fit(resumed, xs, ys, client, resume=True, **settings)
    for got, expected in zip(resumed.get_weights(), full_batch_reference(x, y, 4)):
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)


def test_an_adam_checkpoint_resumed_into_sgd_fails_naming_both(client, cancer, tmp_path):
    x, y = cancer
    xs, ys = da.from_array(x, chunks=300), da.from_array(y, chunks=300)
    settings = {"batch_size": len(x), "verbose": 0, "checkpoint": tmp_path / "adam.safetensors"}
    dkd.fit(make_model(), xs, ys, client, epochs=1, **settings)
    sgd = make_model(optimizer=dk.optimizers.SGD(0.01))
    with pytest.raises(ModelFileError, match="optimizer Adam, but the model is compiled with SGD"):
        dkd.fit(sgd, xs, ys, client, epochs=2, resume=True, **settings)


def test_a_learning_rate_lowered_by_a_callback_survives_resume(client, cancer, tmp_path):
    x, y = cancer
    half = -(-len(x) // 2)
    xs, ys = da.from_array(x, chunks=half), da.from_array(y, chunks=half)
    checkpoint = tmp_path / "checkpoint.safetensors"
    settings = {"batch_size": len(x), "verbose": 0, "checkpoint": checkpoint}
    dkd.fit(make_model(), xs, ys, client, epochs=2, callbacks=[halve_learning_rate()], **settings)
    assert read_checkpoint(checkpoint)["learning_rate"] == 0.01 / 4
    resumed = make_model()
    dkd.fit(resumed, xs, ys, client, epochs=4, resume=True, callbacks=[halve_learning_rate()],
            **settings)  # fmt: skip
    expected = full_batch_reference(x, y, 4, [halve_learning_rate()])
    for got, want in zip(resumed.get_weights(), expected):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_parameter_averaging_workers_step_with_the_learning_rate_a_callback_sets(client, cancer):
    x, y = cancer
    xs, ys = da.from_array(x, chunks=300), da.from_array(y, chunks=300)
    settings = {"sync_every": 2, "batch_size": 64, "verbose": 0}
    one_epoch = make_model()
    dkd.fit(one_epoch, xs, ys, client, epochs=1, **settings)
    # a second epoch at a vanishing rate must leave the weights where the first left them
    almost_stop = dk.callbacks.LearningRateScheduler(lambda e, rate: rate if e == 0 else 1e-30)
    two_epochs = make_model()
    dkd.fit(two_epochs, xs, ys, client, epochs=2, callbacks=[almost_stop], **settings)
    for got, want in zip(two_epochs.get_weights(), one_epoch.get_weights()):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)


def test_nan_inputs_stop_training_with_a_clear_error(client, cancer):
    x, y = cancer
    x = x.copy()
    x[5, 2] = np.nan
    model = make_model()
    before = model.get_weights()
    with pytest.raises(TrainingError, match="Check x and y for NaN"):
        dkd.fit(model, da.from_array(x, chunks=300), da.from_array(y, chunks=300), client,
                batch_size=len(x), epochs=1, verbose=0)  # fmt: skip
    for kept, original in zip(model.get_weights(), before):
        np.testing.assert_array_equal(kept, original)


def test_seed_must_be_an_integer(client, cancer):
    x, y = cancer
    with pytest.raises(dk.errors.ArgumentError, match="integer seed"):
        dkd.fit(make_model(), da.from_array(x, chunks=300), da.from_array(y, chunks=300), client,
                seed=None, verbose=0)  # fmt: skip


@pytest.mark.parametrize(
    "bad, error",
    [
        ({"callbacks": [dk.callbacks.BackupAndRestore("unused")]}, dk.errors.ArgumentError),
        ({"callbacks": ["early_stopping"]}, dk.errors.ArgumentError),
        ({"batch_size": 0}, dk.errors.ArgumentError),
        ({"epochs": -1}, dk.errors.ArgumentError),
    ],
    ids=["backup-callback", "callback-name", "batch-size", "epochs"],
)
def test_a_refused_argument_leaves_an_unbuilt_model_unbuilt(client, bad, error):
    x, y = separable()
    model = dk.Sequential([dk.layers.Dense(4), dk.layers.Dense(1, activation="sigmoid")])
    model.compile("adam", "binary_crossentropy")
    with pytest.raises(error):
        dkd.fit(model, da.from_array(x, chunks=1000), da.from_array(y, chunks=1000), client, 1,
                verbose=0, **bad)  # fmt: skip
    assert not model.built
