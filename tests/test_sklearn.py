"""DenseClassifier / DenseRegressor: scikit-learn's own checks, and MLP's math."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn")

from sklearn.datasets import load_diabetes, load_digits, load_iris, make_multilabel_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

import densekit as dk
from densekit.sklearn import DenseClassifier, DenseRegressor, expected_failed_checks

# small and quick, yet enough to pass check_classifiers_train and friends
CHECKED = [
    DenseClassifier(hidden_layer_sizes=(16,), max_iter=60, learning_rate_init=0.01, random_state=0),
    DenseRegressor(hidden_layer_sizes=(16,), max_iter=60, learning_rate_init=0.01, random_state=0),
    DenseClassifier((16,), max_iter=60, learning_rate_init=0.01, random_state=0, dtype="float32"),
    DenseRegressor((16,), max_iter=60, learning_rate_init=0.01, random_state=0, dtype="float32"),
    DenseClassifier((16,), solver="lbfgs", max_iter=20, random_state=0),
    DenseRegressor((16,), solver="lbfgs", max_iter=20, random_state=0),
]


@pytest.fixture(autouse=True)
def _quiet_convergence():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


@parametrize_with_checks(CHECKED, expected_failed_checks=expected_failed_checks)
def test_sklearn_check_estimator(estimator, check):
    check(estimator)


PAIRS = [(DenseClassifier, MLPClassifier), (DenseRegressor, MLPRegressor)]


@pytest.mark.parametrize("ours, theirs", PAIRS)
@pytest.mark.parametrize("fit_dtype", [np.float32, np.float64, np.int64])
def test_dtype_follows_the_input_as_mlp_does(ours, theirs, fit_dtype):
    x, y = _iris()
    x = (x * 4).astype(fit_dtype)
    mine = ours(hidden_layer_sizes=(8,), max_iter=3, random_state=0).fit(x, y)
    reference = theirs(hidden_layer_sizes=(8,), max_iter=3, random_state=0).fit(x, y)
    assert mine.model_.dtype == reference.coefs_[0].dtype
    assert {w.dtype for w in mine.coefs_ + mine.intercepts_} == {reference.coefs_[0].dtype}
    method = "predict_proba" if hasattr(reference, "predict_proba") else "predict"
    for predict_dtype in (np.float32, np.float64):
        rows = x[:5].astype(predict_dtype)
        got, expected = getattr(mine, method)(rows), getattr(reference, method)(rows)
        assert got.dtype == expected.dtype


@pytest.mark.parametrize("cls", [DenseClassifier, DenseRegressor])
def test_dtype_parameter_fixes_the_dtype_whatever_the_input(cls):
    x, y = _iris()
    estimator = cls((8,), max_iter=3, random_state=0, dtype="float32").fit(x, y)
    assert x.dtype == np.float64 and estimator.model_.dtype == np.float32
    method = getattr(estimator, "predict_proba", estimator.predict)
    assert method(x.astype(np.float32)).dtype == np.float32
    assert method(x).dtype == np.float64  # float32 weights, float64 X: promoted, as MLP
    assert set(expected_failed_checks(estimator)) == {
        "check_sample_weight_equivalence_on_dense_data",
        "check_sample_weight_equivalence_on_sparse_data",
    }
    assert expected_failed_checks(cls()) == {}
    with pytest.raises(dk.errors.ArgumentError, match="dtype must be None .* got 'int8'"):
        cls(dtype="int8").fit(x, y)


def test_warm_start_partial_fit_and_pickling_keep_the_fitted_dtype():
    x, y = _iris()
    x32 = x.astype(np.float32)
    warm = DenseClassifier((8,), max_iter=3, random_state=0, warm_start=True).fit(x32, y)
    warm.fit(x, y)
    assert warm.model_.dtype == np.float32
    incremental = DenseRegressor((8,), random_state=0).partial_fit(x32, y)
    incremental.partial_fit(x, y)
    assert incremental.model_.dtype == np.float32
    assert incremental.coefs_[0].dtype == np.float32
    restored = pickle.loads(pickle.dumps(incremental))
    assert restored.model_.dtype == np.float32
    assert restored.predict(x32).dtype == np.float32
    np.testing.assert_array_equal(restored.predict(x32), incremental.predict(x32))
    fresh = DenseRegressor((8,), max_iter=3, random_state=0, warm_start=False).fit(x32, y)
    assert fresh.fit(x, y).model_.dtype == np.float64  # no warm start: built for the new X


def _iris():
    x, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(x), y


def _mlp_step_parity(ours, theirs, x, y, sample_weight=None, epochs=1):
    """Give both the same weights, run more full-batch SGD epochs (warm start), compare."""
    warnings.simplefilter("ignore", UserWarning)  # batch_size 1000 is clipped to n
    ours.fit(x, y, sample_weight=sample_weight)
    theirs.fit(x, y, sample_weight=sample_weight)
    for mine, reference in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        assert mine.shape == reference.shape
        mine[...] = reference
    ours.set_params(max_iter=epochs).fit(x, y, sample_weight=sample_weight)
    theirs.set_params(max_iter=epochs).fit(x, y, sample_weight=sample_weight)
    assert ours.n_iter_ == theirs.n_iter_
    np.testing.assert_allclose(ours.loss_curve_[1:], theirs.loss_curve_[1:], rtol=1e-10)
    for mine, reference in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        np.testing.assert_allclose(mine, reference, rtol=1e-9, atol=1e-12)


FULL_BATCH_SGD = dict(
    hidden_layer_sizes=(7, 5),
    solver="sgd",
    momentum=0.0,
    alpha=0.3,
    learning_rate_init=0.1,
    batch_size=1000,
    max_iter=1,
    shuffle=False,
    warm_start=True,
    random_state=0,
)


@pytest.mark.parametrize("activation", ["relu", "tanh", "logistic", "identity"])
def test_classifier_step_equals_mlp_multiclass(activation):
    x, y = _iris()
    params = dict(FULL_BATCH_SGD, activation=activation)
    _mlp_step_parity(DenseClassifier(**params, dtype="float64"), MLPClassifier(**params), x, y)


@pytest.mark.parametrize("learning_rate", ["constant", "invscaling", "adaptive"])
def test_sgd_schedules_and_nesterov_momentum_follow_mlp_over_epochs(learning_rate):
    x, y = _iris()
    params = dict(
        FULL_BATCH_SGD,
        momentum=0.9,
        learning_rate=learning_rate,
        tol=0.05,  # loose, so the adaptive schedule divides the rate within a few epochs
        n_iter_no_change=1,
    )
    ours = DenseClassifier(**params, dtype="float64")
    theirs = MLPClassifier(**params)
    _mlp_step_parity(ours, theirs, x, y, epochs=8)
    rate = ours.model_.optimizer.learning_rate
    assert rate == pytest.approx(theirs._optimizer.learning_rate, rel=1e-12)
    assert (rate < 0.1) == (learning_rate != "constant")


def test_classifier_step_equals_mlp_binary_with_one_logistic_output():
    x, y = _iris()
    labels = np.where(y == 2, "virginica", "other")
    ours = DenseClassifier(**FULL_BATCH_SGD, dtype="float64")
    _mlp_step_parity(ours, MLPClassifier(**FULL_BATCH_SGD), x, labels)
    assert ours.coefs_[-1].shape == (5, 1)
    assert ours.predict_proba(x).shape == (150, 2)


def test_classifier_step_equals_mlp_multilabel():
    x, y = make_multilabel_classification(n_samples=80, n_classes=4, random_state=0)
    ours = DenseClassifier(**FULL_BATCH_SGD, dtype="float64")
    _mlp_step_parity(ours, MLPClassifier(**FULL_BATCH_SGD), x, y)
    assert ours.predict(x).shape == (80, 4)
    assert set(np.unique(ours.predict(x))) <= {0, 1}


def test_regressor_step_equals_mlp_half_squared_error_with_sample_weight():
    x, y = load_diabetes(return_X_y=True)
    x = StandardScaler().fit_transform(x)
    weights = np.random.default_rng(0).integers(1, 4, len(y)).astype(float)
    ours = DenseRegressor(**FULL_BATCH_SGD, dtype="float64")
    _mlp_step_parity(ours, MLPRegressor(**FULL_BATCH_SGD), x, y / 100, weights)


def test_regressor_step_equals_mlp_multioutput():
    x, y = load_diabetes(return_X_y=True)
    x = StandardScaler().fit_transform(x)
    targets = np.column_stack([y / 100, np.sqrt(y)])
    ours = DenseRegressor(**FULL_BATCH_SGD, dtype="float64")
    _mlp_step_parity(ours, MLPRegressor(**FULL_BATCH_SGD), x, targets)
    assert ours.predict(x).shape == (len(y), 2)


def test_stops_like_mlp_when_training_loss_stalls():
    x, y = _iris()
    estimator = DenseClassifier((8,), tol=1.0, n_iter_no_change=3, random_state=0).fit(x, y)
    assert estimator.n_iter_ == 5  # epochs 2..5 fail to improve by tol: 4 > 3 stops
    assert estimator.best_loss_ == min(estimator.loss_curve_)


def test_early_stopping_records_validation_curves_and_keeps_best_score():
    x, y = _iris()
    estimator = DenseClassifier(
        (16,), early_stopping=True, n_iter_no_change=5, max_iter=300, random_state=0
    ).fit(x, y)
    assert len(estimator.validation_loss_curve_) == estimator.n_iter_
    assert len(estimator.validation_scores_) == estimator.n_iter_
    assert estimator.best_validation_score_ == max(estimator.validation_scores_)
    assert estimator.best_loss_ is None


def test_string_labels_and_probabilities():
    x, y = _iris()
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    estimator = DenseClassifier((16,), max_iter=500, random_state=0).fit(x, names)
    assert list(estimator.classes_) == ["setosa", "versicolor", "virginica"]
    assert estimator.predict(x).dtype == names.dtype
    np.testing.assert_allclose(estimator.predict_proba(x).sum(axis=1), 1.0, rtol=1e-6)
    assert estimator.score(x, names) > 0.9


def test_class_weight_balanced_equals_the_same_sample_weight():
    from sklearn.utils.class_weight import compute_sample_weight

    x, y = _iris()
    keep = np.r_[0:50, 50:70, 100:150]
    x, y = x[keep], y[keep]
    weighted = DenseClassifier((8,), max_iter=20, random_state=0, dtype="float64")
    balanced = DenseClassifier(
        (8,), max_iter=20, random_state=0, dtype="float64", class_weight="balanced"
    )
    weighted.fit(x, y, sample_weight=compute_sample_weight("balanced", y))
    balanced.fit(x, y)
    np.testing.assert_allclose(balanced.loss_curve_, weighted.loss_curve_)


def test_dropout_and_optimizer_choice_are_used():
    x, y = _iris()
    estimator = DenseClassifier(
        (16,), dropout=0.2, optimizer=dk.optimizers.RMSprop(0.01), max_iter=30, random_state=0
    ).fit(x, y)
    assert any(isinstance(layer, dk.layers.Dropout) for layer in estimator.model_.layers)
    assert type(estimator.model_.optimizer).__name__ == "RMSprop"
    assert estimator.optimizer.iterations == 0  # the parameter object is not trained


def test_batch_norm_puts_batch_normalization_after_each_hidden_layer():
    x, y = _iris()
    estimator = DenseClassifier((8, 8), batch_norm=True, max_iter=20, random_state=0).fit(x, y)
    kinds = [type(layer).__name__ for layer in estimator.model_.layers]
    assert kinds == ["Dense", "BatchNormalization", "Dense", "BatchNormalization", "Dense"]
    assert [c.shape for c in estimator.coefs_] == [(4, 8), (8, 8), (8, 3)]


@pytest.mark.parametrize("loss", ["absolute_error", "huber", "poisson"])
def test_regressor_losses_fit_diabetes(loss):
    x, y = load_diabetes(return_X_y=True)
    x = StandardScaler().fit_transform(x)
    estimator = DenseRegressor(
        (32,), loss=loss, learning_rate_init=0.01, max_iter=300, random_state=0
    ).fit(x, y / 100 if loss != "poisson" else y)
    assert estimator.score(x, y / 100 if loss != "poisson" else y) > 0.4


def test_partial_fit_needs_classes_then_trains_one_epoch_each_call():
    x, y = _iris()
    estimator = DenseClassifier((16,), learning_rate_init=0.01, random_state=0)
    with pytest.raises(ValueError, match="classes"):
        estimator.partial_fit(x, y)
    for _ in range(30):
        estimator.partial_fit(x, y, classes=[0, 1, 2])
    assert len(estimator.loss_curve_) == 30
    assert estimator.model_.optimizer.iterations == 30
    assert estimator.score(x, y) > 0.8


def test_pickle_round_trip_keeps_predictions_and_optimizer_state():
    x, y = _iris()
    estimator = DenseClassifier((8,), max_iter=10, random_state=0).fit(x, y)
    restored = pickle.loads(pickle.dumps(estimator))
    np.testing.assert_array_equal(restored.predict_proba(x), estimator.predict_proba(x))
    restored.partial_fit(x, y)
    assert restored.model_.optimizer.iterations == estimator.model_.optimizer.iterations + 1


def test_pipeline_grid_search_and_cross_val_score():
    x, y = load_digits(return_X_y=True)
    x, y = x[:400], y[:400]
    pipeline = make_pipeline(StandardScaler(), DenseClassifier(max_iter=30, random_state=0))
    scores = cross_val_score(pipeline, x, y, cv=3)
    assert scores.mean() > 0.8  # MLPClassifier, same settings and folds: 0.83
    search = GridSearchCV(
        pipeline, {"denseclassifier__hidden_layer_sizes": [(16,), (32,)]}, cv=2
    ).fit(x, y)
    assert search.best_params_["denseclassifier__hidden_layer_sizes"] in [(16,), (32,)]


def test_dataframe_feature_names_are_recorded():
    pd = pytest.importorskip("pandas")
    x, y = _iris()
    frame = pd.DataFrame(x, columns=["a", "b", "c", "d"])
    estimator = DenseRegressor((4,), max_iter=5, random_state=0).fit(frame, y)
    assert list(estimator.feature_names_in_) == ["a", "b", "c", "d"]
    assert estimator.n_features_in_ == 4


def test_bad_parameters_raise_densekit_errors():
    x, y = _iris()
    with pytest.raises(dk.errors.ArgumentError, match="activation"):
        DenseClassifier(activation="swish").fit(x, y)
    with pytest.raises(dk.errors.ArgumentError, match="solver"):
        DenseClassifier(solver="newton").fit(x, y)
    with pytest.raises(dk.errors.ArgumentError, match="loss"):
        DenseRegressor(loss="hinge").fit(x, y)


def test_pipeline_vs_mlp_example_prints_both_accuracies_and_fit_times():
    import re
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "examples" / "pipeline_vs_mlp.py"
    result = subprocess.run(
        [sys.executable, str(script), "--repeats", "1", "--threads", "1", "--max-iter", "20"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    rows = dict(re.findall(r"^(\w+Classifier)\s+([\d.]+)\s+[\d.]+\s+\d+$", result.stdout, re.M))
    assert set(rows) == {"MLPClassifier", "DenseClassifier"}
    assert float(rows["DenseClassifier"]) >= float(rows["MLPClassifier"]) - 0.02


def test_fitted_network_saves_and_loads_as_a_plain_densekit_model(tmp_path):
    x, y = _iris()
    estimator = DenseRegressor((8,), max_iter=5, random_state=0).fit(x, y)
    estimator.model_.save(tmp_path / "net.safetensors")
    loaded = dk.load_model(tmp_path / "net.safetensors")
    np.testing.assert_array_equal(loaded.predict(x).ravel(), estimator.predict(x))
