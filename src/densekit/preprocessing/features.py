"""The FeatureEncoder: a table's feature columns in, one float32 matrix out.

It fits one encoder per column (see :mod:`~densekit.preprocessing.encoders`),
records what it filled and what it did not know, and says which encoded
features came from which original column.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import ArgumentError, ArgumentTypeError, InputError, NotBuiltError
from .columns import TextColumn, as_column, columns_of
from .config import features_from_config, settings_from_config
from .encoders import (
    CATEGORICAL,
    FILL_MODES,
    SCALINGS,
    CategoricalColumn,
    NumericColumn,
    is_numeric,
    numeric_values,
    write_parts,
)


class FeatureEncoder:
    """Encodes feature columns into float32: numbers scaled, text one-hot or coded.

    Parameters
    ----------
    scaling
        ``"standard"`` (mean/std) or ``"robust"`` (median/IQR and a smooth clip to ±3).
    categorical
        ``"onehot"``, ``"codes"`` (integer codes for an embedding) or ``"auto"``:
        one-hot up to ``max_onehot`` categories, codes above.
    max_onehot
        The most categories a column one-hot encodes under ``"auto"``.
    fill_missing
        ``"auto"`` (numbers: median and a missing indicator; text: its own level),
        ``"mean"``, ``"median"``, ``"most_frequent"``, ``"zero"``, or None: missing
        cells raise.
    missing_values
        Extra text that counts as missing in every column (numeric columns already
        count ``NA``, ``NaN``, ``null``, ``None``, ``?`` and blank text).

    Raises
    ------
    ArgumentError, ArgumentTypeError
        If an argument is not one of the values above.
    """

    def __init__(
        self,
        scaling: str = "standard",
        categorical: str = "onehot",
        max_onehot: int = 32,
        fill_missing: str | None = "auto",
        missing_values: tuple[str, ...] | list[str] = (),
    ) -> None:
        check_encoding_arguments(scaling, categorical, max_onehot, fill_missing)
        if isinstance(missing_values, str) or not all(
            isinstance(value, str) for value in missing_values
        ):
            raise ArgumentTypeError(f"missing_values must be a list of str, got {missing_values!r}")
        self.scaling = scaling
        self.categorical = categorical
        self.max_onehot = max_onehot
        self.fill_missing = fill_missing
        self.missing_values = tuple(missing_values)
        self.columns_: list[NumericColumn | CategoricalColumn] | None = None

    # -- fitting and encoding

    def fit(self, data: Any, names: list[str] | None = None) -> FeatureEncoder:
        """Learn each column's type, statistics and categories.

        Parameters
        ----------
        data
            A table: dict of columns, pandas DataFrame, densekit Table or 2-D array.
        names
            The feature columns, in order; None: every column.

        Returns
        -------
        FeatureEncoder
            ``self``, fitted.

        Raises
        ------
        InputError
            If a column has no values, a cell is not finite, or (``fill_missing=None``)
            a cell is missing.
        """
        all_names, get = columns_of(data)
        names = all_names if names is None else names
        if not names:
            raise InputError("there are no feature columns to encode")
        tokens = frozenset(value.strip().casefold() for value in self.missing_values)
        columns, missing = [], {}
        for name in names:
            column, _ = as_column(get(name))
            encoder = self._fit_column(name, column, tokens)
            if encoder.missing_:
                missing[name] = encoder.missing_
            columns.append(encoder)
        if self.fill_missing is None and missing:
            raise_missing(missing, len(as_column(get(names[0]))[0]))
        self.columns_ = columns
        return self

    def _fit_column(
        self, name: str, column: np.ndarray | TextColumn, tokens: frozenset[str]
    ) -> NumericColumn | CategoricalColumn:
        if isinstance(column, TextColumn) and tokens:
            column = _without(column, tokens)
        if is_numeric(column):
            values = numeric_values(name, column)
            if np.isnan(values).all():
                raise _empty(name)
            return NumericColumn.fit(name, values, self.fill_missing, self.scaling)
        encoder = CategoricalColumn.fit(name, column, self.fill_missing, "onehot", tokens)
        if not encoder.categories:
            raise _empty(name)
        if self.categorical == "codes" or (
            self.categorical == "auto" and len(encoder.categories) > self.max_onehot
        ):
            encoder = CategoricalColumn.fit(name, column, self.fill_missing, "codes", tokens)
        return encoder

    def transform(self, data: Any) -> np.ndarray:
        """float32 (n, n_features_out): the encoded features; other columns are ignored.

        Parameters
        ----------
        data
            A table with the fitted columns (any order, extra columns allowed).

        Returns
        -------
        numpy.ndarray
            The encoded features.

        Raises
        ------
        InputError
            If a fitted column is absent, or a cell cannot be encoded.
        NotBuiltError
            If the encoder is not fitted.
        """
        encoders = self.fitted_columns()
        names, get = columns_of(data)
        absent = [encoder.name for encoder in encoders if encoder.name not in names]
        if absent:
            raise InputError(
                f"the table lacks feature columns {absent} that the preprocessor was fitted "
                f"on; columns are {names}"
            )
        values = []
        for encoder in encoders:
            column, _ = as_column(get(encoder.name))
            if isinstance(encoder, NumericColumn):
                column = numeric_values(encoder.name, column, fitted=True)
            values.append(column)
        if self.fill_missing is None:
            counts = {e.name: _missing_count(e, v) for e, v in zip(encoders, values, strict=True)}
            counts = {name: count for name, count in counts.items() if count}
            if counts:
                raise_missing(counts, len(values[0]), fitted=True)
        parts, start = [], 0
        for encoder, column in zip(encoders, values, strict=True):
            parts += [part.moved(start) for part in encoder.parts(column)]
            start += len(encoder.output_names)
        return write_parts(parts, len(values[0]), start)

    def fit_transform(self, data: Any, names: list[str] | None = None) -> np.ndarray:
        """:meth:`fit`, then :meth:`transform` of the same table.

        Parameters
        ----------
        data
            The table.
        names
            The feature columns; None: every column.

        Returns
        -------
        numpy.ndarray
            The encoded features.
        """
        return self.fit(data, names).transform(data)

    # -- what was learned

    def fitted_columns(self) -> list[NumericColumn | CategoricalColumn]:
        """The fitted per-column encoders, in column order.

        Returns
        -------
        list
            NumericColumn and CategoricalColumn objects.

        Raises
        ------
        NotBuiltError
            If the encoder is not fitted.
        """
        if self.columns_ is None:
            raise NotBuiltError("the preprocessor is not fitted; call fit(table) first")
        return self.columns_

    @property
    def feature_names(self) -> list[str]:
        """Names of the encoded features: 'age', 'age:missing', 'color=red', ..."""
        return [name for column in self.fitted_columns() for name in column.output_names]

    @property
    def n_features_out(self) -> int:
        """How many float columns :meth:`transform` makes."""
        return len(self.feature_names)

    @property
    def input_names(self) -> list[str]:
        """The original columns the encoder reads, in order."""
        return [column.name for column in self.fitted_columns()]

    @property
    def feature_columns(self) -> list[str]:
        """For each encoded feature, the original column it came from."""
        return [c.name for c in self.fitted_columns() for _ in c.output_names]

    def feature_groups(self) -> dict[str, list[int]]:
        """Encoded feature positions by original column (to sum importance per column).

        Returns
        -------
        dict
            Original column name -> the indices of its encoded features, in order.
        """
        groups: dict[str, list[int]] = {}
        for position, name in enumerate(self.feature_columns):
            groups.setdefault(name, []).append(position)
        return groups

    def embedding_columns(self) -> list[tuple[int, int]]:
        """The integer-coded features: (feature position, number of codes incl. 0).

        Returns
        -------
        list of tuple
            One ``(position, cardinality)`` per ``"codes"`` column.
        """
        found, position = [], 0
        for column in self.fitted_columns():
            if isinstance(column, CategoricalColumn) and column.encoding == "codes":
                found.append((position, column.cardinality))
            position += len(column.output_names)
        return found

    def filled(self) -> dict[str, str]:
        """What fitting filled: column -> how many cells and with what.

        Returns
        -------
        dict
            e.g. ``{"age": "177 cells with the median 28 (+ indicator)"}``.
        """
        found = {}
        for column in self.fitted_columns():
            if not column.missing_:
                continue
            if isinstance(column, NumericColumn):
                how = "nothing" if column.fill is None else f"{column.fill:.4g}"
                how += " (+ indicator)" if column.indicator else ""
            elif column.fill is not None:
                how = repr(column.fill)
            else:
                how = "their own level" if column.missing_level else "unknown (all zeros)"
                how = "code 0" if column.encoding == "codes" else how
            found[column.name] = f"{column.missing_} with {how}"
        return found

    def filled_summary(self) -> str:
        """One line saying what was filled, or '' when nothing was.

        Returns
        -------
        str
            e.g. ``"filled missing values: age 177 with 28 (+ indicator); deck 688 ..."``.
        """
        found = self.filled()
        if not found:
            return ""
        return "filled missing values: " + "; ".join(f"{k} {v}" for k, v in found.items())

    def unseen(self) -> dict[str, int]:
        """Categories unseen in training in the last :meth:`transform`: column -> cells.

        Returns
        -------
        dict
            Only columns with at least one unseen cell.
        """
        return {
            column.name: column.unseen_
            for column in self.fitted_columns()
            if isinstance(column, CategoricalColumn) and column.unseen_
        }

    # -- config

    def get_config(self) -> dict:
        """The fitted encoders as plain JSON values (see :func:`feature_from_config`).

        Returns
        -------
        dict
            ``{"features": [...], "settings": {...}}``.
        """
        return {
            "settings": {
                "scaling": self.scaling,
                "categorical": self.categorical,
                "max_onehot": self.max_onehot,
                "fill_missing": self.fill_missing,
                "missing_values": list(self.missing_values),
            },
            "features": [column.to_config() for column in self.fitted_columns()],
        }

    @classmethod
    def from_config(cls, config: dict) -> FeatureEncoder:
        """Rebuild a fitted encoder from :meth:`get_config`'s output, checking every field.

        Parameters
        ----------
        config
            The config.

        Returns
        -------
        FeatureEncoder
            The fitted encoder.

        Raises
        ------
        ModelFileError
            If a field is malformed.
        """
        settings = settings_from_config(config)
        encoder = cls(**settings)
        encoder.columns_ = features_from_config(
            config.get("features"), "['features']", settings["fill_missing"], version=2
        )
        return encoder


def check_encoding_arguments(
    scaling: Any, categorical: Any, max_onehot: Any, fill_missing: Any
) -> None:
    """Raise if an encoding setting is not one of its values.

    Parameters
    ----------
    scaling
        "standard" or "robust".
    categorical
        "onehot", "codes" or "auto".
    max_onehot
        A positive int.
    fill_missing
        None or one of FILL_MODES.

    Raises
    ------
    ArgumentError
        On the first setting out of its range, naming it.
    ArgumentTypeError
        On the first setting of the wrong type, naming it.
    """
    if scaling not in SCALINGS:
        raise ArgumentError(f"scaling must be one of {list(SCALINGS)}, got {scaling!r}")
    if categorical not in CATEGORICAL:
        raise ArgumentError(f"categorical must be one of {list(CATEGORICAL)}, got {categorical!r}")
    if isinstance(max_onehot, bool) or not isinstance(max_onehot, int):
        raise ArgumentTypeError(f"max_onehot must be an int, got {max_onehot!r}")
    if max_onehot < 1:
        raise ArgumentError(f"max_onehot must be at least 1, got {max_onehot}")
    if fill_missing is not None and fill_missing not in FILL_MODES:
        raise ArgumentError(
            f"fill_missing must be None or one of {list(FILL_MODES)}, got {fill_missing!r}"
        )


def raise_missing(counts: dict[str, int], n_rows: int, fitted: bool = False) -> None:
    """One error naming every feature column with missing cells, and how many.

    Parameters
    ----------
    counts
        Column -> missing cells (non-zero).
    n_rows
        Rows in the table.
    fitted
        Whether the preprocessing was fitted without filling (at transform).

    Raises
    ------
    InputError
        Always.
    """
    listed = ", ".join(f"{name!r}: {count} of {n_rows}" for name, count in counts.items())
    modes = f"--fill-missing {{{','.join(FILL_MODES)}}} (fill_missing=...)"
    advice = (
        "the model was trained with --fill-missing none, so it cannot fill them: "
        f"fill the cells, or train again with {modes}"
        if fitted
        else f"fill them with {modes} or clean the data"
    )
    raise InputError(f"missing values in feature columns ({listed}); {advice}")


def _missing_count(encoder: NumericColumn | CategoricalColumn, values: Any) -> int:
    if isinstance(encoder, NumericColumn):
        return int(np.isnan(values).sum())
    encoder.positions(values)
    return encoder.missing_


def _without(column: TextColumn, tokens: frozenset[str]) -> TextColumn:
    """The column with the user's missing markers made null."""
    gone = np.array([level.casefold() in tokens for level in column.levels], dtype=bool)
    if not gone.any():
        return column
    codes = np.where(np.append(gone, True)[column.codes], -1, column.codes)
    return TextColumn(codes, column.levels)


def _empty(name: str) -> InputError:
    return InputError(
        f"column {name!r} has no values (every cell is missing); drop it (--drop {name!r})"
    )
