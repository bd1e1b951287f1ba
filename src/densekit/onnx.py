"""ONNX export: a Sequential as an ONNX graph any ONNX runtime can serve.

Each layer becomes the ops that compute the same formula at inference:

    Dense                 Gemm(x, W, b)                 y = x @ W + b
    activation            the matching op (Relu, LeakyRelu(alpha), Elu(alpha), Sigmoid,
                          Tanh, Softmax(axis=1), Softplus); swish as x * Sigmoid(x);
                          exact gelu as 0.5 x (1 + Erf(x / sqrt 2)) (opset 20+: Gelu)
    Dropout               nothing (the identity at inference)
    BatchNormalization    BatchNormalization(gamma, beta, moving_mean, moving_variance, eps)
    Normalization         (x - mean) / sqrt(variance)  as Sub, Div
    Scale                 Mul(x, s)
    CategoryEmbedding     Gather of the other columns; per coded column Round, Cast, Where, Gather
    PeriodicEmbedding     Gather, Unsqueeze, Mul, Add, Cos, MatMul per feature, Concat, Reshape
    BatchEnsembleDense    Reshape to (batch, k, n), Mul(r), MatMul(W), Mul(s), Add(b), Reshape

The batch dimension is symbolic (``batch``), so one file serves any batch size.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import ArgumentError, ArgumentTypeError, require
from .serialization.safetensors import atomic_write

if TYPE_CHECKING:
    from .activations import Activation
    from .layers import Layer
    from .model import Sequential

INPUT_NAME = "input"
OUTPUT_NAME = "output"
MIN_OPSET = 17


def export_onnx(model: Sequential, path: str | Path, opset: int = MIN_OPSET) -> None:
    """Write ``model`` to ``path`` as an ONNX file, checked by ``onnx.checker``.

    The file is written to a temporary name and renamed into place, so a failure never
    leaves a half-written file. Needs the ``onnx`` extra.

    Parameters
    ----------
    model
        A built :class:`~densekit.Sequential`.
    path
        Where to write the ``.onnx`` file.
    opset
        The ONNX opset, from :data:`MIN_OPSET` to the newest the installed ``onnx`` writes.

    Examples
    --------
    >>> dk.export_onnx(model, "model.onnx")
    >>> import onnxruntime
    >>> session = onnxruntime.InferenceSession("model.onnx")
    >>> outputs = session.run(None, {"input": x.astype("float32")})[0]
    >>> bool(np.allclose(outputs, model.predict(x), atol=1e-5))
    True
    """
    onnx = require("onnx", "onnx", "ONNX export")
    proto = to_onnx(model, opset=opset)
    onnx.checker.check_model(proto, full_check=True)
    atomic_write(path, [proto.SerializeToString()])


def to_onnx(model: Sequential, opset: int = MIN_OPSET) -> Any:
    """The ``onnx.ModelProto`` of a built :class:`~densekit.Sequential`.

    Parameters
    ----------
    model
        The model; its batch dimension becomes the symbolic ``batch``.
    opset
        The ONNX opset, from :data:`MIN_OPSET` to the newest the installed ``onnx`` writes.

    Returns
    -------
    onnx.ModelProto
        The model, with the lowest IR version that carries ``opset``.

    Raises
    ------
    ArgumentTypeError
        If ``model`` is not a :class:`~densekit.Sequential`.
    ArgumentError
        If ``opset`` is out of range.
    """
    onnx = require("onnx", "onnx", "ONNX export")
    from onnx import TensorProto, helper

    from .model import Sequential

    if not isinstance(model, Sequential):
        raise ArgumentTypeError(f"export_onnx takes a densekit Sequential, got {model!r}")
    model.require_built("export to ONNX")
    newest = onnx.defs.onnx_opset_version()  # what the installed onnx can write
    if isinstance(opset, bool) or not isinstance(opset, int) or not MIN_OPSET <= opset <= newest:
        raise ArgumentError(f"opset must be an integer from {MIN_OPSET} to {newest}, got {opset!r}")
    element_type = TensorProto.FLOAT if model.dtype == np.float32 else TensorProto.DOUBLE
    graph = Graph(model.dtype, opset)
    name = INPUT_NAME
    for layer in model.layers:
        name = graph.add_layer(layer, name)
    graph.nodes.append(helper.make_node("Identity", [name], [OUTPUT_NAME], name="output"))
    onnx_graph = helper.make_graph(
        graph.nodes,
        model.name,
        [helper.make_tensor_value_info(INPUT_NAME, element_type, ["batch", model.input_dim])],
        [helper.make_tensor_value_info(OUTPUT_NAME, element_type, ["batch", model.output_dim])],
        initializer=graph.initializers,
    )
    proto = helper.make_model(
        onnx_graph,
        opset_imports=[helper.make_opsetid("", opset)],
        producer_name="densekit",
        doc_string=f"densekit Sequential {model.name!r}",
    )
    # the lowest IR version that carries this opset, so older runtimes can load the file
    proto.ir_version = helper.find_min_ir_version_for(list(proto.opset_import))
    return proto


class Graph:
    """Nodes and initializers, with unique names, built layer by layer.

    Parameters
    ----------
    dtype
        The model's dtype, which every constant takes.
    opset
        The target opset (from 20, exact GELU is one ``Gelu`` op).
    """

    def __init__(self, dtype: np.typing.DTypeLike, opset: int):
        from onnx import helper, numpy_helper

        self.helper, self.numpy_helper = helper, numpy_helper
        self.dtype = np.dtype(dtype)
        self.opset = opset
        self.double = self.dtype == np.float64
        self.nodes: list = []
        self.initializers: list = []
        self._count = 0

    def fresh(self, stem: str) -> str:
        """A name not used before in this graph: ``stem`` and a counter.

        Parameters
        ----------
        stem
            The name's readable part (``"dense/kernel"``).

        Returns
        -------
        str
            ``stem_<n>``.
        """
        self._count += 1
        return f"{stem}_{self._count}"

    def constant(self, stem: str, value: Any) -> str:
        """Add ``value`` as an initializer of the graph's dtype.

        Parameters
        ----------
        stem
            The name's readable part.
        value
            The array or number.

        Returns
        -------
        str
            The initializer's name.
        """
        name = self.fresh(stem)
        array = np.asarray(value, dtype=self.dtype)
        self.initializers.append(self.numpy_helper.from_array(array, name))
        return name

    def op(self, op_type: str, inputs: list[str], stem: str, **attributes) -> str:
        """Add one node of ``op_type``.

        Parameters
        ----------
        op_type
            The ONNX operator (``"Gemm"``, ``"Relu"``).
        inputs
            The names of its inputs.
        stem
            Its output's readable name.
        **attributes
            The operator's attributes (``alpha=0.2``).

        Returns
        -------
        str
            The name of its output.
        """
        output = self.fresh(stem)
        self.nodes.append(
            self.helper.make_node(op_type, inputs, [output], name=output, **attributes)
        )
        return output

    # --- layers ---------------------------------------------------------------------
    def add_layer(self, layer: Layer, x: str) -> str:
        """Add the nodes that compute ``layer`` at inference, reading ``x``.

        Parameters
        ----------
        layer
            A Dense, Activation, Dropout, BatchNormalization or Normalization layer.
        x
            The name of the layer's input.

        Returns
        -------
        str
            The name of the layer's output.

        Raises
        ------
        ArgumentError
            If the layer's type has no export.
        """
        kind = type(layer).__name__
        adder = getattr(self, f"_add_{kind}", None)
        if adder is None:
            raise ArgumentError(
                f"layer {layer.name!r} of type {kind} has no ONNX export; supported: "
                "Dense, Activation, Dropout, BatchNormalization, Normalization, Scale, "
                "PeriodicEmbedding, BatchEnsembleDense, CategoryEmbedding"
            )
        return adder(layer, x)

    def integers(self, stem: str, values: Any) -> str:
        """Add an int64 initializer (shapes, axes, indices).

        Parameters
        ----------
        stem
            The name's readable part.
        values
            The integers.

        Returns
        -------
        str
            The initializer's name.
        """
        name = self.fresh(stem)
        array = np.asarray(values, dtype=np.int64)
        self.initializers.append(self.numpy_helper.from_array(array, name))
        return name

    def _add_Scale(self, layer, x: str) -> str:
        scale = layer.backend.to_numpy(layer.scale)
        return self.op("Mul", [x, self.constant(f"{layer.name}/scale", scale)], layer.name)

    def _add_PeriodicEmbedding(self, layer, x: str) -> str:
        stem = layer.name
        w = {k: layer.backend.to_numpy(v).astype(np.float64) for k, v in layer.weights.items()}
        embedded, others = layer.embedded_columns, layer.other_columns
        n_e, width = len(embedded), layer.embedding_dim
        xe = x
        if len(others):
            xe = self.op("Gather", [x, self.integers(f"{stem}/columns", embedded)], stem, axis=1)
        column = self.op("Unsqueeze", [xe, self.integers(f"{stem}/axis2", [2])], stem)
        freq = self.constant(f"{stem}/frequencies", 2.0 * math.pi * w["frequencies"])
        v = self.op("Mul", [column, freq], f"{stem}/v")
        v = self.op("Add", [v, self.constant(f"{stem}/phases", w["phases"])], f"{stem}/v")
        c = self.op("Cos", [v], f"{stem}/cos")
        c = self.op("Transpose", [c], f"{stem}/cos_t", perm=[1, 0, 2])
        z = self.op("MatMul", [c, self.constant(f"{stem}/kernel", w["kernel"])], f"{stem}/z")
        z = self.op("Transpose", [z], f"{stem}/z_t", perm=[1, 0, 2])
        z = self.op("Add", [z, self.constant(f"{stem}/bias", w["bias"])], f"{stem}/z")
        h = self.add_activation(layer.activation, z, stem)
        if layer.include_input:
            h = self.op("Concat", [column, h], f"{stem}/blocks", axis=2)
        shape = self.integers(f"{stem}/shape", [0, n_e * width])
        out = self.op("Reshape", [h, shape], f"{stem}/embedded")
        if len(others):
            rest = self.op("Gather", [x, self.integers(f"{stem}/others", others)], stem, axis=1)
            out = self.op("Concat", [out, rest], f"{stem}/y", axis=1)
        return out

    def _add_CategoryEmbedding(self, layer, x: str) -> str:
        from onnx import TensorProto

        stem = layer.name
        parts = []
        if len(layer.other_columns):
            others = self.integers(f"{stem}/others", layer.other_columns)
            parts.append(self.op("Gather", [x, others], f"{stem}/others", axis=1))
        for j, (index, count) in enumerate(layer.columns):
            column = self.op("Gather", [x, self.integers(f"{stem}/column", index)], stem, axis=1)
            rounded = self.op("Round", [column], f"{stem}/round")
            codes = self.op("Cast", [rounded], f"{stem}/codes", to=TensorProto.INT64)
            low = self.op("GreaterOrEqual", [codes, self.integers(stem, 0)], stem)
            high = self.op("Less", [codes, self.integers(stem, count)], stem)
            valid = self.op("And", [low, high], stem)
            codes = self.op("Where", [valid, codes, self.integers(stem, 0)], f"{stem}/codes")
            table = layer.backend.to_numpy(layer.weights[f"embeddings_{j}"])
            table = self.constant(f"{stem}/embeddings_{j}", table)
            parts.append(self.op("Gather", [table, codes], f"{stem}/embedded", axis=0))
        if len(parts) == 1:
            return parts[0]
        return self.op("Concat", parts, f"{stem}/y", axis=1)

    def _add_BatchEnsembleDense(self, layer, x: str) -> str:
        stem = layer.name
        k, n, m = layer.members, layer.features, layer.units
        w = {name: layer.backend.to_numpy(v) for name, v in layer.weights.items()}
        if layer.shared_input:
            x3 = self.op("Unsqueeze", [x, self.integers(f"{stem}/axis1", [1])], stem)
        else:
            x3 = self.op("Reshape", [x, self.integers(f"{stem}/members", [0, k, n])], stem)
        u = self.op("Mul", [x3, self.constant(f"{stem}/adapter", w["adapter"])], f"{stem}/u")
        t = self.op("MatMul", [u, self.constant(f"{stem}/kernel", w["kernel"])], f"{stem}/t")
        z = self.op("Mul", [t, self.constant(f"{stem}/scale", w["scale"])], f"{stem}/zs")
        z = self.op("Add", [z, self.constant(f"{stem}/bias", w["bias"])], f"{stem}/z")
        a = self.add_activation(layer.activation, z, stem)
        return self.op("Reshape", [a, self.integers(f"{stem}/flat", [0, k * m])], f"{stem}/y")

    def _add_Dense(self, layer, x: str) -> str:
        stem = layer.name
        kernel = self.constant(f"{stem}/kernel", layer.backend.to_numpy(layer.kernel))
        inputs = [x, kernel]
        if layer.use_bias:
            inputs.append(self.constant(f"{stem}/bias", layer.backend.to_numpy(layer.bias)))
        z = self.op("Gemm", inputs, f"{stem}/z")
        return self.add_activation(layer.activation, z, stem)

    def _add_Dropout(self, layer, x: str) -> str:
        return x

    def _add_Activation(self, layer, x: str) -> str:
        return self.add_activation(layer.activation, x, layer.name)

    def _add_BatchNormalization(self, layer, x: str) -> str:
        stem = layer.name
        weights = {k: layer.backend.to_numpy(v) for k, v in layer.weights.items()}
        width = layer.output_dim
        gamma = weights["gamma"] if layer.scale else np.ones(width)
        beta = weights["beta"] if layer.center else np.zeros(width)
        inputs = [
            x,
            self.constant(f"{stem}/gamma", gamma),
            self.constant(f"{stem}/beta", beta),
            self.constant(f"{stem}/moving_mean", weights["moving_mean"]),
            self.constant(f"{stem}/moving_variance", weights["moving_variance"]),
        ]
        return self.op("BatchNormalization", inputs, f"{stem}/y", epsilon=float(layer.epsilon))

    def _add_Normalization(self, layer, x: str) -> str:
        stem = layer.name
        mean = layer.backend.to_numpy(layer.weights["mean"])
        std = np.sqrt(layer.backend.to_numpy(layer.weights["variance"]).astype(np.float64))
        centered = self.op("Sub", [x, self.constant(f"{stem}/mean", mean)], f"{stem}/centered")
        return self.op("Div", [centered, self.constant(f"{stem}/std", std)], f"{stem}/y")

    # --- activations ------------------------------------------------------------------
    def add_activation(self, activation: Activation, z: str, stem: str) -> str:
        """Add the nodes of ``activation`` applied to ``z``.

        Parameters
        ----------
        activation
            The activation, whose name and parameters choose the op.
        z
            The name of its input.
        stem
            The layer's name, for the nodes' names.

        Returns
        -------
        str
            The name of its output (``z`` itself for ``linear``).

        Raises
        ------
        ArgumentError
            If the activation has no export.
        """
        name, params = activation.name, activation.params
        simple = {"relu": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh", "softplus": "Softplus"}
        if name == "linear":
            return z
        if self.double and name in ("leaky_relu", "elu", "softplus"):
            return self._double_activation(name, params, z, stem)
        if name in simple:
            return self.op(simple[name], [z], f"{stem}/{name}")
        if name == "leaky_relu":
            return self.op(
                "LeakyRelu", [z], f"{stem}/leaky_relu", alpha=float(params["negative_slope"])
            )
        if name == "elu":
            return self.op("Elu", [z], f"{stem}/elu", alpha=float(params["alpha"]))
        if name == "softmax":
            return self.op("Softmax", [z], f"{stem}/softmax", axis=1)
        if name == "swish":
            gate = self.op("Sigmoid", [z], f"{stem}/swish_gate")
            return self.op("Mul", [z, gate], f"{stem}/swish")
        if name == "gelu":
            return self._gelu(z, stem)
        raise ArgumentError(
            f"activation {name!r} of layer {stem!r} has no ONNX export; supported: relu, "
            "leaky_relu, elu, gelu, sigmoid, tanh, softmax, softplus, swish, linear"
        )

    def _double_activation(self, name: str, params: dict, z: str, stem: str) -> str:
        """float64 forms from basic ops (onnxruntime has no float64 LeakyRelu, Elu, Softplus)."""
        zero = self.constant(f"{stem}/zero", 0.0)
        positive = self.op("Greater", [z, zero], f"{stem}/positive")
        if name == "leaky_relu":
            slope = self.constant(f"{stem}/slope", params["negative_slope"])
            negative = self.op("Mul", [z, slope], f"{stem}/negative_part")
        elif name == "elu":
            # alpha (exp(min(z, 0)) - 1)
            clipped = self.op("Min", [z, zero], f"{stem}/min0")
            expm1 = self.op(
                "Sub",
                [self.op("Exp", [clipped], f"{stem}/exp"), self.constant(f"{stem}/one", 1.0)],
                f"{stem}/expm1",
            )
            negative = self.op(
                "Mul", [expm1, self.constant(f"{stem}/alpha", params["alpha"])], f"{stem}/neg"
            )
        else:
            # softplus: max(z, 0) + log(1 + exp(-|z|))
            decay = self.op("Exp", [self.op("Neg", [self.op("Abs", [z], stem)], stem)], stem)
            log1p = self.op("Log", [self.op("Add", [decay, self.constant(stem, 1.0)], stem)], stem)
            return self.op("Add", [self.op("Relu", [z], stem), log1p], f"{stem}/softplus")
        return self.op("Where", [positive, z, negative], f"{stem}/{name}")

    def _gelu(self, z: str, stem: str) -> str:
        """Exact GELU: z * Phi(z) = 0.5 z (1 + erf(z / sqrt 2)) (never the tanh approximation).

        onnxruntime has Erf for float32 only, so a float64 model takes erf in float32.
        """
        if self.opset >= 20 and not self.double:
            return self.op("Gelu", [z], f"{stem}/gelu", approximate="none")
        scaled = self.op("Mul", [z, self.constant(f"{stem}/rsqrt2", 1.0 / math.sqrt(2.0))], stem)
        if self.double:
            from onnx import TensorProto

            as_float = self.op("Cast", [scaled], f"{stem}/to_float", to=TensorProto.FLOAT)
            erf32 = self.op("Erf", [as_float], f"{stem}/erf32")
            erf = self.op("Cast", [erf32], f"{stem}/erf", to=TensorProto.DOUBLE)
        else:
            erf = self.op("Erf", [scaled], f"{stem}/erf")
        cdf = self.op("Add", [erf, self.constant(f"{stem}/one", 1.0)], f"{stem}/erf_plus_1")
        half_z = self.op("Mul", [z, self.constant(f"{stem}/half", 0.5)], f"{stem}/half_z")
        return self.op("Mul", [half_z, cdf], f"{stem}/gelu")
