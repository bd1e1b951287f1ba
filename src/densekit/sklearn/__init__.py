"""scikit-learn estimators: DenseClassifier and DenseRegressor.

Drop-in replacements for ``MLPClassifier`` / ``MLPRegressor``: the same
parameter names, meanings, fitted attributes and stopping rule, trained by a
densekit :class:`~densekit.model.Sequential` (its ``fit`` is the one training
loop; this module only translates). MLP's math, and how it is kept here:

- **Penalty.** MLP adds ``0.5 * alpha * sum(W^2) / n_batch`` to each batch's
  loss, over the kernels only (no biases), so the kernel gradient gains
  ``alpha * W / n_batch``. Here a gradient hook (``model.gradient_hooks``)
  adds exactly that, with ``n_batch`` the length of the current batch (the
  last one may be short), and the penalty is added to ``loss_curve_``.
- **Losses.** Multiclass: cross-entropy over a softmax; binary: one logistic
  output (so ``coefs_`` shapes match MLP's); multi-label: the binary
  cross-entropies *summed* over labels; regression: half the squared error,
  ``0.5 * mean((p - y)^2)``. ``loss=`` also offers absolute_error, huber
  (delta 1) and poisson (log link: a linear output ``z`` predicts
  ``exp(z)``, loss ``exp(z) - y z``).
- **Stopping.** After each epoch: with ``early_stopping``, the score
  (accuracy or R^2) on a held-out ``validation_fraction`` must beat the best
  by ``tol``; otherwise the training loss must fall below the best by ``tol``.
  More than ``n_iter_no_change`` epochs without that stops training (SGD with
  ``learning_rate='adaptive'`` first divides the rate by 5, down to 1e-6).
  With ``early_stopping`` the best-scoring weights are restored.
- **Sample weights.** MLP divides each batch's weighted loss and its penalty by
  the batch's weight sum; densekit divides by the batch length. Weights are
  rescaled to mean 1 over the training rows and the penalty is divided by
  ``n_batch * mean(w)``: both agree with MLP exactly when a batch holds all
  rows (or the weights are uniform), and in expectation over shuffled batches.
- **Adam.** densekit's is the paper's (eps added to ``sqrt(v_hat)``); MLP adds
  eps to ``sqrt(v)``; with the default eps = 1e-8 the difference is negligible.

- **dtype.** As MLP, the network computes in the input's float dtype: float32
  ``X`` gives float32 weights and outputs, anything else float64 (``dtype=None``,
  the default). ``dtype='float32'`` or ``'float64'`` fixes it whatever the input
  (float32 fits 1.6x faster on examples/pipeline_vs_mlp.py). A fitted network
  keeps its dtype through ``warm_start``, ``partial_fit`` and pickling; later
  inputs are cast to it.
"""

from __future__ import annotations

import numbers
import time
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import initializers
from .. import layers as dk_layers
from .. import losses as dk_losses
from .. import optimizers as dk_optimizers
from ..backend import resolve_dtype
from ..callbacks import Callback
from ..errors import ArgumentError, InputError, require
from ..model import Sequential

require("sklearn", "sklearn", "densekit.sklearn")

from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.metrics import accuracy_score, r2_score  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.preprocessing import LabelBinarizer  # noqa: E402
from sklearn.utils import check_random_state, column_or_1d  # noqa: E402
from sklearn.utils.class_weight import compute_sample_weight  # noqa: E402
from sklearn.utils.multiclass import check_classification_targets  # noqa: E402
from sklearn.utils.validation import (  # noqa: E402
    _check_sample_weight,
    check_is_fitted,
    validate_data,
)

_ACTIVATIONS = {"relu": "relu", "tanh": "tanh", "logistic": "sigmoid", "identity": "linear"}
_SOLVERS = ("adam", "sgd")
_LEARNING_RATES = ("constant", "invscaling", "adaptive")
_REGRESSION_LOSSES = ("squared_error", "absolute_error", "huber", "poisson")


# --- MLP's losses, as densekit losses -------------------------------------------


@dataclass(frozen=True)
class HalfSquaredError(dk_losses.MeanSquaredError):
    """MLP's regression loss: l = 0.5 * mean_k (p_k - y_k)^2, with MLP's gradient p - y.

    MLP reports the mean over the k outputs but steps along the gradient of
    the sum (its output delta is ``p - y`` whatever k is); both are kept, so
    multi-output fits follow MLP's exactly. A saved model records it as
    mean_squared_error (densekit's own loss), so any densekit can load it.
    """

    def per_sample(self, xp, y, p):
        return 0.5 * super().per_sample(xp, y, p)

    def gradient(self, xp, y, p):
        return p - y


@dataclass(frozen=True)
class SummedBinaryCrossentropy(dk_losses.BinaryCrossentropy):
    """MLP's multi-label loss: binary cross-entropy summed (not averaged) over labels.

    A saved model records it as binary_crossentropy (densekit's own loss).
    """

    def per_sample(self, xp, y, p):
        return super().per_sample(xp, y, p) * p.shape[1]

    def gradient(self, xp, y, p):
        return super().gradient(xp, y, p) * p.shape[1]

    def per_sample_from_logits(self, xp, y, z):
        return super().per_sample_from_logits(xp, y, z) * z.shape[1]

    def gradient_from_logits(self, xp, y, z, p):
        return p - y


# --- the stopping rule and the penalty, as a callback and a gradient hook ---------


class _MLPTraining(Callback):
    """MLP's per-epoch bookkeeping around ``Sequential.fit``.

    Adds the L2 penalty's gradient ``alpha * W / n_batch`` to each kernel (as a
    gradient hook), records ``loss_curve_`` with the penalty
    ``0.5 * alpha * sum(W^2) / n_batch`` included, applies the ``tol`` /
    ``n_iter_no_change`` rule and keeps the best weights under early stopping.
    """

    def __init__(self, estimator, n_train, batch_size, validation, incremental, weight_scale=1.0):
        super().__init__()
        self.estimator = estimator
        self.n_train = n_train
        self.batch_size = batch_size
        self.validation = validation
        self.incremental = incremental
        self.alpha = float(estimator.alpha)
        self.weight_scale = weight_scale  # mean of the raw sample weights
        self.batch_rows = batch_size
        self.penalty_total = 0.0
        self.stopped = False
        self.best_weights = None

    def set_model(self, model) -> None:
        super().set_model(model)
        dense = [layer for layer in model.layers if isinstance(layer, dk_layers.Dense)]
        self.kernels = [(layer.kernel, layer.grads["kernel"]) for layer in dense]

    def add_penalty_gradient(self, grads) -> None:
        if not self.alpha:
            return
        scale = self.alpha / (self.batch_rows * self.weight_scale)
        squares = 0.0
        for kernel, grad_kernel in self.kernels:
            squares += float(np.vdot(kernel, kernel))
            grad_kernel += scale * kernel
        self.penalty_total += 0.5 * self.alpha * squares / self.weight_scale

    def on_epoch_begin(self, epoch, logs=None):
        self.penalty_total = 0.0

    def on_train_batch_begin(self, batch, logs=None):
        start = batch * self.batch_size
        self.batch_rows = min(self.n_train, start + self.batch_size) - start

    def on_epoch_end(self, epoch, logs=None):
        est = self.estimator
        loss = float(logs["loss"]) + self.penalty_total / self.n_train
        est.n_iter_ += 1
        est.t_ += self.n_train
        est.loss_ = loss
        est.loss_curve_.append(loss)
        if est.verbose:
            print(f"Iteration {est.n_iter_}, loss = {loss:.8f}")
        if self.validation is not None:
            self._score_validation()
        else:
            if loss > est.best_loss_ - est.tol:
                est._no_improvement_count += 1
            else:
                est._no_improvement_count = 0
            est.best_loss_ = min(est.best_loss_, loss)
        optimizer = self.model.optimizer
        if est.solver == "sgd" and est.learning_rate == "invscaling" and est.optimizer is None:
            # MLP's SGD schedule: lr = lr_init / (samples seen + 1)^power_t
            optimizer.learning_rate = est.learning_rate_init / (est.t_ + 1) ** est.power_t
        if est._no_improvement_count > est.n_iter_no_change and not self.incremental:
            adaptive = est.solver == "sgd" and est.learning_rate == "adaptive"
            if adaptive and est.optimizer is None and optimizer.learning_rate > 1e-6:
                optimizer.learning_rate = optimizer.learning_rate / 5.0
                est._no_improvement_count = 0
                if est.verbose:
                    print(f"Setting learning rate to {optimizer.learning_rate:f}")
            else:
                if est.verbose:
                    what = "Validation score" if self.validation is not None else "Training loss"
                    print(
                        f"{what} did not improve more than tol={est.tol:f} for "
                        f"{est.n_iter_no_change} consecutive epochs. Stopping."
                    )
                self.stopped = True
                self.model.stop_training = True

    def _score_validation(self) -> None:
        est = self.estimator
        x_val, y_val, targets_val, weights_val = self.validation
        output = self.model.predict(x_val)
        per_sample = self.model.loss.per_sample(np, targets_val, output)
        est.validation_loss_curve_.append(float(np.average(per_sample, weights=weights_val)))
        score = est._score_output(output, y_val, weights_val)
        est.validation_scores_.append(score)
        if est.verbose:
            print(f"Validation score: {score:f}")
        if score < est.best_validation_score_ + est.tol:
            est._no_improvement_count += 1
        else:
            est._no_improvement_count = 0
        if score > est.best_validation_score_:
            est.best_validation_score_ = score
            self.best_weights = (self.model.get_weights(), self.model.state.copy())

    def on_train_end(self, logs=None):
        if self.best_weights is not None:
            weights, state = self.best_weights
            self.model.set_weights(weights)
            self.model.state[...] = state


# --- the shared estimator ---------------------------------------------------------


class _DenseBase(BaseEstimator):
    """What both estimators share: parameters, building, fitting, pickling."""

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        solver="adam",
        alpha=0.0001,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=0.001,
        power_t=0.5,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        dropout=0.0,
        batch_norm=False,
        optimizer=None,
        dtype=None,
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
        _choice("activation", self.activation, tuple(_ACTIVATIONS))
        _choice("solver", self.solver, _SOLVERS)
        _choice("learning_rate", self.learning_rate, _LEARNING_RATES)
        _number("alpha", self.alpha, 0.0)
        _number("learning_rate_init", self.learning_rate_init, 0.0, open_low=True)
        _number("tol", self.tol, 0.0)
        _number("power_t", self.power_t, 0.0)
        _number("validation_fraction", self.validation_fraction, 0.0, 1.0, open_low=True)
        _number("dropout", self.dropout, 0.0, 1.0)
        if self.dropout >= 1.0 or self.validation_fraction >= 1.0:
            raise ArgumentError("dropout and validation_fraction must be < 1")
        _integer("max_iter", self.max_iter, 1)
        _integer("n_iter_no_change", self.n_iter_no_change, 1)
        if self.batch_size != "auto":
            _integer("batch_size", self.batch_size, 1)
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
        """MLP's architecture and initialization: W, b ~ U(-r, r), r = sqrt(k / (n + m)),
        k = 2 for logistic hidden units and 6 otherwise."""
        factor = 2.0 if self.activation == "logistic" else 6.0
        widths = [n_features, *sizes, n_outputs]
        layers = []
        for i, units in enumerate(widths[1:]):
            bound = float(np.sqrt(factor / (widths[i] + units)))
            init = initializers.RandomUniform(-bound, bound)
            last = i == len(widths) - 2
            activation = output_activation if last else _ACTIVATIONS[self.activation]
            layers.append(
                dk_layers.Dense(units, activation, kernel_initializer=init, bias_initializer=init)
            )
            if not last and self.batch_norm:
                layers.append(dk_layers.BatchNormalization())
            if not last and self.dropout:
                layers.append(dk_layers.Dropout(float(self.dropout)))
        model = Sequential(layers, seed=seed, dtype=dtype.name)
        model.build(n_features)
        return model

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
        """Train ``self.model_`` with ``Sequential.fit`` under MLP's rule; ``targets`` are
        the network's targets, ``y_original`` what ``score`` compares with."""
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
        training = _MLPTraining(self, n, batch_size, validation, incremental, weight_scale)
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


class DenseClassifier(ClassifierMixin, _DenseBase):
    """``MLPClassifier`` on densekit: softmax for multiclass, one logistic output for
    binary, independent logistic outputs for multi-label ``y`` (2-D 0/1).

    Adds ``dropout`` (a Dropout of that rate after each hidden layer),
    ``batch_norm`` (a BatchNormalization after each hidden layer's activation),
    ``class_weight`` (dict or 'balanced', multiplied into ``sample_weight``),
    ``optimizer`` (a densekit optimizer or name, overriding ``solver``),
    ``dtype`` (None: the input's float dtype, as MLP; or 'float32' / 'float64')
    and ``validation_loss_curve_`` (with ``early_stopping``: the loss
    on the held-out rows after each epoch, without the penalty). The fitted
    network is ``model_``, a densekit Sequential (save it, export it to ONNX).
    """

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        solver="adam",
        alpha=0.0001,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=0.001,
        power_t=0.5,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        dropout=0.0,
        batch_norm=False,
        class_weight=None,
        optimizer=None,
        dtype=None,
    ):
        super().__init__(
            hidden_layer_sizes,
            activation,
            solver=solver,
            alpha=alpha,
            batch_size=batch_size,
            learning_rate=learning_rate,
            learning_rate_init=learning_rate_init,
            power_t=power_t,
            max_iter=max_iter,
            shuffle=shuffle,
            random_state=random_state,
            tol=tol,
            verbose=verbose,
            warm_start=warm_start,
            momentum=momentum,
            nesterovs_momentum=nesterovs_momentum,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            beta_1=beta_1,
            beta_2=beta_2,
            epsilon=epsilon,
            n_iter_no_change=n_iter_no_change,
            dropout=dropout,
            batch_norm=batch_norm,
            optimizer=optimizer,
            dtype=dtype,
        )
        self.class_weight = class_weight

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags

    def _output_activation(self) -> str:
        return "softmax" if self._label_binarizer.y_type_ == "multiclass" else "sigmoid"

    def _out_activation_name(self) -> str:
        return "softmax" if self._label_binarizer.y_type_ == "multiclass" else "logistic"

    def _loss(self) -> dk_losses.Loss:
        kind = self._label_binarizer.y_type_
        if kind == "multiclass":
            return dk_losses.CategoricalCrossentropy()
        if kind == "multilabel-indicator":
            return SummedBinaryCrossentropy()
        return dk_losses.BinaryCrossentropy()

    def _stratify(self) -> bool:
        return self._label_binarizer.y_type_ != "multilabel-indicator"

    def _validate(self, x, y, sample_weight, reset: bool):
        x, y = validate_data(
            self, x, y, reset=reset, multi_output=True, dtype=[np.float64, np.float32]
        )
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, x, dtype=np.float64)
        if self.class_weight is not None:
            class_weights = compute_sample_weight(self.class_weight, y)
            sample_weight = (
                class_weights if sample_weight is None else sample_weight * class_weights
            )
        return x, y, sample_weight

    def _targets(self, y) -> np.ndarray:
        return self._label_binarizer.transform(y)

    def fit(self, X, y, sample_weight=None) -> DenseClassifier:
        """Fit to ``X`` (n, features) and labels ``y`` (n,) or a 0/1 indicator (n, labels)."""
        x, y, sample_weight = self._validate(X, y, sample_weight, reset=True)
        if not (self.warm_start and hasattr(self, "model_")):
            self._set_classes(y, classes=None)
        elif set(np.unique(y) if y.ndim == 1 else []) - set(self.classes_):
            raise InputError(
                f"warm_start can only be used where y has the same classes as in the previous "
                f"call to fit. Previously got {self.classes_}, y has {np.unique(y)}"
            )
        return self._fit(x, self._targets(y), y, sample_weight, incremental=False)

    def partial_fit(self, X, y, sample_weight=None, classes=None) -> DenseClassifier:
        """One epoch over ``(X, y)``; the first call needs ``classes`` (all labels)."""
        first = not hasattr(self, "classes_")
        if first and classes is None:
            raise InputError("classes must be passed on the first call to partial_fit.")
        x, y, sample_weight = self._validate(X, y, sample_weight, reset=first)
        if first:
            self._set_classes(y, classes)
        elif classes is not None and not np.array_equal(np.unique(classes), self.classes_):
            raise InputError(
                f"`classes={np.unique(classes)!r}` is not the same as on the first call to "
                f"partial_fit, which was {self.classes_!r}"
            )
        unseen = set(np.unique(y) if y.ndim == 1 else []) - set(self.classes_)
        if unseen:
            raise InputError(f"y has labels {sorted(unseen)} not in classes {self.classes_!r}")
        return self._fit(x, self._targets(y), y, sample_weight, incremental=True)

    def _set_classes(self, y, classes) -> None:
        binarizer = LabelBinarizer()
        binarizer.fit(y if classes is None else np.asarray(classes))
        if binarizer.y_type_ != "multilabel-indicator" and len(binarizer.classes_) < 2:
            raise InputError(
                f"DenseClassifier needs at least 2 classes to train, but y has only one class: "
                f"{binarizer.classes_[0]!r}"
            )
        self._label_binarizer = binarizer
        self.classes_ = binarizer.classes_

    def predict(self, X) -> np.ndarray:
        """The most probable class (multi-label: every label with probability > 0.5)."""
        output = self._forward(X)
        return self._labels_from_output(output)

    def _labels_from_output(self, output):
        if self.n_outputs_ == 1:
            output = output.ravel()
        return self._label_binarizer.inverse_transform(output)

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities (n, classes); binary: ``[1 - p, p]`` from the one output."""
        output = self._forward(X)
        if self.n_outputs_ == 1 and self._label_binarizer.y_type_ != "multilabel-indicator":
            return np.hstack([1.0 - output, output])
        return output

    def predict_log_proba(self, X) -> np.ndarray:
        """``log(predict_proba(X))``."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def _score_output(self, output, y, sample_weight) -> float:
        return float(
            accuracy_score(y, self._labels_from_output(output), sample_weight=sample_weight)
        )


class DenseRegressor(RegressorMixin, _DenseBase):
    """``MLPRegressor`` on densekit: a linear output (``exp`` of it with
    ``loss='poisson'``), one column per target, MLP's half squared error by default.

    ``loss`` is 'squared_error' (reported as ``0.5 * mean((p - y)^2)``, MLP's),
    'absolute_error', 'huber' (delta 1) or 'poisson'. Adds ``dropout``,
    ``batch_norm``, ``optimizer``, ``dtype`` and ``validation_loss_curve_``, as
    :class:`DenseClassifier` does; the fitted network is ``model_``.
    """

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        loss="squared_error",
        solver="adam",
        alpha=0.0001,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=0.001,
        power_t=0.5,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        dropout=0.0,
        batch_norm=False,
        optimizer=None,
        dtype=None,
    ):
        super().__init__(
            hidden_layer_sizes,
            activation,
            solver=solver,
            alpha=alpha,
            batch_size=batch_size,
            learning_rate=learning_rate,
            learning_rate_init=learning_rate_init,
            power_t=power_t,
            max_iter=max_iter,
            shuffle=shuffle,
            random_state=random_state,
            tol=tol,
            verbose=verbose,
            warm_start=warm_start,
            momentum=momentum,
            nesterovs_momentum=nesterovs_momentum,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            beta_1=beta_1,
            beta_2=beta_2,
            epsilon=epsilon,
            n_iter_no_change=n_iter_no_change,
            dropout=dropout,
            batch_norm=batch_norm,
            optimizer=optimizer,
            dtype=dtype,
        )
        self.loss = loss

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def _output_activation(self) -> str:
        return "linear"

    def _out_activation_name(self) -> str:
        return "exp" if self.loss == "poisson" else "identity"

    def _loss(self) -> dk_losses.Loss:
        _choice("loss", self.loss, _REGRESSION_LOSSES)
        return {
            "squared_error": HalfSquaredError,
            "absolute_error": dk_losses.MeanAbsoluteError,
            "huber": dk_losses.Huber,
            "poisson": lambda: dk_losses.Poisson(log_input=True),
        }[self.loss]()

    def _stratify(self) -> bool:
        return False

    def _validate(self, x, y, sample_weight, reset: bool):
        x, y = validate_data(
            self,
            x,
            y,
            reset=reset,
            multi_output=True,
            y_numeric=True,
            dtype=[np.float64, np.float32],
        )
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, x, dtype=np.float64)
        return x, y, sample_weight

    def _targets(self, y) -> np.ndarray:
        return y.reshape(-1, 1) if y.ndim == 1 else y

    def fit(self, X, y, sample_weight=None) -> DenseRegressor:
        """Fit to ``X`` (n, features) and targets ``y`` (n,) or (n, outputs)."""
        _choice("loss", self.loss, _REGRESSION_LOSSES)
        x, y, sample_weight = self._validate(X, y, sample_weight, reset=True)
        self._y_ndim = y.ndim
        return self._fit(x, self._targets(y), y, sample_weight, incremental=False)

    def partial_fit(self, X, y, sample_weight=None) -> DenseRegressor:
        """One epoch over ``(X, y)``, keeping the weights and optimizer state."""
        first = not hasattr(self, "model_")
        x, y, sample_weight = self._validate(X, y, sample_weight, reset=first)
        if first:
            self._y_ndim = y.ndim
        return self._fit(x, self._targets(y), y, sample_weight, incremental=True)

    def predict(self, X) -> np.ndarray:
        """Predicted targets: (n,) for a 1-D ``y`` at fit, else (n, outputs)."""
        return self._prediction(self._forward(X))

    def _prediction(self, output):
        if self.loss == "poisson":
            output = np.exp(output)
        return output.ravel() if self._y_ndim == 1 else output

    def _score_output(self, output, y, sample_weight) -> float:
        return float(r2_score(y, self._prediction(output), sample_weight=sample_weight))


# --- parameter checks ---------------------------------------------------------------


def _choice(name: str, value: Any, options: tuple) -> None:
    if value not in options:
        raise ArgumentError(f"{name} must be one of {', '.join(map(repr, options))}, got {value!r}")


def _number(name, value, low, high=np.inf, open_low=False) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value):
        raise ArgumentError(f"{name} must be a finite number, got {value!r}")
    if value < low or value > high or (open_low and value == low):
        raise ArgumentError(
            f"{name} must be in {'(' if open_low else '['}{low}, {high}], got {value}"
        )


def _integer(name, value, low) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise ArgumentError(f"{name} must be an integer >= {low}, got {value!r}")


def expected_failed_checks(estimator) -> dict[str, str]:
    """The ``check_estimator`` checks this estimator is expected to fail, with reasons.

    Pass it as ``check_estimator(est, expected_failed_checks=expected_failed_checks(est))``
    (or to ``parametrize_with_checks``).
    """
    fixed = estimator._fixed_dtype()
    if fixed is not None and fixed == np.float32:
        # the checks pass float64 data; MLP (and dtype=None) would compute in float64
        reason = (
            "dtype='float32' fixed: float32 results agree with each other to a few float32 "
            "ulps (eps = 1.2e-7; which ones depends on the CPU's BLAS kernel), the check "
            "asks for {}; with dtype=None (the default) or 'float64' it passes"
        )
        return {
            "check_sample_weight_equivalence_on_dense_data": reason.format("rtol=1e-7"),
            "check_methods_subset_invariance": reason.format("atol=1e-7"),
        }
    return {}
