"""The benchmark workloads of issue 3 and their synthetic data.

Every competitor trains the same network on the same float32 arrays, made from a fixed seed,
starting from the same Glorot-uniform weights.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DATA_SEED = 0
WEIGHT_SEED = 1


@dataclass(frozen=True)
class Workload:
    """A dense network (layer widths, input first), a data size and a batch size."""

    name: str
    sizes: tuple[int, ...]
    rows: int
    batch: int
    task: str  # "regression" (MSE, linear output) or "classification" (softmax CE)
    sklearn: bool = True  # issue 3's table leaves scikit-learn out of `wide`

    @property
    def params(self) -> int:
        """Parameter count: sum of n*m + m over the layers."""
        return sum(n * m + m for n, m in zip(self.sizes[:-1], self.sizes[1:], strict=True))

    @property
    def flops_per_epoch(self) -> float:
        """About 6 x params x rows: 2 for the forward product, 4 for the two backward ones."""
        return 6.0 * self.params * self.rows

    @property
    def shape(self) -> str:
        return "-".join(str(s) for s in self.sizes)


WORKLOADS = {
    w.name: w
    for w in [
        Workload("tiny", (8, 16, 1), 10_000, 32, "regression"),
        Workload("tabular", (20, 64, 64, 2), 50_000, 256, "classification"),
        Workload("mnist-shape", (784, 256, 128, 10), 60_000, 128, "classification"),
        Workload("wide", (1024, 4096, 4096, 1024), 8_000, 512, "regression", sklearn=False),
    ]
}

# --quick: the same names and tasks, sizes small enough for a CI smoke test.
QUICK_WORKLOADS = {
    w.name: w
    for w in [
        Workload("tiny", (8, 16, 1), 1_000, 32, "regression"),
        Workload("tabular", (20, 64, 64, 2), 2_048, 256, "classification"),
        Workload("mnist-shape", (784, 256, 128, 10), 1_024, 128, "classification"),
        Workload("wide", (256, 512, 512, 256), 1_024, 512, "regression", sklearn=False),
    ]
}


def make_data(workload: Workload, seed: int = DATA_SEED) -> tuple[np.ndarray, np.ndarray]:
    """Inputs x (rows, n) float32 and targets from a random teacher network.

    Regression targets are float32 of shape (rows, outputs); class labels are int64 of shape
    (rows,), the argmax of the teacher's logits.
    """
    rng = np.random.default_rng(seed)
    n_in, n_out = workload.sizes[0], workload.sizes[-1]
    x = rng.standard_normal((workload.rows, n_in), dtype=np.float32)
    hidden = min(64, workload.sizes[1])
    teacher_in = rng.standard_normal((n_in, hidden), dtype=np.float32) / np.sqrt(n_in)
    teacher_out = rng.standard_normal((hidden, n_out), dtype=np.float32) / np.sqrt(hidden)
    y = np.tanh(x @ teacher_in) @ teacher_out
    if workload.task == "classification":
        return x, np.argmax(y, axis=1).astype(np.int64)
    y += 0.1 * rng.standard_normal(y.shape, dtype=np.float32)
    return x, y.astype(np.float32)


def initial_weights(sizes: tuple[int, ...], seed: int = WEIGHT_SEED) -> list[np.ndarray]:
    """Glorot-uniform kernels (n, m) and zero biases, in Keras order [W1, b1, W2, b2, ...]."""
    rng = np.random.default_rng(seed)
    weights = []
    for n, m in zip(sizes[:-1], sizes[1:], strict=True):
        limit = np.sqrt(6.0 / (n + m))
        weights.append(rng.uniform(-limit, limit, size=(n, m)).astype(np.float32))
        weights.append(np.zeros(m, dtype=np.float32))
    return weights
