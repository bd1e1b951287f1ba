"""Refusing keyword arguments a callable does not take, with Keras' renamed ones explained."""

from __future__ import annotations

from ..errors import ArgumentError, ArgumentTypeError


def refuse_unknown(owner: str, unknown: dict, renamed: dict[str, str]) -> None:
    """Refuse keyword arguments that ``owner`` does not take.

    Parameters
    ----------
    owner
        The callable's name, as the error says it.
    unknown
        The keyword arguments left over.
    renamed
        Keras names densekit spells differently, each with the explanation to give.

    Raises
    ------
    ArgumentError
        If a name in ``renamed`` was passed: its explanation says what to use instead.
    ArgumentTypeError
        If any other name was passed, as Python would for an unexpected keyword.
    """
    for name, explanation in renamed.items():
        if name in unknown:
            raise ArgumentError(f"{owner}({name}=...) {explanation}")
    if unknown:
        names = ", ".join(sorted(unknown))
        raise ArgumentTypeError(f"{owner}() got unexpected keyword arguments: {names}")
