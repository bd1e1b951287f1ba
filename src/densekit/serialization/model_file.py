"""Model files: safetensors with the architecture as JSON in its metadata.

The container is :mod:`densekit.serialization.safetensors`; this module decides what a
model file holds (weights by name, the architecture, compile settings, optimizer state)
and checks every field when it reads one back.

It knows the other modules' parts of a file by name, never by import (they are higher
tiers): :data:`FORMATS` maps a file's metadata ``"format"`` to its loader (this module's
``"densekit"``; :mod:`densekit.quantize` adds ``"densekit-quantized"``), :data:`BUILDERS`
names what builds the model a ``"densekit"`` file describes (:mod:`densekit.model`
registers ``Sequential.from_config``), and :data:`EXTENSIONS` maps a key of the model's
user metadata to a hook run on the loaded model (:mod:`densekit.prune` adds
``"pruning"``, which puts its masks back).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from .. import losses as losses_module
from .. import optimizers as optimizers_module
from ..errors import ArgumentTypeError, DensekitError, InputError, ModelFileError
from ..registry import Registry
from .safetensors import read_safetensors, write_safetensors

FORMAT = "densekit"
FORMAT_VERSION = 1

#: model file formats by the metadata "format" they write: each a
#: ``loader(path, tensors, metadata, compile=True)`` that returns the model
FORMATS: Registry = Registry("model file format")
#: what builds the model of a "densekit" file from its model_config: ``builder(config)``
BUILDERS: Registry = Registry("model builder")
#: hooks run on a loaded model, by the key of its user metadata that calls for them:
#: ``hook(model)``, in the order they were registered
EXTENSIONS: Registry = Registry("model file extension")


def compile_arguments(config: dict) -> dict:
    """The arguments of ``model.compile`` that a saved compile configuration stands for.

    Parameters
    ----------
    config
        What ``model.compile_config()`` returned: ``optimizer`` and ``loss`` configs,
        and the ``metrics`` names.

    Returns
    -------
    dict
        ``optimizer`` and ``loss`` objects and the ``metrics`` list.

    Raises
    ------
    KeyError
        If ``config`` lacks the optimizer or the loss.
    DensekitError
        If an optimizer or loss name is unknown.
    """
    return {
        "optimizer": optimizers_module.get(config["optimizer"]),
        "loss": losses_module.get(config["loss"]),
        "metrics": config.get("metrics", []),
    }


def model_tensors(model: Any, include_optimizer: bool = True) -> tuple[dict, dict]:
    """The tensors and metadata that describe ``model`` completely."""
    tensors = {name: weight for name, weight in zip(model.weight_names(), model.get_weights())}
    metadata = {
        "format": FORMAT,
        "format_version": str(FORMAT_VERSION),
        "model_config": json.dumps(model.get_config()),
        "metadata": json.dumps(model.metadata),
    }
    compile_config = model.compile_config()
    if compile_config is not None:
        metadata["compile_config"] = json.dumps(compile_config)
        optimizer = model.optimizer
        if include_optimizer and optimizer.state:
            metadata["optimizer_iterations"] = str(optimizer.iterations)
            for slot, array in optimizer.state.items():
                tensors[f"optimizer/{slot}"] = model.backend.to_numpy(array)
    return tensors, metadata


# suffixes of other tools' formats: a safetensors file under such a name would mislead
FOREIGN_SUFFIXES = {
    ".h5": "Keras HDF5",
    ".hdf5": "Keras HDF5",
    ".keras": "Keras",
    ".pt": "PyTorch",
    ".pth": "PyTorch",
    ".pkl": "pickle",
    ".pickle": "pickle",
    ".joblib": "joblib",
    ".onnx": "ONNX (use densekit.export_onnx)",
}


def save_model(model: Any, path: str | Path, include_optimizer: bool = True) -> None:
    """Save weights, architecture, compile settings and (optionally) optimizer state."""
    model.require_built("save")
    suffix = Path(path).suffix.lower()
    if suffix in FOREIGN_SUFFIXES:
        raise InputError(
            f"{str(path)!r} names a {FOREIGN_SUFFIXES[suffix]} file, but densekit saves "
            "safetensors: use a name ending in .safetensors"
        )
    try:
        tensors, metadata = model_tensors(model, include_optimizer)
    except TypeError as exc:
        raise ArgumentTypeError(f"the model's metadata cannot be saved as JSON: {exc}") from exc
    write_safetensors(path, tensors, metadata)


def _format_text(metadata: dict) -> str:
    if "format" not in metadata:
        return "its metadata has no 'format' entry; densekit writes format 'densekit'"
    return f"format {metadata['format']!r}, expected {FORMAT!r}"


def load_model(path: str | Path, compile: bool = True) -> Any:
    """Rebuild a model from a file written by :func:`save_model`, checking every field.

    The file is read once and handed to the loader registered in :data:`FORMATS` for its
    metadata's ``"format"``: a quantized model file (``densekit.quantize.save``) loads as
    a ``QuantizedModel``; a pruned model gets its masks back (``densekit.prune.reattach``,
    an :data:`EXTENSIONS` hook).

    Parameters
    ----------
    path
        The model file.
    compile
        Whether to compile the model with the saved settings and optimizer state.

    Returns
    -------
    Sequential or QuantizedModel

    Raises
    ------
    ModelFileError
        If the file is missing, damaged, of another format, or does not describe a model.
    """
    tensors, metadata = read_safetensors(path)
    name = metadata.get("format")
    if name not in FORMATS:
        raise ModelFileError(
            f"{path} is a safetensors file but not a densekit model "
            f"({_format_text(metadata)}); only densekit model files can be loaded"
        )
    return FORMATS.get(name)(path, tensors, metadata, compile=compile)


def load_densekit(path: str | Path, tensors: dict, metadata: dict, compile: bool = True) -> Any:
    """Rebuild a model from the contents of a ``"densekit"`` model file.

    Parameters
    ----------
    path
        The file the contents came from (named in error messages).
    tensors
        The tensors :func:`~densekit.serialization.safetensors.read_safetensors` read.
    metadata
        The metadata it read.
    compile
        Whether to compile the model with the saved settings and optimizer state.

    Returns
    -------
    Sequential
        Built by the :data:`BUILDERS` entry of the format, with its weights, metadata
        and (when asked) compile settings; then each :data:`EXTENSIONS` hook whose key
        the metadata holds is run on it.

    Raises
    ------
    ModelFileError
        If any field is missing, malformed, or does not fit the others.
    """
    if metadata.get("format_version") != str(FORMAT_VERSION):
        raise ModelFileError(
            f"{path} has format version {metadata.get('format_version')!r}; "
            f"this densekit reads version {FORMAT_VERSION}"
        )
    config = _json_field(path, metadata, "model_config")
    build = BUILDERS.get(FORMAT)
    try:
        _check_size(path, config, tensors)
        model = build(config)
    except ModelFileError:
        raise
    except (DensekitError, KeyError, TypeError, ValueError) as exc:
        raise ModelFileError(f"{path}: invalid model configuration: {exc}") from exc
    if not model.built:
        raise ModelFileError(f"{path}: the model configuration has no input_dim")
    if config.get("input_dim") != model.input_dim:
        raise ModelFileError(
            f"{path}: the model configuration says input_dim={config.get('input_dim')!r}, "
            f"but its first layer takes {model.input_dim}"
        )
    set_weights_from_tensors(model, path, tensors)
    user_metadata = _json_field(path, metadata, "metadata", default={})
    if not isinstance(user_metadata, dict):
        raise ModelFileError(f"{path}: metadata must be a JSON object")
    model.metadata = user_metadata
    if compile and "compile_config" in metadata:
        _restore_compile(path, model, metadata, tensors)
    for key in EXTENSIONS.names:  # pruning: masks live on as the zeros of the named kernels
        if key in user_metadata:
            EXTENSIONS.get(key)(model)
    return model


def _check_size(path, config: Any, tensors: dict) -> None:
    """Count the weights the configuration asks for before allocating any of them.

    So a tampered ``units`` cannot make loading reserve gigabytes: it must match the file.

    Raises
    ------
    ModelFileError
        If the configuration needs more weights than the file holds.
    """
    from ..layers import from_config as layer_from_config

    if not isinstance(config, dict) or not isinstance(config.get("layers"), list):
        return  # Sequential.from_config reports the malformed configuration
    dim = config.get("input_dim")
    if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
        return
    in_file = sum(array.size for array in tensors.values())  # a bound; exact checks follow
    asked = 0
    for entry in config["layers"]:
        layer = layer_from_config(entry)
        dim = layer.build(dim)
        asked += sum(spec.size for spec in layer.weight_specs())
        if asked > in_file:
            break
    if asked > in_file:
        raise ModelFileError(
            f"{path}: the model configuration needs more weights than the file holds "
            f"({in_file}); it was altered or is not this file's"
        )


def set_weights_from_tensors(model: Any, path: str | Path, tensors: dict[str, np.ndarray]) -> None:
    """Load the model's weights from a file's tensors by name; any mismatch is a file error."""
    names = model.weight_names()
    missing = [name for name in names if name not in tensors]
    if missing:
        raise ModelFileError(f"{path} lacks weights {missing}")
    try:
        model.set_weights([tensors[name] for name in names])
    except InputError as exc:
        raise ModelFileError(f"{path}: {exc}") from exc


def _restore_compile(path, model, metadata, tensors) -> None:
    compile_config = _json_field(path, metadata, "compile_config")
    try:
        model.compile(**compile_arguments(compile_config))
    except (DensekitError, KeyError, TypeError) as exc:
        raise ModelFileError(f"{path}: invalid compile configuration: {exc}") from exc
    optimizer = model.optimizer
    weights = set(model.weight_names())  # a layer may itself be named "optimizer"
    slots = {
        k.split("/", 1)[1]: v
        for k, v in tensors.items()
        if k.startswith("optimizer/") and k not in weights
    }
    if not slots:
        return
    if set(slots) != set(optimizer.state):
        raise ModelFileError(
            f"{path}: optimizer state {sorted(slots)} does not match the optimizer"
        )
    for slot, array in slots.items():
        if array.shape != optimizer.state[slot].shape:
            raise ModelFileError(f"{path}: optimizer state {slot!r} has the wrong shape")
        optimizer.state[slot][...] = model.backend.asarray(array.astype(model.dtype))
    try:
        optimizer.iterations = int(metadata.get("optimizer_iterations", "0"))
    except ValueError as exc:
        raise ModelFileError(f"{path}: optimizer_iterations is not an integer") from exc


def _json_field(path, metadata: dict, key: str, default: Any = None) -> Any:
    if key not in metadata:
        if default is not None:
            return default
        raise ModelFileError(f"{path} lacks the {key!r} entry of a densekit model file")
    try:
        return json.loads(metadata[key])
    except json.JSONDecodeError as exc:
        raise ModelFileError(f"{path}: {key} is not valid JSON: {exc}") from exc


FORMATS.register(FORMAT, load_densekit)
