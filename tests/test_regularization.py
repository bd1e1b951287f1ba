"""Weight penalties (l1, l2, l1_l2) and inverted Dropout."""

from __future__ import annotations

import importlib.util
import math
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_diabetes, load_iris

import densekit as dk
from densekit.backend import make_rng
from densekit.errors import ArgumentError, ArgumentTypeError
from densekit.layers import Dense, Dropout
from densekit.regularizers import Regularizer, l1, l1_l2, l2


@pytest.fixture(scope="module")
def diabetes():
    x, y = load_diabetes(return_X_y=True)
    return (x / x.std(axis=0)).astype(np.float64), (y - y.mean()) / y.std()


def regression(kernel=None, bias=None, dtype="float64", seed=0) -> dk.Sequential:
    model = dk.Sequential(
        [
            Dense(8, "tanh", input_dim=10, kernel_regularizer=kernel, bias_regularizer=bias),
            Dense(1, kernel_regularizer=kernel, bias_regularizer=bias),
        ],
        seed=seed,
        dtype=dtype,
    )
    model.compile(optimizer=dk.optimizers.SGD(0.01), loss="mse")
    return model


def randomize_biases(model: dk.Sequential, seed: int = 1) -> None:
    rng = np.random.default_rng(seed)
    model.set_weights([w if w.ndim == 2 else rng.normal(size=w.shape) for w in model.get_weights()])


# --- penalties -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "regularizer, penalty",
    [
        (l2(0.01), lambda w: 0.01 * np.sum(w**2)),
        (l1(0.003), lambda w: 0.003 * np.sum(np.abs(w))),
        (l1_l2(l1=0.002, l2=0.02), lambda w: 0.002 * np.sum(np.abs(w)) + 0.02 * np.sum(w**2)),
    ],
    ids=["l2", "l1", "l1_l2"],
)
def test_penalty_is_added_to_the_reported_loss(diabetes, regularizer, penalty):
    x, y = diabetes
    plain, penalized = regression(), regression(kernel=regularizer, bias=regularizer)
    randomize_biases(plain)
    penalized.set_weights(plain.get_weights())
    expected = plain.evaluate(x, y)["loss"] + sum(penalty(w) for w in plain.get_weights())
    assert penalized.evaluate(x, y)["loss"] == pytest.approx(expected, rel=1e-12)
    assert penalized.regularization_penalty() == pytest.approx(
        expected - plain.evaluate(x, y)["loss"]
    )


def test_training_loss_includes_the_penalty(diabetes):
    x, y = diabetes
    model = regression(kernel=l2(0.1))
    kernels = [w for w in model.get_weights() if w.ndim == 2]
    data_loss = model.evaluate(x[:32], y[:32])["loss"] - 0.1 * sum(np.sum(k**2) for k in kernels)
    reported = model.train_on_batch(x[:32], y[:32].reshape(-1, 1))
    assert reported == pytest.approx(data_loss + 0.1 * sum(np.sum(k**2) for k in kernels))


@pytest.mark.parametrize(
    "kernel, bias",
    [(l2(0.05), None), (l1(0.01), None), (l1_l2(0.01, 0.05), l2(0.1)), (None, l1(0.02))],
    ids=["l2-kernel", "l1-kernel", "l1_l2-kernel-l2-bias", "l1-bias"],
)
def test_penalty_gradient_matches_central_differences(diabetes, kernel, bias):
    x, y = diabetes
    model = regression(kernel=kernel, bias=bias)
    randomize_biases(model)  # |b| > 0, where l1 is differentiable
    result = dk.check_gradients(model, x[:40], y[:40], max_params=None)
    assert result.passed, result.max_relative_error


@pytest.mark.torch
def test_l2_penalty_gradient_matches_torch_explicit_penalty(diabetes):
    torch = pytest.importorskip("torch")
    x, y = diabetes[0][:64], diabetes[1][:64]
    model = regression(kernel=l2(0.03), bias=l1(0.01))
    randomize_biases(model)
    weights = [torch.tensor(w, requires_grad=True) for w in model.get_weights()]
    w1, b1, w2, b2 = weights
    xt, yt = torch.from_numpy(x), torch.from_numpy(y).reshape(-1, 1)
    out = torch.tanh(xt @ w1 + b1) @ w2 + b2
    loss = torch.mean((out - yt) ** 2)
    loss = loss + 0.03 * (w1.square().sum() + w2.square().sum())
    loss = loss + 0.01 * (b1.abs().sum() + b2.abs().sum())
    loss.backward()
    value, _, _ = model.compute_gradients(x, y.reshape(-1, 1))
    assert value == pytest.approx(loss.item(), rel=1e-12)
    expected = np.concatenate([w.grad.numpy().reshape(-1) for w in weights])
    np.testing.assert_allclose(model.grads, expected, rtol=1e-10, atol=1e-14)


@pytest.mark.torch
def test_sgd_step_with_l2_equals_torch_weight_decay_of_two_lambda(diabetes):
    torch = pytest.importorskip("torch")
    x, y = diabetes[0][:64], diabetes[1][:64]
    lam, lr = 0.05, 0.1
    model = regression(kernel=l2(lam))
    model.compile(optimizer=dk.optimizers.SGD(lr), loss="mse")
    w1, b1, w2, b2 = (torch.tensor(w, requires_grad=True) for w in model.get_weights())
    optimizer = torch.optim.SGD(
        [{"params": [w1, w2], "weight_decay": 2 * lam}, {"params": [b1, b2]}], lr=lr
    )
    out = torch.tanh(torch.from_numpy(x) @ w1 + b1) @ w2 + b2
    torch.mean((out - torch.from_numpy(y).reshape(-1, 1)) ** 2).backward()
    optimizer.step()
    model.train_on_batch(x, y.reshape(-1, 1))
    for ours, theirs in zip(model.get_weights(), (w1, b1, w2, b2)):
        np.testing.assert_allclose(ours, theirs.detach().numpy(), rtol=1e-12, atol=1e-15)


def test_regularizers_survive_save_and_load(diabetes, tmp_path):
    model = regression(kernel=l1_l2(0.01, 0.02), bias=l2(0.5))
    path = tmp_path / "reg.safetensors"
    model.save(path)
    loaded = dk.load_model(path)
    assert loaded.layers[0].kernel_regularizer == Regularizer(l1=0.01, l2=0.02)
    assert loaded.layers[1].bias_regularizer == Regularizer(l2=0.5)
    x, y = diabetes
    assert loaded.evaluate(x, y)["loss"] == pytest.approx(model.evaluate(x, y)["loss"])


def test_regularizer_names_use_keras_default_strength():
    assert Dense(2, kernel_regularizer="l2").kernel_regularizer == Regularizer(l2=0.01)
    assert Dense(2, kernel_regularizer="l1_l2").kernel_regularizer == Regularizer(0.01, 0.01)


@pytest.mark.parametrize(
    "make, error, message",
    [
        (lambda: l2(-0.1), ArgumentError, "finite and >= 0"),
        (lambda: l1(float("nan")), ArgumentError, "finite and >= 0"),
        (lambda: l2("big"), ArgumentTypeError, "must be a number"),
        (lambda: Dense(2, kernel_regularizer="l3"), ArgumentError, "unknown regularizer 'l3'"),
        (lambda: Dense(2, kernel_regularizer=0.01), ArgumentTypeError, "regularizer must be"),
    ],
    ids=["negative", "nan", "string", "unknown-name", "bare-number"],
)
def test_bad_regularizers_are_refused(make, error, message):
    with pytest.raises(error, match=message):
        make()


# --- dropout ------------------------------------------------------------------------------------


def dropout_net(rate: float, seed=None, dtype="float64") -> dk.Sequential:
    model = dk.Sequential([Dropout(rate, seed=seed)], dtype=dtype)
    model.build(200)
    model.layers[0].rng = np.random.default_rng(0)
    return model


def test_dropout_zeroes_a_rate_fraction_and_scales_the_rest():
    x = np.ones((500, 200))
    out = dropout_net(0.3).forward(x, training=True)
    assert set(np.unique(out)) == {0.0, 1.0 / 0.7}
    assert (out == 0).mean() == pytest.approx(0.3, abs=0.01)
    assert out.mean() == pytest.approx(1.0, abs=0.02)  # inverted: the expectation is kept


def test_dropout_backward_passes_gradient_through_the_same_mask():
    model = dropout_net(0.5)
    out = model.forward(np.ones((10, 200)), training=True)
    dx = model.backward(np.ones((10, 200)), input_grad=True)
    np.testing.assert_array_equal(dx, out)


def test_dropout_is_the_identity_at_inference():
    x = np.random.default_rng(1).normal(size=(50, 200))
    model = dropout_net(0.5)
    np.testing.assert_array_equal(model.predict(x), x)
    np.testing.assert_array_equal(model.forward(x, training=False), x)


def test_dropout_rate_zero_is_the_identity_in_training():
    x = np.random.default_rng(1).normal(size=(5, 200))
    np.testing.assert_array_equal(dropout_net(0.0).forward(x, training=True), x)


def iris_with_dropout(seed: int, dropout_seed=None) -> dk.Sequential:
    model = dk.Sequential(
        [Dense(32, "relu", input_dim=4), Dropout(0.5, seed=dropout_seed), Dense(3, "softmax")],
        seed=seed,
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model


def test_dropout_training_is_reproducible_from_the_seed():
    x, y = load_iris(return_X_y=True)
    runs = []
    for _ in range(2):
        model = iris_with_dropout(seed=4)
        model.fit(x, y, epochs=3, verbose=0)
        runs.append(model.get_weights())
    other = iris_with_dropout(seed=4)
    other.fit(x, y, epochs=3, verbose=0, seed=5)
    assert all(np.array_equal(a, b) for a, b in zip(*runs))
    assert not np.array_equal(runs[0][0], other.get_weights()[0])


def test_dropout_with_its_own_seed_draws_the_same_masks_whatever_the_fit_seed():
    masks = []
    for fit_seed in (1, 2):
        model = dk.Sequential([Dropout(0.5, seed=11)])
        model.build(20)
        model.compile(optimizer="sgd", loss="mse")
        model.fit(np.ones((4, 20)), np.ones((4, 20)), epochs=1, verbose=0, seed=fit_seed)
        masks.append(model.layers[0]._scaled_mask.copy())
    np.testing.assert_array_equal(*masks)


def test_dropout_network_gradients_match_central_differences():
    x, y = load_iris(return_X_y=True)
    model = iris_with_dropout(seed=0)
    assert dk.check_gradients(model, x[::10], y[::10], max_params=None).passed


@pytest.mark.parametrize("rate", [-0.1, 1.0, 1.5, float("nan"), "0.5", True, None])
def test_dropout_rate_outside_zero_one_is_refused(rate):
    with pytest.raises((ArgumentError, ArgumentTypeError), match="Dropout rate must be"):
        Dropout(rate)


def test_dropout_survives_save_and_load(tmp_path):
    model = iris_with_dropout(seed=0, dropout_seed=3)
    model.save(tmp_path / "m.safetensors")
    layer = dk.load_model(tmp_path / "m.safetensors").layers[1]
    assert isinstance(layer, Dropout) and layer.rate == 0.5 and layer.seed == 3


def test_overfitting_example_runs_and_reports_each_gap(capsys):
    path = Path(__file__).resolve().parents[1] / "examples" / "overfitting.py"
    spec = importlib.util.spec_from_file_location("overfitting_example", path)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    limits = example.one_thread()  # small batches: threads only add overhead
    try:
        rows = example.main(epochs=1)
    finally:
        if limits is not None:
            limits.restore_original_limits()
    assert [row["variant"] for row in rows][0] == "no regularization" and len(rows) == 4
    assert all(np.isfinite(row["loss_gap"]) for row in rows)
    assert "loss gap" in capsys.readouterr().out


# --- no per-batch copies ------------------------------------------------------------------------


def _peak_bytes(call) -> int:
    """The most memory ``call`` held at once (NumPy reports its arrays to tracemalloc)."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        call()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_l2_penalty_agrees_with_the_sum_of_squares_without_copying_the_weights():
    w = np.random.default_rng(0).standard_normal((1000, 500))
    penalty = l1_l2(0.0, 0.3).penalty(np, w)
    assert penalty == pytest.approx(0.3 * (w * w).sum(), rel=1e-14, abs=0)
    assert penalty == pytest.approx(0.3 * math.fsum(w.ravel() ** 2), rel=1e-14, abs=0)
    assert _peak_bytes(lambda: l2(0.3).penalty(np, w)) < w.nbytes // 100


def _old_dropout(rng, x, rate):
    """The formula Dropout used before it drew into its own buffer."""
    keep = rng.random(x.shape, dtype=x.dtype) >= rate
    scaled_mask = np.empty(x.shape, dtype=x.dtype)
    np.multiply(keep, 1.0 / (1.0 - rate), out=scaled_mask)
    return scaled_mask, x * scaled_mask


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_dropout_draws_the_same_masks_as_before_into_reused_buffers(dtype):
    model = dk.Sequential([Dropout(0.3, seed=7)], dtype=dtype)
    model.build(16)
    layer, reference = model.layers[0], make_rng(7)
    x = np.random.default_rng(1).standard_normal((32, 16)).astype(dtype)
    outputs = []
    for rows in (32, 32, 5, 32):  # a short last batch between full ones
        out = model.forward(x[:rows], training=True)
        mask, expected = _old_dropout(reference, x[:rows], 0.3)
        np.testing.assert_array_equal(layer._scaled_mask, mask)
        np.testing.assert_array_equal(out, expected)
        outputs.append(out)
    assert outputs[0] is outputs[1] is outputs[3]  # one output buffer per batch shape


def test_dropout_in_training_allocates_nothing_after_the_first_batch():
    model = dk.Sequential([Dropout(0.5, seed=0)])
    model.build(1000)
    x = np.ones((500, 1000), dtype=np.float32)
    model.forward(x, training=True)
    assert _peak_bytes(lambda: model.forward(x, training=True)) < x.nbytes // 100
