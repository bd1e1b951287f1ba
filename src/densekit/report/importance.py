"""Importance per original column: the one-hot features of a column shuffled together.

A table's text column becomes several features (``color=red``, ``color=blue``);
shuffling one of them alone makes rows no table has (two colours, or none), and
splits the column's importance over its categories. Here the features are grouped
by the column they came from (:func:`group_features`) and each group's features are
shuffled together, by one permutation of the rows, so the importance is the column's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..backend import make_rng
from ..explain import FeatureImportance


def group_features(feature_names: Sequence[str], columns: Sequence[str]) -> dict[str, list[int]]:
    """The encoded features of each original column, by the names the preprocessing gives.

    A numeric column keeps its name (``age``); a one-hot column's features are named
    ``column=category`` (``color=red``). Each feature goes to the longest column name
    that it equals or that it starts with followed by ``=``, so a column whose name
    holds ``=`` is still matched whole. A feature that matches no column is a group
    of its own.

    Parameters
    ----------
    feature_names
        The encoded features' names, in the model's input order.
    columns
        The original columns' names, in table order.

    Returns
    -------
    dict
        Column name -> the indices of its features, in ``columns`` order (columns
        without a feature are left out), then the unmatched features.

    Examples
    --------
    >>> from densekit.report.importance import group_features
    >>> group_features(["age", "color=blue", "color=red"], ["age", "color"])
    {'age': [0], 'color': [1, 2]}
    """
    by_length = sorted(columns, key=len, reverse=True)
    groups: dict[str, list[int]] = {name: [] for name in columns}
    for index, feature in enumerate(feature_names):
        owner = next(
            (name for name in by_length if feature == name or feature.startswith(f"{name}=")),
            None,
        )
        groups.setdefault(feature if owner is None else owner, []).append(index)
    return {name: indices for name, indices in groups.items() if indices}


def grouped_permutation_importance(
    model: Any,
    x: np.ndarray,
    y: np.ndarray,
    groups: dict[str, list[int]],
    n_repeats: int = 5,
    seed: int | None = 0,
) -> FeatureImportance:
    """The rise of the model's loss when each group's features are shuffled together.

    Parameters
    ----------
    model
        A built, compiled model.
    x
        Encoded inputs (n, features).
    y
        Their targets, as ``fit`` takes them.
    groups
        Group name -> feature indices (:func:`group_features`).
    n_repeats
        Shuffles per group.
    seed
        Seeds the shuffles.

    Returns
    -------
    FeatureImportance
        One "feature" per group, named after it.
    """
    rng = make_rng(seed)

    def loss(inputs: np.ndarray) -> float:
        return float(model.evaluate(inputs, y)["loss"])

    base = loss(x)
    importances = np.empty((len(groups), n_repeats))
    shuffled = x.copy()
    for row, indices in enumerate(groups.values()):
        for repeat in range(n_repeats):
            shuffled[:, indices] = x[rng.permutation(len(x))[:, None], indices]
            importances[row, repeat] = loss(shuffled) - base
        shuffled[:, indices] = x[:, indices]
    return FeatureImportance(list(groups), importances, base, "loss")
