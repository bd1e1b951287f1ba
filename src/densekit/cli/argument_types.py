"""Argument types: argparse ``type=`` functions whose errors say what was expected.

Each takes the option's text and returns its value, or raises
``argparse.ArgumentTypeError``, which argparse turns into a one-line usage error.
"""

from __future__ import annotations

import argparse
import math


def hidden_sizes(text: str) -> list[int]:
    """``--hidden``: comma-separated layer widths; "none" means no hidden layer.

    Parameters
    ----------
    text
        The option's text, such as "64,32".

    Returns
    -------
    list of int
        The widths, each >= 1.

    Raises
    ------
    argparse.ArgumentTypeError
        If a part is not an integer >= 1.
    """
    if text.strip().lower() == "none":
        return []
    try:
        sizes = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--hidden must be comma-separated positive integers such as 64,32; got {text!r}"
        ) from None
    if any(size < 1 for size in sizes):
        raise argparse.ArgumentTypeError(
            f"every layer needs at least 1 unit, got {text!r}; for no hidden layer "
            "give --hidden none"
        )
    return sizes


def _parsed(text: str, kind: type, expected: str):
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None


def fraction(text: str) -> float:
    """A number in [0, 1): a validation split or a dropout rate.

    Parameters
    ----------
    text
        The option's text.

    Returns
    -------
    float
        The fraction.

    Raises
    ------
    argparse.ArgumentTypeError
        If the text is not a number in [0, 1).
    """
    value = _parsed(text, float, "a number in [0, 1)")
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {text}")
    return value


def number(text: str) -> float:
    """Any number.

    Parameters
    ----------
    text
        The option's text.

    Returns
    -------
    float
        The number.

    Raises
    ------
    argparse.ArgumentTypeError
        If the text is not a number.
    """
    return _parsed(text, float, "a number")


def positive_int(text: str) -> int:
    """An integer >= 1.

    Parameters
    ----------
    text
        The option's text.

    Returns
    -------
    int
        The integer.

    Raises
    ------
    argparse.ArgumentTypeError
        If the text is not an integer >= 1.
    """
    value = _parsed(text, int, "an integer >= 1")
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text}")
    return value


def non_negative_int(text: str) -> int:
    """An integer >= 0.

    Parameters
    ----------
    text
        The option's text.

    Returns
    -------
    int
        The integer.

    Raises
    ------
    argparse.ArgumentTypeError
        If the text is not an integer >= 0.
    """
    value = _parsed(text, int, "an integer >= 0")
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text}")
    return value


def _finite(text: str, expected: str) -> float:
    value = _parsed(text, float, expected)
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text}")
    return value


def positive_number(text: str) -> float:
    """A finite number > 0: a learning rate.

    Parameters
    ----------
    text
        The option's text.

    Returns
    -------
    float
        The number.

    Raises
    ------
    argparse.ArgumentTypeError
        If the text is not a finite number > 0.
    """
    value = _finite(text, "a number > 0")
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text}")
    return value


def non_negative_number(text: str) -> float:
    """A finite number >= 0: a penalty.

    Parameters
    ----------
    text
        The option's text.

    Returns
    -------
    float
        The number.

    Raises
    ------
    argparse.ArgumentTypeError
        If the text is not a finite number >= 0.
    """
    value = _finite(text, "a number >= 0")
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text}")
    return value


def at_least(minimum: int):
    """An argument type for an integer >= ``minimum`` (``--cv`` needs 2 folds).

    Parameters
    ----------
    minimum
        The smallest value taken.

    Returns
    -------
    callable
        ``type(text) -> int``, raising argparse.ArgumentTypeError below ``minimum``.
    """

    def integer(text: str) -> int:
        value = _parsed(text, int, f"an integer >= {minimum}")
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}, got {text}")
        return value

    integer.__name__ = f"integer >= {minimum}"
    return integer


def activation_name(text: str) -> str:
    """An activation densekit knows (``relu``, ``tanh``, ...).

    Parameters
    ----------
    text
        The option's text.

    Returns
    -------
    str
        The name.

    Raises
    ------
    argparse.ArgumentTypeError
        If densekit has no activation of that name; the message lists those it has.
    """
    from ..activations import ACTIVATIONS

    if text not in ACTIVATIONS:
        raise argparse.ArgumentTypeError(
            f"unknown activation {text!r}; expected one of {', '.join(ACTIVATIONS.names)}"
        )
    return text


def optimizer_name(text: str) -> str:
    """An optimizer densekit knows (``adam``, ``sgd``, ...).

    Parameters
    ----------
    text
        The option's text.

    Returns
    -------
    str
        The name.

    Raises
    ------
    argparse.ArgumentTypeError
        If densekit has no optimizer of that name; the message lists those it has.
    """
    from ..optimizers import REGISTRY

    if text not in REGISTRY:
        raise argparse.ArgumentTypeError(
            f"unknown optimizer {text!r}; expected one of {', '.join(REGISTRY.names)}"
        )
    return text
