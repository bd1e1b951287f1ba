"""The search space: parsing the dict of ranges and choices, and drawing one configuration.

See :mod:`densekit.tune` for the forms an entry takes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ArgumentError, ArgumentTypeError

if TYPE_CHECKING:
    import optuna

#: the space :func:`densekit.tune.search` searches when given none
DEFAULT_SPACE: dict[str, Any] = {
    "layers": (1, 3),
    "units": (8, 256, "log"),
    "activation": ["relu", "tanh"],
    "learning_rate": (1e-4, 1e-2, "log"),
    "dropout": (0.0, 0.5),
    "l2": (1e-6, 1e-2, "log"),
}
#: values used for a key the space leaves out
DEFAULTS: dict[str, Any] = {
    "layers": 1,
    "units": 32,
    "activation": "relu",
    "learning_rate": 1e-3,
    "dropout": 0.0,
    "l2": 0.0,
    "optimizer": "adam",
    "batch_size": None,
}
SPACE_KEYS = (*DEFAULTS, "shared_units")


@dataclass(frozen=True)
class Dimension:
    """One searched (or fixed) hyperparameter.

    Attributes
    ----------
    name : str
        The hyperparameter (a key of the space).
    kind : str
        'int', 'float', 'categorical' or 'fixed'.
    low, high : Any
        The range's ends (int and float kinds).
    log : bool
        Sampled on a log scale.
    step : Any
        The grid step, or None.
    choices : tuple
        The choices (categorical), or the one value (fixed).
    """

    name: str
    kind: str  # "int", "float", "categorical" or "fixed"
    low: Any = None
    high: Any = None
    log: bool = False
    step: Any = None
    choices: tuple = ()

    def suggest(self, trial: optuna.Trial, name: str | None = None) -> Any:
        """A value drawn by an Optuna ``trial``.

        Parameters
        ----------
        trial
            The trial that draws it.
        name
            The parameter's name in the trial (default: the dimension's).

        Returns
        -------
        Any
            The value.
        """
        name = name or self.name
        if self.kind == "fixed":
            return self.choices[0]
        if self.kind == "categorical":
            return trial.suggest_categorical(name, list(self.choices))
        if self.kind == "int":
            return trial.suggest_int(name, self.low, self.high, step=self.step or 1, log=self.log)
        return trial.suggest_float(name, self.low, self.high, step=self.step, log=self.log)

    def grid(self, points: int) -> list:
        """Values for the grid sampler (a range is expanded to a few points).

        Parameters
        ----------
        points
            How many evenly spaced points a float range becomes.

        Returns
        -------
        list
            The sorted, distinct values.
        """
        if self.kind in ("fixed", "categorical"):
            return list(self.choices)
        if self.step is not None:
            values = np.arange(self.low, self.high + self.step / 2, self.step)
        elif self.kind == "int" and self.log:
            values, value = [], self.low
            while value < self.high:
                values.append(value)
                value *= 2
            values.append(self.high)
        elif self.kind == "int" and self.high - self.low < 8:
            values = range(self.low, self.high + 1)
        elif self.log:
            values = np.geomspace(self.low, self.high, points)
        else:
            values = np.linspace(self.low, self.high, points)
        cast = int if self.kind == "int" else float
        return sorted({cast(round(v) if self.kind == "int" else v) for v in values})


def parse_space(space: dict) -> dict[str, Dimension]:
    """Check a search-space dict and turn each entry into a :class:`Dimension`.

    Parameters
    ----------
    space
        The search space (keys from :data:`SPACE_KEYS`; missing ones take :data:`DEFAULTS`).

    Returns
    -------
    dict of str to Dimension
        One dimension per key of :data:`DEFAULTS`.

    Raises
    ------
    ArgumentTypeError
        If ``space`` is not a dict.
    ArgumentError
        If a key is unknown or an entry is malformed.
    """
    if not isinstance(space, dict):
        raise ArgumentTypeError(f"the search space must be a dict, got {type(space).__name__}")
    unknown = sorted(set(space) - set(SPACE_KEYS))
    if unknown:
        raise ArgumentError(
            f"unknown search-space keys {unknown}; expected some of {', '.join(SPACE_KEYS)}"
        )
    dims = {}
    for name in DEFAULTS:
        dims[name] = _dimension(name, space.get(name, DEFAULTS[name]))
    for name, least in (("layers", 0), ("units", 1)):
        dim = dims[name]
        values = dim.choices if dim.kind in ("fixed", "categorical") else (dim.low, dim.high)
        if dim.kind == "float" or not all(is_int(v) and v >= least for v in values):
            raise ArgumentError(
                f"search space {name!r} must be integers >= {least}, got {space.get(name)!r}"
            )
    return dims


def _dimension(name: str, spec: Any) -> Dimension:
    if isinstance(spec, list):
        if not spec:
            raise ArgumentError(f"search space {name!r}: the list of choices is empty")
        return Dimension(name, "categorical", choices=tuple(spec))
    if not isinstance(spec, tuple):
        return Dimension(name, "fixed", choices=(spec,))
    if len(spec) not in (2, 3) or not all(is_number(v) for v in spec[:2]):
        raise ArgumentError(
            f"search space {name!r} must be (low, high), (low, high, 'log'), (low, high, step), "
            f"a list of choices or a fixed value; got {spec!r}"
        )
    low, high = spec[:2]
    third = spec[2] if len(spec) == 3 else None
    log = third == "log"
    step = None if log or third is None else third
    if third is not None and not log and not (is_number(step) and step > 0):
        raise ArgumentError(f"search space {name!r}: the third entry must be 'log' or a step > 0")
    if not low <= high:
        raise ArgumentError(f"search space {name!r}: low {low} is above high {high}")
    if log and low <= 0:
        raise ArgumentError(f"search space {name!r}: a log range needs low > 0, got {low}")
    kind = "int" if is_int(low) and is_int(high) and (step is None or is_int(step)) else "float"
    if kind == "float":
        low, high = float(low), float(high)
    return Dimension(name, kind, low, high, log, step)


def is_int(value: Any) -> bool:
    """Whether ``value`` is an integer (a Python or NumPy one; not a bool).

    Parameters
    ----------
    value
        The value to test.

    Returns
    -------
    bool
    """
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    """Whether ``value`` is an integer or a finite float (not a bool).

    Parameters
    ----------
    value
        The value to test.

    Returns
    -------
    bool
    """
    return is_int(value) or (isinstance(value, (float, np.floating)) and math.isfinite(value))


def suggest_config(
    trial: optuna.Trial, dims: dict[str, Dimension], grid: bool = False, shared: bool = False
) -> dict:
    """Draw one network configuration from the space for ``trial``.

    Parameters
    ----------
    trial
        The trial that draws it.
    dims
        The parsed space.
    grid
        For the grid sampler: one ``units`` for every layer.
    shared
        One ``units`` for every layer (the space's ``shared_units``).

    Returns
    -------
    dict
        The configuration: ``units`` a list of widths, one per layer.
    """
    config = {name: dims[name].suggest(trial) for name in DEFAULTS if name != "units"}
    layers = int(config["layers"])
    if grid or shared or dims["units"].kind == "fixed":
        config["units"] = [int(dims["units"].suggest(trial))] * layers
    else:
        config["units"] = [
            int(dims["units"].suggest(trial, f"units_{i + 1}")) for i in range(layers)
        ]
    config["layers"] = layers
    return config


def grid_space(dims: dict[str, Dimension], points: int = 3) -> dict[str, list]:
    """The grid sampler's search space: each searched dimension's grid values.

    Parameters
    ----------
    dims
        The parsed space.
    points
        How many points a float range becomes.

    Returns
    -------
    dict of str to list
        Values per searched (not fixed) dimension.
    """
    return {name: dim.grid(points) for name, dim in dims.items() if dim.kind != "fixed"}
