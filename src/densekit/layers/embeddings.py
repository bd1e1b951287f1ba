"""Periodic number embeddings: each number becomes a small vector (RealMLP's PBLD, TabM's).

For each embedded feature ``x_j`` with its own frequencies ``w_j`` ``(f,)``, phases
``b_j`` ``(f,)``, linear map ``L_j`` ``(f, d')`` and bias ``c_j`` ``(d',)``:

    forward   V_j = 2 pi x_j w_j + b_j     C_j = cos(V_j)     H_j = g(C_j @ L_j + c_j)
              E_j = [x_j, H_j]   (with include_input: "densenet"-style, x_j kept beside H_j)
    backward  dH_j -> dZ_j = dH_j * g'          dL_j = C_j.T @ dZ_j      dc_j = sum_rows dZ_j
              dC_j = dZ_j @ L_j.T     dV_j = -sin(V_j) * dC_j
              dw_j = 2 pi sum_rows dV_j x_j      db_j = sum_rows dV_j
              dx_j = 2 pi dV_j . w_j (+ dE_j's first column with include_input)

Gorishniy, Rubachev & Babenko ("On Embeddings for Numerical Features in Tabular Deep
Learning", 2022) introduced periodic embeddings with ``g = relu`` (PLR); RealMLP-TD
(Holzmüller et al., 2024) uses them with the phases, no activation and the input kept
(PBLD), frequencies drawn from ``N(0, sigma^2)`` with ``sigma = 0.1``: a table's
standardized features vary on a scale of 1, so most frequencies start slow and the
embedding starts close to a linear function of ``x``. The output is
``(batch, len(columns) * embedding_dim + (others))``: each embedded column's block, in
the order of ``columns``, then the other columns unchanged (one-hot columns, say).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import activations, initializers
from ..errors import ArgumentError, ArgumentTypeError
from ..validation import check_bool, check_number, check_positive_int
from .base import Layer, WeightSpec

TWO_PI = 2.0 * math.pi


class PeriodicEmbedding(Layer):
    """Embeds each chosen number as ``[x, g(cos(2 pi x w + b) @ L + c)]``.

    Parameters
    ----------
    frequencies
        ``f``, the number of frequencies per feature (RealMLP: 16).
    embedding_dim
        The width each embedded feature becomes (RealMLP: 4), counting ``x`` itself
        with ``include_input``.
    sigma
        The frequencies' initial standard deviation.
    columns
        The indices of the features to embed; None embeds every feature.
    include_input
        Keep ``x_j`` as the first entry of its embedding.
    activation
        ``g``; None (linear, PBLD) or ``"relu"`` (PLR).
    input_dim
        The number of features, to build the model at construction.
    name
        The layer's name; None lets the model name it.

    Raises
    ------
    ArgumentError
        If a number is out of range, ``columns`` repeats an index, or ``embedding_dim``
        leaves no room for the periodic part.
    ArgumentTypeError
        If ``columns`` is not a list of integers.
    """

    def __init__(
        self,
        frequencies: int = 16,
        embedding_dim: int = 4,
        sigma: float = 0.1,
        columns: list[int] | None = None,
        include_input: bool = True,
        activation: str | activations.Activation | None = None,
        input_dim: int | None = None,
        name: str | None = None,
    ):
        super().__init__(name)
        self.declared_input_dim = (
            None if input_dim is None else check_positive_int("input_dim", input_dim)
        )
        self.frequencies = check_positive_int("frequencies", frequencies)
        self.embedding_dim = check_positive_int("embedding_dim", embedding_dim)
        self.sigma = check_number("sigma", sigma, 0.0, open_low=True)
        self.include_input = check_bool("include_input", include_input)
        if self.include_input and self.embedding_dim < 2:
            raise ArgumentError(
                f"embedding_dim must be >= 2 with include_input=True (x plus at least one "
                f"periodic feature), got {embedding_dim}"
            )
        self.activation = activations.get(activation)
        if self.activation.name == "softmax":
            raise ArgumentError("PeriodicEmbedding's activation must act elementwise, not softmax")
        if columns is not None:
            if not isinstance(columns, (list, tuple)) or not all(
                isinstance(c, (int, np.integer)) and not isinstance(c, bool) for c in columns
            ):
                raise ArgumentTypeError(f"columns must be a list of integers, got {columns!r}")
            columns = [int(c) for c in columns]
            if len(set(columns)) != len(columns) or any(c < 0 for c in columns):
                raise ArgumentError(f"columns must be distinct indices >= 0, got {columns}")
        self.columns = columns

    @property
    def periodic_dim(self) -> int:
        """``d'``, the width of ``H_j``."""
        return self.embedding_dim - 1 if self.include_input else self.embedding_dim

    def build(self, input_dim: int) -> int:
        """Fix the input width; the output is the embedded blocks, then the other columns.

        Parameters
        ----------
        input_dim
            The number of features.

        Returns
        -------
        int
            ``len(columns) * embedding_dim + input_dim - len(columns)``.

        Raises
        ------
        ArgumentError
            If a column index is not below ``input_dim``.
        """
        input_dim = int(input_dim)
        columns = list(range(input_dim)) if self.columns is None else self.columns
        if any(c >= input_dim for c in columns):
            raise ArgumentError(
                f"PeriodicEmbedding columns {columns} go beyond the input's {input_dim} features"
            )
        self.input_dim = input_dim
        self._embedded = np.asarray(columns, dtype=np.int64)
        self._others = np.setdiff1d(np.arange(input_dim), self._embedded)
        self._all = self.columns is None
        self.output_dim = len(columns) * self.embedding_dim + len(self._others)
        return self.output_dim

    @property
    def embedded_columns(self) -> np.ndarray:
        """The indices of the embedded features, in output order (once built)."""
        return self._embedded

    @property
    def other_columns(self) -> np.ndarray:
        """The indices of the features passed through after the embeddings (once built)."""
        return self._others

    def weight_specs(self) -> list[WeightSpec]:
        """Frequencies and phases ``(n_e, f)``, the maps ``(n_e, f, d')`` and biases ``(n_e, d')``."""
        n, f, d = len(self._embedded), self.frequencies, self.periodic_dim
        limit = 1.0 / math.sqrt(f)  # PyTorch's Linear default for a fan-in of f
        return [
            WeightSpec("frequencies", (n, f), initializers.RandomNormal(0.0, self.sigma)),
            WeightSpec("phases", (n, f), initializers.RandomUniform(-math.pi, math.pi)),
            WeightSpec("kernel", (n, f, d), initializers.RandomUniform(-limit, limit)),
            WeightSpec("bias", (n, d), initializers.RandomUniform(-limit, limit)),
        ]

    def forward(self, x: Any, training: bool) -> Any:
        """Each embedded column's ``[x_j, H_j]``, then the other columns."""
        xp = self.backend.xp
        w = self.weights
        batch = x.shape[0]
        xe = x if self._all else x[:, self._embedded]
        v = xe[:, :, None] * (TWO_PI * w["frequencies"])
        v += w["phases"]
        c = xp.cos(v)
        z = xp.matmul(c.transpose(1, 0, 2), w["kernel"]).transpose(1, 0, 2)  # (B, n_e, d')
        z += w["bias"]
        h = self.activation.forward(xp, z)
        n_e = xe.shape[1]
        out = xp.empty((batch, self.output_dim), dtype=x.dtype)
        blocks = out[:, : n_e * self.embedding_dim].reshape(batch, n_e, self.embedding_dim)
        if self.include_input:
            blocks[:, :, 0] = xe
            blocks[:, :, 1:] = h
        else:
            blocks[...] = h
        if len(self._others):
            out[:, n_e * self.embedding_dim :] = x[:, self._others]
        self._xe, self._v, self._c, self._z, self._h = xe, v, c, z, h
        return out

    def backward(self, grad: Any, need_input_grad: bool = True) -> Any:
        """The weights' gradients and ``dL/dx`` (module docstring)."""
        xp = self.backend.xp
        w, g = self.weights, self.grads
        batch, n_e = self._xe.shape
        blocks = grad[:, : n_e * self.embedding_dim].reshape(batch, n_e, self.embedding_dim)
        dh = blocks[:, :, 1:] if self.include_input else blocks
        dz = self.activation.backward(xp, self._z, self._h, xp.array(dh))
        xp.sum(dz, axis=0, out=g["bias"])
        dz_t = dz.transpose(1, 0, 2)  # (n_e, B, d')
        xp.matmul(self._c.transpose(1, 2, 0), dz_t, out=g["kernel"])
        dc = xp.matmul(dz_t, w["kernel"].transpose(0, 2, 1)).transpose(1, 0, 2)  # (B, n_e, f)
        dv = -xp.sin(self._v)
        dv *= dc
        xp.sum(dv, axis=0, out=g["phases"])
        xp.sum(dv * self._xe[:, :, None], axis=0, out=g["frequencies"])
        g["frequencies"] *= TWO_PI
        if not need_input_grad:
            return None
        dxe = (dv * w["frequencies"]).sum(axis=2)
        dxe *= TWO_PI
        if self.include_input:
            dxe += blocks[:, :, 0]
        if self._all:
            return dxe
        dx = xp.zeros((batch, self.input_dim), dtype=grad.dtype)
        dx[:, self._embedded] = dxe
        if len(self._others):
            dx[:, self._others] = grad[:, n_e * self.embedding_dim :]
        return dx

    def get_config(self) -> dict:
        """The constructor's arguments, as JSON."""
        return {
            "name": self.name,
            "frequencies": self.frequencies,
            "embedding_dim": self.embedding_dim,
            "sigma": self.sigma,
            "columns": self.columns,
            "include_input": self.include_input,
            "activation": self.activation.get_config(),
            "input_dim": self.declared_input_dim,
        }
