"""Model files: safetensors with the architecture as JSON in its metadata.

The format (https://github.com/huggingface/safetensors) is an 8-byte
little-endian header length, a JSON header naming each tensor's dtype, shape
and byte range, then the raw bytes. It is read here with nothing but ``json``
and ``numpy.frombuffer``: loading a file never executes code, and every field
is validated before use. Writes go to a temporary file renamed into place, so
a crash leaves the previous file intact.
"""

from __future__ import annotations

import json
import math
import os
import struct
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ArgumentTypeError, DensekitError, InputError, ModelFileError

FORMAT = "densekit"
FORMAT_VERSION = 1
MAX_HEADER_BYTES = 100 * 1024 * 1024
_DTYPES = {
    "F64": np.dtype("<f8"),
    "F32": np.dtype("<f4"),
    "F16": np.dtype("<f2"),
    "I64": np.dtype("<i8"),
    "I32": np.dtype("<i4"),
    "I8": np.dtype("i1"),
    "U8": np.dtype("u1"),
}
_DTYPE_NAMES = {dtype: name for name, dtype in _DTYPES.items()}


# --- the container ------------------------------------------------------------------


def write_safetensors(path, tensors: dict[str, np.ndarray], metadata: dict[str, str]) -> None:
    """Write ``tensors`` and string ``metadata`` atomically as a safetensors file."""
    header: dict[str, Any] = {"__metadata__": metadata}
    offset = 0
    blobs = []
    for name, array in tensors.items():
        array = np.ascontiguousarray(array)
        little = array.dtype.newbyteorder("<") if array.dtype.byteorder == ">" else array.dtype
        array = array.astype(little, copy=False)
        if array.dtype not in _DTYPE_NAMES:
            raise ArgumentTypeError(f"cannot store tensor {name!r} of dtype {array.dtype}")
        data = array.tobytes()
        header[name] = {
            "dtype": _DTYPE_NAMES[array.dtype],
            "shape": list(array.shape),
            "data_offsets": [offset, offset + len(data)],
        }
        blobs.append(data)
        offset += len(data)
    encoded = json.dumps(header, separators=(",", ":")).encode()
    encoded += b" " * (-len(encoded) % 8)  # the format aligns the data to 8 bytes
    atomic_write(path, [struct.pack("<Q", len(encoded)), encoded, *blobs])


def read_safetensors(path) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Read and validate a safetensors file; any defect raises ModelFileError."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"no model file at {str(path)!r}")
    raw = path.read_bytes()
    if len(raw) < 8:
        raise ModelFileError(f"{path} is not a model file: {len(raw)} bytes is too short")
    (header_size,) = struct.unpack("<Q", raw[:8])
    if header_size > min(MAX_HEADER_BYTES, len(raw) - 8):
        raise ModelFileError(
            f"{path} is not a model file, or is truncated: its header claims {header_size} "
            f"bytes but the file has {len(raw) - 8}"
        )
    try:
        header = json.loads(raw[8 : 8 + header_size].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ModelFileError(f"{path} has a corrupted header: {exc}") from exc
    if not isinstance(header, dict):
        raise ModelFileError(f"{path} has a corrupted header: not a JSON object")
    metadata = header.pop("__metadata__", {}) or {}
    if not isinstance(metadata, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()
    ):
        raise ModelFileError(f"{path}: __metadata__ must map strings to strings")
    data = memoryview(raw)[8 + header_size :]
    tensors = {name: _tensor(path, name, entry, data) for name, entry in header.items()}
    # as the format requires: the tensors tile the data exactly, without gaps or overlaps
    end_of_data = 0
    for name, entry in sorted(header.items(), key=lambda item: item[1]["data_offsets"]):
        start, stop = entry["data_offsets"]
        if start != end_of_data:
            raise ModelFileError(
                f"{path}: tensor {name!r} starts at byte {start}, expected {end_of_data} "
                "(tensors overlap or leave gaps)"
            )
        end_of_data = stop
    if end_of_data != len(data):
        raise ModelFileError(
            f"{path} is truncated or has trailing bytes: tensors end at byte {end_of_data}, "
            f"data has {len(data)}"
        )
    return tensors, metadata


def _tensor(path, name: str, entry: Any, data: memoryview) -> np.ndarray:
    if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
        raise ModelFileError(f"{path}: tensor {name!r} has a malformed header entry")
    dtype = _DTYPES.get(entry["dtype"])
    shape, offsets = entry["shape"], entry["data_offsets"]
    if dtype is None:
        raise ModelFileError(f"{path}: tensor {name!r} has unsupported dtype {entry['dtype']!r}")
    if not isinstance(shape, list) or not all(
        isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape
    ):
        raise ModelFileError(f"{path}: tensor {name!r} has an invalid shape {shape!r}")
    if (
        not isinstance(offsets, list)
        or len(offsets) != 2
        or not all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)
        or not 0 <= offsets[0] <= offsets[1]
    ):
        raise ModelFileError(f"{path}: tensor {name!r} has invalid data offsets {offsets!r}")
    expected = math.prod(shape) * dtype.itemsize  # Python ints: a huge shape cannot wrap around
    if offsets[1] - offsets[0] != expected:
        raise ModelFileError(
            f"{path}: tensor {name!r} of shape {shape} needs {expected} bytes, "
            f"the header gives {offsets[1] - offsets[0]}"
        )
    if offsets[1] > len(data):
        raise ModelFileError(f"{path} is truncated: tensor {name!r} runs past the end of the file")
    array = np.frombuffer(data[offsets[0] : offsets[1]], dtype=dtype).reshape(shape)
    return array.astype(dtype.newbyteorder("="), copy=True)


def atomic_write(path, chunks: list[bytes]) -> None:
    """Write bytes to ``path`` via a temporary file in the same folder, then rename."""
    path = Path(path)
    if path.is_dir():
        raise InputError(
            f"{str(path)!r} is a directory; give a file path such as model.safetensors"
        )
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise InputError(f"cannot write {str(path)!r}: folder {str(folder)!r} does not exist")
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(temporary, 0o666 & ~_umask())  # mkstemp makes 0600; follow the umask instead
        with os.fdopen(handle, "wb") as stream:
            for chunk in chunks:
                stream.write(chunk)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# --- models -------------------------------------------------------------------------


def model_tensors(model, include_optimizer: bool = True) -> tuple[dict, dict]:
    """The tensors and metadata that describe ``model`` completely."""
    tensors = {name: weight for name, weight in zip(model._weight_names(), model.get_weights())}
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


def save_model(model, path, include_optimizer: bool = True) -> None:
    """Save weights, architecture, compile settings and (optionally) optimizer state."""
    model._require_built("save")
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


def load_model(path, compile: bool = True):
    """Rebuild a model from a file written by :func:`save_model`, checking every field.

    A quantized model file (``densekit.quantize.save``) loads as a ``QuantizedModel``;
    a pruned model gets its masks back (``densekit.prune.reattach``).
    """
    from .model import Sequential

    tensors, metadata = read_safetensors(path)
    if metadata.get("format") == "densekit-quantized":
        from .quantize import load

        return load(path)
    if metadata.get("format") != FORMAT:
        raise ModelFileError(
            f"{path} is a safetensors file but not a densekit model "
            f"({_format_text(metadata)}); only densekit model files can be loaded"
        )
    if metadata.get("format_version") != str(FORMAT_VERSION):
        raise ModelFileError(
            f"{path} has format version {metadata.get('format_version')!r}; "
            f"this densekit reads version {FORMAT_VERSION}"
        )
    config = _json_field(path, metadata, "model_config")
    try:
        _check_size(path, config, tensors)
        model = Sequential.from_config(config)
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
    if "pruning" in user_metadata:  # masks live on as the zeros of the named kernels
        from .prune import reattach

        reattach(model)
    return model


def _check_size(path, config: Any, tensors: dict) -> None:
    """Count the weights the configuration asks for before allocating any of them, so a
    tampered ``units`` cannot make loading reserve gigabytes: it must match the file."""
    from .layers import from_config as layer_from_config

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


def set_weights_from_tensors(model, path, tensors: dict[str, np.ndarray]) -> None:
    """Load the model's weights from a file's tensors by name; any mismatch is a file error."""
    names = model._weight_names()
    missing = [name for name in names if name not in tensors]
    if missing:
        raise ModelFileError(f"{path} lacks weights {missing}")
    try:
        model.set_weights([tensors[name] for name in names])
    except InputError as exc:
        raise ModelFileError(f"{path}: {exc}") from exc


def _restore_compile(path, model, metadata, tensors) -> None:
    from .model import _compile_kwargs

    compile_config = _json_field(path, metadata, "compile_config")
    try:
        model.compile(**_compile_kwargs(compile_config))
    except (DensekitError, KeyError, TypeError) as exc:
        raise ModelFileError(f"{path}: invalid compile configuration: {exc}") from exc
    optimizer = model.optimizer
    weights = set(model._weight_names())  # a layer may itself be named "optimizer"
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
