"""The tabular recipe's parts: BatchEnsembleDense, PeriodicEmbedding, Scale, MemberMean,
label smoothing and the schedules. Float64 gradient checks, PyTorch parity where torch has
the piece (cross-entropy's label_smoothing) or where a few torch lines write the same
formula with autograd, model files, and the errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

import densekit as dk
from densekit import losses, schedules
from densekit.errors import ArgumentError, ArgumentTypeError, InputError
from densekit.layers import BatchEnsembleDense, CategoryEmbedding, PeriodicEmbedding, Scale

ROWS, FEATURES, K = 7, 5, 3


def _x(seed=0, rows=ROWS, features=FEATURES):
    return np.random.default_rng(seed).normal(size=(rows, features))


def _passes(model, x, y):
    result = dk.check_gradients(model, x, y)
    assert result.passed, f"max relative error {result.max_relative_error:.3g}"
    assert result.max_relative_error < 1e-5
    return result


def _ensemble_model(loss, outputs, hidden_activation="relu"):
    model = dk.Sequential(
        [
            Scale(lr_factor=6.0, input_dim=FEATURES),
            PeriodicEmbedding(frequencies=4, embedding_dim=3, sigma=0.5, columns=[0, 2, 3]),
            BatchEnsembleDense(
                6, K, hidden_activation, shared_input=True, adapter_initializer="random_sign"
            ),
            BatchEnsembleDense(4, K, "tanh", scale_initializer="random_normal"),
            BatchEnsembleDense(outputs, K, bias_initializer="random_normal"),
        ],
        seed=1,
        dtype="float64",
    )
    model.compile("sgd", losses.MemberMean(loss, K))
    return model


# --- gradient checks ---------------------------------------------------------------------


def test_gradients_of_the_whole_recipe_regression():
    x = _x()
    y = np.random.default_rng(2).normal(size=(ROWS, 2))
    _passes(_ensemble_model("mse", 2, "tanh"), x, y)


def test_gradients_of_the_whole_recipe_classification_with_label_smoothing():
    x = _x()
    y = np.random.default_rng(3).integers(0, 3, ROWS)
    inner = losses.SparseCategoricalCrossentropy(from_logits=True, label_smoothing=0.1)
    _passes(_ensemble_model(inner, 3, "gelu"), x, y)


@pytest.mark.parametrize("include_input", [True, False])
@pytest.mark.parametrize("activation", [None, "relu"])
@pytest.mark.parametrize("columns", [None, [4, 1]])
def test_periodic_embedding_gradients(include_input, activation, columns):
    model = dk.Sequential(
        [
            PeriodicEmbedding(
                frequencies=3,
                embedding_dim=3,
                sigma=0.7,
                columns=columns,
                include_input=include_input,
                activation=activation,
            ),
            dk.layers.Dense(2),
        ],
        seed=4,
        dtype="float64",
    )
    model.compile("sgd", "mse")
    _passes(model, _x(5), np.random.default_rng(6).normal(size=(ROWS, 2)))


def test_batch_ensemble_on_per_member_input_and_scale_gradients():
    model = dk.Sequential(
        [
            Scale(lr_factor=2.0),
            BatchEnsembleDense(3, K, "sigmoid", adapter_initializer="random_normal"),
        ],
        seed=7,
        dtype="float64",
    )
    model.compile("sgd", "mse")
    _passes(model, _x(8, features=2 * K), np.random.default_rng(9).normal(size=(ROWS, 3 * K)))


@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_binary_and_categorical_label_smoothing_gradients(smoothing):
    rng = np.random.default_rng(10)
    x = _x(11)
    for loss, units, y in (
        (losses.BinaryCrossentropy(label_smoothing=smoothing), 1, rng.integers(0, 2, ROWS)),
        (
            losses.CategoricalCrossentropy(label_smoothing=smoothing),
            3,
            np.eye(3)[rng.integers(0, 3, ROWS)],
        ),
    ):
        activation = "sigmoid" if units == 1 else "softmax"
        model = dk.Sequential([dk.layers.Dense(units, activation)], seed=12, dtype="float64")
        model.compile("sgd", loss)
        _passes(model, x, y.astype(float))


# --- PyTorch parity ------------------------------------------------------------------------


def test_label_smoothing_matches_torch_cross_entropy():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(13)
    z = rng.normal(size=(9, 4)) * 3
    y = rng.integers(0, 4, 9)
    loss = losses.SparseCategoricalCrossentropy(from_logits=True, label_smoothing=0.15)
    prepared = loss.prepare_targets(y, 4, np.float64)
    value, grad = loss.mean_and_gradient(np, prepared, z)
    zt = torch.tensor(z, requires_grad=True)
    expected = torch.nn.functional.cross_entropy(zt, torch.tensor(y), label_smoothing=0.15)
    expected.backward()
    # float64 log-softmax over 4 classes: a few ulps of the terms
    assert value == pytest.approx(expected.item(), rel=1e-12, abs=1e-12)
    np.testing.assert_allclose(grad, zt.grad.numpy(), rtol=1e-10, atol=1e-14)


def test_binary_label_smoothing_is_keras_formula():
    y = np.array([0.0, 1.0, 1.0])
    prepared = losses.BinaryCrossentropy(label_smoothing=0.2).prepare_targets(y, 1, np.float64)
    np.testing.assert_array_equal(prepared[:, 0], [0.1, 0.9, 0.9])  # y (1 - ls) + ls / 2
    onehot = losses.CategoricalCrossentropy(label_smoothing=0.3).prepare_targets(
        np.eye(3)[[0, 2]], 3, np.float64
    )
    np.testing.assert_allclose(onehot[0], [0.8, 0.1, 0.1])  # y (1 - ls) + ls / k


def _torch_recipe(torch, model, x):
    """The same network written with torch's autograd, from densekit's weights."""
    scale, emb, be1, be2, head = model.layers
    t = lambda a: torch.tensor(np.asarray(a), requires_grad=True)  # noqa: E731
    params = {}
    for layer in model.layers:
        for name, weight in layer.weights.items():
            params[(layer.name, name)] = t(weight)
    h = torch.tensor(x) * params[(scale.name, "scale")] * scale.lr_factor
    cols = list(emb.columns)
    others = [c for c in range(h.shape[1]) if c not in cols]
    xe = h[:, cols]
    v = (
        2 * math.pi * xe[:, :, None] * params[(emb.name, "frequencies")]
        + params[(emb.name, "phases")]
    )
    p = (
        torch.einsum("bnf,nfd->bnd", torch.cos(v), params[(emb.name, "kernel")])
        + params[(emb.name, "bias")]
    )
    h = torch.cat([torch.cat([xe[:, :, None], p], dim=2).reshape(len(x), -1), h[:, others]], dim=1)

    def be(layer, h, act, shared):
        k = layer.members
        w = {n: params[(layer.name, n)] for n in ("kernel", "adapter", "scale", "bias")}
        h3 = h[:, None, :] if shared else h.reshape(len(x), k, -1)
        z = ((h3 * w["adapter"]) @ w["kernel"]) * w["scale"] + w["bias"]
        return act(z).reshape(len(x), -1)

    h = be(be1, h, torch.relu, True)
    h = be(be2, h, torch.tanh, False)
    return be(head, h, lambda z: z, False), params


def test_recipe_forward_and_gradients_match_torch_autograd():
    torch = pytest.importorskip("torch")
    model = _ensemble_model("mse", 2)
    x = _x(14)
    y = np.random.default_rng(15).normal(size=(ROWS, 2))
    out = model.predict(x)
    expected, params = _torch_recipe(torch, model, x)
    np.testing.assert_allclose(out, expected.detach().numpy(), rtol=1e-10, atol=1e-12)
    loss_value, _, _ = model.compute_gradients(x, model.loss.prepare_targets(y, 2 * K, np.float64))
    target = torch.tensor(np.tile(y, (1, K)))
    torch_loss = ((expected - target) ** 2).mean()
    torch_loss.backward()
    assert loss_value == pytest.approx(torch_loss.item(), rel=1e-12)
    for layer in model.layers:
        for name, grad in layer.grads.items():
            np.testing.assert_allclose(
                grad,
                params[(layer.name, name)].grad.numpy(),
                rtol=1e-9,
                atol=1e-12,
                err_msg=f"{layer.name}.{name}",
            )


# --- use from Sequential: fit, save, load ----------------------------------------------


def test_fit_save_and_load_round_trip(tmp_path):
    from sklearn.datasets import load_breast_cancer

    x, y = load_breast_cancer(return_X_y=True)
    x = (x - x.mean(axis=0)) / x.std(axis=0)
    model = dk.Sequential(
        [
            Scale(),
            PeriodicEmbedding(columns=list(range(10))),
            BatchEnsembleDense(32, 4, "relu", shared_input=True, adapter_initializer="random_sign"),
            BatchEnsembleDense(2, 4),
        ],
        seed=0,
    )
    loss = losses.MemberMean(losses.SparseCategoricalCrossentropy(from_logits=True), 4)
    rate = schedules.CosineLogCycles(3e-3, decay_steps=10 * 15)
    model.compile(dk.optimizers.AdamW(rate, beta_2=0.95), loss)
    history = model.fit(x, y, epochs=10, batch_size=40, verbose=0, seed=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    proba = loss.average(model.predict(x), "softmax")
    assert proba.shape == (len(x), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    assert np.mean(proba.argmax(axis=1) == y) > 0.9
    model.save(tmp_path / "m.safetensors")
    loaded = dk.load_model(tmp_path / "m.safetensors")
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    assert loaded.loss.get_config() == loss.get_config()


# --- schedules -----------------------------------------------------------------------------


def test_cosine_log_cycles_has_four_cycles_that_lengthen():
    schedule = schedules.CosineLogCycles(1.0, decay_steps=1500)
    rates = np.array([schedule(s) for s in range(1501)])
    assert rates[0] == 0.0 and rates[-1] == pytest.approx(0.0, abs=1e-12)
    # the low points are where log2(1 + 15 t) is an integer: t = (2^j - 1) / 15
    for j in range(1, 4):
        assert rates[(2**j - 1) * 100] == pytest.approx(0.0, abs=1e-12)
        assert rates[int(round((2 ** (j - 0.5) - 1) * 100))] == pytest.approx(1.0, abs=1e-3)
    assert schedule(5000) == rates[-1]
    assert schedules.from_config(schedule.get_config()) == schedule


def test_warmup_cosine_decay():
    schedule = schedules.WarmupCosineDecay(0.1, decay_steps=100, warmup_steps=10, alpha=0.1)
    assert schedule(0) == pytest.approx(0.01)
    assert schedule(9) == pytest.approx(0.1)
    assert schedule(10) == pytest.approx(0.1)
    assert schedule(60) == pytest.approx(0.1 * (0.9 * 0.5 + 0.1))
    assert schedule(10_000) == pytest.approx(0.01)


# --- errors -----------------------------------------------------------------------------


def test_errors_name_the_argument():
    with pytest.raises(ArgumentError, match="members"):
        BatchEnsembleDense(4, 0)
    with pytest.raises(ArgumentError, match="softmax"):
        BatchEnsembleDense(4, 2, "softmax")
    with pytest.raises(ArgumentTypeError, match="shared_input"):
        BatchEnsembleDense(4, 2, shared_input="yes")
    with pytest.raises(ArgumentError, match="multiple of 3"):
        dk.Sequential([BatchEnsembleDense(4, 3, input_dim=4)]).build(4)
    with pytest.raises(ArgumentError, match="embedding_dim"):
        PeriodicEmbedding(embedding_dim=1)
    with pytest.raises(ArgumentTypeError, match="columns"):
        PeriodicEmbedding(columns="0,1")
    with pytest.raises(ArgumentError, match="columns"):
        dk.Sequential([PeriodicEmbedding(columns=[7])]).build(3)
    with pytest.raises(ArgumentError, match="lr_factor"):
        Scale(lr_factor=0)
    with pytest.raises(ArgumentError, match="label_smoothing"):
        losses.CategoricalCrossentropy(label_smoothing=1.5)
    with pytest.raises(ArgumentError, match="MemberMean"):
        losses.MemberMean(losses.MemberMean("mse", 2), 2)
    with pytest.raises(InputError, match="multiple of 2"):
        losses.MemberMean("mse", 2).prepare_targets(np.zeros(3), 3, np.float64)
    with pytest.raises(ArgumentError, match="cycles"):
        schedules.CosineLogCycles(0.1, 10, cycles=0)


# --- ONNX export ----------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_onnx_export_matches_predict(dtype, tmp_path):
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    from sklearn.datasets import load_wine

    x, _ = load_wine(return_X_y=True)
    x = ((x - x.mean(axis=0)) / x.std(axis=0)).astype(dtype)
    model = dk.Sequential(
        [
            Scale(lr_factor=3.0, input_dim=x.shape[1]),
            PeriodicEmbedding(columns=[0, 5, 2], activation="relu"),
            BatchEnsembleDense(8, 3, "relu", shared_input=True, adapter_initializer="random_sign"),
            BatchEnsembleDense(6, 3, "tanh", scale_initializer="random_normal"),
            BatchEnsembleDense(2, 3, bias_initializer="random_normal"),
        ],
        seed=3,
        dtype=dtype,
    )
    dk.export_onnx(model, tmp_path / "m.onnx")
    session = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    got = session.run(None, {"input": x})[0]
    expected = model.predict(x)
    # float32: cos of |2 pi w x| <~ 10 rad and sums over <= 16 terms, a few hundred eps
    eps = np.finfo(dtype).eps
    np.testing.assert_allclose(got, expected, rtol=0, atol=1000 * eps * np.abs(expected).max())


# --- category embeddings ------------------------------------------------------------------


def _coded(seed=0, rows=ROWS):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, 4))
    x[:, 1] = rng.integers(0, 5, rows)  # codes of a 5-category column
    x[:, 3] = rng.integers(0, 3, rows)
    return x


def test_category_embedding_gradients():
    model = dk.Sequential(
        [
            CategoryEmbedding([(3, 3), (1, 5)], embedding_dim=2, input_dim=4),
            dk.layers.Dense(3, "tanh"),
            dk.layers.Dense(2),
        ],
        seed=0,
        dtype="float64",
    )
    model.compile("sgd", "mse")
    _passes(model, _coded(), np.random.default_rng(1).normal(size=(ROWS, 2)))


def test_category_embedding_matches_torch_embedding():
    torch = pytest.importorskip("torch")
    layer_model = dk.Sequential(
        [CategoryEmbedding([(1, 5)], embedding_dim=3, input_dim=4)], seed=2, dtype="float64"
    )
    layer_model.compile("sgd", "mse")
    x = _coded(3, rows=20)
    x[0, 1], x[1, 1] = 9, -1  # out of range: row 0
    layer = layer_model.layers[0]
    table = torch.tensor(np.array(layer.weights["embeddings_0"]), requires_grad=True)
    codes = torch.tensor(np.where((x[:, 1] >= 0) & (x[:, 1] < 5), x[:, 1], 0).astype(np.int64))
    expected = torch.cat(
        [torch.tensor(x[:, [0, 2, 3]]), torch.nn.functional.embedding(codes, table)], 1
    )
    out = layer_model.predict(x)
    np.testing.assert_array_equal(out, expected.detach().numpy())
    weights = np.random.default_rng(4).normal(size=out.shape)
    layer.forward(x, training=True)
    layer.backward(weights.copy())
    (expected * torch.tensor(weights)).sum().backward()
    np.testing.assert_allclose(layer.grads["embeddings_0"], table.grad.numpy(), rtol=1e-12)


def test_category_embedding_onnx_and_errors(tmp_path):
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    model = dk.Sequential(
        [CategoryEmbedding([(1, 5), (3, 3)], input_dim=4), dk.layers.Dense(2)], seed=5
    )
    x = _coded(6, rows=30).astype(np.float32)
    x[0, 1] = 7
    dk.export_onnx(model, tmp_path / "c.onnx")
    session = ort.InferenceSession(str(tmp_path / "c.onnx"), providers=["CPUExecutionProvider"])
    got = session.run(None, {"input": x})[0]
    np.testing.assert_allclose(got, model.predict(x), rtol=1e-5, atol=1e-6)
    with pytest.raises(ArgumentTypeError, match="columns"):
        CategoryEmbedding([])
    with pytest.raises(ArgumentError, match="repeat"):
        CategoryEmbedding([(1, 3), (1, 4)])
    with pytest.raises(ArgumentError, match="beyond"):
        dk.Sequential([CategoryEmbedding([(9, 3)])]).build(4)
