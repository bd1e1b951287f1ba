"""The TabularPreprocessor: a table with a target in, float32 features and targets out, and back.

This is the data layer behind ``densekit train DATA --target COL`` and
``densekit predict MODEL DATA``: a :class:`FeatureEncoder` for the features and a
:class:`TargetEncoder` for the target, stored together as one JSON config.
"""

from __future__ import annotations

import difflib
from typing import Any

import numpy as np

from ..errors import ArgumentTypeError, InputError
from .columns import as_column, columns_of
from .encoders import CategoricalColumn, NumericColumn
from .features import FeatureEncoder, check_encoding_arguments
from .target import TargetEncoder

HIGH_CARDINALITY = 100  # one-hot columns with more categories than this are warned about


class TabularPreprocessor:
    """Turns a table into float32 features and encoded targets, and back.

    ``task``: None (infer), "classification" or "regression". Inferred as
    classification when the target is text, or integers with at most
    ``max_classes`` distinct values; regression otherwise. Missing targets always
    raise; missing features are handled as ``fill_missing`` says (see
    :class:`FeatureEncoder`).

    Parameters
    ----------
    target
        The name of the column to predict.
    task
        None (infer), "classification" or "regression".
    fill_missing
        "auto" (default), "mean", "median", "most_frequent", "zero", or None (raise).
    max_classes
        The most distinct integers an inferred classification target may have.
    scaling
        "standard" or "robust" (see :class:`FeatureEncoder`).
    categorical
        "onehot", "codes" or "auto".
    max_onehot
        Under ``categorical="auto"``, the most categories a column one-hot encodes.
    missing_values
        Extra text counted as missing in every feature column.

    Raises
    ------
    ArgumentError, ArgumentTypeError
        If an argument is not one of the values above.
    """

    def __init__(
        self,
        target: str,
        task: str | None = None,
        fill_missing: str | None = "auto",
        max_classes: int = 20,
        scaling: str = "standard",
        categorical: str = "onehot",
        max_onehot: int = 32,
        missing_values: tuple[str, ...] | list[str] = (),
    ) -> None:
        if not isinstance(target, str) or not target:
            raise ArgumentTypeError(f"target must be a non-empty column name (str), got {target!r}")
        check_encoding_arguments(scaling, categorical, max_onehot, fill_missing)
        self.target = target
        self.fill_missing = fill_missing
        self.features = FeatureEncoder(
            scaling, categorical, max_onehot, fill_missing, missing_values
        )
        self.target_encoder = TargetEncoder(task, max_classes, name=target)
        self.warnings_: list[str] = []

    # -- settings and fitted state, by their familiar names

    @property
    def task(self) -> str | None:
        """The resolved task once fitted ("classification" or "regression"), else as asked."""
        return self.target_encoder.task or self.target_encoder.requested_task

    @property
    def max_classes(self) -> int:
        """The most distinct integers an inferred classification target may have."""
        return self.target_encoder.max_classes

    @property
    def classes_(self) -> list:
        """The sorted class labels (classification), else empty."""
        return self.target_encoder.classes_

    @property
    def target_mean(self) -> float | None:
        """The target's training mean (regression), else None."""
        return self.target_encoder.mean

    @property
    def target_std(self) -> float | None:
        """The target's training std (regression), else None."""
        return self.target_encoder.std

    @property
    def columns_(self) -> list[NumericColumn | CategoricalColumn]:
        """The fitted per-column encoders (see :meth:`FeatureEncoder.fitted_columns`)."""
        return self.features.fitted_columns()

    # -- fitting

    def fit(self, table: Any) -> TabularPreprocessor:
        """Learn column types, scaling statistics, vocabularies and the target encoding.

        Parameters
        ----------
        table
            The training table, target column included: a densekit Table, a dict of
            columns or a pandas DataFrame.

        Returns
        -------
        TabularPreprocessor
            ``self``, fitted.

        Raises
        ------
        InputError
            If the target is absent or missing in a row, a feature has missing cells
            (with ``fill_missing=None``), or the target does not fit the task.
        """
        names, get = _table_columns(table)
        targets = named_column(names, get, self.target, "target")
        if len(as_column(targets)[0]) == 0:
            raise InputError("cannot fit on a table with no rows")
        features = [name for name in names if name != self.target]
        if not features:
            raise InputError(f"the table has only the target column {self.target!r}; no features")
        target = TargetEncoder(
            self.target_encoder.requested_task, self.max_classes, name=self.target
        ).fit(targets)
        self.features.fit(table, features)
        self.target_encoder = target
        self.warnings_ = target.warnings_ + _cardinality_warnings(self.features, len(targets))
        return self

    # -- encoding

    def transform(self, table: Any) -> np.ndarray:
        """float32 features (n, n_features_out); the target column is ignored and may be absent.

        Parameters
        ----------
        table
            A table with the columns the preprocessor was fitted on.

        Returns
        -------
        numpy.ndarray
            The encoded features, float32 (n, n_features_out).

        Raises
        ------
        InputError
            If a feature column is absent, or a cell cannot be encoded.
        NotBuiltError
            If the preprocessor is not fitted.
        """
        self.features.fitted_columns()
        _table_columns(table)
        return self.features.transform(table)

    def encode_target(self, table: Any) -> np.ndarray:
        """Classification: int64 class indices (n,). Regression: float32 standardized (n, 1).

        Parameters
        ----------
        table
            A table with the target column.

        Returns
        -------
        numpy.ndarray
            The encoded target.

        Raises
        ------
        InputError
            If the target is absent or missing, or holds a label or number it cannot encode.
        NotBuiltError
            If the preprocessor is not fitted.
        """
        self.features.fitted_columns()
        names, get = _table_columns(table)
        return self.target_encoder.transform(named_column(names, get, self.target, "target"))

    def decode_target(self, y: np.ndarray) -> list | np.ndarray:
        """Model outputs back to the target's own terms (see :meth:`TargetEncoder.inverse_transform`).

        Parameters
        ----------
        y
            The model's outputs.

        Returns
        -------
        list or numpy.ndarray
            Class labels (classification) or numbers in the target's units (regression).

        Raises
        ------
        InputError
            If ``y`` has a shape, or holds a class index, the task cannot decode.
        NotBuiltError
            If the preprocessor is not fitted.
        """
        self.features.fitted_columns()
        return self.target_encoder.inverse_transform(y)

    # -- what the CLI asks

    def suggest_loss(self) -> tuple[str, int]:
        """The loss and output width a network for this target needs.

        Returns
        -------
        tuple of (str, int)
            (loss name, output units): softmax, sigmoid or linear output layer to match.
        """
        self.features.fitted_columns()
        if self.task == "regression":
            return "mean_squared_error", 1
        if len(self.classes_) == 2:
            return "binary_crossentropy", 1
        return "sparse_categorical_crossentropy", len(self.classes_)

    @property
    def feature_names(self) -> list[str]:
        """Names of the encoded features: 'age' for numeric, 'color=red' for one-hot."""
        return self.features.feature_names

    @property
    def n_features_out(self) -> int:
        """How many float columns :meth:`transform` makes."""
        return self.features.n_features_out

    @property
    def input_names(self) -> list[str]:
        """The original feature columns, in order."""
        return self.features.input_names

    @property
    def n_classes(self) -> int:
        """How many classes the target has (0 for regression)."""
        return len(self.classes_)

    def feature_groups(self) -> dict[str, list[int]]:
        """Encoded feature positions by original column (see :meth:`FeatureEncoder.feature_groups`).

        Returns
        -------
        dict
            Original column name -> the indices of its encoded features.
        """
        return self.features.feature_groups()

    def filled_summary(self) -> str:
        """One line saying what fitting filled, or '' (see :meth:`FeatureEncoder.filled`).

        Returns
        -------
        str
            The line.
        """
        return self.features.filled_summary()

    def unseen(self) -> dict[str, int]:
        """Cells with categories unseen in training in the last :meth:`transform`, by column.

        Returns
        -------
        dict
            Column -> count, only where non-zero.
        """
        return self.features.unseen()

    # -- config

    def get_config(self) -> dict:
        """Everything needed to rebuild this preprocessor, as plain JSON values.

        Returns
        -------
        dict
            The config that :meth:`from_config` reads.

        Raises
        ------
        NotBuiltError
            If the preprocessor is not fitted.
        """
        from .config import PreprocessorState

        return PreprocessorState(
            self.target,
            self.task,
            self.fill_missing,
            self.max_classes,
            self.features.fitted_columns(),
            self.classes_,
            self.target_mean,
            self.target_std,
            self.features.get_config()["settings"],
        ).to_config()

    @classmethod
    def from_config(cls, config: dict) -> TabularPreprocessor:
        """Rebuild a fitted preprocessor from :meth:`get_config`'s output (any version).

        Parameters
        ----------
        config
            The config, as stored in a model file.

        Returns
        -------
        TabularPreprocessor
            The fitted preprocessor.

        Raises
        ------
        ModelFileError
            If any field is malformed.
        """
        from .config import PreprocessorState

        state = PreprocessorState.from_config(config)
        settings = {k: v for k, v in state.settings.items() if k != "fill_missing"}
        prep = cls(
            state.target,
            task=state.task,
            fill_missing=state.fill_missing,
            max_classes=state.max_classes,
            **settings,
        )
        target = prep.target_encoder
        target.task, target.classes_ = state.task, state.classes
        target.mean, target.std = state.target_mean, state.target_std
        prep.features.columns_ = state.columns
        return prep


def named_column(names: list[str], get: Any, name: str, role: str) -> Any:
    """A column's values by name, or an error that suggests a close name.

    Parameters
    ----------
    names
        The table's column names.
    get
        Gets a column by name.
    name
        The column asked for.
    role
        What it is for ("target", "--drop"), to name in the error.

    Returns
    -------
    object
        The column's values.

    Raises
    ------
    InputError
        If the table has no such column.
    """
    if name not in names:
        same_but_case = [column for column in names if column.casefold() == name.casefold()]
        hint = same_but_case or difflib.get_close_matches(name, names, n=1)
        maybe = f" (did you mean {hint[0]!r}?)" if hint else ""
        raise InputError(f"{role} column {name!r} is not in the table{maybe}; columns are {names}")
    return get(name)


def _table_columns(table: Any) -> tuple[list[str], Any]:
    if isinstance(table, np.ndarray):
        raise ArgumentTypeError(
            "expected a table with named columns (a densekit Table from read_table, a dict "
            f"of columns or a DataFrame), got {type(table).__name__}"
        )
    try:
        return columns_of(table)
    except ArgumentTypeError:
        raise ArgumentTypeError(
            "expected a densekit.tabular.Table (from read_table), a dict of columns or a "
            f"DataFrame, got {type(table).__name__}"
        ) from None


def _cardinality_warnings(features: FeatureEncoder, n_rows: int) -> list[str]:
    """One line per one-hot text column with very many categories (IDs are warned elsewhere)."""
    found = []
    for column in features.fitted_columns():
        k = len(column.categories) if isinstance(column, CategoricalColumn) else 0
        if column.__class__ is CategoricalColumn and column.encoding == "onehot":
            if HIGH_CARDINALITY < k < n_rows:
                found.append(
                    f"column {column.name!r} has {k} distinct text values, one-hot encoded into "
                    f"{k} features; is it free text? (drop it with --drop {column.name!r})"
                )
    return found
