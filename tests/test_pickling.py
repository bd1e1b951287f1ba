"""Models pickle and deep-copy: same predictions, and training goes on identically."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_iris

import densekit as dk


def iris():
    x, y = load_iris(return_X_y=True)
    return (x - x.mean(0)) / x.std(0), y


def classifier(dtype="float32"):
    model = dk.Sequential(
        [
            dk.layers.Dense(16, "relu", input_dim=4, kernel_regularizer="l2"),
            dk.layers.BatchNormalization(),
            dk.layers.Dropout(0.2),
            dk.layers.Dense(3, "softmax"),
        ],
        seed=0,
        dtype=dtype,
    )
    model.compile(dk.optimizers.Adam(0.01), "sparse_categorical_crossentropy", ["accuracy"])
    return model


@pytest.mark.parametrize("clone", [lambda m: pickle.loads(pickle.dumps(m)), copy.deepcopy])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_trained_model_round_trips_and_trains_on_identically(clone, dtype):
    x, y = iris()
    model = classifier(dtype)
    model.fit(x, y, epochs=3, batch_size=16, verbose=0)
    twin = clone(model)
    assert twin.dtype == model.dtype and twin.optimizer.iterations == model.optimizer.iterations
    np.testing.assert_array_equal(twin.predict(x), model.predict(x))
    # shuffling and dropout continue from the same generator state
    first = model.fit(x, y, epochs=2, batch_size=16, verbose=0).history["loss"]
    second = twin.fit(x, y, epochs=2, batch_size=16, verbose=0).history["loss"]
    assert first == second
    for a, b in zip(model.get_weights(), twin.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_the_copy_is_independent_of_the_original():
    x, y = iris()
    model = classifier()
    model.fit(x, y, epochs=1, verbose=0)
    twin = copy.deepcopy(model)
    before = model.get_weights()
    twin.fit(x, y, epochs=2, verbose=0)
    for a, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(a, b)
    assert np.shares_memory(twin.layers[0].kernel, twin.params)
    assert not np.shares_memory(twin.params, model.params)


def test_unbuilt_and_uncompiled_models_pickle_too():
    bare = dk.Sequential([dk.layers.Dense(4, "relu"), dk.layers.Dense(1)])
    twin = pickle.loads(pickle.dumps(bare))
    assert not twin.built and not twin.compiled and len(twin.layers) == 2
    x, y = load_breast_cancer(return_X_y=True)
    built = dk.Sequential([dk.layers.Dense(4, "relu", input_dim=30), dk.layers.Dense(1)])
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(built)).predict(x), built.predict(x))


def test_feature_names_metadata_and_a_lowered_learning_rate_survive():
    pandas = pytest.importorskip("pandas")
    x, y = iris()
    frame = pandas.DataFrame(x, columns=["a", "b", "c", "d"])
    model = classifier()
    model.fit(frame, y, epochs=1, verbose=0)
    model.metadata["note"] = "kept"
    model.optimizer.learning_rate = 0.001
    twin = pickle.loads(pickle.dumps(model))
    assert twin.feature_names == ["a", "b", "c", "d"] and twin.metadata == {"note": "kept"}
    assert twin.optimizer.learning_rate == 0.001


def test_a_pruned_model_keeps_its_masks_through_pickling():
    x, y = iris()
    model = classifier()
    model.fit(x, y, epochs=2, verbose=0)
    dk.prune.magnitude(model, 0.5)
    twin = pickle.loads(pickle.dumps(model))
    twin.fit(x, y, epochs=2, verbose=0)  # retraining keeps pruned weights at zero
    assert dk.prune.sparsity(twin) == pytest.approx(dk.prune.sparsity(model))
    assert dk.prune.masks_of(twin).model is twin
