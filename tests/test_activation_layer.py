"""The Activation layer: f on its own, so an activation can follow BatchNormalization."""

from __future__ import annotations

import numpy as np
import pytest

import densekit as dk
from densekit.layers import Activation, BatchNormalization, Dense


def small_model(*layers, seed=0, dtype="float64"):
    return dk.Sequential(list(layers), seed=seed, dtype=dtype)


@pytest.mark.parametrize("name", dk.activations.NAMES)
def test_gradients_through_an_activation_layer_match_finite_differences(name):
    model = small_model(
        Dense(5, input_dim=3), BatchNormalization(), Activation(name), Dense(2), seed=1
    )
    model.compile(optimizer="sgd", loss="mse")
    x = np.random.default_rng(0).standard_normal((6, 3))
    y = np.random.default_rng(1).standard_normal((6, 2))
    assert dk.check_gradients(model, x, y).passed


def test_softmax_layer_after_a_linear_dense_fuses_like_a_softmax_dense():
    x = np.random.default_rng(0).standard_normal((8, 4))
    y = np.arange(8) % 3
    fused_dense = small_model(Dense(3, activation="softmax", input_dim=4))
    separate = small_model(Dense(3, input_dim=4), Activation("softmax"))
    separate.set_weights(fused_dense.get_weights())
    for model in (fused_dense, separate):
        model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    assert separate.fuses_loss
    a = fused_dense.compute_gradients(x, separate.loss.prepare_targets(y, 3, np.float64))
    b = separate.compute_gradients(x, separate.loss.prepare_targets(y, 3, np.float64))
    assert a[0] == pytest.approx(b[0], rel=1e-12)
    np.testing.assert_allclose(fused_dense.grads, separate.grads, rtol=1e-12)


def test_activation_layer_has_no_weights_and_keeps_the_width():
    model = small_model(Dense(7, input_dim=2), Activation("relu"))
    assert model.layers[1].count_params() == 0 and model.output_dim == 7


def test_unknown_activation_name_fails_at_construction():
    with pytest.raises(dk.errors.ArgumentError, match="unknown activation 'nope'"):
        Activation("nope")


def test_save_and_load_keep_the_activation_layer(tmp_path):
    model = small_model(
        Dense(4, input_dim=3), Activation({"name": "leaky_relu", "negative_slope": 0.1})
    )
    model.save(tmp_path / "m.safetensors")
    loaded = dk.load_model(tmp_path / "m.safetensors")
    x = np.random.default_rng(0).standard_normal((5, 3))
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    assert loaded.layers[1].activation.params == {"negative_slope": 0.1}


def test_linear_batchnorm_relu_from_torch_round_trips():
    torch = pytest.importorskip("torch")
    nn = torch.nn
    torch.manual_seed(0)
    module = nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.ReLU(), nn.Linear(6, 2))
    module.train()
    module(torch.randn(32, 4))  # move the running statistics away from their start
    module.eval()
    model = dk.from_torch(module)
    assert [type(layer).__name__ for layer in model.layers] == [
        "Dense",
        "BatchNormalization",
        "Activation",
        "Dense",
    ]
    x = np.random.default_rng(0).standard_normal((10, 4)).astype(np.float32)
    with torch.no_grad():
        expected = module(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(model.predict(x), expected, rtol=1e-5, atol=1e-6)
    with torch.no_grad():
        back = model.to_torch()(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(back, expected, rtol=1e-5, atol=1e-6)


def test_onnx_export_of_an_activation_layer_matches_onnxruntime(tmp_path):
    onnxruntime = pytest.importorskip("onnxruntime")
    model = small_model(
        Dense(5, input_dim=3),
        BatchNormalization(),
        Activation("gelu"),
        Dense(2),
        Activation("softmax"),
        dtype="float32",
    )
    dk.export_onnx(model, tmp_path / "m.onnx")
    session = onnxruntime.InferenceSession(
        str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"]
    )
    x = np.random.default_rng(0).standard_normal((7, 3)).astype(np.float32)
    (out,) = session.run(None, {session.get_inputs()[0].name: x})
    np.testing.assert_allclose(out, model.predict(x), rtol=1e-5, atol=1e-6)
