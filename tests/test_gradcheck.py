"""dk.check_gradients: backprop agrees with float64 central differences for every
activation, loss and layer, and the check does fail when backprop is wrong."""

from __future__ import annotations

import numpy as np
import pytest

import densekit as dk
from densekit import activations, losses
from densekit.errors import NotCompiledError

N_IN, N_HIDDEN, N_ROWS = 3, 4, 6


def _data(units, loss_name, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(N_ROWS, N_IN))
    if loss_name.startswith("sparse"):
        y = rng.integers(0, units, N_ROWS)
    elif loss_name.startswith("categorical"):
        y = np.eye(units)[rng.integers(0, units, N_ROWS)]
    elif loss_name.startswith("binary"):
        y = rng.integers(0, 2, (N_ROWS, units)).astype(float)
    else:
        y = rng.normal(size=(N_ROWS, units))
    return x, y


def _check(layers, loss, units, loss_name=None, seed=0, **kwargs):
    model = dk.Sequential(layers, seed=seed, dtype="float64")
    model.compile("sgd", loss)
    x, y = _data(units, loss_name or model.loss.name, seed)
    return dk.check_gradients(model, x, y, **kwargs)


def _assert_passes(result):
    assert result.passed, f"max relative error {result.max_relative_error:.3g}"
    assert result.max_relative_error < 1e-5
    assert len(result.analytic) > 0 and len(result.input_analytic) > 0


HIDDEN = list(activations.NAMES) + ["custom-leaky", "custom-elu"]


def _activation(name):
    return {"custom-leaky": activations.LeakyReLU(0.05), "custom-elu": activations.ELU(0.5)}.get(
        name, name
    )


@pytest.mark.parametrize("hidden", HIDDEN)
def test_every_hidden_activation(hidden):
    layers = [
        dk.layers.Dense(N_HIDDEN, _activation(hidden), input_dim=N_IN),
        dk.layers.Dense(N_HIDDEN, _activation(hidden)),
        dk.layers.Dense(2),
    ]
    _assert_passes(_check(layers, "mse", 2))


REGRESSION_OUTPUTS = list(activations.NAMES)
OUTPUT_CASES = [
    (act, loss, 2) for act in REGRESSION_OUTPUTS for loss in ("mse", "mae", "huber")
] + [
    ("sigmoid", "binary_crossentropy", 1),  # fused
    ("sigmoid", "binary_crossentropy", 3),  # fused, several outputs
    ("softmax", "binary_crossentropy", 3),
    ("linear", losses.BinaryCrossentropy(from_logits=True), 2),
    ("softmax", "categorical_crossentropy", 3),  # fused
    ("sigmoid", "categorical_crossentropy", 3),
    ("linear", losses.CategoricalCrossentropy(from_logits=True), 3),
    ("softmax", "sparse_categorical_crossentropy", 3),  # fused
    ("linear", losses.SparseCategoricalCrossentropy(from_logits=True), 3),
]


def _case_id(case):
    act, loss, units = case
    name = loss if isinstance(loss, str) else f"{loss.name}(logits)"
    return f"{act}-{name}-{units}"


@pytest.mark.parametrize("case", OUTPUT_CASES, ids=_case_id)
def test_every_output_activation_with_its_losses(case):
    act, loss, units = case
    layers = [
        dk.layers.Dense(N_HIDDEN, "tanh", input_dim=N_IN),
        dk.layers.Dense(units, act),
    ]
    _assert_passes(_check(layers, loss, units))


def test_dense_without_bias():
    layers = [
        dk.layers.Dense(N_HIDDEN, "elu", use_bias=False, input_dim=N_IN),
        dk.layers.Dense(3, "softmax", use_bias=False),
    ]
    result = _check(layers, "sparse_categorical_crossentropy", 3)
    _assert_passes(result)
    assert len(result.analytic) == N_IN * N_HIDDEN + N_HIDDEN * 3


def test_dropout_with_its_mask_fixed():
    layers = [
        dk.layers.Dense(6, "relu", input_dim=N_IN),
        dk.layers.Dropout(0.5),
        dk.layers.Dense(2, "sigmoid"),
    ]
    _assert_passes(_check(layers, "binary_crossentropy", 2))


def test_dropout_on_the_input():
    model = dk.Sequential([dk.layers.Dropout(0.4), dk.layers.Dense(2)], seed=0, dtype="float64")
    model.build(N_IN)
    model.compile("sgd", "mse")
    x, y = _data(2, "mse")
    result = dk.check_gradients(model, x, y)
    _assert_passes(result)
    assert np.any(result.input_analytic == 0)  # dropped inputs get no gradient


@pytest.mark.parametrize(
    "regularizer",
    [dk.regularizers.l1(0.01), dk.regularizers.l2(0.05), dk.regularizers.l1_l2(0.02, 0.03)],
    ids=["l1", "l2", "l1_l2"],
)
def test_weight_regularizers(regularizer):
    layers = [
        dk.layers.Dense(
            N_HIDDEN,
            "swish",
            kernel_regularizer=regularizer,
            bias_regularizer=regularizer,
            bias_initializer=dk.initializers.RandomNormal(stddev=0.5),
            input_dim=N_IN,
        ),
        dk.layers.Dense(2, kernel_regularizer=regularizer),
    ]
    _assert_passes(_check(layers, "huber", 2))


@pytest.mark.parametrize("loss", ["mse", "sparse_categorical_crossentropy"])
def test_sample_weights(loss):
    units = 1 if loss == "mse" else 3
    layers = [
        dk.layers.Dense(N_HIDDEN, "gelu", input_dim=N_IN),
        dk.layers.Dense(units, None if loss == "mse" else "softmax"),
    ]
    weights = np.random.default_rng(3).uniform(0, 2, N_ROWS)
    _assert_passes(_check(layers, loss, units, sample_weight=weights))


def test_float32_model_is_checked_in_float64():
    model = dk.Sequential(
        [dk.layers.Dense(N_HIDDEN, "tanh", input_dim=N_IN), dk.layers.Dense(1)], seed=0
    )
    model.compile("adam", "mse")
    x, y = _data(1, "mse")
    _assert_passes(dk.check_gradients(model, x, y))
    assert model.dtype == np.float32  # the user's model is untouched


def test_sampling_a_subset_of_parameters():
    layers = [dk.layers.Dense(40, "relu", input_dim=N_IN), dk.layers.Dense(2)]
    result = _check(layers, "mse", 2, max_params=25)
    _assert_passes(result)
    assert len(result.analytic) == 25


def test_needs_a_compiled_model():
    model = dk.Sequential([dk.layers.Dense(1, input_dim=N_IN)], dtype="float64")
    with pytest.raises(NotCompiledError):
        dk.check_gradients(model, *_data(1, "mse"))


# --- a check that can fail ------------------------------------------------------------


class HalfKernelGradientDense(dk.layers.Dense):
    """A deliberately broken Dense: its kernel gradient is half what it should be."""

    def backward(self, grad, need_input_grad=True, through_activation=True):
        dx = super().backward(grad, need_input_grad, through_activation)
        self.grads["kernel"] *= 0.5
        return dx


class WrongInputGradientDense(dk.layers.Dense):
    """A deliberately broken Dense: it forgets the activation's derivative for dX."""

    def backward(self, grad, need_input_grad=True, through_activation=True):
        saved = grad.copy()
        super().backward(grad, need_input_grad, through_activation)
        return None if not need_input_grad else saved @ self.kernel.T


@pytest.mark.parametrize("broken", [HalfKernelGradientDense, WrongInputGradientDense])
def test_a_broken_backward_pass_fails_the_check(broken, monkeypatch):
    monkeypatch.setitem(dk.layers.LAYER_TYPES, broken.__name__, broken)
    layers = [broken(N_HIDDEN, "tanh", input_dim=N_IN), dk.layers.Dense(1)]
    result = _check(layers, "mse", 1)
    assert not result.passed
    assert not result
    assert result.max_relative_error > 0.1


def test_the_callers_input_is_not_touched():
    model = dk.Sequential([dk.layers.Dense(2, "tanh", input_dim=N_IN)], dtype="float64")
    model.compile("sgd", "mse")
    x, y = _data(2, "mse")
    x_before = x.copy()
    dk.check_gradients(model, x, y)
    np.testing.assert_array_equal(x, x_before)


@pytest.mark.parametrize("max_params", [0, -1, 2.5, True])
def test_max_params_must_be_a_positive_integer(max_params):
    model = dk.Sequential([dk.layers.Dense(1, input_dim=2)], dtype="float64")
    model.compile("sgd", "mse")
    with pytest.raises(dk.errors.ArgumentError, match="max_params"):
        dk.check_gradients(model, np.ones((3, 2)), np.ones(3), max_params=max_params)
