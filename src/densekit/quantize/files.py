"""Reading the quantized model file that :func:`densekit.quantize.save` writes.

A safetensors file (``format = densekit-quantized``) with int8 (or float16/float32)
kernels, float32 scales and biases, and the ops as JSON in the metadata;
``dk.load_model`` and :func:`load` read it, validating every field.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .. import activations as activations_module
from ..errors import ArgumentError, ArgumentTypeError, ModelFileError
from ..serialization.model_file import FORMATS
from ..serialization.safetensors import read_safetensors
from .model import FORMAT, FORMAT_VERSION, STORAGES, Affine, QuantizedDense, QuantizedModel


def _expect(path, tensors: dict, name: str, dtype, shape: tuple) -> np.ndarray:
    array = tensors.get(name)
    if array is None:
        raise ModelFileError(f"{path} lacks tensor {name!r}")
    if array.dtype != np.dtype(dtype) or array.shape != shape:
        raise ModelFileError(
            f"{path}: tensor {name!r} must be {np.dtype(dtype).name} {shape}, "
            f"got {array.dtype.name} {array.shape}"
        )
    return array


def load(path: str | Path) -> QuantizedModel:
    """Read a file written by :func:`save`, validating every field.

    Parameters
    ----------
    path
        A densekit quantized model file.

    Returns
    -------
    QuantizedModel
        The model, with its ``kept_float``, ``sensitivity`` and metadata.

    Raises
    ------
    ModelFileError
        If the file is not a valid quantized model file.
    """
    tensors, metadata = read_safetensors(path)
    if metadata.get("format") != FORMAT:
        raise ModelFileError(f"{path} is not a densekit quantized model file")
    return load_contents(path, tensors, metadata)


def load_contents(
    path: str | Path, tensors: dict, metadata: dict, compile: bool = True
) -> QuantizedModel:
    """A quantized model from the contents of its file, as ``densekit.load_model`` read them.

    Parameters
    ----------
    path
        The file the contents came from (named in error messages).
    tensors
        The tensors ``read_safetensors`` read from it.
    metadata
        The metadata it read.
    compile
        Ignored: a quantized model is for inference and has no compile settings. It is
        here because every loader in ``densekit.serialization.model_file.FORMATS`` takes it.

    Returns
    -------
    QuantizedModel
        The model, with its ``kept_float``, ``sensitivity`` and metadata.

    Raises
    ------
    ModelFileError
        If any field is missing or malformed.
    """
    if metadata.get("format_version") != str(FORMAT_VERSION):
        raise ModelFileError(
            f"{path} has quantized format version {metadata.get('format_version')}"
        )
    try:
        described = json.loads(metadata["ops"])
        input_dim = int(metadata["input_dim"])
        kept_float = json.loads(metadata.get("kept_float", "[]"))
        user_metadata = json.loads(metadata.get("metadata", "{}"))
    except (KeyError, ValueError) as exc:
        raise ModelFileError(f"{path}: invalid quantized model description: {exc}") from exc
    ops: list = []
    width = input_dim
    for position, entry in enumerate(described):
        prefix = f"{position}/"
        if not isinstance(entry, dict) or entry.get("type") not in ("affine", "dense"):
            raise ModelFileError(f"{path}: op {position} is malformed: {entry!r:.200}")
        if entry["type"] == "affine":
            scale = _expect(path, tensors, prefix + "scale", np.float32, (width,))
            shift = _expect(path, tensors, prefix + "shift", np.float32, (width,))
            ops.append(Affine(str(entry.get("name")), scale, shift))
            continue
        storage = entry.get("storage")
        if storage not in STORAGES:
            raise ModelFileError(f"{path}: op {position} has unknown storage {storage!r}")
        kernel = tensors.get(prefix + "kernel")
        if kernel is None or kernel.ndim != 2 or kernel.shape[0] != width:
            raise ModelFileError(f"{path}: op {position} kernel is missing or not ({width}, units)")
        units = kernel.shape[1]
        kernel = _expect(path, tensors, prefix + "kernel", storage, (width, units))
        bias = _expect(path, tensors, prefix + "bias", np.float32, (units,))
        try:
            activation = activations_module.get(entry.get("activation"))
        except (ArgumentError, ArgumentTypeError) as exc:
            raise ModelFileError(f"{path}: op {position}: {exc}") from exc
        op = QuantizedDense(str(entry.get("name")), kernel, bias, activation, storage)
        if storage == "int8":
            op.kernel_scale = _expect(path, tensors, prefix + "kernel_scale", np.float32, (units,))
            op.input_scale = _expect(path, tensors, prefix + "input_scale", np.float32, (1,))[0]
            op.input_zero_point = _expect(
                path, tensors, prefix + "input_zero_point", np.uint8, (1,)
            )[0]
        ops.append(op)
        width = units
    if not any(isinstance(op, QuantizedDense) for op in ops):
        raise ModelFileError(f"{path}: a quantized model needs at least one Dense op")
    model = QuantizedModel(ops, input_dim, user_metadata)
    model.kept_float = list(kept_float)
    model.sensitivity = dict(user_metadata.get("quantization", {}).get("sensitivity", {}))
    return model


FORMATS.register(FORMAT, load_contents)  # densekit.load_model reads the file, this loads it
