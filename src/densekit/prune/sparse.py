"""Sparse inference: each Dense product dense or CSR, whichever measured faster.

:func:`sparse_inference` times a dense and a CSR product for each Dense layer
on a sample batch and uses CSR only where it measured faster. Measured
break-even (benchmarks/compression.py, one 512x512 kernel, 256 rows, one
thread, NumPy/OpenBLAS float32 vs scipy CSR, a shared 2-core x86 machine):
dense ~0.85 ms at any sparsity; CSR 1.3-1.6 ms at 90%, ~0.86 ms at 94%,
0.79-1.0 ms at 95%, 0.43-0.47 ms at 99%. CSR starts to win at about 95%
sparsity; at the 90% that keeps accuracy it is slower, which is why the choice
is measured per layer and machine, not guessed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ArgumentError, require
from ..layers import Dense
from .checks import check_fraction
from .timing import check_repeats, time_products

if TYPE_CHECKING:
    from ..model import Sequential


class SparseInference:
    """Inference for a pruned model: each Dense product dense or CSR, as measured.

    Parameters
    ----------
    model
        The pruned model (CPU backend).
    sparse_kernels
        Per Dense layer that uses CSR, its kernel transposed ``(units, inputs)``.
    choices
        Per Dense layer: its sparsity, the measured dense and sparse times
        (seconds per call on the sample) and whether CSR is used.
    """

    def __init__(self, model: Sequential, sparse_kernels: dict[str, Any], choices: list[dict]):
        self.model = model
        self.sparse_kernels = sparse_kernels  # layer name -> CSR of kernel.T (units, inputs)
        self.choices = choices

    def _dense_forward(self, layer: Dense, x: np.ndarray) -> np.ndarray:
        csr_t = self.sparse_kernels.get(layer.name)
        if csr_t is None:
            z = x @ layer.kernel
        else:
            z = np.ascontiguousarray((csr_t @ x.T).T)
        if layer.use_bias:
            z += layer.bias
        return layer.activation.forward(np, z)

    def predict(self, x: Any, batch_size: int | None = None) -> np.ndarray:
        """Outputs of the model for ``x``, in batches, with the chosen products.

        Parameters
        ----------
        x
            Inputs ``(rows, features)``.
        batch_size
            Rows per batch (1024 by default).

        Returns
        -------
        ndarray
            The model's outputs.
        """
        from ..validation import check_batch_size, check_x

        model = self.model
        x = check_x(x, model.dtype, model.input_dim)
        batch_size = check_batch_size(batch_size, 1024)
        out = []
        for start in range(0, len(x), batch_size):
            signal = x[start : start + batch_size]
            for layer in model.layers:
                if isinstance(layer, Dense):
                    signal = self._dense_forward(layer, signal)
                else:
                    signal = layer.forward(signal, False)
            out.append(np.array(signal, copy=True))
        return np.concatenate(out)  # check_x guarantees at least one row


def sparse_inference(
    model: Sequential, x_sample: Any, repeats: int = 5, min_sparsity: float = 0.5
) -> SparseInference:
    """Time dense vs CSR products per Dense layer on ``x_sample``; use CSR where faster.

    Parameters
    ----------
    model
        A built model on the CPU backend.
    x_sample
        A typical batch of inputs.
    repeats
        Timed runs of each product.
    min_sparsity
        Layers below this sparsity are not timed (CSR cannot win there).

    Returns
    -------
    SparseInference
        The model with its per-layer choices.

    Raises
    ------
    ArgumentError
        If the model is not on the CPU backend or an argument is out of range.
    MissingDependencyError
        If scipy is not installed.
    """
    from ..validation import check_x

    repeats = check_repeats(repeats)
    min_sparsity = check_fraction("min_sparsity", min_sparsity, allow_one=True)
    sparse = require("scipy.sparse", "sklearn", "sparse inference")
    model.require_built("run sparse inference")
    if model.backend.xp is not np:
        raise ArgumentError("sparse inference runs on the CPU backend only")
    signal = check_x(x_sample, model.dtype, model.input_dim)
    sparse_kernels, choices = {}, []
    for layer in model.layers:
        if isinstance(layer, Dense):
            kernel = np.asarray(layer.kernel)
            zero_fraction = float((kernel == 0).mean())
            choice = {"layer": layer.name, "sparsity": zero_fraction, "sparse": False}
            if zero_fraction >= min_sparsity:
                dense_time, sparse_time = time_products(kernel, signal, repeats)
                choice.update(dense_seconds=dense_time, sparse_seconds=sparse_time)
                if sparse_time < dense_time:
                    choice["sparse"] = True
                    sparse_kernels[layer.name] = sparse.csr_matrix(np.ascontiguousarray(kernel.T))
            choices.append(choice)
        signal = np.array(layer.forward(signal, False), copy=True)
    return SparseInference(model, sparse_kernels, choices)
