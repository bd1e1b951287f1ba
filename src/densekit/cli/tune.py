"""``densekit tune``: search network sizes and training settings on a table (Optuna)."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

from .argument_types import at_least, fraction, non_negative_int, positive_int
from .outputs import check_output_path, refuse_overwrite, reported_warnings, say, show
from .reporting import data_facts, evaluated_on, tune_settings, write_report
from .tables import PREPROCESSING_KEY, add_table_arguments, read_training_table


def cmd_tune(args: argparse.Namespace) -> int:
    """Search layer count, widths, activation, learning rate, dropout and L2 (dk.tune).

    The result, the trial table and the best trial, goes to stdout; Optuna's log, "saved
    ..." and how to continue the study go to stderr. Without ``--storage`` the study lives
    in a temporary folder that is removed at the end, unless ``--keep-study``.

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

    _check_paths(args)
    with reported_warnings(args.quiet) as raised:
        preprocessor, x, y = read_training_table(args)
    space = {
        **tune.DEFAULT_SPACE,
        "layers": (1, args.max_layers),
        "units": (4, args.max_units, "log"),
    }
    storage = args.storage
    if storage is None and args.keep_study:
        storage = str(Path(tempfile.mkdtemp(prefix=tune.storage.TEMPORARY_PREFIX)) / "study.db")
    result = tune.search(
        space, x, y, n_trials=args.trials, sampler=args.sampler, n_jobs=args.jobs,
        seed=args.seed, storage=storage, study_name=args.study_name, epochs=args.epochs,
        batch_size=args.batch_size, cv=args.cv, validation_split=args.validation_split,
        task=preprocessor.task, verbose=0 if args.quiet else 1,
    )  # fmt: skip
    model = result.best_model
    model.metadata[PREPROCESSING_KEY] = preprocessor.get_config()
    if args.output:
        model.save(args.output)
    report = None
    if args.report:
        split = result.validation_rows is not None
        rows = result.validation_rows if split else slice(None)
        report = write_report(
            args.report, model, result.history, x[rows], y[rows], preprocessor, result,
            evaluated=evaluated_on(args, "tune", split_rows=split),
            data=data_facts(args, preprocessor, y, raised), settings=tune_settings(args, result),
            source=args.data,
        )  # fmt: skip
    trials = result.trials
    show(trials.to_string(index=False) if hasattr(trials, "to_string") else str(trials), args.quiet)
    show(result.summary(), args.quiet)
    if storage is None:
        say(
            "the study was temporary and is removed; to keep it and continue it later, "
            "add --keep-study or --storage FILE",
            args.quiet,
        )
    else:
        say(
            f"study {result.study_name!r} is stored in {storage}; continue it with "
            f"--storage {storage} --study-name {result.study_name}",
            args.quiet,
        )
    if args.output:
        say(f"saved the best model to {args.output}", args.quiet)
    if report is not None:
        say(f"wrote the report to {report}", args.quiet)
    return 0


def _check_paths(args: argparse.Namespace) -> None:
    """Stop before the search when an output cannot be written or would destroy an input."""
    if args.output:
        check_output_path(args.output, "-o")
        refuse_overwrite(args.output, "the model", data=args.data)
    if args.report:
        check_output_path(args.report, "--report")
        refuse_overwrite(
            args.report, "the report", "--report", data=args.data, model=args.output or ""
        )


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
    tune.add_argument("--max-units", type=at_least(4), default=256,
                      help="the widest hidden layer tried (default 256; at least 4)")  # fmt: skip
    tune.add_argument("--cv", type=at_least(2), default=None,
                      help="k-fold cross-validation (k >= 2) instead of a split")  # fmt: skip
    tune.add_argument("--validation-split", type=fraction, default=0.2)
    tune.add_argument("--storage", default=None,
                      help="Optuna storage URL or file (.db SQLite, .log journal) that keeps the "
                      "study, to continue it later; default: a temporary folder, removed at "
                      "the end")  # fmt: skip
    tune.add_argument("--keep-study", action="store_true",
                      help="keep the temporary study (the last message says where and how to "
                      "continue it)")  # fmt: skip
    tune.add_argument("--study-name", default="densekit", help="study to create or continue")
    tune.add_argument("--seed", type=non_negative_int, default=0)
    tune.add_argument("-o", "--output", default=None, help="where to save the best model")
    tune.add_argument("--report", default=None, metavar="PATH", help="write an HTML report")
    tune.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    tune.set_defaults(handler=cmd_tune)
