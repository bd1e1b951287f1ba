"""Finite-difference gradient checks, for our tests and for users' own models.

Compares backpropagation's gradient of the loss with central differences
``(L(w + h) - L(w - h)) / 2h`` in float64, for every parameter (or a random
sample of them) and for the input.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import ArgumentError

if TYPE_CHECKING:
    from .model import Sequential


@dataclass
class GradientCheck:
    """The result: analytic and numeric gradients, and their worst disagreement.

    It is truthy when the check passed, so ``assert dk.check_gradients(...)`` works.

    Attributes
    ----------
    analytic, numeric
        Backpropagation's and central differences' gradients for the checked parameters.
    input_analytic, input_numeric
        The same for the checked input entries.
    max_relative_error
        The largest ``|a - n| / max(|a|, |n|, atol / rtol)``.
    passed
        Whether every entry satisfied ``|a - n| <= atol + rtol * max(|a|, |n|)``.
    """

    # repr=False: printing a result shows the verdict, not thousands of numbers
    analytic: np.ndarray = field(repr=False)
    numeric: np.ndarray = field(repr=False)
    input_analytic: np.ndarray = field(repr=False)
    input_numeric: np.ndarray = field(repr=False)
    max_relative_error: float
    passed: bool

    def __bool__(self) -> bool:
        return self.passed


def check_gradients(
    model: Sequential,
    x: Any,
    y: Any,
    sample_weight: Any = None,
    epsilon: float = 1e-6,
    rtol: float = 1e-5,
    atol: float = 1e-8,
    max_params: int | None = 2000,
    seed: int = 0,
) -> GradientCheck:
    """Check ``model``'s backpropagation on ``(x, y)`` against central differences.

    The check runs on a float64 copy in training mode with dropout masks fixed by ``seed``;
    the loss and weight penalties are what is differentiated, so the model must be
    compiled. It passes when every entry satisfies ``|a - n| <= atol + rtol * max(|a|, |n|)``;
    ``max_relative_error`` is then at most ``2 * rtol``.

    Parameters
    ----------
    model
        A compiled :class:`~densekit.Sequential`; it is not changed.
    x
        Inputs, ``(samples, features)``.
    y
        Targets for ``x``.
    sample_weight
        Per-sample weights of the loss, or None.
    epsilon
        The step ``h`` of ``(L(w + h) - L(w - h)) / 2h``.
    rtol
        Relative tolerance, > 0.
    atol
        Absolute tolerance, >= 0.
    max_params
        How many parameters (a random sample) and input entries to perturb; None for all.
    seed
        Seeds the sample of parameters and the dropout masks.

    Returns
    -------
    GradientCheck
        Both gradients, the worst error and the verdict.

    Raises
    ------
    ArgumentError
        If ``epsilon``, ``rtol``, ``atol`` or ``max_params`` is not a valid number.

    Examples
    --------
    >>> result = dk.check_gradients(model, x[:8], y[:8])
    >>> result.passed, bool(result.max_relative_error < 1e-6)
    (True, True)
    """
    model.require_compiled("check gradients")
    for name, value in (("epsilon", epsilon), ("rtol", rtol), ("atol", atol)):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ArgumentError(f"{name} must be a number, got {value!r}")
    if not epsilon > 0:
        raise ArgumentError(f"epsilon must be > 0, got {epsilon}")
    if not rtol > 0 or not atol >= 0:
        raise ArgumentError(f"rtol must be > 0 and atol >= 0, got rtol={rtol}, atol={atol}")
    if max_params is not None and (
        isinstance(max_params, bool) or not isinstance(max_params, int) or max_params < 1
    ):  # 0 would check nothing and still report a pass
        raise ArgumentError(f"max_params must be an integer >= 1 or None, got {max_params!r}")
    probe = model.copy(dtype="float64")
    x, y, sample_weight = probe.prepare_inputs(x, y, sample_weight, building=True)
    x = x.copy()  # perturbed in place below; never the caller's own array

    def loss_and_grads():
        for layer in probe.layers:
            layer.rng = np.random.default_rng(seed)
        value, _, dx = probe.compute_gradients(x, y, sample_weight, input_grad=True)
        return value, probe.grads.copy(), dx.copy()

    _, analytic, input_analytic = loss_and_grads()
    rng = np.random.default_rng(seed)
    size = probe.params.size
    chosen = (
        np.arange(size)
        if max_params is None or size <= max_params
        else np.sort(rng.choice(size, max_params, replace=False))
    )
    numeric = np.empty(len(chosen))
    for k, i in enumerate(chosen):
        numeric[k] = _central_difference(probe.params, i, epsilon, lambda: loss_and_grads()[0])
    flat_x = x.reshape(-1)
    x_chosen = np.arange(flat_x.size)[: flat_x.size if max_params is None else max_params]
    input_numeric = np.empty(len(x_chosen))
    for k, i in enumerate(x_chosen):
        input_numeric[k] = _central_difference(flat_x, i, epsilon, lambda: loss_and_grads()[0])
    # the input gradient of the loss excludes the weight penalty, which does not depend on x
    pairs = [(analytic[chosen], numeric), (input_analytic.reshape(-1)[x_chosen], input_numeric)]
    worst, passed = 0.0, True
    for a, n in pairs:
        scale = np.maximum(np.abs(a), np.abs(n))
        error = np.abs(a - n)
        passed &= bool(np.all(error <= atol + rtol * scale))
        # below atol / rtol the check is absolute, so the error is measured against that floor
        # (dividing by atol would report rounding noise on a zero gradient as a large error)
        relative = error / np.maximum(scale, atol / rtol)
        worst = max(worst, float(relative.max(initial=0.0)))
    return GradientCheck(
        analytic[chosen],
        numeric,
        input_analytic.reshape(-1)[x_chosen],
        input_numeric,
        worst,
        passed,
    )


def _central_difference(values: np.ndarray, index: int, epsilon: float, loss) -> float:
    original = values[index]
    values[index] = original + epsilon
    plus = loss()
    values[index] = original - epsilon
    minus = loss()
    values[index] = original
    return (plus - minus) / (2.0 * epsilon)
