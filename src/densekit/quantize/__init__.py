"""Quantization: int8 and float16 weight storage, an int8 ONNX (QDQ) export, and QAT."""

from __future__ import annotations

from .ptq import AFFINE_LAYERS as AFFINE_LAYERS
from .ptq import FORMAT as FORMAT
from .ptq import FORMAT_VERSION as FORMAT_VERSION
from .ptq import INT8_MAX as INT8_MAX
from .ptq import INT16_MAX as INT16_MAX
from .ptq import MIN_OPSET as MIN_OPSET
from .ptq import ONNX_UINT8_WEIGHT_ZERO_POINT as ONNX_UINT8_WEIGHT_ZERO_POINT
from .ptq import PRUNING_KEY as PRUNING_KEY
from .ptq import STORAGES as STORAGES
from .ptq import UINT8_MAX as UINT8_MAX
from .ptq import WEIGHT_MAX as WEIGHT_MAX
from .ptq import Affine as Affine
from .ptq import FakeQuant as FakeQuant
from .ptq import FakeQuantization as FakeQuantization
from .ptq import QuantizedDense as QuantizedDense
from .ptq import QuantizedModel as QuantizedModel
from .ptq import __all__ as __all__
from .ptq import accuracy as accuracy
from .ptq import activation_params as activation_params
from .ptq import check_weight_max as check_weight_max
from .ptq import export_onnx as export_onnx
from .ptq import fake_quantization_of as fake_quantization_of
from .ptq import fake_quantize as fake_quantize
from .ptq import float16 as float16
from .ptq import float_ops as float_ops
from .ptq import int8 as int8
from .ptq import load as load
from .ptq import onnx_weight_operand as onnx_weight_operand
from .ptq import qat as qat
from .ptq import quantize_activations as quantize_activations
from .ptq import quantize_weights as quantize_weights
from .ptq import save as save
from .ptq import strip_qat as strip_qat
from .ptq import weight_scales as weight_scales
