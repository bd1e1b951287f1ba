"""Post-training quantization: int8 (calibration and the accuracy guard) and float16.

:func:`int8` calibrates the input range of every Dense product on sample data
(or takes the range a FakeQuant layer learned during QAT) and stores each
kernel as int8 (arithmetic in :mod:`densekit.quantize.arithmetic`); with
validation data an accuracy guard keeps the most sensitive layers in float32.
:func:`float16` halves the file and keeps float32 compute.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ArgumentError
from ..prune.checks import check_fraction, check_layer_names
from ..prune.masks import METADATA_KEY as PRUNING_KEY
from .arithmetic import (
    WEIGHT_MAX,
    activation_params,
    check_weight_max,
    quantize_weights,
    weight_scales,
)
from .folding import float_ops
from .model import QuantizedDense, QuantizedModel

if TYPE_CHECKING:
    from ..model import Sequential


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


def accuracy(model: Sequential | QuantizedModel, x: Any, y: Any) -> float:
    """Classification accuracy of a Sequential or a QuantizedModel on ``(x, y)``.

    Parameters
    ----------
    model
        The model.
    x
        Inputs.
    y
        Class labels, or one-hot rows.

    Returns
    -------
    float
        The fraction of rows whose predicted class is the label.
    """
    from ..validation import check_same_length, check_x

    x = check_x(x, getattr(model, "dtype", np.float32), model.input_dim)
    y = np.asarray(y)
    check_same_length(x, y)
    return _classification_accuracy(np.asarray(model.predict(x)), y)


def _calibrate(ops: list, x: np.ndarray) -> dict[int, tuple[float, float]]:
    """Minimum and maximum of the input of every Dense op on ``x``."""
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
    model: Sequential,
    calibration_data: Any,
    validation: tuple | None = None,
    max_drop: float | None = None,
    keep_float: list[str] | None = None,
    weight_max: int = WEIGHT_MAX,
) -> QuantizedModel:
    """Post-training int8 quantization (scheme in :mod:`densekit.quantize.arithmetic`).

    With ``validation=(x, y)`` the accuracy guard runs: each Dense layer is
    quantized alone to measure its accuracy loss (``sensitivity``); layers whose
    loss exceeds ``max_drop`` stay float32, then further layers, most sensitive
    first, until the whole model is within ``max_drop`` of the float model. The
    kept layers are in ``kept_float`` and a warning names them.

    Parameters
    ----------
    model
        A built model (see :func:`~densekit.quantize.float_ops` for the layers).
    calibration_data
        A few hundred typical rows; they fix each activation range (a range a
        FakeQuant layer learned is used instead).
    validation
        ``(x, y)`` with class labels: runs the accuracy guard.
    max_drop
        The accuracy the guard may lose (default 0.005, half a point); needs
        ``validation``.
    keep_float
        Dense layers to leave float32 from the start.
    weight_max
        The largest integer of a quantized weight: 64 keeps onnxruntime's fast
        u8 x s8 kernels exact on every CPU; 127 halves the weight rounding error,
        and its ONNX export runs the slower u8 x u8 kernels.

    Returns
    -------
    QuantizedModel
        The quantized model.

    Raises
    ------
    ArgumentError
        If an argument is invalid, ``max_drop`` comes without ``validation``, or
        ``validation`` labels are not class labels.
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


def float16(model: Sequential) -> QuantizedModel:
    """Dense kernels stored as float16 (half the file); compute stays float32.

    Parameters
    ----------
    model
        A built model.

    Returns
    -------
    QuantizedModel
        The model with float16 kernels.
    """
    ops = float_ops(model)
    storage = {i: "float16" for i, op in enumerate(ops) if isinstance(op, QuantizedDense)}
    metadata = {k: v for k, v in model.metadata.items() if k != PRUNING_KEY}
    return QuantizedModel(_assign(ops, {}, storage), model.input_dim, metadata)
