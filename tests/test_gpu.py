"""The GPU backend: device choice, moving models, fused kernels, precision.

CI has no GPU. Tests marked ``gpu`` need CuPy and a CUDA device and are
skipped without them. The rest run the GPU code path (backend selection,
fused-kernel dispatch, batch feeding on streams, ``to``, saving) on a NumPy
stand-in for CuPy: a module with CuPy's names whose ``ElementwiseKernel``
computes each densekit kernel, by name, with the CPU formulas, so the
dispatch and the plumbing are covered here and the CUDA math on a GPU.
"""

from __future__ import annotations

import re
import sys
import types

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_digits

import densekit as dk
from densekit import activations
from densekit.backend import arrays as backend
from densekit.errors import ArgumentError, MissingDependencyError
from densekit.training import gpu as device


# --- the stand-in -----------------------------------------------------------------
class StandinArray(np.ndarray):
    """A NumPy array with CuPy's host-transfer methods."""

    def set(self, array, stream=None):
        self[...] = array

    def get(self, stream=None):
        return np.array(self).view(np.ndarray)


def _device(function):
    def wrapped(*args, **kwargs):
        return np.asarray(function(*args, **kwargs)).view(StandinArray)

    return wrapped


def _reference_kernel(name: str, body: str):
    """The CPU formula for the densekit kernel ``name`` (the CUDA body is only read for P)."""
    found = re.search(r"\(T\)\(([-+0-9.e]+)\)", body)
    param = float(found.group(1)) if found else None
    match = re.fullmatch(r"dk_(\w+?)_(bias_forward|forward|backward)", name)
    if match:
        act_name, kind = match.groups()
        params = {"leaky_relu": {"negative_slope": param}, "elu": {"alpha": param}}
        act = activations.get({"name": act_name, **params.get(act_name, {})})
        if kind == "bias_forward":

            def run(z_in, b, z, a):
                z[...] = z_in + b
                a[...] = act.forward(np, z.copy())

        elif kind == "forward":

            def run(z, a):
                a[...] = act.forward(np, z.copy())

        else:

            def run(arg, g, dz):
                if act.from_output:
                    dz[...] = act.backward(np, None, arg, g.copy())
                else:
                    dz[...] = act.backward(np, arg, act.forward(np, arg.copy()), g.copy())

        return run
    if name == "dk_softmax_rows":

        def run(z, width, a):
            a[...] = activations.softmax_forward(np, z)

        return run
    if name == "dk_softmax_crossentropy":

        def run(z, p, y, width, scale, grad, per_row):
            lse = np.log(np.exp(z - z.max(1, keepdims=True)).sum(1, keepdims=True))
            lse += z.max(1, keepdims=True)
            per_row[...] = (y * (lse - z)).sum(1)
            grad[...] = (p * y.sum(1, keepdims=True) - y) * scale

        return run
    if name == "dk_mse_gradient":

        def run(p, y, scale, grad):
            grad[...] = (p - y) * scale

        return run
    if name == "dk_gather_rows":

        def run(source, index, width, out):
            out[...] = source[index]

        return run
    if name == "dk_bias_add":

        def run(b, z):
            z += b

        return run
    if name == "dk_adam":

        def run(g, lr_t, c2, b1, omb1, b2, omb2, eps, decay, p, m, v):
            m[...] = b1 * m + omb1 * g
            v[...] = b2 * v + omb2 * g * g
            p[...] = p * decay - lr_t * m / (np.sqrt(v) * c2 + eps)

        return run
    if name == "dk_sgd":

        def run(g, lr, p):
            p -= lr * g

        return run
    if name in ("dk_sgd_momentum", "dk_sgd_nesterov"):

        def run(g, lr, mu, p, v):
            v[...] = mu * v - lr * g
            p[...] = p + (mu * v - lr * g if name == "dk_sgd_nesterov" else v)

        return run
    raise NotImplementedError(name)


class StandinKernel:
    def __init__(self, in_params, out_params, body, name, calls):
        self.name, self.calls = name, calls
        self.n_in = len(in_params.split(","))
        self.n_out = len(out_params.split(","))
        self.run = _reference_kernel(name, body)

    def __call__(self, *args, size=None):
        assert len(args) == self.n_in + self.n_out, f"{self.name}: wrong argument count"
        self.calls[self.name] = self.calls.get(self.name, 0) + 1
        self.run(*args)
        outs = args[self.n_in :]
        return outs[0] if len(outs) == 1 else outs


class StandinReduction:
    """Only densekit's squared-error sum: sum((p - y)^2 * inv_m)."""

    def __init__(self, in_params, out_params, map_expr, reduce_expr, post, identity, name):
        assert name == "dk_squared_error_sum", name

    def __call__(self, p, y, inv_m, axis=None):
        return ((p - y) ** 2 * inv_m).sum(axis=axis, dtype=p.dtype)


class _Event:
    def synchronize(self):
        pass


class _Stream:
    def __init__(self, non_blocking=False):
        pass

    def record(self):
        return _Event()

    def wait_event(self, event):
        assert isinstance(event, _Event)

    def synchronize(self):
        pass


def make_standin() -> types.ModuleType:
    cupy = types.ModuleType("cupy")
    for key in dir(np):
        if not key.startswith("__"):
            setattr(cupy, key, getattr(np, key))
    for key in ("asarray", "array", "empty", "zeros", "ones", "empty_like", "zeros_like"):
        setattr(cupy, key, _device(getattr(np, key)))
    cupy.ndarray = StandinArray
    cupy.kernel_calls = {}
    cupy.compute_types = []
    cupy.asnumpy = lambda a, stream=None: np.array(a).view(np.ndarray)
    cupy.get_array_module = lambda *a: cupy
    cupy.ElementwiseKernel = lambda i, o, body, name, options=(): StandinKernel(
        i, o, body, name, cupy.kernel_calls
    )
    cupy.ReductionKernel = StandinReduction
    cupy.random = types.SimpleNamespace(default_rng=np.random.default_rng)
    device_info = types.SimpleNamespace(mem_info=(1 << 30, 1 << 31))
    cupy.cuda = types.SimpleNamespace(
        runtime=types.SimpleNamespace(getDeviceCount=lambda: 1),
        Device=lambda: device_info,
        Stream=_Stream,
        get_current_stream=lambda: _Stream(),
        alloc_pinned_memory=bytearray,
    )
    state = {"type": 1}

    def set_compute_type(dtype, value):
        cupy.compute_types.append(value)
        state["type"] = value

    linalg = types.SimpleNamespace(
        COMPUTE_TYPE_DEFAULT=1,
        COMPUTE_TYPE_BF16=6,
        COMPUTE_TYPE_TF32=7,
        get_compute_type=lambda dtype: state["type"],
        set_compute_type=set_compute_type,
    )
    cupy._core = types.SimpleNamespace(_routines_linalg=linalg)
    return cupy


@pytest.fixture
def standin(monkeypatch):
    """'gpu' resolves to the NumPy stand-in for CuPy for the length of one test."""
    cupy = make_standin()
    monkeypatch.setitem(sys.modules, "cupy", cupy)
    monkeypatch.setattr(backend, "_GPU", None)
    yield cupy


# --- data and models ----------------------------------------------------------------
def _digits():
    x, y = load_digits(return_X_y=True)
    return (x[:600] / 16.0).astype(np.float32), y[:600]


def _cancer():
    x, y = load_breast_cancer(return_X_y=True)
    x = (x - x.mean(axis=0)) / x.std(axis=0)
    return x.astype(np.float32), y.astype(np.float32)


def _model(device_name, activation="relu", optimizer="adam", out="softmax", n_out=10, dim=64):
    model = dk.Sequential(
        [
            dk.layers.Dense(32, activation=activation, input_dim=dim),
            dk.layers.Dense(16, activation=activation),
            dk.layers.Dense(n_out, activation=out),
        ],
        seed=3,
        device=device_name,
    )
    loss = "sparse_categorical_crossentropy" if out == "softmax" else "binary_crossentropy"
    model.compile(optimizer=optimizer, loss=loss, metrics=["accuracy"])
    return model


def _assert_same_weights(a, b, rtol=1e-5, atol=1e-6):
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(wa, wb, rtol=rtol, atol=atol)


# --- without any GPU ------------------------------------------------------------------
def test_gpu_without_cupy_names_the_missing_package(monkeypatch):
    monkeypatch.setitem(sys.modules, "cupy", None)
    monkeypatch.setattr(backend, "_GPU", None)
    with pytest.raises(MissingDependencyError, match=r"CuPy.*densekit\[gpu\]"):
        dk.Sequential([dk.layers.Dense(1, input_dim=2)], device="gpu")


def test_gpu_without_a_device_says_so(monkeypatch, standin):
    standin.cuda.runtime.getDeviceCount = lambda: 0
    with pytest.raises(MissingDependencyError, match="no CUDA device"):
        dk.Sequential([dk.layers.Dense(1, input_dim=2)]).to("gpu")


def test_unknown_precision_is_refused():
    with pytest.raises(ArgumentError, match="precision must be one of fp32, tf32, bf16"):
        dk.Sequential([dk.layers.Dense(1, input_dim=2)], precision="fp16")


# --- the GPU path on the stand-in -----------------------------------------------------
@pytest.mark.parametrize("mode", ["resident", "stream", "sync"])
def test_standin_gpu_fit_matches_cpu_and_uses_fused_kernels(standin, monkeypatch, mode):
    monkeypatch.setattr(device, "FEED_MODE", mode)
    x, y = _digits()
    cpu, gpu = _model("cpu"), _model("gpu")
    history_cpu = cpu.fit(x, y, epochs=2, batch_size=64, verbose=0, seed=1)
    history_gpu = gpu.fit(x, y, epochs=2, batch_size=64, verbose=0, seed=1)
    _assert_same_weights(cpu, gpu)
    np.testing.assert_allclose(history_gpu.history["loss"], history_cpu.history["loss"], 1e-5)
    np.testing.assert_allclose(history_gpu.history["accuracy"], history_cpu.history["accuracy"])
    calls = standin.kernel_calls
    assert calls["dk_relu_bias_forward"] == calls["dk_relu_backward"] == 2 * 2 * 10
    assert calls["dk_adam"] == calls["dk_softmax_crossentropy"] == 2 * 10
    assert isinstance(gpu.params, StandinArray)
    assert type(gpu.predict(x[:5])) is np.ndarray


@pytest.mark.parametrize(
    "activation", ["tanh", "sigmoid", "gelu", "swish", "softplus", "elu", "leaky_relu"]
)
@pytest.mark.parametrize("optimizer", ["sgd_nesterov", "adamw"])
def test_standin_fused_activation_and_optimizer_match_cpu(standin, activation, optimizer):
    x, y = _cancer()
    opt = {
        "sgd_nesterov": lambda: dk.optimizers.SGD(0.05, momentum=0.9, nesterov=True),
        "adamw": lambda: dk.optimizers.AdamW(1e-2, weight_decay=0.01),
    }[optimizer]
    cpu = _model("cpu", activation, opt(), out="sigmoid", n_out=1, dim=30)
    gpu = _model("gpu", activation, opt(), out="sigmoid", n_out=1, dim=30)
    cpu.fit(x, y, epochs=1, batch_size=50, verbose=0, seed=0)
    gpu.fit(x, y, epochs=1, batch_size=50, verbose=0, seed=0)
    _assert_same_weights(cpu, gpu)
    assert standin.kernel_calls[f"dk_{activation}_backward"] > 0


def test_to_moves_weights_grads_and_optimizer_state(standin):
    x, y = _digits()
    model = _model("cpu")
    model.fit(x, y, epochs=1, batch_size=100, verbose=0, seed=0)
    weights, m = model.get_weights(), model.optimizer.state["m"].copy()
    model.to("gpu")
    assert isinstance(model.params, StandinArray)
    assert isinstance(model.optimizer.state["m"], StandinArray)
    assert isinstance(model.layers[0].kernel, StandinArray)
    assert model.layers[0].kernel.base is not None  # still a view of the flat buffer
    assert model.optimizer.iterations == 6
    np.testing.assert_array_equal(model.optimizer.state["m"], m)
    model.fit(x, y, epochs=1, batch_size=100, verbose=0, seed=0)
    model.to("cpu")
    assert type(model.params) is np.ndarray and model.optimizer.iterations == 12
    assert not np.allclose(model.get_weights()[0], weights[0])


def test_saving_from_the_gpu_writes_the_same_file(standin, tmp_path):
    x, y = _digits()
    model = _model("cpu")
    model.fit(x, y, epochs=1, batch_size=100, verbose=0, seed=0)
    model.save(tmp_path / "cpu.safetensors")
    model.to("gpu").save(tmp_path / "gpu.safetensors")
    assert (tmp_path / "cpu.safetensors").read_bytes() == (
        tmp_path / "gpu.safetensors"
    ).read_bytes()
    loaded = dk.load_model(tmp_path / "gpu.safetensors")
    np.testing.assert_array_equal(loaded.predict(x[:20]), model.to("cpu").predict(x[:20]))


@pytest.mark.parametrize("precision, expected", [("tf32", 7), ("bf16", 6)])
def test_precision_switches_cublas_compute_type_and_restores_it(standin, precision, expected):
    x, y = _digits()
    model = _model("gpu")
    model.precision = precision
    model.fit(x, y, epochs=1, batch_size=200, verbose=0)
    model.predict(x[:10])
    assert standin.compute_types == [expected, 1, expected, 1]
    assert backend.get_backend("gpu").kernels.precision == "fp32"


def test_precision_on_cpu_changes_nothing():
    x, y = _digits()
    a, b = _model("cpu"), _model("cpu")
    b.precision = "bf16"
    a.fit(x, y, epochs=1, batch_size=200, verbose=0, seed=0)
    b.fit(x, y, epochs=1, batch_size=200, verbose=0, seed=0)
    _assert_same_weights(a, b, rtol=0, atol=0)


def test_dropout_on_the_device_draws_its_mask_there(standin):
    x, y = _digits()
    model = dk.Sequential(
        [dk.layers.Dense(32, "relu", input_dim=64), dk.layers.Dropout(0.5), dk.layers.Dense(10)],
        seed=0,
        device="gpu",
    )
    model.compile("adam", "mse")
    before = model.get_weights()
    model.fit(x, np.eye(10, dtype=np.float32)[y], epochs=1, batch_size=100, verbose=0)
    assert model.layers[1]._device_rng_source is not None
    assert not np.allclose(before[0], model.get_weights()[0])


def test_gpu_non_finite_loss_stops_training(standin):
    x, y = _digits()
    model = _model("gpu", optimizer=dk.optimizers.SGD(1e30))
    with np.errstate(all="ignore"), pytest.raises(dk.errors.TrainingError, match="checked every"):
        model.fit(x * 1e20, y, epochs=3, batch_size=20, verbose=0)


# --- on a real GPU ------------------------------------------------------------------------
def _real_cupy():
    try:
        import cupy
    except ImportError:
        pytest.skip("CuPy is not installed (pip install 'densekit[gpu]'); GPU tests skipped")
    try:
        if cupy.cuda.runtime.getDeviceCount() == 0:
            pytest.skip("CuPy is installed but no CUDA device was found")
    except Exception as exc:
        pytest.skip(f"CuPy is installed but CUDA is not usable: {exc}")
    return cupy


@pytest.mark.gpu
@pytest.mark.parametrize(
    "name", ["relu", "leaky_relu", "elu", "gelu", "sigmoid", "tanh", "softplus", "swish", "linear"]
)
def test_gpu_fused_activation_kernels_match_the_cpu_formulas(name):
    cupy = _real_cupy()
    kernels = backend.get_backend("gpu").kernels
    act = activations.get(name)
    rng = np.random.default_rng(0)
    z = (rng.standard_normal((257, 33)) * 3).astype(np.float32)
    b = rng.standard_normal(33).astype(np.float32)
    g = rng.standard_normal((257, 33)).astype(np.float32)
    z_ref = z + b
    a_ref = act.forward(np, z_ref.copy())
    dz_ref = act.backward(np, z_ref, a_ref, g.copy())
    z_dev = cupy.asarray(z)
    a = kernels.bias_activation(act, True)(z_dev, cupy.asarray(b))
    np.testing.assert_allclose(cupy.asnumpy(z_dev), z_ref, rtol=1e-6)
    np.testing.assert_allclose(cupy.asnumpy(a), a_ref, rtol=2e-6, atol=1e-6)
    backward = kernels.activation_backward(act)
    if backward is not None:
        dz = backward(z_dev, a, cupy.asarray(g))
        np.testing.assert_allclose(cupy.asnumpy(dz), dz_ref, rtol=2e-5, atol=1e-6)


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("transpose_a, transpose_b", [(0, 0), (1, 0), (0, 1), (1, 1)])
def test_gpu_cublas_matmul_matches_cupy_for_every_layout(dtype, transpose_a, transpose_b):
    cupy = _real_cupy()
    kernels = backend.get_backend("gpu").kernels
    rng = np.random.default_rng(4)
    a = rng.standard_normal((37, 19)).astype(dtype)
    b = rng.standard_normal((19, 53)).astype(dtype)
    a_dev = cupy.asarray(a.T.copy()).T if transpose_a else cupy.asarray(a)
    b_dev = cupy.asarray(b.T.copy()).T if transpose_b else cupy.asarray(b)
    out = cupy.full((37, 53), np.nan, dtype)
    kernels.matmul(a_dev, b_dev, out)
    tolerance = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(cupy.asnumpy(out), a @ b, rtol=tolerance, atol=tolerance)


@pytest.mark.gpu
def test_gpu_fused_losses_and_column_sums_match_the_cpu_formulas():
    cupy = _real_cupy()
    kernels = backend.get_backend("gpu").kernels
    rng = np.random.default_rng(5)
    z = rng.standard_normal((300, 7)).astype(np.float32) * 4
    y = np.eye(7, dtype=np.float32)[rng.integers(0, 7, 300)]
    p = activations.softmax_forward(np, z.copy())
    a = kernels.bias_activation(activations.softmax, False)(cupy.asarray(z), None)
    np.testing.assert_allclose(cupy.asnumpy(a), p, rtol=1e-5, atol=1e-7)
    cce = dk.losses.CategoricalCrossentropy()
    grad, per_row = cupy.empty((300, 7), np.float32), cupy.empty(300, np.float32)
    kernels.softmax_crossentropy(cupy.asarray(z), a, cupy.asarray(y), 0.5, grad, per_row)
    # per-row loss = logsumexp(z) - z_y: a difference of numbers up to ~|z|, so float32 is
    # exact only to a few ulps of |z| (~1e-6 here); compare with float64 at that floor
    exact = cce.per_sample_from_logits(np, y.astype(np.float64), z.astype(np.float64))
    floor = 4 * np.finfo(np.float32).eps * np.abs(z).max()
    np.testing.assert_allclose(cupy.asnumpy(per_row), exact, rtol=1e-5, atol=floor)
    np.testing.assert_allclose(cupy.asnumpy(grad), 0.5 * (p - y), rtol=1e-5, atol=1e-7)
    mse = dk.losses.MeanSquaredError()
    grad = cupy.empty((300, 7), np.float32)
    total = kernels.squared_error(cupy.asarray(p), cupy.asarray(y), 0.25, grad)
    np.testing.assert_allclose(float(total), mse.per_sample(np, y, p).sum(), rtol=1e-5)
    np.testing.assert_allclose(cupy.asnumpy(grad), 0.25 * (p - y), rtol=1e-6)
    big = rng.standard_normal((1024, 1100)).astype(np.float32)  # large enough for cuBLAS
    sums = cupy.empty(1100, np.float32)
    kernels.column_sums(cupy.asarray(big), sums)
    np.testing.assert_allclose(cupy.asnumpy(sums), big.sum(axis=0), rtol=1e-4, atol=1e-4)


@pytest.mark.gpu
@pytest.mark.parametrize(
    "make",
    [
        lambda: dk.optimizers.Adam(1e-2),
        lambda: dk.optimizers.AdamW(1e-2, weight_decay=0.1),
        lambda: dk.optimizers.SGD(0.1),
        lambda: dk.optimizers.SGD(0.1, momentum=0.9),
        lambda: dk.optimizers.SGD(0.1, momentum=0.9, nesterov=True),
    ],
)
def test_gpu_fused_optimizer_steps_match_numpy(make):
    cupy = _real_cupy()
    gpu = backend.get_backend("gpu")
    rng = np.random.default_rng(1)
    p = rng.standard_normal(10_001).astype(np.float32)
    cpu_opt, gpu_opt = make(), make()
    p_dev = cupy.asarray(p)
    cpu_opt.build(p, [slice(0, p.size)])
    gpu_opt.build(p_dev, [slice(0, p.size)], backend=gpu)
    for _ in range(5):
        g = rng.standard_normal(p.size).astype(np.float32)
        cpu_opt.apply_gradients(p, g.copy())
        gpu_opt.apply_gradients(p_dev, cupy.asarray(g))
    np.testing.assert_allclose(cupy.asnumpy(p_dev), p, rtol=1e-5, atol=1e-6)


@pytest.mark.gpu
@pytest.mark.parametrize("mode", ["resident", "stream", "sync"])
def test_gpu_training_matches_cpu_after_one_epoch(monkeypatch, mode):
    _real_cupy()
    monkeypatch.setattr(device, "FEED_MODE", mode)
    x, y = _digits()
    cpu, gpu = _model("cpu"), _model("gpu")
    cpu.fit(x, y, epochs=1, batch_size=32, verbose=0, seed=1)
    gpu.fit(x, y, epochs=1, batch_size=32, verbose=0, seed=1)
    for wc, wg in zip(cpu.get_weights(), gpu.get_weights()):
        assert np.linalg.norm(wg - wc) <= 1e-4 * np.linalg.norm(wc)


@pytest.mark.gpu
@pytest.mark.parametrize("precision, tolerance", [("tf32", 3e-3), ("bf16", 3e-2)])
def test_gpu_lower_precision_products_stay_close_to_float32(precision, tolerance):
    _real_cupy()
    rng = np.random.default_rng(2)
    x = rng.standard_normal((512, 256)).astype(np.float32)
    model = dk.Sequential(
        [dk.layers.Dense(512, "relu", input_dim=256), dk.layers.Dense(64)], seed=0, device="gpu"
    )
    reference = model.predict(x)
    model.precision = precision
    low = model.predict(x)
    error = np.linalg.norm(low - reference) / np.linalg.norm(reference)
    assert 0 < error < tolerance
    model.precision = "fp32"
    np.testing.assert_array_equal(model.predict(x), reference)


@pytest.mark.gpu
@pytest.mark.parametrize(
    "optimizer, out",
    [("adam", "softmax"), ("sgd_momentum", "softmax"), ("adamw", "linear")],
)
def test_gpu_fit_with_cuda_graphs_matches_eager_fit(monkeypatch, optimizer, out):
    _real_cupy()
    x, y = _digits()
    if out == "linear":
        y = np.eye(10, dtype=np.float32)[y]
    make = {
        "adam": lambda: dk.optimizers.Adam(1e-3),
        "sgd_momentum": lambda: dk.optimizers.SGD(0.05, momentum=0.9),
        "adamw": lambda: dk.optimizers.AdamW(1e-3),
    }[optimizer]
    models = {}
    for graphs in (False, True):
        monkeypatch.setattr(device, "CUDA_GRAPHS", graphs)
        model = _model("gpu", optimizer=make(), out=out)
        if out == "linear":
            model.compile(make(), "mse", metrics=["mae"])
        history = model.fit(x, y, epochs=2, batch_size=64, verbose=0, seed=1)  # 600 = 9*64 + 24
        models[graphs] = (model, history.history)
    (eager, h_eager), (graphed, h_graph) = models[False], models[True]
    assert graphed.captured_step[1].graph is not None and not graphed.captured_step[1].failed
    assert graphed.optimizer.iterations == eager.optimizer.iterations == 20
    _assert_same_weights(eager, graphed, rtol=1e-6, atol=1e-7)
    for key in h_eager:
        np.testing.assert_allclose(h_graph[key], h_eager[key], rtol=1e-6)
