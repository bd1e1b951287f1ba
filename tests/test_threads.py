"""BLAS thread control: set_threads, DENSEKIT_NUM_THREADS, fit/predict threads=."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from sklearn.datasets import load_iris

import densekit as dk
from densekit.backend import threads
from densekit.errors import ArgumentError, ArgumentTypeError, MissingDependencyError

threadpoolctl = pytest.importorskip("threadpoolctl")


def blas_threads() -> int:
    return min(info["num_threads"] for info in threadpoolctl.threadpool_info()
               if info["user_api"] == "blas")  # fmt: skip


@pytest.fixture(autouse=True)
def _restore_process_limit():
    yield
    dk.set_threads(None)


class ThreadProbe(dk.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self.seen = blas_threads()


def _model(units=8):
    model = dk.Sequential(
        [dk.layers.Dense(units, "relu", input_dim=4), dk.layers.Dense(3, "softmax")], seed=0
    )
    model.compile("adam", "sparse_categorical_crossentropy")
    return model


# with one BLAS thread to begin with, "limited to 1" would hold whatever the code did
several_threads = pytest.mark.skipif(
    blas_threads() < 2, reason="BLAS already runs one thread here: a limit to 1 is not visible"
)


@several_threads
def test_set_threads_limits_blas_until_undone():
    before = blas_threads()
    dk.set_threads(1)
    assert dk.get_threads() == 1 and blas_threads() == 1
    dk.set_threads(None)
    assert dk.get_threads() is None and blas_threads() == before


@several_threads
def test_fit_threads_limits_blas_while_it_trains_only():
    x, y = load_iris(return_X_y=True)
    before, probe = blas_threads(), ThreadProbe()
    _model(units=512).fit(x, y, epochs=1, verbose=0, threads=1, callbacks=[probe])
    assert probe.seen == 1
    assert blas_threads() == before


@several_threads
def test_fit_uses_one_thread_for_small_products_by_default():
    x, y = load_iris(return_X_y=True)
    probe = ThreadProbe()
    _model().fit(x, y, batch_size=32, epochs=1, verbose=0, callbacks=[probe])
    assert probe.seen == 1  # 32 x 4 x 8 multiply-adds: far below SMALL_PRODUCT


@several_threads
def test_predict_leaves_blas_alone_unless_asked():
    x, _ = load_iris(return_X_y=True)
    before = blas_threads()
    model, seen = _model(), []
    forward = model.forward
    model.forward = lambda x, training=False: seen.append(blas_threads()) or forward(x, training)
    model.predict(x[:1])  # a one-row product: OpenBLAS keeps it on one thread by itself
    model.predict(x, threads=1)
    assert seen == [before, 1] and blas_threads() == before


def test_predict_threads_gives_the_same_outputs():
    x, _ = load_iris(return_X_y=True)
    model = _model()
    np.testing.assert_array_equal(model.predict(x, threads=1), model.predict(x))


@pytest.mark.parametrize(
    ("bad", "error"),
    [(0, ArgumentError), (-2, ArgumentError)]
    + [(bad, ArgumentTypeError) for bad in (1.5, True, "2")],
)
def test_a_bad_thread_count_is_refused_by_name(bad, error):
    x, y = load_iris(return_X_y=True)
    with pytest.raises(error, match="threads must be a positive integer"):
        _model().fit(x, y, epochs=1, verbose=0, threads=bad)


def test_the_environment_variable_sets_the_process_limit(monkeypatch):
    monkeypatch.setattr(threads, "_environment_read", False)
    monkeypatch.setenv(threads.ENV_VAR, "1")
    assert dk.get_threads() == 1 and blas_threads() == 1


def test_a_bad_environment_variable_is_refused_by_name(monkeypatch):
    monkeypatch.setattr(threads, "_environment_read", False)
    monkeypatch.setenv(threads.ENV_VAR, "many")
    with pytest.raises(ArgumentError, match="DENSEKIT_NUM_THREADS must be a positive integer"):
        dk.get_threads()


def test_asking_for_threads_without_threadpoolctl_says_what_to_install(monkeypatch):
    monkeypatch.setattr(threads, "_controller", None)
    monkeypatch.setitem(sys.modules, "threadpoolctl", None)  # as if it were not installed
    with pytest.raises(MissingDependencyError, match="pip install threadpoolctl"):
        dk.set_threads(2)
    x, y = load_iris(return_X_y=True)
    _model().fit(x, y, epochs=1, verbose=0)  # the default needs no threadpoolctl
