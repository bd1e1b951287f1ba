"""Activations: values and derivatives against PyTorch, finite differences, stability."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import densekit as dk
from densekit import activations
from densekit.errors import ArgumentError, ArgumentTypeError, DensekitError

torch = pytest.importorskip("torch")
F = torch.nn.functional

# name (as densekit knows it) -> the same function in PyTorch
TORCH = {
    "linear": lambda z: z,
    "relu": F.relu,
    "leaky_relu": lambda z: F.leaky_relu(z, negative_slope=0.2),
    "elu": F.elu,
    "gelu": lambda z: F.gelu(z, approximate="none"),
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "softmax": lambda z: F.softmax(z, dim=1),
    "softplus": F.softplus,
    "swish": F.silu,
}
CASES = [(name, activations.get(name), TORCH[name]) for name in activations.NAMES] + [
    (
        "leaky_relu(0.05)",
        activations.LeakyReLU(0.05),
        lambda z: F.leaky_relu(z, negative_slope=0.05),
    ),
    ("elu(0.5)", activations.ELU(0.5), lambda z: F.elu(z, alpha=0.5)),
]
IDS = [case[0] for case in CASES]


def _inputs(seed: int = 0) -> np.ndarray:
    # values on both sides of every kink, none exactly at 0 (relu's derivative is undefined there)
    z = np.random.default_rng(seed).normal(0.0, 3.0, size=(7, 5))
    z[np.abs(z) < 1e-3] = 0.5
    return z


def test_every_name_has_a_torch_reference():
    assert set(activations.NAMES) == set(TORCH)


@pytest.mark.parametrize(("name", "activation", "reference"), CASES, ids=IDS)
def test_values_match_torch(name, activation, reference):
    z = _inputs()
    expected = reference(torch.tensor(z)).numpy()
    np.testing.assert_allclose(activation.forward(np, z.copy()), expected, rtol=1e-5, atol=1e-12)


@pytest.mark.parametrize(("name", "activation", "reference"), CASES, ids=IDS)
def test_derivative_matches_torch_autograd(name, activation, reference):
    z = _inputs(1)
    upstream = np.random.default_rng(2).normal(size=z.shape)
    zt = torch.tensor(z, requires_grad=True)
    reference(zt).backward(torch.tensor(upstream))
    a = activation.forward(np, z.copy())
    got = activation.backward(np, z.copy(), a, upstream.copy())
    np.testing.assert_allclose(got, zt.grad.numpy(), rtol=1e-5, atol=1e-12)


@pytest.mark.parametrize(("name", "activation", "reference"), CASES, ids=IDS)
def test_backward_matches_finite_differences(name, activation, reference):
    z = _inputs(3)
    upstream = np.random.default_rng(4).normal(size=z.shape)
    a = activation.forward(np, z.copy())
    analytic = activation.backward(np, z.copy(), a, upstream.copy())
    h = 1e-6
    numeric = np.empty_like(z)
    for index in np.ndindex(z.shape):
        plus, minus = z.copy(), z.copy()
        plus[index] += h
        minus[index] -= h
        f_plus = (activation.forward(np, plus) * upstream).sum()
        f_minus = (activation.forward(np, minus) * upstream).sum()
        numeric[index] = (f_plus - f_minus) / (2 * h)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize(("name", "activation", "reference"), CASES, ids=IDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_extreme_inputs_stay_finite_without_warnings(name, activation, reference, dtype):
    z = np.array([[-1000.0, -100.0, -1.0, 0.0, 1.0, 100.0, 1000.0]], dtype=dtype)
    z = np.concatenate([z, -z])
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
        warnings.simplefilter("error")
        a = activation.forward(np, z.copy())
        grad = activation.backward(np, z.copy(), a, np.ones_like(z))
    assert np.all(np.isfinite(a)) and np.all(np.isfinite(grad))
    assert a.dtype == dtype and grad.dtype == dtype
    # and the values are the limits they should be
    expected = reference(torch.tensor(z.astype(np.float64))).numpy()
    np.testing.assert_allclose(a, expected, rtol=1e-5, atol=1e-30)


def test_leaky_relu_default_slope_is_keras_0_2():
    assert activations.get("leaky_relu").get_config() == {
        "name": "leaky_relu",
        "negative_slope": 0.2,
    }
    np.testing.assert_allclose(activations.get("leaky_relu")(np.array([-10.0, 3.0])), [-2.0, 3.0])


def test_parametrized_activation_round_trips_through_its_config():
    custom = activations.LeakyReLU(0.05)
    again = activations.get(custom.get_config())
    z = _inputs()
    np.testing.assert_array_equal(again.forward(np, z), custom.forward(np, z))


def test_aliases_resolve():
    assert activations.get(None).name == "linear"
    assert activations.get("silu").name == "swish"


def test_unknown_name_is_refused_naming_the_choices():
    with pytest.raises(ArgumentError, match=r"unknown activation 'relu6'.*relu, leaky_relu"):
        activations.get("relu6")
    assert issubclass(ArgumentError, DensekitError) and issubclass(ArgumentError, ValueError)


def test_unknown_name_is_refused_in_dense():
    with pytest.raises(ArgumentError, match="unknown activation 'sigmoidd'"):
        dk.layers.Dense(3, activation="sigmoidd")


def test_plain_callable_is_refused_asking_for_a_derivative():
    with pytest.raises(ArgumentTypeError, match="plain callable.*derivative") as info:
        activations.get(np.tanh)
    assert isinstance(info.value, TypeError)


def test_bad_parameter_is_refused():
    with pytest.raises(ArgumentError, match="negative_slope must be a finite number"):
        activations.LeakyReLU(float("nan"))
    with pytest.raises(ArgumentError, match="bad parameters"):
        activations.get({"name": "relu", "alpha": 1.0})
