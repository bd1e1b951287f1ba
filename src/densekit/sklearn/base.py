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
from ..errors import ArgumentError, InputError
from ..mlp import build_mlp
from .checks import ACTIVATIONS, LEARNING_RATES, SOLVERS, check_choice, check_integer, check_number
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
        n_iter_no_change: int = 10,
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
        self.dropout = dropout
        self.batch_norm = batch_norm
        self.optimizer = optimizer
        self.dtype = dtype

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
        check_integer("n_iter_no_change", self.n_iter_no_change, 1)
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
        rng = np.random.default_rng(check_random_state(self.random_state).randint(2**31))
        fresh = not hasattr(self, "model_") or not (self.warm_start or incremental)
        if fresh:
            # MLP's rule: weights in the input's float dtype (validate_data gave float32
            # or float64), unless the dtype parameter fixes it
            fixed = self._fixed_dtype()
            dtype = x.dtype if fixed is None else fixed
            self._initialize(sizes, x.shape[1], targets.shape[1], rng, dtype)
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

        validation = None
        if self.early_stopping:
            stratify = y_original if self._stratify() else None
            parts = [x, targets, y_original] + ([] if sample_weight is None else [sample_weight])
            split = train_test_split(
                *parts,
                random_state=int(rng.integers(2**31)),
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
        try:
            self.model_.fit(
                x,
                targets,
                batch_size=batch_size,
                epochs=1 if incremental else self.max_iter,
                verbose=0,
                callbacks=[training],
                shuffle=bool(self.shuffle),
                sample_weight=sample_weight,
                seed=int(rng.integers(2**31)),
            )
        finally:
            self.model_.gradient_hooks.remove(training.add_penalty_gradient)
        self.fit_time_ = time.perf_counter() - started
        if not incremental and not training.stopped and self.n_iter_ == self.max_iter:
            warnings.warn(
                f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached and the "
                "optimization hasn't converged yet.",
                ConvergenceWarning,
                stacklevel=3,
            )
        return self

    def _forward(self, x) -> np.ndarray:
        check_is_fitted(self, "model_")
        x = validate_data(self, x, reset=False, dtype=[np.float64, np.float32])
        # computed in the model's dtype; returned in the wider of it and the input's, as
        # MLP's X @ coefs_ promotes (float32 fit, float64 X: float64 out)
        output = self.model_.predict(x)
        return output.astype(np.result_type(output.dtype, x.dtype), copy=False)

    # --- MLP's fitted attributes, read from the model ---------------------------------
    @property
    def coefs_(self) -> list[np.ndarray]:
        """The kernels ``W`` (n, m) of the Dense layers: views into the model's weights."""
        check_is_fitted(self, "model_")
        return [layer.kernel for layer in self.model_.layers if isinstance(layer, dk_layers.Dense)]

    @property
    def intercepts_(self) -> list[np.ndarray]:
        """The biases ``b`` (m,) of the Dense layers: views into the model's weights."""
        check_is_fitted(self, "model_")
        return [layer.bias for layer in self.model_.layers if isinstance(layer, dk_layers.Dense)]
