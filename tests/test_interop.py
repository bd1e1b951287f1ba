"""PyTorch and Keras weights: from_torch, to_torch, and Keras' get_weights() layout."""

from __future__ import annotations

import sys

import numpy as np
import pytest

import densekit as dk

torch = pytest.importorskip("torch")
nn = torch.nn

ACTIVATION_MODULES = [
    nn.ReLU(),
    nn.LeakyReLU(0.05),
    nn.ELU(0.5),
    nn.GELU(),
    nn.Sigmoid(),
    nn.Tanh(),
    nn.Softmax(dim=1),
    nn.Softmax(dim=-1),
    nn.Softplus(),
    nn.SiLU(),
    nn.Identity(),
]
IDS = [repr(module) for module in ACTIVATION_MODULES]


def _trained_batch_norm_net(activation, dtype=torch.float64):
    """A torch net whose BatchNorm1d has moved its running statistics (a few train steps)."""
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Linear(5, 16),
        activation,
        nn.Dropout(0.2),
        nn.BatchNorm1d(16, momentum=0.3, eps=1e-4),
        nn.Linear(16, 3),
    ).to(dtype)
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
    for _ in range(3):
        x = torch.randn(32, 5, dtype=dtype) * 2 + 1
        optimizer.zero_grad()
        net(x).square().mean().backward()
        optimizer.step()
    return net.eval()


@pytest.mark.parametrize("activation", ACTIVATION_MODULES, ids=IDS)
def test_from_torch_computes_what_torch_computes(activation):
    net = _trained_batch_norm_net(activation)
    model = dk.from_torch(net)
    x = np.random.default_rng(0).normal(scale=2.0, size=(40, 5))
    with torch.no_grad():
        expected = net(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(model.predict(x), expected, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("activation", ACTIVATION_MODULES, ids=IDS)
def test_to_torch_round_trip_computes_the_same(activation):
    model = dk.from_torch(_trained_batch_norm_net(activation))
    back = model.to_torch()
    x = np.random.default_rng(1).normal(scale=2.0, size=(40, 5))
    with torch.no_grad():
        got = back(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(got, model.predict(x), rtol=1e-6, atol=1e-9)
    assert not back.training


def test_batch_norm_conventions_are_translated():
    net = _trained_batch_norm_net(nn.ReLU())
    model = dk.from_torch(net)
    norm = next(layer for layer in model.layers if isinstance(layer, dk.layers.BatchNormalization))
    assert norm.momentum == pytest.approx(0.7)  # torch 0.3 weights the new batch statistic
    assert norm.epsilon == pytest.approx(1e-4)
    np.testing.assert_array_equal(norm.weights["moving_variance"], net[3].running_var.numpy())
    back = model.to_torch()[3]
    assert back.momentum == pytest.approx(0.3) and back.eps == pytest.approx(1e-4)


def test_float32_module_gives_a_float32_model():
    net = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    model = dk.from_torch(net)
    assert model.dtype == np.float32
    x = np.random.default_rng(2).normal(size=(10, 3)).astype(np.float32)
    with torch.no_grad():
        expected = net(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(model.predict(x), expected, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize(
    ("module", "message"),
    [
        (nn.Sequential(nn.Linear(3, 4), nn.Conv1d(1, 1, 1)), "Conv1d"),
        (nn.Sequential(nn.Linear(3, 4), nn.GELU(approximate="tanh")), "tanh approximation"),
        (nn.Sequential(nn.Linear(3, 4), nn.Softmax(dim=0)), "dim=0"),
        (nn.Sequential(nn.Linear(3, 4), nn.Softplus(beta=2)), "beta=2"),
        (nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4, momentum=None)), "momentum=None"),
    ],
)
def test_unsupported_modules_are_named(module, message):
    with pytest.raises(dk.errors.ArgumentError, match=message):
        dk.from_torch(module)


def test_from_torch_refuses_a_non_sequential():
    with pytest.raises(dk.errors.ArgumentTypeError, match="Linear"):
        dk.from_torch(nn.Linear(3, 4))


def test_missing_torch_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # what an environment without torch sees
    model = dk.Sequential([dk.layers.Dense(2, input_dim=3)])
    with pytest.raises(dk.errors.MissingDependencyError, match=r"densekit\[torch\]"):
        model.to_torch()


def test_keras_get_weights_layout_loads_with_set_weights():
    """A list laid out as Keras' model.get_weights() for Dense(4) -> BN -> Dense(2):
    kernel (n, m), bias (m,), gamma, beta, moving_mean, moving_variance, kernel, bias."""
    rng = np.random.default_rng(3)
    keras_weights = [
        rng.normal(size=(3, 4)),  # dense/kernel: (inputs, units), not torch's (out, in)
        rng.normal(size=(4,)),  # dense/bias
        rng.uniform(0.5, 1.5, size=(4,)),  # batch_normalization/gamma
        rng.normal(size=(4,)),  # batch_normalization/beta
        rng.normal(size=(4,)),  # batch_normalization/moving_mean
        rng.uniform(0.5, 1.5, size=(4,)),  # batch_normalization/moving_variance
        rng.normal(size=(4, 2)),  # dense_1/kernel
        rng.normal(size=(2,)),  # dense_1/bias
    ]
    model = dk.Sequential(
        [
            dk.layers.Dense(4, activation="relu", input_dim=3),
            dk.layers.BatchNormalization(),
            dk.layers.Dense(2),
        ],
        dtype="float64",
    )
    model.set_weights(keras_weights)
    for got, given in zip(model.get_weights(), keras_weights):
        np.testing.assert_array_equal(got, given)
    x = rng.normal(size=(5, 3))
    w1, b1, gamma, beta, mean, var, w2, b2 = keras_weights
    hidden = np.maximum(x @ w1 + b1, 0)
    expected = (gamma * (hidden - mean) / np.sqrt(var + 1e-3) + beta) @ w2 + b2
    np.testing.assert_allclose(model.predict(x), expected, rtol=1e-12)
