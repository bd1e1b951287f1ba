"""The estimators' shared base: MLP's parameters, building the network, the fitting loop.

The network is :func:`densekit.mlp.build_mlp`'s with scikit-learn MLP's
initialization; one ``Sequential.fit`` trains it, with
:class:`~densekit.sklearn.training.MLPTraining` applying MLP's penalty and
stopping rule.
"""

from __future__ import annotations

import numbers
import time
import warnings
from typing import TYPE_CHECKING

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from .. import layers as dk_layers
from .. import optimizers as dk_optimizers
from ..backend import resolve_dtype
from ..errors import ArgumentError, InputError, TrainingError
from ..mlp import build_mlp
from .checks import (
    ACTIVATIONS,
    LEARNING_RATES,
    SOLVERS,
    check_choice,
    check_integer,
    check_number,
    check_patience,
)
from .training import MLPTraining

if TYPE_CHECKING:
    from ..optimizers import Optimizer


class DenseBase(BaseEstimator):
    """What both estimators share: parameters, building, fitting, pickling.

    The parameters are :class:`~densekit.sklearn.DenseClassifier`'s (less
    ``class_weight``); a subclass says what the output layer, the loss, the
    targets and the score are.
    """

    def __init__(
        self,
        hidden_layer_sizes: int | tuple[int, ...] = (100,),
        activation: str = "relu",
        *,
        solver: str = "adam",
        alpha: float = 0.0001,
        batch_size: int | str = "auto",
        learning_rate: str = "constant",
        learning_rate_init: float = 0.001,
        power_t: float = 0.5,
        max_iter: int = 200,
        shuffle: bool = True,
        random_state: int | np.random.RandomState | None = None,
        tol: float = 1e-4,
        verbose: bool = False,
        warm_start: bool = False,
        momentum: float = 0.9,
        nesterovs_momentum: bool = True,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
        n_iter_no_change: int | float = 10,
        max_fun: int = 15000,
        dropout: float = 0.0,
        batch_norm: bool = False,
        optimizer: str | dict | Optimizer | None = None,
        dtype: str | None = None,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.dropout = dropout
        self.batch_norm = batch_norm
        self.optimizer = optimizer
        self.dtype = dtype

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True  # CSR/CSC through the first layer's product
        return tags

    # --- parameters -----------------------------------------------------------------
    def _check_params(self) -> tuple[int, ...]:
        sizes = self.hidden_layer_sizes
        if isinstance(sizes, numbers.Integral):
            sizes = (sizes,)
        try:
            sizes = tuple(sizes)
        except TypeError as exc:
            raise ArgumentError(
                f"hidden_layer_sizes must be an int or a sequence of ints, got {sizes!r}"
            ) from exc
        if not all(isinstance(s, numbers.Integral) and s > 0 for s in sizes):
            raise ArgumentError(f"hidden_layer_sizes must be positive integers, got {sizes!r}")
        check_choice("activation", self.activation, tuple(ACTIVATIONS))
        check_choice("solver", self.solver, SOLVERS)
        check_choice("learning_rate", self.learning_rate, LEARNING_RATES)
        check_number("alpha", self.alpha, 0.0)
        check_number("learning_rate_init", self.learning_rate_init, 0.0, open_low=True)
        check_number("tol", self.tol, 0.0)
        check_number("power_t", self.power_t, 0.0)
        check_number("validation_fraction", self.validation_fraction, 0.0, 1.0, open_low=True)
        check_number("dropout", self.dropout, 0.0, 1.0)
        if self.dropout >= 1.0 or self.validation_fraction >= 1.0:
            raise ArgumentError("dropout and validation_fraction must be < 1")
        check_integer("max_iter", self.max_iter, 1)
        check_patience("n_iter_no_change", self.n_iter_no_change)
        check_integer("max_fun", self.max_fun, 1)
        if self.batch_size != "auto":
            check_integer("batch_size", self.batch_size, 1)
        self._fixed_dtype()
        return sizes

    def _fixed_dtype(self) -> np.dtype | None:
        """The ``dtype`` parameter resolved, or None to follow the input's."""
        if self.dtype is None:
            return None
        try:
            return resolve_dtype(self.dtype)
        except ArgumentError as exc:
            raise ArgumentError(
                f"dtype must be None (the input's float dtype), 'float32' or 'float64', "
                f"got {self.dtype!r}"
            ) from exc

    def _batch_size(self, n: int) -> int:
        if self.batch_size == "auto":
            return min(200, n)
        if self.batch_size > n:
            warnings.warn(
                "Got `batch_size` less than 1 or larger than sample size. It is going to be clipped",
                stacklevel=3,
            )
        return int(np.clip(self.batch_size, 1, n))

    def _make_optimizer(self) -> dk_optimizers.Optimizer:
        if self.optimizer is not None:
            # a fresh copy, so the parameter object is never changed by fitting
            return dk_optimizers.get(dk_optimizers.get(self.optimizer).get_config())
        if self.solver == "sgd":
            return dk_optimizers.SGD(
                self.learning_rate_init,
                momentum=self.momentum,
                nesterov=self.nesterovs_momentum and self.momentum > 0,
            )
        return dk_optimizers.Adam(
            self.learning_rate_init,
            beta_1=self.beta_1,
            beta_2=self.beta_2,
            epsilon=self.epsilon,
        )

    # --- building ---------------------------------------------------------------------
    def _build_model(
        self, sizes, n_features: int, n_outputs: int, output_activation: str, seed, dtype
    ):
        """MLP's architecture and initialization.

        W, b ~ U(-r, r), r = sqrt(k / (n + m)), k = 2 for logistic hidden units and 6 otherwise.
        """
        return build_mlp(
            n_features,
            sizes,
            n_outputs,
            activation=ACTIVATIONS[self.activation],
            output_activation=output_activation,
            dropout=self.dropout,
            batch_norm=self.batch_norm,
            init="sklearn",
            declare_input_dim=False,
            seed=seed,
            dtype=dtype.name,
        )

    def _mlp_initial_weights(self, sizes, n_features: int, n_outputs: int, state) -> tuple:
        """MLP's draws: per layer, W then b ~ U(-r, r), r = sqrt(k / (n + m)), from ``state``.

        k = 2 for logistic hidden units, else 6; float64, as MLP draws them.
        """
        factor = 2.0 if self.activation == "logistic" else 6.0
        widths = [n_features, *sizes, n_outputs]
        kernels, biases = [], []
        for fan_in, fan_out in zip(widths[:-1], widths[1:]):
            bound = np.sqrt(factor / (fan_in + fan_out))
            kernels.append(state.uniform(-bound, bound, (fan_in, fan_out)))
            biases.append(state.uniform(-bound, bound, fan_out))
        return kernels, biases

    def _initialize(self, sizes, n_features: int, n_outputs: int, rng, dtype) -> None:
        self.model_ = self._build_model(
            sizes,
            n_features,
            n_outputs,
            self._output_activation(),
            int(rng.integers(2**31)),
            dtype,
        )
        self.n_outputs_ = n_outputs
        self.n_layers_ = len(sizes) + 2
        self.out_activation_ = self._out_activation_name()
        self.loss_curve_ = []
        self.t_ = 0
        self.n_iter_ = 0
        self._no_improvement_count = 0
        if self.early_stopping:
            self.validation_scores_ = []
            self.validation_loss_curve_ = []
            self.best_validation_score_ = -np.inf
            self.best_loss_ = None
        else:
            self.validation_scores_ = None
            self.validation_loss_curve_ = None
            self.best_validation_score_ = None
            self.best_loss_ = np.inf

    # --- fitting ----------------------------------------------------------------------
    def _fit(self, x, targets, y_original, sample_weight, incremental: bool):
        """Train ``self.model_`` with ``Sequential.fit`` under MLP's rule."""
        # targets: the network's targets; y_original: what score compares with
        sizes = self._check_params()
        if self.early_stopping and incremental:
            raise ArgumentError("partial_fit does not support early_stopping=True")
        state = check_random_state(self.random_state)
        fresh = not hasattr(self, "model_") or not (self.warm_start or incremental)
        if fresh:
            # MLP's initial weights first, from the same stream as MLP's (so the same
            # random_state starts both from the same point); then densekit's generator
            initial = self._mlp_initial_weights(sizes, x.shape[1], targets.shape[1], state)
        # densekit's own generator (dropout, the network's build seed), seeded from the
        # stream's position without drawing from it: MLP's later draws (the early-stopping
        # split, each epoch's shuffle) come from ``state`` exactly as MLP takes them
        rng = np.random.default_rng(state.get_state()[1])
        if fresh:
            # MLP's rule: weights in the input's float dtype (validate_data gave float32
            # or float64), unless the dtype parameter fixes it
            fixed = self._fixed_dtype()
            dtype = x.dtype if fixed is None else fixed
            self._initialize(sizes, x.shape[1], targets.shape[1], rng, dtype)
            if not self._apply_assigned_weights():
                self.coefs_, self.intercepts_ = initial
        # a fitted network keeps its dtype (warm_start, partial_fit): the data follows it
        x = x.astype(self.model_.dtype, copy=False)
        targets = targets.astype(self.model_.dtype, copy=False)
        if fresh or not incremental or self.model_.optimizer is None:
            self.model_.compile(optimizer=self._make_optimizer(), loss=self._loss())
        if sample_weight is not None:
            total = float(sample_weight.sum())
            if total <= 0:
                raise InputError("sample_weight sums to 0: at least one weight must be > 0")
            weight_scale = total / len(sample_weight)
            sample_weight = sample_weight / weight_scale
        else:
            weight_scale = 1.0

        if self.solver == "lbfgs" and self.optimizer is None:
            return self._fit_lbfgs(x, targets, sample_weight, weight_scale)
        validation = None
        if self.early_stopping:
            stratify = self._stratify(targets, y_original)
            parts = [x, targets, y_original] + ([] if sample_weight is None else [sample_weight])
            split = train_test_split(
                *parts,
                random_state=state,
                test_size=self.validation_fraction,
                stratify=stratify,
            )
            x, x_val, targets, targets_val, _, y_val = split[:6]
            sample_weight, w_val = (None, None) if sample_weight is None else split[6:8]
            if x_val.shape[0] < 2:
                raise InputError(
                    "The validation set is too small. Increase 'validation_fraction' "
                    "or the size of your dataset."
                )
            validation = (x_val, y_val, targets_val, w_val)

        n = x.shape[0]
        batch_size = self._batch_size(n)
        self.n_iter_ = 0
        training = MLPTraining(self, n, batch_size, validation, incremental, weight_scale)
        training.set_model(self.model_)
        self.model_.gradient_hooks.append(training.add_penalty_gradient)
        started = time.perf_counter()
        order = np.arange(n)
        epochs = 1 if incremental else self.max_iter
        # the whole run's steps decide the kernels (each fit call below is one epoch)
        self.model_.choose_kernels(epochs * -(-n // batch_size))
        try:
            for _ in range(epochs):
                if self.shuffle:
                    # MLP's order: its sample index shuffled again each epoch, from its
                    # RandomState (sklearn.utils.shuffle's draw: shuffle an arange, take
                    # those positions); the epoch then runs in that order (one fit call)
                    positions = np.arange(n)
                    state.shuffle(positions)
                    order = order[positions]
                rows = (
                    x[order],
                    targets[order],
                    None if sample_weight is None else sample_weight[order],
                )
                self.model_.fit(
                    rows[0],
                    rows[1],
                    batch_size=batch_size,
                    epochs=1,
                    verbose=0,
                    callbacks=[training],
                    shuffle=False,
                    sample_weight=rows[2],
                )  # dropout draws from the network's generator (seeded from rng when built)
                if training.stopped:
                    break
        except TrainingError as exc:
            self._diverged(exc, validation is not None)
            return self
        finally:
            self.model_.gradient_hooks.remove(training.add_penalty_gradient)
            training.restore_best()
            self.fit_time_ = time.perf_counter() - started
        if not incremental and not training.stopped and self.n_iter_ == self.max_iter:
            warnings.warn(
                f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached and the "
                "optimization hasn't converged yet.",
                ConvergenceWarning,
                stacklevel=3,
            )
        return self

    def _diverged(self, error: TrainingError, early_stopping: bool) -> None:
        """MLP's answer to a loss that became NaN or infinite.

        Under early stopping MLP records a NaN score for the epoch and keeps its best
        weights; densekit's fit has rolled the weights back and stopped, and the
        callback restored the best ones, so the NaN epoch is recorded here. Otherwise
        MLP raises its ValueError, with its words (TrainingError is a ValueError).

        Raises
        ------
        TrainingError
            Without early stopping.
        """
        if early_stopping:
            self.n_iter_ += 1
            self.loss_curve_.append(float("nan"))
            self.validation_scores_.append(float("nan"))
            self.validation_loss_curve_.append(float("nan"))
            return
        raise TrainingError(
            "Solver produced non-finite parameter weights. The input data may contain large "
            f"values and need to be preprocessed. (densekit: {error})"
        ) from error

    def _lbfgs_objective(self, x, targets, sample_weight, weight_scale: float):
        """``() -> (loss, grad)``: MLP's full-batch loss with its penalty, at the model's weights.

        loss = mean_w(per-row loss) + 0.5 * alpha * sum(W^2) / sum(w), over the kernels.
        """
        model = self.model_
        dense = [layer for layer in model.layers if isinstance(layer, dk_layers.Dense)]
        kernels = [(layer.kernel, layer.grads["kernel"]) for layer in dense]
        scale = float(self.alpha) / (x.shape[0] * weight_scale)

        def loss_and_gradient():
            loss = model.compute_gradients(x, targets, sample_weight)[0]
            squares = 0.0
            if scale:
                for kernel, grad_kernel in kernels:
                    squares += float(np.vdot(kernel, kernel))
                    grad_kernel += scale * kernel
            return float(loss) + 0.5 * scale * squares, model.grads

        return loss_and_gradient

    def _fit_lbfgs(self, x, targets, sample_weight, weight_scale: float):
        """MLP's ``solver='lbfgs'``: :class:`densekit.optimizers.LBFGS` on the full batch.

        ``max_iter``, ``max_fun`` and ``tol`` (as scipy's ``gtol``) mean what they mean
        to MLP; ``n_iter_`` is L-BFGS's iteration count.

        Raises
        ------
        TrainingError
            If the weights or the loss end NaN or infinite.
        """
        optimizer = dk_optimizers.LBFGS(max_fun=self.max_fun, tol=self.tol)
        self.model_.compile(optimizer=optimizer, loss=self._loss())
        objective = self._lbfgs_objective(x, targets, sample_weight, weight_scale)

        def record(iteration: int, loss: float) -> None:
            self.loss_curve_.append(loss)
            if self.verbose:
                print(f"Iteration {iteration + 1}, loss = {loss:.8f}")

        started = time.perf_counter()
        with np.errstate(over="ignore", invalid="ignore"):
            result = optimizer.minimize(self.model_.params, objective, self.max_iter, record)
        self.fit_time_ = time.perf_counter() - started
        self.n_iter_ = min(int(result.nit), self.max_iter)
        self.loss_ = float(result.fun)
        self.t_ += x.shape[0] * self.n_iter_
        if not (np.isfinite(result.fun) and np.isfinite(self.model_.params).all()):
            raise TrainingError(
                "Solver produced non-finite parameter weights. The input data may contain "
                "large values and need to be preprocessed."
            )
        if result.status != 0:
            warnings.warn(
                f"lbfgs failed to converge after {result.nit} iteration(s) "
                f"(status={result.status}):\n{result.message}\n\nIncrease the number of "
                f"iterations to improve the convergence (max_iter={self.max_iter}) or "
                f"evaluations (max_fun={self.max_fun}).\nYou might also want to scale the data.",
                ConvergenceWarning,
                stacklevel=3,
            )
        return self

    def _forward(self, x) -> np.ndarray:
        check_is_fitted(self, "model_")
        x = validate_data(
            self, x, reset=False, accept_sparse=["csr", "csc"], dtype=[np.float64, np.float32]
        )
        # computed in the wider of the model's dtype and the input's, as MLP's X @ coefs_
        # promotes (float32 weights, float64 X: float64 arithmetic and output); so a
        # float32 network's predictions do not depend on which rows share a product
        model = self.model_
        if np.result_type(model.dtype, x.dtype) != model.dtype:
            model = model.copy(dtype=np.result_type(model.dtype, x.dtype).name)
        return model.predict(x)

    # --- MLP's fitted attributes, read from the model ---------------------------------
    def _dense_weights(self, name: str) -> list:
        assigned = self.__dict__.get(f"_assigned_{name}")
        if assigned is not None and not hasattr(self, "model_"):
            return assigned
        check_is_fitted(self, "model_")
        return [
            layer.weights[name]
            for layer in self.model_.layers
            if isinstance(layer, dk_layers.Dense)
        ]

    def _assign_dense_weights(self, name: str, values) -> None:
        """Write ``values`` into the Dense layers' views of the flat buffer (before fit: keep them).

        Before the network exists (MLP's tests build one by hand) the list is kept, as
        MLP keeps it, and the network built next starts from it.

        Raises
        ------
        InputError
            For a wrong number of arrays or a wrong shape (nothing is written then).
        """
        if not hasattr(self, "model_"):
            self.__dict__[f"_assigned_{name}"] = values
            return
        current = self._dense_weights(name)
        values = list(values)
        if len(values) != len(current):
            raise InputError(
                f"{'coefs_' if name == 'kernel' else 'intercepts_'} must be a list of "
                f"{len(current)} arrays (one per Dense layer), got {len(values)}"
            )
        arrays = []
        for index, (target, value) in enumerate(zip(current, values)):
            array = np.asarray(value, dtype=target.dtype)
            if array.shape != target.shape:
                raise InputError(
                    f"{'coefs_' if name == 'kernel' else 'intercepts_'}[{index}] must have "
                    f"shape {target.shape}, got {array.shape}"
                )
            arrays.append(array)
        for target, array in zip(current, arrays):
            target[...] = array

    def _apply_assigned_weights(self) -> bool:
        """Start the new network from ``coefs_`` / ``intercepts_`` assigned before it existed.

        Returns
        -------
        bool
            Whether any were assigned.
        """
        assigned = {
            name: self.__dict__.pop(f"_assigned_{name}", None) for name in ("kernel", "bias")
        }
        for name, values in assigned.items():
            if values is None:
                continue
            current = self._dense_weights(name)
            arrays = [np.asarray(value) for value in values]
            if len(arrays) == len(current) and all(
                a.shape == c.shape for a, c in zip(arrays, current)
            ):
                for target, array in zip(current, arrays):
                    target[...] = array
        return any(values is not None for values in assigned.values())

    @property
    def coefs_(self) -> list[np.ndarray]:
        """The kernels ``W`` (n, m) of the Dense layers: views into the model's weights.

        Assigning a list of arrays (MLP's shapes) writes them into the flat buffer.
        """
        return self._dense_weights("kernel")

    @coefs_.setter
    def coefs_(self, values) -> None:
        self._assign_dense_weights("kernel", values)

    @property
    def intercepts_(self) -> list[np.ndarray]:
        """The biases ``b`` (m,) of the Dense layers: views into the model's weights.

        Assigning a list of arrays (MLP's shapes) writes them into the flat buffer.
        """
        return self._dense_weights("bias")

    @intercepts_.setter
    def intercepts_(self, values) -> None:
        self._assign_dense_weights("bias", values)

    @property
    def _optimizer(self):
        """The fitted network's optimizer (MLP's ``_optimizer``, whose ``learning_rate`` it reads)."""
        check_is_fitted(self, "model_")
        return self.model_.optimizer

    def _check_solver(self) -> bool:
        if self.solver not in ("sgd", "adam"):
            raise AttributeError(
                f"partial_fit is only available for stochastic optimizers. {self.solver} is "
                "not stochastic."
            )
        return True

    def _loss_grad_lbfgs(self, packed_coef_inter, X, y, sample_weight=None, *workspace):
        """MLP's private L-BFGS objective, for scikit-learn's own gradient test.

        ``packed_coef_inter`` is MLP's packing (every kernel, then every bias); the loss
        and gradient are the ones :meth:`_fit_lbfgs` minimizes, at that point.
        """
        model = self.model_
        order = self._mlp_packing()
        dtype = model.dtype
        model.params[order] = np.asarray(packed_coef_inter, dtype=dtype)
        x = np.asarray(X, dtype=dtype)
        targets = np.asarray(y, dtype=dtype).reshape(x.shape[0], -1)
        weights = None if sample_weight is None else np.asarray(sample_weight, dtype=dtype)
        scale = 1.0 if weights is None else float(weights.mean())
        if weights is not None:
            weights = weights / scale
        loss, grads = self._lbfgs_objective(x, targets, weights, scale)()
        return loss, np.asarray(grads[order], dtype=np.float64)

    def _mlp_packing(self) -> np.ndarray:
        """Positions in the flat buffer of MLP's packed vector (every kernel, then every bias)."""
        model = self.model_
        parts = {}
        for (layer, spec, _), part in zip(
            [entry for entry in model.weight_index if model.trains(entry[0], entry[1])],
            model.slices,
        ):
            if isinstance(layer, dk_layers.Dense):
                parts.setdefault(spec.name, []).append(np.arange(part.start, part.stop))
        return np.concatenate(parts["kernel"] + parts.get("bias", []))
