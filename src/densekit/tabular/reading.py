"""Reading tables: CSV/TSV/TXT (the delimiter sniffed where the suffix does not say) and Parquet.

CSV is parsed by pyarrow's multithreaded reader (the ``cli`` extra) into typed
columns: numbers as float64/int64 arrays, text as dictionary codes
(:class:`~densekit.preprocessing.TextColumn`), so nothing downstream touches a cell
in Python. Where pyarrow is not installed, or a file is irregular (a ragged row, a
trailing delimiter on every line), the standard library's ``csv`` module reads it
instead, with the same results and errors that name the row and the line.

Decimal commas (``3,5`` in a semicolon file) are read as numbers, with a note;
date columns are noted and kept as text, or (``dates="expand"``) become
``name_year``, ``name_month``, ``name_day`` and ``name_weekday`` numbers.
"""

from __future__ import annotations

import csv
import os
import re
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ArgumentError, InputError, require
from ..preprocessing import MISSING_TOKENS, TextColumn, as_column
from ..preprocessing.columns import arrow_numbers
from .table import Table

DATE_MODES = ("text", "expand")
_DECIMAL_COMMA = re.compile(r"[+-]?\d+,\d+")

_CSV_DELIMITERS = {".csv": ",", ".tsv": "\t", ".tab": "\t", ".txt": None}
_PARQUET_SUFFIXES = (".parquet", ".pq")


def read_table(path: str | os.PathLike, dates: str = "text") -> Table:
    """Read a CSV/TSV/TXT or Parquet file into a :class:`Table` of typed columns.

    The file type comes from the suffix: ``.csv`` (comma, or semicolon, tab or pipe
    when the header line has no comma), ``.tsv``/``.tab`` (tab), ``.txt``
    (delimiter sniffed), ``.parquet``/``.pq`` (needs pyarrow).

    Parameters
    ----------
    path
        The file to read; its first non-blank row (CSV) names the columns.
    dates
        ``"text"``: date columns stay text (one category per date, with a note);
        ``"expand"``: each becomes year, month, day and weekday number columns.

    Returns
    -------
    Table
        The columns, with at least one data row; ``notes`` holds one-line warnings.

    Raises
    ------
    ArgumentError
        If ``dates`` is not one of DATE_MODES.
    InputError
        If the file is missing, of an unknown type, unreadable, malformed, or has no data rows.
    MissingDependencyError
        If the file is Parquet and pyarrow is not installed.
    """
    if dates not in DATE_MODES:
        raise ArgumentError(f"dates must be one of {list(DATE_MODES)}, got {dates!r}")
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
        table = _read_parquet(path, dates)
    else:
        table = _read_csv_fast(path, _CSV_DELIMITERS[suffix], dates)
        if table is None:
            raw, delimiter = _read_csv(path, _CSV_DELIMITERS[suffix])
            table = _finish(path, raw.columns, raw.data, dates, delimiter)
    if table.n_rows == 0:
        raise InputError(f"{path} has a header but no data rows")
    return table


def _sample(path: Path) -> str:
    """The start of the file as text (a cut character at the end dropped)."""
    try:
        with open(path, "rb") as file:
            head = file.read(65536)
    except OSError as exc:
        raise InputError(f"{path}: cannot read the file ({exc.strerror})") from exc
    try:
        return head.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:
            raise _not_utf8(path, exc) from exc
        return head[: exc.start].decode("utf-8-sig")


def _not_utf8(path: Path, exc: UnicodeDecodeError) -> InputError:
    return InputError(
        f"{path} is not UTF-8 text (byte {exc.start}: {exc.reason}); save it as UTF-8"
    )


def _read_csv_fast(path: Path, delimiter: str | None, dates: str) -> Table | None:
    """Parse with pyarrow; None where the standard library must read it (see module doc)."""
    try:
        import pyarrow as pa
        import pyarrow.csv as pa_csv
    except ImportError:
        return None
    sample = _sample(path)
    if delimiter is None:
        delimiter = _sniff_delimiter(sample)
    elif delimiter == ",":
        delimiter = _comma_or_other(sample)
    header = next(csv.reader([_first_line(sample)], delimiter=delimiter), [])
    names = [name.strip() for name in header]
    if not names or (len(names) > 1 and not names[-1]):
        return None  # empty, or a trailing delimiter: the csv module's rules
    _check_header(path, names)
    nulls = sorted({variant for token in MISSING_TOKENS for variant in _cases(token)})
    convert = pa_csv.ConvertOptions(
        null_values=nulls,
        strings_can_be_null=False,
        auto_dict_encode=True,
        auto_dict_max_cardinality=2**31 - 1,
        # true/false stay text as written: a feature reads them as 1/0, a target as labels
        true_values=["\x00true"],
        false_values=["\x00false"],
    )
    read = pa_csv.ReadOptions(column_names=names, skip_rows=_lines_through_header(sample))
    parse = pa_csv.ParseOptions(
        delimiter=delimiter,
        newlines_in_values='"' in sample,
        invalid_row_handler=lambda row: "error",
    )
    try:
        arrow = pa_csv.read_csv(
            path, read_options=read, parse_options=parse, convert_options=convert
        )
    except pa.ArrowInvalid:
        return None  # a ragged row: the csv module names its row and line
    except OSError as exc:
        raise InputError(f"{path}: cannot read the file ({exc.strerror})") from exc
    if any(pa.types.is_binary(field.type) for field in arrow.schema):
        try:
            path.read_bytes().decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise _not_utf8(path, exc) from exc
    columns = {name: arrow.column(i) for i, name in enumerate(names)}
    return _finish(path, names, columns, dates, delimiter)


def _first_line(sample: str) -> str:
    return next((line for line in sample.splitlines() if line.strip()), "")


def _lines_through_header(sample: str) -> int:
    lines = sample.splitlines()
    first = next((i for i, line in enumerate(lines) if line.strip()), 0)
    return first + 1


def _cases(token: str) -> list[str]:
    """Every upper/lower-case spelling of a short token ("na": na, nA, Na, NA)."""
    spellings = [""]
    for char in token:
        spellings = [s + c for s in spellings for c in {char.lower(), char.upper()}]
    return sorted(spellings)


def _finish(path: Path, names: list[str], columns: dict, dates: str, delimiter: Any) -> Table:
    """Typed columns from pyarrow columns or lists of cells: blank rows dropped, notes made."""
    data, notes = {}, []
    for name in names:
        values, note = _typed(name, columns[name], dates, delimiter)
        if note:
            notes.append(note)
        if isinstance(values, dict):
            data.update(values)
        else:
            data[name] = values
    n_rows = len(next(iter(data.values()))) if data else 0
    if len(data) > 1 and n_rows:
        blank = np.ones(n_rows, dtype=bool)
        for values in data.values():
            blank &= _blank_cells(values)
        if blank.any():
            keep = ~blank
            data = {
                k: v.take(keep) if isinstance(v, TextColumn) else v[keep] for k, v in data.items()
            }
            n_rows = int(keep.sum())
    return Table(columns=list(data), data=data, n_rows=n_rows, notes=notes)


def _blank_cells(values: Any) -> np.ndarray:
    if isinstance(values, TextColumn):
        blank = np.array([level == "" for level in values.levels], dtype=bool)
        return np.append(blank, True)[values.codes]
    return np.isnan(values) if values.dtype.kind == "f" else np.zeros(len(values), dtype=bool)


def _typed(name: str, values: Any, dates: str, delimiter: Any) -> tuple[Any, str]:
    """One column as a numeric array or TextColumn, and a note about it (or '')."""
    if type(values).__module__.startswith("pyarrow"):
        import pyarrow as pa
        import pyarrow.compute as pc

        kind = values.type
        if pa.types.is_date(kind) or pa.types.is_timestamp(kind):
            if dates == "expand":
                parts = {
                    "year": pc.year(values),
                    "month": pc.month(values),
                    "day": pc.day(values),
                    "weekday": pc.day_of_week(values),
                }
                expanded = {f"{name}_{part}": as_column(array)[0] for part, array in parts.items()}
                return (
                    expanded,
                    f"column {name!r} holds dates; expanded into year, month, day and weekday",
                )
            return as_column(values.cast(pa.string()))[0], _date_note(name)
        if pa.types.is_integer(kind) and values.null_count == 0:
            return arrow_numbers(values.combine_chunks(), pa.int64(), np.int64, 0), ""
    column, _ = as_column(values)
    if isinstance(column, TextColumn):
        return _decimal_commas(name, column, delimiter)
    return column, ""


def _date_note(name: str) -> str:
    return (
        f"column {name!r} holds dates, encoded as one category per date; "
        "--dates expand makes them year, month, day and weekday numbers"
    )


def _decimal_commas(name: str, column: TextColumn, delimiter: Any) -> tuple[TextColumn, str]:
    """A text column of numbers written with decimal commas, as numbers (and a note)."""
    if delimiter in (",", None) or len(column.levels) == 0:
        return column, ""
    levels = column.levels
    commas = [bool(_DECIMAL_COMMA.fullmatch(level)) for level in levels]
    if not any(commas):
        return column, ""
    for level, comma in zip(levels, commas, strict=True):
        if not comma and level.casefold() not in MISSING_TOKENS:
            try:
                float(level)
            except ValueError:
                return column, ""
    example = levels[commas.index(True)]
    fixed = np.array([level.replace(",", ".") for level in levels], dtype=object)
    note = f"column {name!r} uses decimal commas (like {example!r}); read as numbers"
    return TextColumn(column.codes, fixed), note


def _read_csv(path: Path, delimiter: str | None) -> tuple[Table, str]:
    """Parse a delimited text file with the csv module; the first non-blank row is the header."""
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
                return _table_from_rows(path, reader), delimiter
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
    if text_file and all(_is_number(name) for name in columns):
        raise InputError(
            f"{path}: the first row {columns[:5]} looks like data, not a header; "
            "add a header row naming the columns"
        )


def _read_parquet(path: Path, dates: str) -> Table:
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
    data = {name: arrow_table.column(i) for i, name in enumerate(columns)}
    return _finish(path, columns, data, dates, delimiter=None)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
