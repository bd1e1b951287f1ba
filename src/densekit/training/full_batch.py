"""``Sequential.fit`` with a full-batch optimizer (:class:`densekit.optimizers.LBFGS`).

Each evaluation is the loss over every training row and its gradient, written into the
model's flat gradient buffer by the one backprop every loop uses; the gradient hooks
run on it (a pruning mask, say). Each L-BFGS iteration is reported to the callbacks as
an epoch, with the validation loss when there is validation data.
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Any

from ..errors import TrainingError
from .epoch import print_epoch

if TYPE_CHECKING:
    from ..callbacks import CallbackList
    from ..model import Sequential


def run(
    model: Sequential,
    x: Any,
    y: Any,
    sample_weight: Any,
    epochs: int,
    validation: tuple | None,
    callbacks: CallbackList,
    verbose: int,
) -> None:
    """Minimize the full-batch loss for up to ``epochs - model.initial_epoch`` iterations.

    Parameters
    ----------
    model
        A built model compiled with a full-batch optimizer.
    x
    y
    sample_weight
        The checked training rows, targets (shaped like the output) and weights.
    epochs
        The epoch index to stop before: each iteration is an epoch.
    validation
        ``(x, y, sample_weight)`` held out, evaluated after each iteration, or None.
    callbacks
        The fit's callbacks (their ``on_train_begin`` has run).
    verbose
        2 prints a line per iteration.

    Raises
    ------
    TrainingError
        If the loss is NaN or infinite where the method ends.
    """
    first = model.initial_epoch
    if epochs <= first:
        return
    to_device = model.backend.asarray
    x, y = to_device(x), to_device(y)
    w = None if sample_weight is None else to_device(sample_weight)

    def loss_and_gradient():
        loss = model.compute_gradients(x, y, w)[0]
        for hook in model.gradient_hooks:
            hook(model.grads)
        return loss, model.grads

    started = [time.perf_counter()]

    def on_iteration(iteration: int, loss: float) -> None:
        epoch = first + iteration
        callbacks.on_epoch_begin(epoch, {})
        logs = {"loss": loss}
        if model.metric_names:
            logs.update(model.evaluate_arrays(x, y, w, batch_size=None))
            logs["loss"] = loss
        if validation is not None:
            val_logs = model.evaluate_arrays(*validation, batch_size=None)
            logs.update({f"val_{key}": value for key, value in val_logs.items()})
        if verbose == 2:
            print_epoch(epoch, epochs, logs, time.perf_counter() - started[0])
        started[0] = time.perf_counter()
        callbacks.on_epoch_end(epoch, logs)
        if model.stop_training:
            raise StopIteration

    model.stop_training = False
    result = model.optimizer.minimize(model.params, loss_and_gradient, epochs - first, on_iteration)
    if not math.isfinite(result.fun):
        raise TrainingError(
            f"L-BFGS ended with the loss {result.fun} ({result.message}); "
            "scale the inputs, or use a smaller network or a stochastic optimizer"
        )
