"""Inference runners for one trained-shape network: densekit, PyTorch and onnxruntime.

All three compute softmax(relu(relu(x W1 + b1) W2 + b2) W3 + b3) (or a linear output for
regression) from the same weights; `reference()` is that formula in float64 NumPy, to check
they agree before they are timed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
from peers import blas_threads, build_densekit, build_torch, import_densekit, torch_threads


def reference(x: np.ndarray, weights: list[np.ndarray], task: str) -> np.ndarray:
    """The forward pass in float64: A = relu(A @ W + b) per hidden layer."""
    a = x.astype(np.float64)
    for i in range(0, len(weights), 2):
        a = a @ weights[i].astype(np.float64) + weights[i + 1]
        if i < len(weights) - 2:
            a = np.maximum(a, 0.0)
    if task == "classification":
        a = np.exp(a - a.max(axis=1, keepdims=True))
        a /= a.sum(axis=1, keepdims=True)
    return a


class DensekitPredictor:
    name = "densekit"

    def __init__(self, sizes, weights, task: str) -> None:
        dk, reason = import_densekit()
        if dk is None:
            raise ImportError(f"densekit: not importable ({reason})")
        self.model = build_densekit(dk, sizes, task)
        self.model.set_weights(weights)

    def threads(self, t: int):
        return blas_threads(t)

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.model.predict(x, batch_size=len(x), verbose=0)


class TorchPredictor:
    name = "pytorch"

    def __init__(self, sizes, weights, task: str) -> None:
        import torch

        self.torch = torch
        softmax = task == "classification"
        self.model = build_torch(torch, sizes, weights, softmax=softmax).eval()

    def threads(self, t: int):
        return torch_threads(self.torch, t)

    def predict(self, x: np.ndarray) -> np.ndarray:
        with self.torch.inference_mode():
            return self.model(self.torch.from_numpy(x)).numpy()


def onnx_graph(weights: list[np.ndarray], task: str, opset: int = 17):
    """An ONNX model of the network: Gemm + Relu per hidden layer, Gemm (+ Softmax) last."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    nodes, initializers, current = [], [], "x"
    n_layers = len(weights) // 2
    for i in range(n_layers):
        kernel, bias = f"W{i}", f"b{i}"
        initializers += [
            numpy_helper.from_array(weights[2 * i], kernel),
            numpy_helper.from_array(weights[2 * i + 1], bias),
        ]
        last = i == n_layers - 1
        z = "y" if last and task != "classification" else f"z{i}"
        nodes.append(helper.make_node("Gemm", [current, kernel, bias], [z]))
        if not last:
            current = f"a{i}"
            nodes.append(helper.make_node("Relu", [z], [current]))
        elif task == "classification":
            nodes.append(helper.make_node("Softmax", [z], ["y"], axis=-1))
    n_in, n_out = weights[0].shape[0], weights[-1].shape[0]
    graph = helper.make_graph(
        nodes,
        "dense",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", n_in])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", n_out])],
        initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    onnx.checker.check_model(model)
    return model


class OnnxPredictor:
    name = "onnxruntime"

    def __init__(self, sizes, weights, task: str) -> None:
        import onnxruntime

        self.ort = onnxruntime
        self.model_bytes = onnx_graph(weights, task).SerializeToString()
        self.sessions = {}
        self.session = self._session(1)

    def _session(self, t: int):
        # intra-op threads are fixed when a session is made: one session per thread count
        if t not in self.sessions:
            options = self.ort.SessionOptions()
            options.intra_op_num_threads = t
            options.inter_op_num_threads = 1
            options.graph_optimization_level = self.ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            self.sessions[t] = self.ort.InferenceSession(
                self.model_bytes, options, providers=["CPUExecutionProvider"]
            )
        return self.sessions[t]

    @contextlib.contextmanager
    def threads(self, t: int) -> Iterator[None]:
        self.session = self._session(t)
        with blas_threads(t):
            yield

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.session.run(None, {"x": x})[0]


PREDICTORS = {cls.name: cls for cls in (DensekitPredictor, TorchPredictor, OnnxPredictor)}
