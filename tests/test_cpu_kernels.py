"""The numba-compiled optimizer updates give the NumPy path's weights, bit for bit."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from sklearn.datasets import load_diabetes

import densekit as dk
from densekit import optimizers
from densekit.backend import choice
from densekit.backend import numba_kernels as cpu_kernels
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
    assert optimizer.ops.name == choice
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
    assert compiled.optimizer.ops.name == "numba" and plain.optimizer.ops.name == "numpy"
    relu = compiled.layers[0]  # the ReLU layer ran its compiled forward and backward
    assert relu.ops.name == "numba" and relu.ops is compiled.optimizer.ops
    assert plain.layers[0].ops.name == "numpy"
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
    assert optimizer.ops.name == "numpy"


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


# --- softmax and its cross-entropy: the same formulas, C's exp instead of NumPy's -----------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_compiled_softmax_and_cross_entropy_match_numpy(dtype):
    compiled = cpu_kernels.NumbaKernels(pytest.importorskip("numba"))
    rng = np.random.default_rng(0)
    z = (rng.standard_normal((64, 7)) * 30).astype(dtype)  # large logits: exp would overflow
    bias = rng.standard_normal(7).astype(dtype)
    labels = rng.integers(0, 7, 64)
    loss = dk.losses.get("sparse_categorical_crossentropy")
    y = loss.prepare_targets(labels, 7, dtype)
    z_compiled, p_compiled = z.copy(), np.empty_like(z)
    softmax = dk.activations.get("softmax")
    compiled.bias_activation(softmax, use_bias=True)(z_compiled, bias, p_compiled)
    z_plain = z + bias
    p_plain = dk.activations.get("softmax").forward(np, z_plain.copy())
    np.testing.assert_array_equal(z_compiled, z_plain)
    rtol = 1e-6 if dtype == np.float32 else 1e-14
    np.testing.assert_allclose(p_compiled, p_plain, rtol=rtol, atol=np.finfo(dtype).tiny)
    np.testing.assert_allclose(p_compiled.sum(axis=1), 1.0, rtol=rtol)
    value, grad = compiled.cross_entropy_from_logits(loss, y, z_plain, p_plain)
    expected = float(loss.per_sample_from_logits(np, y, z_plain).mean())
    assert value == pytest.approx(expected, rel=rtol)
    np.testing.assert_array_equal(grad, (p_plain - y) * dtype(1.0 / 64))  # bit for bit


def test_compiled_softmax_keeps_nan_in_its_row():
    compiled = cpu_kernels.NumbaKernels(pytest.importorskip("numba"))
    z = np.array([[1.0, np.nan, 2.0], [1.0, 2.0, 3.0]], dtype=np.float32)
    p = np.empty_like(z)
    bias_softmax = compiled.bias_activation(dk.activations.get("softmax"), use_bias=True)
    bias_softmax(z, np.zeros(3, dtype=np.float32), p)
    assert np.isnan(p[0]).all() and np.isfinite(p[1]).all()


def fit_iris(choice, monkeypatch):
    from sklearn.datasets import load_iris

    monkeypatch.setenv(cpu_kernels.ENV_VAR, choice)
    x, y = load_iris(return_X_y=True)
    model = dk.Sequential(
        [dk.layers.Dense(16, "relu", input_dim=4), dk.layers.Dense(3, "softmax")],
        seed=1,
        dtype="float64",
    )
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, epochs=5, batch_size=16, seed=0, verbose=0)
    return model, history


def test_a_softmax_classifier_trains_to_the_same_weights_up_to_rounding(monkeypatch):
    compiled, compiled_history = fit_iris("numba", monkeypatch)
    plain, plain_history = fit_iris("numpy", monkeypatch)
    assert compiled.layers[1].ops.name == "numba" and compiled.ops.name == "numba"
    assert plain.layers[1].ops.name == "numpy" and plain.ops.name == "numpy"
    np.testing.assert_allclose(
        compiled_history.history["loss"], plain_history.history["loss"], rtol=1e-12
    )
    for a, b in zip(compiled.get_weights(), plain.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_the_choice_is_made_when_the_model_is_built_not_per_batch(monkeypatch):
    from sklearn.datasets import load_iris

    x, y = load_iris(return_X_y=True)
    monkeypatch.setenv(cpu_kernels.ENV_VAR, "numpy")
    model = dk.Sequential(
        [dk.layers.Dense(8, "relu", input_dim=4), dk.layers.Dense(3, "softmax")], seed=0
    )
    model.compile("adam", "sparse_categorical_crossentropy")
    monkeypatch.setenv(cpu_kernels.ENV_VAR, "numba")  # changed after building: no effect
    model.fit(x, y, epochs=1, verbose=0)
    assert model.ops.name == "numpy" and model.optimizer.ops.name == "numpy"
    assert all(layer.ops.name == "numpy" for layer in model.layers)


def test_without_a_writable_cache_folder_the_kernels_still_compile(monkeypatch):
    numba = pytest.importorskip("numba")

    def no_locator(self):  # what numba raises when no cache folder can be written
        raise RuntimeError(f"cannot cache function {self.py_func.__name__!r}: no locator")

    monkeypatch.setattr(numba.core.dispatcher.Dispatcher, "enable_caching", no_locator)
    kernels = cpu_kernels.NumbaKernels(numba)
    z = np.array([[-1.0, 2.0]], dtype=np.float32)
    a = np.empty_like(z)
    kernels.bias_activation(dk.activations.get("relu"), True)(z, np.zeros(2, np.float32), a)
    np.testing.assert_array_equal(a, [[0.0, 2.0]])


# --- DENSEKIT_KERNELS=auto: numba is loaded only for a fit that repays it ---------------


def test_a_small_job_never_imports_numba(tmp_path):
    """Training and predicting a small table under the default choice leaves numba unloaded."""
    script = (
        "import sys\n"
        "import numpy as np\n"
        "from sklearn.datasets import load_wine\n"
        "import densekit as dk\n"
        "x, y = load_wine(return_X_y=True)\n"
        "model = dk.Sequential([dk.layers.Dense(16, activation='relu'),"
        " dk.layers.Dense(3, activation='softmax')], seed=0)\n"
        "model.compile('adam', 'sparse_categorical_crossentropy')\n"
        "model.fit(x, y, epochs=5, verbose=0)\n"
        "model.predict(x)\n"
        "print(model.ops.name, 'numba' in sys.modules)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != cpu_kernels.ENV_VAR}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True
    )
    assert done.stdout.split() == ["numpy", "False"]


@pytest.mark.parametrize(
    ("n_params", "steps", "worth"),
    [(3_000, 1_000, False), (3_000, 100_000, True), (235_000, 1_000, False),
     (235_000, 5_000, True), (1_000_000, 1_000, True)],
)  # fmt: skip
def test_the_saving_must_repay_the_load_twice(n_params, steps, worth):
    assert choice.worth_compiling(n_params, steps) is worth


def fit_diabetes_auto(monkeypatch, load_seconds):
    monkeypatch.delenv(cpu_kernels.ENV_VAR, raising=False)
    monkeypatch.setattr(choice, "LOAD_SECONDS", load_seconds)
    return fit_diabetes("auto", monkeypatch, OPTIMIZERS["adam"]())


def test_a_fit_that_repays_the_load_moves_layers_and_optimizer_to_numba(monkeypatch):
    moved, moved_history = fit_diabetes_auto(monkeypatch, load_seconds=0.0)
    assert moved.ops.name == "numba"
    assert moved.layers[0].ops is moved.ops and moved.optimizer.ops is moved.ops
    stayed, stayed_history = fit_diabetes_auto(monkeypatch, load_seconds=1e9)
    assert stayed.ops.name == stayed.layers[0].ops.name == stayed.optimizer.ops.name == "numpy"
    # ReLU, MSE and Adam are bit-identical on both kernels, so the move changes nothing
    assert moved_history.history["loss"] == stayed_history.history["loss"]
    for a, b in zip(moved.get_weights(), stayed.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_moving_mid_training_keeps_the_optimizer_state(monkeypatch):
    """A second fit that moves to numba continues the first fit's moments, bit for bit."""
    monkeypatch.delenv(cpu_kernels.ENV_VAR, raising=False)
    x, y = load_diabetes(return_X_y=True)
    x = (x - x.mean(0)) / x.std(0)
    runs = []
    for load_seconds in (0.0, 1e9):
        monkeypatch.setattr(choice, "LOAD_SECONDS", 1e9)
        model = dk.Sequential(
            [dk.layers.Dense(16, activation="relu", input_dim=10), dk.layers.Dense(1)], seed=3
        )
        model.compile(optimizer=optimizers.Adam(0.01), loss="mse")
        model.fit(x, y / 100, epochs=2, batch_size=32, seed=0, verbose=0)
        monkeypatch.setattr(choice, "LOAD_SECONDS", load_seconds)
        model.fit(x, y / 100, epochs=2, batch_size=32, seed=1, verbose=0)
        runs.append(model)
    assert runs[0].optimizer.ops.name == "numba" and runs[1].optimizer.ops.name == "numpy"
    assert runs[0].optimizer.iterations == runs[1].optimizer.iterations
    for a, b in zip(runs[0].get_weights(), runs[1].get_weights()):
        np.testing.assert_array_equal(a, b)


def test_an_explicit_choice_is_never_overruled(monkeypatch):
    monkeypatch.setattr(choice, "LOAD_SECONDS", 0.0)
    model, _ = fit_diabetes("numpy", monkeypatch, OPTIMIZERS["adam"]())
    assert model.ops.name == "numpy"


@pytest.mark.parametrize("steps", [-1, 2.5, "many", True])
def test_choose_kernels_refuses_a_step_count_that_is_not_a_count(steps):
    model = dk.Sequential([dk.layers.Dense(2, input_dim=3)], seed=0)
    with pytest.raises((ArgumentError, TypeError), match="steps"):
        model.choose_kernels(steps)
    assert model.ops.name == "numpy"
