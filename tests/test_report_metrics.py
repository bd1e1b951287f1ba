"""The report's own metrics agree with scikit-learn's; features group by their source column."""

from __future__ import annotations

import numpy as np
import pytest

import densekit as dk
from densekit.report.importance import group_features, grouped_permutation_importance
from densekit.report.metrics import (
    calibration_bins,
    class_probabilities,
    per_class_scores,
    precision_recall_curve,
    regression_metrics,
    roc_curve,
)

metrics = pytest.importorskip("sklearn.metrics")
# sums of at most a few hundred float64 terms of order 1: far below this
TOLERANCE = 1e-12


@pytest.fixture
def scored():
    """Breast cancer labels, and a noisy score with ties (rounded to 2 decimals)."""
    from sklearn.datasets import load_breast_cancer

    x, y = load_breast_cancer(return_X_y=True)
    rng = np.random.default_rng(0)
    score = 1 / (1 + np.exp(-(x[:, 0] - x[:, 0].mean()) / x[:, 0].std()))
    score = np.round(np.clip(0.6 * (1 - score) + 0.4 * rng.random(len(y)), 0, 1), 2)
    return y, score


def test_roc_and_average_precision_match_scikit_learn(scored):
    y, score = scored
    fpr, tpr, area = roc_curve(y == 1, score)
    reference_fpr, reference_tpr, _ = metrics.roc_curve(y, score, drop_intermediate=False)
    np.testing.assert_allclose(fpr, reference_fpr, atol=TOLERANCE)
    np.testing.assert_allclose(tpr, reference_tpr, atol=TOLERANCE)
    assert area == pytest.approx(metrics.roc_auc_score(y, score), abs=TOLERANCE)
    precision, recall, average = precision_recall_curve(y == 1, score)
    assert average == pytest.approx(metrics.average_precision_score(y, score), abs=TOLERANCE)
    reference_precision, reference_recall, _ = metrics.precision_recall_curve(y, score)
    shown = len(precision)  # scikit-learn's points, reversed, up to full recall
    np.testing.assert_allclose(precision, reference_precision[::-1][:shown], atol=TOLERANCE)
    np.testing.assert_allclose(recall, reference_recall[::-1][:shown], atol=TOLERANCE)
    assert recall[-1] == 1.0 and recall[-2] < 1.0


def test_one_kind_of_row_has_no_roc_area():
    assert np.isnan(roc_curve(np.ones(5, bool), np.linspace(0, 1, 5))[2])
    assert np.isnan(precision_recall_curve(np.zeros(5, bool), np.linspace(0, 1, 5))[2])


def test_calibration_bins_match_scikit_learn(scored):
    from sklearn.calibration import calibration_curve

    y, score = scored  # scores on the bin edges (0.3, 0.5) go to the bin below, as there
    predicted, observed, counts, ece = calibration_bins(y == 1, score, n_bins=10)
    reference_observed, reference_predicted = calibration_curve(y, score, n_bins=10)
    np.testing.assert_allclose(predicted, reference_predicted, atol=TOLERANCE)
    np.testing.assert_allclose(observed, reference_observed, atol=TOLERANCE)
    assert counts.sum() == len(y)
    assert ece == pytest.approx(np.sum(counts * np.abs(observed - predicted)) / len(y))


def test_per_class_scores_match_scikit_learn():
    rng = np.random.default_rng(1)
    truth = rng.integers(0, 4, 300)
    truth[truth == 3] = 2  # class 3 has no rows: its scores are 0, as zero_division=0
    predicted = np.where(rng.random(300) < 0.6, truth, rng.integers(0, 4, 300))
    rows = per_class_scores(truth, predicted, 4)
    precision, recall, f1, support = metrics.precision_recall_fscore_support(
        truth, predicted, labels=range(4), zero_division=0
    )
    for k in range(4):
        got = [rows[k][key] for key in ("precision", "recall", "F1", "support")]
        np.testing.assert_allclose(got, [precision[k], recall[k], f1[k], support[k]], atol=1e-12)
    for row, average in zip(rows[4:], ("macro", "weighted")):
        reference = metrics.precision_recall_fscore_support(
            truth, predicted, labels=range(4), average=average, zero_division=0
        )
        np.testing.assert_allclose([row["precision"], row["recall"], row["F1"]], reference[:3],
                                   atol=1e-12)  # fmt: skip


def test_regression_metrics_match_scikit_learn():
    from sklearn.datasets import load_diabetes

    truth = load_diabetes().target
    predicted = truth + np.random.default_rng(2).normal(0, 40, len(truth))
    values = regression_metrics(truth, predicted)
    assert values["MAE"] == pytest.approx(metrics.mean_absolute_error(truth, predicted))
    assert values["RMSE"] == pytest.approx(np.sqrt(metrics.mean_squared_error(truth, predicted)))
    assert values["R²"] == pytest.approx(metrics.r2_score(truth, predicted))
    assert np.isnan(regression_metrics(np.ones(3), np.zeros(3))["R²"])


def test_a_sigmoid_column_becomes_two_class_probabilities():
    np.testing.assert_allclose(class_probabilities(np.array([[0.25], [1.0]])),
                               [[0.75, 0.25], [0.0, 1.0]])  # fmt: skip


def test_features_group_by_their_source_column_even_with_equals_signs_in_names():
    names = ["age", "a=b=x", "a=b=y", "a=c", "color=red", "mystery"]
    groups = group_features(names, ["age", "a=b", "a", "color", "unused"])
    assert groups == {"age": [0], "a=b": [1, 2], "a": [3], "color": [4], "mystery": [5]}


def test_grouped_importance_shuffles_a_columns_features_together():
    rng = np.random.default_rng(3)
    x = np.zeros((200, 3), np.float32)
    x[np.arange(200), rng.integers(0, 2, 200)] = 1.0  # a one-hot pair: the label's column
    x[:, 2] = rng.normal(size=200)  # noise
    y = x[:, 1].astype(np.int64)
    model = dk.Sequential([dk.layers.Dense(2, "softmax", input_dim=3)], seed=0)
    model.compile(dk.optimizers.Adam(0.1), "sparse_categorical_crossentropy")
    model.fit(x, y, epochs=30, verbose=0, seed=0)
    result = grouped_permutation_importance(model, x, y, {"kind": [0, 1], "noise": [2]}, seed=0)
    assert result.names == ["kind", "noise"]
    assert result.mean[0] > 0.3 > abs(result.mean[1])
    assert result.importances.shape == (2, 5)
