"""The table a command reads: its arguments, its preprocessing, and the one a model file stores.

``train`` and ``tune`` take a data file, ``--target``, ``--task``, ``--fill-missing`` and
``--drop``, and fit a :class:`~densekit.tabular.TabularPreprocessor` on it; the fitted
preprocessing goes into the model file's metadata under PREPROCESSING_KEY, where
``predict`` and ``summary`` find it.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import numpy as np

from ..errors import ArgumentError, ModelFileError

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

    table = _drop_columns(read_table(args.data), args.drop or [], args.target)
    if not args.quiet:
        _warn_identifiers(table, args.target)
    preprocessor = TabularPreprocessor(
        target=args.target,
        task=None if args.task == "auto" else args.task,
        fill_missing=None if args.fill_missing == "none" else args.fill_missing,
    ).fit(table)
    x, y = preprocessor.transform(table), preprocessor.encode_target(table)
    if not args.quiet:
        for line in [*table.notes, *preprocessor.warnings_]:
            print(f"densekit: warning: {line}", file=sys.stderr)
        if preprocessor.filled_summary():
            print(f"densekit: {preprocessor.filled_summary()}", file=sys.stderr)
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
    return Table(columns, {name: table.data[name] for name in columns}, table.n_rows)


def _warn_identifiers(table, target: str) -> None:
    from ..tabular import identifier_columns

    features = [name for name in table.columns if name != target]
    for name in identifier_columns(table, features):
        print(
            f"densekit: warning: column {name!r} has a different value in every row, like an "
            f"ID; it gives the model nothing to learn (drop it with --drop {name!r})",
            file=sys.stderr,
        )
