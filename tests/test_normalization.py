"""densekit.layers.BatchNormalization and Normalization."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_iris

import densekit as dk
from densekit.errors import ArgumentError, InputError, NotBuiltError
from densekit.layers import BatchNormalization, Dense, Normalization


@pytest.fixture(scope="module")
def cancer():
    x, y = load_breast_cancer(return_X_y=True)
    return x, y


@pytest.fixture(scope="module")
def iris():
    x, y = load_iris(return_X_y=True)
    return x, y


def bn_model(dtype="float64", **kwargs) -> dk.Sequential:
    model = dk.Sequential(
        [Dense(6, activation="tanh", input_dim=4), BatchNormalization(**kwargs), Dense(3)],
        seed=0,
        dtype=dtype,
    )
    model.compile(optimizer="sgd", loss="mse")
    return model


# --- BatchNormalization ----------------------------------------------------------------


def test_batch_normalization_weights_are_gamma_beta_moving_mean_moving_variance():
    model = bn_model()
    names = [name for name in model.weight_names() if name.startswith("batch_normalization")]
    assert [n.split("/")[1] for n in names] == ["gamma", "beta", "moving_mean", "moving_variance"]
    assert model.state.size == 12  # two moving statistics of 6 features, non-trainable


@pytest.mark.parametrize(
    "center, scale, expected",
    [(True, False, ["beta"]), (False, True, ["gamma"]), (False, False, [])],
)
def test_batch_normalization_center_and_scale_choose_the_trainable_weights(center, scale, expected):
    model = bn_model(center=center, scale=scale)
    layer = model.layers[1]
    assert sorted(layer.grads) == expected


def test_batch_normalization_training_output_has_zero_mean_and_unit_variance(iris):
    layer_model = dk.Sequential([BatchNormalization(input_dim=4)], dtype="float64")
    y = layer_model.forward(iris[0].astype(np.float64), training=True)
    np.testing.assert_allclose(y.mean(axis=0), 0.0, atol=1e-12)
    expected_var = iris[0].var(axis=0) / (iris[0].var(axis=0) + 1e-3)
    np.testing.assert_allclose(y.var(axis=0), expected_var, rtol=1e-12)


def test_batch_normalization_moving_statistics_follow_keras_momentum(iris):
    model = dk.Sequential([BatchNormalization(momentum=0.9, input_dim=4)], dtype="float64")
    x = iris[0][:32]
    model.forward(x, training=True)
    layer = model.layers[0]
    np.testing.assert_allclose(layer.weights["moving_mean"], 0.1 * x.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(
        layer.weights["moving_variance"], 0.9 + 0.1 * x.var(axis=0), rtol=1e-12
    )


def test_batch_normalization_inference_uses_moving_statistics(iris):
    model = dk.Sequential([BatchNormalization(input_dim=4)], dtype="float64")
    rng = np.random.default_rng(0)
    gamma, beta = rng.normal(size=4), rng.normal(size=4)
    mean, var = rng.normal(size=4), rng.uniform(0.5, 2.0, size=4)
    model.set_weights([gamma, beta, mean, var])
    x = iris[0]
    expected = gamma * (x - mean) / np.sqrt(var + 1e-3) + beta
    np.testing.assert_allclose(model.predict(x), expected, rtol=1e-12)
    np.testing.assert_array_equal(model.layers[0].weights["moving_mean"], mean)  # unchanged


@pytest.mark.parametrize("center, scale", [(True, True), (True, False), (False, True)])
def test_batch_normalization_gradients_match_central_differences(iris, center, scale):
    x, y = iris
    model = bn_model(center=center, scale=scale)
    result = dk.check_gradients(model, x[::5, :4], np.eye(3)[y[::5]], max_params=None)
    assert result.passed, result.max_relative_error


def test_batch_normalization_input_gradient_matches_central_differences(iris):
    x, y = iris
    model = dk.Sequential(
        [BatchNormalization(input_dim=4), Dense(3, activation="softmax")], seed=1, dtype="float64"
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    result = dk.check_gradients(model, x[::10], y[::10], max_params=None)
    assert result.passed, result.max_relative_error


def test_batch_normalization_inference_input_gradient_is_gamma_over_std():
    model = dk.Sequential([BatchNormalization(input_dim=3)], dtype="float64")
    model.set_weights([np.array([1.0, 2.0, 3.0]), np.zeros(3), np.zeros(3), np.array([1, 4, 9.0])])
    model.forward(np.ones((2, 3)), training=False)
    dx = model.backward(np.ones((2, 3)), input_grad=True)
    np.testing.assert_allclose(dx[0], [1.0, 2.0, 3.0] / np.sqrt([1, 4, 9.0] + 1e-3 * np.ones(3)))


@pytest.mark.torch
def test_batch_normalization_matches_torch_batchnorm1d(iris):
    torch = pytest.importorskip("torch")
    x = iris[0][:40]
    rng = np.random.default_rng(3)
    gamma, beta = rng.normal(size=4), rng.normal(size=4)
    upstream = rng.normal(size=x.shape)
    momentum, epsilon = 0.9, 1e-5
    ours = dk.Sequential(
        [BatchNormalization(momentum=momentum, epsilon=epsilon, input_dim=4)], dtype="float64"
    )
    ours.set_weights([gamma, beta, np.zeros(4), np.ones(4)])
    theirs = torch.nn.BatchNorm1d(4, momentum=1 - momentum, eps=epsilon).double()
    with torch.no_grad():
        theirs.weight.copy_(torch.from_numpy(gamma))
        theirs.bias.copy_(torch.from_numpy(beta))
    xt = torch.tensor(x, requires_grad=True)

    y_theirs = theirs(xt)
    y_theirs.backward(torch.from_numpy(upstream))
    y_ours = ours.forward(x.copy(), training=True)
    dx_ours = ours.backward(upstream.copy(), input_grad=True)

    np.testing.assert_allclose(y_ours, y_theirs.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dx_ours, xt.grad.numpy(), rtol=1e-8, atol=1e-12)
    layer = ours.layers[0]
    np.testing.assert_allclose(layer.grads["gamma"], theirs.weight.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(layer.grads["beta"], theirs.bias.grad.numpy(), rtol=1e-10)
    # same moving mean; torch's running variance uses the unbiased batch variance
    np.testing.assert_allclose(layer.weights["moving_mean"], theirs.running_mean.numpy())
    n = len(x)
    unbiased = momentum * 1.0 + (1 - momentum) * x.var(axis=0) * n / (n - 1)
    np.testing.assert_allclose(theirs.running_var.numpy(), unbiased, rtol=1e-12)
    np.testing.assert_allclose(
        layer.weights["moving_variance"], momentum + (1 - momentum) * x.var(0)
    )

    theirs.eval()
    with torch.no_grad():
        theirs.running_var.copy_(torch.from_numpy(layer.weights["moving_variance"]))
        expected = theirs(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(ours.predict(x), expected, rtol=1e-10, atol=1e-12)


def test_batch_normalization_trains_and_survives_save_and_load(cancer, tmp_path):
    x, y = cancer
    model = dk.Sequential(
        [Dense(16, activation="relu", input_dim=30), BatchNormalization(), Dense(1, "sigmoid")],
        seed=0,
    )
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=3, batch_size=64, verbose=0, seed=0)
    assert model.evaluate(x, y)["accuracy"] > 0.85
    path = tmp_path / "bn.safetensors"
    model.save(path)
    loaded = dk.load_model(path)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    assert loaded.layers[1].momentum == 0.99 and loaded.layers[1].epsilon == 1e-3


@pytest.mark.parametrize(
    "kwargs", [{"momentum": 1.5}, {"momentum": "high"}, {"epsilon": 0}, {"center": 1}]
)
def test_batch_normalization_rejects_bad_arguments(kwargs):
    with pytest.raises((ArgumentError, TypeError)):
        BatchNormalization(**kwargs)


# --- Normalization --------------------------------------------------------------------------


def test_normalization_standard_mode_gives_zero_mean_unit_variance(cancer):
    x = cancer[0]
    norm = Normalization(input_dim=30)
    model = dk.Sequential([norm], dtype="float64")
    norm.adapt(x)
    out = model.predict(x)
    np.testing.assert_allclose(out.mean(axis=0), 0.0, atol=1e-10)
    np.testing.assert_allclose(out.var(axis=0), 1.0, rtol=1e-10)


def test_normalization_minmax_mode_maps_the_data_onto_minus_one_one(cancer):
    x = cancer[0]
    norm = Normalization(mode="minmax", input_dim=30)
    model = dk.Sequential([norm], dtype="float64")
    norm.adapt(x)
    out = model.predict(x)
    np.testing.assert_allclose(out.min(axis=0), -1.0, atol=1e-12)
    np.testing.assert_allclose(out.max(axis=0), 1.0, atol=1e-12)
    high, low = x.max(axis=0), x.min(axis=0)
    np.testing.assert_allclose(norm.weights["mean"], (high + low) / 2)
    np.testing.assert_allclose(norm.weights["variance"], ((high - low) / 2) ** 2)


def test_normalization_refuses_nan_and_names_the_columns(cancer):
    x = cancer[0].copy()
    x[5, 3] = np.nan
    x[9, 17] = np.inf
    with pytest.raises(InputError, match=r"columns \[3, 17\] contain NaN"):
        Normalization().adapt(x)


def test_normalization_constant_column_warns_and_maps_to_zero(cancer):
    x = cancer[0].copy()
    x[:, 2] = 7.0
    norm = Normalization(input_dim=30)
    model = dk.Sequential([norm], dtype="float64")
    with pytest.warns(UserWarning, match=r"columns \[2\] are constant"):
        norm.adapt(x)
    assert norm.weights["variance"][2] == 1.0
    out = model.predict(x)
    assert np.all(out[:, 2] == 0.0) and np.isfinite(out).all()


def test_normalization_as_first_layer_without_input_dim_builds_at_fit(cancer):
    x, y = cancer
    norm = Normalization()
    model = dk.Sequential([norm, Dense(8, "relu"), Dense(1, "sigmoid")], seed=0)
    norm.adapt(x)
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=5, batch_size=32, verbose=0)
    assert model.input_dim == 30
    np.testing.assert_allclose(norm.weights["mean"], x.mean(axis=0), rtol=1e-6)
    assert model.count_params() == 30 * 2 + 30 * 8 + 8 + 9
    assert model.evaluate(x, y)["accuracy"] > 0.9


def test_normalization_adapted_to_other_width_refuses_to_build(cancer):
    norm = Normalization()
    model = dk.Sequential([norm, Dense(1)])
    norm.adapt(cancer[0][:, :5])
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(InputError, match="input_dim=5, but it receives 30 features"):
        model.fit(cancer[0], cancer[1], verbose=0)


def test_normalization_without_adapt_refuses_to_train(cancer):
    model = dk.Sequential([Normalization(input_dim=30), Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(NotBuiltError, match="call its adapt"):
        model.fit(cancer[0], cancer[1], verbose=0)


def test_normalization_statistics_are_stored_in_the_model_file(cancer, tmp_path):
    x = cancer[0]
    norm = Normalization(input_dim=30)
    model = dk.Sequential([norm, Dense(2)], seed=0)
    norm.adapt(x)
    assert model.params.size == 62 and model.state.size == 60  # statistics are non-trainable
    path = tmp_path / "norm.safetensors"
    model.save(path)
    loaded = dk.load_model(path)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    np.testing.assert_array_equal(loaded.layers[0].weights["variance"], norm.weights["variance"])


def test_normalization_given_mean_and_variance_needs_no_adapt(iris):
    x = iris[0]
    norm = Normalization(mean=x.mean(axis=0), variance=x.var(axis=0))
    model = dk.Sequential([norm], dtype="float64")
    np.testing.assert_allclose(model.predict(x).std(axis=0), 1.0, rtol=1e-10)


def test_normalization_input_gradient_matches_central_differences(iris):
    x, y = iris
    norm = Normalization(input_dim=4)
    model = dk.Sequential([norm, Dense(3, activation="softmax")], seed=0, dtype="float64")
    norm.adapt(x)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    assert dk.check_gradients(model, x[::10], y[::10], max_params=None).passed


def test_normalization_rejects_unknown_mode():
    with pytest.raises(ArgumentError, match="'standard' or 'minmax'"):
        Normalization(mode="robust")


def test_normalization_adapt_on_clean_data_does_not_warn(iris):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Normalization().adapt(iris[0])
