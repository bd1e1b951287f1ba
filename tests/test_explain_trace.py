"""dk.explain.trace: one row's numbers, checked against finite differences and PyTorch autograd."""

from __future__ import annotations

import re

import numpy as np
import pytest

import densekit as dk
from densekit.errors import InputError


def _two_three_one(activation="tanh", optimizer=None, regularizer=None):
    model = dk.Sequential(
        [
            dk.layers.Dense(3, activation, input_dim=2, kernel_regularizer=regularizer),
            dk.layers.Dense(1),
        ],
        seed=3,
        dtype="float64",
    )
    model.compile(optimizer=optimizer or dk.optimizers.Adam(0.01), loss="mse")
    return model


def _state(model):
    return (
        model.params.copy(),
        {name: slot.copy() for name, slot in model.optimizer.state.items()},
        model.optimizer.iterations,
    )


def test_the_neuron_y_equals_2x_plus_3_by_hand():
    # w = 1, b = 0, x = 2, y = 7: p = 2, dL/dp = 2 (p - y) = -10, dW = -10 x = -20, db = -10
    model = dk.Sequential([dk.layers.Dense(1, input_dim=1, kernel_initializer="ones")])
    model.compile(optimizer=dk.optimizers.SGD(0.1), loss="mse")
    t = dk.explain.trace(model, [2.0], [7.0])
    layer = t.layers[0]
    assert t.loss == 25.0
    assert layer.z[0, 0] == 2.0 and layer.a[0, 0] == 2.0
    assert layer.grad_a[0, 0] == -10.0 and layer.grad_z[0, 0] == -10.0
    assert layer.grads["kernel"][0, 0] == -20.0 and layer.grads["bias"][0] == -10.0
    assert layer.updates["kernel"][0, 0] == pytest.approx(2.0) and layer.updates["bias"][0] == 1.0


def test_gradients_agree_with_central_differences():
    model = _two_three_one(regularizer=dk.regularizers.l1_l2(0.01, 0.02))
    x, y = np.array([[0.7, -1.3]]), np.array([[0.4]])
    t = dk.explain.trace(model, x, y)
    check = dk.check_gradients(model, x, y, max_params=None)
    assert check.passed
    # both are float64 backprop of the same loss; the trace must be that gradient exactly
    # up to the order of float64 additions: a few ulps of the largest entry
    scale = np.abs(check.numeric).max()
    np.testing.assert_allclose(t.gradient, check.analytic, rtol=0, atol=64 * 2.2e-16 * scale)
    # against the central differences: their truncation error is O(h^2), h = 1e-6, and
    # rounding ~ eps * |L| / h; check_gradients' own tolerance bounds both
    np.testing.assert_allclose(t.gradient, check.numeric, rtol=1e-5, atol=1e-8)


def test_per_layer_gradients_are_the_flat_gradient_in_order():
    model = _two_three_one()
    t = dk.explain.trace(model, [0.2, 0.9], 1.0)
    pieces = [g.ravel() for layer in t.layers for g in layer.grads.values()]
    np.testing.assert_array_equal(np.concatenate(pieces), t.gradient)
    pieces = [u.ravel() for layer in t.layers for u in layer.updates.values()]
    np.testing.assert_allclose(np.concatenate(pieces), t.update, rtol=0, atol=1e-15)


@pytest.mark.parametrize(
    "optimizer", [dk.optimizers.SGD(0.1, momentum=0.9), dk.optimizers.Adam(0.01)], ids=str
)
def test_the_model_and_its_optimizer_state_are_unchanged(optimizer):
    model = _two_three_one(optimizer=optimizer)
    x = np.random.default_rng(0).normal(size=(16, 2))
    model.fit(x, x[:, :1] * 2 + 1, epochs=2, batch_size=4, verbose=0, seed=0)
    params, slots, iterations = _state(model)
    t = dk.explain.trace(model, x[0], [3.0])
    after = _state(model)
    np.testing.assert_array_equal(after[0], params)
    for name in slots:
        np.testing.assert_array_equal(after[1][name], slots[name])
    assert after[2] == iterations
    # and the step it reports is the one train_on_batch then takes
    model.train_on_batch(x[:1], np.array([[3.0]]))
    np.testing.assert_allclose(model.params - params, t.update, rtol=1e-12, atol=1e-15)


def test_softmax_cross_entropy_gives_p_minus_y_at_the_output():
    model = dk.Sequential(
        [dk.layers.Dense(4, "relu", input_dim=3), dk.layers.Dense(3, "softmax")],
        seed=0,
        dtype="float64",
    )
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    t = dk.explain.trace(model, [0.5, -0.2, 1.0], 2)
    assert t.fused
    p, y = t.output, np.array([[0.0, 0.0, 1.0]])
    np.testing.assert_allclose(t.layers[-1].grad_z, p - y, rtol=0, atol=1e-15)
    assert t.loss == pytest.approx(-np.log(p[0, 2]), rel=1e-12)
    # dL/dz = J^T dL/dp: the unfused route through softmax's Jacobian gives the same
    via_jacobian = dk.activations.get("softmax").backward(np, None, p, t.layers[-1].grad_a.copy())
    np.testing.assert_allclose(via_jacobian, p - y, rtol=0, atol=1e-12)


@pytest.mark.torch
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_every_number_agrees_with_pytorch_autograd(optimizer):
    torch = pytest.importorskip("torch")
    model = dk.Sequential(
        [
            dk.layers.Dense(3, "tanh", input_dim=2, kernel_regularizer=dk.regularizers.l2(0.01)),
            dk.layers.Dense(2, "softmax"),
        ],
        seed=5,
        dtype="float64",
    )
    dk_opt = dk.optimizers.SGD(0.1) if optimizer == "sgd" else dk.optimizers.Adam(0.01)
    model.compile(optimizer=dk_opt, loss="sparse_categorical_crossentropy")
    x, label = np.array([0.3, -0.8]), 1
    t = dk.explain.trace(model, x, label)

    w1, b1, w2, b2 = (torch.tensor(w, requires_grad=True) for w in model.get_weights())
    xt = torch.tensor(x[None, :])
    z1 = xt @ w1 + b1
    a1 = torch.tanh(z1)
    z2 = a1 @ w2 + b2
    for z in (z1, a1, z2):
        z.retain_grad()
    loss = torch.nn.functional.cross_entropy(z2, torch.tensor([label])) + 0.01 * (w1**2).sum()
    loss.backward()
    close = dict(rtol=1e-12, atol=1e-14)
    assert t.loss == pytest.approx(loss.item(), rel=1e-12)
    np.testing.assert_allclose(t.layers[0].z, z1.detach().numpy(), **close)
    np.testing.assert_allclose(t.layers[0].a, a1.detach().numpy(), **close)
    np.testing.assert_allclose(t.layers[0].grad_a, a1.grad.numpy(), **close)
    np.testing.assert_allclose(t.layers[0].grad_z, z1.grad.numpy(), **close)
    np.testing.assert_allclose(t.layers[1].grad_z, z2.grad.numpy(), **close)
    for layer, (w, b) in zip(t.layers, ((w1, b1), (w2, b2))):
        np.testing.assert_allclose(layer.grads["kernel"], w.grad.numpy(), **close)
        np.testing.assert_allclose(layer.grads["bias"], b.grad.numpy(), **close)
    params = [w1, b1, w2, b2]
    before = [p.detach().clone() for p in params]
    opt = (
        torch.optim.SGD(params, lr=0.1)
        if optimizer == "sgd"
        else torch.optim.Adam(params, lr=0.01, eps=1e-7)
    )
    opt.step()
    steps = [(p.detach() - b).numpy() for p, b in zip(params, before)]
    ours = [t.layers[0].updates["kernel"], t.layers[0].updates["bias"]]
    ours += [t.layers[1].updates["kernel"], t.layers[1].updates["bias"]]
    for mine, theirs in zip(ours, steps):
        np.testing.assert_allclose(mine, theirs, rtol=1e-9, atol=1e-15)


def test_table_and_page_show_the_numbers(tmp_path):
    model = _two_three_one()
    t = dk.explain.trace(model, [0.2, 0.9], 1.0)
    text = t.table()
    for label in ("z", "a", "dL/da", "dL/dz", "W", "dL/dW", "dL/db", "step W"):
        assert re.search(rf"^  {re.escape(label)} +=", text, re.M), label
    page = t.to_html(tmp_path / "trace.html")
    assert (tmp_path / "trace.html").read_text(encoding="utf-8") == page
    assert "<svg" in page and page.count("<rect") == 2 + 3 + 1  # one box per unit
    assert f"loss = {t.loss:.4g}" in page


def test_one_row_only_and_the_model_must_be_compiled():
    model = _two_three_one()
    with pytest.raises(InputError, match="one row"):
        dk.explain.trace(model, np.zeros((2, 2)), [1.0, 2.0])
    with pytest.raises(InputError):
        dk.explain.trace(model, [1.0, 2.0, 3.0], 1.0)
    bare = dk.Sequential([dk.layers.Dense(1, input_dim=2)])
    with pytest.raises(dk.errors.DensekitError, match="compile"):
        dk.explain.trace(bare, [1.0, 2.0], 1.0)


def test_training_mode_applies_dropout_as_fit_does():
    model = dk.Sequential(
        [
            dk.layers.Dense(4, "relu", input_dim=2),
            dk.layers.Dropout(0.5, seed=1),
            dk.layers.Dense(1),
        ],
        seed=0,
    )
    model.compile(optimizer="sgd", loss="mse")
    inference = dk.explain.trace(model, [1.0, 1.0], 0.0)
    np.testing.assert_array_equal(inference.layers[1].a, inference.layers[1].inputs)
    training = dk.explain.trace(model, [1.0, 1.0], 0.0, training=True)
    kept = training.layers[1].a != 0
    np.testing.assert_allclose(
        training.layers[1].a[kept], 2.0 * training.layers[1].inputs[kept], rtol=1e-6
    )


def test_normalization_batch_norm_activation_layers_and_pruning_masks():
    x = np.random.default_rng(0).normal(size=(32, 3))
    norm = dk.layers.Normalization()
    norm.adapt(x)
    model = dk.Sequential(
        [
            norm,
            dk.layers.Dense(4, use_bias=False, input_dim=3),
            dk.layers.BatchNormalization(),
            dk.layers.Activation("relu"),
            dk.layers.Dense(2),
            dk.layers.Activation("softmax"),
        ],
        seed=0,
        dtype="float64",
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(x, (x[:, 0] > 0).astype(int), epochs=2, verbose=0, seed=0)
    dk.prune.magnitude(model, 0.5)
    # in training mode, as check_gradients differentiates (batch statistics of the one row)
    t = dk.explain.trace(model, x[0], 1, training=True)
    assert t.fused  # the last Activation layer's softmax fuses with the cross-entropy
    assert set(t.layers[2].weights) == {"gamma", "beta"}  # moving statistics are state
    check = dk.check_gradients(model, x[:1], np.array([1]), max_params=None)
    scale = np.abs(check.analytic).max()
    np.testing.assert_allclose(t.gradient, check.analytic, rtol=0, atol=64 * 2.2e-16 * scale)
    pruned = model.layers[1].kernel == 0
    assert pruned.any() and np.all(t.layers[1].updates["kernel"][pruned] == 0)
    assert "batch_normalization (BatchNormalization)" in t.table()
