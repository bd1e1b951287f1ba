"""Quantization: int8 and float16 weight storage, an int8 ONNX (QDQ) export, and QAT.

One module per concern:

- :mod:`~densekit.quantize.arithmetic`: the int8 scheme (scales, quantize, dequantize,
  ``weight_max`` and why 64: "Saturation");
- :mod:`~densekit.quantize.folding`: :func:`float_ops`, BatchNormalization folded into Dense;
- :mod:`~densekit.quantize.model`: :class:`QuantizedModel`, the inference model;
- :mod:`~densekit.quantize.ptq`: post-training :func:`int8` (calibration, accuracy guard)
  and :func:`float16`;
- :mod:`~densekit.quantize.files`: :func:`save` and :func:`load`;
- :mod:`~densekit.quantize.aware_training`: :func:`qat` and :func:`strip_qat` (the
  :class:`FakeQuant` layer is :mod:`densekit.layers.fake_quant`);
- :mod:`~densekit.quantize.onnx_export`: :func:`export_onnx`, the QDQ graph.
"""

from __future__ import annotations

from ..layers.fake_quant import FakeQuant
from ..onnx import MIN_OPSET as MIN_OPSET
from ..prune.masks import METADATA_KEY as PRUNING_KEY  # noqa: F401  (importable as before)
from .arithmetic import INT8_MAX as INT8_MAX
from .arithmetic import INT16_MAX as INT16_MAX
from .arithmetic import UINT8_MAX as UINT8_MAX
from .arithmetic import (
    WEIGHT_MAX,
    activation_params,
    check_weight_max,
    fake_quantize,
    quantize_activations,
    quantize_weights,
    weight_scales,
)
from .aware_training import FakeQuantization as FakeQuantization
from .aware_training import fake_quantization_of as fake_quantization_of
from .aware_training import qat, strip_qat
from .files import load, load_contents
from .folding import AFFINE_LAYERS as AFFINE_LAYERS
from .folding import float_ops
from .model import FORMAT as FORMAT
from .model import FORMAT_VERSION as FORMAT_VERSION
from .model import STORAGES as STORAGES
from .model import Affine, QuantizedDense, QuantizedModel, save
from .onnx_export import ONNX_UINT8_WEIGHT_ZERO_POINT as ONNX_UINT8_WEIGHT_ZERO_POINT
from .onnx_export import export_onnx, onnx_weight_operand
from .ptq import accuracy, float16, int8

__all__ = [
    "int8",
    "float16",
    "qat",
    "strip_qat",
    "FakeQuant",
    "save",
    "load",
    "load_contents",
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
