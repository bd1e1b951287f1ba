"""The ``densekit`` command line: train on a CSV/Parquet file, predict, summarize, demo.

    densekit train data.csv --target price -o model.safetensors --hidden 64,32
    densekit predict model.safetensors new_rows.csv -o predictions.csv
    densekit summary model.safetensors
    densekit export model.safetensors model.onnx
    densekit demo

The preprocessing learned by ``train`` (standardization, one-hot vocabularies,
class names) is stored inside the model file, so ``predict`` takes raw rows.
Errors print one line and exit with status 2; no traceback. A reader that leaves early
(``densekit train ... | head -1``) stops the printing, never the work: the command still
writes its files, then exits with status 141, as a Unix tool stopped by SIGPIPE does.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..errors import ArgumentError, DensekitError, MissingDependencyError, ModelFileError, require

PREPROCESSING_KEY = "preprocessing"
EXIT_ERROR = 2
#: what a shell reports for a writer killed by SIGPIPE (128 + 13), e.g. ``yes | head -1``
EXIT_BROKEN_PIPE = 141


# --- commands -----------------------------------------------------------------------


def cmd_train(args: argparse.Namespace) -> int:
    _refuse_overwrite(args.output, "the model", data=args.data)
    if args.checkpoint is not None and not args.distributed:
        raise ArgumentError("--checkpoint is for --distributed runs (rank 0 writes it)")
    root = True
    if args.distributed:  # every rank of `mpiexec -n N densekit train --distributed` runs this
        from .. import distributed

        root = distributed.is_root()
        args.quiet = args.quiet or not root
    preprocessor, x, y = _read_training_table(args)
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
            f"{preprocessor.task}: {len(x)} rows, {x.shape[1]} features "
            f"({len(preprocessor.feature_names)} after encoding), target {args.target!r}"
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


def cmd_predict(args: argparse.Namespace) -> int:
    from ..serialization.model_file import load_model
    from ..tabular import read_table

    if args.output is not None:
        _refuse_overwrite(args.output, "the predictions", data=args.data, model=args.model)
    model = load_model(args.model).to(args.device)
    model.precision = args.precision
    preprocessor = _preprocessor(model, args.model)
    table = read_table(args.data)
    x = preprocessor.transform(table)
    outputs = model.predict(x, batch_size=args.batch_size)
    labels = preprocessor.decode_target(outputs)
    header = ["prediction"]
    columns = [list(labels)]
    if args.proba:
        if preprocessor.task != "classification":
            raise ArgumentError("--proba needs a classification model")
        probabilities = _class_probabilities(outputs, len(preprocessor.classes_))
        header += [f"proba_{label}" for label in preprocessor.classes_]
        columns += [list(column) for column in probabilities.T]
    _write_csv(args.output, header, columns)
    if args.output is not None and not args.quiet:
        print(f"wrote {len(labels)} predictions to {args.output}", file=sys.stderr)
    return 0


def cmd_summary(args: argparse.Namespace) -> int:
    from ..serialization.model_file import load_model

    model = load_model(args.model)
    model.summary()
    config = model.compile_config()
    if config is not None:
        print(f"Loss: {config['loss']['name']}; optimizer: {config['optimizer']['name']}")
    if PREPROCESSING_KEY in model.metadata:
        preprocessor = _preprocessor(model, args.model)
        print(f"Target: {preprocessor.target!r} ({preprocessor.task})")
        if preprocessor.task == "classification":
            print(f"Classes: {preprocessor.classes_}")
        print(
            f"Features ({len(preprocessor.feature_names)}): {', '.join(preprocessor.feature_names)}"
        )
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from ..onnx import export_onnx
    from ..serialization.model_file import load_model

    _refuse_overwrite(args.output, "the ONNX graph", model=args.model)
    export_onnx(load_model(args.model), args.output, opset=args.opset)
    if not args.quiet:
        print(f"wrote {args.output} (ONNX opset {args.opset})")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from ..demo import run_demo

    model, history, _ = run_demo(
        epochs=args.epochs, output=args.output, seed=args.seed, verbose=not args.quiet
    )
    from ..demo import load_digits_split
    from ..report.html import report

    _, _, x_test, y_test = load_digits_split(args.seed)
    pixels = [f"pixel_{row}_{column}" for row in range(8) for column in range(8)]
    try:
        require("matplotlib", "plot", "the demo's HTML report")
    except MissingDependencyError as exc:
        print(f"no report: {exc}")
        return 0
    path = report(model, history, x_test, y_test, Path(args.output) / "report.html",
                  feature_names=pixels, title="densekit demo: scikit-learn digits")  # fmt: skip
    print(f"wrote the report to {path.resolve()}")
    return 0


def cmd_tune(args: argparse.Namespace) -> int:
    """Search layer count, widths, activation, learning rate, dropout and L2 (dk.tune)."""
    from .. import tune

    if args.output:
        _refuse_overwrite(args.output, "the model", data=args.data)
    preprocessor, x, y = _read_training_table(args)
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
        report = _write_report(
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


# --- helpers ------------------------------------------------------------------------


def _read_training_table(args: argparse.Namespace):
    """Read ``args.data`` and fit its preprocessing: (preprocessor, x, y)."""
    from ..tabular import TabularPreprocessor, read_table

    table = _drop_columns(read_table(args.data), args.drop or [], args.target)
    if not args.quiet:
        _warn_identifiers(table, args.target)
    preprocessor = TabularPreprocessor(
        target=args.target,
        task=None if args.task == "auto" else args.task,
        fill_missing=args.fill_missing,
    ).fit(table)
    return preprocessor, preprocessor.transform(table), preprocessor.encode_target(table)


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
    return _write_report(args.report, model, history, x[rows], y[rows], preprocessor)


def _write_report(path, model, history, x, y, preprocessor, tuning=None) -> Path:
    """Write the HTML report and return its absolute path (the caller prints it)."""
    from ..report.html import report

    classes = preprocessor.classes_ if preprocessor.task == "classification" else None
    written = report(model, history, x, y, path, feature_names=preprocessor.feature_names,
                     tuning=tuning, class_names=classes)  # fmt: skip
    return Path(written).resolve()


def _refuse_overwrite(output: str, what: str, **inputs: str) -> None:
    """Stop before writing ``what`` over one of the command's own input files."""
    target = Path(output)
    for role, source in inputs.items():
        source_path = Path(source)
        same = target.resolve() == source_path.resolve() or (
            target.exists() and source_path.exists() and target.samefile(source_path)
        )
        if same:
            raise ArgumentError(
                f"-o {output} is the {role} file this command reads; writing {what} there "
                "would destroy it: choose another output path"
            )


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


def _preprocessor(model, path):
    from ..tabular import TabularPreprocessor

    if PREPROCESSING_KEY not in model.metadata:
        raise ModelFileError(
            f"{path} has no stored preprocessing: it was not made by 'densekit train', "
            "so it cannot read raw table rows"
        )
    return TabularPreprocessor.from_config(model.metadata[PREPROCESSING_KEY])


def _class_probabilities(outputs: np.ndarray, n_classes: int) -> np.ndarray:
    if outputs.shape[1] == 1 and n_classes == 2:
        return np.hstack([1.0 - outputs, outputs])
    return outputs


def _write_csv(path: str | None, header: list[str], columns: list[list]) -> None:
    # To stdout row by row, not as one large write: on an unbuffered stdout (python -u) a
    # reader that leaves makes a large write return short, and Python drops the rest unnoticed.
    stream = sys.stdout if path is None else io.StringIO()
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(zip(*columns))
    if path is not None:
        from ..serialization.safetensors import atomic_write

        atomic_write(Path(path), [stream.getvalue().encode()])


def _hidden_sizes(text: str) -> list[int]:
    if text.strip() in ("", "none", "0"):
        return []
    try:
        sizes = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--hidden must be comma-separated positive integers such as 64,32; got {text!r}"
        ) from None
    if any(size < 1 for size in sizes):
        raise argparse.ArgumentTypeError(f"--hidden sizes must be >= 1, got {text!r}")
    return sizes


def _parsed(text: str, kind: type, expected: str):
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None


def _fraction(text: str) -> float:
    value = _parsed(text, float, "a number in [0, 1)")
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {text}")
    return value


def _number(text: str) -> float:
    return _parsed(text, float, "a number")


def _positive_int(text: str) -> int:
    value = _parsed(text, int, "an integer >= 1")
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text}")
    return value


def _non_negative_int(text: str) -> int:
    value = _parsed(text, int, "an integer >= 0")
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text}")
    return value


def _add_table_arguments(parser: argparse.ArgumentParser) -> None:
    """The data file and how to read it: shared by train and tune."""
    parser.add_argument("data", help="CSV or Parquet file with a header row")
    parser.add_argument("--target", required=True, help="name of the column to predict")
    parser.add_argument("--task", choices=["auto", "classification", "regression"], default="auto")
    parser.add_argument(
        "--fill-missing",
        choices=["mean", "median", "most_frequent", "zero"],
        default=None,
        help="fill missing cells instead of stopping with an error",
    )
    parser.add_argument(
        "--drop",
        action="append",
        metavar="COLUMN",
        help="leave this column out of the features (an ID, say); repeat it or list "
        "several separated by commas",
    )


def _add_device_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--device",
        choices=["cpu", "gpu"],
        default="cpu",
        help="run on the CPU (NumPy) or a CUDA GPU (CuPy: pip install 'densekit[gpu]')",
    )
    parser.add_argument(
        "--precision",
        choices=["fp32", "tf32", "bf16"],
        default="fp32",
        help="how float32 matrix products run on the GPU (default fp32)",
    )


# --- the parser ---------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """argparse, with a usage error on one line (and a pointer to --help) like every other error."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(EXIT_ERROR, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def make_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="densekit",
        description="Dense neural networks: train on a table, predict, summarize.",
    )
    from .. import __version__

    parser.add_argument("--version", action="version", version=f"densekit {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    train = commands.add_parser(
        "train",
        help="train a network on a CSV/Parquet file",
        description="Train a dense network on a table. Numeric columns are standardized, text "
        "columns one-hot encoded; the task is classification when the target is text or "
        "integers with at most 20 distinct values, regression otherwise.",
    )
    _add_table_arguments(train)
    train.add_argument("-o", "--output", required=True, help="where to write the model file")
    train.add_argument(
        "--hidden",
        type=_hidden_sizes,
        default=[64, 32],
        help="hidden layer sizes, comma-separated (default 64,32)",
    )
    train.add_argument("--activation", default="relu", help="hidden activation (default relu)")
    train.add_argument("--epochs", type=_non_negative_int, default=20)
    train.add_argument("--batch-size", type=_positive_int, default=32)
    train.add_argument("--learning-rate", type=_number, default=1e-3)
    train.add_argument("--optimizer", default="adam", help="adam, sgd, rmsprop, adamw, adagrad")
    train.add_argument("--validation-split", type=_fraction, default=0.2)
    train.add_argument("--dropout", type=_fraction, default=0.0)
    train.add_argument("--l2", type=_number, default=0.0, help="L2 penalty on kernels")
    train.add_argument(
        "--patience",
        type=_non_negative_int,
        default=None,
        help="stop early after this many epochs without improvement",
    )
    train.add_argument("--seed", type=_non_negative_int, default=0)
    _add_device_arguments(train)
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

    tune = commands.add_parser(
        "tune",
        help="search network sizes and training settings on a CSV/Parquet file",
        description="Try networks (layers, units, activation, learning rate, dropout, L2) with "
        "Optuna and keep the best on a validation split (or --cv folds). Needs densekit[tune].",
    )
    _add_table_arguments(tune)
    tune.add_argument(
        "--trials",
        type=_positive_int,
        default=20,
        help="trials to run now (default 20; added to a continued study)",
    )
    tune.add_argument("--sampler", choices=["tpe", "random", "grid"], default="tpe")
    tune.add_argument("--jobs", type=_positive_int, default=1, help="worker processes")
    tune.add_argument("--epochs", type=_positive_int, default=20, help="epochs per trial")
    tune.add_argument("--batch-size", type=_positive_int, default=32)
    tune.add_argument("--max-layers", type=_positive_int, default=3)
    tune.add_argument("--max-units", type=_positive_int, default=256)
    tune.add_argument("--cv", type=_positive_int, default=None, help="k-fold instead of a split")
    tune.add_argument("--validation-split", type=_fraction, default=0.2)
    tune.add_argument("--storage", default=None,
                      help="Optuna storage URL or file (.db SQLite, .log journal); default: "
                      "a new SQLite file in a temporary folder")  # fmt: skip
    tune.add_argument("--study-name", default="densekit", help="study to create or continue")
    tune.add_argument("--seed", type=_non_negative_int, default=0)
    tune.add_argument("-o", "--output", default=None, help="where to save the best model")
    tune.add_argument("--report", default=None, metavar="PATH", help="write an HTML report")
    tune.add_argument("-q", "--quiet", action="store_true")
    tune.set_defaults(handler=cmd_tune)

    predict = commands.add_parser(
        "predict",
        help="predict with a trained model on raw table rows",
        description="Apply a model made by 'densekit train' to a CSV/Parquet file.",
    )
    predict.add_argument("model", help="model file written by 'densekit train'")
    predict.add_argument("data", help="CSV or Parquet file with the training columns")
    predict.add_argument("-o", "--output", default=None, help="CSV to write (default: stdout)")
    predict.add_argument("--proba", action="store_true", help="add class probability columns")
    predict.add_argument("--batch-size", type=_positive_int, default=None)
    _add_device_arguments(predict)
    predict.add_argument("-q", "--quiet", action="store_true")
    predict.set_defaults(handler=cmd_predict)

    summary = commands.add_parser(
        "summary",
        help="print a model file's layers and parameters",
        description="Print a model's layers, shapes and parameters.",
    )
    summary.add_argument("model")
    summary.set_defaults(handler=cmd_summary)

    export = commands.add_parser(
        "export",
        help="export a model to ONNX",
        description="Write a model file as ONNX (Dropout removed; opset 17 or later).",
    )
    export.add_argument("model", help="densekit model file")
    export.add_argument("output", help="the .onnx file to write")
    export.add_argument("--opset", type=int, default=17, help="ONNX opset (default 17)")
    export.add_argument("-q", "--quiet", action="store_true")
    export.set_defaults(handler=cmd_export)

    demo = commands.add_parser(
        "demo",
        help="train on scikit-learn's digits and print the results",
        description="Train a network on the 8x8 digits that ship with scikit-learn.",
    )
    demo.add_argument("--epochs", type=_non_negative_int, default=30)
    demo.add_argument("--output", default="out", help="folder for the model (default ./out)")
    demo.add_argument("--seed", type=_non_negative_int, default=0)
    demo.add_argument("-q", "--quiet", action="store_true")
    demo.set_defaults(handler=cmd_demo)
    return parser


class _GuardedStream:
    """``sys.stdout`` (or ``sys.stderr``) for one command: a closed reader stops the printing,
    never the work.

    The first BrokenPipeError (the reader, ``| head -1``, has gone) is remembered, and the file
    descriptor is pointed at os.devnull so that nothing still buffered can fail again, at exit
    either; later writes are dropped. The command goes on, writes its files, and ``main``
    returns EXIT_BROKEN_PIPE.
    """

    def __init__(self, stream):
        self.wrapped = stream
        self.broken = False

    def write(self, text: str) -> int:
        if not self.broken:
            try:
                return self.wrapped.write(text)
            except BrokenPipeError:
                self._break()
        return len(text)

    def writelines(self, lines) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        if not self.broken:
            try:
                self.wrapped.flush()
            except BrokenPipeError:
                self._break()

    def _break(self) -> None:
        self.broken = True
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
        except OSError:
            return
        try:
            os.dup2(devnull, self.wrapped.fileno())
        except (OSError, ValueError):  # no file descriptor (a test's capture): nothing to redirect
            pass
        finally:
            os.close(devnull)

    def __getattr__(self, name: str):  # isatty, fileno, encoding, ... of the real stream
        return getattr(self.wrapped, name)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; its prints go through a guard, so a closed pipe cannot lose its work."""
    streams = (_GuardedStream(sys.stdout), _GuardedStream(sys.stderr))
    sys.stdout, sys.stderr = streams
    try:
        status = _run(argv)
        broken = _flush(streams)
    except SystemExit as exc:  # argparse's --help, --version and usage errors exit
        if exc.code in (0, None) and _flush(streams):
            raise SystemExit(EXIT_BROKEN_PIPE) from None
        raise
    finally:
        _flush(streams)
        sys.stdout, sys.stderr = (stream.wrapped for stream in streams)
    return EXIT_BROKEN_PIPE if status == 0 and broken else status


def _flush(streams) -> bool:
    """Flush what is still buffered, so that a closed pipe shows here, guarded, and not as a
    message at interpreter exit; True when a reader has gone."""
    for stream in streams:
        stream.flush()
    return any(stream.broken for stream in streams)


def _run(argv: Sequence[str] | None) -> int:
    parser = make_parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except DensekitError as exc:
        print(f"densekit: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except BrokenPipeError:
        # A write that bypassed the guard (to sys.stdout.buffer, say) met a closed reader.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return EXIT_BROKEN_PIPE
    except MemoryError:
        print(
            "densekit: error: out of memory; use fewer rows, --drop wide text columns, "
            "or a smaller --batch-size",
            file=sys.stderr,
        )
        return EXIT_ERROR
    except OSError as exc:
        print(
            f"densekit: error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "),
            file=sys.stderr,
        )
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("densekit: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
