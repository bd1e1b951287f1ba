"""One self-contained HTML page about a trained model: what a person wants to look at.

``report(model, history, x_val, y_val, path)`` writes a single file that says first
which rows it evaluated on and how well the model did on them, in the target's units
for a regression (MAE, RMSE, R², predicted against actual, residuals) and per class for
a classification (precision, recall, F1, confusion matrix, ROC and precision–recall
curves, calibration); then the data and settings it was given, permutation importance
(per original column when ``columns`` are given), the training curves, the layers,
weight pictures, activation histograms with dead/saturated units, and the tuning table
when given. The metrics are densekit's own NumPy (:mod:`.metrics`, checked against
scikit-learn). Nothing is fetched: styles are inline, plots are base64 PNGs, there is no
script, so the page opens offline and anywhere. The file is written atomically.
"""

from __future__ import annotations

import base64
import datetime
import html
import io
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import explain
from ..errors import require
from ..explain.results import feature_names_for
from ..serialization.safetensors import atomic_write
from ..validation import check_x
from .importance import group_features, grouped_permutation_importance
from .metrics import (
    calibration_bins,
    class_probabilities,
    confusion_matrix,
    per_class_scores,
    precision_recall_curve,
    regression_metrics,
    roc_curve,
)

if TYPE_CHECKING:
    from ..model import Sequential

MAX_TABLE_ROWS = 200  # longer tuning tables are cut (the page says so)

STYLE = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2em auto;
       max-width: 1100px; color: #222; padding: 0 1em; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; } h2 { font-size: 1.25em; margin-top: 1.8em;
     border-bottom: 1px solid #ddd; padding-bottom: 0.2em; }
.meta { color: #666; font-size: 0.9em; }
table { border-collapse: collapse; font-size: 0.88em; margin: 0.6em 0; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.6em; text-align: right; }
th { background: #f3f3f3; } td.text, th.text { text-align: left; }
tr.best td { background: #eaf6ea; font-weight: 600; }
img { max-width: 100%; height: auto; display: block; margin: 0.5em 0; }
.cards { display: flex; flex-wrap: wrap; gap: 0.8em; }
.card { border: 1px solid #ddd; border-radius: 6px; padding: 0.5em 0.9em; background: #fafafa; }
.card b { display: block; font-size: 1.3em; }
.note { color: #666; font-size: 0.88em; }
.rows { font-size: 1.05em; margin: 0.4em 0 0.8em; }
table.facts th { width: 14em; vertical-align: top; } table.facts td { max-width: 50em; }
"""


def report(
    model: Sequential,
    history: Any,
    x_val: Any,
    y_val: Any,
    path: str | Path,
    feature_names: Sequence[str] | None = None,
    tuning: Any = None,
    class_names: Sequence[str] | None = None,
    title: str | None = None,
    seed: int = 0,
    *,
    evaluated_on: str | None = None,
    target_name: str | None = None,
    target_scale: tuple[float, float] | None = None,
    columns: Sequence[str] | None = None,
    data: dict | None = None,
    settings: dict | None = None,
) -> Path:
    """Write the HTML report for ``model`` to ``path`` and return the path.

    Parameters
    ----------
    model
        A built, compiled model.
    history
        The ``History`` from ``fit``, its ``.history`` dict, or None (no curves).
    x_val
        The inputs the page evaluates on (held out from training, ideally).
    y_val
        Their targets.
    path
        The HTML file to write, atomically.
    feature_names
        Names of the input columns, for the importance table; None numbers them.
    tuning
        A ``dk.tune.search`` result, a DataFrame or a list of dicts, shown as a table.
    class_names
        Names of the classes, for the confusion matrix; None numbers them.
    title
        The page's title; None for ``"densekit report: <model name>"``.
    seed
        Seeds the permutations of the feature importance.
    evaluated_on
        What the rows of ``x_val`` are, in words, shown at the top ("validation split
        (20%, not used for training)"); None says only that they were given as ``x_val``.
    target_name
        The target's name, for the axes and the metrics (regression).
    target_scale
        ``(mean, std)`` the regression target was standardized with: the model's outputs
        and ``y_val`` are turned back into the target's units, ``value * std + mean``,
        before the metrics and plots. None: they are shown as they are.
    columns
        The original columns the features were encoded from (a one-hot column's
        features are named ``column=category``): importance is then per column, its
        features shuffled together (:func:`~densekit.report.importance.group_features`).
    data
        Facts about the data (file, rows, columns used, dropped, filled, class balance,
        warnings), shown as the "Data" section: label -> value (a list shows as lines).
    settings
        The settings that trained the model, shown as the "Settings" section.

    Returns
    -------
    pathlib.Path
        ``path``.

    Examples
    --------
    >>> history = model.fit(x, y, validation_split=0.2, verbose=0)
    >>> dk.report(model, history, x_val, y_val, "report.html")
    PosixPath('report.html')
    """
    require("matplotlib", "plot", "densekit.report")
    model.require_compiled("write a report")
    model.require_built("write a report")
    x_val = check_x(x_val, model.dtype, model.input_dim, name="x_val")
    names = feature_names_for(feature_names, x_val.shape[1])
    curves = getattr(history, "history", history) or {}
    classification = model.loss.fuses_with is not None
    title = title or f"densekit report: {model.name}"
    rows = evaluated_on or f"the {len(x_val):,} rows given as x_val"
    outputs = model.predict(x_val)
    if classification:
        truth = _labels(model, y_val)
        names_of_classes = _class_names(class_names, model.output_dim)
        probabilities = class_probabilities(outputs)
        results = [
            _classification_cards(model, x_val, y_val, truth, probabilities),
            _per_class(truth, probabilities, names_of_classes),
            _confusion(truth, probabilities, names_of_classes),
            _roc_and_precision_recall(truth, probabilities, names_of_classes),
            _calibration(truth, probabilities),
        ]
    else:
        scale = target_scale or (0.0, 1.0)
        targets = model.loss.prepare_targets(y_val, model.output_dim, model.dtype)
        truth_units = targets[:, 0].astype(np.float64) * scale[1] + scale[0]
        predicted_units = outputs[:, 0].astype(np.float64) * scale[1] + scale[0]
        unit = _unit(target_name, target_scale)
        results = [
            _regression_cards(truth_units, predicted_units, unit),
            _predicted_against_actual(truth_units, predicted_units, unit),
            _residuals(truth_units, predicted_units, unit),
        ]
    sections = [
        _header(model, x_val, title, rows),
        results[0],
        _facts("Data", data),
        _facts("Settings", settings),
        *results[1:],
        _importance(model, x_val, y_val, names, columns, seed, target_scale is not None),
        _curves(curves, None if classification else target_scale),
        _summary(model),
        _weights(model),
        _units(model, x_val),
        _tuning(tuning) if tuning is not None else "",
    ]
    page = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{STYLE}</style></head>\n<body>\n"
        + "\n".join(section for section in sections if section)
        + "\n</body></html>\n"
    )
    path = Path(path)
    atomic_write(path, [page.encode("utf-8")])
    return path


# --- pieces ---------------------------------------------------------------------------------


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _png(figure, alt: str) -> str:
    """The figure as an inline base64 PNG ``<img>``."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=96)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    width, height = (figure.get_size_inches() * 96).round().astype(int)
    return (
        f'<img src="data:image/png;base64,{data}" alt="{_e(alt)}" '
        f'width="{width}" height="{height}">'
    )


def _number(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, (bool, np.bool_)):
        return str(value)
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,}"
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.4g}"
    return str(value)


def _table(rows: list[dict], best: int | None = None) -> str:
    if not rows:
        return '<p class="note">(empty)</p>'
    columns = list(dict.fromkeys(key for row in rows for key in row))
    head = "".join(
        f'<th class="text">{_e(c)}</th>' if _is_text(rows, c) else f"<th>{_e(c)}</th>"
        for c in columns
    )
    body = []
    for index, row in enumerate(rows):
        cells = "".join(
            f'<td class="text">{_e(_number(row.get(c)))}</td>'
            if _is_text(rows, c)
            else f"<td>{_e(_number(row.get(c)))}</td>"
            for c in columns
        )
        body.append(f'<tr class="best">{cells}</tr>' if index == best else f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _is_text(rows: list[dict], column: str) -> bool:
    """Whether a column holds text (left-aligned); numbers, and numbers given as text, are not."""
    return any(isinstance(row.get(column), str) and not _numeric(row[column]) for row in rows)


def _numeric(text: str) -> bool:
    try:
        float(text.replace(",", ""))
    except ValueError:
        return False
    return True


def _records(table: Any) -> list[dict]:
    if hasattr(table, "to_dict"):
        return table.to_dict("records")
    return list(table)


def _figure(**kwargs):
    from matplotlib.figure import Figure

    return Figure(layout="constrained", **kwargs)


def _header(model, x_val, title: str, rows: str) -> str:
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    from ..version import __version__

    return (
        f"<h1>{_e(title)}</h1>"
        f'<p class="meta">{_e(now)} · densekit {_e(__version__)} · '
        f"{model.count_params():,} parameters</p>"
        f'<p class="rows">Evaluated on {_e(rows)}: {len(x_val):,} rows.</p>'
    )


def _cards(values: list[tuple[str, str]]) -> str:
    return (
        '<div class="cards">'
        + "".join(f'<div class="card">{_e(name)}<b>{_e(value)}</b></div>' for name, value in values)
        + "</div>"
    )


def _facts(heading: str, facts: dict | None) -> str:
    """A two-column table of labels and values; a list value shows one item a line."""
    if not facts:
        return ""
    lines = []
    for label, value in facts.items():
        if isinstance(value, (list, tuple)):
            shown = "<br>".join(_e(item) for item in value) if value else "(none)"
        else:
            shown = _e(_number(value))
        lines.append(f'<tr><th class="text">{_e(label)}</th><td class="text">{shown}</td></tr>')
    return f'<h2>{_e(heading)}</h2><table class="facts">{"".join(lines)}</table>'


def _unit(target_name: str | None, target_scale) -> str:
    """How the axes name the target's values."""
    if target_name is None:
        return "target" if target_scale is None else "target (its units)"
    return f"{target_name}"


def _class_names(class_names, n_outputs: int) -> list[str]:
    k = max(2, n_outputs)
    return [str(c) for c in class_names] if class_names is not None else [str(i) for i in range(k)]


def _classification_cards(model, x_val, y_val, truth, probabilities) -> str:
    predicted = probabilities.argmax(axis=1)
    scores = per_class_scores(truth, predicted, probabilities.shape[1])
    aucs = [
        roc_curve(truth == k, probabilities[:, k])[2]
        for k in (range(probabilities.shape[1]) if probabilities.shape[1] > 2 else [1])
    ]
    aucs = [a for a in aucs if not math.isnan(a)]
    cards = [
        ("accuracy", f"{np.mean(predicted == truth):.4f}"),
        ("macro F1", f"{scores[-2]['F1']:.4f}"),
    ]
    if aucs:
        name = "ROC AUC" if probabilities.shape[1] == 2 else "ROC AUC (macro, one-vs-rest)"
        cards.append((name, f"{np.mean(aucs):.4f}"))
    cards.append(("log loss", f"{model.evaluate(x_val, y_val)['loss']:.4g}"))
    return _cards(cards)


def _regression_cards(truth, predicted, unit: str) -> str:
    values = regression_metrics(truth, predicted)
    return _cards(
        [
            (f"MAE ({unit})", _number(values["MAE"])),
            (f"RMSE ({unit})", _number(values["RMSE"])),
            ("R²", f"{values['R²']:.4f}"),
        ]
    )


def _summary(model) -> str:
    rows = []
    for layer in model.layers:
        activation = getattr(getattr(layer, "activation", None), "name", "")
        rows.append(
            {
                "layer": layer.name,
                "type": type(layer).__name__,
                "activation": activation,
                "output shape": f"(None, {layer.output_dim})",
                "parameters": layer.count_params(),
            }
        )
    compiled = model.compile_config()
    note = (
        f"loss {compiled['loss']['name']}, optimizer {compiled['optimizer']['name']}"
        if compiled
        else ""
    )
    return (
        f"<h2>Model</h2>{_table(rows)}"
        f'<p class="note">Total parameters {model.count_params():,} '
        f"(trainable {int(model.params.size):,}); {_e(note)}</p>"
    )


def _curves(curves: dict, target_scale) -> str:
    keys = [key for key in curves if not key.startswith("val_")]
    if not keys:
        return '<h2>Training curves</h2><p class="note">No training history was given.</p>'
    figure = _figure(figsize=(4.2 * len(keys), 3.2))
    for position, key in enumerate(keys, start=1):
        ax = figure.add_subplot(1, len(keys), position)
        # a regression's mae is turned back into the target's units; its loss stays MSE on
        # the standardized target (the number the optimizer saw)
        factor = target_scale[1] if target_scale is not None and key.endswith("mae") else 1.0
        epochs = np.arange(1, len(curves[key]) + 1)
        ax.plot(epochs, np.asarray(curves[key]) * factor, label="train", color="#4c72b0")
        if f"val_{key}" in curves:
            ax.plot(epochs, np.asarray(curves[f"val_{key}"]) * factor, label="validation",
                    color="#dd8452")  # fmt: skip
        ax.set_xlabel("epoch")
        if target_scale is not None:
            key = f"{key} (target units)" if factor != 1.0 else f"{key} (standardized target)"
        ax.set_title(key)
        ax.legend()
        ax.grid(alpha=0.3)
    return f"<h2>Training curves</h2>{_png(figure, 'loss and metric curves')}"


def _labels(model, y) -> np.ndarray:
    targets = model.loss.prepare_targets(y, model.output_dim, model.dtype)
    if targets.shape[1] == 1:
        return (targets[:, 0] > 0.5).astype(np.int64)
    return targets.argmax(axis=1)


def _per_class(truth, probabilities, names) -> str:
    rows = per_class_scores(truth, probabilities.argmax(axis=1), probabilities.shape[1])
    for row in rows:
        if isinstance(row["class"], (int, np.integer)):
            row["class"] = names[row["class"]]
        for key in ("precision", "recall", "F1"):
            row[key] = f"{row[key]:.3f}"
    return (
        "<h2>Per-class scores</h2>"
        '<p class="note">Precision: of the rows predicted as the class, the share that are. '
        "Recall: of the rows of the class, the share found. F1: their harmonic mean. "
        "Support: rows of the class.</p>" + _table(rows)
    )


def _confusion(truth, probabilities, names) -> str:
    k = probabilities.shape[1]
    matrix = confusion_matrix(truth, probabilities.argmax(axis=1), k)
    size = min(9.0, 2.5 + 0.45 * k)
    figure = _figure(figsize=(size + 1.0, size))
    ax = figure.add_subplot()
    image = ax.imshow(matrix, cmap="Blues")
    figure.colorbar(image, ax=ax, shrink=0.8)
    ax.set_xticks(range(k), names, rotation=45 if k > 6 else 0)
    ax.set_yticks(range(k), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if k <= 20:
        threshold = matrix.max() / 2
        for (i, j), count in np.ndenumerate(matrix):
            colour = "white" if count > threshold else "black"
            ax.text(j, i, str(count), ha="center", va="center", color=colour, fontsize=8)
    accuracy = np.trace(matrix) / max(matrix.sum(), 1)
    return (
        f"<h2>Confusion matrix</h2>{_png(figure, 'confusion matrix')}"
        f'<p class="note">Rows are the true class, columns the prediction; accuracy '
        f"{accuracy:.4f} on {matrix.sum():,} rows.</p>"
    )


def _roc_and_precision_recall(truth, probabilities, names) -> str:
    k = probabilities.shape[1]
    classes = range(k) if k > 2 else [1]  # two classes: one curve, for the second
    figure = _figure(figsize=(10.0, 4.2))
    roc, pr = figure.add_subplot(1, 2, 1), figure.add_subplot(1, 2, 2)
    colours = _colours(len(classes))
    for colour, c in zip(colours, classes):
        positive = truth == c
        fpr, tpr, area = roc_curve(positive, probabilities[:, c])
        precision, recall, average = precision_recall_curve(positive, probabilities[:, c])
        roc.plot(fpr, tpr, color=colour, label=f"{names[c]} (AUC {area:.3f})")
        # AP sums (R_n - R_n-1) * P_n: each recall step is drawn at its right point's precision
        pr.step(recall, precision, where="pre", color=colour,
                label=f"{names[c]} (AP {average:.3f})")  # fmt: skip
    roc.plot([0, 1], [0, 1], color="#999", linestyle="--", linewidth=0.8, label="chance")
    roc.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC",
            xlim=(-0.01, 1.01), ylim=(-0.01, 1.01))  # fmt: skip
    pr.set(xlabel="recall", ylabel="precision", title="Precision–recall",
           xlim=(-0.01, 1.01), ylim=(-0.01, 1.05))  # fmt: skip
    for ax in (roc, pr):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="lower right" if ax is roc else "lower left")
    kind = "one-vs-rest, one curve per class" if k > 2 else f"for class {names[1]!r}"
    return (
        "<h2>ROC and precision–recall curves</h2>"
        f"{_png(figure, 'ROC and precision-recall curves')}"
        f'<p class="note">From the predicted probabilities ({_e(kind)}). AUC: area under the '
        "ROC curve (0.5 is chance); AP: average precision.</p>"
    )


def _colours(n: int) -> list:
    from matplotlib import colormaps

    palette = colormaps["tab10" if n <= 10 else "tab20"]
    return [palette(i % palette.N) for i in range(n)]


def _calibration(truth, probabilities) -> str:
    if probabilities.shape[1] == 2:
        probability, hit = probabilities[:, 1], truth == 1
        what = "the predicted probability of the second class against how often it is true"
        xlabel = "predicted probability"
    else:
        probability, hit = probabilities.max(axis=1), probabilities.argmax(axis=1) == truth
        what = "the probability of the predicted class against how often it is right"
        xlabel = "predicted probability of the predicted class"
    predicted, observed, counts, ece = calibration_bins(hit, probability)
    figure = _figure(figsize=(5.2, 5.0))
    grid = figure.add_gridspec(2, 1, height_ratios=(3, 1))
    ax = figure.add_subplot(grid[0])
    ax.plot([0, 1], [0, 1], color="#999", linestyle="--", linewidth=0.8, label="perfect")
    ax.plot(predicted, observed, marker="o", color="#4c72b0", label=f"model (ECE {ece:.3f})",
            clip_on=False)  # fmt: skip
    ax.set(ylabel="observed frequency", xlim=(0, 1), ylim=(0, 1.02), title="Calibration")
    ax.legend(fontsize=8, loc="upper left")
    ax.grid(alpha=0.3)
    bars = figure.add_subplot(grid[1], sharex=ax)
    bars.hist(probability, bins=10, range=(0, 1), color="#4c72b0")
    bars.set(xlabel=xlabel, ylabel="rows")
    return (
        f"<h2>Calibration</h2>{_png(figure, 'calibration (reliability) plot')}"
        f'<p class="note">Reliability diagram: {_e(what)}, in 10 bins (points only for bins '
        f"with rows; the bars count the rows). On the diagonal the probabilities can be taken "
        f"at their word. Expected calibration error {ece:.3f}.</p>"
    )


#: the most points a scatter plot draws (a sample of the rows beyond it)
MAX_SCATTER_POINTS = 5000


def _scatter_rows(n: int) -> np.ndarray:
    if n <= MAX_SCATTER_POINTS:
        return np.arange(n)
    return np.sort(np.random.default_rng(0).choice(n, MAX_SCATTER_POINTS, replace=False))


def _predicted_against_actual(truth, predicted, unit: str) -> str:
    shown = _scatter_rows(len(truth))
    figure = _figure(figsize=(5.2, 5.0))
    ax = figure.add_subplot()
    ax.scatter(truth[shown], predicted[shown], s=8, alpha=0.5, color="#4c72b0")
    low = float(min(truth.min(), predicted.min()))
    high = float(max(truth.max(), predicted.max()))
    ax.plot([low, high], [low, high], color="black", linewidth=0.8, label="prediction = actual")
    ax.set(xlabel=f"actual {unit}", ylabel=f"predicted {unit}", title="Predicted against actual")
    ax.set_aspect("equal", adjustable="datalim")
    ax.legend(fontsize=8, loc="upper left")
    ax.grid(alpha=0.3)
    sample = "" if len(shown) == len(truth) else f" (a sample of {len(shown):,} rows shown)"
    return (
        f"<h2>Predicted against actual</h2>{_png(figure, 'predicted against actual')}"
        f'<p class="note">Each point is a row{sample}; on the line the prediction is exact.</p>'
    )


def _residuals(truth, predicted, unit: str) -> str:
    residual = truth - predicted
    shown = _scatter_rows(len(truth))
    figure = _figure(figsize=(9.0, 3.4))
    ax = figure.add_subplot(1, 2, 1)
    ax.scatter(predicted[shown], residual[shown], s=8, alpha=0.5, color="#4c72b0")
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set(xlabel=f"predicted {unit}", ylabel="actual − predicted",
           title="Residuals against prediction")  # fmt: skip
    ax = figure.add_subplot(1, 2, 2)
    ax.hist(residual, bins=40, color="#55a868")
    ax.set(xlabel=f"actual − predicted ({unit})", ylabel="rows", title="Residual histogram")
    values = regression_metrics(truth, predicted)
    return (
        f"<h2>Residuals</h2>{_png(figure, 'residual plot')}"
        f'<p class="note">In {_e(unit)}: MAE {_number(values["MAE"])}, RMSE '
        f"{_number(values['RMSE'])}, mean residual {_number(float(residual.mean()))} "
        f"(above 0: the model predicts too low on average).</p>"
    )


def _importance(model, x_val, y_val, names, columns, seed, standardized: bool) -> str:
    if columns is not None:
        groups = group_features(names, columns)
        result = grouped_permutation_importance(model, x_val, y_val, groups, seed=seed)
        what = "column", "its encoded features shuffled together"
    else:
        result = explain.permutation_importance(
            model, x_val, y_val, n_repeats=5, seed=seed, feature_names=names
        )
        what = "feature", "it is shuffled"
    rows = _records(result.to_frame())[:20]
    for row in rows:
        row[what[0]] = row.pop("feature")
        row.update(importance=row.pop("importance"), std=row.pop("std"))
    return (
        "<h2>Feature importance</h2>"
        f"{_png(result.plot(top=20), 'permutation feature importance')}"
        f'<p class="note">Increase in the loss on the evaluated rows when a {what[0]} is '
        f"shuffled ({what[1]}; mean and standard deviation over 5 shuffles; baseline loss "
        f"{result.baseline_score:.4g}{', MSE on the standardized target' if standardized else ''}"
        f"). Top {len(rows)} of {len(result.names)} {what[0]}s:</p>"
        f"{_table(rows)}"
    )


def _weights(model) -> str:
    parts = [_png(explain.plot_weights(model, "heatmap"), "weight heatmaps")]
    parts.append(_png(explain.plot_weights(model, "hinton", max_size=40), "Hinton diagrams"))
    return (
        "<h2>Weights</h2>"
        '<p class="note">Each Dense layer\'s kernel, inputs down and units across. Heatmap: '
        "red positive, blue negative. Hinton diagram: square area is |w|, white positive, "
        "black negative (large kernels show their top-left corner).</p>" + "".join(parts)
    )


def _units(model, x_val) -> str:
    rows = _records(explain.unit_health(model, x_val))
    for row in rows:
        for key in ("dead_units", "saturated_units"):
            units = row[key]
            row[key] = ", ".join(map(str, units[:20])) + (" ..." if len(units) > 20 else "")
    return (
        "<h2>Units</h2>"
        f"{_png(explain.plot_activation_histograms(model, x_val), 'activation histograms')}"
        '<p class="note">Dead: ReLU units that output 0 on every held-out row. Saturated: '
        "sigmoid/tanh units beyond 0.99 on at least 95% of rows.</p>"
        f"{_table(rows)}"
    )


def _tuning(tuning: Any) -> str:
    best = getattr(tuning, "best_trial", None)
    table = getattr(tuning, "trials", tuning)
    rows = _records(table)
    cut = len(rows) > MAX_TABLE_ROWS
    rows = rows[:MAX_TABLE_ROWS]
    best_row = next((i for i, row in enumerate(rows) if row.get("trial") == best), None)
    note = ""
    if best is not None:
        note = (
            f'<p class="note">Best: trial {best}, {_e(tuning.monitor)} = {tuning.best_value:.4g} '
            f"({_e(tuning.best_params)}); study {_e(tuning.study_name)} "
            + (f"in {_e(tuning.storage)}.</p>" if tuning.storage else "(temporary, not kept).</p>")
        )
    more = f'<p class="note">First {MAX_TABLE_ROWS} trials shown.</p>' if cut else ""
    return f"<h2>Tuning</h2>{note}{_table(rows, best_row)}{more}"
