"""Permutation feature importance: how much a score worsens when one feature is shuffled."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import metrics as metrics_module
from ..backend import make_rng
from ..errors import ArgumentError, ArgumentTypeError
from ..validation import check_x
from .results import as_table, feature_names_for, new_figure

if TYPE_CHECKING:
    from ..model import Sequential


@dataclass
class FeatureImportance:
    """Score changes when each feature is shuffled: ``importances[feature, repeat]``.

    Positive means the model does worse without the feature (for a loss: it
    rises; for a score such as accuracy: it falls).

    Parameters
    ----------
    names
        Feature names.
    importances
        ``(features, repeats)`` score changes.
    baseline_score
        The score on the unshuffled data.
    metric
        The score's name.
    """

    names: list[str]
    importances: np.ndarray
    baseline_score: float
    metric: str

    @property
    def mean(self) -> np.ndarray:
        """Mean change per feature, over the repeats."""
        return self.importances.mean(axis=1)

    @property
    def std(self) -> np.ndarray:
        """Spread (standard deviation) per feature, over the repeats."""
        return self.importances.std(axis=1)

    def ranking(self) -> list[str]:
        """Feature names, most important first."""
        return [self.names[i] for i in np.argsort(-self.mean, kind="stable")]

    def to_frame(self):
        """A table of feature, mean importance and spread, most important first."""
        order = np.argsort(-self.mean, kind="stable")
        return as_table(
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
        figure = new_figure(figsize=(6.4, 0.35 * len(order) + 1.2), layout="constrained")
        ax = figure.add_subplot()
        ax.barh(range(len(order)), self.mean[order], xerr=self.std[order], color="#4c72b0")
        ax.set_yticks(range(len(order)), [self.names[i] for i in order])
        ax.axvline(0, color="black", linewidth=0.8)
        ax.set_xlabel(f"increase in {self.metric} when shuffled" if self.metric else "importance")
        ax.set_title("Permutation feature importance")
        return figure


def permutation_importance(
    model: Sequential,
    x: Any,
    y: Any,
    metric: str | Callable | None = None,
    n_repeats: int = 5,
    seed: int | None = None,
    feature_names: Sequence[str] | None = None,
    greater_is_better: bool | None = None,
) -> FeatureImportance:
    """Shuffle each feature ``n_repeats`` times and measure how much the score worsens.

    Parameters
    ----------
    model
        A built model (compiled, for a loss or a metric name).
    x
        Inputs.
    y
        Targets, as ``fit`` takes them.
    metric
        None or ``"loss"`` (the compiled loss), a densekit metric name
        (``"accuracy"``, ``"mse"``, ``"mae"``), or ``metric(y_true, y_pred) -> float``
        on the targets as given and ``model.predict`` output.
    n_repeats
        Shuffles per feature.
    seed
        Seed of the shuffles.
    feature_names
        Names of the features (``x0, x1, ...`` by default).
    greater_is_better
        For a callable metric: taken as a loss (lower is better) unless True.

    Returns
    -------
    FeatureImportance
        The score changes.

    Raises
    ------
    ArgumentError
        If ``n_repeats`` is not an integer >= 1.
    ArgumentTypeError
        If ``metric`` is neither a name nor a callable.
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
    return FeatureImportance(feature_names_for(feature_names, x.shape[1]), importances, base, name)


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
