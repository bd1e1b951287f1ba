"""The numbers a report shows, in NumPy: regression errors, per-class scores, curves, calibration.

Each follows scikit-learn's definition, so the values agree with ``sklearn.metrics``
(the tests compare them) without making scikit-learn a dependency of the report:

- ``regression_metrics``: MAE, RMSE and R² = 1 - SS_res / SS_tot;
- ``per_class_scores``: precision, recall, F1 and support per class (0 where a
  denominator is 0, as scikit-learn's ``zero_division=0``), with macro and weighted means;
- ``roc_curve``: one point per distinct score, AUC by the trapezoid rule;
- ``precision_recall_curve``: average precision = sum over thresholds of
  (R_n - R_{n-1}) * P_n (no interpolation);
- ``calibration_bins``: equal-width bins of the predicted probability, the observed
  frequency in each, and the expected calibration error (ECE).
"""

from __future__ import annotations

import numpy as np


def regression_metrics(truth: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """MAE, RMSE and R² of predictions, in the units of ``truth``.

    Parameters
    ----------
    truth
        The true values, shape (n,).
    predicted
        The predictions, shape (n,).

    Returns
    -------
    dict
        ``{"MAE": ..., "RMSE": ..., "R²": ...}``; R² is NaN when ``truth`` is constant.
    """
    truth = np.asarray(truth, dtype=np.float64).ravel()
    residual = truth - np.asarray(predicted, dtype=np.float64).ravel()
    total = float(np.sum((truth - truth.mean()) ** 2)) if truth.size else 0.0
    r2 = 1.0 - float(np.sum(residual**2)) / total if total > 0 else float("nan")
    return {
        "MAE": float(np.mean(np.abs(residual))),
        "RMSE": float(np.sqrt(np.mean(residual**2))),
        "R²": r2,
    }


def class_probabilities(outputs: np.ndarray) -> np.ndarray:
    """(n, classes) probabilities from a model's outputs: a sigmoid column becomes two.

    Parameters
    ----------
    outputs
        ``model.predict`` of a softmax (n, k) or sigmoid (n, 1) output layer.

    Returns
    -------
    numpy.ndarray
        float64 (n, k), k >= 2.
    """
    outputs = np.asarray(outputs, dtype=np.float64)
    if outputs.shape[1] == 1:
        return np.hstack([1.0 - outputs, outputs])
    return outputs


def per_class_scores(truth: np.ndarray, predicted: np.ndarray, n_classes: int) -> list[dict]:
    """Precision, recall, F1 and support of each class, then their macro and weighted means.

    Parameters
    ----------
    truth
        True class indices, shape (n,).
    predicted
        Predicted class indices, shape (n,).
    n_classes
        How many classes there are (rows are made for classes absent from ``truth`` too).

    Returns
    -------
    list of dict
        One row per class (``class`` is its index), then ``"macro avg"`` and
        ``"weighted avg"`` rows.
    """
    truth, predicted = np.asarray(truth, np.int64), np.asarray(predicted, np.int64)
    matrix = confusion_matrix(truth, predicted, n_classes)
    hits = np.diag(matrix).astype(np.float64)
    support = matrix.sum(axis=1).astype(np.float64)
    called = matrix.sum(axis=0).astype(np.float64)
    precision = _ratio(hits, called)
    recall = _ratio(hits, support)
    f1 = _ratio(2 * precision * recall, precision + recall)
    rows = [
        {"class": k, "precision": precision[k], "recall": recall[k], "F1": f1[k],
         "support": int(support[k])}
        for k in range(n_classes)
    ]  # fmt: skip
    weights = support / support.sum() if support.sum() else np.zeros_like(support)
    for name, mean in (("macro avg", np.mean), ("weighted avg", None)):
        scores = (precision, recall, f1)
        values = [float(mean(s)) if mean else float(np.sum(weights * s)) for s in scores]
        rows.append({"class": name, "precision": values[0], "recall": values[1],
                     "F1": values[2], "support": int(support.sum())})  # fmt: skip
    return rows


def confusion_matrix(truth: np.ndarray, predicted: np.ndarray, n_classes: int) -> np.ndarray:
    """Counts of (true class, predicted class).

    Parameters
    ----------
    truth
        True class indices.
    predicted
        Predicted class indices.
    n_classes
        The matrix's size.

    Returns
    -------
    numpy.ndarray
        int64 (n_classes, n_classes): rows are the true class, columns the prediction.
    """
    matrix = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(matrix, (np.asarray(truth, np.int64), np.asarray(predicted, np.int64)), 1)
    return matrix


def _ratio(top: np.ndarray, bottom: np.ndarray) -> np.ndarray:
    return np.divide(top, bottom, out=np.zeros_like(top, dtype=np.float64), where=bottom > 0)


def _ranked_counts(positive: np.ndarray, score: np.ndarray):
    """True and false positives at each distinct score, highest score first."""
    positive = np.asarray(positive, dtype=bool).ravel()
    score = np.asarray(score, dtype=np.float64).ravel()
    order = np.argsort(-score, kind="mergesort")
    score, positive = score[order], positive[order]
    last = np.r_[np.flatnonzero(np.diff(score)), score.size - 1]  # last row of each score
    true_positives = np.cumsum(positive)[last]
    false_positives = (last + 1) - true_positives
    return true_positives.astype(np.float64), false_positives.astype(np.float64)


def roc_curve(positive: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """The ROC curve of a score for one class, and its area.

    Parameters
    ----------
    positive
        Whether each row is of the class (bool, shape (n,)).
    score
        The predicted probability of the class.

    Returns
    -------
    fpr, tpr : numpy.ndarray
        False and true positive rates, from (0, 0) to (1, 1).
    auc : float
        The area under the curve; NaN when only one kind of row is present.
    """
    tp, fp = _ranked_counts(positive, score)
    if tp.size == 0 or tp[-1] == 0 or fp[-1] == 0:
        return np.array([0.0, 1.0]), np.array([0.0, 1.0]), float("nan")
    fpr = np.r_[0.0, fp / fp[-1]]
    tpr = np.r_[0.0, tp / tp[-1]]
    area = float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))  # the trapezoid rule
    return fpr, tpr, area


def precision_recall_curve(
    positive: np.ndarray, score: np.ndarray
) -> tuple[np.ndarray, np.ndarray, float]:
    """The precision-recall curve of a score for one class, and its average precision.

    Parameters
    ----------
    positive
        Whether each row is of the class (bool, shape (n,)).
    score
        The predicted probability of the class.

    Returns
    -------
    precision, recall : numpy.ndarray
        One point per distinct score threshold, highest threshold first, starting at
        recall 0 with precision 1 and ending where recall first reaches 1: scikit-learn's
        points in the reverse order, without those past full recall (which only drop
        the precision at recall 1).
    average_precision : float
        sum_n (R_n - R_{n-1}) P_n; NaN when no row is of the class.
    """
    tp, fp = _ranked_counts(positive, score)
    if tp.size == 0 or tp[-1] == 0:
        return np.array([1.0, 0.0]), np.array([0.0, 1.0]), float("nan")
    full = int(np.searchsorted(tp, tp[-1])) + 1  # stop where recall first reaches 1
    tp, fp = tp[:full], fp[:full]
    precision = tp / (tp + fp)
    recall = tp / tp[-1]
    average = float(np.sum(np.diff(np.r_[0.0, recall]) * precision))
    return np.r_[1.0, precision], np.r_[0.0, recall], average


def calibration_bins(
    hit: np.ndarray, probability: np.ndarray, n_bins: int = 10
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """The reliability diagram's points: predicted probability against observed frequency.

    Parameters
    ----------
    hit
        Whether the event happened in each row (bool): the row is of the class, or the
        predicted class was right.
    probability
        The predicted probability of the event.
    n_bins
        Equal-width bins over [0, 1]; an edge belongs to the bin below (scikit-learn's).

    Returns
    -------
    mean_predicted, observed, counts : numpy.ndarray
        Per non-empty bin: the mean predicted probability, the fraction of hits, the rows.
    ece : float
        The expected calibration error: sum over bins of counts/n * |observed - predicted|.
    """
    hit = np.asarray(hit, dtype=np.float64).ravel()
    probability = np.clip(np.asarray(probability, dtype=np.float64).ravel(), 0.0, 1.0)
    # a probability on an edge belongs to the bin below it, as in scikit-learn
    bins = np.searchsorted(np.linspace(0.0, 1.0, n_bins + 1)[1:-1], probability)
    counts = np.bincount(bins, minlength=n_bins).astype(np.float64)
    predicted_sum = np.bincount(bins, weights=probability, minlength=n_bins)
    hit_sum = np.bincount(bins, weights=hit, minlength=n_bins)
    used = counts > 0
    mean_predicted = predicted_sum[used] / counts[used]
    observed = hit_sum[used] / counts[used]
    ece = float(np.sum(counts[used] * np.abs(observed - mean_predicted)) / max(hit.size, 1))
    return mean_predicted, observed, counts[used].astype(np.int64), ece
