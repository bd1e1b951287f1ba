"""``densekit predict``: apply a trained model to raw table rows, write the predictions as CSV."""

from __future__ import annotations

import argparse
import warnings
from typing import Any

import numpy as np

from ..errors import ArgumentError
from .argument_types import positive_int
from .devices import add_device_arguments, check_device_arguments
from .outputs import check_output_path, refuse_overwrite, say, write_csv
from .tables import reading_options, stored_preprocessor


def cmd_predict(args: argparse.Namespace) -> int:
    """Predict with a model made by ``densekit train`` on a table; write CSV to a file or stdout.

    Parameters
    ----------
    args
        The parsed ``densekit predict`` arguments.

    Returns
    -------
    int
        The exit status, 0.

    Raises
    ------
    ArgumentError
        If ``--proba`` is given for a regression model.
    DensekitError
        On bad options, data or model files; ``main`` prints it as one line.
    """
    from ..serialization.model_file import load_model
    from ..tabular import read_table

    check_device_arguments(args)
    if args.output is not None:
        check_output_path(args.output, "-o")
        refuse_overwrite(args.output, "the predictions", data=args.data, model=args.model)
    model = load_model(args.model).to(args.device)
    model.precision = args.precision
    preprocessor = stored_preprocessor(model, args.model)
    table = read_table(args.data, **reading_options(preprocessor))
    ids = _id_column(table, args.id)
    x = preprocessor.transform(table)
    _warn_unseen(preprocessor.unseen(), table.n_rows)  # shown once, unless -q
    outputs = model.predict(x, batch_size=args.batch_size)
    labels = preprocessor.decode_target(outputs)
    header = ["prediction"] if ids is None else [args.id, "prediction"]
    columns = [list(labels)] if ids is None else [ids, list(labels)]
    if args.proba:
        if preprocessor.task != "classification":
            raise ArgumentError("--proba needs a classification model")
        probabilities = _class_probabilities(outputs, len(preprocessor.classes_))
        header += [f"proba_{label}" for label in preprocessor.classes_]
        columns += [list(column) for column in probabilities.T]
    write_csv(args.output, header, columns)
    if args.output is not None:
        say(f"wrote {len(labels)} predictions to {args.output}", args.quiet)
    return 0


def add_command(commands: Any) -> None:
    """Add the ``predict`` command, its options and its handler.

    Parameters
    ----------
    commands
        What ``ArgumentParser.add_subparsers`` returned.
    """
    predict = commands.add_parser(
        "predict",
        help="predict with a trained model on raw table rows",
        description="Apply a model made by 'densekit train' to a CSV/Parquet file.",
    )
    predict.add_argument("model", help="model file written by 'densekit train'")
    predict.add_argument("data", help="CSV or Parquet file with the training columns")
    predict.add_argument("-o", "--output", default=None, help="CSV to write (default: stdout)")
    predict.add_argument("--proba", action="store_true", help="add class probability columns")
    predict.add_argument("--batch-size", type=positive_int, default=None)
    predict.add_argument(
        "--id",
        default=None,
        metavar="COLUMN",
        help="copy this column (a row ID) into the output, before the predictions",
    )
    add_device_arguments(predict)
    predict.add_argument("-q", "--quiet", action="store_true",
                         help="print nothing but errors (and the predictions, without -o)")  # fmt: skip
    predict.set_defaults(handler=cmd_predict)


def _class_probabilities(outputs: np.ndarray, n_classes: int) -> np.ndarray:
    if outputs.shape[1] == 1 and n_classes == 2:
        return np.hstack([1.0 - outputs, outputs])
    return outputs


def _id_column(table: Any, name: str | None) -> list | None:
    """The --id column's cells as they read in the file (integers without '.0')."""
    if name is None:
        return None
    from ..tabular import TextColumn, column

    values = column(table, name, "--id")
    if isinstance(values, TextColumn):
        return ["" if value is None else value for value in values.tolist()]
    values = np.asarray(values)
    if values.dtype.kind == "f" and np.all(np.isnan(values) | (values == np.round(values))):
        return ["" if np.isnan(v) else str(int(v)) for v in values.tolist()]
    return values.tolist()


def _warn_unseen(unseen: dict[str, int], n_rows: int) -> None:
    """One line: how many cells held categories the model never saw (they encode as zeros)."""
    if unseen:
        listed = ", ".join(f"{name!r}: {count}" for name, count in unseen.items())
        warnings.warn(
            f"{sum(unseen.values())} cells of {n_rows} rows hold categories "
            f"not seen in training ({listed}); they encode as no known category",
            stacklevel=2,
        )
