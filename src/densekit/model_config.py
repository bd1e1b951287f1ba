"""Sequential's description as plain values: its config, summary, copies and pickling.

What is not the model's core lives here: the JSON-able config a model file and a
copy are built from, the summary table, and the state ``pickle`` and
``copy.deepcopy`` carry (the live model holds a backend, views into its flat buffers
and compiled kernels, which are rebuilt from plain values). The class to build is
passed in (``cls``), so this module does not import :mod:`densekit.model`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import optimizers as optimizers_module
from .errors import ArgumentError
from .layers import from_config as layer_from_config
from .serialization.model_file import compile_arguments

if TYPE_CHECKING:
    from .model import Sequential


def get_config(model: Sequential) -> dict:
    """The architecture as plain values: name, dtype, seed, input width, columns, layers.

    Parameters
    ----------
    model
        The model to describe.

    Returns
    -------
    dict
        What :func:`from_config` rebuilds the model from.
    """
    return {
        "name": model.name,
        "dtype": model.dtype.name,
        "seed": model.seed,
        "input_dim": model.input_dim,
        "feature_names": model.feature_names,
        **({"class_names": model.class_names} if model.class_names is not None else {}),
        "layers": [
            {
                "class_name": type(layer).__name__,
                # a frozen layer says so (unfrozen ones are written as before)
                "config": layer.get_config()
                if layer.trainable
                else {**layer.get_config(), "trainable": False},
            }
            for layer in model.layers
        ],
    }


def from_config(cls: type, config: dict, dtype: str | None = None) -> Sequential:
    """A new, freshly initialized model of class ``cls`` from :func:`get_config`'s dict.

    Parameters
    ----------
    cls
        Sequential (or a subclass).
    config
        The architecture.
    dtype
        Overrides the config's dtype.

    Returns
    -------
    Sequential
        Built when the config names an input width.

    Raises
    ------
    ArgumentError
        For feature names that are not strings or do not match the input width.
    """
    model = cls(
        [layer_from_config(entry) for entry in config["layers"]],
        name=config.get("name", "sequential"),
        seed=config.get("seed"),
        dtype=dtype or config.get("dtype", "float32"),
    )
    if not model.built and config.get("input_dim") is not None:
        model.build(config["input_dim"])
    names = config.get("feature_names")
    if names is not None:
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise ArgumentError("feature_names must be a list of strings")
        if model.built and len(names) != model.input_dim:
            raise ArgumentError(
                f"{len(names)} feature_names for a model of {model.input_dim} inputs"
            )
        model.feature_names = names
    classes = config.get("class_names")
    if classes is not None:
        if not isinstance(classes, list) or not all(isinstance(n, str) for n in classes):
            raise ArgumentError("class_names must be a list of strings")
        model.class_names = classes
    return model


def compile_config(model: Sequential) -> dict | None:
    """The optimizer's and loss's configs and the metric names; None when not compiled.

    Parameters
    ----------
    model
        The model.

    Returns
    -------
    dict or None
        What :func:`compile_arguments` turns back into ``compile``'s arguments.
    """
    if not model.compiled:
        return None
    return {
        "optimizer": model.optimizer.get_config(),
        "loss": model.loss.get_config(),
        "metrics": list(model.metric_names),
    }


def copy_model(cls: type, model: Sequential, dtype: str | None = None) -> Sequential:
    """A new model with the same layers, weights and compile settings (fresh optimizer).

    Parameters
    ----------
    cls
        The class to build.
    model
        The model to copy.
    dtype
        The copy's dtype (the model's by default).

    Returns
    -------
    Sequential
        The copy, on the model's backend.
    """
    new = cls.from_config(model.get_config(), dtype=dtype)
    if model.built:
        if not new.built:
            new.build(model.input_dim)
        new.set_weights(model.get_weights())
        new.state[...] = new.backend.asarray(model.backend.to_numpy(model.state))
    return settings_from(new, model)


def settings_from(model: Sequential, source: Sequential) -> Sequential:
    """Give ``model`` ``source``'s compile settings, metadata, names, precision and backend.

    The tail of a copy; the optimizer is a fresh one.

    Parameters
    ----------
    model
        The model that takes the settings.
    source
        The model they come from.

    Returns
    -------
    Sequential
        ``model``, moved to ``source``'s backend.
    """
    if source.compiled:
        model.compile(**compile_arguments(source.compile_config()))
    model.metadata = dict(source.metadata)
    model.feature_names = source.feature_names
    model.class_names = source.class_names
    model.precision = source.precision
    return model.to(source.backend)


def get_state(model: Sequential) -> dict:
    """The architecture, arrays and settings as plain values (``__getstate__``).

    Parameters
    ----------
    model
        The model to pickle.

    Returns
    -------
    dict
        Config, weights, state, optimizer slots, generators, hooks and settings.
    """
    to_numpy = model.backend.to_numpy
    state = {
        "config": model.get_config(),
        "dtype": model.dtype.name,
        "device": model.backend.name,
        "precision": model.precision,
        "rng": model.rng,
        "metadata": model.metadata,
        "hooks": (model.gradient_hooks, model.constraints, model.stop_on_nonfinite),
        # layers seeded on their own (Dropout(seed=...)) keep their generator's place
        "layer_rngs": [
            layer.rng if getattr(layer, "seed", None) is not None else None
            for layer in model.layers
        ],
        "weights": model.get_weights() if model.built else None,
        "state": to_numpy(model.state).copy() if model.built else None,
        "compiled": None,
    }
    if model.compiled:
        optimizer = model.optimizer
        slots = {name: to_numpy(array).copy() for name, array in optimizer.state.items()}
        state["compiled"] = (
            optimizer.get_config(),
            slots,
            optimizer.iterations,
            model.loss,
            list(model.metric_names),
        )
    return state


def set_state(cls: type, target: Sequential, state: dict) -> None:
    """Make ``target`` the model :func:`get_state` described (``__setstate__``).

    Parameters
    ----------
    cls
        The class to rebuild with.
    target
        The (empty) object being unpickled.
    state
        What :func:`get_state` returned.
    """
    model = cls.from_config(state["config"], dtype=state["dtype"])
    if state["weights"] is not None:
        model.set_weights(state["weights"])
        model.state[...] = state["state"]
    if state["compiled"] is not None:
        config, slots, iterations, loss, metrics = state["compiled"]
        model.compile(optimizers_module.get(config), loss, metrics)
        for name, array in slots.items():
            model.optimizer.state[name][...] = array
        model.optimizer.iterations = iterations
    model.precision = state["precision"]
    model.metadata = state["metadata"]
    model.gradient_hooks, model.constraints, model.stop_on_nonfinite = state["hooks"]
    model.share_rng(state["rng"])
    model.rng = state["rng"]
    for layer, rng in zip(model.layers, state["layer_rngs"]):
        if rng is not None:
            layer.rng = rng
    if state["device"] != model.backend.name:
        model = model.to(state["device"])
    target.__dict__.update(model.__dict__)


def summary_text(model: Sequential) -> str:
    """Each layer's output shape and parameter count, then the totals, as a table.

    Parameters
    ----------
    model
        The model to describe.

    Returns
    -------
    str
        Keras' summary layout.
    """
    rows = [("Layer (type)", "Output Shape", "Param #")]
    for layer in model.layers:
        shape = f"(None, {layer.output_dim})" if layer.built else "(unbuilt)"
        params = f"{layer.count_params():,}" if layer.built else "?"
        rows.append((f"{layer.name} ({type(layer).__name__})", shape, params))
    widths = [max(len(row[i]) for row in rows) + 3 for i in range(3)]
    line = "=" * sum(widths)

    def fmt(row):
        return "".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip()

    lines = [f'Model: "{model.name}"', line, fmt(rows[0]), line]
    lines += [fmt(row) for row in rows[1:]]
    lines.append(line)
    if model.built:
        trainable, other = int(model.params.size), int(model.state.size)
        lines += [
            f"Total params: {trainable + other:,}",
            f"Trainable params: {trainable:,}",
            f"Non-trainable params: {other:,}",
        ]
    else:
        lines.append("Total params: unknown until the model is built (input_dim or fit)")
    return "\n".join(lines)
