"""ONNX export of a quantized model: int8 Dense products as a QDQ graph.

An int8 Dense becomes ``QuantizeLinear -> DequantizeLinear -> MatMul`` with the
kernel as an integer initializer behind a per-channel ``DequantizeLinear``;
onnxruntime fuses the pattern into an integer matmul kernel. Which integer type
the kernel is written as is set by the saturation rule of
:mod:`densekit.quantize.arithmetic`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..errors import ArgumentError, ArgumentTypeError, require
from ..onnx import MIN_OPSET
from ..serialization.safetensors import atomic_write
from .arithmetic import WEIGHT_MAX
from .model import Affine, QuantizedModel

if TYPE_CHECKING:
    from ..model import Sequential

ONNX_UINT8_WEIGHT_ZERO_POINT = 128


def onnx_weight_operand(kernel: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The integer kernel and its per-channel zero points as the ONNX export writes them.

    int8 with zero point 0 when ``|Wq| <= WEIGHT_MAX`` (no u8 x s8 pair can saturate);
    otherwise uint8 ``Wq + 128`` with zero point 128, the same values, for the u8 x u8
    kernels, which do not saturate.

    Parameters
    ----------
    kernel
        An int8 kernel ``(inputs, units)``.

    Returns
    -------
    tuple of ndarray
        ``(weights, zero_points)``: int8 and int8 zeros, or uint8 and 128s.
    """
    units = kernel.shape[1]
    if int(np.abs(kernel.astype(np.int16)).max(initial=0)) <= WEIGHT_MAX:
        return kernel.astype(np.int8), np.zeros(units, np.int8)
    shifted = kernel.astype(np.int16) + ONNX_UINT8_WEIGHT_ZERO_POINT
    return shifted.astype(np.uint8), np.full(units, ONNX_UINT8_WEIGHT_ZERO_POINT, np.uint8)


def export_onnx(model: Sequential, path: str | Path, opset: int = MIN_OPSET) -> None:
    """Write ``model`` (a QuantizedModel, or a Sequential) as ONNX.

    A Sequential goes to :func:`densekit.onnx.export_onnx` (the float exporter).
    For a QuantizedModel an int8 Dense becomes ``QuantizeLinear -> DequantizeLinear
    -> MatMul`` with the kernel as an int8 initializer behind a per-channel
    ``DequantizeLinear`` (QDQ), then ``Add`` (float bias) and the activation (as
    densekit.onnx builds it); onnxruntime fuses the pattern into an integer
    matmul kernel. A kernel within ``[-64, 64]`` is written as int8; a wider one as
    uint8 ``Wq + 128`` with zero point 128, so no CPU's kernel saturates
    (:mod:`densekit.quantize.arithmetic`, "Saturation").

    Parameters
    ----------
    model
        The model.
    path
        The file to write (atomically).
    opset
        The ONNX opset, at least ``MIN_OPSET``.

    Raises
    ------
    ArgumentTypeError
        If ``model`` is neither.
    ArgumentError
        If ``opset`` is too low.
    MissingDependencyError
        If onnx (the ``onnx`` extra) is not installed.
    """
    from .. import onnx as float_onnx
    from ..model import Sequential

    if isinstance(model, Sequential):
        float_onnx.export_onnx(model, path, opset)
        return
    if not isinstance(model, QuantizedModel):
        raise ArgumentTypeError(
            f"export_onnx takes a QuantizedModel or a densekit Sequential, got {model!r}"
        )
    if isinstance(opset, bool) or not isinstance(opset, int) or opset < MIN_OPSET:
        raise ArgumentError(f"opset must be an integer >= {MIN_OPSET}, got {opset!r}")
    onnx = require("onnx", "onnx", "ONNX export")
    from onnx import TensorProto, helper, numpy_helper

    graph = float_onnx.Graph(np.float32, opset)
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
