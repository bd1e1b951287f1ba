"""Attributions of one output to the input features.

Gradients, gradient x input and integrated gradients.

Integrated gradients satisfy *completeness*: ``sum_i attr_i = f(x) - f(baseline)``;
the result reports the gap, which shrinks as ``steps`` grows.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ArgumentError, InputError
from ..layers import Dense
from ..validation import check_x
from .results import as_table, feature_names_for

if TYPE_CHECKING:
    from ..model import Sequential

#: integrated gradients' completeness is checked to |gap| <= RTOL * |f(x) - f(b)| + ATOL
COMPLETENESS_RTOL = 0.01
COMPLETENESS_ATOL = 1e-4
MAX_ROWS_PER_PASS = 8192  # rows per forward/backward pass when interpolating


@dataclass
class Attribution:
    """Per-row attributions of one output to each input feature.

    Parameters
    ----------
    values
        ``(rows, features)``, or ``(outputs, rows, features)`` when every output
        was explained (``target="all"``).
    method
        ``"gradient_x_input"`` or ``"integrated_gradients"``.
    target
        The explained output index per row (or every output index).
    output
        f(x) for the explained output.
    baseline_output
        f(baseline) (integrated gradients only).
    names
        Feature names.
    """

    values: np.ndarray
    method: str
    target: np.ndarray
    output: np.ndarray
    baseline_output: np.ndarray | None
    names: list[str]

    @property
    def completeness_gap(self) -> np.ndarray:
        """``sum_i attr_i - (f(x) - f(baseline))`` per row (zero in exact arithmetic)."""
        if self.baseline_output is None:
            raise ArgumentError(
                f"{self.method} has no completeness property; use integrated_gradients"
            )
        return self.values.sum(axis=-1) - (self.output - self.baseline_output)

    def completeness_ok(
        self, rtol: float = COMPLETENESS_RTOL, atol: float = COMPLETENESS_ATOL
    ) -> bool:
        """Every row's gap within ``rtol * |f(x) - f(baseline)| + atol``.

        Parameters
        ----------
        rtol
            The relative tolerance; default ``COMPLETENESS_RTOL`` (1%).
        atol
            The absolute tolerance; default ``COMPLETENESS_ATOL`` (1e-4).

        Returns
        -------
        bool
            Whether completeness holds for every row.
        """
        allowed = rtol * np.abs(self.output - self.baseline_output) + atol
        return bool(np.all(np.abs(self.completeness_gap) <= allowed))

    def importance(self) -> np.ndarray:
        """Mean absolute attribution per feature (over rows; per output when all were explained)."""
        return np.abs(self.values).mean(axis=-2)

    def to_frame(self):
        """Rows of the attribution matrix with feature names as columns."""
        values = (
            self.values if self.values.ndim == 2 else self.values.reshape(-1, self.values.shape[-1])
        )
        return as_table([dict(zip(self.names, map(float, row))) for row in values])


def _float64_copy(model):
    """Attributions are computed in float64 so rounding does not blur the completeness check."""
    model.require_built("explain")
    return model if model.dtype == np.float64 else model.copy(dtype="float64")


def _output_and_input_gradient(model, x: np.ndarray, target: np.ndarray, logits: bool):
    """f_target(x) per row and d f_target / dx, by one forward and one backward pass."""
    saved = model.grads.copy()  # the backward pass writes weight gradients; keep the model's
    try:
        output = model.forward(model.backend.asarray(x), training=False)
        if logits:
            if not isinstance(model.layers[-1], Dense):
                raise ArgumentError("logits=True needs a Dense last layer")
            output = model.layers[-1].pre_activation
        rows = np.arange(len(x))
        value = model.backend.to_numpy(output)[rows, target].copy()
        seed = model.backend.xp.zeros(output.shape, dtype=output.dtype)
        seed[rows, model.backend.asarray(target)] = 1.0
        dx = model.backward(seed, through_last_activation=not logits, input_grad=True)
        return value, model.backend.to_numpy(dx).copy()
    finally:
        model.grads[...] = saved


def _targets(model, x: np.ndarray, target) -> np.ndarray:
    """One output index per row: given, or the predicted class (output 0 for one output)."""
    n = len(x)
    if target is None:
        if model.output_dim == 1:
            return np.zeros(n, dtype=np.int64)
        return model.predict(x).argmax(axis=1)
    array = np.asarray(target)
    if array.ndim == 0:
        array = np.full(n, int(array))
    if array.shape != (n,) or not np.issubdtype(array.dtype, np.integer):
        raise ArgumentError(f"target must be an output index or {n} of them, got {target!r}")
    if array.min() < 0 or array.max() >= model.output_dim:
        raise ArgumentError(f"target must be in [0, {model.output_dim}), got {target!r}")
    return array.astype(np.int64)


def input_gradients(
    model: Sequential, x: Any, target: Any = None, logits: bool = False
) -> np.ndarray:
    """``d f_target(x) / dx`` for every row; f is the output (or its logit).

    Parameters
    ----------
    model
        A built model (computed on a float64 copy).
    x
        Inputs.
    target
        An output index, or one per row; None: the predicted class.
    logits
        Differentiate the last Dense layer's pre-activation instead.

    Returns
    -------
    ndarray
        float64 ``(rows, features)``.

    Raises
    ------
    ArgumentError
        If ``target`` is out of range, or ``logits`` without a Dense last layer.
    """
    work = _float64_copy(model)
    x = check_x(x, np.float64, model.input_dim)
    return _output_and_input_gradient(work, x, _targets(work, x, target), logits)[1]


def gradient_x_input(
    model: Sequential,
    x: Any,
    target: Any = None,
    logits: bool = False,
    feature_names: Sequence[str] | None = None,
) -> Attribution:
    """``x * d f_target / dx``: a first-order attribution (exact for a linear model).

    Parameters
    ----------
    model
        A built model.
    x
        Inputs.
    target
        An output index, one per row, None (the predicted class) or ``"all"``.
    logits
        Explain the last Dense layer's pre-activation instead.
    feature_names
        Names of the features.

    Returns
    -------
    Attribution
        The attributions.
    """
    return _explain_each(model, x, target, logits, feature_names, "gradient_x_input", None, 0)


def integrated_gradients(
    model: Sequential,
    x: Any,
    baseline: Any = None,
    target: Any = None,
    steps: int = 64,
    max_steps: int = 2048,
    logits: bool = False,
    feature_names: Sequence[str] | None = None,
) -> Attribution:
    """Integrated gradients (Sundararajan et al., 2017), midpoint rule over ``steps``.

        attr_i = (x_i - b_i) * mean_k  d f(b + a_k (x - b)) / dx_i,   a_k = (k + 1/2) / steps

    Completeness is checked per row: ``|sum_i attr_i - (f(x) - f(b))|`` must be at
    most ``COMPLETENESS_RTOL * |f(x) - f(b)| + COMPLETENESS_ATOL`` (1% + 1e-4).
    Rows that miss it are recomputed with twice the steps, up to ``max_steps``;
    a row that still misses it gives a ``RuntimeWarning``.

    Parameters
    ----------
    model
        A built model (computed on a float64 copy).
    x
        Inputs.
    baseline
        One row or one per row; zeros (the mean of standardized features) by default.
    target
        An output index, one per row, None (the predicted class) or ``"all"``.
    steps
        Midpoints of the path.
    max_steps
        The most steps a refined row gets.
    logits
        Explain the last Dense layer's pre-activation instead.
    feature_names
        Names of the features.

    Returns
    -------
    Attribution
        The attributions, with ``baseline_output`` for the completeness check.

    Raises
    ------
    ArgumentError
        If ``steps``, ``max_steps`` or ``target`` is invalid.
    InputError
        If ``baseline`` has the wrong shape.
    """
    for name, value in (("steps", steps), ("max_steps", max_steps)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ArgumentError(f"{name} must be an integer >= 1, got {value!r}")
    result = _explain_each(
        model, x, target, logits, feature_names, "integrated_gradients", baseline, steps, max_steps
    )
    if not result.completeness_ok():
        worst = float(np.abs(result.completeness_gap).max())
        warnings.warn(
            f"integrated gradients miss completeness by up to {worst:.3g}; raise steps (now {steps})",
            RuntimeWarning,
            stacklevel=2,
        )
    return result


def _explain_each(
    model, x, target, logits, names, method, baseline, steps, max_steps=None
) -> Attribution:
    work = _float64_copy(model)
    x = check_x(x, np.float64, model.input_dim)
    names = feature_names_for(names, x.shape[1])
    if isinstance(target, str):
        if target != "all":
            raise ArgumentError(f"target must be an index, None or 'all', got {target!r}")
        parts = [
            _explain_one(work, x, np.full(len(x), k), logits, method, baseline, steps, max_steps)
            for k in range(work.output_dim)
        ]
        values, output = np.stack([p[0] for p in parts]), np.stack([p[1] for p in parts])
        base = None if parts[0][2] is None else np.stack([p[2] for p in parts])
        return Attribution(values, method, np.arange(work.output_dim), output, base, names)
    chosen = _targets(work, x, target)
    values, output, base = _explain_one(work, x, chosen, logits, method, baseline, steps, max_steps)
    return Attribution(values, method, chosen, output, base, names)


def _explain_one(model, x, target, logits, method, baseline, steps, max_steps=None):
    output, gradient = _output_and_input_gradient(model, x, target, logits)
    if method == "gradient_x_input":
        return x * gradient, output, None
    base = _baseline(baseline, x)
    base_output = _output_and_input_gradient(model, base, target, logits)[0]
    values = _path_integral(model, x, base, target, logits, steps)
    # refine rows that miss completeness: the midpoint rule's error falls as 1/steps
    # across a ReLU kink, so doubling the steps halves it
    while max_steps is not None and steps < max_steps:
        allowed = COMPLETENESS_RTOL * np.abs(output - base_output) + COMPLETENESS_ATOL
        failing = np.flatnonzero(np.abs(values.sum(axis=1) - (output - base_output)) > allowed)
        if not len(failing):
            break
        steps = min(2 * steps, max_steps)
        values[failing] = _path_integral(
            model, x[failing], base[failing], target[failing], logits, steps
        )
    return values, output, base_output


def _path_integral(model, x, base, target, logits, steps) -> np.ndarray:
    """(x - b) * the mean gradient at the midpoints of ``steps`` equal pieces of the path."""
    total = np.zeros_like(x)
    alphas = (np.arange(steps) + 0.5) / steps
    per_pass = max(1, MAX_ROWS_PER_PASS // len(x))
    for start in range(0, steps, per_pass):
        chunk = alphas[start : start + per_pass]
        path = base[None] + chunk[:, None, None] * (x - base)[None]
        rows = np.tile(target, len(chunk))
        _, grads = _output_and_input_gradient(model, path.reshape(-1, x.shape[1]), rows, logits)
        total += grads.reshape(len(chunk), *x.shape).sum(axis=0)
    return (x - base) * total / steps


def _baseline(baseline, x: np.ndarray) -> np.ndarray:
    if baseline is None:
        return np.zeros_like(x)
    base = np.asarray(baseline, dtype=np.float64)
    if base.shape == (x.shape[1],):
        return np.broadcast_to(base, x.shape).copy()
    if base.shape != x.shape:
        raise InputError(f"baseline must have shape ({x.shape[1]},) or {x.shape}, got {base.shape}")
    return base.copy()


def class_attributions(
    model: Sequential,
    x: Any,
    y: Any = None,
    steps: int = 64,
    feature_names: Sequence[str] | None = None,
) -> Any:
    """Per class: the mean integrated-gradients attribution of rows of that class to its output.

    Parameters
    ----------
    model
        A built model with one output per class.
    x
        Inputs.
    y
        Class labels to group the rows by; the predicted class by default.
    steps
        As :func:`integrated_gradients` (refined up to ``8 * steps``).
    feature_names
        Names of the features.

    Returns
    -------
    pandas.DataFrame or list of dict
        One row per class (its row count and one column per feature).

    Raises
    ------
    ArgumentError
        If the model has a single output.
    """
    work = _float64_copy(model)
    x = check_x(x, np.float64, model.input_dim)
    names = feature_names_for(feature_names, x.shape[1])
    if work.output_dim == 1:
        raise ArgumentError("class_attributions needs a model with one output per class")
    labels = work.predict(x).argmax(axis=1) if y is None else np.asarray(y).astype(np.int64)
    rows = []
    for cls in range(work.output_dim):
        members = np.flatnonzero(labels == cls)
        row: dict = {"class": cls, "rows": int(len(members))}
        if len(members):
            values = _explain_one(
                work,
                x[members],
                np.full(len(members), cls),
                False,
                "integrated_gradients",
                None,
                steps,
                8 * steps,
            )[0]
            row.update(zip(names, map(float, values.mean(axis=0))))
        rows.append(row)
    return as_table(rows)
