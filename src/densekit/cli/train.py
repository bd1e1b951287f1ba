"""``densekit train``: fit a dense network on a CSV/Parquet table and save it.

The model file holds the fitted preprocessing too, so ``densekit predict`` takes raw rows.
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

from ..errors import ArgumentError
from .argument_types import (
    activation_name,
    fraction,
    hidden_sizes,
    non_negative_int,
    non_negative_number,
    optimizer_name,
    positive_int,
    positive_number,
)
from .devices import add_device_arguments, check_device_arguments
from .outputs import (
    check_output_path,
    messages_to_stderr,
    refuse_overwrite,
    reported_warnings,
    say,
    show,
)
from .reporting import (
    data_facts,
    evaluated_on,
    evaluation,
    held_out_rows,
    train_settings,
    write_report,
)
from .tables import PREPROCESSING_KEY, add_table_arguments, read_training_table, reading_options


def cmd_train(args: argparse.Namespace) -> int:
    """Train a network on a table and save it, with its preprocessing, as a model file.

    The result, the model's scores on the evaluated rows (in the target's units), goes to
    stdout; the table's shape, the layers, the epochs and "saved ..." go to stderr.

    Parameters
    ----------
    args
        The parsed ``densekit train`` arguments.

    Returns
    -------
    int
        The exit status, 0.

    Raises
    ------
    ArgumentError
        If ``--checkpoint`` is given without ``--distributed``.
    DensekitError
        On bad options, data or model files; ``main`` prints it as one line.
    """
    _check_paths(args)
    check_device_arguments(args)
    if args.checkpoint is not None and not args.distributed:
        raise ArgumentError("--checkpoint is for --distributed runs (rank 0 writes it)")
    root = True
    if args.distributed:  # every rank of `mpiexec -n N densekit train --distributed` runs this
        from .. import distributed

        root = distributed.is_root()
        args.quiet = args.quiet or not root
    with reported_warnings(args.quiet) as raised:
        preprocessor, x, y = read_training_table(args)
        test = _read_test(args.test, preprocessor) if args.test else None
    loss, units = preprocessor.suggest_loss()
    model = build_model(
        x.shape[1],
        units,
        loss,
        hidden=args.hidden,
        activation=args.activation,
        dropout=args.dropout,
        l2=args.l2,
        seed=args.seed,
        device=args.device,
        precision=args.precision,
    )
    metrics = ["accuracy"] if preprocessor.task == "classification" else ["mae"]
    from .. import optimizers

    optimizer = optimizers.get({"name": args.optimizer, "learning_rate": args.learning_rate})
    model.compile(optimizer=optimizer, loss=loss, metrics=metrics)
    model.metadata[PREPROCESSING_KEY] = preprocessor.get_config()
    say(
        f"{preprocessor.task}: {len(x)} rows, {len(preprocessor.input_names)} columns -> "
        f"{x.shape[1]} features after encoding, target {args.target!r}"
        + (
            f" with classes {preprocessor.classes_}"
            if preprocessor.task == "classification"
            else ""
        ),
        args.quiet,
    )
    callbacks = []
    if args.patience is not None:
        from ..callbacks import EarlyStopping

        monitor = "val_loss" if args.validation_split > 0 else "loss"
        callbacks.append(
            EarlyStopping(monitor=monitor, patience=args.patience, restore_best_weights=True)
        )
    fit_kwargs = {
        "batch_size": args.batch_size,
        "epochs": args.epochs,
        "validation_split": args.validation_split,
        "seed": args.seed,
        "verbose": 0 if args.quiet else "auto",  # on stderr: a bar on a terminal, else lines
        "callbacks": callbacks,
    }
    with messages_to_stderr():
        if not args.quiet:
            model.summary()
        if args.distributed:
            history = distributed.fit(
                model,
                x,
                y,
                checkpoint=args.checkpoint,
                resume=args.checkpoint is not None,
                **fit_kwargs,
            )
        else:
            history = model.fit(x, y, **fit_kwargs)
    if not root:
        return 0  # rank 0 alone writes the model and the report
    model.save(args.output)
    x_eval, y_eval = test if test is not None else _held_out(args, model, x, y)
    evaluated = evaluated_on(args, "train")
    report = None
    if args.report:
        report = write_report(
            args.report, model, history, x_eval, y_eval, preprocessor, evaluated=evaluated,
            data=data_facts(args, preprocessor, y, raised), settings=train_settings(args, history),
            source=args.data,
        )  # fmt: skip
    say(f"saved the model to {args.output}", args.quiet)
    if report is not None:
        say(f"wrote the report to {report}", args.quiet)
    show(f"{evaluation(model, x_eval, y_eval, preprocessor)} on {evaluated}", args.quiet)
    return 0


def add_command(commands: Any) -> None:
    """Add the ``train`` command, its options and its handler.

    Parameters
    ----------
    commands
        What ``ArgumentParser.add_subparsers`` returned.
    """
    train = commands.add_parser(
        "train",
        help="train a network on a CSV/Parquet file",
        description="Train a dense network on a table. Numeric columns are standardized, text "
        "columns one-hot encoded; the task is classification when the target is text or "
        "integers with at most 20 distinct values, regression otherwise.",
    )
    add_table_arguments(train)
    train.add_argument("-o", "--output", required=True, help="where to write the model file")
    train.add_argument(
        "--test",
        default=None,
        metavar="FILE",
        help="a table with the same columns, held out from training: the result and the "
        "report are computed on it",
    )
    train.add_argument(
        "--hidden",
        type=hidden_sizes,
        default=[64, 32],
        help="hidden layer sizes, comma-separated, or none (default 64,32)",
    )
    train.add_argument("--activation", type=activation_name, default="relu",
                       help="hidden activation (default relu)")  # fmt: skip
    train.add_argument("--epochs", type=non_negative_int, default=20)
    train.add_argument("--batch-size", type=positive_int, default=32)
    train.add_argument("--learning-rate", type=positive_number, default=1e-3)
    train.add_argument("--optimizer", type=optimizer_name, default="adam",
                       help="adam, sgd, rmsprop, adamw, adagrad")  # fmt: skip
    train.add_argument("--validation-split", type=fraction, default=0.2)
    train.add_argument("--dropout", type=fraction, default=0.0)
    train.add_argument("--l2", type=non_negative_number, default=0.0, help="L2 penalty on kernels")
    train.add_argument(
        "--patience",
        type=non_negative_int,
        default=None,
        help="stop early after this many epochs without improvement",
    )
    train.add_argument("--seed", type=non_negative_int, default=0)
    add_device_arguments(train)
    train.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    train.add_argument("--report", default=None, metavar="PATH",
                       help="also write a self-contained HTML report (needs matplotlib)")  # fmt: skip
    train.add_argument(
        "--distributed",
        action="store_true",
        help="data-parallel over MPI: run as `mpiexec -n N densekit train ... --distributed` "
        "(needs densekit[mpi])",
    )
    train.add_argument(
        "--checkpoint",
        default=None,
        metavar="PATH",
        help="with --distributed: rank 0 saves a checkpoint every epoch; a rerun resumes from it",
    )
    train.set_defaults(handler=cmd_train)


def build_model(
    n_features: int,
    units: int,
    loss: str,
    hidden: list[int],
    activation: str = "relu",
    dropout: float = 0.0,
    l2: float = 0.0,
    seed: int | None = 0,
    device: str = "cpu",
    precision: str = "fp32",
):
    """The MLP ``train`` fits: hidden Dense layers, then softmax/sigmoid/linear for the loss."""
    from ..mlp import build_mlp, output_head

    head = output_head(units, loss=loss)
    return build_mlp(
        n_features, hidden, head.units, activation=activation, output_activation=head.activation,
        dropout=dropout, l2=l2, seed=seed, device=device, precision=precision,
    )  # fmt: skip


def _check_paths(args: argparse.Namespace) -> None:
    """Stop before reading or training when an output cannot be written or would destroy an input."""
    inputs = {"data": args.data, **({"test": args.test} if args.test else {})}
    check_output_path(args.output, "-o")
    refuse_overwrite(args.output, "the model", **inputs)
    if args.report:
        check_output_path(args.report, "--report")
        refuse_overwrite(args.report, "the report", "--report", **inputs, model=args.output)


def _read_test(path: str, preprocessor: Any) -> tuple[np.ndarray, np.ndarray]:
    """The ``--test`` file's rows, encoded with the preprocessing fitted on the training file."""
    from ..tabular import read_table

    table = read_table(path, **reading_options(preprocessor))  # as the training file was read
    return preprocessor.transform(table), preprocessor.encode_target(table)


def _held_out(args: argparse.Namespace, model: Any, x: np.ndarray, y: np.ndarray):
    """The rows ``fit`` held out (the same seeded split), else all rows."""
    rows = held_out_rows(args, model, y)
    return x[rows], y[rows]
