"""ONNX export: the checker accepts the file and onnxruntime computes what densekit does."""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from sklearn.datasets import load_iris  # noqa: E402

import densekit as dk  # noqa: E402

ACTIVATIONS = [
    "relu",
    {"name": "leaky_relu", "negative_slope": 0.1},
    {"name": "elu", "alpha": 0.7},
    "gelu",
    "sigmoid",
    "tanh",
    "softmax",
    "softplus",
    "swish",
    "linear",
]
IDS = [a if isinstance(a, str) else a["name"] for a in ACTIVATIONS]
# float32 transcendental functions differ in their last bits between NumPy/SciPy and
# onnxruntime; near 0 a relative error says nothing, so an absolute floor of 1e-6 is allowed
RTOL, ATOL = 1e-5, 1e-6


def _run(path, x):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {"input": x})[0]


def _export_and_compare(model, x, tmp_path, opset=17):
    path = tmp_path / "model.onnx"
    dk.export_onnx(model, path, opset=opset)
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)
    np.testing.assert_allclose(_run(path, x), model.predict(x), rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("opset", [17, 20])
@pytest.mark.parametrize("activation", ACTIVATIONS, ids=IDS)
def test_every_activation_matches_onnxruntime_on_random_inputs(activation, opset, dtype, tmp_path):
    model = dk.Sequential(
        [
            dk.layers.Dense(16, activation=activation, input_dim=5),
            dk.layers.Dropout(0.3),
            dk.layers.Dense(4, activation=activation),
        ],
        seed=0,
        dtype=dtype,
    )
    x = np.random.default_rng(1).normal(scale=3.0, size=(64, 5)).astype(dtype)
    _export_and_compare(model, x, tmp_path, opset)


@pytest.mark.parametrize("activation", ACTIVATIONS, ids=IDS)
def test_every_activation_matches_onnxruntime_after_training(activation, tmp_path):
    x, y = load_iris(return_X_y=True)
    x = ((x - x.mean(0)) / x.std(0)).astype(np.float32)
    model = dk.Sequential(
        [
            dk.layers.Dense(16, activation=activation, input_dim=4),
            dk.layers.BatchNormalization(),
            dk.layers.Dropout(0.1),
            dk.layers.Dense(3, activation="softmax"),
        ],
        seed=0,
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=5, batch_size=16, verbose=0, seed=0)
    _export_and_compare(model, x, tmp_path)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("center_scale", [True, False])
def test_batch_normalization_and_normalization_match_onnxruntime(dtype, center_scale, tmp_path):
    rng = np.random.default_rng(2)
    x = rng.normal(loc=3.0, scale=2.0, size=(50, 6)).astype(dtype)
    normalization = dk.layers.Normalization()
    model = dk.Sequential(
        [
            normalization,
            dk.layers.Dense(8, activation="tanh"),
            dk.layers.BatchNormalization(center=center_scale, scale=center_scale),
            dk.layers.Dense(2),
        ],
        seed=0,
        dtype=dtype,
    )
    model.build(6)
    normalization.adapt(x)
    for layer in model.layers:  # non-trivial moving statistics and affine weights
        for key, weight in layer.weights.items():
            if key in ("moving_mean", "gamma", "beta"):
                weight[...] = rng.normal(size=weight.shape)
            elif key == "moving_variance":
                weight[...] = rng.uniform(0.5, 2.0, size=weight.shape)
    _export_and_compare(model, x, tmp_path)


def test_batch_dimension_is_dynamic(tmp_path):
    model = dk.Sequential([dk.layers.Dense(3, activation="relu", input_dim=4)], seed=0)
    path = tmp_path / "model.onnx"
    dk.export_onnx(model, path)
    for rows in (1, 7, 300):
        x = np.random.default_rng(rows).normal(size=(rows, 4)).astype(np.float32)
        assert _run(path, x).shape == (rows, 3)


def test_gelu_is_exact_not_the_tanh_approximation(tmp_path):
    model = dk.Sequential(
        [dk.layers.Dense(1, activation="gelu", input_dim=1, kernel_initializer="ones")]
    )
    x = np.linspace(-3, 3, 61).reshape(-1, 1)
    from scipy.special import erf

    exact = 0.5 * x * (1 + erf(x / np.sqrt(2)))
    path = tmp_path / "gelu.onnx"
    dk.export_onnx(model, path)
    np.testing.assert_allclose(_run(path, x.astype(np.float32)), exact, rtol=1e-5, atol=1e-6)


def test_unbuilt_model_and_bad_opset_are_refused(tmp_path):
    with pytest.raises(dk.errors.NotBuiltError):
        dk.export_onnx(dk.Sequential([dk.layers.Dense(2)]), tmp_path / "m.onnx")
    model = dk.Sequential([dk.layers.Dense(2, input_dim=3)])
    with pytest.raises(dk.errors.ArgumentError, match="opset"):
        dk.export_onnx(model, tmp_path / "m.onnx", opset=12)
    assert not (tmp_path / "m.onnx").exists()


def test_failed_write_leaves_no_file(tmp_path):
    model = dk.Sequential([dk.layers.Dense(2, input_dim=3)])
    with pytest.raises(dk.errors.InputError, match="does not exist"):
        dk.export_onnx(model, tmp_path / "missing" / "m.onnx")
    assert list(tmp_path.iterdir()) == []


def test_missing_onnx_names_the_extra(monkeypatch, tmp_path):
    import sys

    monkeypatch.setitem(sys.modules, "onnx", None)  # what an environment without onnx sees
    model = dk.Sequential([dk.layers.Dense(2, input_dim=3)])
    with pytest.raises(dk.errors.MissingDependencyError, match=r"densekit\[onnx\]"):
        dk.export_onnx(model, tmp_path / "m.onnx")


def test_an_opset_newer_than_onnx_knows_is_refused_clearly(tmp_path):
    model = dk.Sequential([dk.layers.Dense(2, input_dim=3)])
    with pytest.raises(dk.errors.ArgumentError, match="opset must be an integer from 17 to"):
        dk.export_onnx(model, tmp_path / "m.onnx", opset=999)
