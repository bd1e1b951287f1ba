"""How explain hands results back: tables, feature names and matplotlib figures.

Tables are pandas DataFrames when pandas is installed, else lists of dicts.
Figures are made with ``matplotlib.figure.Figure``, never pyplot: no window, no
global state (the ``plot`` extra).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..errors import InputError, require

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def as_table(rows: list[dict]):
    """``rows`` as a pandas DataFrame when pandas is installed, else as given.

    Parameters
    ----------
    rows
        One dict per row, the same keys in each.

    Returns
    -------
    pandas.DataFrame or list of dict
        The table.
    """
    try:
        import pandas
    except ImportError:
        return rows
    return pandas.DataFrame(rows)


def feature_names_for(names: Sequence[str] | None, n: int) -> list[str]:
    """The names of ``n`` features: those given, or ``x0, x1, ...``.

    Parameters
    ----------
    names
        The user's feature names.
    n
        Features in ``x``.

    Returns
    -------
    list of str
        ``n`` names.

    Raises
    ------
    InputError
        If ``names`` does not hold ``n`` names.
    """
    if names is None:
        return [f"x{i}" for i in range(n)]
    names = [str(name) for name in names]
    if len(names) != n:
        raise InputError(f"feature_names has {len(names)} names, but x has {n} features")
    return names


def new_figure(**kwargs: Any) -> Figure:
    """A ``matplotlib.figure.Figure`` (no pyplot, no window).

    Parameters
    ----------
    **kwargs
        Passed to ``Figure``.

    Returns
    -------
    matplotlib.figure.Figure
        The empty figure.

    Raises
    ------
    MissingDependencyError
        If matplotlib (the ``plot`` extra) is not installed.
    """
    require("matplotlib", "plot", "densekit.explain figures")
    from matplotlib.figure import Figure

    return Figure(**kwargs)
