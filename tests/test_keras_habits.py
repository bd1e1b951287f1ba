"""Habits Keras users bring: input_shape, evaluate's list form, DataFrame columns,
and the warning for a cross-entropy on outputs that are not probabilities."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import densekit as dk

pandas = pytest.importorskip("pandas")


def classifier(**dense_kwargs):
    model = dk.Sequential(
        [dk.layers.Dense(8, activation="relu", **dense_kwargs), dk.layers.Dense(3, "softmax")],
        seed=0,
    )
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def test_input_shape_is_another_way_to_give_input_dim():
    assert classifier(input_shape=(4,)).input_dim == 4


@pytest.mark.parametrize("shape", [(4, 2), 4, ()])
def test_input_shape_must_be_one_number(shape):
    with pytest.raises(dk.errors.ArgumentError, match="input_shape"):
        dk.layers.Dense(2, input_shape=shape)


def test_input_shape_and_input_dim_must_agree():
    with pytest.raises(dk.errors.ArgumentError, match="disagree"):
        dk.layers.Dense(2, input_shape=(4,), input_dim=5)


def test_evaluate_can_return_keras_list_form():
    model = classifier(input_dim=4)
    x, y = np.random.default_rng(0).standard_normal((20, 4)), np.arange(20) % 3
    loss, accuracy = model.evaluate(x, y, return_dict=False)
    assert (loss, accuracy) == tuple(model.evaluate(x, y).values())


def frame(columns, rows=30):
    data = np.random.default_rng(0).standard_normal((rows, len(columns)))
    return pandas.DataFrame(data, columns=columns)


def test_dataframe_columns_are_recorded_and_checked_at_predict(tmp_path):
    model = classifier()
    x = frame(["a", "b", "c", "d"])
    model.fit(x, np.arange(30) % 3, epochs=1, verbose=0)
    assert model.feature_names == ["a", "b", "c", "d"]
    np.testing.assert_array_equal(model.predict(x), model.predict(x.to_numpy()))
    with pytest.raises(dk.errors.InputError, match="another order"):
        model.predict(x[["b", "a", "c", "d"]])
    with pytest.raises(dk.errors.InputError, match=r"lacks columns \['d'\]"):
        model.predict(frame(["a", "b", "c", "e"]))
    model.save(tmp_path / "m.safetensors")
    assert dk.load_model(tmp_path / "m.safetensors").feature_names == ["a", "b", "c", "d"]
    assert model.copy().feature_names == ["a", "b", "c", "d"]


@pytest.mark.parametrize(
    "last, loss",
    [("linear", "sparse_categorical_crossentropy"), ("relu", "binary_crossentropy")],
)
def test_cross_entropy_on_non_probabilities_warns_at_compile(last, loss):
    units = 1 if loss == "binary_crossentropy" else 3
    model = dk.Sequential([dk.layers.Dense(units, activation=last, input_dim=2)])
    with pytest.warns(UserWarning, match="expects probabilities"):
        model.compile("adam", loss)


def test_matching_outputs_and_from_logits_do_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        classifier(input_dim=2)
        logits = dk.Sequential([dk.layers.Dense(3, input_dim=2)])
        logits.compile("adam", dk.losses.SparseCategoricalCrossentropy(from_logits=True))


@pytest.mark.parametrize(
    "make",
    [
        lambda: dk.losses.BinaryCrossentropy(from_logits="False"),
        lambda: dk.losses.SparseCategoricalCrossentropy(from_logits=1),
        lambda: dk.losses.Poisson(log_input="no"),
        lambda: dk.optimizers.SGD(0.1, momentum=0.9, nesterov="False"),
        lambda: dk.optimizers.RMSprop(centered="yes"),
    ],
)
def test_flags_must_be_booleans_not_truthy_strings(make):
    with pytest.raises(dk.errors.ArgumentTypeError, match="must be True or False"):
        make()


def test_building_a_built_model_again_keeps_its_weights_or_refuses():
    model = classifier(input_dim=4)
    before = model.get_weights()
    model.build(4)
    for kept, original in zip(model.get_weights(), before):
        np.testing.assert_array_equal(kept, original)
    with pytest.raises(dk.errors.InputError, match="built for 4 features"):
        model.build(5)


def test_a_seeded_dropout_continues_its_stream_across_fits():
    layer = dk.layers.Dropout(0.5, seed=3)
    model = dk.Sequential([dk.layers.Dense(6, input_dim=2), layer, dk.layers.Dense(1)], seed=0)
    model.compile("sgd", "mse")
    x, y = np.ones((4, 2)), np.ones(4)
    masks = []
    for _ in range(2):
        model.fit(x, y, epochs=1, batch_size=4, verbose=0, seed=0)
        masks.append(layer._scaled_mask.copy())
    assert not np.array_equal(masks[0], masks[1])  # not the same masks replayed each fit


# --- the habits of issue 15: Keras' names and meanings ---------------------------------


def _frozen_first():
    model = dk.Sequential(
        [dk.layers.Input(shape=(4,)), dk.layers.Dense(8, "relu"), dk.layers.Dense(3, "softmax")],
        seed=0,
    )
    model.compile("adam", "sparse_categorical_crossentropy")
    return model


def _data(rows=30):
    return np.random.default_rng(0).standard_normal((rows, 4)), np.arange(rows) % 3


def test_input_shape_first_builds_the_model_and_is_not_a_layer():
    model = _frozen_first()
    assert model.built and model.input_dim == 4 and len(model.layers) == 2
    with pytest.raises(dk.errors.ArgumentError, match="must come first"):
        model.add(dk.layers.Input(shape=(8,)))
    with pytest.raises(dk.errors.ArgumentError, match=r"\(features,\)"):
        dk.layers.Input(shape=(4, 2))
    with pytest.raises(dk.errors.ArgumentError, match="Sequential\\(dtype=...\\)"):
        dk.layers.Input(shape=(4,), dtype="float32")


def test_layer_get_weights_and_set_weights_use_the_models_buffer():
    model = _frozen_first()
    layer = model.layers[0]
    kernel, bias = layer.get_weights()
    assert kernel.shape == (4, 8) and bias.shape == (8,)
    layer.set_weights([np.ones((4, 8)), np.zeros(8)])
    np.testing.assert_array_equal(model.get_weights()[0], np.ones((4, 8)))
    with pytest.raises(dk.errors.InputError, match="shape"):
        layer.set_weights([np.ones((8, 4)), np.zeros(8)])
    np.testing.assert_array_equal(layer.get_weights()[0], np.ones((4, 8)))  # unchanged
    with pytest.raises(dk.errors.NotBuiltError, match="no weights yet"):
        dk.layers.Dense(2).set_weights([np.ones((1, 2)), np.zeros(2)])


def test_trainable_false_leaves_the_layer_out_of_the_update_and_summary_counts_it():
    model = _frozen_first()
    frozen, head = model.layers
    frozen.trainable = False
    assert model.params.size == 27 and model.state.size == 40  # 3 * 8 + 3; 4 * 8 + 8
    text = model.summary_text()
    assert "Trainable params: 27" in text and "Non-trainable params: 40" in text
    assert [w.shape for w in model.trainable_weights] == [(8, 3), (3,)]
    assert [w.shape for w in model.non_trainable_weights] == [(4, 8), (8,)]
    before, head_before = frozen.get_weights(), head.get_weights()
    model.fit(*_data(), epochs=3, verbose=0)
    for kept, original in zip(frozen.get_weights(), before):
        np.testing.assert_array_equal(kept, original)
    assert not np.array_equal(head.get_weights()[0], head_before[0])
    frozen.trainable = True  # unfreezing keeps the weights and trains them again
    for kept, original in zip(frozen.get_weights(), before):
        np.testing.assert_array_equal(kept, original)
    model.fit(*_data(), epochs=1, verbose=0)
    assert not np.array_equal(frozen.get_weights()[0], before[0])


def test_a_frozen_layer_survives_save_load_and_copy(tmp_path):
    model = _frozen_first()
    model.layers[0].trainable = False
    model.save(tmp_path / "m.safetensors")
    for other in (dk.load_model(tmp_path / "m.safetensors"), model.copy()):
        assert [layer.trainable for layer in other.layers] == [False, True]
        np.testing.assert_array_equal(other.predict(_data()[0]), model.predict(_data()[0]))


def test_a_frozen_batch_normalization_runs_in_inference_mode():
    norm = dk.layers.BatchNormalization()
    model = dk.Sequential([dk.layers.Dense(4, input_dim=4), norm, dk.layers.Dense(3, "softmax")])
    model.compile("sgd", "sparse_categorical_crossentropy")
    norm.trainable = False
    before = norm.get_weights()
    model.fit(*_data(), epochs=2, verbose=0)
    for kept, original in zip(norm.get_weights(), before):  # gamma, beta and the moving stats
        np.testing.assert_array_equal(kept, original)


def test_save_weights_and_load_weights_round_trip(tmp_path):
    model, other = (
        _frozen_first(),
        dk.Sequential(
            [dk.layers.Dense(8, "relu", input_dim=4), dk.layers.Dense(3, "softmax")], seed=1
        ),
    )
    model.save_weights(tmp_path / "m.weights.safetensors")
    other.load_weights(tmp_path / "m.weights.safetensors")
    for a, b in zip(other.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(dk.errors.ArgumentError, match="safetensors, not HDF5"):
        model.save_weights(tmp_path / "m.weights.h5")
    assert not (tmp_path / "m.weights.h5").exists()


def test_to_json_and_model_from_json_rebuild_the_architecture():
    model = _frozen_first()
    model.layers[0].trainable = False
    rebuilt = dk.models.model_from_json(model.to_json())
    assert rebuilt.get_config() == model.get_config()
    assert rebuilt.count_params() == model.count_params() and rebuilt.params.size == 27
    with pytest.raises(dk.errors.ModelFileError, match="Sequential"):
        dk.models.model_from_json('{"class_name": "Functional", "config": {}}')


def test_clone_model_has_the_architecture_and_fresh_weights():
    model = _frozen_first()
    model.fit(*_data(), epochs=2, verbose=0)
    clone = dk.models.clone_model(model)
    assert clone.get_config() == model.get_config() and not clone.compiled
    assert not np.array_equal(clone.get_weights()[0], model.get_weights()[0])
    assert dk.models.load_model is dk.load_model and dk.models.Sequential is dk.Sequential


def test_pop_removes_the_last_layer_and_keeps_the_others_weights():
    model = _frozen_first()
    kernel = model.get_weights()[0]
    removed = model.pop()
    assert removed.units == 3 and model.output_dim == 8 and model.count_params() == 40
    np.testing.assert_array_equal(model.get_weights()[0], kernel)
    model.add(removed)  # free again: it can go back (or into another model)
    assert model.output_dim == 3
    model.pop()
    model.pop()
    with pytest.raises(dk.errors.ArgumentError, match="nothing to remove"):
        model.pop()


def test_model_history_is_the_last_fits_history():
    model = _frozen_first()
    assert model.history is None
    history = model.fit(*_data(), epochs=2, verbose=0)
    assert model.history is history and len(history.history["loss"]) == 2


def _binary(rows=300):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((rows, 5))
    return x, (x[:, 0] + 0.5 * rng.standard_normal(rows) > 0).astype(int)


def test_precision_recall_and_auc_are_ratios_over_all_rows():
    metrics_module = pytest.importorskip("sklearn.metrics")
    x, y = _binary()
    model = dk.Sequential([dk.layers.Dense(1, "sigmoid", input_dim=5)], seed=0)
    model.compile("adam", "binary_crossentropy", metrics=["precision", "recall", "auc"])
    history = model.fit(x, y, epochs=2, batch_size=32, verbose=0)
    assert set(history.history) == {"loss", "precision", "recall", "auc"}
    results = model.evaluate(x, y, batch_size=64)  # counts summed over 5 batches
    p = model.predict(x).ravel().astype(np.float64)
    assert results["precision"] == pytest.approx(metrics_module.precision_score(y, p > 0.5))
    assert results["recall"] == pytest.approx(metrics_module.recall_score(y, p > 0.5))
    # Keras' AUC: the ROC curve through 200 thresholds, trapezoids; the same, brute force
    thresholds = dk.metrics.AUC_THRESHOLDS
    tp = np.array([((p > t) & (y == 1)).sum() for t in thresholds])
    fp = np.array([((p > t) & (y == 0)).sum() for t in thresholds])
    tpr, fpr = tp / tp[0], fp / fp[0]
    expected = np.sum((fpr[:-1] - fpr[1:]) * (tpr[:-1] + tpr[1:]) / 2)
    assert results["auc"] == pytest.approx(expected, rel=1e-12)
    # the exact AUC differs by the scores that share a threshold bucket (width 1/199)
    assert abs(results["auc"] - metrics_module.roc_auc_score(y, p)) < 1e-2


def test_string_class_labels_in_fit_map_to_sorted_class_indices(tmp_path):
    x, _ = _data(60)
    names = np.array(["cat", "dog", "emu"])[np.arange(60) % 3]
    model = _frozen_first()
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, names, epochs=2, verbose=0, validation_data=(x, names))
    assert model.class_names == ["cat", "dog", "emu"]
    same = model.evaluate(x, np.arange(60) % 3)
    assert model.evaluate(x, names) == same  # the same labels, as indices
    model.save(tmp_path / "m.safetensors")
    assert dk.load_model(tmp_path / "m.safetensors").class_names == ["cat", "dog", "emu"]
    with pytest.raises(dk.errors.InputError, match=r"\['fox'\] not among"):
        model.evaluate(x, np.where(names == "emu", "fox", names))
    regression = dk.Sequential([dk.layers.Dense(1, input_dim=4)])
    regression.compile("sgd", "mse")
    with pytest.raises(dk.errors.InputError, match="classification loss"):
        regression.fit(x, names, verbose=0)
    assert regression.class_names is None
