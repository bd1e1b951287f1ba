"""Category embeddings: a column of integer codes becomes a learned vector per category.

For each embedded column ``j`` with ``c_j`` categories and its table ``E_j`` ``(c_j, d)``:

    forward   Y_j = E_j[code_j]                  (a row of the table per sample)
    backward  dE_j[c] = sum of dY_j over the rows whose code is c      (codes: no gradient)

A one-hot column block followed by a dense layer computes the same function with
``c_j`` inputs; the embedding stores ``c_j * d`` numbers instead of ``c_j * units`` and
costs ``d`` columns instead of ``c_j``, which is what makes a column of 50 to 5000
levels affordable (RealMLP-TD embeds columns of more than 9 categories, width 8).
Codes are those :class:`densekit.preprocessing.FeatureEncoder` writes with
``categorical="codes"``: 0 for missing or unknown, ``1..c-1`` for the categories; a
code is rounded to the nearest integer, and one outside ``[0, c)`` reads row 0. The output is the other columns, in their order,
then each embedded column's ``d`` values, in the order of ``columns``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import initializers
from ..errors import ArgumentError, ArgumentTypeError
from ..validation import check_positive_int
from .base import Layer, WeightSpec


class CategoryEmbedding(Layer):
    """Replaces integer-code columns by learned embeddings.

    Parameters
    ----------
    columns
        ``[(index, categories), ...]``: which input columns hold codes and how many
        codes each has (:meth:`FeatureEncoder.embedding_columns` gives this list).
    embedding_dim
        ``d``, each category's vector width.
    embeddings_initializer
        The tables' initializer (Keras' ``Embedding`` default, ``U(-0.05, 0.05)``).
    input_dim
        The number of features, to build the model at construction.
    name
        The layer's name; None lets the model name it.

    Raises
    ------
    ArgumentTypeError
        If ``columns`` is not a list of ``(index, categories)`` pairs.
    ArgumentError
        If an index repeats or a count is not a positive integer.
    """

    def __init__(
        self,
        columns: list,
        embedding_dim: int = 8,
        embeddings_initializer: str | initializers.Initializer = "random_uniform",
        input_dim: int | None = None,
        name: str | None = None,
    ):
        super().__init__(name)
        pairs = []
        if not isinstance(columns, (list, tuple)) or not columns:
            raise ArgumentTypeError(
                f"columns must be a non-empty list of (index, categories), got {columns!r}"
            )
        for entry in columns:
            if not isinstance(entry, (list, tuple)) or len(entry) != 2:
                raise ArgumentTypeError(f"each column must be (index, categories), got {entry!r}")
            index, count = entry
            if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or index < 0:
                raise ArgumentError(f"column index must be an integer >= 0, got {index!r}")
            pairs.append((int(index), check_positive_int("categories", count)))
        if len({i for i, _ in pairs}) != len(pairs):
            raise ArgumentError(f"columns repeat an index: {columns!r}")
        self.columns = pairs
        self.embedding_dim = check_positive_int("embedding_dim", embedding_dim)
        self.embeddings_initializer = initializers.get(embeddings_initializer)
        self.declared_input_dim = (
            None if input_dim is None else check_positive_int("input_dim", input_dim)
        )

    def build(self, input_dim: int) -> int:
        """Fix the input width; the output is the other columns, then the embeddings.

        Parameters
        ----------
        input_dim
            The number of features.

        Returns
        -------
        int
            ``input_dim - len(columns) + len(columns) * embedding_dim``.

        Raises
        ------
        ArgumentError
            If a column index is not below ``input_dim``.
        """
        input_dim = int(input_dim)
        if any(i >= input_dim for i, _ in self.columns):
            raise ArgumentError(
                f"CategoryEmbedding columns {self.columns} go beyond the input's {input_dim} "
                "features"
            )
        self.input_dim = input_dim
        self._coded = np.asarray([i for i, _ in self.columns], dtype=np.int64)
        self._others = np.setdiff1d(np.arange(input_dim), self._coded)
        self.output_dim = len(self._others) + len(self.columns) * self.embedding_dim
        return self.output_dim

    @property
    def other_columns(self) -> np.ndarray:
        """The indices of the input columns passed through first (once built)."""
        return self._others

    def weight_specs(self) -> list[WeightSpec]:
        """One table ``(categories, embedding_dim)`` per embedded column."""
        return [
            WeightSpec(f"embeddings_{j}", (count, self.embedding_dim), self.embeddings_initializer)
            for j, (_, count) in enumerate(self.columns)
        ]

    def _codes(self, x: Any, j: int) -> Any:
        xp = self.backend.xp
        index, count = self.columns[j]
        codes = xp.rint(x[:, index]).astype(np.int64)
        return xp.where((codes >= 0) & (codes < count), codes, 0)

    def forward(self, x: Any, training: bool) -> Any:
        """The other columns, then ``E_j[code_j]`` for each embedded column."""
        xp = self.backend.xp
        batch, n_other, d = x.shape[0], len(self._others), self.embedding_dim
        out = xp.empty((batch, self.output_dim), dtype=x.dtype)
        out[:, :n_other] = x[:, self._others]
        self._code_rows = []
        for j in range(len(self.columns)):
            codes = self._codes(x, j)
            self._code_rows.append(codes)
            out[:, n_other + j * d : n_other + (j + 1) * d] = self.weights[f"embeddings_{j}"][codes]
        self._batch = batch
        return out

    def backward(self, grad: Any, need_input_grad: bool = True) -> Any:
        """Scatter-add each embedding's gradient into its table's rows; codes get none."""
        xp = self.backend.xp
        n_other, d = len(self._others), self.embedding_dim
        for j, codes in enumerate(self._code_rows):
            table = self.grads[f"embeddings_{j}"]
            table[...] = 0
            xp.add.at(table, codes, grad[:, n_other + j * d : n_other + (j + 1) * d])
        if not need_input_grad:
            return None
        dx = xp.zeros((self._batch, self.input_dim), dtype=grad.dtype)
        dx[:, self._others] = grad[:, :n_other]
        return dx

    def get_config(self) -> dict:
        """The constructor's arguments, as JSON."""
        return {
            "name": self.name,
            "columns": [list(pair) for pair in self.columns],
            "embedding_dim": self.embedding_dim,
            "embeddings_initializer": self.embeddings_initializer.get_config(),
            "input_dim": self.declared_input_dim,
        }
