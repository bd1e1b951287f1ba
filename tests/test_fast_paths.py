"""The in-place fast paths of the training loop agree with the plain formulas."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.datasets import load_diabetes, load_iris

import densekit as dk
from densekit import activations, losses, optimizers
from densekit.errors import InputError
from densekit.validation import check_x
from float_bounds import assert_within_rounding  # tests/ is on sys.path


def textbook_adam(p, grads, lr, beta_1, beta_2, eps, weight_decay=0.0):
    """Algorithm 1 of Kingma & Ba in float64, one line per formula (decoupled decay first)."""
    p, m, v = p.astype(np.float64), np.zeros(p.shape), np.zeros(p.shape)
    for t, g in enumerate(grads, start=1):
        p = p - lr * weight_decay * p
        m = beta_1 * m + (1 - beta_1) * g
        v = beta_2 * v + (1 - beta_2) * g * g
        m_hat, v_hat = m / (1 - beta_1**t), v / (1 - beta_2**t)
        p = p - lr * m_hat / (np.sqrt(v_hat) + eps)
    return p, m, v


@pytest.mark.parametrize(
    ("optimizer", "weight_decay"),
    [
        (optimizers.Adam(learning_rate=0.01, beta_1=0.8, beta_2=0.99, epsilon=1e-3), 0.0),
        (optimizers.AdamW(learning_rate=0.01, weight_decay=0.1, epsilon=1e-7), 0.1),
    ],
    ids=["adam", "adamw"],
)
@pytest.mark.parametrize("kernels", ["numba", "numpy"])
def test_in_place_adam_matches_the_textbook_algorithm(
    optimizer, weight_decay, kernels, monkeypatch
):
    if kernels == "numba":
        pytest.importorskip("numba")
    monkeypatch.setenv("DENSEKIT_KERNELS", kernels)
    rng = np.random.default_rng(0)
    size = optimizers.CHUNK + 1000  # two chunks: the piecewise update covers the whole buffer
    params = rng.standard_normal(size)
    grads = [rng.standard_normal(size) for _ in range(5)]
    optimizer.build(params, [slice(0, size)])
    expected_p, expected_m, expected_v = textbook_adam(
        params, grads, 0.01, optimizer.beta_1, optimizer.beta_2, optimizer.epsilon, weight_decay
    )
    for g in grads:
        optimizer.apply_gradients(params, g.copy())
    np.testing.assert_allclose(params, expected_p, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(optimizer.state["m"], expected_m, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(optimizer.state["v"], expected_v, rtol=1e-12, atol=1e-15)


def test_adam_scratch_is_one_chunk_not_a_copy_of_the_parameters():
    optimizer = optimizers.Adam()
    optimizer.build(np.zeros(3 * optimizers.CHUNK, dtype=np.float32), [])
    assert optimizer._scratch.size == optimizers.CHUNK


PLAIN_FORMULAS = {
    "relu": lambda z: np.maximum(z, 0),
    "tanh": np.tanh,
    "softmax": lambda z: (
        np.exp(z - z.max(1, keepdims=True))
        / np.exp(z - z.max(1, keepdims=True)).sum(1, keepdims=True)
    ),
}


@pytest.mark.parametrize("name", sorted(PLAIN_FORMULAS))
def test_activation_written_into_a_buffer_matches_the_formula(name):
    z = np.random.default_rng(1).standard_normal((7, 5)).astype(np.float32) * 4
    activation = activations.get(name)
    out = np.full_like(z, np.nan)
    a = activation.forward(np, z, out=out)
    assert activation.writes_out and a is out
    np.testing.assert_allclose(a, PLAIN_FORMULAS[name](z), rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(activation.forward(np, z), a)  # without out: same values


@pytest.mark.parametrize("activation", ["relu", "tanh", "softmax", "sigmoid", "gelu"])
def test_dense_forward_and_backward_match_the_formulas(activation):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((6, 4))
    layer = dk.layers.Dense(3, activation=activation, input_dim=4)
    model = dk.Sequential([layer], dtype="float64", seed=0)
    kernel, bias = model.get_weights()
    a = model.forward(x, training=True)
    np.testing.assert_allclose(a, activations.get(activation)(x @ kernel + bias), rtol=1e-12)
    grad = rng.standard_normal((6, 3))
    dz = activations.get(activation).backward(np, x @ kernel + bias, a.copy(), grad.copy())
    dx = layer.backward(grad.copy())
    np.testing.assert_allclose(layer.grads["kernel"], x.T @ dz, rtol=1e-12)
    np.testing.assert_allclose(layer.grads["bias"], dz.sum(axis=0), rtol=1e-12)
    np.testing.assert_allclose(dx, dz @ kernel.T, rtol=1e-12)


LOSS_CASES = [
    ("mean_squared_error", "linear", 3),
    ("mean_absolute_error", "linear", 3),
    ("huber", "linear", 2),
    ("binary_crossentropy", "sigmoid", 1),
    ("categorical_crossentropy", "softmax", 3),
    ("sparse_categorical_crossentropy", "softmax", 3),
]


@pytest.mark.parametrize(("name", "activation", "outputs"), LOSS_CASES)
def test_mean_and_gradient_matches_the_mean_of_per_sample_losses(name, activation, outputs):
    rng = np.random.default_rng(3)
    loss = losses.get(name)
    z = rng.standard_normal((8, outputs))
    p = activations.get(activation)(z).astype(np.float64)
    if name == "sparse_categorical_crossentropy":
        y = loss.prepare_targets(rng.integers(0, outputs, 8), outputs, np.float64)
    elif activation == "linear":
        y = rng.standard_normal((8, outputs))
    else:
        y = loss.prepare_targets(np.eye(outputs)[rng.integers(0, outputs, 8)], outputs, np.float64)
    value, grad = loss.mean_and_gradient(np, y, p)
    assert value == pytest.approx(loss.per_sample(np, y, p).mean(), rel=1e-12)
    np.testing.assert_allclose(grad, loss.gradient(np, y, p) / 8, rtol=1e-12)
    if loss.fuses_with is not None:
        value, grad = loss.mean_and_gradient_from_logits(np, y, z, p)
        assert value == pytest.approx(loss.per_sample_from_logits(np, y, z).mean(), rel=1e-12)
        general = p * y.sum(axis=1, keepdims=True) - y  # d/dz sum_k y_k (lse - z_k)
        if outputs == 1:
            general = p - y
        np.testing.assert_allclose(grad, general / 8, rtol=1e-12, atol=1e-15)


def test_finite_check_by_a_sum_still_accepts_values_whose_sum_overflows():
    big = np.full((3, 2), 3e38, dtype=np.float32)  # finite, but their float32 sum is inf
    assert np.array_equal(check_x(big, np.float32), big)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_finite_check_by_a_sum_rejects_nan_and_infinity(bad):
    x = np.ones((4, 3))
    x[2, 1] = bad
    with pytest.raises(InputError, match="row 2, column 1"):
        check_x(x, np.float32)


class BatchLogger(dk.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.batch_logs = []

    def on_train_batch_end(self, batch, logs=None):
        self.batch_logs.append(dict(logs))


def _iris_model():
    model = dk.Sequential(
        [dk.layers.Dense(8, activation="relu", input_dim=4), dk.layers.Dense(3, "softmax")], seed=0
    )
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def test_batch_callbacks_see_running_means_and_do_not_change_training():
    x, y = load_iris(return_X_y=True)
    plain, watched, logger = _iris_model(), _iris_model(), BatchLogger()
    history = plain.fit(x, y, batch_size=32, epochs=2, verbose=0, seed=1)
    watched_history = watched.fit(
        x, y, batch_size=32, epochs=2, verbose=0, seed=1, callbacks=[logger]
    )
    assert history.history == watched_history.history
    np.testing.assert_array_equal(plain.params, watched.params)
    assert len(logger.batch_logs) == 2 * math.ceil(150 / 32)
    last_of_epoch = logger.batch_logs[math.ceil(150 / 32) * 2 - 1]
    assert last_of_epoch == pytest.approx({k: v[1] for k, v in history.history.items()})


def test_one_batch_predict_returns_a_copy_not_a_work_buffer():
    x, _ = load_diabetes(return_X_y=True)
    model = dk.Sequential([dk.layers.Dense(4, "relu", input_dim=10), dk.layers.Dense(1)], seed=0)
    first = model.predict(x[:5])
    kept = first.copy()
    model.predict(x[5:10])
    np.testing.assert_array_equal(first, kept)
    assert_within_rounding(model.predict(x[:5], batch_size=2), kept, model, x[:5])


@pytest.mark.parametrize("name", ["categorical_crossentropy", "sparse_categorical_crossentropy"])
def test_fused_loss_stays_exact_when_the_true_class_probability_underflows(name):
    loss = losses.get(name)
    z = np.array([[0.0, 200.0, -5.0]], dtype=np.float32)  # label 0: p_0 = e^-200 underflows
    p = activations.softmax(z)
    y = loss.prepare_targets(np.array([0]) if "sparse" in name else np.eye(3)[[0]], 3, np.float32)
    value, _ = loss.mean_and_gradient_from_logits(np, y, z, p)
    assert value == pytest.approx(200.0, rel=1e-6)


def test_a_subclass_of_mse_trains_with_its_own_formulas_not_the_shortcut():
    from dataclasses import dataclass

    @dataclass(frozen=True)
    class DoubledError(losses.MeanSquaredError):
        def per_sample(self, xp, y, p):
            return 2.0 * super().per_sample(xp, y, p)

        def gradient(self, xp, y, p):
            return 2.0 * super().gradient(xp, y, p)

    rng = np.random.default_rng(0)
    y, p = rng.normal(size=(8, 3)), rng.normal(size=(8, 3))
    plain_value, plain_grad = losses.MeanSquaredError().mean_and_gradient(np, y, p)
    value, grad = DoubledError().mean_and_gradient(np, y, p)
    assert value == pytest.approx(2 * plain_value, rel=1e-12)
    np.testing.assert_allclose(grad, 2 * plain_grad, rtol=1e-12)
