"""The TargetEncoder: labels to class indices, numbers to standardized values, and back.

The task is inferred as classification when the target is text, or integers with
at most ``max_classes`` distinct values; regression otherwise. A target cell is
missing when it is null, blank or a missing marker (``NA``, ``None``, ...), and
a missing target always raises: every training row needs one.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import ArgumentError, ArgumentTypeError, InputError, NotBuiltError
from .cells import MISSING_TOKENS, integer_levels, level_numbers, missing_levels, rows_text
from .columns import TextColumn, as_column
from .encoders import mean_std, numbers_as_text, standardize

TASKS = ("classification", "regression")


class TargetEncoder:
    """Encodes a target column for a network and decodes the network's outputs.

    Parameters
    ----------
    task
        None (infer), "classification" or "regression".
    max_classes
        The most distinct integers an inferred classification target may have.
    name
        The target's name, for messages.

    Raises
    ------
    ArgumentError, ArgumentTypeError
        If an argument is not one of the values above.
    """

    def __init__(self, task: str | None = None, max_classes: int = 20, name: str = "y") -> None:
        if task is not None and task not in TASKS:
            raise ArgumentError(
                f"task must be None, 'classification' or 'regression', got {task!r}"
            )
        if isinstance(max_classes, bool) or not isinstance(max_classes, int):
            raise ArgumentTypeError(f"max_classes must be an int, got {max_classes!r}")
        if max_classes < 2:
            raise ArgumentError(f"max_classes must be at least 2, got {max_classes}")
        self.requested_task = task
        self.max_classes = max_classes
        self.name = name
        self.task: str | None = None
        self.classes_: list = []
        self.mean: float | None = None
        self.std: float | None = None
        self.warnings_: list[str] = []

    def fit(self, values: Any) -> TargetEncoder:
        """Learn the task, the classes or the mean and std.

        Parameters
        ----------
        values
            The target column (list, array, Series, pyarrow array, TextColumn).

        Returns
        -------
        TargetEncoder
            ``self``, fitted.

        Raises
        ------
        InputError
            If a target is missing, not finite, or does not fit the task.
        """
        column, typed_integer = as_column(values)
        numbers = self._numbers(column)
        numeric = numbers is not None
        self.warnings_ = []
        task = self.requested_task
        if task is None:
            integer = typed_integer or (
                isinstance(column, TextColumn) and numeric and integer_levels(_used(column))
            )
            few = numeric and len(np.unique(numbers)) <= self.max_classes
            task = "classification" if not numeric or (integer and few) else "regression"
        if task == "regression":
            if not numeric:
                row = self._first_text_row(column)
                raise InputError(
                    f"target {self.name!r}, row {row + 1}: got {column.tolist()[row]!r}; "
                    "regression needs numbers (use task='classification' for labels)"
                )
            self.mean, self.std = mean_std(numbers)
            self.classes_ = []
            distinct = np.unique(numbers)
            if self.requested_task is None and len(distinct) == 2 and set(distinct) == {0, 1}:
                self.warnings_.append(
                    f"target {self.name!r} holds only 0 and 1 written as decimals, so it was "
                    "read as regression; for classification pass --task classification"
                )
        else:
            if numeric:
                classes = np.unique(numbers).tolist()
                if all(float(x).is_integer() for x in classes):
                    classes = [int(x) for x in classes]
            else:
                classes = sorted(str(level) for level in _used(column))
            if len(classes) < 2:
                raise InputError(
                    f"target {self.name!r} has only the class {classes}; "
                    "classification needs at least 2 classes"
                )
            self.classes_, self.mean, self.std = classes, None, None
        self.task = task
        return self

    def _numbers(self, column: np.ndarray | TextColumn) -> np.ndarray | None:
        """The target as float64, or None when it is text; raises on missing or infinite."""
        if isinstance(column, TextColumn):
            gone = missing_levels(column.levels, MISSING_TOKENS)
            missing = np.append(gone, True)[column.codes]
            numbers = level_numbers(column.levels, booleans=False)
            text = np.isnan(numbers) & ~gone
            values = None if text[column.codes[column.codes >= 0]].any() else numbers
            values = None if values is None else np.append(values, np.nan)[column.codes]
        else:
            missing = np.isnan(column)
            values = np.asarray(column, dtype=np.float64)
        if missing.any():
            raise InputError(
                f"target {self.name!r} is missing in {rows_text(np.flatnonzero(missing))}; "
                "every training row needs a target (drop those rows)"
            )
        if values is not None and np.isinf(values).any():
            row = int(np.flatnonzero(np.isinf(values))[0])
            raise InputError(
                f"target {self.name!r}, row {row + 1}: got {_cell(column, row)!r}, "
                "expected a finite number"
            )
        return values

    @staticmethod
    def _first_text_row(column: TextColumn) -> int:
        text = np.isnan(level_numbers(column.levels, booleans=False))
        return int(np.flatnonzero(np.append(text, False)[column.codes])[0])

    def transform(self, values: Any) -> np.ndarray:
        """Classification: int64 class indices (n,). Regression: float32 standardized (n, 1).

        Parameters
        ----------
        values
            The target column.

        Returns
        -------
        numpy.ndarray
            The encoded target.

        Raises
        ------
        InputError
            If a target is missing, or holds a label or number it cannot encode.
        NotBuiltError
            If the encoder is not fitted.
        """
        self._check_fitted()
        column, _ = as_column(values)
        if self.task == "regression":
            numbers = self._numbers(column)
            if numbers is None:
                row = self._first_text_row(column)
                raise InputError(
                    f"target {self.name!r}, row {row + 1}: got {column.tolist()[row]!r}, "
                    "expected a finite number (regression)"
                )
            standard = standardize(numbers, self.mean, self.std, f"target {self.name!r}")
            return standard.astype(np.float32)[:, None]
        return self._indices(column)

    def _indices(self, column: np.ndarray | TextColumn) -> np.ndarray:
        """int64 positions of the labels in classes_; numeric labels match by value (1 == 1.0)."""
        if isinstance(self.classes_[0], str):
            text = column if isinstance(column, TextColumn) else numbers_as_text(column)
            self._numbers(text)  # missing labels raise
            index = {label: i for i, label in enumerate(self.classes_)}
            per_level = np.array([index.get(str(v), -1) for v in text.levels], dtype=np.int64)
            indices = np.append(per_level, -1)[text.codes]
        else:
            numbers = self._numbers(column)
            if numbers is None:
                numbers = level_numbers(column.levels, booleans=False)[column.codes]
            classes = np.asarray(self.classes_, dtype=np.float64)
            indices = np.clip(np.searchsorted(classes, numbers), 0, len(classes) - 1)
            indices = np.where(classes[indices] == numbers, indices, -1)
        if (indices < 0).any():
            row = int(np.flatnonzero(indices < 0)[0])
            raise InputError(
                f"target {self.name!r}, row {row + 1}: label {_cell(column, row)!r} was not "
                f"seen in training; known classes are {self.classes_[:20]}"
            )
        return indices.astype(np.int64)

    def inverse_transform(self, y: np.ndarray) -> list | np.ndarray:
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
            If the encoder is not fitted.
        """
        self._check_fitted()
        y = np.asarray(y)
        if self.task == "regression":
            if y.ndim not in (1, 2) or (y.ndim == 2 and y.shape[1] != 1):
                raise InputError(
                    f"regression outputs have shape {y.shape}; expected (n,) or (n, 1)"
                )
            return y.reshape(-1).astype(np.float64) * self.std + self.mean
        return np.asarray(self.classes_, dtype=object)[self.class_indices(y)].tolist()

    def class_indices(self, y: np.ndarray) -> np.ndarray:
        """Class positions from class indices, probabilities, or binary sigmoid outputs.

        Parameters
        ----------
        y
            Classification outputs.

        Returns
        -------
        numpy.ndarray
            int64 (n,).

        Raises
        ------
        InputError
            If the shape does not fit, or an index is out of range.
        """
        k = len(self.classes_)
        if y.ndim == 2 and y.shape[1] == k:
            return np.argmax(y, axis=1)
        if y.ndim == 2 and y.shape[1] == 1 and k == 2:
            return (y[:, 0] > 0.5).astype(np.int64)
        if y.ndim == 1:
            bad = ~np.isin(y, np.arange(k))
            if bad.any():
                found = y[bad][0].item()
                raise InputError(f"class index {found!r} is out of range; expected 0..{k - 1}")
            return y.astype(np.int64)
        raise InputError(
            f"classification outputs have shape {y.shape}; expected class indices (n,), "
            f"probabilities (n, {k})" + (" or (n, 1)" if k == 2 else "")
        )

    def _check_fitted(self) -> None:
        if self.task is None:
            raise NotBuiltError("the preprocessor is not fitted; call fit(table) first")


def _used(column: TextColumn) -> np.ndarray:
    used = np.zeros(len(column.levels), dtype=bool)
    used[column.codes[column.codes >= 0]] = True
    return column.levels[used]


def _cell(column: np.ndarray | TextColumn, row: int) -> Any:
    if isinstance(column, TextColumn):
        code = column.codes[row]
        return None if code < 0 else column.levels[code]
    return column[row].item()
