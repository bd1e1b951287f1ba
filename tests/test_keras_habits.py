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
