"""The table a command reads: its arguments, its preprocessing, and the one a model file stores.

``train`` and ``tune`` take a data file, ``--target``, ``--task``, ``--fill-missing`` and
``--drop``, and fit a :class:`~densekit.tabular.TabularPreprocessor` on it; the fitted
preprocessing goes into the model file's metadata under PREPROCESSING_KEY, where
``predict`` and ``summary`` find it.
"""

from __future__ import annotations

import argparse
import warnings
from typing import Any

import numpy as np

from ..errors import ArgumentError, ModelFileError
from .outputs import say

PREPROCESSING_KEY = "preprocessing"


def add_table_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the data file and how to read it: shared by train and tune.

    Parameters
    ----------
    parser
        The command's parser.
    """
    parser.add_argument("data", help="CSV or Parquet file with a header row")
    parser.add_argument("--target", required=True, help="name of the column to predict")
    parser.add_argument("--task", choices=["auto", "classification", "regression"], default="auto")
    parser.add_argument(
        "--fill-missing",
        choices=["auto", "mean", "median", "most_frequent", "zero", "none"],
        default="auto",
        help="how missing cells are filled: auto (the default: numbers take the median and "
        "a missing-indicator feature, text its own level), mean, median, most_frequent, "
        "zero, or none to stop with an error",
    )
    parser.add_argument(
        "--missing-values",
        default="",
        metavar="TEXT",
        help="text that counts as missing in every column, comma-separated (like 'NA,None'); "
        "numeric columns always count NA, NaN, null, None, ? and blank cells, text columns "
        "only blank ones",
    )
    parser.add_argument(
        "--dates",
        choices=["text", "expand"],
        default="text",
        help="date columns: text (one category per date, the default) or expand (year, "
        "month, day and weekday number columns)",
    )
    parser.add_argument(
        "--drop",
        action="append",
        metavar="COLUMN",
        help="leave this column out of the features (an ID, say); repeat it or list "
        "several separated by commas",
    )


def read_training_table(args: argparse.Namespace) -> tuple[Any, np.ndarray, np.ndarray]:
    """Read ``args.data`` and fit its preprocessing.

    Parameters
    ----------
    args
        The parsed arguments of :func:`add_table_arguments`, and ``quiet``.

    Returns
    -------
    tuple
        (preprocessor, x, y): the fitted TabularPreprocessor, the features and the targets.

    Raises
    ------
    DensekitError
        If the file cannot be read, ``--drop`` names an unknown column or the target,
        or the table does not fit the task.
    """
    from ..tabular import TabularPreprocessor, read_table

    table = _drop_columns(read_table(args.data, dates=args.dates), args.drop or [], args.target)
    _warn_identifiers(table, args.target)
    preprocessor = TabularPreprocessor(
        target=args.target,
        task=None if args.task == "auto" else args.task,
        fill_missing=None if args.fill_missing == "none" else args.fill_missing,
        missing_values=[text.strip() for text in args.missing_values.split(",") if text.strip()],
    ).fit(table)
    if args.dates != "text":
        preprocessor.reading = {"dates": args.dates}  # stored, so predict reads alike
    x, y = preprocessor.transform(table), preprocessor.encode_target(table)
    for line in [*table.notes, *preprocessor.warnings_]:
        # raised, not printed: the command prints each once (unless -q) and the report
        # lists them (cli.outputs.reported_warnings)
        warnings.warn(line, stacklevel=2)
    if preprocessor.filled_summary():
        say(preprocessor.filled_summary(), args.quiet)
    return preprocessor, x, y


def stored_preprocessor(model: Any, path: str) -> Any:
    """The preprocessing ``densekit train`` stored in a model file.

    Parameters
    ----------
    model
        The loaded model.
    path
        The model file, to name in the error.

    Returns
    -------
    TabularPreprocessor
        The fitted preprocessor.

    Raises
    ------
    ModelFileError
        If the model has no stored preprocessing, or it is malformed.
    """
    from ..tabular import TabularPreprocessor

    if PREPROCESSING_KEY not in model.metadata:
        raise ModelFileError(
            f"{path} has no stored preprocessing: it was not made by 'densekit train', "
            "so it cannot read raw table rows"
        )
    return TabularPreprocessor.from_config(model.metadata[PREPROCESSING_KEY])


def reading_options(preprocessor: Any) -> dict:
    """How ``densekit train`` read its table, so ``predict`` reads new rows alike.

    Parameters
    ----------
    preprocessor
        The stored preprocessing (its ``reading``).

    Returns
    -------
    dict
        Keyword arguments for :func:`~densekit.tabular.read_table`.

    Raises
    ------
    ModelFileError
        If the stored options are malformed.
    """
    options = preprocessor.reading
    if set(options) - {"dates"} or options.get("dates", "text") not in ("text", "expand"):
        raise ModelFileError(f"the stored reading options {options!r} are not ones densekit knows")
    return {"dates": options.get("dates", "text")}


def _drop_columns(table, names: list[str], target: str):
    """The table without the columns named by --drop (each may list several, comma-separated)."""
    from ..tabular import Table, column

    dropped: list[str] = []
    for text in names:
        parts = [text] if text in table.data else [part.strip() for part in text.split(",")]
        for name in parts:
            column(table, name, "--drop")
            if name == target:
                raise ArgumentError(f"--drop {name!r} names the target; drop feature columns only")
            dropped.append(name)
    if not dropped:
        return table
    columns = [name for name in table.columns if name not in dropped]
    return Table(columns, {name: table.data[name] for name in columns}, table.n_rows, table.notes)


def _warn_identifiers(table, target: str) -> None:
    from ..tabular import identifier_columns

    features = [name for name in table.columns if name != target]
    for name in identifier_columns(table, features):
        warnings.warn(
            f"column {name!r} has a different value in every row, like an "
            f"ID; it gives the model nothing to learn (drop it with --drop {name!r})",
            stacklevel=2,
        )
