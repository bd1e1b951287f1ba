"""Argument checks shared by pruning and quantization: fractions and layer names."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from ..errors import ArgumentError, ArgumentTypeError


def check_fraction(name: str, value: Any, allow_one: bool = False) -> float:
    """``value`` as a float in [0, 1) (or [0, 1] with ``allow_one``), or a clear error.

    Parameters
    ----------
    name
        The argument's name, for the message.
    value
        What the caller passed.
    allow_one
        Whether 1 is allowed.

    Returns
    -------
    float
        ``value``.

    Raises
    ------
    ArgumentTypeError
        If ``value`` is not a number.
    ArgumentError
        If it is out of range.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)):
        raise ArgumentTypeError(f"{name} must be a number in [0, 1), got {value!r}")
    value = float(value)
    if not (0.0 <= value <= 1.0 if allow_one else 0.0 <= value < 1.0):
        raise ArgumentError(f"{name} must be in [0, 1{']' if allow_one else ')'}, got {value}")
    return value


def check_layer_names(argument: str, names: Any, known: Iterable[str]) -> list[str]:
    """``names`` (a list of Dense layer names, each in ``known``) as a list, or a clear error.

    A single name given as a str is rejected, not read character by character.

    Parameters
    ----------
    argument
        The argument's name, for the message.
    names
        What the caller passed: a list, tuple or set of names.
    known
        The names of the model's Dense layers.

    Returns
    -------
    list of str
        ``names`` as a list.

    Raises
    ------
    ArgumentTypeError
        If ``names`` is a str or not a collection.
    ArgumentError
        If a name is not in ``known``.
    """
    if isinstance(names, str):
        raise ArgumentTypeError(
            f"{argument} must be a list of layer names, got the str {names!r}; "
            f"for one layer write [{names!r}]"
        )
    if not isinstance(names, (list, tuple, set, frozenset)):
        raise ArgumentTypeError(f"{argument} must be a list of layer names, got {names!r}")
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ArgumentError(
            f"{argument} names {unknown}, which are not Dense layers of the model; "
            f"known: {sorted(known)}"
        )
    return list(names)
