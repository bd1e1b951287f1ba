"""Parameter checks for the estimators: choices, numbers in a range, integers at least some value.

The names scikit-learn's MLP takes, and what densekit runs for each, are here too.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from ..errors import ArgumentError

#: MLP's activation names -> densekit's
ACTIVATIONS = {"relu": "relu", "tanh": "tanh", "logistic": "sigmoid", "identity": "linear"}
SOLVERS = ("adam", "sgd", "lbfgs")
LEARNING_RATES = ("constant", "invscaling", "adaptive")
REGRESSION_LOSSES = ("squared_error", "absolute_error", "huber", "poisson")


def check_choice(name: str, value: Any, options: tuple) -> None:
    """Raise unless ``value`` is one of ``options``.

    Parameters
    ----------
    name
        The parameter, for the message.
    value
        Its value.
    options
        The allowed values.

    Raises
    ------
    ArgumentError
        If ``value`` is not among ``options``.
    """
    if value not in options:
        raise ArgumentError(f"{name} must be one of {', '.join(map(repr, options))}, got {value!r}")


def check_number(
    name: str, value: Any, low: float, high: float = np.inf, open_low: bool = False
) -> None:
    """Raise unless ``value`` is a finite real number in ``[low, high]`` (``(low, high]``).

    Parameters
    ----------
    name
        The parameter, for the message.
    value
        Its value.
    low
    high
        The range's ends.
    open_low
        Exclude ``low`` itself.

    Raises
    ------
    ArgumentError
        If ``value`` is not a finite number in the range (a bool is not a number).
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value):
        raise ArgumentError(f"{name} must be a finite number, got {value!r}")
    if value < low or value > high or (open_low and value == low):
        raise ArgumentError(
            f"{name} must be in {'(' if open_low else '['}{low}, {high}], got {value}"
        )


def check_integer(name: str, value: Any, low: int) -> None:
    """Raise unless ``value`` is an integer >= ``low``.

    Parameters
    ----------
    name
        The parameter, for the message.
    value
        Its value.
    low
        The least allowed value.

    Raises
    ------
    ArgumentError
        If ``value`` is not an integer (a bool is not) or is below ``low``.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise ArgumentError(f"{name} must be an integer >= {low}, got {value!r}")


def check_patience(name: str, value: Any) -> None:
    """Raise unless ``value`` is an integer >= 1 or ``numpy.inf`` (never stop for it).

    Parameters
    ----------
    name
        The parameter, for the message.
    value
        Its value.

    Raises
    ------
    ArgumentError
        If ``value`` is neither.
    """
    if isinstance(value, numbers.Real) and not isinstance(value, bool) and value == np.inf:
        return
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ArgumentError(f"{name} must be an integer >= 1 or numpy.inf, got {value!r}")
