"""Column encoders: one feature column of raw cells in, float columns out.

Conventions:

- A feature column is numeric when every non-missing cell parses as a number
  (see :func:`~densekit.tabular.cells.to_feature_number`); numeric columns are
  standardized, ``(x - mean) / std``, with the training statistics (a constant
  column has std 1, so it becomes 0).
- Any other feature column is categorical and is one-hot encoded over the
  sorted categories seen in training. A category not seen in training encodes
  as all zeros: the model sees "none of the known categories".
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from .cells import is_missing, most_frequent, to_feature_number, to_text


@dataclass
class NumericColumn:
    """A numeric feature, standardized with its training mean and std.

    Parameters
    ----------
    name
        The column's name.
    mean, std
        The training statistics; ``std`` is positive.
    fill
        The value a missing cell takes; None when filling is off.
    """

    name: str
    mean: float
    std: float
    fill: float | None  # the value a missing cell takes; None when filling is off

    @property
    def output_names(self) -> list[str]:
        """The one feature this column becomes: its own name."""
        return [self.name]

    @classmethod
    def fit(cls, name: str, values: list, fill_missing: str | None) -> NumericColumn:
        """Learn the mean, std and fill value of a column of numbers.

        Parameters
        ----------
        name
            The column's name.
        values
            Its raw cells; every non-missing one is a number.
        fill_missing
            None, "mean", "median", "most_frequent" or "zero".

        Returns
        -------
        NumericColumn
            The fitted encoder.

        Raises
        ------
        InputError
            If a cell is an infinite number.
        """
        _check_finite(name, values)
        observed = np.array([to_feature_number(v) for v in values if not is_missing(v)])
        mean, std = mean_std(observed)
        fill = None
        if fill_missing == "mean":
            fill = mean
        elif fill_missing == "median":
            fill = float(np.median(observed))
        elif fill_missing == "most_frequent":
            fill = float(most_frequent(observed.tolist()))
        elif fill_missing == "zero":
            fill = 0.0
        return cls(name, mean, std, fill)

    def encode(self, values: list) -> np.ndarray:
        """(n, 1) float64: (x - mean) / std, missing cells replaced by the fill value.

        Parameters
        ----------
        values
            The column's raw cells.

        Returns
        -------
        numpy.ndarray
            The standardized column, shape (n, 1).

        Raises
        ------
        InputError
            If a cell is not a finite number, or is too far from the mean to standardize.
        """
        numbers = np.empty(len(values))
        for row, value in enumerate(values):
            number = self.fill if is_missing(value) else to_feature_number(value)
            if number is None or not math.isfinite(number):
                raise InputError(
                    f"column {self.name!r}, row {row + 1}: got {value!r}, expected a finite "
                    "number (the column was numeric in training)"
                )
            numbers[row] = number
        return standardize(numbers, self.mean, self.std, f"column {self.name!r}")[:, None]

    def to_config(self) -> dict:
        """The encoder as plain JSON values (read back by the tabular config)."""
        return {
            "name": self.name,
            "kind": "numeric",
            "mean": self.mean,
            "std": self.std,
            "fill": self.fill,
        }


def mean_std(values: np.ndarray) -> tuple[float, float]:
    """Mean and std (1 for a constant column), safe for values near the float64 limit.

    They are computed on values / max|value| when squares of the values would overflow
    float64 (cells near 1e308 are finite, and legal).

    Parameters
    ----------
    values
        Non-empty 1-D array of finite numbers.

    Returns
    -------
    tuple of float
        ``(mean, std)``, with ``std > 0``.
    """
    scale = float(np.abs(values).max())
    if scale < 1e150:
        mean, std = float(values.mean()), float(values.std())
    else:
        scaled = values / scale
        mean, std = float(scaled.mean()) * scale, float(scaled.std()) * scale
    return mean, (std if std > 0 else 1.0)


def standardize(numbers: np.ndarray, mean: float, std: float, where: str) -> np.ndarray:
    """``(x - mean) / std``, as ``x / std - mean / std`` so huge cells do not overflow.

    Parameters
    ----------
    numbers
        1-D float array.
    mean
        The training mean.
    std
        The training standard deviation, > 0.
    where
        What the numbers are ("column 'age'"), to name in the error.

    Returns
    -------
    numpy.ndarray
        The standardized numbers, all finite.

    Raises
    ------
    InputError
        If a number is too far from the mean for the result to be finite.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        standard = (numbers - mean) / std
        if not np.isfinite(standard).all():
            standard = numbers / std - mean / std
    if not np.isfinite(standard).all():
        row = int(np.flatnonzero(~np.isfinite(standard))[0])
        raise InputError(
            f"{where}, row {row + 1}: {numbers[row]!r} is too far from the training mean "
            f"{mean:.4g} to standardize; expected values within float64 range of it"
        )
    return standard


def _check_finite(name: str, values: list) -> None:
    for row, value in enumerate(values):
        if not is_missing(value) and not math.isfinite(to_feature_number(value)):
            raise InputError(
                f"column {name!r}, row {row + 1}: got {value!r}, expected a finite number"
            )


@dataclass
class CategoricalColumn:
    """A text feature, one-hot over its sorted training categories (unseen -> all zeros).

    Parameters
    ----------
    name
        The column's name.
    categories
        The sorted categories seen in training.
    fill
        The category a missing cell takes; None: all zeros (or filling is off).
    """

    name: str
    categories: list[str]
    fill: str | None  # the category a missing cell takes; None: all zeros (or filling is off)

    @property
    def output_names(self) -> list[str]:
        """The features this column becomes: 'color=red', one per category."""
        return [f"{self.name}={category}" for category in self.categories]

    @classmethod
    def fit(cls, name: str, values: list, fill_missing: str | None) -> CategoricalColumn:
        """Learn the categories and fill category of a text column.

        Parameters
        ----------
        name
            The column's name.
        values
            Its raw cells.
        fill_missing
            None, "mean", "median", "most_frequent" or "zero"; the first three fill
            with the most frequent category, "zero" with all zeros.

        Returns
        -------
        CategoricalColumn
            The fitted encoder.
        """
        observed = [to_text(v) for v in values if not is_missing(v)]
        # mean and median have no meaning for text; the most frequent category stands in.
        fill = (
            most_frequent(observed) if fill_missing in ("mean", "median", "most_frequent") else None
        )
        return cls(name, sorted(set(observed)), fill)

    def encode(self, values: list) -> np.ndarray:
        """(n, n_categories) float64 one-hot rows.

        Parameters
        ----------
        values
            The column's raw cells.

        Returns
        -------
        numpy.ndarray
            One row per cell: a 1 at its category, all zeros for an unseen one.
        """
        index = {category: i for i, category in enumerate(self.categories)}
        block = np.zeros((len(values), len(self.categories)))
        for row, value in enumerate(values):
            category = self.fill if is_missing(value) else to_text(value)
            position = index.get(category)
            if position is not None:
                block[row, position] = 1.0
        return block

    def to_config(self) -> dict:
        """The encoder as plain JSON values (read back by the tabular config)."""
        return {
            "name": self.name,
            "kind": "categorical",
            "categories": list(self.categories),
            "fill": self.fill,
        }


def fit_feature(
    name: str, values: list, fill_missing: str | None
) -> NumericColumn | CategoricalColumn:
    """The encoder a feature column needs: numeric when every cell is a number, else one-hot.

    Parameters
    ----------
    name
        The column's name.
    values
        Its raw cells.
    fill_missing
        How missing cells fill (see :class:`~densekit.tabular.TabularPreprocessor`).

    Returns
    -------
    NumericColumn or CategoricalColumn
        The fitted encoder.

    Raises
    ------
    InputError
        If every cell is missing.
    """
    observed = [v for v in values if not is_missing(v)]
    if not observed:
        raise InputError(
            f"column {name!r} has no values (every cell is missing); drop it (--drop {name!r})"
        )
    if all(to_feature_number(v) is not None for v in observed):
        return NumericColumn.fit(name, values, fill_missing)
    return CategoricalColumn.fit(name, values, fill_missing)
