"""Batched evaluation and prediction: the model's forward pass over bounded batches."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ..backend import matmul_precision
from ..backend import threads as threads_module
from ..validation import check_batch_size, check_x
from .inputs import check_feature_names

if TYPE_CHECKING:
    from ..model import Sequential

DEFAULT_PREDICT_BATCH_SIZE = 1024  # large enough for BLAS, small enough to bound memory


def evaluate_arrays(
    model: Sequential, x: Any, y: Any, sample_weight: Any, batch_size: int | None
) -> dict[str, float]:
    """Loss (with weight penalties) and metrics over checked, prepared arrays.

    Parameters
    ----------
    model
        A built, compiled model.
    x
    y
    sample_weight
        Checked rows, targets shaped like the output, optional per-row weights.
    batch_size
        Rows a forward pass (:data:`DEFAULT_PREDICT_BATCH_SIZE` when None).

    Returns
    -------
    dict
        ``{"loss": ..., metric: ...}``.
    """
    xp = model.backend.xp
    batch_size = check_batch_size(batch_size, DEFAULT_PREDICT_BATCH_SIZE)
    metrics = model.compiled_metrics()
    totals = [0.0] * (1 + len(metrics))
    with matmul_precision(model.backend, model.precision):
        for start in range(0, x.shape[0], batch_size):
            stop = min(x.shape[0], start + batch_size)
            xb, yb = model.backend.asarray(x[start:stop]), model.backend.asarray(y[start:stop])
            output = model.forward(xb, training=False)
            if model.fuses_loss:
                per_sample = model.loss.per_sample_from_logits(
                    xp, yb, model.layers[-1].pre_activation
                )
            else:
                per_sample = model.loss.per_sample(xp, yb, output)
            if sample_weight is not None:
                per_sample = per_sample * model.backend.asarray(sample_weight[start:stop])
            totals[0] += float(per_sample.sum())
            for k, metric in enumerate(metrics, start=1):
                totals[k] = totals[k] + metric.batch_total(xp, yb, output)
    results = {"loss": float(totals[0] / x.shape[0] + model.regularization_penalty())}
    for k, metric in enumerate(metrics, start=1):
        results[metric.name] = metric.value(totals[k], x.shape[0])
    return results


def predict(model: Sequential, x: Any, batch_size: int | None, threads: int | None) -> np.ndarray:
    """``Sequential.predict``: outputs for ``x``, ``batch_size`` rows at a time.

    Parameters
    ----------
    model
        A built model.
    x
        Inputs ``(samples, features)``.
    batch_size
        Rows a forward pass (:data:`DEFAULT_PREDICT_BATCH_SIZE` when None).
    threads
        A BLAS thread limit for this call.

    Returns
    -------
    numpy.ndarray
        The outputs, a new array.

    Raises
    ------
    NotBuiltError, InputError
        For an unbuilt model or bad input.
    """
    model.require_built("predict")
    check_feature_names(model, x)
    x = check_x(x, model.dtype, model.input_dim)
    batch_size = check_batch_size(batch_size, DEFAULT_PREDICT_BATCH_SIZE)
    # no automatic one-thread limit here, unlike fit: OpenBLAS already runs a one-row
    # product on one thread, and switching its count costs more (measured 9 µs a call)
    threads_module.apply_environment()
    restore_threads = threads_module.limit(threads_module.check_threads(threads))
    try:
        with matmul_precision(model.backend, model.precision):
            if x.shape[0] <= batch_size:  # one batch (batch-1 latency): no result buffer to fill
                output = model.forward(model.backend.asarray(x), training=False)
                return np.array(model.backend.to_numpy(output))  # a copy: it is a work buffer
            result = np.empty((x.shape[0], model.output_dim), dtype=model.dtype)
            for start in range(0, x.shape[0], batch_size):
                stop = min(x.shape[0], start + batch_size)
                output = model.forward(model.backend.asarray(x[start:stop]), training=False)
                result[start:stop] = model.backend.to_numpy(output)
            return result
    finally:
        restore_threads()
