"""What the network pays attention to: feature importance, attributions, weights and units.

- :func:`permutation_importance`: how much a score worsens when one feature's
  column is shuffled (repeated; mean and spread), for the loss, a metric or any
  ``metric(y_true, y_pred)``.
- :func:`gradient_x_input` and :func:`integrated_gradients`: per-row attributions
  of one output (a class, or each class) to the input features. Integrated
  gradients satisfy *completeness*: ``sum_i attr_i = f(x) - f(baseline)``; the
  result reports the gap, which shrinks as ``steps`` grows.
- :func:`plot_weights` (heatmap or Hinton diagram per Dense layer),
  :func:`plot_activation_histograms`, :func:`unit_health` (dead ReLU units and
  saturated sigmoid/tanh units per layer) and :func:`neuron_importance`, the
  per-unit score ``dk.prune.neurons(..., criterion=neuron_importance)`` can use.

Results are NumPy arrays, tables (pandas DataFrames when pandas is installed,
else lists of dicts) and matplotlib figures (the ``plot`` extra). Figures are
made with ``matplotlib.figure.Figure``, never pyplot: no window, no global state.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import metrics as metrics_module
from .. import prune
from ..backend import make_rng
from ..errors import ArgumentError, ArgumentTypeError, InputError, require
from ..layers import Dense
from ..validation import check_x

#: integrated gradients' completeness is checked to |gap| <= RTOL * |f(x) - f(b)| + ATOL
COMPLETENESS_RTOL = 0.01
COMPLETENESS_ATOL = 1e-4
MAX_ROWS_PER_PASS = 8192  # rows per forward/backward pass when interpolating


def _table(rows: list[dict]):
    try:
        import pandas
    except ImportError:
        return rows
    return pandas.DataFrame(rows)


def _feature_names(names: Sequence[str] | None, n: int) -> list[str]:
    if names is None:
        return [f"x{i}" for i in range(n)]
    names = [str(name) for name in names]
    if len(names) != n:
        raise InputError(f"feature_names has {len(names)} names, but x has {n} features")
    return names


def _figure(**kwargs):
    require("matplotlib", "plot", "densekit.explain figures")
    from matplotlib.figure import Figure

    return Figure(**kwargs)


# --- permutation importance ---------------------------------------------------------------


@dataclass
class FeatureImportance:
    """Score changes when each feature is shuffled: ``importances[feature, repeat]``.

    Positive means the model does worse without the feature (for a loss: it
    rises; for a score such as accuracy: it falls).
    """

    names: list[str]
    importances: np.ndarray
    baseline_score: float
    metric: str

    @property
    def mean(self) -> np.ndarray:
        return self.importances.mean(axis=1)

    @property
    def std(self) -> np.ndarray:
        return self.importances.std(axis=1)

    def ranking(self) -> list[str]:
        """Feature names, most important first."""
        return [self.names[i] for i in np.argsort(-self.mean, kind="stable")]

    def to_frame(self):
        order = np.argsort(-self.mean, kind="stable")
        return _table(
            [
                {
                    "feature": self.names[i],
                    "importance": float(self.mean[i]),
                    "std": float(self.std[i]),
                }
                for i in order
            ]
        )

    def plot(self, top: int = 20):
        """Horizontal bars of the mean with the spread over repeats as error bars."""
        order = np.argsort(-self.mean, kind="stable")[:top][::-1]
        figure = _figure(figsize=(6.4, 0.35 * len(order) + 1.2), layout="constrained")
        ax = figure.add_subplot()
        ax.barh(range(len(order)), self.mean[order], xerr=self.std[order], color="#4c72b0")
        ax.set_yticks(range(len(order)), [self.names[i] for i in order])
        ax.axvline(0, color="black", linewidth=0.8)
        ax.set_xlabel(f"increase in {self.metric} when shuffled" if self.metric else "importance")
        ax.set_title("Permutation feature importance")
        return figure


def permutation_importance(
    model,
    x: Any,
    y: Any,
    metric: str | Callable | None = None,
    n_repeats: int = 5,
    seed: int | None = None,
    feature_names: Sequence[str] | None = None,
    greater_is_better: bool | None = None,
) -> FeatureImportance:
    """Shuffle each feature ``n_repeats`` times and measure how much the score worsens.

    ``metric`` is None or ``"loss"`` (the compiled loss), a densekit metric name
    (``"accuracy"``, ``"mse"``, ``"mae"``), or ``metric(y_true, y_pred) -> float``
    on the targets as given and ``model.predict`` output — taken as a loss (lower
    is better) unless ``greater_is_better=True``.
    """
    x = check_x(x, model.dtype, model.input_dim)
    if isinstance(n_repeats, bool) or not isinstance(n_repeats, int) or n_repeats < 1:
        raise ArgumentError(f"n_repeats must be an integer >= 1, got {n_repeats!r}")
    score, name, better_high = _scorer(model, y, metric, greater_is_better)
    sign = -1.0 if better_high else 1.0
    rng = make_rng(seed)
    base = score(x)
    importances = np.empty((x.shape[1], n_repeats))
    shuffled = x.copy()
    for feature in range(x.shape[1]):
        for repeat in range(n_repeats):
            shuffled[:, feature] = x[rng.permutation(len(x)), feature]
            importances[feature, repeat] = sign * (score(shuffled) - base)
        shuffled[:, feature] = x[:, feature]
    return FeatureImportance(_feature_names(feature_names, x.shape[1]), importances, base, name)


def _scorer(model, y, metric, greater_is_better):
    """(score(x) -> float, its name, whether higher is better)."""
    if metric is None or metric == "loss":
        model.require_compiled("compute the loss for permutation importance")
        return (lambda x: model.evaluate(x, y)["loss"]), "loss", False
    if isinstance(metric, str):
        model.require_compiled(f"compute {metric!r} for permutation importance")
        found = metrics_module.get(metric, model.output_dim, model.loss.name)
        targets = model.loss.prepare_targets(y, model.output_dim, model.dtype)

        def score(x):
            return float(found.per_sample(np, targets, model.predict(x)).mean())

        high = metric in ("accuracy", "acc", "binary_accuracy", "categorical_accuracy")
        high = high or "accuracy" in metric
        return score, metric, high if greater_is_better is None else greater_is_better
    if callable(metric):
        name = getattr(metric, "__name__", "score")
        return (lambda x: float(metric(y, model.predict(x)))), name, bool(greater_is_better)
    raise ArgumentTypeError(f"metric must be None, a name or a callable, got {metric!r}")


# --- gradients of one output with respect to the input ------------------------------------


@dataclass
class Attribution:
    """Per-row attributions of one output to each input feature.

    ``values`` is ``(rows, features)``, or ``(outputs, rows, features)`` when every
    output was explained (``target="all"``). ``output`` is f(x) for the explained
    output, ``baseline_output`` f(baseline) (integrated gradients only).
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
        """Every row's gap within ``rtol * |f(x) - f(baseline)| + atol``."""
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
        return _table([dict(zip(self.names, map(float, row))) for row in values])


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


def input_gradients(model, x: Any, target: Any = None, logits: bool = False) -> np.ndarray:
    """d f_target(x) / dx for every row ``(rows, features)``; f is the output (or its logit)."""
    work = _float64_copy(model)
    x = check_x(x, np.float64, model.input_dim)
    return _output_and_input_gradient(work, x, _targets(work, x, target), logits)[1]


def gradient_x_input(
    model, x: Any, target: Any = None, logits: bool = False, feature_names=None
) -> Attribution:
    """``x * d f_target / dx``: a first-order attribution (exact for a linear model)."""
    return _explain_each(model, x, target, logits, feature_names, "gradient_x_input", None, 0)


def integrated_gradients(
    model,
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

    ``baseline`` defaults to zeros (the mean of standardized features); it may be
    one row or one per row. ``target`` is an output index, one per row, None (the
    predicted class) or ``"all"`` (every output).

    Completeness is checked per row: ``|sum_i attr_i - (f(x) - f(b))|`` must be at
    most ``COMPLETENESS_RTOL * |f(x) - f(b)| + COMPLETENESS_ATOL`` (1% + 1e-4).
    Rows that miss it are recomputed with twice the steps, up to ``max_steps``;
    a row that still misses it gives a ``RuntimeWarning``.
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
    names = _feature_names(names, x.shape[1])
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
    model, x: Any, y: Any = None, steps: int = 64, feature_names: Sequence[str] | None = None
):
    """Per class: the mean integrated-gradients attribution of rows of that class to its output.

    Rows are grouped by ``y`` when given, else by the predicted class. Returns a
    table with one row per class and one column per feature.
    """
    work = _float64_copy(model)
    x = check_x(x, np.float64, model.input_dim)
    names = _feature_names(feature_names, x.shape[1])
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
    return _table(rows)


# --- weights and units ---------------------------------------------------------------------


def dense_layers(model) -> list[tuple[int, Dense]]:
    """(index in model.layers, layer) for every Dense layer."""
    model.require_built("explain")
    return [(i, layer) for i, layer in enumerate(model.layers) if isinstance(layer, Dense)]


def plot_weights(model, kind: str = "heatmap", max_size: int = 64):
    """One picture per Dense layer of its kernel ``W`` (inputs down, units across).

    ``kind="heatmap"``: colour is the weight (blue negative, red positive, white 0).
    ``kind="hinton"``: a square per weight, area proportional to ``|w|``, white
    positive and black negative on grey; only the first ``max_size`` inputs and
    units of a larger kernel are drawn (the title says so).
    """
    if kind not in ("heatmap", "hinton"):
        raise ArgumentError(f"kind must be 'heatmap' or 'hinton', got {kind!r}")
    layers = dense_layers(model)
    figure = _figure(figsize=(3.2 * len(layers) + 0.8, 3.6), layout="constrained")
    from matplotlib.ticker import MaxNLocator

    for position, (_, layer) in enumerate(layers, start=1):
        kernel = model.backend.to_numpy(layer.kernel)
        ax = figure.add_subplot(1, len(layers), position)
        if kind == "heatmap":
            limit = float(np.abs(kernel).max()) or 1.0
            image = ax.imshow(kernel, cmap="RdBu_r", vmin=-limit, vmax=limit, aspect="auto",
                              interpolation="nearest")  # fmt: skip
            figure.colorbar(image, ax=ax, shrink=0.8)
            title = f"{layer.name} {kernel.shape[0]}x{kernel.shape[1]}"
        else:
            shown = kernel[:max_size, :max_size]
            _hinton(ax, shown)
            title = f"{layer.name} {kernel.shape[0]}x{kernel.shape[1]}"
            if shown.shape != kernel.shape:
                title += f" (first {shown.shape[0]}x{shown.shape[1]})"
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("unit")
        ax.set_ylabel("input")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    figure.suptitle("Weights: heatmap" if kind == "heatmap" else "Weights: Hinton diagram")
    return figure


def _hinton(ax, matrix: np.ndarray) -> None:
    from matplotlib.collections import PatchCollection
    from matplotlib.patches import Rectangle

    largest = float(np.abs(matrix).max()) or 1.0
    squares, colours = [], []
    for (row, column), weight in np.ndenumerate(matrix):
        side = math.sqrt(abs(weight) / largest) * 0.9
        squares.append(Rectangle((column - side / 2, row - side / 2), side, side))
        colours.append("white" if weight > 0 else "black")
    ax.add_collection(PatchCollection(squares, facecolors=colours, edgecolors="none"))
    ax.set_facecolor("#888888")
    ax.set_xlim(-0.5, matrix.shape[1] - 0.5)
    ax.set_ylim(matrix.shape[0] - 0.5, -0.5)
    ax.set_aspect("equal")


def layer_outputs(model, x: Any) -> list[tuple[int, Dense, np.ndarray]]:
    """(index, layer, activations ``(rows, units)``) for each Dense layer, at inference."""
    layers = dense_layers(model)
    x = model.backend.asarray(check_x(x, model.dtype, model.input_dim))
    outputs = []
    wanted = {index for index, _ in layers}
    for index, layer in enumerate(model.layers):
        x = layer.forward(x, training=False)
        if index in wanted:
            outputs.append((index, layer, model.backend.to_numpy(x).copy()))
    return outputs


def plot_activation_histograms(model, x: Any, bins: int = 40):
    """A histogram of every Dense layer's outputs over ``x`` (all units pooled)."""
    outputs = layer_outputs(model, x)
    figure = _figure(figsize=(3.0 * len(outputs) + 0.6, 2.8), layout="constrained")
    for position, (_, layer, values) in enumerate(outputs, start=1):
        ax = figure.add_subplot(1, len(outputs), position)
        ax.hist(values.ravel(), bins=bins, color="#55a868")
        ax.set_title(f"{layer.name} ({layer.activation.name})", fontsize=9)
        ax.set_xlabel("activation")
    figure.suptitle("Activation histograms")
    return figure


def dead_relu_units(model, x: Any) -> dict[int, np.ndarray]:
    """For each ReLU Dense layer: indices of units that output 0 for every row of ``x``."""
    return {
        index: np.flatnonzero((values <= 0).all(axis=0))
        for index, layer, values in layer_outputs(model, x)
        if layer.activation.name == "relu"
    }


def saturated_units(
    model, x: Any, threshold: float = 0.99, fraction: float = 0.95
) -> dict[int, np.ndarray]:
    """For each sigmoid/tanh Dense layer: units saturated on at least ``fraction`` of rows.

    A sigmoid unit is saturated where ``a < 1 - threshold`` or ``a > threshold``; a
    tanh unit where ``|a| > threshold``: there its derivative is near 0 and it
    barely learns.
    """
    for name, value in (("threshold", threshold), ("fraction", fraction)):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)):
            raise ArgumentTypeError(f"{name} must be a number in (0, 1], got {value!r}")
        if not 0.0 < value <= 1.0:
            raise ArgumentError(f"{name} must be in (0, 1], got {value}")
    found = {}
    for index, layer, values in layer_outputs(model, x):
        name = layer.activation.name
        if name == "sigmoid":
            saturated = (values > threshold) | (values < 1.0 - threshold)
        elif name == "tanh":
            saturated = np.abs(values) > threshold
        else:
            continue
        found[index] = np.flatnonzero(saturated.mean(axis=0) >= fraction)
    return found


def unit_health(model, x: Any, threshold: float = 0.99, fraction: float = 0.95):
    """One row per Dense layer: units, dead (ReLU) units, saturated (sigmoid/tanh) units."""
    dead = dead_relu_units(model, x)
    saturated = saturated_units(model, x, threshold, fraction)
    rows = []
    for index, layer in dense_layers(model):
        d, s = dead.get(index, np.array([], int)), saturated.get(index, np.array([], int))
        rows.append(
            {
                "layer": layer.name,
                "index": index,
                "activation": layer.activation.name,
                "units": layer.units,
                "dead": int(len(d)),
                "saturated": int(len(s)),
                "dead_units": d.tolist(),
                "saturated_units": s.tolist(),
            }
        )
    return _table(rows)


def neuron_importance(model, layer_index: int, x: Any) -> np.ndarray:
    """A score per unit of Dense layer ``model.layers[layer_index]``: what it sends on.

        score_j = mean_rows |s_j| * ||W_next[j, :]||_2

    where ``s_j`` is the signal unit j hands the next Dense layer over ``x`` (its
    activation, after any BatchNormalization or Dropout in between) and ``W_next``
    that layer's kernel; the last Dense layer's units score ``mean |a_j|``. It is
    the size of the input the next layer loses when the unit is pruned, so dead
    units score 0. The signature is the criterion ``dk.prune.neurons`` takes:
    ``dk.prune.neurons(model, 0.25, criterion=neuron_importance, x=x)`` or, by
    name, ``criterion="importance"``.
    """
    layers = dense_layers(model)
    indices = [index for index, _ in layers]
    if isinstance(layer_index, bool) or not isinstance(layer_index, (int, np.integer)):
        raise ArgumentTypeError(f"layer_index must be an integer, got {layer_index!r}")
    position = layer_index + len(model.layers) if layer_index < 0 else int(layer_index)
    if position not in indices:
        raise ArgumentError(
            f"layer_index {layer_index} is not a Dense layer; Dense layers are at {indices}"
        )
    after = [index for index in indices if index > position]
    x = check_x(x, model.dtype, model.input_dim)
    if not after:
        # the last Dense layer: its own activation (prune's signal would run on
        # through any layers after it)
        signal = model.backend.asarray(x)
        for layer in model.layers[: position + 1]:
            signal = layer.forward(signal, training=False)
        return np.abs(model.backend.to_numpy(signal)).mean(axis=0).astype(np.float64)
    score = prune.activation_scores(model, position, x).astype(np.float64)
    kernel = model.backend.to_numpy(model.layers[after[0]].kernel).astype(np.float64)
    return score * np.linalg.norm(kernel, axis=1)


prune.register_criterion("importance", neuron_importance)
