"""Argument types: argparse ``type=`` functions whose errors say what was expected.

Each takes the option's text and returns its value, or raises
``argparse.ArgumentTypeError``, which argparse turns into a one-line usage error.
"""

from __future__ import annotations

import argparse


def hidden_sizes(text: str) -> list[int]:
    """``--hidden``: comma-separated layer widths; "", "none" or "0" mean no hidden layer.

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
    if text.strip() in ("", "none", "0"):
        return []
    try:
        sizes = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--hidden must be comma-separated positive integers such as 64,32; got {text!r}"
        ) from None
    if any(size < 1 for size in sizes):
        raise argparse.ArgumentTypeError(f"--hidden sizes must be >= 1, got {text!r}")
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
