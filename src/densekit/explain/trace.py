"""Trace one sample through the network: every number of one forward pass, backward pass and step.

:func:`trace` runs one input row forward and backward exactly as a training step does
(the same layer code, the same loss path, the fused ``dL/dz = p - y`` where the model
fuses), on a copy of the model, and records for each layer its input, ``z``, ``a``,
``dL/da``, ``dL/dz`` and the gradient of each weight (``dL/dW``, ``dL/db``); then the
loss, and the change the optimizer's next step would make to each weight, computed by
taking that step on the copy. The model itself, its weights and its optimizer's state
are not changed.

:meth:`Trace.table` prints the numbers; :meth:`Trace.to_html` draws the network as an
SVG diagram with the numbers on it, in one self-contained page.
"""

from __future__ import annotations

import copy
import html
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import InputError
from ..training import step

if TYPE_CHECKING:
    from ..model import Sequential

#: the widest layer the diagram draws unit by unit (wider ones are summarized)
MAX_DRAWN_UNITS = 12


@dataclass
class LayerTrace:
    """One layer's numbers for the traced row (all arrays are copies, ``(1, width)``).

    Attributes
    ----------
    name, kind
        The layer's name and class name.
    activation
        The activation's name, or None for a layer without one.
    inputs
        The layer's input (the previous layer's ``a``, or ``x``).
    z
        The pre-activation ``z = x @ W + b`` (None for a layer without one).
    a
        The output ``a = f(z)``.
    grad_a
        ``dL/da`` (for the last layer of a fused loss: the loss's own ``dL/dp``).
    grad_z
        ``dL/dz`` (None for a layer without a pre-activation).
    weights
        The trainable weights before the step, by name (``kernel`` ``(n, m)``, ``bias``
        ``(m,)``, BatchNormalization's ``gamma`` and ``beta``).
    grads
        ``dL/d(weight)`` by name, weight penalties included.
    updates
        What the optimizer's next step would add to each weight.
    """

    name: str
    kind: str
    activation: str | None
    inputs: np.ndarray
    z: np.ndarray | None
    a: np.ndarray
    grad_a: np.ndarray | None = None
    grad_z: np.ndarray | None = None
    weights: dict[str, np.ndarray] = field(default_factory=dict)
    grads: dict[str, np.ndarray] = field(default_factory=dict)
    updates: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class Trace:
    """The numbers of one row's forward pass, backward pass and optimizer step.

    Attributes
    ----------
    x
        The input row, ``(1, features)``.
    y
        The target row as the loss sees it, shaped like the output.
    output
        The model's output for ``x``.
    loss
        The loss of the row, weight penalties included (what ``train_on_batch`` returns).
    penalty
        The weight penalties' part of ``loss``.
    loss_name
        The loss's name.
    fused
        Whether the last layer's ``dL/dz`` came from the fused ``p - y`` form.
    optimizer
        The optimizer's configuration (its name, learning rate and hyperparameters).
    layers
        One :class:`LayerTrace` per layer, in order.
    gradient
        The flat gradient, in the order of ``model.params`` (what
        :func:`~densekit.check_gradients` compares).
    update
        The flat change of ``model.params`` the optimizer's next step would make.
    """

    x: np.ndarray
    y: np.ndarray
    output: np.ndarray
    loss: float
    penalty: float
    loss_name: str
    fused: bool
    optimizer: dict
    layers: list[LayerTrace]
    gradient: np.ndarray = field(repr=False)
    update: np.ndarray = field(repr=False)

    def table(self, precision: int = 4) -> str:
        """The trace as text: the loss, then each layer's numbers, forward then backward.

        Parameters
        ----------
        precision
            Digits after the decimal point.

        Returns
        -------
        str
            Lines of ``name = values``; print it.
        """

        def fmt(values: Any) -> str:
            array = np.asarray(values, dtype=np.float64)
            if array.ndim == 2 and array.shape[0] == 1:
                array = array[0]
            text = np.array2string(
                array, formatter={"float_kind": lambda v: f"{v:.{precision}g}"}, max_line_width=90
            )
            return text.replace("\n", "\n" + " " * 16)

        rate = self.optimizer.get("learning_rate")
        lines = [
            f"trace of one row: loss ({self.loss_name}) = {self.loss:.{precision + 2}g}"
            + (f" (penalties {self.penalty:.{precision + 2}g})" if self.penalty else ""),
            f"  x           = {fmt(self.x)}",
            f"  y           = {fmt(self.y)}",
            f"  output      = {fmt(self.output)}",
            f"  optimizer   = {self.optimizer.get('name')} (learning_rate {rate})",
        ]
        for layer in self.layers:
            head = f"{layer.name} ({layer.kind}" + (
                f", {layer.activation}" if layer.activation else ""
            )
            if self.fused and layer is self.layers[-1]:
                head += "; dL/dz = p - y, fused with the loss"
            lines.append(head + ")")
            rows = [
                ("z", layer.z),
                ("a", layer.a),
                ("dL/da", layer.grad_a),
                ("dL/dz", layer.grad_z),
            ]
            for name in layer.weights:
                symbol = _symbol(name)
                rows += [
                    (symbol, layer.weights[name]),
                    (f"dL/d{symbol}", layer.grads[name]),
                    (f"step {symbol}", layer.updates[name]),
                ]
            for label, values in rows:
                if values is not None:
                    lines.append(f"  {label:<11} = {fmt(values)}")
        return "\n".join(lines)

    def to_html(self, path: str | None = None, title: str = "densekit trace") -> str:
        """A self-contained page: the network drawn as an SVG diagram with the numbers on it.

        Each unit is a circle with its ``z``, ``a`` and ``dL/dz``; each connection carries
        its weight ``W`` and gradient ``dL/dW``; the tables under the diagram list every
        number, including the optimizer's step.

        Parameters
        ----------
        path
            Where to write the page (atomically), or None to only return it.
        title
            The page's title.

        Returns
        -------
        str
            The HTML.
        """
        from ..serialization import atomic_write

        page = _page(self, title)
        if path is not None:
            atomic_write(path, [page.encode("utf-8")])
        return page

    def to_svg(self) -> str:
        """The diagram alone: units with ``z``, ``a``, ``dL/dz``; connections with ``W``, ``dL/dW``.

        Returns
        -------
        str
            An ``<svg>`` element, to put in a page (:meth:`to_html` does).
        """
        return _svg(self)

    def _repr_html_(self) -> str:
        return _svg(self)


def trace(model: Sequential, x: Any, y: Any, training: bool = False) -> Trace:
    """Trace one input row through ``model``: forward, loss, backward and the optimizer's step.

    The row goes through the same code as a training step, on a copy of the model, so the
    numbers are the ones training would compute; ``model``, its weights and its optimizer's
    state are left unchanged.

    Parameters
    ----------
    model
        A built, compiled :class:`~densekit.Sequential`.
    x
        One input row: ``(features,)`` or ``(1, features)``.
    y
        Its target, as ``fit`` takes it (a number, a class index, or one row of targets).
    training
        False (the default) runs the forward pass as ``predict`` does (no dropout, batch
        normalization's moving statistics); True as ``fit`` does (dropout masks drawn,
        batch statistics, which for one row make batch normalization's output zero).

    Returns
    -------
    Trace
        Every layer's ``z``, ``a``, ``dL/da``, ``dL/dz``, weight gradients and the step.

    Raises
    ------
    InputError
        If ``x`` is not one row, or ``x`` or ``y`` does not fit the model.

    Examples
    --------
    >>> import numpy as np
    >>> import densekit as dk
    >>> model = dk.Sequential([dk.layers.Dense(1, input_dim=1, kernel_initializer="ones")])
    >>> model.compile(optimizer=dk.optimizers.SGD(0.1), loss="mse")
    >>> t = dk.explain.trace(model, [2.0], [7.0])
    >>> t.loss  # (1 * 2 + 0 - 7)^2
    25.0
    >>> t.layers[0].grads["kernel"], t.layers[0].grads["bias"]  # 2 (p - y) x, 2 (p - y)
    (array([[-20.]], dtype=float32), array([-10.], dtype=float32))
    >>> t.layers[0].updates["bias"]  # SGD: -0.1 * dL/db
    array([1.], dtype=float32)
    """
    model.require_compiled("trace a row")
    model.require_built("trace a row")
    row = np.asarray(x)
    if row.ndim == 1:
        row = row.reshape(1, -1)
    if row.ndim != 2 or row.shape[0] != 1:
        raise InputError(
            f"trace takes one row, (features,) or (1, features); got x of shape {row.shape}"
        )
    target = np.asarray(y)
    if target.ndim == 0:  # one number: a regression target or a class index
        target = target.reshape(1)
    elif target.ndim == 1 and target.size == model.output_dim > 1:  # one row of targets
        target = target.reshape(1, -1)
    probe = copy.deepcopy(model)
    if probe.backend.name != "cpu":
        probe.to("cpu")
    xb, yb, _ = probe.check_inputs(row, target, None)
    records = _forward(probe, xb, training)
    output = records[-1].a
    fused = probe.fuses_loss
    data_loss, grad = step.mean_loss_and_gradient(probe, yb, output.copy(), None, fused)
    _backward(probe, records, yb, output, np.array(grad, copy=True), fused)
    for weight, grad_weight, regularizer in probe.regularized:
        regularizer.add_gradient(np, weight, grad_weight)
    penalty = float(probe.regularization_penalty()) if probe.regularized else 0.0
    for record, layer in zip(records, probe.layers):
        # the trainable weights (those with a gradient); moving statistics are state
        record.weights = {name: np.array(layer.weights[name], copy=True) for name in layer.grads}
        record.grads = {name: np.array(g, copy=True) for name, g in layer.grads.items()}
    gradient = np.array(probe.grads, copy=True)
    before = np.array(probe.params, copy=True)
    probe.apply_gradients()
    update = probe.params - before
    for record, layer in zip(records, probe.layers):
        record.updates = {
            name: np.asarray(layer.weights[name]) - record.weights[name] for name in record.weights
        }
    return Trace(
        x=np.array(xb, copy=True),
        y=np.array(yb, copy=True),
        output=output,
        loss=float(data_loss) + penalty,
        penalty=penalty,
        loss_name=probe.loss.name,
        fused=fused,
        optimizer=model.optimizer.get_config(),
        layers=records,
        gradient=gradient,
        update=update,
    )


def _forward(model: Sequential, x: np.ndarray, training: bool) -> list[LayerTrace]:
    """Run the layers one by one, as ``model.forward`` does, keeping copies of every value."""
    records = []
    for layer in model.layers:
        inputs = np.array(x, copy=True)
        x = layer.forward(x, training)
        activation = getattr(layer, "activation", None)
        z = getattr(layer, "pre_activation", None) if activation is not None else None
        records.append(
            LayerTrace(
                name=layer.name,
                kind=type(layer).__name__,
                activation=None if activation is None else activation.name,
                inputs=inputs,
                z=None if z is None else np.array(z, copy=True),
                a=np.array(x, copy=True),
            )
        )
    return records


def _backward(model, records, y, output, grad, fused) -> None:
    """Backpropagate as ``model.backward`` does, recording dL/da and dL/dz per layer."""
    last = len(model.layers) - 1
    for index in range(last, -1, -1):
        layer, record = model.layers[index], records[index]
        need_input_grad = index > 0
        if index == last and fused:
            # the loss's own dL/dp, for the record; the step uses dL/dz = p - y directly
            record.grad_a = model.loss.gradient(np, y, output) / output.shape[0]
            record.grad_z = np.array(grad, copy=True)
            grad = layer.backward(grad, need_input_grad, through_activation=False)
            continue
        record.grad_a = np.array(grad, copy=True)
        if record.z is not None:
            activation = model.layers[index].activation
            record.grad_z = activation.backward(np, record.z, record.a, np.array(grad, copy=True))
        grad = layer.backward(grad, need_input_grad)


def _symbol(name: str) -> str:
    return {"kernel": "W", "bias": "b"}.get(name, name)


# --- the page -------------------------------------------------------------------------


def _number(value: float) -> str:
    return f"{float(value):.4g}"


def _unit_lines(layer: LayerTrace, unit: int) -> list[str]:
    """The numbers a unit's box shows."""
    lines = []
    if layer.z is not None:
        lines.append(f"z = {_number(layer.z[0, unit])}")
    lines.append(f"a = {_number(layer.a[0, unit])}")
    if layer.grad_z is not None:
        lines.append(f"dL/dz = {_number(layer.grad_z[0, unit])}")
    elif layer.grad_a is not None:
        lines.append(f"dL/da = {_number(layer.grad_a[0, unit])}")
    if "bias" in layer.weights:
        lines.append(f"b = {_number(layer.weights['bias'][unit])}")
        lines.append(f"dL/db = {_number(layer.grads['bias'][unit])}")
    return lines


def _svg(result: Trace) -> str:
    """The network as boxes (units) and lines (weights), each with its numbers.

    A weight's value and gradient are written on its line when the lines cannot cross
    (one unit on either side); otherwise in a panel under the gap between the two layers.
    """
    columns = [("input x", [[f"x = {_number(v)}"] for v in result.x[0]])]
    for layer in result.layers:
        title = f"{layer.name} ({layer.kind}{', ' + layer.activation if layer.activation else ''})"
        columns.append((title, [_unit_lines(layer, j) for j in range(layer.a.shape[1])]))
    gap, box_width, line_height, row_gap = 340, 150, 15, 22
    box_height = line_height * max(len(lines) for _, units in columns for lines in units) + 12
    drawn = [min(len(units), MAX_DRAWN_UNITS) for _, units in columns]
    column_height = max(drawn) * (box_height + row_gap)
    left = 30 + box_width / 2
    centres = []
    for count in drawn:
        top = 60 + (column_height - count * (box_height + row_gap)) / 2
        centres.append([top + box_height / 2 + k * (box_height + row_gap) for k in range(count)])
    panels = []  # (column gap index, lines) for the weights written under the gap
    parts = []
    for index, layer in enumerate(result.layers):
        x0 = left + index * gap + box_width / 2
        x1 = left + (index + 1) * gap - box_width / 2
        kernel = layer.weights.get("kernel")
        sources, dests = centres[index], centres[index + 1]
        if kernel is None:  # a layer without weights: unit i feeds unit i
            for y0, y1 in zip(sources, dests):
                parts.append(_line(x0, y0, x1, y1, "#aab7b8"))
            continue
        grad = layer.grads["kernel"]
        on_lines = len(sources) == 1 or len(dests) == 1
        panel = []
        for i, y0 in enumerate(sources):
            for j, y1 in enumerate(dests):
                weight = float(kernel[i, j])
                colour = "#c0392b" if weight < 0 else "#2e6fba"
                stroke = 0.8 + 2.2 * min(abs(weight), 2.0) / 2.0
                parts.append(_line(x0, y0, x1, y1, colour, stroke))
                label = f"W[{i},{j}] = {_number(weight)}", f"dL/dW = {_number(grad[i, j])}"
                if on_lines:
                    t = 0.32 if len(dests) == 1 else 0.68
                    lx, ly = x0 + t * (x1 - x0), y0 + t * (y1 - y0)
                    parts.append(_text(lx, ly - 20, label[0], colour, size=11, halo=True))
                    parts.append(_text(lx, ly - 6, label[1], "#7d3c98", size=11, halo=True))
                else:
                    panel.append(f"{label[0]},  {label[1]}")
        if panel:
            panels.append((index, [f"{layer.name}: each weight and its gradient", *panel]))
    for index, (title, units) in enumerate(columns):
        cx = left + index * gap
        parts.append(_text(cx, 32, title, "#1b2631", size=13, weight="bold"))
        for cy, lines in zip(centres[index], units):
            parts.append(
                f'<rect x="{cx - box_width / 2:.1f}" y="{cy - box_height / 2:.1f}" '
                f'width="{box_width}" height="{box_height}" rx="10" fill="#fdfefe" '
                'stroke="#34495e" stroke-width="1.5"/>'
            )
            first = cy - line_height * (len(lines) - 1) / 2
            for k, line in enumerate(lines):
                colour = "#7d3c98" if line.startswith("dL/") else "#1b2631"
                weight = "bold" if line.startswith(("a =", "x =")) else "normal"
                parts.append(_text(cx, first + k * line_height + 4, line, colour, weight=weight))
        hidden = len(units) - drawn[index]
        if hidden > 0:
            parts.append(
                _text(
                    cx, centres[index][-1] + box_height / 2 + 16, f"… {hidden} more units", "#555"
                )
            )
    bottom = 60 + column_height + 10
    panel_height = 0
    for index, lines in panels:
        cx = left + index * gap + gap / 2
        for k, line in enumerate(lines[: MAX_DRAWN_UNITS * 2]):
            bold = "bold" if k == 0 else "normal"
            parts.append(
                _text(cx, bottom + 16 + k * line_height, line, "#1b2631", size=11, weight=bold)
            )
        panel_height = max(panel_height, line_height * min(len(lines), MAX_DRAWN_UNITS * 2) + 16)
    target = ", ".join(_number(v) for v in result.y[0])
    footer = bottom + panel_height + 26
    parts.append(
        _text(
            left,
            footer,
            f"target y = [{target}]    loss = {_number(result.loss)}",
            "#1b2631",
            size=13,
            anchor="start",
        )
    )
    width = left + (len(columns) - 1) * gap + box_width / 2 + 30
    height = footer + 20
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width:.0f} {height:.0f}" '
        f'width="{width:.0f}" height="{height:.0f}" font-family="sans-serif" '
        'role="img" aria-label="the traced network, with its numbers">'
    )
    return "\n".join([head, *parts, "</svg>"])


def _text(x, y, text, colour, size=12, weight="normal", anchor="middle", halo=False) -> str:
    outline = ' paint-order="stroke" stroke="#fff" stroke-width="4"' if halo else ""
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}" '
        f'font-weight="{weight}" fill="{colour}" xml:space="preserve"{outline}>'
        f"{html.escape(text)}</text>"
    )


def _line(x0, y0, x1, y1, colour, width=1.0) -> str:
    return (
        f'<line x1="{x0:.1f}" y1="{y0:.1f}" x2="{x1:.1f}" y2="{y1:.1f}" '
        f'stroke="{colour}" stroke-width="{width:.2f}" stroke-opacity="0.8"/>'
    )


def _matrix_html(values: np.ndarray) -> str:
    array = np.atleast_2d(np.asarray(values, dtype=np.float64))
    rows = "".join(
        "<tr>" + "".join(f"<td>{_number(v)}</td>" for v in row) + "</tr>" for row in array
    )
    return f'<table class="m">{rows}</table>'


def _page(result: Trace, title: str) -> str:
    sections = []
    for layer in result.layers:
        rows = [("z", layer.z), ("a", layer.a), ("dL/da", layer.grad_a), ("dL/dz", layer.grad_z)]
        for name in layer.weights:
            symbol = _symbol(name)
            rows += [
                (symbol, layer.weights[name]),
                (f"dL/d{symbol}", layer.grads[name]),
                (f"step {symbol}", layer.updates[name]),
            ]
        body = "".join(
            f"<tr><th>{html.escape(label)}</th><td>{_matrix_html(values)}</td></tr>"
            for label, values in rows
            if values is not None
        )
        head = f"{layer.name} ({layer.kind}{', ' + layer.activation if layer.activation else ''})"
        sections.append(f"<h2>{html.escape(head)}</h2><table class='layer'>{body}</table>")
    optimizer = ", ".join(f"{k}={v}" for k, v in result.optimizer.items() if k != "name")
    fused = (
        " The output layer's dL/dz is the fused p − y of its activation and the loss."
        if result.fused
        else ""
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body {{ font-family: sans-serif; margin: 24px; color: #1b2631; }}
.diagram {{ overflow-x: auto; border: 1px solid #ddd; padding: 8px; background: #fbfcfc; }}
table.layer th {{ text-align: left; padding: 2px 12px 2px 0; font-weight: normal;
  font-family: monospace; vertical-align: top; }}
table.m {{ border-collapse: collapse; font-family: monospace; font-size: 13px; }}
table.m td {{ padding: 1px 8px; text-align: right; }}
.summary td {{ padding: 2px 12px 2px 0; }}
</style></head><body>
<h1>{html.escape(title)}</h1>
<table class="summary">
<tr><td>loss ({html.escape(result.loss_name)})</td><td>{_number(result.loss)}</td></tr>
<tr><td>weight penalties</td><td>{_number(result.penalty)}</td></tr>
<tr><td>optimizer</td><td>{html.escape(str(result.optimizer.get("name")))}
({html.escape(optimizer)})</td></tr>
</table>
<p>Each box is a unit: its pre-activation z, its output a = f(z) and the gradient of the
loss with respect to z; each line is a weight, blue positive and red negative, labelled with
its value and its gradient dL/dW.{fused} "step" is what the optimizer's next step would add
to each weight.</p>
<div class="diagram">{_svg(result)}</div>
{"".join(sections)}
</body></html>
"""
