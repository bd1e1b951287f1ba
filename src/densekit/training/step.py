"""One loss-and-gradient step, shared by every training path (CPU, GPU, MPI, Dask).

Forward, the loss and its gradient dL/d(output) (dL/dz when the output activation fuses
with a cross-entropy: ``p - y``), backward into the model's flat gradient, then the
weight penalties' gradients. The CPU reads the batch loss back as a mean at once; the
GPU keeps the batch's loss *sum* on the device and reads it only every few batches.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from .. import losses as losses_module
from ..errors import TrainingError
from ..validation import check_same_length, check_sample_weight, check_x
from .inputs import batch_targets, check_feature_names

if TYPE_CHECKING:
    from ..model import Sequential


def loss_and_gradient(
    model: Sequential,
    x: Any,
    y: Any,
    sample_weight: Any = None,
    *,
    training: bool = True,
    input_grad: bool = False,
    summed: bool = False,
) -> tuple[Any, Any, Any]:
    """Loss (with penalties) and the flat gradient ``model.grads`` for one batch.

    Parameters
    ----------
    model
        A built, compiled model.
    x
    y
    sample_weight
        The batch, on the model's backend and prepared (targets shaped like the output).
    training
        Whether the forward pass trains (dropout, batch statistics).
    input_grad
        Whether to backpropagate to the input too (returned as ``dx``).
    summed
        False: the loss is the batch mean, a float. True: the sum over the rows, plus
        rows x penalty, left on the device (the GPU's loop reads it back seldom).

    Returns
    -------
    tuple
        ``(loss, output, dx)``; ``dx`` is None unless ``input_grad``.
    """
    xp = model.backend.xp
    output = model.forward(x, training)
    fused = model.fuses_loss
    if summed:
        value, grad = summed_loss_and_gradient(model, output, y, sample_weight, fused)
    else:
        value, grad = mean_loss_and_gradient(model, y, output, sample_weight, fused)
    dx = model.backward(grad, through_last_activation=not fused, input_grad=input_grad)
    for weight, grad_weight, regularizer in model.regularized:
        regularizer.add_gradient(xp, weight, grad_weight)
    if model.regularized:
        if summed:
            value = value + model.regularization_penalty() * x.shape[0]
        else:
            value += model.regularization_penalty()
    return value, output, dx


def mean_loss_and_gradient(model: Sequential, y: Any, output: Any, sample_weight: Any, fused: bool):
    """The batch's mean loss (a float) and dL/d(output), or dL/dz when ``fused``.

    Parameters
    ----------
    model
        The model whose loss (and CPU kernels) to use.
    y
    output
    sample_weight
        Targets, the forward pass's output and optional per-row weights.
    fused
        Whether the gradient is taken from the last layer's logits.

    Returns
    -------
    tuple
        ``(mean loss, gradient)``, reduced Keras' way (weights times 1/rows).
    """
    xp, loss, n = model.backend.xp, model.loss, output.shape[0]
    z = model.layers[-1].pre_activation if fused else None
    if sample_weight is None:  # the common case: the loss may fuse value and gradient
        if fused:
            if type(loss) in losses_module.COMPILED_CROSSENTROPY:
                return model.ops.cross_entropy_from_logits(loss, y, z, output)
            return loss.mean_and_gradient_from_logits(xp, y, z, output)
        return loss.mean_and_gradient(xp, y, output)
    if fused:
        per_sample = loss.per_sample_from_logits(xp, y, z)
        grad = loss.gradient_from_logits(xp, y, z, output)
    else:
        per_sample = loss.per_sample(xp, y, output)
        grad = loss.gradient(xp, y, output)
    grad *= (sample_weight / n)[:, None]
    value = float((per_sample * sample_weight).sum() / n)
    return value, grad


def summed_loss_and_gradient(
    model: Sequential, output: Any, y: Any, sample_weight: Any, fused: bool
):
    """The batch's loss *sum* (on the device) and dL/d(output), or dL/dz when ``fused``.

    Softmax + categorical cross-entropy and mean squared error without sample weights
    take one fused device kernel each where the backend has them; the rest the generic
    formulas.

    Parameters
    ----------
    model
        The model whose loss and backend kernels to use.
    output
    y
    sample_weight
        The forward pass's output, the targets and optional per-row weights.
    fused
        Whether the gradient is taken from the last layer's logits.

    Returns
    -------
    tuple
        ``(loss sum, gradient)``.
    """
    xp, loss, rows = model.backend.xp, model.loss, output.shape[0]
    kernel = device_fused_loss(model, output, y, sample_weight)
    if kernel is not None:
        return kernel
    if fused:
        z = model.layers[-1].pre_activation
        per_sample = loss.per_sample_from_logits(xp, y, z)
        grad = loss.gradient_from_logits(xp, y, z, output)
    else:
        per_sample = loss.per_sample(xp, y, output)
        grad = loss.gradient(xp, y, output)
    if sample_weight is None:
        grad *= 1.0 / rows
        return per_sample.sum(), grad
    grad *= (sample_weight / rows)[:, None]
    return (per_sample * sample_weight).sum(), grad


def device_fused_loss(model: Sequential, output: Any, y: Any, sample_weight: Any):
    """(loss sum, dL/d(output or logits)) from one fused device kernel, or None.

    Softmax + categorical cross-entropy (from the logits, the fused gradient
    ``(p - y) / n``) and mean squared error, without sample weights; the other
    cases take the generic path.

    Parameters
    ----------
    model
        The model; its backend's kernels (None on the CPU) do the work.
    output
    y
    sample_weight
        The forward pass's output, the targets and optional per-row weights.

    Returns
    -------
    tuple or None
        ``(loss sum, gradient)``, or None where no kernel applies.
    """
    kernels = model.backend.kernels
    if kernels is None or sample_weight is not None:
        return None
    rows, name = output.shape[0], model.loss.name
    last = model.layers[-1]
    grad = last.buffer("loss_grad", output.shape, output.dtype)
    if model.fuses_loss and last.activation.name == "softmax":
        per_row = last.buffer("loss_rows", (rows,), output.dtype)
        kernels.softmax_crossentropy(last.pre_activation, output, y, 1.0 / rows, grad, per_row)
        return per_row.sum(), grad
    if name == "mean_squared_error":
        return kernels.squared_error(output, y, 2.0 / (rows * output.shape[1]), grad), grad
    return None


def train_step(model: Sequential, x: Any, y: Any, sample_weight: Any = None) -> float:
    """One optimizer step on a checked, prepared batch; the batch loss (with penalties).

    A training forward pass updates non-trainable state (BatchNormalization's moving
    statistics) before the loss is known, so the state is copied first and put back
    when the loss is not finite; the copy is of the small state buffer only, into a
    buffer kept between steps, and is skipped when the model has no state.

    Parameters
    ----------
    model
        A built, compiled model.
    x
    y
    sample_weight
        The batch on the model's backend, targets shaped like the output.

    Returns
    -------
    float
        The batch's mean loss; not finite only under TerminateOnNaN (the step skipped).

    Raises
    ------
    TrainingError
        When the loss is not finite; the weights are those from before the step.
    """
    state = model.state
    if state.size:
        model.backend.xp.copyto(model.state_before_step, state)
    value, output, _ = loss_and_gradient(model, x, y, sample_weight)
    if not math.isfinite(value):
        if state.size:
            state[...] = model.state_before_step
        if model.stop_on_nonfinite:  # TerminateOnNaN: skip the step and stop
            model.stop_training = True
            model.last_output = output
            return value
        # checked only here, off the hot path: a step that overflowed the weights
        # themselves (lr * grad beyond the dtype's range) is reported, not hidden
        weights_finite = bool(model.backend.xp.isfinite(model.params).all())
        kept = (
            "the model keeps the weights from before this step"
            if weights_finite
            else "the weights themselves overflowed at the previous step and are not finite"
        )
        raise TrainingError(
            f"the loss became {value} at optimizer step {model.optimizer.iterations + 1}; "
            f"training stopped and {kept}. "
            "Try a lower learning rate, gradient clipping (clipnorm=1.0) or scaled inputs."
        )
    model.apply_gradients()
    model.last_output = output
    return value


def train_on_batch(model: Sequential, x: Any, y: Any, sample_weight: Any = None) -> float:
    """``Sequential.train_on_batch``: check the batch as fit does, then :func:`train_step`.

    Parameters
    ----------
    model
        A built, compiled model.
    x
    y
    sample_weight
        The batch as the user gives it (``y`` may be shaped like the output already).

    Returns
    -------
    float
        The batch loss (with penalties).

    Raises
    ------
    InputError
        For bad input, before the step.
    TrainingError
        When the loss is not finite; the layers' generators are put back too.
    """
    model.require_compiled("train on a batch")
    model.require_built("train on a batch")
    check_feature_names(model, x)
    x = check_x(x, model.dtype, model.input_dim)
    y = batch_targets(model, y)
    check_same_length(x, y)
    sample_weight = check_sample_weight(sample_weight, len(x), model.dtype)
    to_device = model.backend.asarray
    weights = None if sample_weight is None else to_device(sample_weight)
    layer_rngs = {id(layer.rng): layer.rng for layer in model.layers if layer.rng is not None}
    states = [(rng, rng.bit_generator.state) for rng in layer_rngs.values()]
    try:
        return model.train_step(to_device(x), to_device(y), weights)
    except TrainingError:
        for rng, state in states:
            rng.bit_generator.state = state
        raise
