"""Training runners: densekit, PyTorch eager and scikit-learn's MLP on one workload.

Each runner builds its network once from the shared initial weights, then `warm_up()` trains a
few batches and `epoch(seed)` trains one shuffled epoch (Adam, lr 1e-3). `threads(t)` is a
context manager that limits the runner's thread pools to `t` threads while it runs.
Libraries are imported when a runner is made, so a peer that is missing costs nothing.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import warnings
from collections.abc import Iterator

import numpy as np
from workloads import Workload

WARMUP_BATCHES = 3
LEARNING_RATE = 1e-3


@contextlib.contextmanager
def blas_threads(t: int) -> Iterator[None]:
    """Limit the BLAS and OpenMP pools NumPy (and so densekit and scikit-learn) use."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=t):
        yield


@contextlib.contextmanager
def torch_threads(torch, t: int) -> Iterator[None]:
    """PyTorch's intra-op threads and the BLAS pools, both at ``t``, restored after."""
    before = torch.get_num_threads()
    torch.set_num_threads(t)
    try:
        with blas_threads(t):
            yield
    finally:
        torch.set_num_threads(before)


def import_densekit():
    """densekit, or None with the reason when it cannot be imported or lacks the core API."""
    try:
        import densekit as dk

        dk.Sequential, dk.layers.Dense, dk.optimizers.Adam  # noqa: B018
    except Exception as exc:  # the core is written in parallel: any failure means "skip it"
        return None, f"{type(exc).__name__}: {exc}"
    return dk, ""


def _warmup_rows(workload: Workload) -> int:
    return min(workload.rows, WARMUP_BATCHES * workload.batch)


class DensekitTrainer:
    name = "densekit"

    def __init__(self, workload: Workload, x, y, weights) -> None:
        dk, reason = import_densekit()
        if dk is None:
            raise ImportError(f"densekit: not importable ({reason})")
        self.workload, self.x, self.y = workload, x, y
        # one epoch stands for a long training, which DENSEKIT_KERNELS=auto (the default)
        # runs on numba's kernels where installed: ask for them, as such a fit would get
        with kernels(self.kernel_choice()):  # the choice is made at build and compile
            self.model = build_densekit(dk, workload.sizes, workload.task)
            self.model.compile(
                optimizer=dk.optimizers.Adam(LEARNING_RATE), loss=_keras_loss(workload)
            )
        self.model.set_weights(weights)
        self.note = f"Sequential {workload.shape}, {_keras_loss(workload)}"

    def kernel_choice(self) -> str:
        """``numba`` where it is installed (the ``[fast]`` extra), else ``numpy``."""
        return "numba" if importlib.util.find_spec("numba") is not None else "numpy"

    def threads(self, t: int):
        return blas_threads(t)

    def warm_up(self) -> None:
        rows = _warmup_rows(self.workload)
        self._fit(self.x[:rows], self.y[:rows], seed=0)

    def epoch(self, seed: int) -> None:
        self._fit(self.x, self.y, seed=seed)

    def _fit(self, x, y, seed: int) -> None:
        self.model.fit(
            x, y, batch_size=self.workload.batch, epochs=1, shuffle=True, verbose=0, seed=seed
        )


class DensekitNumpyTrainer(DensekitTrainer):
    """densekit without its compiled kernels (``DENSEKIT_KERNELS=numpy``): plain NumPy only,
    as installed without the ``[fast]`` extra."""

    name = "densekit-numpy"

    def __init__(self, workload: Workload, x, y, weights) -> None:
        super().__init__(workload, x, y, weights)
        self.note += " (DENSEKIT_KERNELS=numpy)"

    def kernel_choice(self) -> str:
        """Always ``numpy``."""
        return "numpy"


@contextlib.contextmanager
def kernels(choice: str) -> Iterator[None]:
    before = os.environ.get("DENSEKIT_KERNELS")
    os.environ["DENSEKIT_KERNELS"] = choice
    try:
        yield
    finally:
        if before is None:
            del os.environ["DENSEKIT_KERNELS"]
        else:
            os.environ["DENSEKIT_KERNELS"] = before


def kernel_description() -> str:
    """Which CPU kernels densekit trains with here: numba's (and its version) or NumPy's."""
    dk, _ = import_densekit()
    if dk is None:
        return "unknown"
    # densekit.backend.numba_kernels since the tiered layout; densekit.cpu_kernels before it
    kernels = getattr(getattr(dk, "backend", None), "numba_kernels", None)
    kernels = kernels or getattr(dk, "cpu_kernels", None)
    if kernels is None:
        return "unknown"
    if kernels.get() is None:
        return "numpy (numba not installed or DENSEKIT_KERNELS=numpy)"
    import numba

    return f"numba {numba.__version__}"


def build_densekit(dk, sizes: tuple[int, ...], task: str):
    """dk.Sequential of Dense layers: ReLU hidden, softmax (classification) or linear output."""
    output = "softmax" if task == "classification" else None
    layers = []
    for i, units in enumerate(sizes[1:]):
        activation = output if i == len(sizes) - 2 else "relu"
        extra = {"input_dim": sizes[0]} if i == 0 else {}
        layers.append(dk.layers.Dense(units, activation=activation, **extra))
    return dk.Sequential(layers, seed=0)


def _keras_loss(workload: Workload) -> str:
    if workload.task == "classification":
        return "sparse_categorical_crossentropy"
    return "mean_squared_error"


class TorchTrainer:
    name = "pytorch"

    def __init__(self, workload: Workload, x, y, weights) -> None:
        import torch

        self.torch, self.workload = torch, workload
        torch.manual_seed(0)
        self.model = build_torch(torch, workload.sizes, weights).train()
        # eps as densekit's default (Keras'); torch's own default is 1e-8: same cost either way.
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=LEARNING_RATE, eps=1e-7)
        if workload.task == "classification":
            self.loss = torch.nn.CrossEntropyLoss()
        else:
            self.loss = torch.nn.MSELoss()
        self.x, self.y = torch.from_numpy(x), torch.from_numpy(y)
        self.generator = torch.Generator()
        self.note = f"nn.Sequential {workload.shape}, {type(self.loss).__name__}, Adam"

    def threads(self, t: int):
        return torch_threads(self.torch, t)

    def warm_up(self) -> None:
        self._train(_warmup_rows(self.workload), seed=0)

    def epoch(self, seed: int) -> None:
        self._train(self.workload.rows, seed=seed)

    def _train(self, rows: int, seed: int) -> None:
        self.generator.manual_seed(seed)
        order = self.torch.randperm(rows, generator=self.generator)
        batch = self.workload.batch
        for start in range(0, rows, batch):
            index = order[start : start + batch]
            self.optimizer.zero_grad(set_to_none=True)
            self.loss(self.model(self.x[index]), self.y[index]).backward()
            self.optimizer.step()


def build_torch(torch, sizes: tuple[int, ...], weights, softmax: bool = False):
    """nn.Sequential of Linear + ReLU with our kernels (n, m) copied in as weight (m, n)."""
    layers = []
    for i, (n, m) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        linear = torch.nn.Linear(n, m)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(weights[2 * i].T))
            linear.bias.copy_(torch.from_numpy(weights[2 * i + 1]))
        layers.append(linear)
        if i < len(sizes) - 2:
            layers.append(torch.nn.ReLU())
    if softmax:
        layers.append(torch.nn.Softmax(dim=1))
    return torch.nn.Sequential(*layers)


class SklearnTrainer:
    name = "sklearn"

    def __init__(self, workload: Workload, x, y, weights) -> None:
        from sklearn.neural_network import MLPClassifier, MLPRegressor

        self.workload = workload
        options = dict(
            hidden_layer_sizes=workload.sizes[1:-1],
            activation="relu",
            solver="adam",
            alpha=0.0,  # no L2 penalty, as the other peers
            batch_size=workload.batch,
            learning_rate_init=LEARNING_RATE,
            shuffle=True,
            random_state=0,
        )
        n_out = workload.sizes[-1]
        if workload.task == "classification":
            self.model = MLPClassifier(**options)
            self.classes = np.arange(n_out)
            if n_out == 2:
                shape = "-".join(str(s) for s in workload.sizes[:-1]) + "-1"
                self.note = f"MLPClassifier {shape}: logistic output + log-loss (binary)"
            else:
                self.note = f"MLPClassifier {workload.shape}: softmax output + log-loss"
        else:
            self.model = MLPRegressor(**options)
            self.classes = None
            self.note = f"MLPRegressor {workload.shape}: identity output + squared loss"
        # its own Glorot init (it has no way to set weights before the first partial_fit)
        self.x, self.y = x, (y.ravel() if y.ndim == 2 and y.shape[1] == 1 else y)

    def threads(self, t: int):
        return blas_threads(t)

    def warm_up(self) -> None:
        rows = _warmup_rows(self.workload)
        self._partial_fit(self.x[:rows], self.y[:rows])

    def epoch(self, seed: int) -> None:
        self._partial_fit(self.x, self.y)  # one epoch, shuffled by its own random_state

    def _partial_fit(self, x, y) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if self.classes is not None:
                self.model.partial_fit(x, y, classes=self.classes)
            else:
                self.model.partial_fit(x, y)


TRAINERS = {
    cls.name: cls for cls in (DensekitTrainer, DensekitNumpyTrainer, TorchTrainer, SklearnTrainer)
}
