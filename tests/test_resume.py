"""Exact resume: a training script killed with SIGKILL and run again ends bit-identical."""

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
from densekit.checkpoint import read_checkpoint

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
