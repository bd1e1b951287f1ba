"""Reading the metric a callback monitors: its direction (``mode``) and its value in the logs."""

from __future__ import annotations

from ..errors import ArgumentError


def mode_for(monitor: str, mode: str) -> str:
    """Whether ``monitor`` improves going down (``"min"``) or up (``"max"``).

    Parameters
    ----------
    monitor
        The metric's name, as the logs say it.
    mode
        ``"min"``, ``"max"``, or ``"auto"``: max for accuracy and AUC, min otherwise.

    Returns
    -------
    str
        ``"min"`` or ``"max"``.

    Raises
    ------
    ArgumentError
        If ``mode`` is none of the three.
    """
    if mode not in ("auto", "min", "max"):
        raise ArgumentError(f"mode must be 'auto', 'min' or 'max', got {mode!r}")
    if mode != "auto":
        return mode
    return "max" if monitor.endswith(("accuracy", "acc", "auc")) else "min"


def monitored(owner: str, monitor: str, logs: dict | None) -> float:
    """``logs[monitor]``, or an error naming the metrics that do exist.

    Parameters
    ----------
    owner
        The callback's name, as the error says it.
    monitor
        The metric's name.
    logs
        The epoch's metrics; None where there are none.

    Returns
    -------
    float
        The metric's value.

    Raises
    ------
    ArgumentError
        If ``logs`` has no ``monitor``.
    """
    logs = logs or {}
    if monitor not in logs:
        raise ArgumentError(
            f"{owner} monitors {monitor!r}, which is not among the metrics: "
            f"{', '.join(sorted(logs)) or 'none'}"
            + (" (val_* metrics need validation_split or validation_data)" if logs else "")
        )
    return float(logs[monitor])
