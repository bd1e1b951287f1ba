"""The program tests/test_distributed.py runs under ``mpiexec``: one densekit.distributed fit.

``python distributed_worker.py CONFIG.json``: the JSON names the data (an .npz of
:func:`dataset`), the dtype, the input form (array, npy, parquet, or one of the memory
maps of :func:`open_input`), the fit arguments, where rank 0 writes the weights, and
optionally a rank, epoch and batch at which that rank kills itself (a lost rank).
"""

from __future__ import annotations

import json
import os
import signal
import sys

import numpy as np

import densekit as dk
from densekit import distributed


def dataset() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Breast cancer features (standardized), labels, and uneven sample weights."""
    from sklearn.datasets import load_breast_cancer

    x, y = load_breast_cancer(return_X_y=True)
    x = (x - x.mean(axis=0)) / x.std(axis=0)
    weights = 0.5 + (np.arange(len(y)) % 3)  # 0.5, 1.5, 2.5, ...
    return x, y, weights


def make_model(dtype: str = "float64", optimizer: str = "adam", dropout: float = 0.0):
    """A small classifier with an L2 penalty (its gradient is added on every rank)."""
    layers = [dk.layers.Dense(16, activation="relu", input_dim=30, kernel_regularizer="l2")]
    if dropout:
        layers += [dk.layers.Dropout(dropout), dk.layers.Dropout(dropout, seed=11)]
    layers += [dk.layers.Dense(8, activation="tanh"), dk.layers.Dense(1, activation="sigmoid")]
    model = dk.Sequential(layers, seed=3, dtype=dtype)
    rate = 0.01
    chosen = dk.optimizers.Adam(rate) if optimizer == "adam" else dk.optimizers.SGD(rate)
    model.compile(optimizer=chosen, loss="binary_crossentropy")
    return model


def halve_learning_rate() -> dk.callbacks.Callback:
    """A callback that lowers the learning rate every epoch (it must survive a resume)."""
    return dk.callbacks.LearningRateScheduler(lambda epoch, rate: rate / 2)


def open_input(source: str, path: str, shape: list[int] | None = None):
    """x or y as ``source`` says: a path (``npy``), ``np.load(path, mmap_mode="r")``
    (``load_mmap``), an ``np.memmap`` of a raw float64 file of ``shape`` (``memmap``), or
    a plain ndarray view of a memory map (``mmap_view``)."""
    if source == "npy":
        return path
    if source == "load_mmap":
        return np.load(path, mmap_mode="r")
    if source == "memmap":
        return np.memmap(path, dtype=np.float64, mode="r", shape=tuple(shape))
    if source == "mmap_view":
        return np.asarray(np.load(path, mmap_mode="r"))[:, ...]
    raise ValueError(f"unknown input form {source!r}")


class DieAt(dk.callbacks.Callback):
    """Kill this process (no clean-up, like a lost node) at one epoch and batch."""

    def __init__(self, epoch: int, batch: int):
        super().__init__()
        self.epoch, self.batch, self.current = epoch, batch, -1

    def on_epoch_begin(self, epoch, logs=None):
        self.current = epoch

    def on_train_batch_begin(self, batch, logs=None):
        if (self.current, batch) == (self.epoch, self.batch):
            os.kill(os.getpid(), signal.SIGKILL)


def main(config_path: str) -> None:
    config = json.loads(open(config_path).read())
    comm = distributed.world()
    data = np.load(config["data"])  # written by the test: no sklearn import on every rank
    x, y, weights = data["x"], data["y"], data["weights"]
    model = make_model(
        config.get("dtype", "float64"), config.get("optimizer", "adam"), config.get("dropout", 0.0)
    )
    source = config.get("input", "array")
    if source in ("npy", "load_mmap", "memmap", "mmap_view"):
        # "{rank}" in a path gives each rank its own file
        rank = comm.Get_rank()
        x_in = open_input(source, config["x_path"].format(rank=rank), list(x.shape))
        y_in = open_input(source, config["y_path"].format(rank=rank), list(y.shape))
    elif source == "parquet":
        x_in, y_in = config["x_path"], "target"
    else:
        x_in, y_in = x, y
    callbacks = []
    die = config.get("die")
    if die is not None and comm.Get_rank() == die["rank"]:
        callbacks.append(DieAt(die["epoch"], die["batch"]))
    if config.get("halve_learning_rate"):
        callbacks.append(halve_learning_rate())
    if config.get("terminate_on_nan"):
        callbacks.append(dk.callbacks.TerminateOnNaN())
    if config.get("raise_on_rank") == comm.Get_rank():
        x_in = np.full((3, 30), np.nan)  # a bad input on one rank only
    history = distributed.fit(
        model,
        x_in,
        y_in,
        sample_weight=None if config.get("no_weights") else weights,
        callbacks=callbacks,
        verbose=0,
        **config["fit"],
    )
    every_rank = comm.gather(model.params.copy(), root=0)
    if comm.Get_rank() == 0:
        np.savez(
            config["out"],
            *model.get_weights(),
            ranks_agree=np.array(all(np.array_equal(p, every_rank[0]) for p in every_rank)),
            loss=np.array(history.history["loss"]),
        )


if __name__ == "__main__":
    main(sys.argv[1])
