"""Splitting off a validation set: checking ``validation_split`` and drawing the rows."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import InputError
from .numbers import check_number


def validation_split_indices(
    n: int, fraction: float, rng: np.random.Generator, labels: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """A random (train, validation) split of ``range(n)``; stratified when labels are given.

    Each class gives ``round(fraction * count)`` rows to validation (at least one
    when it has two or more rows), so rare classes appear on both sides.

    Parameters
    ----------
    n
        The number of rows.
    fraction
        The share of rows for validation, in (0, 1).
    rng
        The generator that draws the split.
    labels
        Class labels, one per row, to stratify by; None for a plain random split.

    Returns
    -------
    train, validation : numpy.ndarray
        Sorted row indices of each side.

    Raises
    ------
    InputError
        If stratifying leaves no validation rows (every class has a single sample).
    """
    if labels is None:
        order = rng.permutation(n)
        n_val = int(round(n * fraction))
        n_val = min(max(n_val, 1), n - 1)
        return np.sort(order[n_val:]), np.sort(order[:n_val])
    val_parts = []
    for cls in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == cls))
        take = int(round(len(members) * fraction))
        if len(members) >= 2:
            take = min(max(take, 1), len(members) - 1)
        val_parts.append(members[:take])
    val = np.sort(np.concatenate(val_parts))
    if len(val) == 0:
        raise InputError(
            f"validation_split={fraction} leaves no validation rows: each of the "
            f"{len(val_parts)} classes has a single sample; give more data, or "
            "validation_split=0 to train on all of them"
        )
    train = np.setdiff1d(np.arange(n), val, assume_unique=True)
    return train, val


def check_validation_split(value: Any) -> float:
    """``validation_split`` as a float in [0, 1).

    Parameters
    ----------
    value
        The value passed.

    Returns
    -------
    float
        The fraction.
    """
    return check_number("validation_split", value, 0.0, 1.0, open_high=True)
