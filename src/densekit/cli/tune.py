"""``densekit tune``: search network sizes and training settings on a table (Optuna)."""

from __future__ import annotations

import argparse
from typing import Any

from .argument_types import fraction, non_negative_int, positive_int
from .outputs import refuse_overwrite
from .reporting import write_report
from .tables import PREPROCESSING_KEY, add_table_arguments, read_training_table


def cmd_tune(args: argparse.Namespace) -> int:
    """Search layer count, widths, activation, learning rate, dropout and L2 (dk.tune).

    Parameters
    ----------
    args
        The parsed ``densekit tune`` arguments.

    Returns
    -------
    int
        The exit status, 0.

    Raises
    ------
    DensekitError
        On bad options, data or model files; ``main`` prints it as one line.
    """
    from .. import tune

    if args.output:
        refuse_overwrite(args.output, "the model", data=args.data)
    preprocessor, x, y = read_training_table(args)
    space = {
        **tune.DEFAULT_SPACE,
        "layers": (1, args.max_layers),
        "units": (4, args.max_units, "log"),
    }
    result = tune.search(
        space, x, y, n_trials=args.trials, sampler=args.sampler, n_jobs=args.jobs,
        seed=args.seed, storage=args.storage, study_name=args.study_name, epochs=args.epochs,
        batch_size=args.batch_size, cv=args.cv, validation_split=args.validation_split,
        task=preprocessor.task, verbose=0 if args.quiet else 1,
    )  # fmt: skip
    model = result.best_model
    model.metadata[PREPROCESSING_KEY] = preprocessor.get_config()
    if args.output:
        model.save(args.output)
    report = None
    if args.report:
        rows = result.validation_rows if result.validation_rows is not None else slice(None)
        report = write_report(
            args.report, model, result.history, x[rows], y[rows], preprocessor, result
        )
    trials = result.trials
    print(trials.to_string(index=False) if hasattr(trials, "to_string") else trials)
    print(result.summary())
    print(f"study {result.study_name!r} is stored in {result.storage} (run again to continue it)")
    if args.output:
        print(f"saved the best model to {args.output}")
    if report is not None:
        print(f"wrote the report to {report}")
    return 0


def add_command(commands: Any) -> None:
    """Add the ``tune`` command, its options and its handler.

    Parameters
    ----------
    commands
        What ``ArgumentParser.add_subparsers`` returned.
    """
    tune = commands.add_parser(
        "tune",
        help="search network sizes and training settings on a CSV/Parquet file",
        description="Try networks (layers, units, activation, learning rate, dropout, L2) with "
        "Optuna and keep the best on a validation split (or --cv folds). Needs densekit[tune].",
    )
    add_table_arguments(tune)
    tune.add_argument(
        "--trials",
        type=positive_int,
        default=20,
        help="trials to run now (default 20; added to a continued study)",
    )
    tune.add_argument("--sampler", choices=["tpe", "random", "grid"], default="tpe")
    tune.add_argument("--jobs", type=positive_int, default=1, help="worker processes")
    tune.add_argument("--epochs", type=positive_int, default=20, help="epochs per trial")
    tune.add_argument("--batch-size", type=positive_int, default=32)
    tune.add_argument("--max-layers", type=positive_int, default=3)
    tune.add_argument("--max-units", type=positive_int, default=256)
    tune.add_argument("--cv", type=positive_int, default=None, help="k-fold instead of a split")
    tune.add_argument("--validation-split", type=fraction, default=0.2)
    tune.add_argument("--storage", default=None,
                      help="Optuna storage URL or file (.db SQLite, .log journal); default: "
                      "a new SQLite file in a temporary folder")  # fmt: skip
    tune.add_argument("--study-name", default="densekit", help="study to create or continue")
    tune.add_argument("--seed", type=non_negative_int, default=0)
    tune.add_argument("-o", "--output", default=None, help="where to save the best model")
    tune.add_argument("--report", default=None, metavar="PATH", help="write an HTML report")
    tune.add_argument("-q", "--quiet", action="store_true")
    tune.set_defaults(handler=cmd_tune)
