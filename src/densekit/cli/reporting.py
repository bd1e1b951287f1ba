"""The HTML report ``train --report`` and ``tune --report`` write."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def write_report(
    path: str,
    model: Any,
    history: Any,
    x: np.ndarray,
    y: np.ndarray,
    preprocessor: Any,
    tuning: Any = None,
) -> Path:
    """Write the HTML report and return its absolute path (the caller prints it).

    Parameters
    ----------
    path
        Where to write the report.
    model
        The trained model.
    history
        Its training History.
    x
        The encoded rows the report evaluates on.
    y
        Their encoded targets.
    preprocessor
        The fitted TabularPreprocessor: feature and class names.
    tuning
        The search result of ``densekit tune``, or None.

    Returns
    -------
    pathlib.Path
        The report's absolute path.

    Raises
    ------
    MissingDependencyError
        If matplotlib is not installed.
    """
    from ..report.html import report

    classes = preprocessor.classes_ if preprocessor.task == "classification" else None
    written = report(model, history, x, y, path, feature_names=preprocessor.feature_names,
                     tuning=tuning, class_names=classes)  # fmt: skip
    return Path(written).resolve()
