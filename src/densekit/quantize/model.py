"""The int8 inference model: :class:`QuantizedModel`, a list of ops.

The ops are :class:`Affine` and :class:`QuantizedDense`.

The quantized model is a :class:`QuantizedModel` (its own ``predict``, ``save``,
``count_params``), not a Sequential: it is for inference.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..serialization.safetensors import write_safetensors
from .arithmetic import INT8_MAX, UINT8_MAX, quantize_activations


@dataclass
class Affine:
    """A per-feature ``y = scale * x + shift`` kept in float (a leading normalization).

    Parameters
    ----------
    name
        The folded layer's name.
    scale, shift
        float32 ``(features,)``.
    """

    name: str
    scale: np.ndarray
    shift: np.ndarray

    def forward(self, x: np.ndarray) -> np.ndarray:
        """``x * scale + shift``."""
        return x * self.scale + self.shift


@dataclass
class QuantizedDense:
    """One Dense product with its kernel stored as ``storage`` (int8, float16 or float32).

    Parameters
    ----------
    name
        The Dense layer's name.
    kernel
        int8, float16 or float32, ``(inputs, units)``.
    bias
        float32 ``(units,)``.
    activation
        The layer's activation.
    storage
        How ``kernel`` is stored: ``"int8"``, ``"float16"`` or ``"float32"``.
    kernel_scale
        float32 ``(units,)`` per-channel scales (int8 only).
    input_scale, input_zero_point
        The uint8 quantization of the input (int8 only).
    qat_range
        The input range a FakeQuant layer learned, used instead of calibrating.
    """

    name: str
    kernel: np.ndarray  # int8, float16 or float32, shape (inputs, units)
    bias: np.ndarray  # float32 (units,)
    activation: Any  # an Activation
    storage: str = "float32"
    kernel_scale: np.ndarray | None = None  # float32 (units,), int8 only
    input_scale: np.float32 | None = None  # int8 only
    input_zero_point: np.uint8 | None = None  # int8 only
    qat_range: tuple[float, float] | None = None  # input range learned by a FakeQuant layer
    _compute: np.ndarray | None = field(default=None, repr=False, compare=False)

    def float_kernel(self) -> np.ndarray:
        """The kernel as float32 (an int8 one dequantized with its scales)."""
        if self.storage == "int8":
            return self.kernel.astype(np.float32) * self.kernel_scale
        return self.kernel.astype(np.float32)

    def compute_kernel(self) -> np.ndarray:
        """The kernel the product runs with, made once, float32.

        float16 is upcast; int8 kept as integers, exact while ``inputs * 255 * 127 < 2^24``,
        else float64.
        """
        if self._compute is None:
            kind = np.float32
            if self.storage == "int8" and self.kernel.shape[0] * UINT8_MAX * INT8_MAX >= 2**24:
                kind = np.float64  # float32 holds every integer partial sum only below 2^24
            self._compute = self.kernel.astype(kind)
        return self._compute

    def forward(self, x: np.ndarray) -> np.ndarray:
        """``activation(z)`` for one batch ``x``.

        For int8 ``z_j = float32(sum_i (q_i - zp) * Wq_ij) * float32(s * s_j) + b_j``
        (an exact integer accumulator, as onnxruntime's); otherwise ``z = x @ W + b``.
        """
        if self.storage == "int8":
            q = quantize_activations(x, self.input_scale, self.input_zero_point)
            kernel = self.compute_kernel()
            centred = q.astype(kernel.dtype) - kernel.dtype.type(self.input_zero_point)
            # an exact integer accumulator, as onnxruntime's int32 one
            accumulator = (centred @ kernel).astype(np.float32)
            multiplier = (np.float32(self.input_scale) * self.kernel_scale).astype(np.float32)
            z = accumulator * multiplier + self.bias
        else:
            z = x @ self.compute_kernel() + self.bias
        return self.activation.forward(np, z.astype(np.float32))


class QuantizedModel:
    """An inference model whose Dense kernels are stored int8, float16 or float32.

    ``kept_float`` names the Dense layers the accuracy guard left in float32;
    ``sensitivity`` maps each layer to the accuracy lost when only it is int8.

    Parameters
    ----------
    ops
        :class:`Affine` and :class:`QuantizedDense` ops, in order.
    input_dim
        Features per input row.
    metadata
        The model's metadata (saved with it).
    """

    def __init__(self, ops: list, input_dim: int, metadata: dict | None = None):
        self.ops = ops
        self.input_dim = int(input_dim)
        self.metadata = dict(metadata or {})
        self.kept_float: list[str] = []
        self.sensitivity: dict[str, float] = {}

    @property
    def output_dim(self) -> int:
        """Outputs per row: the last Dense op's units."""
        dense = [op for op in self.ops if isinstance(op, QuantizedDense)]
        return int(dense[-1].kernel.shape[1])

    def forward(self, x: np.ndarray) -> np.ndarray:
        """The ops applied in order to one batch ``x`` (no checks)."""
        for op in self.ops:
            x = op.forward(x)
        return x

    def predict(self, x: Any, batch_size: int | None = None, verbose: int = 0) -> np.ndarray:
        """Outputs computed as the int8 ONNX graph computes them, in batches.

        Parameters
        ----------
        x
            Inputs ``(rows, input_dim)``.
        batch_size
            Rows per batch (1024 by default).
        verbose
            Accepted for Sequential compatibility; unused.

        Returns
        -------
        ndarray
            float32 ``(rows, output_dim)``.
        """
        from ..validation import check_batch_size, check_x

        x = check_x(x, np.float32, self.input_dim)
        batch_size = check_batch_size(batch_size, 1024)
        result = np.empty((len(x), self.output_dim), dtype=np.float32)
        for start in range(0, len(x), batch_size):
            result[start : start + batch_size] = self.forward(x[start : start + batch_size])
        return result

    def __call__(self, x: Any) -> np.ndarray:
        """:meth:`predict` with the default batch size."""
        return self.predict(x)

    def count_params(self) -> int:
        """Stored numbers: Dense kernels and biases, affine scales and shifts."""
        total = 0
        for op in self.ops:
            if isinstance(op, QuantizedDense):
                total += op.kernel.size + op.bias.size
            else:
                total += op.scale.size + op.shift.size
        return int(total)

    @property
    def storages(self) -> dict[str, str]:
        """``{Dense op name: storage}``."""
        return {op.name: op.storage for op in self.ops if isinstance(op, QuantizedDense)}

    def summary_text(self) -> str:
        """A table of the ops: kernel shape, storage and input quantization."""
        lines = [f"{'Layer':<24}{'Kernel':<16}{'Storage':<10}Input quantization"]
        for op in self.ops:
            if isinstance(op, Affine):
                lines.append(f"{op.name:<24}{'affine':<16}{'float32':<10}-")
                continue
            shape = "x".join(str(d) for d in op.kernel.shape)
            quant = (
                f"uint8 s={float(op.input_scale):.4g} zp={int(op.input_zero_point)}"
                if op.storage == "int8"
                else "-"
            )
            lines.append(f"{op.name:<24}{shape:<16}{op.storage:<10}{quant}")
        lines.append(f"Total params: {self.count_params():,}")
        return "\n".join(lines)

    def summary(self, print_fn=None) -> None:
        """Print :meth:`summary_text` with ``print_fn`` (``print`` by default)."""
        (print_fn or print)(self.summary_text())

    def save(self, path) -> None:
        """Write the model to ``path`` (:func:`densekit.quantize.save`)."""
        save(self, path)

    def __repr__(self) -> str:
        kinds = sorted(set(self.storages.values()))
        return f"<QuantizedModel {'/'.join(kinds)}: {len(self.ops)} ops, {self.count_params():,}>"


FORMAT = "densekit-quantized"
FORMAT_VERSION = 1
STORAGES = ("int8", "float16", "float32")


def save(qmodel: QuantizedModel, path: str | Path) -> None:
    """Write a quantized model: int8/float16 kernels, float32 scales and biases, JSON ops.

    Parameters
    ----------
    qmodel
        The model.
    path
        The file to write (atomically).
    """
    tensors: dict[str, np.ndarray] = {}
    described = []
    for position, op in enumerate(qmodel.ops):
        prefix = f"{position}/"
        if isinstance(op, Affine):
            described.append({"type": "affine", "name": op.name})
            tensors[prefix + "scale"], tensors[prefix + "shift"] = op.scale, op.shift
            continue
        described.append(
            {
                "type": "dense",
                "name": op.name,
                "storage": op.storage,
                "activation": op.activation.get_config(),
            }
        )
        tensors[prefix + "kernel"], tensors[prefix + "bias"] = op.kernel, op.bias
        if op.storage == "int8":
            tensors[prefix + "kernel_scale"] = op.kernel_scale
            tensors[prefix + "input_scale"] = np.array([op.input_scale], np.float32)
            tensors[prefix + "input_zero_point"] = np.array([op.input_zero_point], np.uint8)
    metadata = {
        "format": FORMAT,
        "format_version": str(FORMAT_VERSION),
        "input_dim": str(qmodel.input_dim),
        "ops": json.dumps(described),
        "kept_float": json.dumps(qmodel.kept_float),
        "metadata": json.dumps(qmodel.metadata),
    }
    write_safetensors(path, tensors, metadata)
