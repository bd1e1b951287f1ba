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
