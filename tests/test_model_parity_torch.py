"""A whole 2-hidden-layer model against torch.nn.Sequential with the same weights (float64):
outputs, loss, every gradient and one optimizer step."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_iris

import densekit as dk

torch = pytest.importorskip("torch")
F = torch.nn.functional

TORCH_ACTIVATIONS = {
    "relu": torch.nn.ReLU,
    "tanh": torch.nn.Tanh,
    "gelu": torch.nn.GELU,
    "sigmoid": torch.nn.Sigmoid,
    "elu": torch.nn.ELU,
    "swish": torch.nn.SiLU,
    "softplus": torch.nn.Softplus,
    "leaky_relu": lambda: torch.nn.LeakyReLU(0.2),
    "linear": torch.nn.Identity,
}


def _iris():
    x, y = load_iris(return_X_y=True)
    x = (x - x.mean(axis=0)) / x.std(axis=0)
    rows = np.random.default_rng(0).permutation(len(x))[:40]
    return x[rows], y[rows]


def _pair(hidden: tuple[str, str], outputs: int, output_activation):
    model = dk.Sequential(
        [
            dk.layers.Dense(8, hidden[0], input_dim=4),
            dk.layers.Dense(6, hidden[1]),
            dk.layers.Dense(outputs, output_activation),
        ],
        seed=1,
        dtype="float64",
    )
    net = torch.nn.Sequential(
        torch.nn.Linear(4, 8),
        TORCH_ACTIVATIONS[hidden[0]](),
        torch.nn.Linear(8, 6),
        TORCH_ACTIVATIONS[hidden[1]](),
        torch.nn.Linear(6, outputs),
    ).double()
    weights = model.get_weights()
    with torch.no_grad():
        for k, linear in enumerate(net[::2]):
            linear.weight.copy_(torch.tensor(weights[2 * k].T))  # densekit's W is (in, out)
            linear.bias.copy_(torch.tensor(weights[2 * k + 1]))
    return model, net


def _torch_gradients(net):
    grads = []
    for linear in net[::2]:
        grads += [linear.weight.grad.numpy().T, linear.bias.grad.numpy()]
    return grads


def _gradients(model):
    return [
        model.grads[part].reshape(spec.shape)
        for part, (_, spec, _) in zip(model.slices, model.weight_index)
    ]


# (id, hidden activations, outputs, output activation, densekit loss, torch loss(logits, y))
CASES = [
    (
        "softmax-sparse_cce",
        ("relu", "tanh"),
        3,
        "softmax",
        "sparse_categorical_crossentropy",
        lambda z, y: F.cross_entropy(z, torch.tensor(y, dtype=torch.long)),
    ),
    (
        "logits-cce",
        ("gelu", "elu"),
        3,
        None,
        dk.losses.CategoricalCrossentropy(from_logits=True),
        lambda z, y: F.cross_entropy(z, torch.tensor(np.eye(3)[y])),
    ),
    (
        "sigmoid-bce",
        ("swish", "leaky_relu"),
        1,
        "sigmoid",
        "binary_crossentropy",
        lambda z, y: F.binary_cross_entropy_with_logits(z, torch.tensor((y == 0)[:, None] * 1.0)),
    ),
    (
        "linear-mse",
        ("softplus", "sigmoid"),
        3,
        None,
        "mse",
        lambda z, y: F.mse_loss(z, torch.tensor(np.eye(3)[y])),
    ),
    (
        "linear-huber",
        ("tanh", "relu"),
        3,
        None,
        "huber",
        lambda z, y: F.huber_loss(z, torch.tensor(np.eye(3)[y])),
    ),
]


def _targets(case_id, y):
    if case_id.startswith("softmax"):
        return y
    if case_id.startswith("sigmoid"):
        return (y == 0).astype(float)
    return np.eye(3)[y]


@pytest.mark.parametrize(
    ("case_id", "hidden", "outputs", "output_activation", "loss", "torch_loss"),
    CASES,
    ids=[case[0] for case in CASES],
)
def test_outputs_loss_and_gradients_match_torch(
    case_id, hidden, outputs, output_activation, loss, torch_loss
):
    x, y = _iris()
    model, net = _pair(hidden, outputs, output_activation)
    model.compile("sgd", loss)
    xp, yp, _ = model.prepare_inputs(x, _targets(case_id, y), None)
    value, output, dx = model.compute_gradients(xp, yp, input_grad=True)

    xt = torch.tensor(x, requires_grad=True)
    logits = net(xt)
    expected = torch_loss(logits, y)
    expected.backward()

    last = {"softmax": lambda z: F.softmax(z, 1), "sigmoid": torch.sigmoid}.get(
        output_activation, lambda z: z
    )
    np.testing.assert_allclose(output, last(logits).detach().numpy(), rtol=1e-5, atol=1e-12)
    np.testing.assert_allclose(model.predict(x), output, rtol=1e-12)
    np.testing.assert_allclose(value, expected.item(), rtol=1e-5)
    for got, want in zip(_gradients(model), _torch_gradients(net)):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-12)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-5, atol=1e-12)


OPTIMIZERS = [
    ("adam", lambda: dk.optimizers.Adam(0.01), lambda p: torch.optim.Adam(p, lr=0.01, eps=1e-7)),
    ("sgd", lambda: dk.optimizers.SGD(0.1), lambda p: torch.optim.SGD(p, lr=0.1)),
    (
        "sgd-momentum",
        lambda: dk.optimizers.SGD(0.1, momentum=0.9, nesterov=True),
        lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True),
    ),
]


@pytest.mark.parametrize(("name", "ours", "theirs"), OPTIMIZERS, ids=[o[0] for o in OPTIMIZERS])
@pytest.mark.parametrize("steps", [1, 3])
def test_optimizer_steps_on_the_whole_model_match_torch(name, ours, theirs, steps):
    x, y = _iris()
    model, net = _pair(("relu", "tanh"), 3, "softmax")
    model.compile(ours(), "sparse_categorical_crossentropy")
    model.fit(x, y, batch_size=len(x), epochs=steps, shuffle=False, verbose=0)

    optimizer = theirs(net.parameters())
    for _ in range(steps):
        optimizer.zero_grad()
        F.cross_entropy(net(torch.tensor(x)), torch.tensor(y, dtype=torch.long)).backward()
        optimizer.step()
    expected = []
    for linear in net[::2]:
        expected += [linear.weight.detach().numpy().T, linear.bias.detach().numpy()]
    for got, want in zip(model.get_weights(), expected):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-12)
