"""How explain hands results back: tables, feature names and matplotlib figures.

Tables are pandas DataFrames when pandas is installed, else lists of dicts.
Figures are made with ``matplotlib.figure.Figure``, never pyplot: no window, no
global state (the ``plot`` extra).
"""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import InputError, require


def as_table(rows: list[dict]):
    try:
        import pandas
    except ImportError:
        return rows
    return pandas.DataFrame(rows)


def feature_names_for(names: Sequence[str] | None, n: int) -> list[str]:
    if names is None:
        return [f"x{i}" for i in range(n)]
    names = [str(name) for name in names]
    if len(names) != n:
        raise InputError(f"feature_names has {len(names)} names, but x has {n} features")
    return names


def new_figure(**kwargs):
    require("matplotlib", "plot", "densekit.explain figures")
    from matplotlib.figure import Figure

    return Figure(**kwargs)
