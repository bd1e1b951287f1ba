"""Column encoders: one feature column in, float columns out, vectorized.

Conventions:

- A feature column is numeric when its type is numeric, or every non-missing text
  value parses as a number (see :mod:`~densekit.preprocessing.cells`).
- Numeric columns are scaled with training statistics of the observed values:
  ``"standard"``: ``(x - mean) / std`` (a constant column has std 1, so it becomes 0);
  ``"robust"`` (RealMLP-TD, Holzmüller et al. 2024): ``z = (x - median) / s`` with
  ``s`` the interquartile range, or half the range where that is 0 (a constant
  column gives 0), then the smooth clip ``z / sqrt(1 + (z / 3)^2)`` into (-3, 3).
- Missing numbers are filled before scaling: ``fill_missing="auto"`` fills the
  median and, when the column had missing values in training, adds a 0/1
  indicator feature ``"name:missing"``.
- Any other feature column is categorical: one-hot over the sorted categories seen
  in training (``"name=level"``), or one integer code per row (0 = missing or
  unknown, 1..k the sorted levels) for an embedding. Under ``"auto"`` a missing
  cell is its own level (one-hot ``"name:missing"``) when training had missing
  cells. A category not seen in training encodes as all zeros (code 0): the model
  sees "none of the known categories"; the encoder counts them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError
from .cells import MISSING_TOKENS, level_numbers, missing_levels, most_frequent, number_text
from .columns import TextColumn

SCALINGS = ("standard", "robust")
ENCODINGS = ("onehot", "codes")
CATEGORICAL = ("onehot", "codes", "auto")
FILL_MODES = ("auto", "mean", "median", "most_frequent", "zero")
_CLIP = 3.0  # the smooth clip's bound


def numeric_values(name: str, column: np.ndarray | TextColumn, fitted: bool = False) -> np.ndarray:
    """A numeric column's float64 values, NaN where missing; text must parse as numbers.

    Parameters
    ----------
    name
        The column's name, for the error.
    column
        Numbers, or a text column whose levels are numbers or missing markers.
    fitted
        Whether the column was numeric in training (said in the error).

    Returns
    -------
    numpy.ndarray
        float64 (n,).

    Raises
    ------
    InputError
        If a cell is not a finite number; the message names the row and the value.
    """
    if isinstance(column, TextColumn):
        numbers = level_numbers(column.levels)
        missing = missing_levels(column.levels, MISSING_TOKENS)
        bad = (np.isnan(numbers) & ~missing) | np.isinf(numbers)
        numbers[missing] = np.nan
        if bad.any():
            row = int(np.flatnonzero(np.isin(column.codes, np.flatnonzero(bad)))[0])
            value = column.levels[column.codes[row]]
            why = " (the column was numeric in training)" if fitted else ""
            raise InputError(
                f"column {name!r}, row {row + 1}: got {value!r}, expected a finite number{why}"
            )
        values = np.append(numbers, np.nan)[column.codes]
    else:
        values = np.asarray(column, dtype=np.float64)
    infinite = np.isinf(values)
    if infinite.any():
        row = int(np.flatnonzero(infinite)[0])
        raise InputError(
            f"column {name!r}, row {row + 1}: got {float(values[row])!r}, expected a finite number"
        )
    return values


@dataclass(frozen=True)
class Part:
    """Encoded values bound for the feature matrix, written a block of rows at a time.

    Parameters
    ----------
    offset
        The first feature column it fills.
    values
        (n,): the column's values, or (one-hot) each row's position, -1 for none.
    onehot
        0, or the width of a one-hot block: ``values`` are positions to set to 1 in it.
    """

    offset: int
    values: np.ndarray
    onehot: int = 0

    def moved(self, by: int) -> Part:
        """The same part, ``by`` columns further right.

        Parameters
        ----------
        by
            Columns to move.

        Returns
        -------
        Part
            The moved part.
        """
        return Part(self.offset + by, self.values, self.onehot)


ROWS_PER_BLOCK = 16384  # rows written at a time: the block stays in cache


def write_parts(
    parts: list[Part], n_rows: int, width: int, out: np.ndarray | None = None
) -> np.ndarray:
    """Write encoded parts into a C-ordered float32 matrix, one block of rows at a time.

    Writing whole columns into a row-major matrix touches every row's cache line once
    per column; a block of rows at a time keeps them in cache (about 8x faster for
    45 features and a million rows).

    Parameters
    ----------
    parts
        What to write, each at its offset.
    n_rows
        Rows in the matrix.
    width
        Columns in the matrix.
    out
        A C-ordered float32 (n_rows, width) matrix to fill; None: a new one.

    Returns
    -------
    numpy.ndarray
        ``out``, float32 (n_rows, width).
    """
    if out is None:
        out = np.empty((n_rows, width), dtype=np.float32)
    onehot = any(part.onehot for part in parts)
    for start in range(0, n_rows, ROWS_PER_BLOCK):
        rows = slice(start, start + ROWS_PER_BLOCK)
        block = out[rows]
        if onehot:
            block[...] = 0.0
        flat = block.reshape(-1)  # a view: a block of rows of a C-ordered matrix
        for part in parts:
            values = part.values[rows]
            if part.onehot:
                hit = np.flatnonzero(values >= 0)
                flat[hit * width + (part.offset + values[hit])] = 1.0
            else:
                block[:, part.offset] = values
    return out


@dataclass
class NumericColumn:
    """A numeric feature: filled, then scaled with its training statistics.

    Parameters
    ----------
    name
        The column's name.
    scaling
        ``"standard"`` or ``"robust"`` (robust scale and smooth clip).
    center, scale
        standard: the mean and the (positive) std; robust: the median and the
        interquartile (or half) range, 0 for a constant column.
    fill
        The value a missing cell takes; None when filling is off.
    indicator
        Whether a 0/1 ``"name:missing"`` feature follows the value.
    """

    name: str
    scaling: str
    center: float
    scale: float
    fill: float | None
    indicator: bool = False
    missing_: int = field(default=0, compare=False, repr=False)

    @property
    def mean(self) -> float:
        """The training mean (standard scaling's center)."""
        return self.center

    @property
    def std(self) -> float:
        """The training std (standard scaling's scale)."""
        return self.scale

    @property
    def output_names(self) -> list[str]:
        """The features this column becomes: its own name, then ``name:missing``."""
        return [self.name, f"{self.name}:missing"] if self.indicator else [self.name]

    @classmethod
    def fit(
        cls, name: str, values: np.ndarray, fill_missing: str | None, scaling: str = "standard"
    ) -> NumericColumn:
        """Learn the scaling statistics and fill value of a column of numbers.

        Parameters
        ----------
        name
            The column's name.
        values
            float64 (n,), NaN where missing, at least one observed.
        fill_missing
            None, "auto", "mean", "median", "most_frequent" or "zero".
        scaling
            "standard" or "robust".

        Returns
        -------
        NumericColumn
            The fitted encoder.
        """
        missing = np.isnan(values)
        observed = values[~missing]
        if scaling == "robust":
            center, scale = robust_center_scale(observed)
        else:
            center, scale = mean_std(observed)
        fill = None
        if fill_missing in ("auto", "median"):
            fill = float(np.median(observed))
        elif fill_missing == "mean":
            fill = float(observed.mean()) if scaling == "robust" else center
        elif fill_missing == "most_frequent":
            fill = float(most_frequent(observed))
        elif fill_missing == "zero":
            fill = 0.0
        column = cls(
            name, scaling, center, scale, fill, bool(fill_missing == "auto" and missing.any())
        )
        column.missing_ = int(missing.sum())
        return column

    def encode(self, values: np.ndarray) -> np.ndarray:
        """float32 (n, 1 or 2): the scaled value (missing cells filled), then the indicator.

        Parameters
        ----------
        values
            float64 (n,), NaN where missing (see :func:`numeric_values`).

        Returns
        -------
        numpy.ndarray
            The encoded column.
        """
        return write_parts(self.parts(values), len(values), len(self.output_names))

    def parts(self, values: np.ndarray) -> list[Part]:
        """The encoded value (missing cells filled) and the indicator, to write.

        Parameters
        ----------
        values
            float64 (n,), NaN where missing (see :func:`numeric_values`).

        Returns
        -------
        list of Part
            At offsets 0 (and 1).

        Raises
        ------
        InputError
            If a value is too far from the training center to scale.
        """
        missing = np.isnan(values)
        self.missing_ = int(missing.sum())
        if self.missing_ and self.fill is not None:
            values = np.where(missing, self.fill, values)
        if self.scaling == "robust":
            scaled = smooth_clip(robust_scale(values, self.center, self.scale))
        else:
            scaled = standardize(values, self.center, self.scale, f"column {self.name!r}")
        return [Part(0, scaled)] + ([Part(1, missing)] if self.indicator else [])

    def to_config(self) -> dict:
        """The encoder as plain JSON values (read back by the preprocessing config)."""
        return {
            "name": self.name,
            "kind": "numeric",
            "scaling": self.scaling,
            "center": self.center,
            "scale": self.scale,
            "fill": self.fill,
            "indicator": self.indicator,
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


def robust_center_scale(values: np.ndarray) -> tuple[float, float]:
    """RealMLP-TD's robust statistics: the median and the interquartile range.

    Where the quartiles coincide the scale is half the range instead; a constant
    column has scale 0 (it encodes as 0).

    Parameters
    ----------
    values
        Non-empty 1-D array of finite numbers.

    Returns
    -------
    tuple of float
        ``(median, scale)``, ``scale >= 0``.
    """
    q25, median, q75 = np.quantile(values, [0.25, 0.5, 0.75])
    scale = float(q75 - q25)
    if scale == 0.0:
        scale = 0.5 * (float(values.max()) - float(values.min()))
    return float(median), scale if np.isfinite(scale) else float(np.finfo(np.float64).max)


def robust_scale(values: np.ndarray, center: float, scale: float) -> np.ndarray:
    """``(x - center) / scale`` (0 where scale is 0), infinities bounded so the clip holds.

    Parameters
    ----------
    values
        float64 (n,), finite.
    center
        The training median.
    scale
        The training interquartile (or half) range; 0 for a constant column.

    Returns
    -------
    numpy.ndarray
        float64 (n,), finite.
    """
    factor = 0.0 if scale == 0.0 else 1.0 / (scale + 1e-30)
    with np.errstate(over="ignore", invalid="ignore"):
        z = (values - center) * factor
    return np.nan_to_num(z, nan=0.0, posinf=1e300, neginf=-1e300)


def smooth_clip(z: np.ndarray) -> np.ndarray:
    """``z / sqrt(1 + (z / 3)^2)``: near z for small z, bounded by ±3.

    Parameters
    ----------
    z
        float64, finite.

    Returns
    -------
    numpy.ndarray
        The clipped values; ``hypot`` keeps huge ``z`` from overflowing.
    """
    return z / np.hypot(1.0, z / _CLIP)


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


@dataclass
class CategoricalColumn:
    """A text feature: one-hot over its sorted training categories, or integer codes.

    Parameters
    ----------
    name
        The column's name.
    categories
        The sorted categories seen in training.
    fill
        The category a missing cell takes; None: its own level, or unknown.
    encoding
        ``"onehot"`` or ``"codes"`` (0 = missing or unknown, 1..k the categories).
    missing_level
        Whether a missing cell has its own one-hot feature ``"name:missing"``.
    missing_tokens
        Casefolded text that counts as missing in this column besides blank text.
    """

    name: str
    categories: list[str]
    fill: str | None
    encoding: str = "onehot"
    missing_level: bool = False
    missing_tokens: frozenset[str] = frozenset()
    missing_: int = field(default=0, compare=False, repr=False)
    unseen_: int = field(default=0, compare=False, repr=False)

    @property
    def output_names(self) -> list[str]:
        """The features this column becomes: 'color=red' per category, or 'color' (codes)."""
        if self.encoding == "codes":
            return [self.name]
        names = [f"{self.name}={category}" for category in self.categories]
        return names + [f"{self.name}:missing"] if self.missing_level else names

    @property
    def cardinality(self) -> int:
        """How many values a code takes, 0 (missing/unknown) included: ``k + 1``."""
        return len(self.categories) + 1

    @classmethod
    def fit(
        cls,
        name: str,
        column: TextColumn,
        fill_missing: str | None,
        encoding: str = "onehot",
        missing_tokens: frozenset[str] = frozenset(),
    ) -> CategoricalColumn:
        """Learn the categories and how missing cells encode.

        Parameters
        ----------
        name
            The column's name.
        column
            Its cells.
        fill_missing
            None, "auto", "mean", "median", "most_frequent" or "zero"; "mean",
            "median" and "most_frequent" fill with the most frequent category, "zero"
            with all zeros, "auto" gives missing cells their own level.
        encoding
            "onehot" or "codes".
        missing_tokens
            Casefolded text counted as missing (besides blank text).

        Returns
        -------
        CategoricalColumn
            The fitted encoder.
        """
        missing = missing_levels(column.levels, missing_tokens)
        counts = np.bincount(column.codes[column.codes >= 0], minlength=len(column.levels))
        kept = ~missing & (counts > 0)
        categories = sorted(str(level) for level in column.levels[kept])
        n_missing = int((column.codes < 0).sum() + counts[missing].sum())
        fill = None
        if fill_missing in ("mean", "median", "most_frequent"):
            # mean and median have no meaning for text; the most frequent category stands in.
            order = np.argsort(column.levels[kept].astype(str), kind="stable")
            fill = str(most_frequent(column.levels[kept][order], counts[kept][order]))
        missing_level = fill_missing == "auto" and n_missing > 0 and encoding == "onehot"
        encoder = cls(name, categories, fill, encoding, missing_level, frozenset(missing_tokens))
        encoder.missing_ = n_missing
        return encoder

    def positions(self, column: np.ndarray | TextColumn) -> np.ndarray:
        """Each row's category position: 0..k-1, -1 unknown, -2 missing (after any fill).

        Parameters
        ----------
        column
            The column's cells (numbers are compared as their text).

        Returns
        -------
        numpy.ndarray
            int64 (n,).
        """
        if not isinstance(column, TextColumn):
            column = numbers_as_text(column)
        index = {category: i for i, category in enumerate(self.categories)}
        missing = missing_levels(column.levels, self.missing_tokens)
        level_positions = np.array(
            [-2 if gone else index.get(level, -1) for level, gone in zip(column.levels, missing)],
            dtype=np.int64,
        ).reshape(len(column.levels))
        positions = np.append(level_positions, -2)[column.codes]
        is_missing = positions == -2
        self.missing_ = int(is_missing.sum())
        self.unseen_ = int((positions == -1).sum())
        if self.fill is not None:
            positions[is_missing] = index[self.fill]
        elif self.missing_level:
            positions[is_missing] = len(self.categories)
        return positions

    def encode(self, column: np.ndarray | TextColumn) -> np.ndarray:
        """float32 (n, width): one-hot rows, or one column of codes.

        Parameters
        ----------
        column
            The column's cells.

        Returns
        -------
        numpy.ndarray
            One-hot rows, or the codes (see :meth:`parts`).
        """
        return write_parts(self.parts(column), len(column), len(self.output_names))

    def parts(self, column: np.ndarray | TextColumn) -> list[Part]:
        """The one-hot positions, or the codes, to write.

        Parameters
        ----------
        column
            The column's cells.

        Returns
        -------
        list of Part
            One-hot: a 1 at the row's category (or missing level), zeros when unknown.
            Codes: ``position + 1``, 0 when missing or unknown.
        """
        positions = self.positions(column)
        if self.encoding == "codes":
            return [Part(0, np.where(positions >= 0, positions + 1, 0).astype(np.float32))]
        return [Part(0, positions, onehot=len(self.output_names))]

    def to_config(self) -> dict:
        """The encoder as plain JSON values (read back by the preprocessing config)."""
        return {
            "name": self.name,
            "kind": "categorical",
            "encoding": self.encoding,
            "categories": list(self.categories),
            "fill": self.fill,
            "missing_level": self.missing_level,
            "missing_tokens": sorted(self.missing_tokens),
        }


def numbers_as_text(numbers: np.ndarray) -> TextColumn:
    """A numeric column read where text was expected: its numbers as CSV text.

    Parameters
    ----------
    numbers
        float64 (n,), NaN where null.

    Returns
    -------
    TextColumn
        ``3`` for integral values, ``2.5`` otherwise.
    """
    numbers = np.asarray(numbers, dtype=np.float64)
    null = np.isnan(numbers)
    levels, inverse = np.unique(numbers[~null], return_inverse=True)
    codes = np.full(len(numbers), -1, dtype=np.int64)
    codes[~null] = inverse.reshape(-1)
    return TextColumn(codes, number_text(levels))


def is_numeric(column: np.ndarray | TextColumn) -> bool:
    """Whether a feature column is numeric: typed numbers, or text that is all numbers.

    Parameters
    ----------
    column
        The column in one of the two forms.

    Returns
    -------
    bool
        True for numbers; text counts when every level is a number or a missing
        marker, and at least one is a number.
    """
    if not isinstance(column, TextColumn):
        return True
    used = np.zeros(len(column.levels), dtype=bool)
    used[column.codes[column.codes >= 0]] = True
    levels = column.levels[used]
    numbers = level_numbers(levels)
    missing = missing_levels(levels, MISSING_TOKENS)
    return bool((~np.isnan(numbers)).any() and (~np.isnan(numbers) | missing).all())
