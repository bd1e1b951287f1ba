"""Training checkpoints: everything ``fit`` needs to continue a run exactly.

A checkpoint is a densekit model file (:func:`densekit.serialization.model_file.model_tensors`:
weights, architecture, compile settings, optimizer slots) whose metadata also
holds, as JSON under ``"checkpoint"``, the epochs completed, the optimizer's
step count and learning rate, and the state of every random generator
training draws from (``numpy.random.Generator.bit_generator.state``: the fit
generator that shuffles and drives dropout, and any layer's own generator).
Restoring all of it and running the remaining epochs gives the weights an
uninterrupted run would have, bit for bit. Writes are atomic (temporary file
renamed into place), so a kill during a write leaves the previous checkpoint.

``model.fit`` (``BackupAndRestore``), :mod:`densekit.distributed` and
:mod:`densekit.dask` all write and read checkpoints here. Restoring is two steps,
:func:`read_state` (validate the file against the model) and :func:`apply_state`
(change the model), so that MPI's rank 0 can read and every rank apply.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ModelFileError
from .model_file import FORMAT, model_tensors, set_weights_from_tensors
from .safetensors import read_safetensors, write_safetensors

CHECKPOINT_KEY = "checkpoint"
WEIGHTS_FORMAT = "densekit-weights"
#: where densekit.distributed and densekit.dask kept the training state before they
#: wrote checkpoints here: inside the model's own metadata (still read)
LEGACY_KEYS = ("distributed_checkpoint", "dask_checkpoint")


def generators(
    model: Any, fit_rng: np.random.Generator | None = None, prefix: str = ""
) -> dict[str, np.random.Generator]:
    """The random generators training draws from, by a stable name.

    Parameters
    ----------
    model
        The model being trained.
    fit_rng
        The shuffling stream, saved as ``"fit"``; None takes the model's ``fit_rng``,
        else its ``rng``.
    prefix
        Put before ``layer/<name>`` for the layers' own generators (a rank's prefix, where
        each rank draws dropout from its own).

    Returns
    -------
    dict of str to numpy.random.Generator
        ``{"fit": ..., "<prefix>layer/<name>": ...}``.
    """
    fit_rng = fit_rng or getattr(model, "fit_rng", None) or model.rng
    found = {"fit": fit_rng}
    for layer in model.layers:
        rng = getattr(layer, "rng", None)
        if rng is not None and rng is not fit_rng:
            found[f"{prefix}layer/{layer.name}"] = rng
    return found


def save_checkpoint(
    model: Any,
    path: str | Path,
    epoch: int,
    rngs: dict[str, np.random.Generator | dict] | None = None,
    extra: dict | None = None,
) -> None:
    """Write ``model``'s complete training state after ``epoch`` completed epochs.

    Parameters
    ----------
    model
        A built, compiled model.
    path
        The file to write, atomically.
    epoch
        The number of epochs completed.
    rngs
        The generators (or their ``bit_generator.state``) to save, by name; None for
        :func:`generators`.
    extra
        More JSON fields for the training state.
    """
    model.require_built("save a checkpoint")
    model.require_compiled("save a checkpoint")
    tensors, metadata = model_tensors(model, include_optimizer=True)
    optimizer = model.optimizer  # a schedule needs only the step count
    rate = optimizer.schedule if optimizer.schedule is not None else optimizer.learning_rate
    rngs = generators(model) if rngs is None else rngs
    metadata[CHECKPOINT_KEY] = json.dumps(
        {
            **(extra or {}),
            "epoch": int(epoch),
            "iterations": int(model.optimizer.iterations),
            "learning_rate": rate if isinstance(rate, float) else None,
            "rng": {
                name: rng if isinstance(rng, dict) else rng.bit_generator.state
                for name, rng in rngs.items()
            },
        }
    )
    write_safetensors(path, tensors, metadata)


def read_checkpoint(path: str | Path) -> dict:
    """The JSON training state of a checkpoint file (epoch, iterations, generators).

    Parameters
    ----------
    path
        The checkpoint file.

    Returns
    -------
    dict
        ``{"epoch", "iterations", "learning_rate", "rng", ...}``.
    """
    _, metadata = read_safetensors(path)
    return _checkpoint_field(path, metadata)


def restore_checkpoint(
    model: Any, path: str | Path, rngs: dict[str, np.random.Generator] | None = None
) -> int:
    """Load a checkpoint into ``model``, built and compiled like the one that wrote it.

    Restores weights, non-trainable state, optimizer slots, step count, learning rate and
    the generators' states. A file that does not fit the model raises ModelFileError and
    leaves the model as it was.

    Parameters
    ----------
    model
        The model to restore.
    path
        The checkpoint file.
    rngs
        The generators to restore, by name; None for :func:`generators`.

    Returns
    -------
    int
        The number of completed epochs.
    """
    return apply_state(model, read_state(model, path), rngs)


def read_state(model: Any, path: str | Path) -> dict:
    """Read a checkpoint and check it fits ``model``, changing nothing.

    Parameters
    ----------
    model
        The model the checkpoint must fit (architecture, optimizer, weight names).
    path
        The checkpoint file.

    Returns
    -------
    dict
        A plain dict of arrays and JSON values, for :func:`apply_state` (MPI's rank 0 reads
        it and every rank applies it).

    Raises
    ------
    ModelFileError
        If the file was written by another architecture or optimizer, or lacks weights.
    """
    tensors, metadata = read_safetensors(path)
    state = _checkpoint_field(path, metadata)
    config = _json(path, metadata, "model_config")
    saved_layers = config.get("layers") if isinstance(config, dict) else None
    if saved_layers != model.get_config()["layers"]:
        raise ModelFileError(
            f"{path} was written by a different model architecture; delete it to start afresh"
        )
    _check_optimizer(model, path, metadata, tensors)
    names = model.weight_names()
    missing = [name for name in names if name not in tensors]
    if missing:
        raise ModelFileError(f"{path} lacks weights {missing}")
    return {
        "path": str(path),
        "weights": {name: tensors[name] for name in names},
        "optimizer": {slot: tensors[f"optimizer/{slot}"] for slot in model.optimizer.state},
        "state": state,
    }


def apply_state(
    model: Any, payload: dict, rngs: dict[str, np.random.Generator] | None = None
) -> int:
    """Put a state from :func:`read_state` into ``model`` and ``rngs``.

    The generators' states are checked on spare bit generators first, so a bad file
    changes nothing.

    Parameters
    ----------
    model
        The model to change.
    payload
        What :func:`read_state` returned.
    rngs
        The generators to restore, by name; None for :func:`generators`.

    Returns
    -------
    int
        The number of completed epochs.

    Raises
    ------
    ModelFileError
        If a generator's state is missing or invalid.
    """
    path, state = payload["path"], payload["state"]
    rngs = generators(model) if rngs is None else rngs
    saved_rngs = state["rng"]
    for name, rng in rngs.items():  # checked on a spare bit generator: a bad file changes nothing
        if name not in saved_rngs:
            raise ModelFileError(f"{path} holds no state for the random generator {name!r}")
        try:
            type(rng.bit_generator)().state = saved_rngs[name]
        except (TypeError, ValueError, KeyError) as exc:
            raise ModelFileError(
                f"{path}: invalid state for the generator {name!r}: {exc}"
            ) from exc
    set_weights_from_tensors(model, path, payload["weights"])
    optimizer = model.optimizer
    for slot, array in optimizer.state.items():
        array[...] = model.backend.asarray(payload["optimizer"][slot].astype(model.dtype))
    optimizer.iterations = state["iterations"]
    if state["learning_rate"] is not None:
        optimizer.learning_rate = state["learning_rate"]
    for name, rng in rngs.items():
        rng.bit_generator.state = saved_rngs[name]
    return state["epoch"]


def _check_optimizer(model, path, metadata: dict, tensors: dict) -> None:
    """The checkpoint's optimizer must be the model's: Adam's moments cannot drive SGD."""
    compiled = _json(path, metadata, "compile_config")
    saved = compiled.get("optimizer") if isinstance(compiled, dict) else None
    name = saved.get("name") if isinstance(saved, dict) else None
    if not isinstance(name, str):
        raise ModelFileError(f"{path} does not say which optimizer wrote it (compile_config)")
    optimizer = model.optimizer
    current = type(optimizer).__name__
    if name != current:
        raise ModelFileError(
            f"{path} was written with the optimizer {name}, but the model is compiled with "
            f"{current}; compile it with {name} to resume, or delete the file to start afresh"
        )
    weights = set(model.weight_names())  # a layer may itself be named "optimizer"
    slots = {
        key.split("/", 1)[1]: array
        for key, array in tensors.items()
        if key.startswith("optimizer/") and key not in weights
    }
    if set(slots) != set(optimizer.state):
        raise ModelFileError(
            f"{path} holds {current} state {sorted(slots)}, but the model's {current} keeps "
            f"{sorted(optimizer.state)}; compile it with the settings that wrote the file "
            "(momentum, for instance) to resume"
        )
    for slot, array in slots.items():
        if array.shape != optimizer.state[slot].shape:
            raise ModelFileError(
                f"{path}: optimizer state {slot!r} has shape {array.shape}, "
                f"the model needs {optimizer.state[slot].shape}"
            )


def _checkpoint_field(path, metadata: dict) -> dict:
    if metadata.get("format") != FORMAT:
        raise ModelFileError(f"{path} is not a densekit training checkpoint")
    if CHECKPOINT_KEY not in metadata:
        return _legacy_state(path, metadata)
    try:
        state = json.loads(metadata[CHECKPOINT_KEY])
    except json.JSONDecodeError as exc:
        raise ModelFileError(f"{path}: checkpoint state is not valid JSON: {exc}") from exc
    if not isinstance(state, dict) or not all(k in state for k in ("epoch", "iterations", "rng")):
        raise ModelFileError(f"{path}: checkpoint state lacks epoch, iterations or rng")
    return _checked(path, {"learning_rate": None, **state})


def _legacy_state(path, metadata: dict) -> dict:
    """The state of an older distributed or dask checkpoint: the epoch in the model's metadata."""
    user = _json(path, metadata, "metadata") if "metadata" in metadata else {}
    key = next((k for k in LEGACY_KEYS if isinstance(user, dict) and k in user), None)
    if key is None:
        raise ModelFileError(f"{path} is not a densekit training checkpoint")
    info = user[key]
    if not isinstance(info, dict) or "epoch" not in info:
        raise ModelFileError(f"{path}: its {key} entry lacks the epoch")
    try:
        iterations = int(metadata.get("optimizer_iterations", "0"))
    except ValueError as exc:
        raise ModelFileError(f"{path}: optimizer_iterations is not an integer") from exc
    rng = {"fit": info["rng_state"]} if "rng_state" in info else {}
    state = {"epoch": info["epoch"], "iterations": iterations, "learning_rate": None, "rng": rng}
    return _checked(path, state)


def _checked(path, state: dict) -> dict:
    for key in ("epoch", "iterations"):
        value = state[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ModelFileError(f"{path}: checkpoint {key} must be an integer >= 0, got {value!r}")
    rate = state["learning_rate"]
    if rate is not None and (
        isinstance(rate, bool)
        or not isinstance(rate, (int, float))
        or not math.isfinite(rate)
        or rate <= 0
    ):
        raise ModelFileError(
            f"{path}: checkpoint learning_rate must be a positive number, got {rate!r}"
        )
    rngs = state["rng"]
    if not isinstance(rngs, dict) or not all(isinstance(v, dict) for v in rngs.values()):
        raise ModelFileError(f"{path}: checkpoint rng must map names to generator states")
    return state


def _json(path, metadata: dict, key: str) -> Any:
    try:
        return json.loads(metadata.get(key, "{}"))
    except json.JSONDecodeError as exc:
        raise ModelFileError(f"{path}: {key} is not valid JSON: {exc}") from exc


def save_weights(model: Any, path: str | Path) -> None:
    """Write only the weights (trainable and not), by name, as safetensors.

    Parameters
    ----------
    model
        A built model.
    path
        The file to write, atomically.
    """
    model.require_built("save weights")
    tensors = dict(zip(model.weight_names(), model.get_weights()))
    write_safetensors(path, tensors, {"format": WEIGHTS_FORMAT})


def load_weights(model: Any, path: str | Path) -> None:
    """Load weights written by :func:`save_weights` (or a model file) into a built ``model``.

    Parameters
    ----------
    model
        A built model with the same weight names and shapes.
    path
        The weights file or model file.

    Raises
    ------
    ModelFileError
        If the file holds no densekit weights.
    """
    model.require_built("load weights")
    tensors, metadata = read_safetensors(path)
    if metadata.get("format") not in (WEIGHTS_FORMAT, FORMAT):
        raise ModelFileError(f"{Path(path)} holds no densekit weights")
    set_weights_from_tensors(model, path, tensors)
