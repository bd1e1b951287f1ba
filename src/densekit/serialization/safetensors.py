"""safetensors files, read and written with nothing but ``json`` and ``numpy``.

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

from ..errors import ArgumentTypeError, InputError, ModelFileError

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


def write_safetensors(
    path: str | Path, tensors: dict[str, np.ndarray], metadata: dict[str, str]
) -> None:
    """Write ``tensors`` and string ``metadata`` atomically as a safetensors file.

    Parameters
    ----------
    path
        The file to write; replaced only once the new one is complete.
    tensors
        Arrays by name, of float64/32/16, int64/32/8 or uint8; big-endian ones are stored
        little-endian, as the format says.
    metadata
        Strings by name, stored under ``"__metadata__"``.

    Raises
    ------
    ArgumentTypeError
        If a tensor's dtype has no safetensors name.
    """
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


def read_safetensors(path: str | Path) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Read and validate a safetensors file; nothing in it is executed.

    Every header field is checked (dtype, shape, offsets in Python ints, so a huge shape
    cannot wrap around), and the tensors must tile the data exactly.

    Parameters
    ----------
    path
        The file to read.

    Returns
    -------
    tensors : dict of str to numpy.ndarray
        The arrays by name, in native byte order, each its own copy.
    metadata : dict of str to str
        The ``"__metadata__"`` entry (empty when there is none).

    Raises
    ------
    ModelFileError
        If the file is missing, truncated, corrupted or not a safetensors file.
    """
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


def atomic_write(path: str | Path, chunks: list[bytes]) -> None:
    """Write bytes to ``path`` via a temporary file in the same folder, then rename.

    The data is fsynced before the rename, and the file's mode follows the umask, so a
    crash at any point leaves either the old file or the new one, never a part.

    Parameters
    ----------
    path
        The file to write.
    chunks
        The bytes to write, in order.

    Raises
    ------
    InputError
        If ``path`` is a directory or its folder does not exist.
    """
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
