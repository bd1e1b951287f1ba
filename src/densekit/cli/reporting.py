"""The HTML report ``train --report`` and ``tune --report`` write, and what it says about the rows.

The page must say honestly which rows it evaluated on (:func:`evaluated_on`), speak in
the target's units, and carry the data and settings that made the model: these come
from the command's arguments and the fitted preprocessing.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np


def held_out_rows(args: argparse.Namespace, model: Any, y: np.ndarray) -> np.ndarray | slice:
    """The rows ``fit`` held out for ``--validation-split`` (the same seeded split), else all.

    Parameters
    ----------
    args
        The ``train`` arguments: ``validation_split`` and ``seed``.
    model
        The compiled model (its loss says whether the split was stratified by class).
    y
        The encoded targets of every training row.

    Returns
    -------
    numpy.ndarray or slice
        The held-out row indices, or ``slice(None)`` when nothing was held out.
    """
    if args.validation_split <= 0:
        return slice(None)
    from ..backend import make_rng
    from ..validation import validation_split_indices

    labels = y.reshape(len(y), -1)[:, 0].astype(np.int64) if model.loss.fuses_with else None
    _, rows = validation_split_indices(len(y), args.validation_split, make_rng(args.seed), labels)
    return rows


def evaluated_on(args: argparse.Namespace, command: str, split_rows: bool = True) -> str:
    """What the rows a command evaluates on are, in words a person can trust.

    Parameters
    ----------
    args
        The command's arguments (``test``, ``validation_split``, ``patience``, ``cv``).
    command
        "train" or "tune".
    split_rows
        For tune: whether the rows are the validation split (False: all rows, after
        the refit on all of them that ``--cv`` does).

    Returns
    -------
    str
        Such as "the validation split (20% of the rows, not used for training)".
    """
    if getattr(args, "test", None):
        return f"the test file {args.test} (not used for training)"
    percent = f"{args.validation_split * 100:g}%"
    if command == "tune":
        if not split_rows:
            return (
                "the training rows after refit (tune --cv refits the best settings on all "
                "rows: nothing was held out, so these scores are optimistic)"
            )
        return (
            f"the validation split ({percent} of the rows, not used to fit the weights, but "
            "used to choose the best trial and its epoch, so these scores are optimistic)"
        )
    if args.validation_split <= 0:
        return "the training rows (no held-out data: --validation-split 0)"
    stopping = "; early stopping (--patience) watched them" if args.patience is not None else ""
    return f"the validation split ({percent} of the rows, not used for training{stopping})"


def data_facts(
    args: argparse.Namespace, preprocessor: Any, y: np.ndarray, warnings: list[str]
) -> dict:
    """The report's "Data" section: file, target, rows, columns used, dropped, filled, warnings.

    Parameters
    ----------
    args
        The command's arguments (``data``, ``target``, ``drop``, ``fill_missing``, ``test``).
    preprocessor
        The fitted TabularPreprocessor.
    y
        The encoded targets of every training row.
    warnings
        The warnings raised while reading the table.

    Returns
    -------
    dict
        Label -> value (lists show one item a line).
    """
    config = preprocessor.get_config()
    features = config["features"]
    facts: dict[str, Any] = {"file": str(args.data)}
    if getattr(args, "test", None):
        facts["test file"] = str(args.test)
    facts["target"] = f"{preprocessor.target} ({preprocessor.task})"
    facts["rows read"] = f"{len(y):,}"
    if preprocessor.task == "classification":
        facts["class balance"] = class_balance(y, preprocessor.classes_)
    else:
        values = y.reshape(-1).astype(np.float64) * preprocessor.target_std
        values += preprocessor.target_mean
        facts["target values"] = (
            f"mean {values.mean():.6g}, std {values.std():.6g}, "
            f"from {values.min():.6g} to {values.max():.6g}"
        )
    facts["columns used"] = [_column_line(feature) for feature in features]
    facts["features after encoding"] = f"{len(preprocessor.feature_names):,}"
    facts["columns dropped"] = _dropped(args.drop) or ["(none)"]
    facts["missing cells"] = _filled(args.fill_missing, features)
    facts["warnings"] = list(warnings) or ["(none)"]
    return facts


def class_balance(y: np.ndarray, classes: list) -> list[str]:
    """One line per class: its rows and share, such as "setosa: 50 (33.3%)".

    Parameters
    ----------
    y
        The encoded targets (class indices, or 0/1 for two classes).
    classes
        The class labels, in index order.

    Returns
    -------
    list of str
    """
    labels = y.reshape(len(y), -1)[:, 0].astype(np.int64)
    counts = np.bincount(labels, minlength=len(classes))
    return [
        f"{label}: {count:,} ({100 * count / max(len(labels), 1):.1f}%)"
        for label, count in zip(classes, counts)
    ]


def _column_line(feature: dict) -> str:
    if feature["kind"] == "categorical":
        return f"{feature['name']} (text, {len(feature['categories'])} categories, one-hot)"
    return f"{feature['name']} (number, standardized)"


def _dropped(drop: list[str] | None) -> list[str]:
    names = []
    for text in drop or []:
        names += [part.strip() for part in text.split(",")]
    return names


def _filled(fill_missing: str | None, features: list[dict]) -> list[str]:
    if fill_missing is None:
        return ["not filled (no --fill-missing): a missing feature cell stops training"]
    lines = [f"--fill-missing {fill_missing}: a missing cell takes"]
    for feature in features:
        fill = feature.get("fill")
        if fill is None:
            value = "zeros (no category)" if feature["kind"] == "categorical" else "?"
        else:
            value = repr(fill) if isinstance(fill, str) else f"{fill:.6g}"
        lines.append(f"{feature['name']}: {value}")
    return lines


def train_settings(args: argparse.Namespace, history: Any) -> dict:
    """The report's "Settings" section for ``densekit train``.

    Parameters
    ----------
    args
        The ``train`` arguments.
    history
        The fit's History (the epochs actually run).

    Returns
    -------
    dict
        Label -> value.
    """
    ran = len(next(iter(history.history.values()), [])) if history is not None else 0
    return {
        "hidden layers": ", ".join(map(str, args.hidden)) or "none",
        "activation": args.activation,
        "optimizer": f"{args.optimizer}, learning rate {args.learning_rate:g}",
        "epochs": f"{ran} run of {args.epochs}"
        + (f" (early stopping, patience {args.patience})" if args.patience is not None else ""),
        "batch size": args.batch_size,
        "validation split": f"{args.validation_split:g}",
        "dropout": f"{args.dropout:g}",
        "L2": f"{args.l2:g}",
        "task": args.task,
        "seed": args.seed,
        "device": f"{args.device} ({args.precision})",
    }


def tune_settings(args: argparse.Namespace, result: Any) -> dict:
    """The report's "Settings" section for ``densekit tune``: the search and the best trial.

    Parameters
    ----------
    args
        The ``tune`` arguments.
    result
        The search result.

    Returns
    -------
    dict
        Label -> value.
    """
    split = f"{args.cv} folds" if args.cv else f"validation split {args.validation_split:g}"
    return {
        "search": f"{args.trials} trials, {args.sampler} sampler, {split}",
        "epochs per trial": args.epochs,
        "batch size": args.batch_size,
        "best trial": f"{result.best_trial}: {result.monitor} {result.best_value:.4g}",
        "best settings": [
            f"{key}: {value:.4g}" if isinstance(value, float) else f"{key}: {value}"
            for key, value in result.best_params.items()
        ],
        "seed": args.seed,
    }


def write_report(
    path: str,
    model: Any,
    history: Any,
    x: np.ndarray,
    y: np.ndarray,
    preprocessor: Any,
    tuning: Any = None,
    *,
    evaluated: str | None = None,
    data: dict | None = None,
    settings: dict | None = None,
    source: str | None = None,
) -> Path:
    """Write the HTML report and return its absolute path (the caller prints it).

    Parameters
    ----------
    path
        Where to write the report.
    model
        The trained model.
    history
        Its training History.
    x
        The encoded rows the report evaluates on.
    y
        Their encoded targets.
    preprocessor
        The fitted TabularPreprocessor: feature and class names, the target's scale.
    tuning
        The search result of ``densekit tune``, or None.
    evaluated
        What the rows are (:func:`evaluated_on`).
    data
        The "Data" section (:func:`data_facts`).
    settings
        The "Settings" section.
    source
        The data file, for the title.

    Returns
    -------
    pathlib.Path
        The report's absolute path.

    Raises
    ------
    MissingDependencyError
        If matplotlib is not installed.
    """
    from ..report.html import report

    regression = preprocessor.task == "regression"
    classes = None if regression else preprocessor.classes_
    scale = (preprocessor.target_mean, preprocessor.target_std) if regression else None
    title = f"densekit: {preprocessor.target!r}" + (f" from {Path(source).name}" if source else "")
    columns = [feature["name"] for feature in preprocessor.get_config()["features"]]
    written = report(
        model, history, x, y, path, feature_names=preprocessor.feature_names, tuning=tuning,
        class_names=classes, title=title, evaluated_on=evaluated, target_name=preprocessor.target,
        target_scale=scale, columns=columns, data=data, settings=settings,
    )  # fmt: skip
    return Path(written).resolve()


def evaluation(model: Any, x: np.ndarray, y: np.ndarray, preprocessor: Any) -> str:
    """The model's scores on rows, in the target's units: what ``train`` prints as its result.

    Parameters
    ----------
    model
        The trained model.
    x
        Encoded rows.
    y
        Their encoded targets.
    preprocessor
        The fitted TabularPreprocessor (the target's scale, the classes).

    Returns
    -------
    str
        "accuracy 0.9667, macro F1 0.9665, log loss 0.1234" or
        "MAE 2345.6, RMSE 3456.7, R² 0.9121 (in 'price' units)".
    """
    from ..report.metrics import class_probabilities, per_class_scores, regression_metrics

    outputs = model.predict(x)
    if preprocessor.task == "regression":
        scale, shift = preprocessor.target_std, preprocessor.target_mean
        truth = y.reshape(-1).astype(np.float64) * scale + shift
        values = regression_metrics(truth, outputs[:, 0].astype(np.float64) * scale + shift)
        return (
            f"MAE {values['MAE']:.6g}, RMSE {values['RMSE']:.6g}, R² {values['R²']:.4f} "
            f"(MAE and RMSE in {preprocessor.target!r} units)"
        )
    probabilities = class_probabilities(outputs)
    truth = y.reshape(len(y), -1)[:, 0].astype(np.int64)
    predicted = probabilities.argmax(axis=1)
    macro = per_class_scores(truth, predicted, probabilities.shape[1])[-2]["F1"]
    loss = model.evaluate(x, y)["loss"]
    return f"accuracy {np.mean(predicted == truth):.4f}, macro F1 {macro:.4f}, log loss {loss:.4g}"
