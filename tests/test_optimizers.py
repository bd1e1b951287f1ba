"""Optimizers against torch.optim, schedules, clipping and argument checks.

Each step is one vectorized update over a flat buffer, so the tests drive the
optimizer directly on a flat float64 array with a sequence of gradients and
compare with torch.optim on a tensor holding the same numbers.
"""

from __future__ import annotations

import math
import tracemalloc

import numpy as np
import pytest

import densekit as dk
from densekit import optimizers, schedules
from densekit.errors import ArgumentError, ArgumentTypeError

torch = pytest.importorskip("torch")

SIZE = 12

# (id, densekit optimizer factory, torch optimizer factory)
CASES = [
    ("sgd", lambda: optimizers.SGD(0.1), lambda p: torch.optim.SGD(p, lr=0.1)),
    (
        "sgd-momentum",
        lambda: optimizers.SGD(0.1, momentum=0.9),
        lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9),
    ),
    (
        "sgd-nesterov",
        lambda: optimizers.SGD(0.05, momentum=0.8, nesterov=True),
        lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.8, nesterov=True),
    ),
    (
        "adam",
        lambda: optimizers.Adam(0.01, beta_1=0.8, beta_2=0.99, epsilon=1e-7),
        lambda p: torch.optim.Adam(p, lr=0.01, betas=(0.8, 0.99), eps=1e-7),
    ),
    (
        "adam-defaults",
        lambda: optimizers.get("adam"),
        lambda p: torch.optim.Adam(p, lr=1e-3, eps=1e-7),
    ),
    (
        "adamw",
        lambda: optimizers.AdamW(0.01, weight_decay=0.1),
        lambda p: torch.optim.AdamW(p, lr=0.01, weight_decay=0.1, eps=1e-7),
    ),
    (
        "rmsprop",
        lambda: optimizers.RMSprop(0.01, rho=0.9),
        lambda p: torch.optim.RMSprop(p, lr=0.01, alpha=0.9, eps=1e-7),
    ),
    (
        "rmsprop-momentum",
        lambda: optimizers.RMSprop(0.01, rho=0.8, momentum=0.5),
        lambda p: torch.optim.RMSprop(p, lr=0.01, alpha=0.8, momentum=0.5, eps=1e-7),
    ),
    (
        "rmsprop-centered",
        lambda: optimizers.RMSprop(0.01, centered=True, momentum=0.3),
        lambda p: torch.optim.RMSprop(p, lr=0.01, alpha=0.9, centered=True, momentum=0.3, eps=1e-7),
    ),
    (
        "adagrad",
        lambda: optimizers.Adagrad(0.1, initial_accumulator_value=0.1),
        lambda p: torch.optim.Adagrad(p, lr=0.1, initial_accumulator_value=0.1, eps=1e-7),
    ),
]
IDS = [case[0] for case in CASES]


def _gradients(steps: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.normal(size=SIZE) * rng.uniform(0.1, 3.0) for _ in range(steps)]


def _run_densekit(make, gradients, start):
    optimizer = make()
    params = start.copy()
    optimizer.build(params, [slice(0, 5), slice(5, SIZE)])
    for g in gradients:
        optimizer.apply_gradients(params, g.copy())
    return params, optimizer


def _run_torch(make, gradients, start):
    p = torch.nn.Parameter(torch.tensor(start.copy()))
    optimizer = make([p])
    for g in gradients:
        optimizer.zero_grad()
        p.grad = torch.tensor(g.copy())
        optimizer.step()
    return p.detach().numpy()


START = np.random.default_rng(42).normal(size=SIZE)


@pytest.mark.parametrize(("name", "ours", "theirs"), CASES, ids=IDS)
@pytest.mark.parametrize("steps", [1, 7])
def test_steps_match_torch_optim(name, ours, theirs, steps):
    gradients = _gradients(steps)
    got, optimizer = _run_densekit(ours, gradients, START)
    expected = _run_torch(theirs, gradients, START)
    assert optimizer.iterations == steps
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-12)
    assert not np.allclose(got, START)


@pytest.mark.parametrize(("name", "ours", "theirs"), CASES, ids=IDS)
def test_step_leaves_the_flat_buffer_in_place(name, ours, theirs):
    optimizer = ours()
    params = START.copy()
    address = params.__array_interface__["data"][0]
    optimizer.build(params, [slice(0, SIZE)])
    optimizer.apply_gradients(params, _gradients(1)[0])
    assert params.__array_interface__["data"][0] == address


def test_keras_sgd_momentum_follows_its_formula():
    # v = mu v - lr g; p += v
    optimizer = optimizers.SGD(0.1, momentum=0.9)
    params = np.zeros(2)
    optimizer.build(params, [slice(0, 2)])
    optimizer.apply_gradients(params, np.array([1.0, -2.0]))
    optimizer.apply_gradients(params, np.array([1.0, -2.0]))
    v1 = -0.1 * np.array([1.0, -2.0])
    v2 = 0.9 * v1 - 0.1 * np.array([1.0, -2.0])
    np.testing.assert_allclose(params, v1 + v2)


def test_float32_model_steps_match_torch_float32():
    # the default dtype; float64 parity to 1e-5 is in test_model_parity_torch.py
    model = dk.Sequential([dk.layers.Dense(3, "tanh", input_dim=4), dk.layers.Dense(1)], seed=0)
    model.compile(optimizers.Adam(0.05), "mse")
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(16, 4)), rng.normal(size=16)
    weights = model.get_weights()
    model.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0)
    net = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Tanh(), torch.nn.Linear(3, 1))
    with torch.no_grad():
        for layer, (kernel, bias) in zip([net[0], net[2]], [weights[:2], weights[2:]]):
            layer.weight.copy_(torch.tensor(kernel.T))
            layer.bias.copy_(torch.tensor(bias))
    optimizer = torch.optim.Adam(net.parameters(), lr=0.05, eps=1e-7)
    for _ in range(3):
        optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(
            net(torch.tensor(x, dtype=torch.float32)), torch.tensor(y[:, None], dtype=torch.float32)
        )
        loss.backward()
        optimizer.step()
    np.testing.assert_allclose(model.get_weights()[0], net[0].weight.detach().numpy().T, rtol=1e-4)


# --- schedules --------------------------------------------------------------------------


def test_exponential_decay_values():
    schedule = schedules.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)
    assert schedule(0) == 0.1
    np.testing.assert_allclose(schedule(10), 0.05)
    np.testing.assert_allclose(schedule(5), 0.1 * 0.5**0.5)
    stair = schedules.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5, staircase=True)
    assert stair(9) == 0.1
    np.testing.assert_allclose(stair(10), 0.05)


def test_step_decay_matches_torch_steplr():
    schedule = schedules.StepDecay(0.1, step_size=3, gamma=0.5)
    p = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([p], lr=0.1)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=3, gamma=0.5)
    for step in range(10):
        np.testing.assert_allclose(schedule(step), optimizer.param_groups[0]["lr"], rtol=1e-12)
        optimizer.step()
        scheduler.step()


def test_cosine_decay_matches_torch_cosine_annealing():
    schedule = schedules.CosineDecay(0.1, decay_steps=8, alpha=0.0)
    p = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([p], lr=0.1)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=8, eta_min=0.0)
    for step in range(9):
        np.testing.assert_allclose(
            schedule(step), optimizer.param_groups[0]["lr"], rtol=1e-9, atol=1e-15
        )
        optimizer.step()
        scheduler.step()
    assert schedule(100) == 0.0


def test_cosine_decay_floor_is_alpha_times_initial():
    schedule = schedules.CosineDecay(0.1, decay_steps=4, alpha=0.1)
    np.testing.assert_allclose(schedule(4), 0.01)
    np.testing.assert_allclose(schedule(2), 0.1 * (0.9 * 0.5 + 0.1))


def test_piecewise_constant_decay_values():
    schedule = schedules.PiecewiseConstantDecay([2, 5], [1.0, 0.5, 0.1])
    assert [schedule(step) for step in range(8)] == [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.1, 0.1]


def test_schedule_drives_the_optimizer_rate_per_step():
    optimizer = optimizers.SGD(schedules.PiecewiseConstantDecay([0], [1.0, 0.5]))
    params = np.zeros(1)
    optimizer.build(params, [slice(0, 1)])
    assert optimizer.learning_rate == 1.0
    optimizer.apply_gradients(params, np.ones(1))
    assert optimizer.learning_rate == 0.5
    optimizer.apply_gradients(params, np.ones(1))
    np.testing.assert_allclose(params, [-1.5])


def test_schedule_round_trips_through_the_optimizer_config():
    schedule = schedules.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)
    again = optimizers.get(optimizers.Adam(schedule).get_config())
    assert isinstance(again._learning_rate, schedules.ExponentialDecay)
    assert again._learning_rate(7) == schedule(7)


@pytest.mark.parametrize(
    "make",
    [
        lambda: schedules.ExponentialDecay(0.1, decay_steps=0, decay_rate=0.5),
        lambda: schedules.ExponentialDecay(-0.1, decay_steps=10, decay_rate=0.5),
        lambda: schedules.StepDecay(0.1, step_size=0),
        lambda: schedules.CosineDecay(0.1, decay_steps=10, alpha=-1.0),
        lambda: schedules.PiecewiseConstantDecay([1, 2], [1.0]),
        lambda: schedules.PiecewiseConstantDecay([5, 2], [1.0, 0.5, 0.1]),
    ],
)
def test_bad_schedule_arguments_raise(make):
    with pytest.raises(ArgumentError):
        make()


# --- clipping ----------------------------------------------------------------------------


def _clipped(**clip) -> np.ndarray:
    """The gradient an SGD(lr=1) step applies, i.e. the clipped gradient."""
    optimizer = optimizers.SGD(1.0, **clip)
    params = np.zeros(5)
    optimizer.build(params, [slice(0, 2), slice(2, 5)])
    optimizer.apply_gradients(params, np.array([3.0, 4.0, 0.1, -0.2, 0.2]))
    return -params


def test_clipvalue_clips_each_entry():
    np.testing.assert_allclose(_clipped(clipvalue=0.15), [0.15, 0.15, 0.1, -0.15, 0.15])


def test_clipnorm_clips_each_weight_separately():
    # the first weight has norm 5 -> scaled to 1; the second (norm 0.3) is left alone
    np.testing.assert_allclose(_clipped(clipnorm=1.0), [0.6, 0.8, 0.1, -0.2, 0.2])


def test_global_clipnorm_scales_all_weights_together():
    g = np.array([3.0, 4.0, 0.1, -0.2, 0.2])
    np.testing.assert_allclose(_clipped(global_clipnorm=1.0), g / np.linalg.norm(g))


def test_clipnorm_matches_torch_clip_grad_norm():
    g = np.array([3.0, 4.0, 0.1, -0.2, 0.2])
    p = torch.nn.Parameter(torch.zeros(5, dtype=torch.float64))
    p.grad = torch.tensor(g)
    torch.nn.utils.clip_grad_norm_([p], max_norm=2.0)
    np.testing.assert_allclose(_clipped(global_clipnorm=2.0), p.grad.numpy(), rtol=1e-6)


# --- arguments ----------------------------------------------------------------------------

BAD = [
    lambda: optimizers.SGD(-0.1),
    lambda: optimizers.SGD(0.0),
    lambda: optimizers.SGD(float("nan")),
    lambda: optimizers.SGD("fast"),
    lambda: optimizers.SGD(0.1, momentum=-0.5),
    lambda: optimizers.SGD(0.1, momentum=1.5),
    lambda: optimizers.Adam(beta_1=1.0),
    lambda: optimizers.Adam(beta_2=-0.1),
    lambda: optimizers.Adam(epsilon=-1e-8),
    lambda: optimizers.AdamW(weight_decay=-0.1),
    lambda: optimizers.RMSprop(rho=1.5),
    lambda: optimizers.Adagrad(initial_accumulator_value=-1.0),
    lambda: optimizers.SGD(0.1, clipnorm=0.0),
    lambda: optimizers.SGD(0.1, clipvalue=-1.0),
    lambda: optimizers.SGD(0.1, global_clipnorm=math.inf),
    lambda: optimizers.get({"name": "adam", "lr": 0.1}),
]


@pytest.mark.parametrize("make", BAD)
def test_bad_hyperparameters_raise(make):
    with pytest.raises((ArgumentError, ArgumentTypeError)):
        make()


def test_unknown_optimizer_name_raises_in_compile():
    model = dk.Sequential([dk.layers.Dense(1, input_dim=2)])
    with pytest.raises(ArgumentError, match="unknown optimizer 'adamm'.*sgd, adam"):
        model.compile(optimizer="adamm", loss="mse")


def test_optimizer_of_the_wrong_type_raises_in_compile():
    model = dk.Sequential([dk.layers.Dense(1, input_dim=2)])
    with pytest.raises(ArgumentTypeError):
        model.compile(optimizer=torch.optim.SGD, loss="mse")


@pytest.mark.parametrize("name", optimizers.NAMES)
def test_names_give_keras_defaults_and_round_trip(name):
    optimizer = optimizers.get(name)
    again = optimizers.get(optimizer.get_config())
    assert again.get_config() == optimizer.get_config()
    assert type(again) is type(optimizer)


# --- the NumPy path reuses its scratch ------------------------------------------------------


def _old_sgd_nesterov(params, grads, velocity, lr, momentum):
    """The NumPy update before it wrote mu v into the scratch buffer."""
    velocity *= momentum
    grads *= lr
    velocity -= grads
    params -= grads
    params += momentum * velocity


def _old_centered_rmsprop(params, grads, v, mean_grad, velocity, lr, rho, momentum, epsilon):
    """The NumPy update before (1 - rho) g went through the scratch buffer."""
    tmp = np.empty_like(params)
    v *= rho
    np.multiply(grads, grads, out=tmp)
    tmp *= 1.0 - rho
    v += tmp
    mean_grad *= rho
    mean_grad += (1.0 - rho) * grads
    np.multiply(mean_grad, mean_grad, out=tmp)
    np.subtract(v, tmp, out=tmp)
    np.sqrt(tmp, out=tmp)
    tmp += epsilon
    np.divide(grads, tmp, out=tmp)
    tmp *= lr
    velocity *= momentum
    velocity += tmp
    params -= velocity


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_numpy_nesterov_and_centered_rmsprop_are_bit_identical_to_their_old_formulas(
    dtype, monkeypatch
):
    monkeypatch.setenv("DENSEKIT_KERNELS", "numpy")
    rng = np.random.default_rng(0)
    start = rng.standard_normal(300).astype(dtype)
    gradients = [rng.standard_normal(300).astype(dtype) for _ in range(20)]
    sgd, rmsprop = (
        optimizers.SGD(0.05, momentum=0.8, nesterov=True),
        optimizers.RMSprop(0.01, rho=0.8, momentum=0.5, centered=True),
    )
    p_sgd, p_rms, old_sgd, old_rms = start.copy(), start.copy(), start.copy(), start.copy()
    sgd.build(p_sgd, [slice(0, 300)])
    rmsprop.build(p_rms, [slice(0, 300)])
    assert sgd.ops.name == "numpy"
    velocity, v, mean_grad, rms_velocity = (np.zeros_like(start) for _ in range(4))
    for g in gradients:
        sgd.apply_gradients(p_sgd, g.copy())
        rmsprop.apply_gradients(p_rms, g.copy())
        _old_sgd_nesterov(old_sgd, g.copy(), velocity, 0.05, 0.8)
        _old_centered_rmsprop(old_rms, g.copy(), v, mean_grad, rms_velocity, 0.01, 0.8, 0.5, 1e-7)
    np.testing.assert_array_equal(p_sgd, old_sgd)
    np.testing.assert_array_equal(p_rms, old_rms)
    np.testing.assert_array_equal(rmsprop.state["mean_grad"], mean_grad)


@pytest.mark.parametrize(
    ("make", "scratch"),
    [
        (lambda: optimizers.SGD(0.1), 0),
        (lambda: optimizers.SGD(0.1, momentum=0.9), 0),
        (lambda: optimizers.SGD(0.1, momentum=0.9, nesterov=True), 200_000),
        (lambda: optimizers.Adam(), optimizers.CHUNK),
        (lambda: optimizers.RMSprop(), 200_000),
        (lambda: optimizers.Adagrad(), 200_000),
    ],
    ids=["sgd", "momentum", "nesterov", "adam", "rmsprop", "adagrad"],
)
def test_each_optimizer_allocates_only_the_scratch_its_update_uses(make, scratch):
    optimizer = make()
    optimizer.build(np.zeros(200_000, dtype=np.float32), [slice(0, 200_000)])
    assert optimizer._scratch.size == scratch


@pytest.mark.parametrize("clip", ["clipnorm", "global_clipnorm"])
def test_clipping_by_norm_agrees_with_the_old_formula_without_a_squared_copy(clip):
    g = np.random.default_rng(0).standard_normal(1_000_000)
    norm = float(np.sqrt((g * g).sum()))
    optimizer = optimizers.SGD(1.0, **{clip: 10.0})
    optimizer.build(np.zeros_like(g), [slice(0, g.size)])
    clipped = g.copy()
    optimizer._clip(clipped)
    np.testing.assert_allclose(clipped, g * (10.0 / norm), rtol=1e-14, atol=0)
    unclipped = g / 1000.0  # norm about 1: left exactly as it is
    optimizer._clip(unclipped)
    np.testing.assert_array_equal(unclipped, g / 1000.0)
    tracemalloc.start()
    try:
        optimizer._clip(clipped)
        assert tracemalloc.get_traced_memory()[1] < g.nbytes // 100
    finally:
        tracemalloc.stop()
