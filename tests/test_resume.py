"""Exact resume: a training script killed with SIGKILL and run again ends bit-identical;
a checkpoint that does not fit the model is refused, and what it holds comes back whole."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_digits

import densekit as dk
from densekit.errors import ModelFileError
from densekit.serialization.checkpoint import read_checkpoint, restore_checkpoint, save_checkpoint

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs POSIX signals")

EPOCHS = 8

# The "same script" a user would run again after a crash. DENSEKIT_TEST_SLOW makes
# each epoch last a little longer so the parent can kill it between epochs;
# DENSEKIT_TEST_KILL_AT_FSYNC=N makes the process SIGKILL itself in its N-th fsync,
# i.e. in the middle of a checkpoint write (temporary file written, not yet renamed).
SCRIPT = """
import os, signal, sys, time
import numpy as np
import densekit as dk

data_path, backup_dir, out_path, epochs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
kill_at = int(os.environ.get("DENSEKIT_TEST_KILL_AT_FSYNC", "0"))
if kill_at:
    real_fsync, calls = os.fsync, [0]

    def fsync(fd):
        calls[0] += 1
        if calls[0] == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        real_fsync(fd)

    os.fsync = fsync


class Slow(dk.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        time.sleep(float(os.environ.get("DENSEKIT_TEST_SLOW", "0")))


data = np.load(data_path)
model = dk.Sequential(
    [
        dk.layers.Dense(48, activation="relu", input_dim=64),
        dk.layers.BatchNormalization(momentum=0.9),
        dk.layers.Dropout(0.3),
        dk.layers.Dense(32, activation="relu"),
        dk.layers.Dropout(0.2, seed=7),
        dk.layers.Dense(10, activation="softmax"),
    ],
    seed=3,
)
model.compile(optimizer=dk.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy")
model.fit(
    data["x"], data["y"], epochs=epochs, batch_size=64, validation_split=0.2, verbose=0,
    callbacks=[
        dk.callbacks.BackupAndRestore(backup_dir),
        dk.callbacks.LearningRateScheduler(lambda epoch, lr: lr * 0.9),
        Slow(),
    ],
)
np.savez(out_path, *model.get_weights(), iterations=model.optimizer.iterations)
"""


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    folder = tmp_path_factory.mktemp("resume")
    x, y = load_digits(return_X_y=True)
    np.savez(folder / "digits.npz", x=x / 16.0, y=y)
    (folder / "train.py").write_text(SCRIPT, encoding="utf-8")
    return folder


def command(folder: Path, backup: str, out: str) -> list[str]:
    return [
        sys.executable,
        str(folder / "train.py"),
        str(folder / "digits.npz"),
        str(folder / backup),
        str(folder / out),
        str(EPOCHS),
    ]


def environment(**extra: str) -> dict:
    env = dict(os.environ, **extra)
    src = str(Path(dk.__file__).resolve().parents[1])
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    return env


def run_to_end(folder: Path, backup: str, out: str, **extra: str) -> subprocess.CompletedProcess:
    done = subprocess.run(
        command(folder, backup, out), env=environment(**extra), capture_output=True, timeout=120
    )
    assert done.returncode == 0, done.stderr.decode()
    return done


def kill_after_epoch(folder: Path, backup: str, out: str, epoch: int) -> int:
    """Start the script, SIGKILL it once a backup of ``epoch`` or later exists."""
    child = subprocess.Popen(
        command(folder, backup, out),
        env=environment(DENSEKIT_TEST_SLOW="0.1"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    path = folder / backup / "backup.safetensors"
    deadline = time.monotonic() + 60
    backed_up = 0
    while time.monotonic() < deadline and child.poll() is None:
        if path.is_file():
            backed_up = read_checkpoint(path)["epoch"]
            if backed_up >= epoch:
                break
        time.sleep(0.005)
    assert child.poll() is None, f"the script ended before it could be killed: {child.stderr}"
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    return read_checkpoint(path)["epoch"]


def final_weights(path: Path) -> list[bytes]:
    with np.load(path) as saved:
        return [saved[name].tobytes() for name in sorted(saved.files)]


@pytest.fixture(scope="module")
def reference(workspace):
    run_to_end(workspace, "backup_reference", "reference.npz")
    assert not (workspace / "backup_reference").exists()  # removed after a finished run
    return final_weights(workspace / "reference.npz")


def test_run_killed_twice_between_epochs_resumes_bit_identical(workspace, reference):
    first = kill_after_epoch(workspace, "backup_twice", "twice.npz", epoch=2)
    second = kill_after_epoch(workspace, "backup_twice", "twice.npz", epoch=first + 3)
    assert 2 <= first < second < EPOCHS
    run_to_end(workspace, "backup_twice", "twice.npz")
    assert final_weights(workspace / "twice.npz") == reference


def test_run_killed_in_the_middle_of_a_checkpoint_write_resumes_bit_identical(workspace, reference):
    backup = workspace / "backup_write"
    killed = subprocess.run(
        command(workspace, "backup_write", "write.npz"),
        env=environment(DENSEKIT_TEST_KILL_AT_FSYNC="4"),
        capture_output=True,
        timeout=120,
    )
    assert killed.returncode == -signal.SIGKILL
    # the fourth write died before its rename: the third backup is intact, the
    # half-finished temporary file is left behind
    assert read_checkpoint(backup / "backup.safetensors")["epoch"] == 3
    assert list(backup.glob(".backup.safetensors.*.tmp"))
    run_to_end(workspace, "backup_write", "write.npz")
    assert final_weights(workspace / "write.npz") == reference


# --- in one process: what a checkpoint must refuse, and what it must bring back ----------------


def small_model(optimizer=None) -> dk.Sequential:
    model = dk.Sequential(
        [dk.layers.Dense(8, activation="relu", input_dim=4), dk.layers.Dense(1)], seed=1
    )
    model.compile(dk.optimizers.Adam(0.01) if optimizer is None else optimizer, "mse")
    return model


@pytest.fixture(scope="module")
def toy():
    x = np.random.default_rng(0).normal(size=(64, 4))
    return x, x.sum(axis=1)


def test_an_adam_backup_restored_into_sgd_fails_naming_both_and_changes_nothing(toy, tmp_path):
    backup = tmp_path / "backup"
    keep = dk.callbacks.BackupAndRestore(backup, delete_checkpoint=False)
    small_model().fit(*toy, epochs=1, verbose=0, callbacks=[keep])
    sgd = small_model(dk.optimizers.SGD(0.01))
    before = sgd.get_weights()
    with pytest.raises(ModelFileError, match="optimizer Adam, but the model is compiled with SGD"):
        sgd.fit(*toy, epochs=2, verbose=0, callbacks=[dk.callbacks.BackupAndRestore(backup)])
    assert all(np.array_equal(a, b) for a, b in zip(sgd.get_weights(), before))


def test_a_backup_of_sgd_with_momentum_is_refused_by_sgd_without(toy, tmp_path):
    backup = tmp_path / "backup"
    keep = dk.callbacks.BackupAndRestore(backup, delete_checkpoint=False)
    small_model(dk.optimizers.SGD(0.01, momentum=0.9)).fit(
        *toy, epochs=1, verbose=0, callbacks=[keep]
    )
    with pytest.raises(ModelFileError, match=r"holds SGD state \['velocity'\]"):
        small_model(dk.optimizers.SGD(0.01)).fit(
            *toy, epochs=2, verbose=0, callbacks=[dk.callbacks.BackupAndRestore(backup)]
        )


def test_a_learning_rate_set_by_hand_survives_the_backup_bit_identical(toy, tmp_path):
    backup = tmp_path / "backup"
    reference = small_model()
    reference.optimizer.learning_rate = 1e-3
    reference.fit(*toy, epochs=3, verbose=0)
    first = small_model()
    first.optimizer.learning_rate = 1e-3  # by hand, between compile and fit
    keep = dk.callbacks.BackupAndRestore(backup, delete_checkpoint=False)
    first.fit(*toy, epochs=1, verbose=0, callbacks=[keep])
    assert read_checkpoint(backup / "backup.safetensors")["learning_rate"] == 1e-3
    resumed = small_model()  # compiled at 0.01: the backup's rate must win
    resumed.fit(*toy, epochs=3, verbose=0, callbacks=[dk.callbacks.BackupAndRestore(backup)])
    assert resumed.optimizer.learning_rate == 1e-3
    assert all(np.array_equal(a, b) for a, b in zip(resumed.get_weights(), reference.get_weights()))


@pytest.mark.parametrize(
    "key, info, has_rng",
    [
        ("distributed_checkpoint", {"epoch": 1, "ranks": 2}, True),
        ("dask_checkpoint", {"epoch": 1}, False),
    ],
)
def test_a_checkpoint_in_the_old_mpi_or_dask_layout_still_restores(
    toy, tmp_path, key, info, has_rng
):
    # before densekit.checkpoint served them, MPI and Dask kept their state in model.metadata
    trained = small_model()
    trained.fit(*toy, epochs=1, verbose=0)
    shuffler = np.random.default_rng(5)
    shuffler.random(3)
    if has_rng:
        info = {**info, "rng_state": shuffler.bit_generator.state}
    trained.metadata = {key: info}
    trained.save(tmp_path / "old.safetensors")
    fresh, fit_rng = small_model(), np.random.default_rng(0)
    rngs = {"fit": fit_rng} if has_rng else {}
    assert restore_checkpoint(fresh, tmp_path / "old.safetensors", rngs=rngs) == 1
    assert all(np.array_equal(a, b) for a, b in zip(fresh.get_weights(), trained.get_weights()))
    assert fresh.optimizer.iterations == trained.optimizer.iterations
    if has_rng:
        assert fit_rng.bit_generator.state == shuffler.bit_generator.state


def test_a_plain_model_file_is_not_a_checkpoint(toy, tmp_path):
    small_model().save(tmp_path / "model.safetensors")
    with pytest.raises(ModelFileError, match="not a densekit training checkpoint"):
        restore_checkpoint(small_model(), tmp_path / "model.safetensors")


@pytest.mark.parametrize(
    "change, message",
    [
        ({"epoch": -1}, "epoch must be an integer >= 0"),
        ({"iterations": "7"}, "iterations must be an integer >= 0"),
        ({"learning_rate": float("nan")}, "learning_rate must be a positive number"),
        ({"rng": {"fit": {"bit_generator": "PCG64", "state": "?"}}}, "invalid state for the gen"),
        ({"rng": {}}, "no state for the random generator 'fit'"),
    ],
)
def test_a_tampered_training_state_is_refused_before_the_model_changes(
    toy, tmp_path, change, message
):
    import json

    from densekit.serialization.safetensors import read_safetensors, write_safetensors

    trained = small_model()
    trained.fit(*toy, epochs=1, verbose=0)
    path = tmp_path / "backup.safetensors"
    save_checkpoint(trained, path, 1)
    tensors, metadata = read_safetensors(path)
    metadata["checkpoint"] = json.dumps({**json.loads(metadata["checkpoint"]), **change})
    write_safetensors(path, tensors, metadata)
    fresh = small_model()
    before = fresh.get_weights()
    with pytest.raises(ModelFileError, match=message):
        restore_checkpoint(fresh, path)
    assert all(np.array_equal(a, b) for a, b in zip(fresh.get_weights(), before))
    assert fresh.optimizer.learning_rate == 0.01 and fresh.optimizer.iterations == 0
