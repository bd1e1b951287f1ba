"""One self-contained HTML page about a trained model: what a person wants to look at.

``report(model, history, x_val, y_val, path)`` writes a single file with the
summary table, training curves, a confusion matrix (classification) or residual
plots (regression), permutation feature importance, weight pictures, activation
histograms with dead/saturated units, and the tuning table when given. Nothing
is fetched: styles are inline, plots are base64 PNGs, there is no script, so the
page opens offline and anywhere. The file is written atomically.
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
) -> Path:
    """Write the HTML report for ``model`` to ``path`` and return the path.

    Parameters
    ----------
    model
        A built, compiled model.
    history
        The ``History`` from ``fit``, its ``.history`` dict, or None (no curves).
    x_val
        Held-out inputs the page evaluates on.
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

    sections = [
        _header(model, x_val, y_val, title),
        _summary(model),
        _curves(curves),
        _confusion(model, x_val, y_val, class_names)
        if classification
        else _residuals(model, x_val, y_val),
        _importance(model, x_val, y_val, names, seed),
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
    return any(isinstance(row.get(column), str) for row in rows)


def _records(table: Any) -> list[dict]:
    if hasattr(table, "to_dict"):
        return table.to_dict("records")
    return list(table)


def _figure(**kwargs):
    from matplotlib.figure import Figure

    return Figure(layout="constrained", **kwargs)


def _header(model, x_val, y_val, title: str) -> str:
    results = model.evaluate(x_val, y_val)
    cards = "".join(
        f'<div class="card">{_e(name)}<b>{value:.4g}</b></div>' for name, value in results.items()
    )
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    from ..version import __version__

    return (
        f"<h1>{_e(title)}</h1>"
        f'<p class="meta">{_e(now)} · densekit {_e(__version__)} · '
        f"{model.count_params():,} parameters · evaluated on {len(x_val):,} held-out rows</p>"
        f'<div class="cards">{cards}</div>'
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


def _curves(curves: dict) -> str:
    keys = [key for key in curves if not key.startswith("val_")]
    if not keys:
        return '<h2>Training curves</h2><p class="note">No training history was given.</p>'
    figure = _figure(figsize=(4.2 * len(keys), 3.2))
    for position, key in enumerate(keys, start=1):
        ax = figure.add_subplot(1, len(keys), position)
        epochs = np.arange(1, len(curves[key]) + 1)
        ax.plot(epochs, curves[key], label="train", color="#4c72b0")
        if f"val_{key}" in curves:
            ax.plot(epochs, curves[f"val_{key}"], label="validation", color="#dd8452")
        ax.set_xlabel("epoch")
        ax.set_title(key)
        ax.legend()
        ax.grid(alpha=0.3)
    return f"<h2>Training curves</h2>{_png(figure, 'loss and metric curves')}"


def _labels(model, y) -> np.ndarray:
    targets = model.loss.prepare_targets(y, model.output_dim, model.dtype)
    if targets.shape[1] == 1:
        return (targets[:, 0] > 0.5).astype(np.int64)
    return targets.argmax(axis=1)


def _confusion(model, x_val, y_val, class_names) -> str:
    truth = _labels(model, y_val)
    output = model.predict(x_val)
    predicted = (output[:, 0] > 0.5).astype(np.int64) if output.shape[1] == 1 else output.argmax(1)
    k = max(2, model.output_dim)
    matrix = np.zeros((k, k), dtype=np.int64)
    np.add.at(matrix, (truth, predicted), 1)
    names = [str(c) for c in class_names] if class_names is not None else [str(i) for i in range(k)]
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
    accuracy = np.trace(matrix) / matrix.sum()
    return (
        f"<h2>Confusion matrix</h2>{_png(figure, 'confusion matrix')}"
        f'<p class="note">Rows are the true class, columns the prediction; accuracy '
        f"{accuracy:.4f} on {matrix.sum():,} rows.</p>"
    )


def _residuals(model, x_val, y_val) -> str:
    targets = model.loss.prepare_targets(y_val, model.output_dim, model.dtype)
    predicted = model.predict(x_val)
    residual = (targets - predicted).ravel()
    figure = _figure(figsize=(9.0, 3.4))
    ax = figure.add_subplot(1, 2, 1)
    ax.scatter(predicted.ravel(), residual, s=8, alpha=0.6, color="#4c72b0")
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true - predicted")
    ax.set_title("Residuals against prediction")
    ax = figure.add_subplot(1, 2, 2)
    ax.hist(residual, bins=40, color="#55a868")
    ax.set_xlabel("true - predicted")
    ax.set_title("Residual histogram")
    rmse = float(np.sqrt(np.mean(residual**2)))
    return (
        f"<h2>Residuals</h2>{_png(figure, 'residual plot')}"
        f'<p class="note">RMSE {rmse:.4g}, mean residual {residual.mean():.4g}.</p>'
    )


def _importance(model, x_val, y_val, names, seed) -> str:
    result = explain.permutation_importance(
        model, x_val, y_val, n_repeats=5, seed=seed, feature_names=names
    )
    rows = _records(result.to_frame())[:20]
    return (
        "<h2>Feature importance</h2>"
        f"{_png(result.plot(top=20), 'permutation feature importance')}"
        f'<p class="note">Increase in held-out loss when a feature is shuffled (mean and '
        f"standard deviation over 5 shuffles; baseline loss {result.baseline_score:.4g}). "
        f"Top {len(rows)} of {len(names)} features:</p>{_table(rows)}"
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
            f"({_e(tuning.best_params)}); study {_e(tuning.study_name)} in {_e(tuning.storage)}.</p>"
        )
    more = f'<p class="note">First {MAX_TABLE_ROWS} trials shown.</p>' if cut else ""
    return f"<h2>Tuning</h2>{note}{_table(rows, best_row)}{more}"
