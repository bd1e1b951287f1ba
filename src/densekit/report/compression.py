"""Did a compression pay off? Size, work, speed and accuracy of two models side by side.

``compression_report(before, after, x, y)`` measures, for each model:
parameters (stored numbers; for a pruned model also the nonzero ones), bytes
on disk (the model saved to a temporary file), FLOPs per sample
(``2 * n * m`` per Dense product, and ``2 * nnz`` counting only nonzero
weights), latency of ``predict`` on one batch of ``batch_size`` rows (best of
``repeats``, on this machine) and accuracy on ``(x, y)``.
"""

from __future__ import annotations

import math
import os
import tempfile
from typing import Any

import numpy as np

from ..errors import ArgumentError
from ..prune.timing import best_time, check_repeats


def _kernels(model) -> list[np.ndarray]:
    from ..layers import Dense
    from ..quantize.model import QuantizedDense, QuantizedModel

    if isinstance(model, QuantizedModel):
        return [op.float_kernel() for op in model.ops if isinstance(op, QuantizedDense)]
    return [
        model.backend.to_numpy(layer.kernel) for layer in model.layers if isinstance(layer, Dense)
    ]


def file_bytes(model: Any) -> int:
    """Size of the model's file as ``model.save`` writes it (optimizer state excluded).

    Parameters
    ----------
    model
        A model or a quantized model.

    Returns
    -------
    int
        The file's size in bytes.
    """
    from ..quantize.model import QuantizedModel

    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.safetensors")
        if isinstance(model, QuantizedModel):
            model.save(path)
        else:
            model.save(path, include_optimizer=False)
        return os.path.getsize(path)


def latency(model: Any, x: np.ndarray, batch_size: int, repeats: int = 10) -> float:
    """Best-of-``repeats`` seconds for ``predict`` on one batch of ``batch_size`` rows.

    Parameters
    ----------
    model
        The model to time.
    x
        The rows; the first ``batch_size`` form the batch.
    batch_size
        The batch's size.
    repeats
        How many timings to take the best of.

    Returns
    -------
    float
        Seconds.
    """
    batch = np.ascontiguousarray(x[:batch_size])
    return best_time(lambda: model.predict(batch, batch_size=batch_size), repeats)


def measure(
    model: Any, x: np.ndarray, y: Any, batch_size: int = 256, repeats: int = 10
) -> dict[str, Any]:
    """The numbers of one model (see the module docstring).

    Parameters
    ----------
    model
        A model or a quantized model.
    x
        Inputs, for latency and accuracy.
    y
        Their targets.
    batch_size
        Rows in the timed batch.
    repeats
        Timings to take the best of.

    Returns
    -------
    dict
        ``params``, ``nonzero_params``, ``file_bytes``, ``flops``, ``nonzero_flops``,
        ``latency_ms``, ``rows_per_second`` and ``accuracy``.
    """
    from ..quantize.ptq import accuracy

    kernels = _kernels(model)
    seconds = latency(model, x, batch_size, repeats)
    return {
        "params": int(model.count_params()),
        "nonzero_params": int(model.count_params() - sum(int((k == 0).sum()) for k in kernels)),
        "file_bytes": file_bytes(model),
        "flops": int(sum(2 * k.size for k in kernels)),
        "nonzero_flops": int(sum(2 * np.count_nonzero(k) for k in kernels)),
        "latency_ms": seconds * 1e3,
        "rows_per_second": batch_size / seconds,
        "accuracy": accuracy(model, x, y),
    }


class CompressionReport(dict):
    """``{"before": {...}, "after": {...}, "ratio": {...}}`` with a printable ``table()``."""

    ROWS = (
        ("params", "parameters", "{:,}"),
        ("nonzero_params", "nonzero parameters", "{:,}"),
        ("file_bytes", "bytes on disk", "{:,}"),
        ("flops", "FLOPs / sample", "{:,}"),
        ("nonzero_flops", "nonzero FLOPs / sample", "{:,}"),
        ("latency_ms", "latency (ms / batch)", "{:.3f}"),
        ("rows_per_second", "rows / second", "{:,.0f}"),
        ("accuracy", "accuracy", "{:.4f}"),
    )

    def table(self) -> str:
        """The report as a text table, one row per measure, with the after/before ratio."""
        header = f"{'':<26}{'before':>16}{'after':>16}{'after/before':>14}"
        lines = [f"batch size {self['batch_size']}", header]
        for key, label, fmt in self.ROWS:
            before, after = self["before"][key], self["after"][key]
            ratio = self["ratio"][key]
            lines.append(
                f"{label:<26}{fmt.format(before):>16}{fmt.format(after):>16}{ratio:>14.3f}"
            )
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()


def compression_report(
    before: Any, after: Any, x: Any, y: Any, batch_size: int = 256, repeats: int = 10
) -> CompressionReport:
    """Parameters, bytes on disk, FLOPs, latency and accuracy of ``before`` and ``after``.

    Parameters
    ----------
    before
        The original model.
    after
        Its compressed copy (pruned, or quantized).
    x
        Inputs for latency and accuracy, with ``before``'s feature count.
    y
        Their targets.
    batch_size
        Rows in the timed batch, >= 1.
    repeats
        Timings of each model to take the best of.

    Returns
    -------
    CompressionReport
        ``{"before": ..., "after": ..., "ratio": ..., "batch_size": ...}``; printing it
        shows the table.

    Raises
    ------
    ArgumentError
        If ``batch_size`` is not a positive integer.

    Examples
    --------
    >>> pruned = dk.prune.magnitude(model.copy(), sparsity=0.8)  # magnitude prunes in place
    >>> print(dk.compression_report(model, pruned, x_test, y_test))  # doctest: +ELLIPSIS
    batch size ...
    ...before...after...after/before
    parameters ...
    ...accuracy...
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ArgumentError(f"batch_size must be a positive integer, got {batch_size!r}")
    repeats = check_repeats(repeats)
    from ..validation import check_same_length, check_x

    x = check_x(x, np.float32, before.input_dim)
    check_same_length(x, np.asarray(y))
    sides = {
        "before": measure(before, x, y, batch_size, repeats),
        "after": measure(after, x, y, batch_size, repeats),
    }
    ratio = {
        key: (sides["after"][key] / sides["before"][key]) if sides["before"][key] else math.nan
        for key in sides["before"]
    }
    return CompressionReport(**sides, ratio=ratio, batch_size=batch_size)


__all__ = ["compression_report", "CompressionReport", "measure", "file_bytes", "latency"]
