"""The numba-compiled optimizer updates give the NumPy path's weights, bit for bit."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from sklearn.datasets import load_diabetes

import densekit as dk
from densekit import cpu_kernels, optimizers
from densekit.errors import ArgumentError, MissingDependencyError

pytest.importorskip("numba")

OPTIMIZERS = {
    "adam": lambda: optimizers.Adam(0.01, beta_1=0.8, beta_2=0.99),
    "adamw": lambda: optimizers.AdamW(0.01, weight_decay=0.1),
    "sgd-momentum": lambda: optimizers.SGD(0.05, momentum=0.9),
    "sgd-nesterov": lambda: optimizers.SGD(0.05, momentum=0.8, nesterov=True),
}


def run_steps(make, dtype, choice, monkeypatch, size=3000, steps=30):
    monkeypatch.setenv(cpu_kernels.ENV_VAR, choice)
    rng = np.random.default_rng(0)
    params = rng.standard_normal(size).astype(dtype)
    optimizer = make()
    optimizer.build(params, [slice(0, size)])
    assert (optimizer._compiled is not None) == (choice == "numba")
    for _ in range(steps):
        optimizer.apply_gradients(params, rng.standard_normal(size).astype(dtype))
    return params, optimizer.state


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_compiled_update_is_bit_identical_to_numpy(name, dtype, monkeypatch):
    compiled, compiled_state = run_steps(OPTIMIZERS[name], dtype, "numba", monkeypatch)
    plain, plain_state = run_steps(OPTIMIZERS[name], dtype, "numpy", monkeypatch)
    assert compiled.dtype == dtype
    np.testing.assert_array_equal(compiled, plain)
    for slot, array in plain_state.items():
        np.testing.assert_array_equal(compiled_state[slot], array)


def test_large_buffer_crosses_numpy_chunks_and_still_agrees(monkeypatch):
    size = 2 * optimizers.CHUNK + 17  # the NumPy path updates it in three pieces
    compiled, _ = run_steps(OPTIMIZERS["adam"], np.float32, "numba", monkeypatch, size, 3)
    plain, _ = run_steps(OPTIMIZERS["adam"], np.float32, "numpy", monkeypatch, size, 3)
    np.testing.assert_array_equal(compiled, plain)


def fit_diabetes(choice, monkeypatch, optimizer):
    monkeypatch.setenv(cpu_kernels.ENV_VAR, choice)
    x, y = load_diabetes(return_X_y=True)
    x = (x - x.mean(0)) / x.std(0)
    model = dk.Sequential(
        [dk.layers.Dense(16, activation="relu", input_dim=10), dk.layers.Dense(1)], seed=3
    )
    model.compile(optimizer=optimizer, loss="mse")
    history = model.fit(x, y / 100, epochs=3, batch_size=32, seed=0, verbose=0)
    return model, history


@pytest.mark.parametrize("name", ["adam", "sgd-nesterov"])
def test_training_on_real_data_is_identical_with_and_without_numba(name, monkeypatch):
    compiled, compiled_history = fit_diabetes("numba", monkeypatch, OPTIMIZERS[name]())
    plain, plain_history = fit_diabetes("numpy", monkeypatch, OPTIMIZERS[name]())
    assert compiled.optimizer._compiled is not None and plain.optimizer._compiled is None
    assert compiled_history.history["loss"] == plain_history.history["loss"]
    for a, b in zip(compiled.get_weights(), plain.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_nan_gradient_propagates_as_in_numpy(monkeypatch):
    """The compiled loop assumes nothing about finiteness: NaN in, NaN out (then caught)."""
    monkeypatch.setenv(cpu_kernels.ENV_VAR, "numba")
    optimizer = optimizers.Adam()
    params = np.zeros(4, dtype=np.float32)
    optimizer.build(params, [slice(0, 4)])
    optimizer.apply_gradients(params, np.array([1, np.nan, np.inf, -1], dtype=np.float32))
    assert np.isfinite(params[[0, 3]]).all()
    assert np.isnan(params[1]) and np.isnan(params[2])


def test_a_two_dimensional_buffer_takes_the_numpy_path(monkeypatch):
    monkeypatch.setenv(cpu_kernels.ENV_VAR, "numba")
    optimizer = optimizers.Adam()
    optimizer.build(np.zeros((3, 4)), [])
    assert optimizer._compiled is None


def test_unknown_kernel_choice_names_the_choices(monkeypatch):
    monkeypatch.setenv(cpu_kernels.ENV_VAR, "fortran")
    with pytest.raises(ArgumentError, match="numba, numpy"):
        cpu_kernels.get()


def test_asking_for_numba_without_it_says_what_to_install(monkeypatch):
    monkeypatch.setenv(cpu_kernels.ENV_VAR, "numba")
    monkeypatch.setitem(sys.modules, "numba", None)  # as if it were not installed
    monkeypatch.setattr(cpu_kernels, "_loaded", {})
    with pytest.raises(MissingDependencyError, match=r"densekit\[fast\]"):
        cpu_kernels.get()
    monkeypatch.setenv(cpu_kernels.ENV_VAR, "")
    assert cpu_kernels.get() is None  # by default: the NumPy path, silently
