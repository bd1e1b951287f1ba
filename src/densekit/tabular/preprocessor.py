"""Tables from CSV/Parquet files, encoded as float arrays and decoded back, reproducibly.

This is the data layer behind ``densekit train DATA --target COL`` and
``densekit predict MODEL DATA``:

    table = read_table("train.csv")
    prep = TabularPreprocessor(target="species").fit(table)
    X, y = prep.transform(table), prep.encode_target(table)
    ...  # train; save prep.get_config() as JSON beside the weights
    prep = TabularPreprocessor.from_config(config)
    labels = prep.decode_target(model.predict(prep.transform(read_table("new.csv"))))

Conventions:

- Rows are numbered from 1, starting at the first row below the header.
- A cell is missing when it is ``None``, a float NaN, or text that is blank or one
  of ``NA``, ``NaN``, ``null``, ``None``, ``?`` (compared case-insensitively).
- A feature column is numeric when every non-missing cell parses as a number
  (``true``/``false`` in any case count as 1/0, as Parquet booleans do);
  numeric columns are standardized, ``(x - mean) / std``, with the training
  statistics (a constant column has std 1, so it becomes 0).
- Any other feature column is categorical and is one-hot encoded over the
  sorted categories seen in training. A category not seen in training encodes
  as all zeros: the model sees "none of the known categories".
"""

from __future__ import annotations

import csv
import difflib
import math
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import (
    ArgumentError,
    ArgumentTypeError,
    InputError,
    ModelFileError,
    NotBuiltError,
    require,
)

MISSING_TOKENS = frozenset({"", "na", "nan", "null", "none", "?"})
_BOOLEAN_TOKENS = {"true": 1.0, "false": 0.0}
TASKS = ("classification", "regression")
FILL_MODES = ("mean", "median", "most_frequent", "zero")
CONFIG_FORMAT = "densekit.tabular"
CONFIG_VERSION = 1

_CSV_DELIMITERS = {".csv": ",", ".tsv": "\t", ".tab": "\t", ".txt": None}
_PARQUET_SUFFIXES = (".parquet", ".pq")


@dataclass
class Table:
    """Raw cells by column: ``str`` from CSV, Python values (``None`` for null) from Parquet."""

    columns: list[str]
    data: dict[str, list]
    n_rows: int


# --------------------------------------------------------------------------- reading


def read_table(path: str | os.PathLike) -> Table:
    """Read a CSV/TSV/TXT or Parquet file into a :class:`Table` of raw cells.

    The file type comes from the suffix: ``.csv`` (comma, or semicolon, tab or pipe
    when the header line has no comma), ``.tsv``/``.tab`` (tab), ``.txt``
    (delimiter sniffed), ``.parquet``/``.pq`` (needs pyarrow).
    """
    path = Path(os.fspath(path))
    suffix = path.suffix.lower()
    if suffix not in _CSV_DELIMITERS and suffix not in _PARQUET_SUFFIXES:
        raise InputError(
            f"{path}: unsupported file type {suffix or '(no suffix)'!r}; "
            "expected .csv, .tsv, .tab, .txt, .parquet or .pq"
        )
    if not path.exists():
        raise InputError(f"{path}: file not found")
    if path.is_dir():
        raise InputError(f"{path} is a directory; expected a data file")
    if suffix in _PARQUET_SUFFIXES:
        table = _read_parquet(path)
    else:
        table = _read_csv(path, _CSV_DELIMITERS[suffix])
    if table.n_rows == 0:
        raise InputError(f"{path} has a header but no data rows")
    return table


def _read_csv(path: Path, delimiter: str | None) -> Table:
    """Parse a delimited text file; the first non-blank row is the header."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as file:
            if delimiter is None:
                delimiter = _sniff_delimiter(file.read(65536))
                file.seek(0)
            elif delimiter == ",":
                delimiter = _comma_or_other(file.read(65536))
                file.seek(0)
            reader = csv.reader(file, delimiter=delimiter)
            try:
                return _table_from_rows(path, reader)
            except csv.Error as exc:
                raise InputError(f"{path}, line {reader.line_num}: malformed CSV ({exc})") from exc
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{path} is not UTF-8 text (byte {exc.start}: {exc.reason}); save it as UTF-8"
        ) from exc
    except OSError as exc:
        raise InputError(f"{path}: cannot read the file ({exc.strerror})") from exc


def _sniff_delimiter(sample: str) -> str:
    """Guess the delimiter of a ``.txt`` file among comma, tab, semicolon and pipe."""
    try:
        return csv.Sniffer().sniff(sample, delimiters=",\t;|").delimiter
    except csv.Error:
        return ","


def _comma_or_other(sample: str) -> str:
    """',' unless the header line has no comma but a ';', tab or '|' (a European-style .csv)."""
    header = next((line for line in sample.splitlines() if line.strip()), "")
    if "," in header:
        return ","
    return next((other for other in (";", "\t", "|") if other in header), ",")


def _is_blank_row(row: list[str]) -> bool:
    return all(not cell.strip() for cell in row)


def _table_from_rows(path: Path, reader: Any) -> Table:
    """Collect rows under the header, checking every row has one cell per column."""
    header = next((row for row in reader if not _is_blank_row(row)), None)
    if header is None:
        raise InputError(f"{path} is empty; expected a header row naming the columns, then data")
    columns = [name.strip() for name in header]
    while len(columns) > 1 and not columns[-1]:
        columns.pop()  # a trailing delimiter on every line (spreadsheet exports): no column
    _check_header(path, columns)
    cells: list[list[str]] = [[] for _ in columns]
    n_rows = 0
    for row in reader:
        if not row or (len(columns) > 1 and _is_blank_row(row)):
            continue  # blank lines separate nothing in a table
        n_rows += 1
        if len(row) > len(columns) and _is_blank_row(row[len(columns) :]):
            row = row[: len(columns)]
        if len(row) != len(columns):
            raise InputError(
                f"{path}: row {n_rows} (line {reader.line_num}) has {len(row)} fields, "
                f"but the header has {len(columns)} columns"
            )
        for column_cells, cell in zip(cells, row, strict=True):
            column_cells.append(cell.strip())
    return Table(columns=columns, data=dict(zip(columns, cells, strict=True)), n_rows=n_rows)


def _check_header(path: Path, columns: list[str], text_file: bool = True) -> None:
    """Reject blank or duplicate column names, and (in text files) a first row of data."""
    for position, name in enumerate(columns, start=1):
        if not name:
            raise InputError(
                f"{path}: header column {position} is blank; every column needs a name"
            )
    duplicates = sorted(name for name, count in Counter(columns).items() if count > 1)
    if duplicates:
        raise InputError(
            f"{path}: duplicate column names {duplicates}; column names must be unique"
        )
    if text_file and all(_to_number(name) is not None for name in columns):
        raise InputError(
            f"{path}: the first row {columns[:5]} looks like data, not a header; "
            "add a header row naming the columns"
        )


def _read_parquet(path: Path) -> Table:
    """Read a flat Parquet file with pyarrow (imported only when needed)."""
    pa = require("pyarrow", "parquet", "Reading Parquet files")
    import pyarrow.parquet as pq

    try:
        arrow_table = pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        raise InputError(f"{path} is not a readable Parquet file ({exc})") from exc
    columns = [str(name) for name in arrow_table.column_names]
    if not columns:
        raise InputError(f"{path} has no columns; expected a table with a header")
    _check_header(path, columns, text_file=False)
    for field in arrow_table.schema:
        if pa.types.is_nested(field.type):
            raise InputError(
                f"{path}: column {field.name!r} has nested type {field.type}; "
                "expected flat columns of numbers or text"
            )
    data = {name: arrow_table.column(i).to_pylist() for i, name in enumerate(columns)}
    return Table(columns=columns, data=data, n_rows=arrow_table.num_rows)


# --------------------------------------------------------------------------- cells


def is_missing(value: Any) -> bool:
    """True for ``None``, float NaN, and blank or missing-marker text (see MISSING_TOKENS)."""
    if value is None:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    if isinstance(value, str):
        return value.strip().casefold() in MISSING_TOKENS
    return False


def _to_number(value: Any) -> float | None:
    """The cell as a float, or None if it is not a number (bool counts as 0/1)."""
    if isinstance(value, (bool, int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    try:
        return float(value)  # Decimal and numpy scalars
    except (TypeError, ValueError):
        return None


def _to_feature_number(value: Any) -> float | None:
    """Like :func:`_to_number`, and text ``true``/``false`` (any case) is 1/0, as in Parquet."""
    if isinstance(value, str):
        flag = _BOOLEAN_TOKENS.get(value.strip().casefold())
        if flag is not None:
            return flag
    return _to_number(value)


def _to_text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else str(value)


def _rows_text(rows: list[int], limit: int = 10) -> str:
    """'row 3', 'rows 3, 7' or 'rows 3, 7, ... (25 rows)' for 0-based indices, shown 1-based."""
    shown = ", ".join(str(row + 1) for row in rows[:limit])
    if len(rows) == 1:
        return f"row {shown}"
    return f"rows {shown}" if len(rows) <= limit else f"rows {shown}, ... ({len(rows)} rows)"


def _missing_rows(values: list) -> list[int]:
    return [i for i, value in enumerate(values) if is_missing(value)]


def _most_frequent(values: list) -> Any:
    """The most common value; ties go to the smallest, so the choice is reproducible."""
    counts = Counter(values)
    return min(counts, key=lambda value: (-counts[value], value))


def column(table: Table, name: str, role: str) -> list:
    if name not in table.data:
        same_but_case = [column for column in table.columns if column.casefold() == name.casefold()]
        hint = same_but_case or difflib.get_close_matches(name, table.columns, n=1)
        maybe = f" (did you mean {hint[0]!r}?)" if hint else ""
        raise InputError(
            f"{role} column {name!r} is not in the table{maybe}; columns are {table.columns}"
        )
    return table.data[name]


def identifier_columns(table: Table, names: list[str], min_rows: int = 20) -> list[str]:
    """The columns among ``names`` whose cells all differ and are text or integers: row IDs.

    One-hot encoding such a text column adds one feature per row, and an integer
    ID is a number with no pattern to learn; ``densekit train`` warns about them.
    """
    found = []
    for name in names:
        column = table.data[name]
        head = [value for value in column[:1000] if not is_missing(value)]
        if not _all_distinct_ids(head, min(min_rows, len(column))):
            continue  # cheap rejection on the first rows: most columns repeat early
        values = [value for value in column if not is_missing(value)]
        if _all_distinct_ids(values, min_rows):
            found.append(name)
    return found


def _all_distinct_ids(values: list, min_rows: int) -> bool:
    if len(values) < min_rows or len({_to_text(value) for value in values}) != len(values):
        return False
    integers = all(_is_integer_cell(value) for value in values)
    return integers or any(_to_feature_number(value) is None for value in values)


# --------------------------------------------------------------------------- feature columns


@dataclass
class _NumericColumn:
    """A numeric feature, standardized with its training mean and std."""

    name: str
    mean: float
    std: float
    fill: float | None  # the value a missing cell takes; None when filling is off

    @property
    def output_names(self) -> list[str]:
        return [self.name]

    @classmethod
    def fit(cls, name: str, values: list, fill_missing: str | None) -> _NumericColumn:
        _check_finite(name, values)
        observed = np.array([_to_feature_number(v) for v in values if not is_missing(v)])
        mean, std = _mean_std(observed)
        fill = None
        if fill_missing == "mean":
            fill = mean
        elif fill_missing == "median":
            fill = float(np.median(observed))
        elif fill_missing == "most_frequent":
            fill = float(_most_frequent(observed.tolist()))
        elif fill_missing == "zero":
            fill = 0.0
        return cls(name, mean, std, fill)

    def encode(self, values: list) -> np.ndarray:
        """(n, 1) float64: (x - mean) / std, missing cells replaced by the fill value."""
        numbers = np.empty(len(values))
        for row, value in enumerate(values):
            number = self.fill if is_missing(value) else _to_feature_number(value)
            if number is None or not math.isfinite(number):
                raise InputError(
                    f"column {self.name!r}, row {row + 1}: got {value!r}, expected a finite "
                    "number (the column was numeric in training)"
                )
            numbers[row] = number
        return _standardize(numbers, self.mean, self.std, f"column {self.name!r}")[:, None]

    def to_config(self) -> dict:
        return {
            "name": self.name,
            "kind": "numeric",
            "mean": self.mean,
            "std": self.std,
            "fill": self.fill,
        }


def _mean_std(values: np.ndarray) -> tuple[float, float]:
    """Mean and std (1 for a constant column), computed on values / max|value| when squares
    of the values would overflow float64 (cells near 1e308 are finite, and legal)."""
    scale = float(np.abs(values).max())
    if scale < 1e150:
        mean, std = float(values.mean()), float(values.std())
    else:
        scaled = values / scale
        mean, std = float(scaled.mean()) * scale, float(scaled.std()) * scale
    return mean, (std if std > 0 else 1.0)


def _standardize(numbers: np.ndarray, mean: float, std: float, where: str) -> np.ndarray:
    """``(x - mean) / std``, as ``x / std - mean / std`` so huge cells do not overflow."""
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
        if not is_missing(value) and not math.isfinite(_to_feature_number(value)):
            raise InputError(
                f"column {name!r}, row {row + 1}: got {value!r}, expected a finite number"
            )


@dataclass
class _CategoricalColumn:
    """A text feature, one-hot over its sorted training categories (unseen -> all zeros)."""

    name: str
    categories: list[str]
    fill: str | None  # the category a missing cell takes; None: all zeros (or filling is off)

    @property
    def output_names(self) -> list[str]:
        return [f"{self.name}={category}" for category in self.categories]

    @classmethod
    def fit(cls, name: str, values: list, fill_missing: str | None) -> _CategoricalColumn:
        observed = [_to_text(v) for v in values if not is_missing(v)]
        # mean and median have no meaning for text; the most frequent category stands in.
        fill = (
            _most_frequent(observed)
            if fill_missing in ("mean", "median", "most_frequent")
            else None
        )
        return cls(name, sorted(set(observed)), fill)

    def encode(self, values: list) -> np.ndarray:
        """(n, n_categories) float64 one-hot rows."""
        index = {category: i for i, category in enumerate(self.categories)}
        block = np.zeros((len(values), len(self.categories)))
        for row, value in enumerate(values):
            category = self.fill if is_missing(value) else _to_text(value)
            position = index.get(category)
            if position is not None:
                block[row, position] = 1.0
        return block

    def to_config(self) -> dict:
        return {
            "name": self.name,
            "kind": "categorical",
            "categories": list(self.categories),
            "fill": self.fill,
        }


def _fit_feature(name: str, values: list, fill_missing: str | None):
    observed = [v for v in values if not is_missing(v)]
    if not observed:
        raise InputError(
            f"column {name!r} has no values (every cell is missing); drop it (--drop {name!r})"
        )
    if all(_to_feature_number(v) is not None for v in observed):
        return _NumericColumn.fit(name, values, fill_missing)
    return _CategoricalColumn.fit(name, values, fill_missing)


# --------------------------------------------------------------------------- the preprocessor


class TabularPreprocessor:
    """Turns a :class:`Table` into float32 features and encoded targets, and back.

    ``task``: None (infer), "classification" or "regression". Inferred as
    classification when the target is text, or integers with at most
    ``max_classes`` distinct values; regression otherwise.
    ``fill_missing``: None (missing feature cells raise), "mean", "median",
    "most_frequent" or "zero". Text columns fill "mean"/"median" with the most
    frequent category, and "zero" with all zeros. Missing targets always raise.
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
        self._columns: list[_NumericColumn | _CategoricalColumn] | None = None

    # -- fitting

    def fit(self, table: Table) -> TabularPreprocessor:
        """Learn column types, standardization stats, vocabularies and the target encoding."""
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
        columns = [_fit_feature(name, table.data[name], self.fill_missing) for name in features]
        task, classes, stats = self._fit_target(targets)
        self.task, self.classes_, (self.target_mean, self.target_std) = task, classes, stats
        self._columns = columns
        return self

    def _fit_target(self, values: list) -> tuple[str, list, tuple[float | None, float | None]]:
        """(task, classes, (mean, std)) of the target; classes are empty for regression."""
        numbers = [_to_number(v) for v in values]
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
            return task, [], _mean_std(np.array(numbers))
        classes = _classes(numbers if numeric else [_to_text(v) for v in values])
        if len(classes) < 2:
            raise InputError(
                f"target {self.target!r} has only the class {classes}; "
                "classification needs at least 2 classes"
            )
        return task, classes, (None, None)

    # -- encoding

    def transform(self, table: Table) -> np.ndarray:
        """float32 features (n, n_features_out); the target column is ignored and may be absent."""
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
        """Classification: int64 class indices (n,). Regression: float32 standardized (n, 1)."""
        self._fitted_columns()
        _check_table(table)
        values = column(table, self.target, "target")
        _raise_if_target_missing(self.target, values)
        if self.task == "regression":
            numbers = np.array([self._target_number(row, v) for row, v in enumerate(values)])
            where = f"target {self.target!r}"
            standard = _standardize(numbers, self.target_mean, self.target_std, where)
            return standard.astype(np.float32)[:, None]
        return self._class_indices_of(values)

    def _target_number(self, row: int, value: Any) -> float:
        number = _to_number(value)
        if number is None or not math.isfinite(number):
            raise InputError(
                f"target {self.target!r}, row {row + 1}: got {value!r}, "
                "expected a finite number (regression)"
            )
        return number

    def _class_indices_of(self, labels: list) -> np.ndarray:
        """int64 positions of the labels in classes_; numeric labels match by value (1 == 1.0)."""
        text = isinstance(self.classes_[0], str)
        key = _to_text if text else _to_number
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
        """(loss name, output units): softmax, sigmoid or linear output layer to match."""
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
        return len(self.feature_names)

    @property
    def n_classes(self) -> int:
        return len(self.classes_)

    def _fitted_columns(self) -> list[_NumericColumn | _CategoricalColumn]:
        if self._columns is None:
            raise NotBuiltError("the TabularPreprocessor is not fitted; call fit(table) first")
        return self._columns

    # -- config

    def get_config(self) -> dict:
        """Everything needed to rebuild this preprocessor, as plain JSON values."""
        columns = self._fitted_columns()
        if self.task == "regression":
            target = {"mean": self.target_mean, "std": self.target_std}
        else:
            target = {"classes": list(self.classes_)}
        return {
            "format": CONFIG_FORMAT,
            "version": CONFIG_VERSION,
            "target": self.target,
            "task": self.task,
            "fill_missing": self.fill_missing,
            "max_classes": self.max_classes,
            "features": [column.to_config() for column in columns],
            "target_encoding": target,
        }

    @classmethod
    def from_config(cls, config: dict) -> TabularPreprocessor:
        """Rebuild a fitted preprocessor; any malformed field raises ModelFileError."""
        return _preprocessor_from_config(cls, config)


# --------------------------------------------------------------------------- checks


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
    counts = {name: len(_missing_rows(table.data[name])) for name in names}
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
    rows = _missing_rows(values)
    if rows:
        raise InputError(
            f"target {target!r} is missing in {_rows_text(rows)}; "
            "every training row needs a target (drop those rows)"
        )


def _infer_task(values: list, numeric: bool, max_classes: int) -> str:
    """Text -> classification; few distinct integers -> classification; else regression."""
    if not numeric:
        return "classification"
    if (
        all(_is_integer_cell(v) for v in values)
        and len(set(map(_to_number, values))) <= max_classes
    ):
        return "classification"
    return "regression"


def _is_integer_cell(value: Any) -> bool:
    """An int, or text written as one ("3", not "3.0": a float column stays a float column)."""
    if isinstance(value, str):
        try:
            int(value.strip())
        except ValueError:
            return False
        return True
    return isinstance(value, int)


def _classes(labels: list) -> list:
    """Sorted distinct labels; integral numbers become ints (numeric order)."""
    distinct = sorted(set(labels))
    if distinct and not isinstance(distinct[0], str) and all(x.is_integer() for x in distinct):
        return [int(x) for x in distinct]
    return distinct


# --------------------------------------------------------------------------- config validation


def _bad(where: str, problem: str) -> ModelFileError:
    return ModelFileError(f"tabular preprocessor config: {where} {problem}")


def _field(mapping: Any, where: str, keys: tuple[str, ...]) -> dict:
    """The mapping, checked to have exactly these keys."""
    if not isinstance(mapping, dict):
        raise _bad(where, f"must be an object, got {type(mapping).__name__}")
    missing = [k for k in keys if k not in mapping]
    if missing:
        raise _bad(where, f"lacks keys {missing}; expected keys {list(keys)}")
    unknown = sorted(str(k) for k in mapping if k not in keys)
    if unknown:
        raise _bad(where, f"has unknown keys {unknown}; expected keys {list(keys)}")
    return mapping


def _name(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise _bad(where, f"must be a non-empty string, got {value!r}")
    return value


def _finite(value: Any, where: str, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise _bad(where, f"must be a finite number, got {value!r}")
    if positive and value <= 0:
        raise _bad(where, f"must be positive, got {value!r}")
    return float(value)


def _one_of(value: Any, where: str, choices: tuple) -> Any:
    if value not in choices or isinstance(value, bool):
        raise _bad(where, f"must be one of {list(choices)}, got {value!r}")
    return value


def _sorted_unique(values: Any, where: str, kinds: tuple[type, ...]) -> list:
    if not isinstance(values, list) or not values:
        raise _bad(where, f"must be a non-empty list, got {values!r}")
    if any(isinstance(v, bool) or not isinstance(v, kinds) for v in values):
        raise _bad(where, f"must hold only {'/'.join(k.__name__ for k in kinds)} values")
    if any(isinstance(v, float) and not math.isfinite(v) for v in values):
        raise _bad(where, "must hold only finite numbers")
    if any(a >= b for a, b in zip(values, values[1:], strict=False)):
        raise _bad(where, "must be sorted and without duplicates")
    return list(values)


def _feature_from_config(spec: Any, where: str, fill_missing: str | None):
    kind = _one_of(
        spec.get("kind") if isinstance(spec, dict) else None,
        f"{where}['kind']",
        ("numeric", "categorical"),
    )
    if kind == "numeric":
        spec = _field(spec, where, ("name", "kind", "mean", "std", "fill"))
        fill = spec["fill"]
        if (fill is None) != (fill_missing is None):
            raise _bad(f"{where}['fill']", f"is {fill!r} but fill_missing is {fill_missing!r}")
        return _NumericColumn(
            _name(spec["name"], f"{where}['name']"),
            _finite(spec["mean"], f"{where}['mean']"),
            _finite(spec["std"], f"{where}['std']", positive=True),
            None if fill is None else _finite(fill, f"{where}['fill']"),
        )
    spec = _field(spec, where, ("name", "kind", "categories", "fill"))
    categories = _sorted_unique(spec["categories"], f"{where}['categories']", (str,))
    fill = spec["fill"]
    needs_fill = fill_missing in ("mean", "median", "most_frequent")
    if (fill is not None) != needs_fill or (fill is not None and fill not in categories):
        raise _bad(
            f"{where}['fill']",
            f"is {fill!r}; with fill_missing {fill_missing!r} it must "
            + ("be one of the categories" if needs_fill else "be null"),
        )
    return _CategoricalColumn(_name(spec["name"], f"{where}['name']"), categories, fill)


def _preprocessor_from_config(cls: type, config: Any) -> TabularPreprocessor:
    keys = (
        "format",
        "version",
        "target",
        "task",
        "fill_missing",
        "max_classes",
        "features",
        "target_encoding",
    )
    config = _field(config, "config", keys)
    if config["format"] != CONFIG_FORMAT:
        raise _bad("['format']", f"is {config['format']!r}; expected {CONFIG_FORMAT!r}")
    if config["version"] != CONFIG_VERSION or isinstance(config["version"], bool):
        raise _bad(
            "['version']", f"is {config['version']!r}; this densekit reads version {CONFIG_VERSION}"
        )
    target = _name(config["target"], "['target']")
    task = _one_of(config["task"], "['task']", TASKS)
    fill_missing = _one_of(config["fill_missing"], "['fill_missing']", (None, *FILL_MODES))
    max_classes = config["max_classes"]
    if isinstance(max_classes, bool) or not isinstance(max_classes, int) or max_classes < 2:
        raise _bad("['max_classes']", f"must be an int >= 2, got {max_classes!r}")
    features = config["features"]
    if not isinstance(features, list) or not features:
        raise _bad("['features']", f"must be a non-empty list, got {features!r}")
    columns = [
        _feature_from_config(spec, f"['features'][{i}]", fill_missing)
        for i, spec in enumerate(features)
    ]
    names = [column.name for column in columns]
    if len(set(names)) != len(names) or target in names:
        raise _bad(
            "['features']", f"names {names} must be unique and exclude the target {target!r}"
        )
    prep = cls(target, task=task, fill_missing=fill_missing, max_classes=max_classes)
    _target_from_config(prep, config["target_encoding"], task)
    prep._columns = columns
    return prep


def _target_from_config(prep: TabularPreprocessor, spec: Any, task: str) -> None:
    where = "['target_encoding']"
    if task == "regression":
        spec = _field(spec, where, ("mean", "std"))
        prep.target_mean = _finite(spec["mean"], f"{where}['mean']")
        prep.target_std = _finite(spec["std"], f"{where}['std']", positive=True)
        return
    spec = _field(spec, where, ("classes",))
    classes = spec["classes"]
    text = isinstance(classes, list) and bool(classes) and isinstance(classes[0], str)
    kinds = (str,) if text else (int, float)
    prep.classes_ = _sorted_unique(classes, f"{where}['classes']", kinds)
    if len(prep.classes_) < 2:
        raise _bad(f"{where}['classes']", f"has {len(prep.classes_)} class; need at least 2")
