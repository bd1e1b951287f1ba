"""The Poisson loss: value and gradient against PyTorch's PoissonNLLLoss."""

from __future__ import annotations

import numpy as np
import pytest

import densekit as dk

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("log_input", [True, False])
def test_poisson_matches_torch_poisson_nll_loss(log_input):
    rng = np.random.default_rng(0)
    prediction = rng.normal(size=(6, 3)) if log_input else rng.uniform(0.1, 4.0, size=(6, 3))
    y = rng.poisson(2.0, size=(6, 3)).astype(float)
    loss = dk.losses.get({"name": "poisson", "log_input": log_input})
    tensor = torch.tensor(prediction, requires_grad=True)
    reference = torch.nn.PoissonNLLLoss(log_input=log_input, eps=dk.losses.EPSILON)
    expected = reference(tensor, torch.tensor(y))
    expected.backward()
    # densekit: per-sample means over outputs, then the model divides by the batch size
    np.testing.assert_allclose(loss.per_sample(np, y, prediction).mean(), expected.item())
    np.testing.assert_allclose(loss.gradient(np, y, prediction) / 6, tensor.grad.numpy())


def test_poisson_refuses_negative_targets():
    loss = dk.losses.get("poisson")
    with pytest.raises(dk.errors.InputError, match=">= 0"):
        loss.prepare_targets(np.array([1.0, -1.0]), 1, np.float32)


@pytest.mark.parametrize(("output", "log_input"), [("softplus", False), ("linear", True)])
def test_poisson_model_passes_the_gradient_check(output, log_input):
    model = dk.Sequential(
        [dk.layers.Dense(4, activation="tanh", input_dim=3), dk.layers.Dense(2, activation=output)],
        seed=0,
        dtype="float64",
    )
    model.compile(optimizer="sgd", loss={"name": "poisson", "log_input": log_input})
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(8, 3)), rng.poisson(1.5, size=(8, 2)).astype(float)
    report = dk.check_gradients(model, x, y)
    assert report.passed, report.max_relative_error
