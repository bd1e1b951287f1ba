"""Losses: value and gradient against PyTorch, finite differences, stability, target checks.

densekit reduces as Keras does: the loss is the mean over outputs and rows, and
with sample weights ``sum_i w_i l_i / n``. ``loss.gradient`` is d l_i / d p for
each row, so dL/dp is ``gradient / n``.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import densekit as dk
from densekit import losses
from densekit.errors import ArgumentError, DensekitError, InputError

torch = pytest.importorskip("torch")
F = torch.nn.functional

N, K = 6, 4
ALL = slice(None)


def _regression(seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(N, K)), rng.normal(size=(N, K)) * 2.0


def _probabilities(seed=0):
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.05, 0.95, size=(N, K))
    return p, (rng.uniform(size=(N, K)) > 0.5).astype(float)


def _softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _labels(seed=0):
    return np.random.default_rng(seed).integers(0, K, size=N)


def _one_hot(labels):
    return np.eye(K)[labels]


# name, loss, prediction and target (as the model sees them after prepare_targets),
# and the PyTorch mean loss as a function of the prediction tensor and the rows it holds
def _cases():
    pred, target = _regression()
    probs, bits = _probabilities()
    logits = np.random.default_rng(5).normal(scale=3.0, size=(N, K))
    labels = _labels()
    soft = _softmax(np.random.default_rng(6).normal(size=(N, K)))  # soft targets
    t = torch.tensor
    return [
        ("mse", losses.get("mse"), pred, target, lambda p, r=ALL: F.mse_loss(p, t(target[r]))),
        ("mae", losses.get("mae"), pred, target, lambda p, r=ALL: F.l1_loss(p, t(target[r]))),
        (
            "huber",
            losses.get("huber"),
            pred,
            target,
            lambda p, r=ALL: F.huber_loss(p, t(target[r])),
        ),
        (
            "huber(delta=0.5)",
            losses.Huber(delta=0.5),
            pred,
            target,
            lambda p, r=ALL: F.huber_loss(p, t(target[r]), delta=0.5),
        ),
        (
            "bce",
            losses.BinaryCrossentropy(),
            probs,
            bits,
            lambda p, r=ALL: F.binary_cross_entropy(p, t(bits[r])),
        ),
        (
            "bce(logits)",
            losses.BinaryCrossentropy(from_logits=True),
            logits,
            bits,
            lambda z, r=ALL: F.binary_cross_entropy_with_logits(z, t(bits[r])),
        ),
        (
            "cce",
            losses.CategoricalCrossentropy(),
            _softmax(logits),
            soft,
            lambda p, r=ALL: -(t(soft[r]) * torch.log(p)).sum(dim=1).mean(),
        ),
        (
            "cce(logits)",
            losses.CategoricalCrossentropy(from_logits=True),
            logits,
            soft,
            lambda z, r=ALL: F.cross_entropy(z, t(soft[r])),
        ),
        (
            "sparse_cce",
            losses.SparseCategoricalCrossentropy(),
            _softmax(logits),
            _one_hot(labels),
            lambda p, r=ALL: F.nll_loss(torch.log(p), t(labels[r])),
        ),
        (
            "sparse_cce(logits)",
            losses.SparseCategoricalCrossentropy(from_logits=True),
            logits,
            _one_hot(labels),
            lambda z, r=ALL: F.cross_entropy(z, t(labels[r])),
        ),
    ]


CASES = _cases()
IDS = [case[0] for case in CASES]


def _value_and_gradient(loss, y, p, sample_weight=None):
    """The model's reduction: L = sum_i w_i l_i / n, dL/dp = w_i * gradient_i / n."""
    w = np.ones(len(p)) if sample_weight is None else sample_weight
    per_sample = loss.per_sample(np, y, p)
    value = (per_sample * w).sum() / len(p)
    return value, loss.gradient(np, y, p) * (w / len(p))[:, None]


# poisson has its own file (tests/test_poisson_loss.py: torch parity and gradient checks);
# member_mean (an ensemble's loss) is checked in tests/test_tabular_parts.py
COVERED_ELSEWHERE = {"poisson", "member_mean"}


def test_every_loss_is_covered():
    assert {case[1].name for case in CASES} | COVERED_ELSEWHERE == set(losses.NAMES)


@pytest.mark.parametrize(("name", "loss", "p", "y", "reference"), CASES, ids=IDS)
def test_value_and_gradient_match_torch(name, loss, p, y, reference):
    pt = torch.tensor(p, requires_grad=True)
    expected = reference(pt)
    expected.backward()
    value, grad = _value_and_gradient(loss, y, p)
    np.testing.assert_allclose(value, expected.item(), rtol=1e-5)
    np.testing.assert_allclose(grad, pt.grad.numpy(), rtol=1e-5, atol=1e-12)


@pytest.mark.parametrize(("name", "loss", "p", "y", "reference"), CASES, ids=IDS)
def test_weighted_value_and_gradient_match_torch(name, loss, p, y, reference):
    w = np.random.default_rng(9).uniform(0.0, 3.0, size=len(p))
    # PyTorch: per-row losses (mean over outputs), weighted, summed, divided by n
    pt = torch.tensor(p, requires_grad=True)
    rows = torch.stack([reference(pt[i : i + 1], slice(i, i + 1)) for i in range(len(p))])
    expected = (rows * torch.tensor(w)).sum() / len(p)
    expected.backward()
    value, grad = _value_and_gradient(loss, y, p, w)
    np.testing.assert_allclose(value, expected.item(), rtol=1e-5)
    np.testing.assert_allclose(grad, pt.grad.numpy(), rtol=1e-5, atol=1e-12)


@pytest.mark.parametrize(("name", "loss", "p", "y", "reference"), CASES, ids=IDS)
def test_gradient_matches_finite_differences(name, loss, p, y, reference):
    _, analytic = _value_and_gradient(loss, y, p)
    numeric = np.empty_like(p)
    for index in np.ndindex(p.shape):
        h = max(1e-4 * abs(p[index]), 1e-7)  # relative step: -log p is very curved at small p
        plus, minus = p.copy(), p.copy()
        plus[index] += h
        minus[index] -= h
        numeric[index] = (
            _value_and_gradient(loss, y, plus)[0] - _value_and_gradient(loss, y, minus)[0]
        ) / (2 * h)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-8)


LOGIT_LOSSES = [
    losses.BinaryCrossentropy(from_logits=True),
    losses.CategoricalCrossentropy(from_logits=True),
    losses.SparseCategoricalCrossentropy(from_logits=True),
]


@pytest.mark.parametrize("loss", LOGIT_LOSSES, ids=lambda loss: loss.name)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_extreme_logits_give_finite_exact_losses(loss, dtype):
    z = np.array([[1000.0, -1000.0, 0.0, 999.0], [-1000.0, 1000.0, -999.0, 0.0]], dtype=dtype)
    y = np.array([[1.0, 0.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0]], dtype=dtype)
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
        warnings.simplefilter("error")
        value = loss.per_sample(np, y, z)
        grad = loss.gradient(np, y, z)
    assert np.all(np.isfinite(value)) and np.all(np.isfinite(grad))
    if loss.name == "binary_crossentropy":
        expected = F.binary_cross_entropy_with_logits(
            torch.tensor(z, dtype=torch.float64),
            torch.tensor(y, dtype=torch.float64),
            reduction="none",
        ).mean(dim=1)
    else:
        expected = F.cross_entropy(
            torch.tensor(z, dtype=torch.float64), torch.tensor(y.argmax(1)), reduction="none"
        )
    np.testing.assert_allclose(value, expected.numpy(), rtol=1e-5)


@pytest.mark.parametrize(
    "loss",
    [losses.BinaryCrossentropy(), losses.CategoricalCrossentropy()],
    ids=lambda loss: loss.name,
)
def test_saturated_probabilities_give_finite_loss_and_gradient(loss):
    p = np.array([[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0]])
    y = np.array([[0.0, 1.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0]])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        value = loss.per_sample(np, y, p)
        grad = loss.gradient(np, y, p)
    # each wrong, saturated output costs -log(1e-7) (Keras' clip), averaged over the outputs
    wrong_per_row = 2 if loss.name == "binary_crossentropy" else 1
    mean_over = 4 if loss.name == "binary_crossentropy" else 1
    np.testing.assert_allclose(value, -np.log(1e-7) * wrong_per_row / mean_over, rtol=1e-5)
    assert np.all(np.isfinite(grad))


# --- the fused path through a model --------------------------------------------------


def _model(activation, units, loss, seed=0, kernel_scale=1.0):
    model = dk.Sequential(
        [dk.layers.Dense(5, activation="tanh", input_dim=3), dk.layers.Dense(units, activation)],
        seed=seed,
        dtype="float64",
    )
    model.set_weights([w * kernel_scale for w in model.get_weights()])
    model.compile("sgd", loss)
    return model


FUSED = [
    ("softmax", 4, "categorical_crossentropy", lambda rng: _one_hot(rng.integers(0, 4, 10))),
    ("softmax", 4, "sparse_categorical_crossentropy", lambda rng: rng.integers(0, 4, 10)),
    ("sigmoid", 1, "binary_crossentropy", lambda rng: rng.integers(0, 2, 10)),
    ("sigmoid", 3, "binary_crossentropy", lambda rng: rng.integers(0, 2, (10, 3))),
]


@pytest.mark.parametrize(("activation", "units", "loss_name", "make_y"), FUSED)
def test_fused_gradient_equals_the_unfused_chain_rule(activation, units, loss_name, make_y):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(10, 3)), make_y(rng)
    model = _model(activation, units, loss_name)
    assert model.fuses_loss
    x, yp, _ = model.prepare_inputs(x, y, None)
    fused_value, output, _ = model.compute_gradients(x, yp)
    fused = model.grads.copy()
    # the same step without fusing: dL/dp from the loss, then through the activation
    loss = model.loss
    grad = loss.gradient(np, yp, output) / len(x)
    model.backward(grad, through_last_activation=True)
    np.testing.assert_allclose(fused, model.grads, rtol=1e-7, atol=1e-12)
    np.testing.assert_allclose(fused_value, loss.per_sample(np, yp, output).mean(), rtol=1e-9)


@pytest.mark.parametrize(("activation", "units", "loss_name", "make_y"), FUSED)
def test_fused_loss_matches_torch_logits_loss_at_extreme_logits(
    activation, units, loss_name, make_y
):
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(10, 3)), make_y(rng)
    model = _model(activation, units, loss_name, kernel_scale=2000.0)  # saturates the output
    x, yp, _ = model.prepare_inputs(x, y, None)
    value, _, _ = model.compute_gradients(x, yp)
    assert np.all(np.isfinite(model.grads))
    z = torch.tensor(model.layers[-1].pre_activation.copy())
    if activation == "softmax":
        expected = F.cross_entropy(z, torch.tensor(yp))
    else:
        expected = F.binary_cross_entropy_with_logits(z, torch.tensor(yp))
    assert abs(z).max() > 100
    np.testing.assert_allclose(value, expected.item(), rtol=1e-7)


def test_from_logits_with_a_linear_output_is_not_fused_but_agrees():
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(10, 3)), rng.integers(0, 4, 10)
    fused = _model("softmax", 4, "sparse_categorical_crossentropy")
    logits = _model(None, 4, losses.SparseCategoricalCrossentropy(from_logits=True))
    assert not logits.fuses_loss
    value_fused, _, _ = fused.compute_gradients(*fused.prepare_inputs(x, y, None)[:2])
    value_logits, _, _ = logits.compute_gradients(*logits.prepare_inputs(x, y, None)[:2])
    np.testing.assert_allclose(value_fused, value_logits, rtol=1e-12)
    np.testing.assert_allclose(fused.grads, logits.grads, rtol=1e-9, atol=1e-15)


# --- target validation -----------------------------------------------------------------


def _compiled(units, loss, activation=None):
    model = dk.Sequential([dk.layers.Dense(units, activation, input_dim=3)], seed=0)
    model.compile("sgd", loss)
    return model


X = np.random.default_rng(0).normal(size=(4, 3))

BAD_TARGETS = [
    ("sparse_categorical_crossentropy", 3, [0, 1, 3, 2], "labels must be in \\[0, 3\\)"),
    ("sparse_categorical_crossentropy", 3, [0, 1, -1, 2], "labels must be in \\[0, 3\\)"),
    ("sparse_categorical_crossentropy", 3, [0, 1.5, 1, 2], "integer class labels"),
    ("sparse_categorical_crossentropy", 3, np.zeros((4, 3)), "shape \\(samples,\\)"),
    ("sparse_categorical_crossentropy", 3, [0, 1, np.nan, 2], "NaN"),
    ("mse", 1, ["a", "b", "a", "b"], "text .* needs numbers"),
    ("categorical_crossentropy", 3, [0, 1, 2, 1], "one-hot targets of shape \\(samples, 3\\)"),
    ("categorical_crossentropy", 3, np.full((4, 3), 2.0), "in \\[0, 1\\]"),
    ("binary_crossentropy", 1, [0, 1, 2, 1], "targets in \\[0, 1\\]"),
    ("binary_crossentropy", 1, [0, -1, 1, 1], "targets in \\[0, 1\\]"),
    ("binary_crossentropy", 1, [0, 1, np.inf, 1], "NaN or infinite"),
    ("mse", 2, np.zeros((4, 3)), "y has shape \\(4, 3\\), but the model has 2 output"),
    ("mse", 2, np.zeros(4), "y has shape \\(4,\\), but the model has 2 output"),
    ("mse", 1, [1.0, np.nan, 0.0, 1.0], "NaN"),
    ("mse", 1, np.zeros(5), "x has 4 samples but y has 5"),
]


@pytest.mark.filterwarnings(
    "ignore:.*expects probabilities:UserWarning"
)  # linear output on purpose
@pytest.mark.parametrize(("loss", "units", "y", "message"), BAD_TARGETS)
def test_bad_targets_are_refused_by_fit_and_evaluate(loss, units, y, message):
    model = _compiled(units, loss)
    with pytest.raises(InputError, match=message):
        model.fit(X, y, epochs=1, verbose=0)
    with pytest.raises(InputError, match=message):
        model.evaluate(X, y)
    assert issubclass(InputError, DensekitError) and issubclass(InputError, ValueError)


def test_sparse_labels_may_be_a_column_or_floats_holding_integers():
    model = _compiled(3, "sparse_categorical_crossentropy", "softmax")
    a = model.evaluate(X, np.array([0, 1, 2, 1]))
    b = model.evaluate(X, np.array([[0.0], [1.0], [2.0], [1.0]]))
    assert a == b


def test_unknown_loss_is_refused_in_compile():
    model = dk.Sequential([dk.layers.Dense(1, input_dim=3)])
    with pytest.raises(ArgumentError, match="unknown loss 'mean_squared_eror'.*mean_squared_error"):
        model.compile("sgd", "mean_squared_eror")


def test_bad_loss_parameter_is_refused():
    with pytest.raises(ArgumentError, match=r"huber delta must be finite and > 0, got -1.0"):
        losses.get({"name": "huber", "delta": -1.0})
    with pytest.raises(ArgumentError, match="bad parameters"):
        losses.get({"name": "mse", "from_logits": True})


def test_sample_weight_scales_each_row_of_the_model_loss():
    model = _compiled(1, "mse")
    y = np.array([1.0, 2.0, 3.0, 4.0])
    w = np.array([0.0, 1.0, 2.0, 0.5])
    per_row = (model.predict(X)[:, 0] - y) ** 2
    weighted = model.evaluate(X, y, sample_weight=w)["loss"]
    np.testing.assert_allclose(weighted, (per_row * w).sum() / 4, rtol=1e-5)
    with pytest.raises(InputError, match="sample_weight must have shape \\(4,\\)"):
        model.evaluate(X, y, sample_weight=[1.0, 2.0])
    with pytest.raises(InputError, match="sample_weight must be finite and >= 0"):
        model.evaluate(X, y, sample_weight=[1.0, -2.0, 1.0, 1.0])
