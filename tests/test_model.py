"""Sequential: the seeds' examples, building, training, evaluating, predicting and bad input."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_iris

import densekit as dk
from densekit.errors import (
    ArgumentError,
    ArgumentTypeError,
    DensekitError,
    InputError,
    NotBuiltError,
    NotCompiledError,
    TrainingError,
)
from densekit.validation import validation_split_indices
from float_bounds import assert_within_rounding  # tests/ is on sys.path


def _iris(standardize=True):
    x, y = load_iris(return_X_y=True)
    if standardize:
        x = (x - x.mean(axis=0)) / x.std(axis=0)
    return x, y


def _classifier(seed=0, input_dim=4):
    model = dk.Sequential(
        [
            dk.layers.Dense(8, "relu", input_dim=input_dim),
            dk.layers.Dense(3, "softmax"),
        ],
        seed=seed,
    )
    model.compile(dk.optimizers.Adam(0.01), "sparse_categorical_crossentropy", ["accuracy"])
    return model


def test_shuffled_sample_weights_reach_each_batch_as_the_rows_they_belong_to():
    x, y = _iris()
    w = np.random.default_rng(5).uniform(0.5, 2.0, len(x))
    fitted = _classifier()
    fitted.fit(x, y, sample_weight=w, batch_size=32, epochs=2, seed=3, verbose=0)
    by_hand = _classifier()
    xs, ys, ws = by_hand.prepare_inputs(x, y, w)
    rng = np.random.default_rng(3)  # fit's shuffling: one permutation per epoch
    for _ in range(2):
        order = rng.permutation(len(x))
        for start in range(0, len(x), 32):  # 150 rows: the last batch has 22
            rows = order[start : start + 32]
            by_hand.train_on_batch(xs[rows], ys[rows], ws[rows])
    for a, b in zip(fitted.get_weights(), by_hand.get_weights()):
        np.testing.assert_array_equal(a, b)


# --- the seeds' examples -------------------------------------------------------------------


def test_one_neuron_learns_y_equals_2x_plus_3():
    x = np.linspace(-2, 2, 40).reshape(-1, 1)
    y = 2 * x + 3
    model = dk.Sequential([dk.layers.Dense(1, input_dim=1)], seed=0)
    model.compile(dk.optimizers.SGD(0.1), "mse")
    model.fit(x, y, epochs=100, batch_size=8, verbose=0)
    kernel, bias = model.get_weights()
    assert kernel.shape == (1, 1) and bias.shape == (1,)
    assert abs(kernel[0, 0] - 2) < 0.01
    assert abs(bias[0] - 3) < 0.01


def test_relu_neuron_needs_a_bias_to_output_2_at_x_equals_0():
    x = np.linspace(-1, 1, 41).reshape(-1, 1)
    y = x + 2  # 2 at x = 0
    outputs = {}
    for use_bias in (False, True):
        model = dk.Sequential(
            [dk.layers.Dense(1, "relu", use_bias=use_bias, input_dim=1)],
            seed=0,
        )
        model.compile(dk.optimizers.Adam(0.05), "mse")
        model.fit(x, y, epochs=200, batch_size=41, verbose=0)
        outputs[use_bias] = model.predict(np.zeros((1, 1)))[0, 0]
    assert outputs[False] == 0.0  # relu(w * 0) = 0 whatever w is
    assert abs(outputs[True] - 2) < 0.05


@pytest.mark.parametrize(
    ("n_in", "n_out", "text"), [(10, 5, "55"), (100, 50, "5,050"), (1000, 500, "500,500")]
)
def test_summary_counts_n_times_m_plus_m(n_in, n_out, text, capsys):
    model = dk.Sequential([dk.layers.Dense(n_out, input_dim=n_in)])
    model.summary()
    printed = capsys.readouterr().out
    assert f"Total params: {text}\n" in printed
    assert f"(None, {n_out})" in printed
    assert model.count_params() == n_in * n_out + n_out


# --- building ------------------------------------------------------------------------------


def test_input_dim_builds_at_construction():
    model = dk.Sequential([dk.layers.Dense(5, "relu", input_dim=3), dk.layers.Dense(2)], seed=0)
    assert model.built
    assert [w.shape for w in model.get_weights()] == [(3, 5), (5,), (5, 2), (2,)]
    assert model.count_params() == 3 * 5 + 5 + 5 * 2 + 2
    assert "Total params: 32" in model.summary_text()
    new = [np.full(w.shape, k, dtype=np.float32) for k, w in enumerate(model.get_weights())]
    model.set_weights(new)
    for got, want in zip(model.get_weights(), new):
        np.testing.assert_array_equal(got, want)
    # W1 = 0, b1 = 1 -> five ones; W2 = 2, b2 = 3 -> 5 * 2 + 3
    np.testing.assert_allclose(model.predict(np.ones((1, 3))), [[13.0, 13.0]])


def test_fit_builds_from_the_data():
    model = dk.Sequential([dk.layers.Dense(4, "tanh"), dk.layers.Dense(3, "softmax")], seed=0)
    assert not model.built
    assert "unknown until the model is built" in model.summary_text()
    model.compile("adam", "sparse_categorical_crossentropy")
    x, y = _iris()
    model.fit(x, y, epochs=1, verbose=0)
    assert model.built and model.input_dim == 4
    assert model.predict(x).shape == (150, 3)


def test_predict_before_build_raises():
    model = dk.Sequential([dk.layers.Dense(1)])
    with pytest.raises(NotBuiltError, match="input_dim"):
        model.predict(np.ones((2, 3)))
    with pytest.raises(NotBuiltError):
        model.get_weights()


def test_fit_before_compile_raises():
    model = dk.Sequential([dk.layers.Dense(1, input_dim=3)])
    with pytest.raises(NotCompiledError, match="compile"):
        model.fit(np.ones((2, 3)), np.ones(2), verbose=0)
    with pytest.raises(NotCompiledError):
        model.evaluate(np.ones((2, 3)), np.ones(2))


def test_get_weights_is_keras_order_and_a_copy():
    model = dk.Sequential(
        [
            dk.layers.Dense(4, input_dim=3),
            dk.layers.Dropout(0.5),
            dk.layers.Dense(2, use_bias=False),
            dk.layers.Dense(1),
        ]
    )
    weights = model.get_weights()
    assert [w.shape for w in weights] == [(3, 4), (4,), (4, 2), (2, 1), (1,)]
    weights[0][...] = 7
    assert not np.any(model.get_weights()[0] == 7)
    np.testing.assert_array_equal(model.layers[0].kernel, model.get_weights()[0])


# --- reproducibility ---------------------------------------------------------------------


def _trained(seed, fit_seed=None, **fit_kwargs):
    x, y = _iris()
    model = dk.Sequential(
        [dk.layers.Dense(8, "relu", input_dim=4), dk.layers.Dropout(0.2), dk.layers.Dense(3)],
        seed=seed,
    )
    model.compile("adam", dk.losses.SparseCategoricalCrossentropy(from_logits=True))
    history = model.fit(x, y, epochs=3, batch_size=16, verbose=0, seed=fit_seed, **fit_kwargs)
    return model, history


def test_same_seed_gives_bit_identical_weights():
    a, _ = _trained(seed=3)
    b, _ = _trained(seed=3)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)


def test_different_seed_gives_different_weights():
    a, _ = _trained(seed=3)
    b, _ = _trained(seed=4)
    assert not np.array_equal(a.get_weights()[0], b.get_weights()[0])


def test_fit_seed_changes_only_the_shuffling_and_dropout():
    a, _ = _trained(seed=3, fit_seed=1)
    b, _ = _trained(seed=3, fit_seed=1)
    c, _ = _trained(seed=3, fit_seed=2)
    np.testing.assert_array_equal(a.get_weights()[0], b.get_weights()[0])
    assert not np.array_equal(a.get_weights()[0], c.get_weights()[0])


# --- validation ------------------------------------------------------------------------------


def test_validation_split_is_stratified():
    labels = np.repeat([0, 1, 2], [100, 30, 10])
    train, val = validation_split_indices(len(labels), 0.2, np.random.default_rng(0), labels)
    assert len(np.intersect1d(train, val)) == 0 and len(train) + len(val) == 140
    assert np.bincount(labels[val]).tolist() == [20, 6, 2]
    assert np.bincount(labels[train]).tolist() == [80, 24, 8]


def test_validation_split_is_random_and_reproducible():
    labels = np.repeat([0, 1], 50)
    first = validation_split_indices(100, 0.2, np.random.default_rng(0), labels)[1]
    again = validation_split_indices(100, 0.2, np.random.default_rng(0), labels)[1]
    other = validation_split_indices(100, 0.2, np.random.default_rng(1), labels)[1]
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    assert not np.array_equal(first, np.arange(80, 100))  # not Keras' last rows


def test_validation_split_on_class_sorted_data_still_trains_on_every_class():
    # iris is sorted by class: Keras' "last 20%" would hold out only class 2
    x, y = _iris()
    model = _classifier(seed=0)
    history = model.fit(x, y, epochs=30, batch_size=16, validation_split=0.2, verbose=0, seed=0)
    assert history.history["val_accuracy"][-1] > 0.8


def test_validation_split_in_fit_is_reproducible():
    _, a = _trained(seed=3, fit_seed=5, validation_split=0.25)
    _, b = _trained(seed=3, fit_seed=5, validation_split=0.25)
    _, c = _trained(seed=3, fit_seed=6, validation_split=0.25)
    assert a.history["val_loss"] == b.history["val_loss"]
    assert a.history["val_loss"] != c.history["val_loss"]


def test_validation_data_is_evaluated_each_epoch():
    x, y = _iris()
    model = _classifier(seed=0)
    history = model.fit(
        x[::2], y[::2], epochs=4, batch_size=16, validation_data=(x[1::2], y[1::2]), verbose=0
    )
    assert len(history.history["val_loss"]) == 4
    final = model.evaluate(x[1::2], y[1::2])
    assert history.history["val_loss"][-1] == pytest.approx(final["loss"], rel=1e-6)
    assert history.history["val_accuracy"][-1] == pytest.approx(final["accuracy"])


def test_history_holds_every_epoch_and_metric():
    x, y = _iris()
    model = _classifier()
    history = model.fit(x, y, epochs=5, batch_size=32, validation_split=0.2, verbose=0)
    assert isinstance(history, dk.callbacks.History)
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert all(len(values) == 5 for values in history.history.values())
    assert history.epoch == [0, 1, 2, 3, 4]
    assert history.history["loss"][-1] < history.history["loss"][0]


def test_evaluate_returns_a_dict_of_loss_and_metrics():
    x, y = _iris()
    model = _classifier()
    model.fit(x, y, epochs=10, verbose=0)
    result = model.evaluate(x, y)
    assert set(result) == {"loss", "accuracy"}
    p = model.predict(x)
    np.testing.assert_allclose(result["loss"], -np.log(p[np.arange(150), y]).mean(), rtol=1e-4)
    assert result["accuracy"] == pytest.approx((p.argmax(axis=1) == y).mean())


# --- weighting ------------------------------------------------------------------------------


def _binary():
    x, y = load_breast_cancer(return_X_y=True)
    x = (x - x.mean(axis=0)) / x.std(axis=0)
    return x[:200], y[:200]


def _binary_model():
    model = dk.Sequential([dk.layers.Dense(1, "sigmoid", input_dim=30)], seed=0)
    model.compile(dk.optimizers.SGD(0.1), "binary_crossentropy", ["accuracy"])
    return model


def test_class_weight_equals_the_matching_sample_weight():
    x, y = _binary()
    a, b = _binary_model(), _binary_model()
    a.fit(x, y, epochs=2, verbose=0, seed=0, class_weight={0: 3.0, 1: 0.5})
    b.fit(x, y, epochs=2, verbose=0, seed=0, sample_weight=np.where(y == 0, 3.0, 0.5))
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(wa, wb, rtol=1e-6)


def test_upweighting_a_class_raises_its_predicted_probability():
    x, y = _binary()
    plain, weighted = _binary_model(), _binary_model()
    plain.fit(x, y, epochs=5, verbose=0, seed=0)
    weighted.fit(x, y, epochs=5, verbose=0, seed=0, class_weight={0: 1.0, 1: 10.0})
    assert weighted.predict(x).mean() > plain.predict(x).mean()
    negatives = y == 0  # even rows of the other class lean towards class 1
    assert weighted.predict(x[negatives]).mean() > plain.predict(x[negatives]).mean()


def test_zero_sample_weight_removes_rows_from_training():
    x, y = _binary()
    keep = np.arange(len(x)) % 3 != 0
    a, b = _binary_model(), _binary_model()
    a.fit(x, y, epochs=1, batch_size=len(x), verbose=0, sample_weight=keep * 1.0)
    # the full-batch gradient with zero weights is the subset's gradient scaled by n_keep / n
    b.compile(dk.optimizers.SGD(0.1 * keep.sum() / len(x)), "binary_crossentropy")
    b.fit(x[keep], y[keep], epochs=1, batch_size=len(x), verbose=0)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(wa, wb, rtol=1e-5, atol=1e-7)


def test_class_weight_needs_a_classification_loss():
    model = dk.Sequential([dk.layers.Dense(1, input_dim=2)])
    model.compile("sgd", "mse")
    with pytest.raises(ArgumentError, match="class_weight needs a classification loss"):
        model.fit(np.ones((4, 2)), np.ones(4), class_weight={0: 1.0}, verbose=0)


# --- callbacks ------------------------------------------------------------------------------


class RecordWeights(dk.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.weights = []

    def on_epoch_end(self, epoch, logs=None):
        self.weights.append(self.model.get_weights())


def test_early_stopping_restores_the_best_weights():
    x, y = _iris()
    model = _classifier(seed=1)
    model.compile(dk.optimizers.SGD(2.0), "sparse_categorical_crossentropy")  # noisy on purpose
    record = RecordWeights()
    stop = dk.callbacks.EarlyStopping(patience=2, restore_best_weights=True)
    history = model.fit(
        x, y, epochs=50, batch_size=8, validation_split=0.3, callbacks=[record, stop], verbose=0
    )
    val = history.history["val_loss"]
    assert len(val) < 50  # it stopped
    best = int(np.argmin(val))
    assert best == len(val) - 3  # patience 2: two epochs without improvement after the best
    for got, want in zip(model.get_weights(), record.weights[best]):
        np.testing.assert_array_equal(got, want)


def test_early_stopping_names_the_metrics_when_its_monitor_is_missing():
    x, y = _iris()
    model = _classifier()
    with pytest.raises(ArgumentError, match="val_loss.*accuracy, loss.*validation_split"):
        model.fit(x, y, epochs=2, callbacks=[dk.callbacks.EarlyStopping()], verbose=0)


# --- predict ---------------------------------------------------------------------------------


def test_predict_gives_the_same_result_for_any_batch_size():
    x, _ = _iris()
    model = _classifier()
    small = model.predict(x, batch_size=7)
    large = model.predict(x, batch_size=1000)
    assert_within_rounding(small, large, model, x)  # the BLAS path may vary with batch size
    np.testing.assert_array_equal(small.argmax(axis=1), large.argmax(axis=1))


def test_predict_a_million_rows_in_batches():
    model = dk.Sequential([dk.layers.Dense(8, "relu", input_dim=3), dk.layers.Dense(1)], seed=0)
    x = np.random.default_rng(0).normal(size=(1_000_000, 3)).astype(np.float32)
    out = model.predict(x, batch_size=65_536)
    assert out.shape == (1_000_000, 1) and out.dtype == np.float32
    assert np.isfinite(out).all()
    assert_within_rounding(out[-5:], model.predict(x[-5:]), model, x[-5:])
    # the layers held one batch of activations, not a million rows
    assert max(layer._z.shape[0] for layer in model.layers) <= 65_536


# --- training that cannot go on ----------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
def test_a_loss_that_becomes_nan_raises_and_keeps_finite_weights():
    x, y = _iris()
    model = dk.Sequential([dk.layers.Dense(8, "relu", input_dim=4), dk.layers.Dense(1)], seed=0)
    model.compile(dk.optimizers.SGD(1e6), "mse")
    with pytest.raises(TrainingError, match="the loss became .* learning rate"):
        model.fit(x, y * 1000, epochs=20, verbose=0)
    assert all(np.isfinite(w).all() for w in model.get_weights())


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_weights_that_overflowed_are_reported_as_such():
    # lr * grad beyond float32's range: the weights themselves are lost, and the error says so
    x, y = _iris()
    model = dk.Sequential([dk.layers.Dense(8, "relu", input_dim=4), dk.layers.Dense(1)], seed=0)
    model.compile(dk.optimizers.SGD(1e38), "mse")
    with pytest.raises(TrainingError, match="weights themselves overflowed"):
        model.fit(x, y * 1000, epochs=5, verbose=0)


@pytest.mark.parametrize("outputs", [1, 3])
def test_mse_and_mae_metrics_report_the_losses_of_those_names(outputs):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(50, 4)), rng.normal(size=(50, outputs))
    model = dk.Sequential([dk.layers.Dense(outputs, input_dim=4)], seed=0, dtype="float64")
    model.compile("sgd", "mse", ["mse", "mae"])
    results = model.evaluate(x, y)
    loss, mse, mae = results["loss"], results["mse"], results["mae"]
    p = model.predict(x)
    assert mse == pytest.approx(loss, rel=1e-12)
    assert mse == pytest.approx(np.mean((p - y) ** 2), rel=1e-12)
    assert mae == pytest.approx(np.mean(np.abs(p - y)), rel=1e-12)


# --- bad input ----------------------------------------------------------------------------------


def _regressor():
    model = dk.Sequential([dk.layers.Dense(2, "relu", input_dim=20), dk.layers.Dense(1)], seed=0)
    model.compile("adam", "mse", ["mae"])
    return model


X20 = np.random.default_rng(0).normal(size=(10, 20))
Y10 = np.zeros(10)
NAN_X = X20.copy()
NAN_X[3, 4] = np.nan
INF_Y = Y10.copy()
INF_Y[2] = np.inf

FIT_ERRORS = [
    (
        "nan-x",
        dict(x=NAN_X, y=Y10),
        InputError,
        "NaN or infinite values \\(first at row 3, column 4",
    ),
    ("inf-y", dict(x=X20, y=INF_Y), InputError, "y contains NaN or infinite"),
    ("1d-x", dict(x=X20[:, 0], y=Y10), InputError, "must be 2-D.*reshape\\(-1, 1\\)"),
    ("3d-x", dict(x=X20.reshape(10, 4, 5), y=Y10), InputError, "must be 2-D.*reshape"),
    ("empty-x", dict(x=np.empty((0, 20)), y=np.empty(0)), InputError, "empty: it has 0 samples"),
    ("y-length", dict(x=X20, y=np.zeros(9)), InputError, "x has 10 samples but y has 9"),
    (
        "features",
        dict(x=X20[:, :19], y=Y10),
        InputError,
        "x has 19 features, but the model was built for 20",
    ),
    ("text-x", dict(x=np.array([["a"] * 20] * 10), y=Y10), InputError, "x must be numeric"),
    ("object-x", dict(x=[[1, "2"]] * 10, y=Y10), InputError, "numeric"),
    ("none-y", dict(x=X20, y=None), InputError, "y is None"),
    ("batch-0", dict(x=X20, y=Y10, batch_size=0), ArgumentError, "batch_size must be >= 1, got 0"),
    (
        "batch-float",
        dict(x=X20, y=Y10, batch_size=2.5),
        ArgumentTypeError,
        "batch_size must be an integer",
    ),
    ("epochs--1", dict(x=X20, y=Y10, epochs=-1), ArgumentError, "epochs must be >= 0, got -1"),
    (
        "split-1",
        dict(x=X20, y=Y10, validation_split=1.0),
        ArgumentError,
        "validation_split must be in \\[0, 1\\), got 1.0",
    ),
    ("split-neg", dict(x=X20, y=Y10, validation_split=-0.1), ArgumentError, "validation_split"),
    (
        "val-data",
        dict(x=X20, y=Y10, validation_data=(X20[:, :3], Y10)),
        InputError,
        "validation_data: x has 3 features",
    ),
    (
        "val-shape",
        dict(x=X20, y=Y10, validation_data=X20),
        ArgumentError,
        "validation_data must be \\(x_val, y_val\\)",
    ),
    (
        "weights",
        dict(x=X20, y=Y10, sample_weight=np.ones(3)),
        InputError,
        "sample_weight must have shape \\(10,\\)",
    ),
    (
        "weights-text",
        dict(x=X20, y=Y10, sample_weight=["a"] * 10),
        InputError,
        "sample_weight must be numbers",
    ),
    ("complex-x", dict(x=X20 * 1j, y=Y10), InputError, "x must be real numbers"),
    (
        "callbacks",
        dict(x=X20, y=Y10, callbacks=dk.callbacks.EarlyStopping()),
        ArgumentTypeError,
        "callbacks must be a list",
    ),
    (
        "callback-type",
        dict(x=X20, y=Y10, callbacks=[print]),
        ArgumentError,
        "callbacks must be densekit.callbacks.Callback objects",
    ),
    ("verbose", dict(x=X20, y=Y10, verbose=5), ArgumentError, "verbose must be"),
]


@pytest.mark.parametrize(
    ("case", "kwargs", "error", "message"), FIT_ERRORS, ids=[case[0] for case in FIT_ERRORS]
)
def test_fit_refuses_bad_input(case, kwargs, error, message):
    model = _regressor()
    before = model.get_weights()
    kwargs.setdefault("verbose", 0)
    with pytest.raises(error, match=message) as info:
        model.fit(**kwargs)
    assert isinstance(info.value, DensekitError)
    assert isinstance(info.value, (ValueError, TypeError))
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


PREDICT_ERRORS = [
    ("features", X20[:, :19], "x has 19 features, but the model was built for 20"),
    ("1d", X20[0], "must be 2-D.*reshape\\(1, -1\\) for one sample"),
    ("nan", NAN_X, "NaN"),
    ("empty", np.empty((0, 20)), "0 samples"),
    ("none", None, "x is None"),
    ("text", np.array([["1.0"] * 20]), "numeric"),
]


@pytest.mark.parametrize(
    ("case", "x", "message"), PREDICT_ERRORS, ids=[case[0] for case in PREDICT_ERRORS]
)
def test_predict_refuses_bad_input(case, x, message):
    with pytest.raises(InputError, match=message):
        _regressor().predict(x)


def test_predict_refuses_a_bad_batch_size():
    with pytest.raises(ArgumentError, match="batch_size must be >= 1"):
        _regressor().predict(X20, batch_size=0)


CONSTRUCTION_ERRORS = [
    (
        "units-0",
        lambda: dk.layers.Dense(0),
        ArgumentError,
        "units must be a positive integer, got 0",
    ),
    ("units-neg", lambda: dk.layers.Dense(-3), ArgumentError, "units must be a positive integer"),
    (
        "units-float",
        lambda: dk.layers.Dense(2.5),
        ArgumentTypeError,
        "units must be a positive integer, got 2.5",
    ),
    (
        "units-str",
        lambda: dk.layers.Dense("8"),
        ArgumentTypeError,
        "units must be a positive integer",
    ),
    (
        "activation",
        lambda: dk.layers.Dense(2, activation="rellu"),
        ArgumentError,
        "unknown activation 'rellu'",
    ),
    (
        "initializer",
        lambda: dk.layers.Dense(2, kernel_initializer="glorot"),
        ArgumentError,
        "unknown initializer",
    ),
    (
        "initializer-nan",
        lambda: dk.layers.Dense(2, kernel_initializer={"name": "constant", "value": float("nan")}),
        ArgumentError,
        "value must be a finite number",
    ),
    (
        "regularizer",
        lambda: dk.layers.Dense(2, kernel_regularizer="l3"),
        ArgumentError,
        "unknown regularizer",
    ),
    (
        "use_bias",
        lambda: dk.layers.Dense(2, use_bias="no"),
        ArgumentTypeError,
        "use_bias must be True or False",
    ),
    (
        "input_dim",
        lambda: dk.layers.Dense(2, input_dim=0),
        ArgumentError,
        "input_dim must be a positive integer",
    ),
    (
        "dropout",
        lambda: dk.layers.Dropout(1.0),
        ArgumentError,
        "Dropout rate must be in \\[0, 1\\)",
    ),
    (
        "dropout-seed",
        lambda: dk.layers.Dropout(0.5, seed=-1),
        ArgumentError,
        "seed must be a non-negative integer",
    ),
    (
        "layers",
        lambda: dk.Sequential([np.zeros(3)]),
        ArgumentTypeError,
        "Sequential takes densekit layers",
    ),
    (
        "dtype",
        lambda: dk.Sequential([], dtype="int8"),
        ArgumentError,
        "dtype must be 'float32' or 'float64'",
    ),
    (
        "seed",
        lambda: dk.Sequential([], seed=-1),
        ArgumentError,
        "seed must be a non-negative integer",
    ),
    (
        "mismatch",
        lambda: dk.Sequential([dk.layers.Dense(3, input_dim=2), dk.layers.Dense(1, input_dim=4)]),
        ArgumentError,
        "declares input_dim=4, but the previous layer outputs 3",
    ),
]


@pytest.mark.parametrize(
    ("case", "make", "error", "message"),
    CONSTRUCTION_ERRORS,
    ids=[case[0] for case in CONSTRUCTION_ERRORS],
)
def test_construction_refuses_bad_arguments(case, make, error, message):
    with pytest.raises(error, match=message) as info:
        make()
    assert isinstance(info.value, DensekitError)


COMPILE_ERRORS = [
    ("loss", dict(loss="mean_squared"), ArgumentError, "unknown loss 'mean_squared'"),
    ("no-loss", dict(), ArgumentError, "compile needs a loss"),
    (
        "optimizer",
        dict(optimizer="adamax", loss="mse"),
        ArgumentError,
        "unknown optimizer 'adamax'",
    ),
    (
        "metric",
        dict(loss="mse", metrics=["f1_score"]),
        ArgumentError,
        "unknown metric 'f1_score'",
    ),
    ("metrics-str", dict(loss="mse", metrics="mae"), ArgumentTypeError, "metrics must be a list"),
]


@pytest.mark.parametrize(
    ("case", "kwargs", "error", "message"), COMPILE_ERRORS, ids=[c[0] for c in COMPILE_ERRORS]
)
def test_compile_refuses_unknown_names(case, kwargs, error, message):
    model = dk.Sequential([dk.layers.Dense(1, input_dim=2)])
    with pytest.raises(error, match=message) as info:
        model.compile(**kwargs)
    assert isinstance(info.value, DensekitError)


SET_WEIGHTS_ERRORS = [
    (
        "count",
        lambda w: w[:-1],
        InputError,
        "set_weights got 3 arrays, but the model has 4 weights",
    ),
    (
        "shape",
        lambda w: [w[0].T, *w[1:]],
        InputError,
        "weight dense/kernel must have shape \\(20, 2\\), got \\(2, 20\\)",
    ),
    ("nan", lambda w: [w[0] * np.nan, *w[1:]], InputError, "must be finite"),
    ("type", lambda w: np.zeros(4), ArgumentTypeError, "set_weights takes a list of arrays"),
]


@pytest.mark.parametrize(
    ("case", "change", "error", "message"),
    SET_WEIGHTS_ERRORS,
    ids=[c[0] for c in SET_WEIGHTS_ERRORS],
)
def test_set_weights_refuses_the_wrong_count_or_shapes(case, change, error, message):
    model = _regressor()
    before = model.get_weights()
    with pytest.raises(error, match=message):
        model.set_weights(change(model.get_weights()))
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_train_on_batch_outside_fit_works_with_dropout():
    x, y = _iris()
    model = dk.Sequential(
        [
            dk.layers.Dense(8, "relu", input_dim=4),
            dk.layers.Dropout(0.5, seed=1),
            dk.layers.Dense(3),
        ],
        seed=0,
    )
    model.compile("adam", dk.losses.SparseCategoricalCrossentropy(from_logits=True))
    xb, yb, _ = model.prepare_inputs(x, y, None)
    first = model.train_on_batch(xb, yb)
    assert np.isfinite(first) and model.optimizer.iterations == 1


def test_numpy_scalars_are_accepted_as_arguments():
    x, y = _iris()
    model = dk.Sequential([dk.layers.Dense(3, "softmax", input_dim=np.int64(4))], seed=0)
    model.compile(
        dk.optimizers.SGD(np.float32(0.1), momentum=np.float64(0.5)),
        "sparse_categorical_crossentropy",
    )
    history = model.fit(
        x,
        y,
        batch_size=np.int64(16),
        epochs=np.int64(2),
        validation_split=np.float32(0.2),
        verbose=0,
    )
    assert len(history.history["val_loss"]) == 2


METRIC_CASES = [
    # loss, output activation, units, metric, reference(p, y)
    ("mse", None, 2, "mse", lambda p, y: ((p - y) ** 2).mean()),
    ("mse", None, 2, "mae", lambda p, y: np.abs(p - y).mean()),
    ("binary_crossentropy", "sigmoid", 1, "accuracy", lambda p, y: ((p > 0.5) == y).mean()),
    ("binary_crossentropy", "sigmoid", 2, "binary_accuracy", lambda p, y: ((p > 0.5) == y).mean()),
    (
        "categorical_crossentropy",
        "softmax",
        3,
        "accuracy",
        lambda p, y: (p.argmax(1) == y.argmax(1)).mean(),
    ),
]


@pytest.mark.parametrize(("loss", "activation", "units", "metric", "reference"), METRIC_CASES)
def test_metrics_in_evaluate(loss, activation, units, metric, reference):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 4))
    if loss == "categorical_crossentropy":
        y = np.eye(units)[rng.integers(0, units, 50)]
    elif loss == "binary_crossentropy":
        y = rng.integers(0, 2, (50, units)).astype(float)
    else:
        y = rng.normal(size=(50, units))
    model = dk.Sequential([dk.layers.Dense(units, activation, input_dim=4)], seed=0)
    model.compile("sgd", loss, [metric])
    result = model.evaluate(x, y, batch_size=7)
    expected = reference(model.predict(x), y)
    assert result[metric] == pytest.approx(expected, rel=1e-5)


def test_logit_outputs_use_a_zero_threshold_for_accuracy():
    x, y = _binary()
    model = dk.Sequential([dk.layers.Dense(1, input_dim=30)], seed=0)
    model.compile("sgd", dk.losses.BinaryCrossentropy(from_logits=True), ["accuracy"])
    model.fit(x, y, epochs=3, verbose=0)
    logits = model.predict(x)[:, 0]
    assert model.evaluate(x, y)["accuracy"] == pytest.approx(((logits > 0) == y).mean())


def test_early_stopping_with_zero_patience_keeps_going_while_improving():
    x = np.linspace(-1, 1, 40).reshape(-1, 1)
    model = dk.Sequential([dk.layers.Dense(1, input_dim=1)], seed=0)
    model.compile(dk.optimizers.SGD(0.05), "mse")
    stop = dk.callbacks.EarlyStopping(monitor="loss", patience=0)
    history = model.fit(x, 2 * x + 3, epochs=6, batch_size=40, callbacks=[stop], verbose=0)
    losses = history.history["loss"]
    assert all(b < a for a, b in zip(losses, losses[1:]))  # improving every epoch
    assert len(losses) == 6 and stop.stopped_epoch == 0


def test_early_stopping_with_zero_patience_stops_at_the_first_worse_epoch():
    model = dk.Sequential([dk.layers.Dense(1, input_dim=1)], seed=0)
    model.compile(dk.optimizers.SGD(0.05), "mse")
    stop = dk.callbacks.EarlyStopping(monitor="loss", patience=0)
    stop.set_model(model)
    stop.on_train_begin()
    for epoch, value in enumerate([3.0, 2.0, 2.5, 1.0]):
        stop.on_epoch_end(epoch, {"loss": value})
        if model.stop_training:
            break
    assert stop.stopped_epoch == 2 and stop.best == 2.0
