"""MLP's per-epoch rule around ``Sequential.fit``: the L2 penalty, the loss curve, stopping."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .. import layers as dk_layers
from ..callbacks import Callback

if TYPE_CHECKING:
    from ..model import Sequential
    from .base import DenseBase


class MLPTraining(Callback):
    """MLP's per-epoch bookkeeping around ``Sequential.fit``.

    Adds the L2 penalty's gradient ``alpha * W / n_batch`` to each kernel (as a
    gradient hook), records ``loss_curve_`` with the penalty
    ``0.5 * alpha * sum(W^2) / n_batch`` included, applies the ``tol`` /
    ``n_iter_no_change`` rule and keeps the best weights under early stopping.

    Parameters
    ----------
    estimator
        The estimator being fitted (its parameters and fitted attributes).
    n_train
        Training rows.
    batch_size
        Rows per batch.
    validation
        ``(x, y, targets, sample_weight)`` held out under early stopping.
    incremental
        A ``partial_fit`` epoch (no stopping).
    weight_scale
        The mean of the raw sample weights.
    """

    def __init__(
        self,
        estimator: DenseBase,
        n_train: int,
        batch_size: int,
        validation: tuple | None,
        incremental: bool,
        weight_scale: float = 1.0,
    ):
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

    def set_model(self, model: Sequential) -> None:
        """Attach to ``model`` and keep its Dense kernels and their gradient views."""
        super().set_model(model)
        dense = [layer for layer in model.layers if isinstance(layer, dk_layers.Dense)]
        self.kernels = [(layer.kernel, layer.grads["kernel"]) for layer in dense]

    def add_penalty_gradient(self, grads: Any) -> None:
        """Add ``alpha * W / (n_batch * weight_scale)`` to each kernel's gradient (a hook).

        Parameters
        ----------
        grads
            The model's flat gradient buffer (the kernels' views are used).
        """
        if not self.alpha:
            return
        scale = self.alpha / (self.batch_rows * self.weight_scale)
        squares = 0.0
        for kernel, grad_kernel in self.kernels:
            squares += float(np.vdot(kernel, kernel))
            grad_kernel += scale * kernel
        self.penalty_total += 0.5 * self.alpha * squares / self.weight_scale

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        """Start the epoch's penalty sum at 0."""
        self.penalty_total = 0.0

    def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        """Note the batch's rows (the last batch may be short) for the penalty's scale."""
        start = batch * self.batch_size
        self.batch_rows = min(self.n_train, start + self.batch_size) - start

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        """Record the loss (with the penalty), score the held-out rows and apply MLP's stop."""
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

    def restore_best(self) -> None:
        """Restore the best weights under early stopping (after the last epoch's fit call)."""
        if self.best_weights is not None:
            weights, state = self.best_weights
            self.model.set_weights(weights)
            self.model.state[...] = state
