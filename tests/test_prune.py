"""Pruning: masks that survive training, schedules, neuron removal, sparse inference."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_digits

import densekit as dk
from densekit import prune
from densekit.errors import ArgumentError, ArgumentTypeError
from float_bounds import assert_within_rounding  # tests/ is on sys.path


@pytest.fixture(scope="module")
def digits():
    x, y = load_digits(return_X_y=True)
    return (x / 16.0).astype(np.float32), y


def make_model(optimizer="adam", hidden=(32, 16), seed=0):
    layers = [dk.layers.Dense(hidden[0], activation="relu", input_dim=64)]
    layers += [dk.layers.Dense(units, activation="relu") for units in hidden[1:]]
    layers.append(dk.layers.Dense(10, activation="softmax"))
    model = dk.Sequential(layers, seed=seed)
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def kernels(model):
    return {
        layer.name: np.array(layer.kernel) for layer in model.layers if hasattr(layer, "kernel")
    }


def test_layer_scope_prunes_each_kernel_to_the_sparsity_and_leaves_biases(digits):
    model = make_model()
    biases = [np.array(layer.bias) for layer in model.layers]
    model.layers[0].bias[...] = 0.5
    prune.magnitude(model, 0.75)
    for kernel in kernels(model).values():
        assert (kernel == 0).mean() == pytest.approx(0.75, abs=1 / kernel.size)
    assert np.all(model.layers[0].bias == 0.5)
    assert all(b.shape == layer.bias.shape for b, layer in zip(biases, model.layers))


def test_layer_scope_removes_the_smallest_magnitudes():
    model = make_model()
    before = np.abs(np.array(model.layers[0].kernel))
    prune.magnitude(model, 0.5)
    kept = np.array(model.layers[0].kernel) != 0
    assert before[kept].min() >= before[~kept].max()


def test_global_scope_reaches_the_sparsity_over_all_kernels():
    model = make_model()
    prune.magnitude(model, 0.8, scope="global")
    all_weights = np.concatenate([k.ravel() for k in kernels(model).values()])
    assert (all_weights == 0).mean() == pytest.approx(0.8, abs=1e-3)
    per_layer = prune.sparsity(model)
    assert max(per_layer.values()) - min(per_layer.values()) > 0.01


@pytest.mark.parametrize(
    "optimizer",
    [
        dk.optimizers.SGD(0.05, momentum=0.9),
        dk.optimizers.SGD(0.05, momentum=0.9, nesterov=True),
        dk.optimizers.Adam(1e-2),
        dk.optimizers.AdamW(1e-2),
        dk.optimizers.RMSprop(1e-3),
    ],
    ids=["sgd-momentum", "nesterov", "adam", "adamw", "rmsprop"],
)
def test_pruned_weights_and_optimizer_state_stay_zero_through_fit(digits, optimizer):
    x, y = digits
    model = make_model(optimizer)
    model.fit(x[:400], y[:400], epochs=1, batch_size=32, verbose=0, seed=0)  # momentum builds up
    prune.magnitude(model, 0.9)
    masks = {name: kernel != 0 for name, kernel in kernels(model).items()}
    model.fit(x[:400], y[:400], epochs=2, batch_size=32, verbose=0, seed=1)
    for name, kernel in kernels(model).items():
        assert np.all(kernel[~masks[name]] == 0.0)
        assert np.any(kernel[masks[name]] != 0.0)
    pruning = prune.masks_of(model)
    for _, mask, part in pruning._kernel_slices():
        for slot in model.optimizer.state.values():
            assert np.all(slot[part][mask.ravel() == 0] == 0.0)


def test_strip_removes_the_masks_so_training_can_regrow_weights(digits):
    x, y = digits
    model = make_model(dk.optimizers.Adam(1e-2))
    prune.magnitude(model, 0.9)
    prune.strip(model)
    assert prune.masks_of(model) is None and "pruning" not in model.metadata
    assert not model.gradient_hooks and not model.constraints
    model.fit(x[:200], y[:200], epochs=1, verbose=0, seed=0)
    assert max(prune.sparsity(model).values()) < 0.5


def test_masks_survive_save_and_load(tmp_path, digits):
    x, y = digits
    model = make_model(dk.optimizers.SGD(0.05, momentum=0.9))
    prune.magnitude(model, 0.8)
    model.save(tmp_path / "pruned.safetensors")
    loaded = dk.load_model(tmp_path / "pruned.safetensors")
    assert prune.masks_of(loaded) is not None
    masks = {name: kernel != 0 for name, kernel in kernels(loaded).items()}
    loaded.fit(x[:300], y[:300], epochs=1, verbose=0, seed=0)
    for name, kernel in kernels(loaded).items():
        assert np.all(kernel[~masks[name]] == 0.0)


def test_a_stripped_model_saves_as_a_plain_model(tmp_path):
    model = make_model()
    prune.magnitude(model, 0.5)
    prune.strip(model)
    model.save(tmp_path / "plain.safetensors")
    loaded = dk.load_model(tmp_path / "plain.safetensors")
    assert prune.masks_of(loaded) is None and "pruning" not in loaded.metadata


def test_polynomial_decay_follows_the_cubic_from_initial_to_final():
    schedule = prune.PolynomialDecay(0.1, 0.9, begin_step=10, end_step=110, frequency=10)
    assert schedule.sparsity(10) == pytest.approx(0.1)
    assert schedule.sparsity(60) == pytest.approx(0.9 + (0.1 - 0.9) * 0.5**3)
    assert schedule.sparsity(110) == pytest.approx(0.9)
    assert schedule.sparsity(500) == pytest.approx(0.9)
    assert schedule.should_prune(20) and not schedule.should_prune(25)
    assert not schedule.should_prune(5) and not schedule.should_prune(120)


def test_constant_sparsity_prunes_every_frequency_steps_from_begin():
    schedule = prune.ConstantSparsity(0.6, begin_step=5, frequency=3)
    assert [step for step in range(15) if schedule.should_prune(step)] == [5, 8, 11, 14]
    assert schedule.sparsity(1000) == 0.6


def test_pruning_callback_reaches_the_final_sparsity_during_fit(digits):
    x, y = digits
    model = make_model(dk.optimizers.Adam(1e-2))
    schedule = prune.PolynomialDecay(0.0, 0.9, begin_step=0, end_step=40, frequency=10)
    callback = prune.PruningCallback(schedule)
    model.fit(x[:640], y[:640], epochs=3, batch_size=32, verbose=0, seed=0, callbacks=[callback])
    assert [step for step, _ in callback.log] == [0, 10, 20, 30, 40]
    for value in prune.sparsity(model).values():
        assert value == pytest.approx(0.9, abs=0.01)


def test_removing_dead_units_keeps_predictions_exactly(digits):
    x, _ = digits
    model = make_model(hidden=(32, 16))
    dead = [3, 7, 20, 31]
    model.layers[0].kernel[:, dead] = 0.0
    model.layers[0].bias[dead] = 0.0
    smaller = prune.neurons(model, {"dense": 4}, criterion="l2")
    assert smaller.layers[0].units == 28 and smaller.layers[1].kernel.shape == (28, 16)
    # the removed units add exact zeros: only the sums' blocking may differ
    assert_within_rounding(smaller.predict(x), model.predict(x), model, x)


def test_neuron_removal_shrinks_every_hidden_layer_but_not_the_output(tmp_path):
    model = make_model(hidden=(32, 16))
    smaller = prune.neurons(model, 0.5)
    assert [layer.units for layer in smaller.layers] == [16, 8, 10]
    assert [layer.kernel.shape for layer in smaller.layers] == [(64, 16), (16, 8), (8, 10)]
    assert smaller.count_params() == 64 * 16 + 16 + 16 * 8 + 8 + 8 * 10 + 10
    model.save(tmp_path / "big.safetensors")
    smaller.save(tmp_path / "small.safetensors")
    size = (tmp_path / "small.safetensors").stat().st_size
    assert size < 0.6 * (tmp_path / "big.safetensors").stat().st_size


def test_neuron_pruned_model_is_compiled_and_fine_tunes(digits):
    x, y = digits
    model = make_model(dk.optimizers.Adam(1e-2))
    model.fit(x, y, epochs=3, verbose=0, seed=0)
    smaller = prune.neurons(model, 0.5, criterion="activation", x=x[:500])
    before = smaller.evaluate(x, y)["loss"]
    smaller.fit(x, y, epochs=2, verbose=0, seed=0)
    assert smaller.evaluate(x, y)["loss"] < before


def test_activation_criterion_needs_x():
    with pytest.raises(ArgumentError, match="x="):
        prune.neurons(make_model(), 0.5, criterion="activation")


def test_a_callable_criterion_chooses_the_units(digits):
    x, _ = digits
    model = make_model(hidden=(8, 4))

    def keep_high_indices(model, layer_index, x):
        return np.arange(model.layers[layer_index].units, dtype=float)

    smaller = prune.neurons(model, [4, 2], criterion=keep_high_indices)
    np.testing.assert_array_equal(smaller.layers[0].kernel, model.layers[0].kernel[:, 4:])
    np.testing.assert_array_equal(smaller.layers[1].kernel, model.layers[1].kernel[4:, 2:])


def test_neuron_removal_slices_batch_normalization(digits):
    if not hasattr(dk.layers, "BatchNormalization"):
        pytest.skip("BatchNormalization is not in this branch yet")
    x, y = digits
    model = dk.Sequential(
        [
            dk.layers.Dense(32, activation="relu", input_dim=64),
            dk.layers.BatchNormalization(),
            dk.layers.Dropout(0.1),
            dk.layers.Dense(16, activation="relu"),
            dk.layers.BatchNormalization(),
            dk.layers.Dense(10, activation="softmax"),
        ],
        seed=0,
    )
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(x, y, epochs=1, verbose=0, seed=0)
    keep_first = np.sort(np.argsort(-np.linalg.norm(model.layers[0].kernel, axis=0))[:24])
    smaller = prune.neurons(model, [8, 4])
    bn = smaller.layers[1]
    assert [w.shape for w in bn.weights.values()] == [(24,)] * 4
    np.testing.assert_array_equal(
        bn.weights["moving_mean"], model.layers[1].weights["moving_mean"][keep_first]
    )
    assert smaller.layers[3].kernel.shape == (24, 12)
    assert [w.shape for w in smaller.layers[4].weights.values()] == [(12,)] * 4
    assert smaller.layers[5].kernel.shape == (12, 10)
    smaller.predict(x[:5])


def test_sparse_inference_matches_dense_predictions(digits):
    pytest.importorskip("scipy")
    x, _ = digits
    model = make_model(hidden=(256, 256))
    prune.magnitude(model, 0.97)
    runner = prune.sparse_inference(model, x[:256], repeats=2)
    assert len(runner.choices) == 3
    assert all("dense_seconds" in choice for choice in runner.choices)
    assert_within_rounding(runner.predict(x), model.predict(x), model, x)  # sparse sums


def test_sparse_inference_predict_checks_batch_size(digits):
    pytest.importorskip("scipy")
    x, _ = digits
    model = make_model(hidden=(16, 8))
    runner = prune.sparse_inference(model, x[:32], repeats=1)
    assert_within_rounding(
        runner.predict(x[:50], batch_size=7), model.predict(x[:50]), model, x[:50]
    )
    with pytest.raises(ArgumentError, match="batch_size must be >= 1, got 0"):
        runner.predict(x, batch_size=0)
    with pytest.raises(ArgumentTypeError, match="batch_size must be an integer"):
        runner.predict(x, batch_size=2.5)


def test_a_registered_criterion_is_used_by_name():
    model = make_model(hidden=(8, 4))
    prune.register_criterion("reverse_index", lambda m, i, x: -np.arange(m.layers[i].units))
    try:
        smaller = prune.neurons(model, [2, 1], criterion="reverse_index")
    finally:
        del prune.CRITERIA["reverse_index"]
    np.testing.assert_array_equal(smaller.layers[0].kernel, model.layers[0].kernel[:, :6])


def test_neuron_pruning_keeps_precision_and_backend():
    model = make_model(hidden=(8, 4))
    model.precision = "bf16"
    smaller = prune.neurons(model, [2, 1])
    assert smaller.precision == "bf16"
    assert smaller.backend.name == model.backend.name
    assert smaller.compiled


def test_a_single_layer_name_as_a_str_is_rejected():
    model = make_model(hidden=(8, 4))
    name = model.layers[0].name
    with pytest.raises(ArgumentTypeError, match=rf"for one layer write \['{name}'\]"):
        prune.magnitude(model, 0.5, layers=name)
    with pytest.raises(ArgumentError, match="not Dense layers of the model"):
        prune.magnitude(model, 0.5, layers=["nope"])
    prune.magnitude(model, 0.5, layers=[name])
    assert prune.sparsity(model)[name] == pytest.approx(0.5, abs=0.01)


def test_sparse_inference_and_schedules_check_their_arguments(digits):
    pytest.importorskip("scipy")
    x, _ = digits
    model = make_model(hidden=(8, 4))
    with pytest.raises(ArgumentTypeError, match="min_sparsity must be a number"):
        prune.sparse_inference(model, x[:16], min_sparsity="a")
    with pytest.raises(ArgumentError, match="repeats must be an integer >= 1, got 0"):
        prune.sparse_inference(model, x[:16], repeats=0, min_sparsity=0.0)
    with pytest.raises(ArgumentError, match="end_step must be -1 or >= begin_step, got True"):
        prune.ConstantSparsity(0.5, end_step=True)
