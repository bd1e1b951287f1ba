"""``densekit explain MODEL --trace ROW``: one row's forward pass, backward pass and step.

The row is either a row of a data file (``--data FILE``, ROW its 0-based index among the
data rows) or the network's input written out (``--trace 0.5,-1.2``, with ``--y``). A
model made by ``densekit train`` reads the file's raw row through its stored
preprocessing and takes the target from the row; another model reads a file of numbers,
its features in order and the target in the column ``--target`` names.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import numpy as np

from ..errors import ArgumentError, InputError
from .outputs import refuse_overwrite
from .tables import PREPROCESSING_KEY, reading_options, stored_preprocessor


def cmd_explain(args: argparse.Namespace) -> int:
    """Trace one row through a saved model; print the numbers, optionally write the page.

    Parameters
    ----------
    args
        The parsed ``densekit explain`` arguments.

    Returns
    -------
    int
        The exit status, 0.

    Raises
    ------
    ArgumentError
        If ROW, ``--y`` or ``--target`` do not fit the data and the model.
    DensekitError
        On bad data or model files; ``main`` prints it as one line.
    """
    from ..explain import trace
    from ..serialization.model_file import load_model

    if args.html is not None:
        inputs = {"model": args.model} | ({"data": args.data} if args.data else {})
        refuse_overwrite(args.html, "the trace page", **inputs)
    model = load_model(args.model)
    if not model.compiled:
        raise ArgumentError(
            f"{args.model} has no loss or optimizer (it was saved before compile): "
            "a trace needs both; compile the model and save it again"
        )
    if args.data is not None:
        x, y = _row_of_file(model, args)
    elif PREPROCESSING_KEY in model.metadata:
        # its network reads encoded features, which a person would not type: the raw
        # cells go through the stored preprocessing only when read from a table
        raise ArgumentError(
            f"{args.model} was made by 'densekit train', whose network reads encoded "
            "features: trace a row of a table instead, with --data FILE --trace ROW"
        )
    else:
        x, y = _row_of_values(args)
    result = trace(model, x, y, training=args.training)
    print(result.table())
    if args.html is not None:
        result.to_html(args.html, title=f"densekit trace: {args.model}, row {args.trace}")
        if not args.quiet:
            print(f"wrote the trace page to {args.html}", file=sys.stderr)
    return 0


def _numbers(text: str, what: str) -> np.ndarray:
    try:
        return np.array([float(part) for part in text.split(",")], dtype=np.float64)
    except ValueError:
        raise ArgumentError(f"{what} must be numbers separated by commas, got {text!r}") from None


def _row_of_values(args: argparse.Namespace) -> tuple[np.ndarray, Any]:
    """The input written on the command line and its ``--y``."""
    if args.y is None:
        raise ArgumentError(
            "--trace VALUES needs the target too: add --y (a number, a class index, or "
            "numbers separated by commas), or trace a row of a file with --data FILE"
        )
    x = _numbers(args.trace, "--trace")
    y = _numbers(args.y, "--y")
    return x, (y[0] if y.size == 1 else y)


def _row_index(args: argparse.Namespace, n_rows: int) -> int:
    try:
        index = int(args.trace)
    except ValueError:
        raise ArgumentError(
            f"with --data, --trace is a row number (0 is the first data row), got {args.trace!r}"
        ) from None
    if not 0 <= index < n_rows:
        raise ArgumentError(f"--trace {index}: {args.data} has data rows 0 to {n_rows - 1}")
    return index


def _row_of_file(model: Any, args: argparse.Namespace) -> tuple[np.ndarray, Any]:
    """Row ROW of ``--data``: through the stored preprocessing, or as numbers."""
    from ..preprocessing import TextColumn
    from ..tabular import Table, column, read_table

    stored = PREPROCESSING_KEY in model.metadata
    preprocessor = stored_preprocessor(model, args.model) if stored else None
    options = reading_options(preprocessor) if stored else {}
    table = read_table(args.data, **options)
    index = _row_index(args, table.n_rows)
    rows = np.array([index])

    def one_row(cells: Any) -> Any:
        return cells.take(rows) if isinstance(cells, TextColumn) else np.asarray(cells)[rows]

    row = Table(table.columns, {name: one_row(table.data[name]) for name in table.columns}, 1)
    if preprocessor is not None:
        x = preprocessor.transform(row)[0]
        if args.y is not None:
            return x, _numbers(args.y, "--y")
        return x, preprocessor.encode_target(row)[0]
    if args.target is None:
        raise ArgumentError(
            f"{args.model} has no stored preprocessing (it was not made by 'densekit train'): "
            "name the target column of the file with --target"
        )
    target = column(row, args.target, "--target")
    features = [name for name in table.columns if name != args.target]
    try:
        x = np.array([float(row.data[name][0]) for name in features], dtype=np.float64)
        y = float(target[0])
    except (TypeError, ValueError):
        raise InputError(
            f"row {index} of {args.data} is not all numbers; a model without stored "
            "preprocessing reads its features as numbers (train it with 'densekit train' "
            "to read raw tables)"
        ) from None
    return x, y


def add_command(commands: Any) -> None:
    """Add the ``explain`` command, its options and its handler.

    Parameters
    ----------
    commands
        What ``ArgumentParser.add_subparsers`` returned.
    """
    explain = commands.add_parser(
        "explain",
        help="trace one row through a model: every layer's numbers, forward and backward",
        description=(
            "Print one row's forward pass (z, a), backward pass (dL/da, dL/dz, dL/dW, dL/db), "
            "loss and the optimizer's next step, for every layer; --html draws the network."
        ),
    )
    explain.add_argument("model", help="a model file (densekit train's, or model.save's)")
    explain.add_argument(
        "--trace",
        required=True,
        metavar="ROW",
        help="with --data, a row number of the file (0 is the first data row); without, "
        "the network's input as numbers separated by commas (a model saved by the library; "
        "a 'densekit train' model needs --data)",
    )
    explain.add_argument("--data", default=None, help="CSV or Parquet file to take the row from")
    explain.add_argument(
        "--target",
        default=None,
        help="the target column of --data, for a model not made by 'densekit train'",
    )
    explain.add_argument(
        "--y",
        default=None,
        help="the target as the loss sees it: a number, a class index, or numbers separated "
        "by commas (required with --trace VALUES)",
    )
    explain.add_argument("--html", default=None, metavar="PATH", help="also write the page here")
    explain.add_argument(
        "--training",
        action="store_true",
        help="run the forward pass as fit does (dropout on, batch statistics)",
    )
    explain.add_argument("-q", "--quiet", action="store_true")
    explain.set_defaults(handler=cmd_explain)
