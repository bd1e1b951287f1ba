"""Checking scalar arguments: numbers in a range, counts, positive integers, flags, batch sizes.

Bools, strings, NaN and infinity are refused with the same words everywhere.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..errors import ArgumentError, ArgumentTypeError


def check_bool(name: str, value: Any) -> bool:
    """True or False only: a string such as "False" is truthy and would flip the meaning.

    Parameters
    ----------
    name
        The argument's name, as the error says it.
    value
        The value passed.

    Returns
    -------
    bool
        ``value`` as a Python bool.

    Raises
    ------
    ArgumentTypeError
        If ``value`` is not a Python or NumPy bool.
    """
    if not isinstance(value, (bool, np.bool_)):
        raise ArgumentTypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def check_batch_size(batch_size: Any, default: int) -> int:
    """``batch_size`` as an int >= 1, or ``default`` when it is None.

    Parameters
    ----------
    batch_size
        The batch size passed, or None.
    default
        What None means.

    Returns
    -------
    int
        The batch size.

    Raises
    ------
    ArgumentTypeError
        If ``batch_size`` is not an integer.
    ArgumentError
        If ``batch_size`` is below 1.
    """
    if batch_size is None:
        return default
    if not _is_integer(batch_size):
        raise ArgumentTypeError(f"batch_size must be an integer >= 1, got {batch_size!r}")
    if batch_size < 1:
        raise ArgumentError(f"batch_size must be >= 1, got {batch_size}")
    return int(batch_size)


def _is_integer(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def check_number(
    name: str,
    value: Any,
    low: float = -math.inf,
    high: float = math.inf,
    *,
    open_low: bool = False,
    open_high: bool = False,
) -> float:
    """``value`` as a float: a finite Python or NumPy number between ``low`` and ``high``.

    Bools are refused (``True`` is not a rate), as are strings, NaN and infinity.

    Parameters
    ----------
    name
        The argument's name, as error messages say it.
    value
        The value passed.
    low
        The lower bound, inclusive unless ``open_low``.
    high
        The upper bound, inclusive unless ``open_high``.
    open_low
        Exclude ``low`` itself.
    open_high
        Exclude ``high`` itself.

    Returns
    -------
    float
        ``value`` as a Python float.

    Raises
    ------
    ArgumentTypeError
        If ``value`` is not a number.
    ArgumentError
        If ``value`` is not finite or is out of range.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        bounds = _bounds(low, high, open_low, open_high)
        raise ArgumentTypeError(f"{name} must be a number{bounds and ' '}{bounds}, got {value!r}")
    number = float(value)
    below = number < low or (open_low and number == low)
    above = number > high or (open_high and number == high)
    if not math.isfinite(number) or below or above:
        raise ArgumentError(
            f"{name} must be {_range_words(low, high, open_low, open_high)}, got {number}"
        )
    return number


def check_count(name: str, value: Any) -> int:
    """``value`` as an int: a Python or NumPy integer >= 0 (not a bool, not 3.0).

    Parameters
    ----------
    name
        The argument's name, as error messages say it.
    value
        The value passed.

    Returns
    -------
    int
        ``value`` as a Python int.

    Raises
    ------
    ArgumentTypeError
        If ``value`` is not an integer.
    ArgumentError
        If ``value`` is negative.
    """
    if not _is_integer(value):
        raise ArgumentTypeError(f"{name} must be an integer >= 0, got {value!r}")
    if value < 0:
        raise ArgumentError(f"{name} must be >= 0, got {value}")
    return int(value)


def check_positive_int(name: str, value: Any) -> int:
    """``value`` as an int: a Python or NumPy integer >= 1 (not a bool, not 3.0).

    Parameters
    ----------
    name
        The argument's name, as error messages say it.
    value
        The value passed.

    Returns
    -------
    int
        ``value`` as a Python int.

    Raises
    ------
    ArgumentTypeError
        If ``value`` is not an integer.
    ArgumentError
        If ``value`` is below 1.
    """
    if not _is_integer(value):
        raise ArgumentTypeError(f"{name} must be a positive integer, got {value!r}")
    if value < 1:
        raise ArgumentError(f"{name} must be a positive integer, got {value}")
    return int(value)


def _bounds(low: float, high: float, open_low: bool, open_high: bool) -> str:
    """'', '>= 0', '> 0', '<= 1' or 'in [0, 1)'."""
    if low == -math.inf and high == math.inf:
        return ""
    if high == math.inf:
        return f"{'>' if open_low else '>='} {low:g}"
    if low == -math.inf:
        return f"{'<' if open_high else '<='} {high:g}"
    return f"in {'(' if open_low else '['}{low:g}, {high:g}{')' if open_high else ']'}"


def _range_words(low: float, high: float, open_low: bool, open_high: bool) -> str:
    bounds = _bounds(low, high, open_low, open_high)
    if not bounds:
        return "a finite number"
    return bounds if bounds.startswith("in ") else f"finite and {bounds}"
