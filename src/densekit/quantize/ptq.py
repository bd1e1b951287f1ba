"""Quantization: int8 and float16 weight storage, an int8 ONNX (QDQ) export, and QAT.

Post-training int8 (:func:`int8`), the scheme onnxruntime runs with integer kernels:

- weights: symmetric, per output channel, ``s_j = max_i |W_ij| / m``,
  ``Wq = clip(rint(W / s_j), -m, m)`` stored as int8, with ``m = weight_max``,
  64 by default (7-bit weights, see "Saturation" below), up to 127;
- activations (the input of every Dense product): asymmetric uint8 per tensor,
  ``s = (max - min) / 255``, ``zp = rint(-min / s)``, range calibrated (min/max,
  0 included) on sample data, ``q = clip(rint(x / s) + zp, 0, 255)`` (round half
  to even, saturating, as ONNX QuantizeLinear);
- the product is exact integer arithmetic, scaled once:
  ``z_j = float32(sum_i (q_i - zp) * Wq_ij) * float32(s * s_j) + b_j``, which is
  what onnxruntime's integer kernel (MatMulIntegerToFloat) computes for the
  QDQ graph that :func:`export_onnx` writes; biases and activation functions
  stay float32. onnxruntime with graph optimizations off runs that graph node
  by node and agrees with ``predict`` to float32 rounding; with them on it
  fuses ``Q -> QGemm`` (bias folded to int32 at scale ``s * s_j``, relu output
  requantized inside the kernel), so a few activations land one quantization
  step apart (on digits: max |diff| of the softmax 0.001-0.003, same argmax).

Saturation. On x86 CPUs without VNNI (AVX2, AVX-512 before Cascade Lake, AMD before
Zen 4), onnxruntime's u8 x s8 kernel multiplies with ``vpmaddubsw``, which adds two
adjacent products ``a0 * w0 + a1 * w1`` into a *saturating* int16: with ``a`` up to 255
and ``|w|`` up to 127 a pair reaches 64770 and is clamped to 32767 (measured under
``qemu-x86_64 -cpu Haswell``: softmax outputs off by 0.22 on digits). With ``|w| <= 64``
a pair stays within ``2 * 255 * 64 = 32640``, so no CPU saturates and the fast u8 x s8
kernel runs everywhere; that costs half the weight resolution (onnxruntime's
``reduce_range``). A kernel with ``|Wq| > 64`` (``weight_max > 64``, or a file written
before this default) is exported as uint8 ``Wq + 128`` with zero point 128 instead: the
same values, run by the u8 x u8 kernel, which widens to int16 before its multiply-add and
cannot saturate, but is 1.7-3.8x slower than u8 x s8 on 1024-row batches on a CPU with
VNNI (benchmarks/int8_saturation.py).

BatchNormalization and Normalization are folded first: into the preceding
Dense layer when that layer is linear, otherwise into the next Dense layer
(``W' = a[:, None] * W``, ``b' = c @ W + b`` for the affine ``y = a * x + c``);
leading ones (before the first Dense) stay a float per-feature affine so raw
features of different scales are not forced into one int8 range.

The quantized model is a :class:`QuantizedModel` (its own ``predict``, ``save``,
``count_params``), not a Sequential: it is for inference. Its file is a
safetensors file (``format = densekit-quantized``) holding int8 kernels, float32
scales and biases; ``dk.load_model`` and :func:`load` read it.

Quantization-aware training (:func:`qat`) returns a copy of the model that
trains against what int8 inference computes, keeping ``Dense`` untouched:
a :class:`FakeQuant` layer before each Dense layer quantizes and dequantizes
its input (uint8, range learned during training, clipped straight-through
gradient), and the model's hooks fake-quantize the kernels: after each
optimizer step the float kernels are saved and replaced by
``dequantize(quantize(W))``; the forward and backward passes run with those;
before the next step a gradient hook restores the float kernels, so the update
``W -= lr * dL/dW_q`` lands on the float weights (STE: ``dW_q/dW = 1``).
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import activations as activations_module
from .. import initializers
from ..errors import ArgumentError, ArgumentTypeError, ModelFileError, require
from ..layers import Dense, Dropout, Layer, WeightSpec, register
from ..onnx import MIN_OPSET
from ..prune import METADATA_KEY as PRUNING_KEY
from ..prune import check_fraction, check_layer_names
from ..serialization.safetensors import atomic_write, read_safetensors, write_safetensors

FORMAT = "densekit-quantized"
FORMAT_VERSION = 1
STORAGES = ("int8", "float16", "float32")
AFFINE_LAYERS = ("BatchNormalization", "Normalization")
INT8_MAX = 127
UINT8_MAX = 255
INT16_MAX = 32767
# the largest |Wq| for which a vpmaddubsw pair a0*w0 + a1*w1 (a <= 255) fits in int16: 64
WEIGHT_MAX = INT16_MAX // (2 * UINT8_MAX)
ONNX_UINT8_WEIGHT_ZERO_POINT = 128


# --- the arithmetic ---------------------------------------------------------------


def weight_scales(kernel: np.ndarray, weight_max: int = WEIGHT_MAX) -> np.ndarray:
    """Per output channel (column) symmetric scales ``max_i |W_ij| / weight_max``
    (1 for a zero column)."""
    peak = np.abs(kernel).max(axis=0).astype(np.float32)
    return np.where(peak > 0, peak / np.float32(weight_max), np.float32(1.0)).astype(np.float32)


def quantize_weights(
    kernel: np.ndarray, scales: np.ndarray, weight_max: int = WEIGHT_MAX
) -> np.ndarray:
    """``clip(rint(W / s_j), -weight_max, weight_max)`` as int8."""
    q = np.rint(kernel.astype(np.float32) / scales[None, :])
    return np.clip(q, -weight_max, weight_max).astype(np.int8)


def activation_params(low: float, high: float) -> tuple[np.float32, np.uint8]:
    """uint8 scale and zero point for the range ``[min(low, 0), max(high, 0)]``."""
    low, high = min(float(low), 0.0), max(float(high), 0.0)
    if high == low:
        return np.float32(1.0), np.uint8(0)
    scale = np.float32((high - low) / UINT8_MAX)
    zero_point = np.clip(np.rint(-low / np.float64(scale)), 0, UINT8_MAX)
    return scale, np.uint8(zero_point)


def quantize_activations(x: np.ndarray, scale, zero_point) -> np.ndarray:
    """ONNX QuantizeLinear to uint8: ``clip(rint(x / s) + zp, 0, 255)`` (half to even)."""
    q = np.rint(x.astype(np.float32) / np.float32(scale)) + np.float32(zero_point)
    return np.clip(q, 0, UINT8_MAX).astype(np.uint8)


def fake_quantize(kernel: np.ndarray, weight_max: int = WEIGHT_MAX) -> np.ndarray:
    """``dequantize(quantize(W))`` per output channel: what an int8 kernel represents."""
    scales = weight_scales(kernel, weight_max)
    quantized = quantize_weights(kernel, scales, weight_max)
    return (quantized.astype(np.float32) * scales).astype(kernel.dtype)


def check_weight_max(weight_max: Any) -> int:
    """``weight_max`` as an int from 1 to 127, or an error naming what it got."""
    if isinstance(weight_max, bool) or not isinstance(weight_max, (int, np.integer)):
        raise ArgumentTypeError(
            f"weight_max must be an integer from 1 to {INT8_MAX}, got {weight_max!r}"
        )
    if not 1 <= weight_max <= INT8_MAX:
        raise ArgumentError(f"weight_max must be an integer from 1 to {INT8_MAX}, got {weight_max}")
    return int(weight_max)


def onnx_weight_operand(kernel: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The integer kernel and its per-channel zero points as the ONNX export writes them.

    int8 with zero point 0 when ``|Wq| <= WEIGHT_MAX`` (no u8 x s8 pair can saturate);
    otherwise uint8 ``Wq + 128`` with zero point 128, the same values, for the u8 x u8
    kernels, which do not saturate.
    """
    units = kernel.shape[1]
    if int(np.abs(kernel.astype(np.int16)).max(initial=0)) <= WEIGHT_MAX:
        return kernel.astype(np.int8), np.zeros(units, np.int8)
    shifted = kernel.astype(np.int16) + ONNX_UINT8_WEIGHT_ZERO_POINT
    return shifted.astype(np.uint8), np.full(units, ONNX_UINT8_WEIGHT_ZERO_POINT, np.uint8)


# --- the inference ops --------------------------------------------------------------


@dataclass
class Affine:
    """A per-feature ``y = scale * x + shift`` kept in float (a leading normalization)."""

    name: str
    scale: np.ndarray
    shift: np.ndarray

    def forward(self, x: np.ndarray) -> np.ndarray:
        return x * self.scale + self.shift


@dataclass
class QuantizedDense:
    """One Dense product with its kernel stored as ``storage`` (int8, float16 or float32)."""

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
        if self.storage == "int8":
            return self.kernel.astype(np.float32) * self.kernel_scale
        return self.kernel.astype(np.float32)

    def compute_kernel(self) -> np.ndarray:
        """The kernel the product runs with, made once, float32 (float16 upcast; int8
        as integers, exact while ``inputs * 255 * 127 < 2^24``, else float64)."""
        if self._compute is None:
            kind = np.float32
            if self.storage == "int8" and self.kernel.shape[0] * UINT8_MAX * INT8_MAX >= 2**24:
                kind = np.float64  # float32 holds every integer partial sum only below 2^24
            self._compute = self.kernel.astype(kind)
        return self._compute

    def forward(self, x: np.ndarray) -> np.ndarray:
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


def _affine_of(layer) -> tuple[np.ndarray, np.ndarray]:
    """``(a, c)`` with ``layer(x) = a * x + c`` at inference, for BN and Normalization."""
    w = {name: np.asarray(value, dtype=np.float64) for name, value in layer.weights.items()}
    if type(layer).__name__ == "BatchNormalization":
        inverse = 1.0 / np.sqrt(w["moving_variance"] + layer.epsilon)
        gamma = w.get("gamma", np.ones_like(inverse)) if layer.scale else np.ones_like(inverse)
        beta = w.get("beta", np.zeros_like(inverse)) if layer.center else np.zeros_like(inverse)
        a = gamma * inverse
        return a, beta - w["moving_mean"] * a
    a = 1.0 / np.sqrt(w["variance"])
    return a, -w["mean"] * a


def float_ops(model) -> list:
    """The model as inference ops in float32: Dropout removed, BN/Normalization folded."""
    model.require_built("quantize")
    ops: list = []
    pending: tuple[np.ndarray, np.ndarray] | None = None  # an affine waiting for the next Dense
    learned_range = None  # from a FakeQuant layer, for the next Dense
    for layer in model.layers:
        kind = type(layer).__name__
        if isinstance(layer, Dropout):
            continue
        if isinstance(layer, FakeQuant):
            if pending is not None:  # QAT quantized the normalized signal: keep it in float
                ops.append(
                    Affine(f"{layer.name}_normalization", *(p.astype(np.float32) for p in pending))
                )
                pending = None
            learned_range = layer.learned_range()
            continue
        if isinstance(layer, Dense):
            kernel = np.asarray(layer.kernel, dtype=np.float64)
            bias = np.asarray(layer.bias, np.float64) if layer.use_bias else np.zeros(layer.units)
            if pending is not None:
                a, c = pending
                bias = c @ kernel + bias
                kernel = a[:, None] * kernel
                pending = None
            ops.append(
                QuantizedDense(
                    layer.name,
                    kernel.astype(np.float32),
                    bias.astype(np.float32),
                    layer.activation,
                    qat_range=learned_range,
                )
            )
            learned_range = None
        elif kind in AFFINE_LAYERS:
            a, c = _affine_of(layer)
            previous = ops[-1] if ops else None
            if isinstance(previous, QuantizedDense) and previous.activation.name == "linear":
                previous.kernel = (previous.kernel * a).astype(np.float32)
                previous.bias = (previous.bias * a + c).astype(np.float32)
            elif not any(isinstance(op, QuantizedDense) for op in ops):
                ops.append(Affine(layer.name, a.astype(np.float32), c.astype(np.float32)))
            elif pending is None:
                pending = (a, c)
            else:
                pending = (pending[0] * a, pending[1] * a + c)
        else:
            raise ArgumentError(
                f"cannot quantize layer {layer.name!r} ({kind}): supported are Dense, Dropout, "
                "BatchNormalization, Normalization and FakeQuant"
            )
    if pending is not None:
        ops.append(Affine("trailing_normalization", *(p.astype(np.float32) for p in pending)))
    return ops


# --- the model ----------------------------------------------------------------------


class QuantizedModel:
    """An inference model whose Dense kernels are stored int8, float16 or float32.

    ``kept_float`` names the Dense layers the accuracy guard left in float32;
    ``sensitivity`` maps each layer to the accuracy lost when only it is int8.
    """

    def __init__(self, ops: list, input_dim: int, metadata: dict | None = None):
        self.ops = ops
        self.input_dim = int(input_dim)
        self.metadata = dict(metadata or {})
        self.kept_float: list[str] = []
        self.sensitivity: dict[str, float] = {}

    @property
    def output_dim(self) -> int:
        dense = [op for op in self.ops if isinstance(op, QuantizedDense)]
        return int(dense[-1].kernel.shape[1])

    def forward(self, x: np.ndarray) -> np.ndarray:
        for op in self.ops:
            x = op.forward(x)
        return x

    def predict(self, x: Any, batch_size: int | None = None, verbose: int = 0) -> np.ndarray:
        """Outputs computed as the int8 ONNX graph computes them, in batches."""
        from ..validation import check_batch_size, check_x

        x = check_x(x, np.float32, self.input_dim)
        batch_size = check_batch_size(batch_size, 1024)
        result = np.empty((len(x), self.output_dim), dtype=np.float32)
        for start in range(0, len(x), batch_size):
            result[start : start + batch_size] = self.forward(x[start : start + batch_size])
        return result

    def __call__(self, x: Any) -> np.ndarray:
        return self.predict(x)

    def count_params(self) -> int:
        total = 0
        for op in self.ops:
            if isinstance(op, QuantizedDense):
                total += op.kernel.size + op.bias.size
            else:
                total += op.scale.size + op.shift.size
        return int(total)

    @property
    def storages(self) -> dict[str, str]:
        return {op.name: op.storage for op in self.ops if isinstance(op, QuantizedDense)}

    def summary_text(self) -> str:
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
        (print_fn or print)(self.summary_text())

    def save(self, path) -> None:
        save(self, path)

    def __repr__(self) -> str:
        kinds = sorted(set(self.storages.values()))
        return f"<QuantizedModel {'/'.join(kinds)}: {len(self.ops)} ops, {self.count_params():,}>"


def _classification_accuracy(output: np.ndarray, y: np.ndarray) -> float:
    from ..validation import check_same_length

    y = np.asarray(y)
    check_same_length(output, y)
    if y.ndim == 2 and y.shape[1] > 1:
        labels = y.argmax(axis=1)
    else:
        labels = y.reshape(-1)
    predicted = output.argmax(axis=1) if output.shape[1] > 1 else (output[:, 0] > 0.5)
    return float((predicted.astype(np.int64) == labels.astype(np.int64)).mean())


def accuracy(model, x, y) -> float:
    """Classification accuracy of a Sequential or a QuantizedModel on ``(x, y)``."""
    from ..validation import check_same_length, check_x

    x = check_x(x, getattr(model, "dtype", np.float32), model.input_dim)
    y = np.asarray(y)
    check_same_length(x, y)
    return _classification_accuracy(np.asarray(model.predict(x)), y)


def _calibrate(ops: list, x: np.ndarray) -> dict[int, tuple[float, float]]:
    """min and max of the input of every Dense op on ``x``."""
    ranges: dict[int, tuple[float, float]] = {}
    for position, op in enumerate(ops):
        if isinstance(op, QuantizedDense):
            ranges[position] = op.qat_range or (float(x.min()), float(x.max()))
        x = op.forward(x)
    return ranges


def _assign(ops: list, ranges: dict, storage: dict[int, str], weight_max: int = WEIGHT_MAX) -> list:
    """Copies of the float ops, each Dense stored as ``storage[position]``."""
    result = []
    for position, op in enumerate(ops):
        if not isinstance(op, QuantizedDense):
            result.append(op)
            continue
        kind = storage.get(position, "float32")
        kernel = op.kernel
        if kind == "int8":
            scales = weight_scales(kernel, weight_max)
            scale, zero_point = activation_params(*ranges[position])
            result.append(
                QuantizedDense(
                    op.name,
                    quantize_weights(kernel, scales, weight_max),
                    op.bias,
                    op.activation,
                    "int8",
                    scales,
                    scale,
                    zero_point,
                )
            )
        else:
            stored = kernel.astype(np.float16) if kind == "float16" else kernel
            result.append(QuantizedDense(op.name, stored, op.bias, op.activation, kind))
    return result


def int8(
    model,
    calibration_data: Any,
    validation: tuple | None = None,
    max_drop: float | None = None,
    keep_float: list[str] | None = None,
    weight_max: int = WEIGHT_MAX,
) -> QuantizedModel:
    """Post-training int8 quantization (scheme in the module docstring).

    ``weight_max`` is the largest integer of a quantized weight: 64 (default) keeps
    onnxruntime's fast u8 x s8 kernels exact on every CPU; 127 halves the weight
    rounding error, and its ONNX export runs the slower u8 x u8 kernels.

    ``calibration_data`` (a few hundred typical rows) fixes each activation
    range. With ``validation=(x, y)`` the accuracy guard runs: each Dense layer
    is quantized alone to measure its accuracy loss (``sensitivity``); layers
    whose loss exceeds ``max_drop`` (default 0.005, i.e. half a point) stay
    float32, then further layers, most sensitive first, until the whole model
    is within ``max_drop`` of the float model. ``keep_float`` names layers to
    leave float32 from the start. The kept layers are in ``kept_float`` and a
    warning names them.
    """
    from ..validation import check_x

    x_cal = check_x(calibration_data, np.float32, model.input_dim)
    weight_max = check_weight_max(weight_max)
    ops = float_ops(model)
    dense = {op.name: i for i, op in enumerate(ops) if isinstance(op, QuantizedDense)}
    keep_float = [] if keep_float is None else check_layer_names("keep_float", keep_float, dense)
    ranges = _calibrate(ops, x_cal)
    storage = {i: "int8" for name, i in dense.items() if name not in keep_float}
    metadata = {k: v for k, v in model.metadata.items() if k != PRUNING_KEY}
    quantized = QuantizedModel(_assign(ops, ranges, storage, weight_max), model.input_dim, metadata)
    if validation is None:
        if max_drop is not None:
            raise ArgumentError("max_drop needs validation=(x, y) to measure the accuracy drop")
        return quantized
    if not isinstance(validation, (tuple, list)) or len(validation) != 2:
        raise ArgumentError("validation must be (x, y)")
    max_drop = 0.005 if max_drop is None else check_fraction("max_drop", max_drop)
    x_val = check_x(validation[0], np.float32, model.input_dim)
    y_val = np.asarray(validation[1])
    if y_val.ndim == 1 and not np.array_equal(y_val, np.round(y_val)):
        raise ArgumentError(
            "the accuracy guard measures classification accuracy: validation y must be "
            "class labels (or one-hot rows), got non-integer values"
        )
    reference = QuantizedModel(ops, model.input_dim)
    baseline = accuracy(reference, x_val, y_val)
    sensitivity = {}
    for name, i in dense.items():
        alone = QuantizedModel(_assign(ops, ranges, {i: "int8"}, weight_max), model.input_dim)
        sensitivity[name] = baseline - accuracy(alone, x_val, y_val)
    for name, drop in sensitivity.items():
        if drop > max_drop:
            storage.pop(dense[name], None)
    while True:
        quantized = QuantizedModel(
            _assign(ops, ranges, storage, weight_max), model.input_dim, metadata
        )
        drop = baseline - accuracy(quantized, x_val, y_val)
        if drop <= max_drop or not storage:
            break
        worst = max(storage, key=lambda i: sensitivity[ops[i].name])
        storage.pop(worst)
    quantized.sensitivity = sensitivity
    quantized.kept_float = [name for name, i in dense.items() if i not in storage]
    quantized.metadata["quantization"] = {
        "baseline_accuracy": baseline,
        "accuracy": baseline - drop,
        "max_drop": max_drop,
        "kept_float": quantized.kept_float,
        "sensitivity": sensitivity,
    }
    if quantized.kept_float:
        warnings.warn(
            f"int8: kept {quantized.kept_float} in float32 to stay within max_drop={max_drop} "
            f"(accuracy loss per layer when int8 alone: "
            f"{ {k: round(v, 4) for k, v in sensitivity.items()} })",
            stacklevel=2,
        )
    return quantized


def float16(model) -> QuantizedModel:
    """Dense kernels stored as float16 (half the file); compute stays float32."""
    ops = float_ops(model)
    storage = {i: "float16" for i, op in enumerate(ops) if isinstance(op, QuantizedDense)}
    metadata = {k: v for k, v in model.metadata.items() if k != PRUNING_KEY}
    return QuantizedModel(_assign(ops, {}, storage), model.input_dim, metadata)


# --- files ----------------------------------------------------------------------------


def save(qmodel: QuantizedModel, path) -> None:
    """Write a quantized model: int8/float16 kernels, float32 scales and biases, JSON ops."""
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


def load(path) -> QuantizedModel:
    """Read a file written by :func:`save`, validating every field."""
    tensors, metadata = read_safetensors(path)
    if metadata.get("format") != FORMAT:
        raise ModelFileError(f"{path} is not a densekit quantized model file")
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


# --- quantization-aware training ------------------------------------------------------


@register
class FakeQuant(Layer):
    """QAT stand-in for the uint8 quantization of its input (per tensor):

        y = (clip(rint(x / s) + zp, 0, 255) - zp) * s      (s, zp from the range [lo, hi])
        dL/dx = dL/dy where lo <= x <= hi, else 0           (clipped straight-through estimator)

    The range is the batch min/max (0 included) averaged with ``momentum`` while
    training, stored as the non-trainable weight ``range`` (so it is saved), and
    used as is at inference; :func:`int8` takes it instead of calibrating.
    """

    def __init__(self, momentum: float = 0.99, name: str | None = None):
        super().__init__(name)
        if isinstance(momentum, bool) or not isinstance(momentum, (int, float)):
            raise ArgumentTypeError(f"momentum must be a number in [0, 1), got {momentum!r}")
        if not 0.0 <= momentum < 1.0:
            raise ArgumentError(f"momentum must be in [0, 1), got {momentum}")
        self.momentum = float(momentum)
        self._inside = None

    def weight_specs(self) -> list[WeightSpec]:
        return [WeightSpec("range", (2,), initializers.get("zeros"), trainable=False)]

    def learned_range(self) -> tuple[float, float] | None:
        low, high = (float(v) for v in self.backend.to_numpy(self.weights["range"]))
        return None if low == high == 0.0 else (low, high)

    def forward(self, x: Any, training: bool) -> Any:
        xp, stored = self.backend.xp, self.weights["range"]
        if training:
            batch = (min(float(x.min()), 0.0), max(float(x.max()), 0.0))
            if self.learned_range() is None:
                stored[0], stored[1] = batch
            else:
                stored *= self.momentum
                stored += (1.0 - self.momentum) * xp.asarray(batch, dtype=stored.dtype)
        learned = self.learned_range()
        if learned is None:
            self._inside = None
            return x
        scale, zero_point = activation_params(*learned)
        scale, zero_point = float(scale), float(zero_point)
        q = xp.clip(xp.rint(x / scale) + zero_point, 0, UINT8_MAX)
        if training:
            low, high = -zero_point * scale, (UINT8_MAX - zero_point) * scale
            self._inside = (x >= low) & (x <= high)
        return ((q - zero_point) * scale).astype(x.dtype)

    def backward(self, grad: Any, need_input_grad: bool = True) -> Any:
        if self._inside is not None:
            grad *= self._inside
        return grad

    def get_config(self) -> dict:
        return {"name": self.name, "momentum": self.momentum}


class FakeQuantization:
    """Hooks that train a Sequential against int8 kernels (straight-through estimator)."""

    def __init__(self, model, layers: list[Dense]):
        self.model = model
        self.layers = layers
        self.shadow = {layer.name: np.array(layer.kernel, copy=True) for layer in layers}

    def quantize_kernels(self, model=None) -> None:
        """The constraint: keep the float kernels, run with their int8 images."""
        for layer in self.layers:
            self.shadow[layer.name][...] = layer.kernel
            layer.kernel[...] = fake_quantize(np.asarray(layer.kernel))

    def restore_kernels(self, grads=None) -> None:
        """The gradient hook: the optimizer updates the float kernels."""
        for layer in self.layers:
            layer.kernel[...] = self.shadow[layer.name]


def _with_input_quantizers(model, names: set[str], momentum: float):
    """A copy of ``model`` with a FakeQuant layer before each named Dense layer."""
    from ..layers import from_config as layer_from_config
    from ..model import Sequential

    layers = []
    for layer in model.layers:
        if isinstance(layer, Dense) and layer.name in names:
            layers.append(FakeQuant(momentum, name=f"{layer.name}_input_quant"))
        entry = {"class_name": type(layer).__name__, "config": layer.get_config()}
        layers.append(layer_from_config(entry))
    copy = Sequential(layers, name=model.name, seed=model.seed, dtype=model.dtype.name)
    if not copy.built:
        copy.build(model.input_dim)
    old = {(layer.name, spec.name): weight for layer, spec, weight in model.weight_index}
    for layer, spec, weight in copy.weight_index:
        if (layer.name, spec.name) in old:
            weight[...] = old[(layer.name, spec.name)]
    return copy._settings_from(model)


def qat(
    model,
    layers: list[str] | None = None,
    activations: bool = True,
    momentum: float = 0.99,
):
    """A copy of ``model`` set up for quantization-aware training.

    Every later ``fit`` runs the named Dense layers (all by default) with int8
    kernels (fake-quantized after each step, float weights kept and updated,
    straight-through) and, with ``activations``, a :class:`FakeQuant` layer before
    each of them that simulates the uint8 quantization of its input. :func:`int8`
    on the result uses the learned ranges; :func:`strip_qat` removes the kernel
    hooks (the FakeQuant layers stay: they are part of the model and its file).
    """
    model.require_built("prepare quantization-aware training")
    if model.backend.xp is not np:
        raise ArgumentError("quantization-aware training runs on the CPU backend only")
    dense = [layer for layer in model.layers if isinstance(layer, Dense)]
    known = {layer.name for layer in dense}
    if layers is not None:
        layers = check_layer_names("layers", layers, known)
    names = known if layers is None else set(layers)
    if any(isinstance(layer, FakeQuant) for layer in model.layers):
        activations = False  # already has its quantizers
    trained = _with_input_quantizers(model, names, momentum) if activations else model.copy()
    hooks = FakeQuantization(
        trained,
        [layer for layer in trained.layers if isinstance(layer, Dense) and layer.name in names],
    )
    trained.gradient_hooks.append(hooks.restore_kernels)
    trained.constraints.append(hooks.quantize_kernels)
    hooks.quantize_kernels()
    return trained


def fake_quantization_of(model) -> FakeQuantization | None:
    for constraint in model.constraints:
        owner = getattr(constraint, "__self__", None)
        if isinstance(owner, FakeQuantization):
            return owner
    return None


def strip_qat(model):
    """Remove the QAT kernel hooks; the kernels keep their int8 images. Returns ``model``."""
    hooks = fake_quantization_of(model)
    if hooks is not None:
        model.constraints.remove(hooks.quantize_kernels)
        model.gradient_hooks.remove(hooks.restore_kernels)
    return model


# --- ONNX -------------------------------------------------------------------------------


def export_onnx(model, path, opset: int = MIN_OPSET) -> None:
    """Write ``model`` (a QuantizedModel, or a Sequential) as ONNX.

    A Sequential goes to :func:`densekit.onnx.export_onnx` (the float exporter).
    For a QuantizedModel an int8 Dense becomes ``QuantizeLinear -> DequantizeLinear
    -> MatMul`` with the kernel as an int8 initializer behind a per-channel
    ``DequantizeLinear`` (QDQ), then ``Add`` (float bias) and the activation (as
    densekit.onnx builds it); onnxruntime fuses the pattern into an integer
    matmul kernel. A kernel within ``[-64, 64]`` is written as int8; a wider one as
    uint8 ``Wq + 128`` with zero point 128, so no CPU's kernel saturates (module
    docstring, "Saturation").
    """
    from .. import onnx as onnx_export
    from ..model import Sequential

    if isinstance(model, Sequential):
        onnx_export.export_onnx(model, path, opset)
        return
    if not isinstance(model, QuantizedModel):
        raise ArgumentTypeError(
            f"export_onnx takes a QuantizedModel or a densekit Sequential, got {model!r}"
        )
    if isinstance(opset, bool) or not isinstance(opset, int) or opset < MIN_OPSET:
        raise ArgumentError(f"opset must be an integer >= {MIN_OPSET}, got {opset!r}")
    onnx = require("onnx", "onnx", "ONNX export")
    from onnx import TensorProto, helper, numpy_helper

    graph = onnx_export.Graph(np.float32, opset)
    nodes, inits = graph.nodes, graph.initializers
    current = "input"
    for position, op in enumerate(model.ops):
        tag = f"op{position}"
        if isinstance(op, Affine):
            inits += [
                numpy_helper.from_array(op.scale, f"{tag}_scale"),
                numpy_helper.from_array(op.shift, f"{tag}_shift"),
            ]
            nodes += [
                helper.make_node("Mul", [current, f"{tag}_scale"], [f"{tag}_scaled"]),
                helper.make_node("Add", [f"{tag}_scaled", f"{tag}_shift"], [f"{tag}_out"]),
            ]
            current = f"{tag}_out"
            continue
        if op.storage == "int8":
            weights, weight_zero_points = onnx_weight_operand(op.kernel)
            inits += [
                numpy_helper.from_array(np.array(op.input_scale, np.float32), f"{tag}_x_scale"),
                numpy_helper.from_array(np.array(op.input_zero_point, np.uint8), f"{tag}_x_zp"),
                numpy_helper.from_array(weights, f"{tag}_w_q"),
                numpy_helper.from_array(op.kernel_scale, f"{tag}_w_scale"),
                numpy_helper.from_array(weight_zero_points, f"{tag}_w_zp"),
            ]
            nodes += [
                helper.make_node(
                    "QuantizeLinear", [current, f"{tag}_x_scale", f"{tag}_x_zp"], [f"{tag}_xq"]
                ),
                helper.make_node(
                    "DequantizeLinear",
                    [f"{tag}_xq", f"{tag}_x_scale", f"{tag}_x_zp"],
                    [f"{tag}_xdq"],
                ),
                helper.make_node(
                    "DequantizeLinear",
                    [f"{tag}_w_q", f"{tag}_w_scale", f"{tag}_w_zp"],
                    [f"{tag}_w"],
                    axis=1,
                ),
            ]
            matmul_input = f"{tag}_xdq"
        elif op.storage == "float16":
            inits.append(numpy_helper.from_array(op.kernel, f"{tag}_w16"))
            nodes.append(
                helper.make_node("Cast", [f"{tag}_w16"], [f"{tag}_w"], to=TensorProto.FLOAT)
            )
            matmul_input = current
        else:
            inits.append(numpy_helper.from_array(op.kernel, f"{tag}_w"))
            matmul_input = current
        inits.append(numpy_helper.from_array(op.bias, f"{tag}_b"))
        nodes += [
            helper.make_node("MatMul", [matmul_input, f"{tag}_w"], [f"{tag}_mm"]),
            helper.make_node("Add", [f"{tag}_mm", f"{tag}_b"], [f"{tag}_z"]),
        ]
        current = graph.add_activation(op.activation, f"{tag}_z", tag)
    nodes.append(helper.make_node("Identity", [current], ["output"]))
    used = {name for node in nodes for name in node.input}
    inits = [tensor for tensor in inits if tensor.name in used]
    onnx_graph = helper.make_graph(
        nodes,
        "densekit",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", model.input_dim])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch", model.output_dim])],
        inits,
    )
    proto = helper.make_model(
        onnx_graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="densekit"
    )
    proto.ir_version = helper.find_min_ir_version_for(list(proto.opset_import))
    onnx.checker.check_model(proto)
    atomic_write(path, [proto.SerializeToString()])


__all__ = [
    "int8",
    "float16",
    "qat",
    "strip_qat",
    "FakeQuant",
    "save",
    "load",
    "export_onnx",
    "float_ops",
    "accuracy",
    "QuantizedModel",
    "QuantizedDense",
    "Affine",
    "weight_scales",
    "quantize_weights",
    "quantize_activations",
    "activation_params",
    "fake_quantize",
    "check_weight_max",
    "onnx_weight_operand",
    "WEIGHT_MAX",
]
