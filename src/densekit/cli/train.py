"""``densekit train``: fit a dense network on a CSV/Parquet table and save it.

The model file holds the fitted preprocessing too, so ``densekit predict`` takes raw rows.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ArgumentError
from .argument_types import fraction, hidden_sizes, non_negative_int, number, positive_int
from .devices import add_device_arguments
from .outputs import refuse_overwrite
from .reporting import write_report
from .tables import PREPROCESSING_KEY, add_table_arguments, read_training_table


def cmd_train(args: argparse.Namespace) -> int:
    """Train a network on a table and save it, with its preprocessing, as a model file.

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
    refuse_overwrite(args.output, "the model", data=args.data)
    if args.checkpoint is not None and not args.distributed:
        raise ArgumentError("--checkpoint is for --distributed runs (rank 0 writes it)")
    root = True
    if args.distributed:  # every rank of `mpiexec -n N densekit train --distributed` runs this
        from .. import distributed

        root = distributed.is_root()
        args.quiet = args.quiet or not root
    preprocessor, x, y = read_training_table(args)
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
    if not args.quiet:
        print(
            f"{preprocessor.task}: {len(x)} rows, {len(preprocessor.input_names)} columns -> "
            f"{x.shape[1]} features after encoding, target {args.target!r}"
            + (
                f" with classes {preprocessor.classes_}"
                if preprocessor.task == "classification"
                else ""
            )
        )
        model.summary()
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
        "verbose": 0 if args.quiet else (1 if sys.stdout.isatty() else 2),
        "callbacks": callbacks,
    }
    if args.distributed:
        history = distributed.fit(
            model,
            x,
            y,
            checkpoint=args.checkpoint,
            resume=args.checkpoint is not None,
            **fit_kwargs,
        )
        if not root:
            return 0  # rank 0 alone writes the model and the report
    else:
        history = model.fit(x, y, **fit_kwargs)
    model.save(args.output)
    report = _train_report(args, model, history, x, y, preprocessor) if args.report else None
    if not args.quiet:
        final = {key: round(values[-1], 4) for key, values in history.history.items()}
        print(f"final: {final}")
        if preprocessor.task == "regression":
            units = {
                key: round(values[-1] * preprocessor.target_std, 4)
                for key, values in history.history.items()
                if key.endswith("mae")
            }
            print(
                f"(loss and mae are on the standardized target; in {args.target!r} units: {units})"
            )
        print(f"saved the model to {args.output}")
    if report is not None:
        print(f"wrote the report to {report}")
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
        "--hidden",
        type=hidden_sizes,
        default=[64, 32],
        help="hidden layer sizes, comma-separated (default 64,32)",
    )
    train.add_argument("--activation", default="relu", help="hidden activation (default relu)")
    train.add_argument("--epochs", type=non_negative_int, default=20)
    train.add_argument("--batch-size", type=positive_int, default=32)
    train.add_argument("--learning-rate", type=number, default=1e-3)
    train.add_argument("--optimizer", default="adam", help="adam, sgd, rmsprop, adamw, adagrad")
    train.add_argument("--validation-split", type=fraction, default=0.2)
    train.add_argument("--dropout", type=fraction, default=0.0)
    train.add_argument("--l2", type=number, default=0.0, help="L2 penalty on kernels")
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


def _train_report(args, model, history, x, y, preprocessor) -> Path:
    """The report on the rows ``fit`` held out (the same seeded split), else on all rows."""
    rows = slice(None)
    if args.validation_split > 0:
        from ..backend import make_rng
        from ..validation import validation_split_indices

        labels = y.reshape(len(y), -1)[:, 0].astype(np.int64) if model.loss.fuses_with else None
        _, rows = validation_split_indices(
            len(x), args.validation_split, make_rng(args.seed), labels
        )
    return write_report(args.report, model, history, x[rows], y[rows], preprocessor)
