"""The TabularPreprocessor: a Table in, float32 features and encoded targets out, and back.

This is the data layer behind ``densekit train DATA --target COL`` and
``densekit predict MODEL DATA``: it infers the task from the target, fits one
encoder per feature column, encodes the target and decodes model outputs.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..errors import ArgumentError, ArgumentTypeError, InputError, NotBuiltError
from .cells import is_integer_cell, missing_rows, rows_text, to_number, to_text
from .config import FILL_MODES, TASKS, PreprocessorState
from .encoders import CategoricalColumn, NumericColumn, fit_feature, mean_std, standardize
from .table import Table, column


class TabularPreprocessor:
    """Turns a :class:`Table` into float32 features and encoded targets, and back.

    ``task``: None (infer), "classification" or "regression". Inferred as
    classification when the target is text, or integers with at most
    ``max_classes`` distinct values; regression otherwise.
    ``fill_missing``: None (missing feature cells raise), "mean", "median",
    "most_frequent" or "zero". Text columns fill "mean"/"median" with the most
    frequent category, and "zero" with all zeros. Missing targets always raise.

    Parameters
    ----------
    target
        The name of the column to predict.
    task
        None (infer), "classification" or "regression".
    fill_missing
        None, "mean", "median", "most_frequent" or "zero".
    max_classes
        The most distinct integers an inferred classification target may have.

    Raises
    ------
    ArgumentError, ArgumentTypeError
        If an argument is not one of the values above.
    """

    def __init__(
        self,
        target: str,
        task: str | None = None,
        fill_missing: str | None = None,
        max_classes: int = 20,
    ) -> None:
        _check_arguments(target, task, fill_missing, max_classes)
        self.target = target
        self.task = task  # the resolved task once fitted
        self._requested_task = task
        self.fill_missing = fill_missing
        self.max_classes = max_classes
        self.classes_: list = []
        self.target_mean: float | None = None
        self.target_std: float | None = None
        self._columns: list[NumericColumn | CategoricalColumn] | None = None

    # -- fitting

    def fit(self, table: Table) -> TabularPreprocessor:
        """Learn column types, standardization stats, vocabularies and the target encoding.

        Parameters
        ----------
        table
            The training table, target column included.

        Returns
        -------
        TabularPreprocessor
            ``self``, fitted.

        Raises
        ------
        InputError
            If the target is absent or missing in a row, a feature has missing cells
            (without ``fill_missing``), or the target does not fit the task.
        """
        _check_table(table)
        if table.n_rows == 0:
            raise InputError("cannot fit on a table with no rows")
        targets = column(table, self.target, "target")
        _raise_if_target_missing(self.target, targets)
        features = [name for name in table.columns if name != self.target]
        if not features:
            raise InputError(f"the table has only the target column {self.target!r}; no features")
        if self.fill_missing is None:
            _raise_if_missing(table, features)
        columns = [fit_feature(name, table.data[name], self.fill_missing) for name in features]
        task, classes, stats = self._fit_target(targets)
        self.task, self.classes_, (self.target_mean, self.target_std) = task, classes, stats
        self._columns = columns
        return self

    def _fit_target(self, values: list) -> tuple[str, list, tuple[float | None, float | None]]:
        """(task, classes, (mean, std)) of the target; classes are empty for regression."""
        numbers = [to_number(v) for v in values]
        numeric = all(n is not None for n in numbers)
        if numeric and not all(math.isfinite(n) for n in numbers):
            row = next(i for i, n in enumerate(numbers) if not math.isfinite(n))
            raise InputError(
                f"target {self.target!r}, row {row + 1}: got {values[row]!r}, "
                "expected a finite number"
            )
        task = self._requested_task or _infer_task(values, numeric, self.max_classes)
        if task == "regression":
            if not numeric:
                row = numbers.index(None)
                raise InputError(
                    f"target {self.target!r}, row {row + 1}: got {values[row]!r}; regression "
                    "needs numbers (use task='classification' for labels)"
                )
            return task, [], mean_std(np.array(numbers))
        classes = _classes(numbers if numeric else [to_text(v) for v in values])
        if len(classes) < 2:
            raise InputError(
                f"target {self.target!r} has only the class {classes}; "
                "classification needs at least 2 classes"
            )
        return task, classes, (None, None)

    # -- encoding

    def transform(self, table: Table) -> np.ndarray:
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
        columns = self._fitted_columns()
        _check_table(table)
        absent = [c.name for c in columns if c.name not in table.data]
        if absent:
            raise InputError(
                f"the table lacks feature columns {absent} that the preprocessor was fitted "
                f"on; columns are {table.columns}"
            )
        if self.fill_missing is None:
            _raise_if_missing(table, [c.name for c in columns], fitted=True)
        if not columns or table.n_rows == 0:
            return np.zeros((table.n_rows, self.n_features_out), dtype=np.float32)
        blocks = [column.encode(table.data[column.name]) for column in columns]
        return np.concatenate(blocks, axis=1).astype(np.float32)

    def encode_target(self, table: Table) -> np.ndarray:
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
        self._fitted_columns()
        _check_table(table)
        values = column(table, self.target, "target")
        _raise_if_target_missing(self.target, values)
        if self.task == "regression":
            numbers = np.array([self._target_number(row, v) for row, v in enumerate(values)])
            where = f"target {self.target!r}"
            standard = standardize(numbers, self.target_mean, self.target_std, where)
            return standard.astype(np.float32)[:, None]
        return self._class_indices_of(values)

    def _target_number(self, row: int, value: Any) -> float:
        number = to_number(value)
        if number is None or not math.isfinite(number):
            raise InputError(
                f"target {self.target!r}, row {row + 1}: got {value!r}, "
                "expected a finite number (regression)"
            )
        return number

    def _class_indices_of(self, labels: list) -> np.ndarray:
        """int64 positions of the labels in classes_; numeric labels match by value (1 == 1.0)."""
        text = isinstance(self.classes_[0], str)
        key = to_text if text else to_number
        index = {key(label): i for i, label in enumerate(self.classes_)}
        indices = np.empty(len(labels), dtype=np.int64)
        for row, label in enumerate(labels):
            position = index.get(key(label))
            if position is None:
                raise InputError(
                    f"target {self.target!r}, row {row + 1}: label {label!r} was not seen in "
                    f"training; known classes are {self.classes_[:20]}"
                )
            indices[row] = position
        return indices

    def decode_target(self, y: np.ndarray) -> list | np.ndarray:
        """Model outputs back to the target's own terms.

        Classification: class indices (n,), probabilities (n, n_classes) (argmax), or
        for 2 classes sigmoid probabilities (n, 1) (> 0.5 is the second class) ->
        list of labels. Regression: standardized (n,) or (n, 1) -> float64 (n,) in
        the original units, ``y * std + mean``.

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
        self._fitted_columns()
        y = np.asarray(y)
        if self.task == "regression":
            if y.ndim not in (1, 2) or (y.ndim == 2 and y.shape[1] != 1):
                raise InputError(
                    f"regression outputs have shape {y.shape}; expected (n,) or (n, 1)"
                )
            return y.reshape(-1).astype(np.float64) * self.target_std + self.target_mean
        return [self.classes_[i] for i in self._class_indices(y)]

    def _class_indices(self, y: np.ndarray) -> list[int]:
        k = len(self.classes_)
        if y.ndim == 2 and y.shape[1] == k:
            return np.argmax(y, axis=1).tolist()
        if y.ndim == 2 and y.shape[1] == 1 and k == 2:
            return (y[:, 0] > 0.5).astype(int).tolist()
        if y.ndim == 1:
            bad = ~np.isin(y, np.arange(k))
            if bad.any():
                found = y[bad][0].item()
                raise InputError(f"class index {found!r} is out of range; expected 0..{k - 1}")
            return y.astype(int).tolist()
        raise InputError(
            f"classification outputs have shape {y.shape}; expected class indices (n,), "
            f"probabilities (n, {k})" + (" or (n, 1)" if k == 2 else "")
        )

    # -- what the CLI asks

    def suggest_loss(self) -> tuple[str, int]:
        """The loss and output width a network for this target needs.

        Returns
        -------
        tuple of (str, int)
            (loss name, output units): softmax, sigmoid or linear output layer to match.
        """
        self._fitted_columns()
        if self.task == "regression":
            return "mean_squared_error", 1
        if len(self.classes_) == 2:
            return "binary_crossentropy", 1
        return "sparse_categorical_crossentropy", len(self.classes_)

    @property
    def feature_names(self) -> list[str]:
        """Names of the output columns: 'age' for numeric, 'color=red' for one-hot."""
        return [name for column in self._fitted_columns() for name in column.output_names]

    @property
    def n_features_out(self) -> int:
        """How many float columns :meth:`transform` makes."""
        return len(self.feature_names)

    @property
    def n_classes(self) -> int:
        """How many classes the target has (0 for regression)."""
        return len(self.classes_)

    def _fitted_columns(self) -> list[NumericColumn | CategoricalColumn]:
        if self._columns is None:
            raise NotBuiltError("the TabularPreprocessor is not fitted; call fit(table) first")
        return self._columns

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
        columns = self._fitted_columns()
        return PreprocessorState(
            self.target,
            self.task,
            self.fill_missing,
            self.max_classes,
            columns,
            self.classes_,
            self.target_mean,
            self.target_std,
        ).to_config()

    @classmethod
    def from_config(cls, config: dict) -> TabularPreprocessor:
        """Rebuild a fitted preprocessor from :meth:`get_config`'s output.

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
        state = PreprocessorState.from_config(config)
        prep = cls(
            state.target,
            task=state.task,
            fill_missing=state.fill_missing,
            max_classes=state.max_classes,
        )
        prep.classes_ = state.classes
        prep.target_mean, prep.target_std = state.target_mean, state.target_std
        prep._columns = state.columns
        return prep


def _check_arguments(target: Any, task: Any, fill_missing: Any, max_classes: Any) -> None:
    if not isinstance(target, str) or not target:
        raise ArgumentTypeError(f"target must be a non-empty column name (str), got {target!r}")
    if task is not None and task not in TASKS:
        raise ArgumentError(f"task must be None, 'classification' or 'regression', got {task!r}")
    if fill_missing is not None and fill_missing not in FILL_MODES:
        raise ArgumentError(
            f"fill_missing must be None or one of {list(FILL_MODES)}, got {fill_missing!r}"
        )
    if isinstance(max_classes, bool) or not isinstance(max_classes, int):
        raise ArgumentTypeError(f"max_classes must be an int, got {max_classes!r}")
    if max_classes < 2:
        raise ArgumentError(f"max_classes must be at least 2, got {max_classes}")


def _check_table(table: Any) -> None:
    if not isinstance(table, Table):
        raise ArgumentTypeError(
            f"expected a densekit.tabular.Table (from read_table), got {type(table).__name__}"
        )


def _raise_if_missing(table: Table, names: list[str], fitted: bool = False) -> None:
    """One error naming every feature column with missing cells, and how many."""
    counts = {name: len(missing_rows(table.data[name])) for name in names}
    counts = {name: count for name, count in counts.items() if count}
    if counts:
        listed = ", ".join(f"{name!r}: {count} of {table.n_rows}" for name, count in counts.items())
        modes = f"--fill-missing {{{','.join(FILL_MODES)}}} (fill_missing=...)"
        advice = (
            "the model was trained without --fill-missing, so it cannot fill them: "
            f"fill the cells, or train again with {modes}"
            if fitted
            else f"fill them with {modes} or clean the data"
        )
        raise InputError(f"missing values in feature columns ({listed}); {advice}")


def _raise_if_target_missing(target: str, values: list) -> None:
    rows = missing_rows(values)
    if rows:
        raise InputError(
            f"target {target!r} is missing in {rows_text(rows)}; "
            "every training row needs a target (drop those rows)"
        )


def _infer_task(values: list, numeric: bool, max_classes: int) -> str:
    """Text -> classification; few distinct integers -> classification; else regression."""
    if not numeric:
        return "classification"
    if all(is_integer_cell(v) for v in values) and len(set(map(to_number, values))) <= max_classes:
        return "classification"
    return "regression"


def _classes(labels: list) -> list:
    """Sorted distinct labels; integral numbers become ints (numeric order)."""
    distinct = sorted(set(labels))
    if distinct and not isinstance(distinct[0], str) and all(x.is_integer() for x in distinct):
        return [int(x) for x in distinct]
    return distinct
