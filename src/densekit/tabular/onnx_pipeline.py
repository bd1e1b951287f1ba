"""The whole pipeline as one ONNX graph: raw columns in, labels or numbers in the target's units out.

``densekit export MODEL OUT.onnx`` writes it for a model made by ``densekit train``:

    inputs     one per raw feature column, shape (batch, 1): ``tensor(double)`` for a
               numeric column (NaN where missing), ``tensor(string)`` for a text column
               ("" where missing; cells stripped of surrounding spaces, as ``predict`` reads)
    numbers    Where(IsNaN(x), fill, x); standard: (x - mean) / std; robust:
               z = (x - median) * factor, then z / sqrt(1 + (z / 3)^2); the missing
               indicator Cast(IsNaN(x)) -- in double, as densekit computes them
    text       ai.onnx.ml LabelEncoder (category -> position, missing -> its fill,
               unknown -> -1); one-hot as Equal(position, [0..k-1]); codes as position + 1
    network    Concat, Cast to float32, then the network's own graph (densekit.onnx;
               the QDQ graph of densekit.quantize for an int8 model)
    outputs    regression: ``prediction`` (batch,) double, ``y * std + mean``;
               classification: ``label`` (batch,) (Gather of the classes at ArgMax, or
               p > 0.5 for a sigmoid) and ``probabilities`` (batch, n_classes) float32

``metadata_props`` hold the input columns and their kinds, the encoded feature names,
the classes, the target, the task and the densekit version (JSON where a list).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ArgumentTypeError, require
from ..onnx import MIN_OPSET, to_onnx
from ..preprocessing import CategoricalColumn, NumericColumn, TabularPreprocessor
from ..serialization.safetensors import atomic_write
from ..version import __version__

ML_DOMAIN = "ai.onnx.ml"
ML_OPSET = 3
NETWORK_PREFIX = "network/"


def export_pipeline(
    model: Any,
    preprocessor: TabularPreprocessor,
    path: str | Path,
    opset: int = MIN_OPSET,
) -> None:
    """Write the preprocessing, the network and the target decoding as one ONNX file.

    Parameters
    ----------
    model
        The network: a densekit Sequential, or a QuantizedModel (int8 QDQ inside).
    preprocessor
        The fitted preprocessing the model was trained with.
    path
        The ``.onnx`` file to write (atomically).
    opset
        The default-domain ONNX opset, at least MIN_OPSET.

    Raises
    ------
    ArgumentTypeError
        If ``preprocessor`` is not a fitted TabularPreprocessor.
    MissingDependencyError
        If onnx is not installed.
    """
    onnx = require("onnx", "onnx", "ONNX export")
    proto = pipeline_proto(model, preprocessor, opset)
    onnx.checker.check_model(proto, full_check=True)
    atomic_write(path, [proto.SerializeToString()])


def pipeline_proto(
    model: Any,
    preprocessor: TabularPreprocessor,
    opset: int = MIN_OPSET,
) -> Any:
    """The ``onnx.ModelProto`` of the whole pipeline (see the module docstring).

    Parameters
    ----------
    model
        A Sequential or a QuantizedModel.
    preprocessor
        The fitted preprocessing.
    opset
        The default-domain opset.

    Returns
    -------
    onnx.ModelProto
        The checked-ready model.

    Raises
    ------
    ArgumentTypeError
        If ``preprocessor`` is not a TabularPreprocessor.
    """
    onnx = require("onnx", "onnx", "ONNX export")
    from onnx import TensorProto, helper

    if not isinstance(preprocessor, TabularPreprocessor):
        raise ArgumentTypeError(
            f"preprocessor must be a fitted TabularPreprocessor, got {type(preprocessor).__name__}"
        )
    columns = preprocessor.columns_
    network = onnx.compose.add_prefix(_network_proto(model, opset), NETWORK_PREFIX)
    builder = _Builder(helper)
    inputs, pieces = [], []
    for column in columns:
        if isinstance(column, NumericColumn):
            inputs.append(
                helper.make_tensor_value_info(column.name, TensorProto.DOUBLE, ["batch", 1])
            )
            pieces += _numeric(builder, column)
        else:
            inputs.append(
                helper.make_tensor_value_info(column.name, TensorProto.STRING, ["batch", 1])
            )
            pieces.append(_categorical(builder, column))
    features = builder.op("Concat", pieces, "features", axis=1) if len(pieces) > 1 else pieces[0]
    network_input = network.graph.input[0].name
    builder.nodes.append(
        helper.make_node("Cast", [features], [network_input], to=TensorProto.FLOAT)
    )
    before = len(builder.nodes)
    outputs = _decode(builder, preprocessor, network.graph.output[0].name)
    nodes = builder.nodes[:before] + list(network.graph.node) + builder.nodes[before:]
    graph = helper.make_graph(
        nodes,
        "densekit_pipeline",
        inputs,
        outputs,
        initializer=builder.initializers + list(network.graph.initializer),
    )
    domains = {op.domain: op.version for op in network.opset_import}
    domains[""] = max(domains.get("", opset), opset)
    domains[ML_DOMAIN] = ML_OPSET
    proto = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid(domain, version) for domain, version in domains.items()],
        producer_name="densekit",
        producer_version=__version__,
        doc_string="densekit pipeline: raw columns -> preprocessing -> network -> "
        + ("labels and probabilities" if preprocessor.task == "classification" else "prediction"),
    )
    proto.ir_version = helper.find_min_ir_version_for(list(proto.opset_import))
    onnx.helper.set_model_props(proto, _metadata(preprocessor))
    return proto


def _network_proto(model: Any, opset: int) -> Any:
    from ..model import Sequential

    if isinstance(model, Sequential):
        return to_onnx(model, opset=opset)
    import onnx

    from ..quantize import QuantizedModel
    from ..quantize import export_onnx as export_quantized

    if not isinstance(model, QuantizedModel):
        raise ArgumentTypeError(f"expected a Sequential or a QuantizedModel, got {model!r}")
    with tempfile.TemporaryDirectory(prefix="densekit-onnx-") as folder:
        path = Path(folder) / "network.onnx"
        export_quantized(model, path, opset)
        return onnx.load(path)


class _Builder:
    """Nodes and initializers of the pre- and post-processing, with unique names."""

    def __init__(self, helper: Any) -> None:
        from onnx import numpy_helper

        self.helper, self.numpy_helper = helper, numpy_helper
        self.nodes: list = []
        self.initializers: list = []
        self.count = 0

    def fresh(self, stem: str) -> str:
        self.count += 1
        return f"{stem}_{self.count}"

    def constant(self, stem: str, value: Any, dtype: Any = np.float64) -> str:
        name = self.fresh(stem)
        array = (
            np.asarray(value, dtype=dtype)
            if dtype is not object
            else np.asarray(value, dtype=object)
        )
        self.initializers.append(self.numpy_helper.from_array(array, name))
        return name

    def op(self, op_type: str, inputs: list[str], stem: str, domain: str = "", **attributes) -> str:
        output = self.fresh(stem)
        self.nodes.append(
            self.helper.make_node(
                op_type, inputs, [output], name=output, domain=domain, **attributes
            )
        )
        return output


def _numeric(b: _Builder, column: NumericColumn) -> list[str]:
    """The column's value (and indicator) as (batch, 1) double tensors."""
    from onnx import TensorProto

    x, stem = column.name, f"{column.name}/"
    missing = b.op("IsNaN", [x], stem + "isnan")
    if column.fill is not None:
        x = b.op("Where", [missing, b.constant(stem + "fill", column.fill), x], stem + "filled")
    centered = b.op("Sub", [x, b.constant(stem + "center", column.center)], stem + "centered")
    if column.scaling == "robust":
        factor = 0.0 if column.scale == 0.0 else 1.0 / (column.scale + 1e-30)
        z = b.op("Mul", [centered, b.constant(stem + "factor", factor)], stem + "z")
        # z / sqrt(1 + (z/3)^2) without hypot: bound z first, so (z/3)^2 cannot overflow;
        # at |z| = 1e100 the result is already ±3 to double precision
        z = b.op(
            "Clip",
            [z, b.constant(stem + "low", -1e100), b.constant(stem + "high", 1e100)],
            stem + "bounded",
        )
        third = b.op("Div", [z, b.constant(stem + "three", 3.0)], stem + "z3")
        square = b.op("Mul", [third, third], stem + "z3sq")
        root = b.op(
            "Sqrt",
            [b.op("Add", [square, b.constant(stem + "one", 1.0)], stem + "sum")],
            stem + "root",
        )
        value = b.op("Div", [z, root], stem + "clipped")
    else:
        value = b.op("Div", [centered, b.constant(stem + "scale", column.scale)], stem + "scaled")
    if not column.indicator:
        return [value]
    return [value, b.op("Cast", [missing], stem + "indicator", to=TensorProto.DOUBLE)]


def _categorical(b: _Builder, column: CategoricalColumn) -> str:
    """The column's one-hot block or codes as a (batch, width) double tensor."""
    from onnx import TensorProto

    stem = f"{column.name}/"
    k = len(column.categories)
    if column.fill is not None:
        missing_position = column.categories.index(column.fill)
    elif column.missing_level:
        missing_position = k
    else:
        missing_position = -1
    tokens = sorted({s for token in column.missing_tokens for s in _cases(token)} | {""})
    tokens = [token for token in tokens if token not in column.categories]
    keys = list(column.categories) + tokens
    values = list(range(k)) + [missing_position] * len(tokens)
    position = b.op(
        "LabelEncoder",
        [column.name],
        stem + "position",
        domain=ML_DOMAIN,
        keys_strings=keys,
        values_int64s=values,
        default_int64=-1,
    )
    if column.encoding == "codes":
        code = b.op("Add", [position, b.constant(stem + "one", 1, np.int64)], stem + "code")
        return b.op("Cast", [code], stem + "codes", to=TensorProto.DOUBLE)
    width = len(column.output_names)
    hot = b.op(
        "Equal",
        [position, b.constant(stem + "positions", np.arange(width), np.int64)],
        stem + "hot",
    )
    return b.op("Cast", [hot], stem + "onehot", to=TensorProto.DOUBLE)


def _cases(token: str) -> list[str]:
    spellings = [""]
    for char in token:
        spellings = [s + c for s in spellings for c in {char.lower(), char.upper()}]
    return spellings


def _decode(b: _Builder, prep: TabularPreprocessor, output: str) -> list:
    """The nodes after the network, and the graph's outputs."""
    from onnx import TensorProto, helper

    if prep.task == "regression":
        y = b.op("Cast", [output], "target/double", to=TensorProto.DOUBLE)
        y = b.op("Mul", [y, b.constant("target/std", prep.target_std)], "target/scaled")
        y = b.op("Add", [y, b.constant("target/mean", prep.target_mean)], "target/shifted")
        b.nodes.append(
            helper.make_node(
                "Squeeze", [y, b.constant("target/axis", [1], np.int64)], ["prediction"]
            )
        )
        return [helper.make_tensor_value_info("prediction", TensorProto.DOUBLE, ["batch"])]
    k = len(prep.classes_)
    if k == 2:  # one sigmoid unit: p is the second class's probability
        first = b.op("Sub", [b.constant("proba/one", 1.0, np.float32), output], "proba/first")
        b.nodes.append(helper.make_node("Concat", [first, output], ["probabilities"], axis=1))
        half = b.constant("proba/half", 0.5, np.float32)
        index = b.op(
            "Cast",
            [b.op("Greater", [output, half], "proba/second")],
            "class/index2d",
            to=TensorProto.INT64,
        )
        index = b.op("Squeeze", [index, b.constant("class/axis", [1], np.int64)], "class/index")
    else:
        b.nodes.append(helper.make_node("Identity", [output], ["probabilities"]))
        index = b.op("ArgMax", [output], "class/index", axis=1, keepdims=0)
    text = isinstance(prep.classes_[0], str)
    if text:
        classes, label_type = b.constant("class/labels", prep.classes_, object), TensorProto.STRING
    elif all(isinstance(c, int) for c in prep.classes_):
        classes, label_type = b.constant("class/labels", prep.classes_, np.int64), TensorProto.INT64
    else:
        classes, label_type = (
            b.constant("class/labels", prep.classes_, np.float64),
            TensorProto.DOUBLE,
        )
    b.nodes.append(helper.make_node("Gather", [classes, index], ["label"], axis=0))
    return [
        helper.make_tensor_value_info("label", label_type, ["batch"]),
        helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["batch", k]),
    ]


def _metadata(prep: TabularPreprocessor) -> dict[str, str]:
    kinds = {
        column.name: "number" if isinstance(column, NumericColumn) else "text"
        for column in prep.columns_
    }
    return {
        "densekit_version": __version__,
        "target": prep.target,
        "task": prep.task,
        "inputs": json.dumps(kinds),
        "feature_names": json.dumps(prep.feature_names),
        "classes": json.dumps(prep.classes_),
        "missing": "numbers: NaN; text: an empty string",
        "reading": json.dumps(prep.reading),
    }
