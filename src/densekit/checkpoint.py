"""Training checkpoints: everything ``fit`` needs to continue a run exactly.

A checkpoint is a densekit model file (:func:`densekit.io.model_tensors`:
weights, architecture, compile settings, optimizer slots) whose metadata also
holds, as JSON under ``"checkpoint"``, the epochs completed, the optimizer's
step count and learning rate, and the state of every random generator
training draws from (``numpy.random.Generator.bit_generator.state``: the fit
generator that shuffles and drives dropout, and any layer's own generator).
Restoring all of it and running the remaining epochs gives the weights an
uninterrupted run would have, bit for bit. Writes are atomic (temporary file
renamed into place), so a kill during a write leaves the previous checkpoint.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .errors import ModelFileError
from .io import (
    FORMAT,
    model_tensors,
    read_safetensors,
    set_weights_from_tensors,
    write_safetensors,
)

CHECKPOINT_KEY = "checkpoint"
WEIGHTS_FORMAT = "densekit-weights"


def generators(model) -> dict[str, np.random.Generator]:
    """The random generators training draws from, by a stable name."""
    fit_rng = getattr(model, "_fit_rng", None) or model._rng
    found = {"fit": fit_rng}
    for layer in model.layers:
        rng = getattr(layer, "rng", None)
        if rng is not None and rng is not fit_rng:
            found[f"layer/{layer.name}"] = rng
    return found


def save_checkpoint(model, path, epoch: int) -> None:
    """Write ``model``'s complete training state after ``epoch`` completed epochs."""
    model._require_built("save a checkpoint")
    model._require_compiled("save a checkpoint")
    tensors, metadata = model_tensors(model, include_optimizer=True)
    rate = model.optimizer._learning_rate
    metadata[CHECKPOINT_KEY] = json.dumps(
        {
            "epoch": int(epoch),
            "iterations": int(model.optimizer.iterations),
            "learning_rate": rate if isinstance(rate, float) else None,
            "rng": {name: rng.bit_generator.state for name, rng in generators(model).items()},
        }
    )
    write_safetensors(path, tensors, metadata)


def read_checkpoint(path) -> dict:
    """The JSON training state of a checkpoint file (epoch, iterations, generators)."""
    _, metadata = read_safetensors(path)
    return _checkpoint_field(path, metadata)


def restore_checkpoint(model, path) -> int:
    """Load a checkpoint into ``model`` (built and compiled like the one that wrote it).

    Restores weights, non-trainable state, optimizer slots, step count,
    learning rate and generator states; returns the number of completed epochs.
    """
    tensors, metadata = read_safetensors(path)
    state = _checkpoint_field(path, metadata)
    saved_layers = json.loads(metadata.get("model_config", "{}")).get("layers")
    if saved_layers != model.get_config()["layers"]:
        raise ModelFileError(
            f"{path} was written by a different model architecture; delete it to start afresh"
        )
    set_weights_from_tensors(model, path, tensors)
    optimizer = model.optimizer
    for slot, array in optimizer.state.items():
        saved = tensors.get(f"optimizer/{slot}")
        if saved is None or saved.shape != array.shape:
            raise ModelFileError(
                f"{path}: optimizer slot {slot!r} is missing or has the wrong shape; "
                f"was it written with a different optimizer than {type(optimizer).__name__}?"
            )
        array[...] = model.backend.asarray(saved.astype(model.dtype))
    optimizer.iterations = int(state["iterations"])
    if state.get("learning_rate") is not None:
        optimizer.learning_rate = float(state["learning_rate"])
    rngs = state.get("rng", {})
    for name, rng in generators(model).items():
        if name not in rngs:
            raise ModelFileError(f"{path} holds no state for the random generator {name!r}")
        rng.bit_generator.state = rngs[name]
    return int(state["epoch"])


def _checkpoint_field(path, metadata: dict) -> dict:
    if metadata.get("format") != FORMAT or CHECKPOINT_KEY not in metadata:
        raise ModelFileError(f"{path} is not a densekit training checkpoint")
    try:
        state = json.loads(metadata[CHECKPOINT_KEY])
    except json.JSONDecodeError as exc:
        raise ModelFileError(f"{path}: checkpoint state is not valid JSON: {exc}") from exc
    if not isinstance(state, dict) or not all(k in state for k in ("epoch", "iterations", "rng")):
        raise ModelFileError(f"{path}: checkpoint state lacks epoch, iterations or rng")
    return state


def save_weights(model, path) -> None:
    """Write only the weights (trainable and not), by name, as safetensors."""
    model._require_built("save weights")
    tensors = dict(zip(model._weight_names(), model.get_weights()))
    write_safetensors(path, tensors, {"format": WEIGHTS_FORMAT})


def load_weights(model, path) -> None:
    """Load weights written by :func:`save_weights` (or a model file) into a built ``model``."""
    model._require_built("load weights")
    tensors, metadata = read_safetensors(path)
    if metadata.get("format") not in (WEIGHTS_FORMAT, FORMAT):
        raise ModelFileError(f"{Path(path)} holds no densekit weights")
    set_weights_from_tensors(model, path, tensors)
