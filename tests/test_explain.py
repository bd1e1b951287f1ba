"""dk.explain: attributions, permutation importance, units and pictures."""

from __future__ import annotations

import sys

import numpy as np
import pytest

import densekit as dk
from densekit import explain


def trained_classifier(activation: str = "tanh", seed: int = 0):
    """A small network fitted on the standardized iris data."""
    from sklearn.datasets import load_iris

    x, y = load_iris(return_X_y=True)
    x = ((x - x.mean(0)) / x.std(0)).astype(np.float32)
    model = dk.Sequential(
        [
            dk.layers.Dense(16, activation, input_dim=4),
            dk.layers.Dense(8, activation),
            dk.layers.Dense(3, "softmax"),
        ],
        seed=seed,
    )
    model.compile(dk.optimizers.Adam(0.01), "sparse_categorical_crossentropy", ["accuracy"])
    model.fit(x, y, epochs=30, batch_size=16, verbose=0, seed=seed)
    return model, x, y


@pytest.fixture(scope="module")
def iris_tanh():
    return trained_classifier("tanh")


@pytest.fixture(scope="module")
def iris_relu():
    return trained_classifier("relu")


@pytest.mark.parametrize("fixture", ["iris_tanh", "iris_relu"])
def test_integrated_gradients_sum_to_output_minus_baseline_output(fixture, request):
    """Within 1% of |f(x) - f(b)| + 1e-4 on every row (rows that miss are refined)."""
    rtol = explain.COMPLETENESS_RTOL
    model, x, _ = request.getfixturevalue(fixture)
    attribution = explain.integrated_gradients(model, x, steps=64)
    gap = np.abs(attribution.completeness_gap)
    change = np.abs(attribution.output - attribution.baseline_output)
    assert np.all(gap <= rtol * change + explain.COMPLETENESS_ATOL), gap.max()
    assert attribution.completeness_ok()


def test_integrated_gradients_for_every_class_are_complete_for_each(iris_tanh):
    model, x, _ = iris_tanh
    attribution = explain.integrated_gradients(model, x[:20], target="all", steps=64)
    assert attribution.values.shape == (3, 20, 4)
    probabilities = model.predict(x[:20]).T
    np.testing.assert_allclose(attribution.output, probabilities, rtol=1e-5, atol=1e-6)
    assert attribution.completeness_ok()


def test_integrated_gradients_pass_through_normalization_layers():
    from sklearn.datasets import load_iris

    x, y = load_iris(return_X_y=True)
    scale = dk.layers.Normalization()
    scale.adapt(x)
    model = dk.Sequential(
        [scale, dk.layers.Dense(8, "relu"), dk.layers.BatchNormalization(),
         dk.layers.Dense(3, "softmax")],
        seed=0,
    )  # fmt: skip
    model.compile(dk.optimizers.Adam(0.01), "sparse_categorical_crossentropy")
    model.fit(x, y, epochs=5, verbose=0, seed=0)
    attribution = explain.integrated_gradients(model, x, baseline=x.mean(0))
    assert attribution.completeness_ok()
    assert explain.neuron_importance(model, 1, x).shape == (8,)


def test_too_few_steps_warn_about_completeness(iris_relu):
    model, x, _ = iris_relu
    with pytest.warns(RuntimeWarning, match="raise steps"):
        explain.integrated_gradients(model, x * 3, steps=1, max_steps=2)


def test_gradient_x_input_is_exact_for_a_linear_model():
    model = dk.Sequential([dk.layers.Dense(2, input_dim=3)], seed=0)
    x = np.random.default_rng(0).normal(size=(5, 3))
    attribution = explain.gradient_x_input(model, x, target=1)
    kernel = model.get_weights()[0]
    np.testing.assert_allclose(attribution.values, x * kernel[:, 1], rtol=1e-6)


def test_input_gradients_match_central_differences(iris_tanh):
    model, x, _ = iris_tanh
    work = model.copy(dtype="float64")
    rows, eps = x[:3].astype(np.float64), 1e-6
    grads = explain.input_gradients(model, rows, target=2)
    for feature in range(4):
        step = np.zeros(4)
        step[feature] = eps
        numeric = (work.predict(rows + step)[:, 2] - work.predict(rows - step)[:, 2]) / (2 * eps)
        np.testing.assert_allclose(grads[:, feature], numeric, rtol=1e-5, atol=1e-8)


def test_permutation_importance_ranks_the_informative_feature_first():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 4)).astype(np.float32)
    y = 3.0 * x[:, 2] + 0.1 * rng.normal(size=400)  # only feature 2 matters
    model = dk.Sequential([dk.layers.Dense(8, "relu", input_dim=4), dk.layers.Dense(1)], seed=0)
    model.compile(dk.optimizers.Adam(0.02), "mse")
    model.fit(x, y, epochs=20, verbose=0, seed=0)
    result = explain.permutation_importance(
        model, x, y, n_repeats=3, seed=0, feature_names=["a", "b", "signal", "d"]
    )
    assert result.ranking()[0] == "signal"
    assert result.mean[2] > 10 * np.abs(np.delete(result.mean, 2)).max()
    assert result.importances.shape == (4, 3) and np.all(result.std >= 0)


def test_permutation_importance_with_accuracy_counts_a_drop_as_importance(iris_tanh):
    model, x, y = iris_tanh
    result = explain.permutation_importance(model, x, y, metric="accuracy", seed=0)
    assert result.metric == "accuracy" and result.baseline_score > 0.9
    assert result.mean.max() > 0.1


def test_dead_relu_units_are_found_on_a_constructed_layer():
    model = dk.Sequential([dk.layers.Dense(4, "relu", input_dim=2), dk.layers.Dense(1)], seed=0)
    kernel, bias, *rest = model.get_weights()
    kernel[:] = [[1.0, 0.0, 1.0, -1.0], [0.0, 1.0, 0.0, -1.0]]
    bias[:] = [0.0, 0.0, -10.0, -10.0]  # units 2 and 3 never fire on inputs in [0, 1]
    model.set_weights([kernel, bias, *rest])
    x = np.random.default_rng(0).uniform(0, 1, size=(50, 2))
    assert explain.dead_relu_units(model, x)[0].tolist() == [2, 3]
    assert explain.neuron_importance(model, 0, x)[[2, 3]].tolist() == [0.0, 0.0]


def test_saturated_tanh_units_are_found():
    model = dk.Sequential([dk.layers.Dense(3, "tanh", input_dim=1), dk.layers.Dense(1)], seed=0)
    kernel, bias, *rest = model.get_weights()
    kernel[:] = [[0.1, 50.0, 0.2]]
    bias[:] = [0.0, 100.0, 0.0]  # unit 1 sits at tanh(>50) = 1
    model.set_weights([kernel, bias, *rest])
    x = np.linspace(-1, 1, 30).reshape(-1, 1)
    assert explain.saturated_units(model, x)[0].tolist() == [1]
    health = explain.unit_health(model, x)
    records = health.to_dict("records") if hasattr(health, "to_dict") else health
    assert records[0]["saturated"] == 1 and records[0]["dead"] == 0


def test_neuron_importance_scores_one_value_per_unit(iris_relu):
    model, x, _ = iris_relu
    scores = explain.neuron_importance(model, 1, x)
    assert scores.shape == (8,) and np.all(scores >= 0)
    with pytest.raises(dk.errors.ArgumentError, match="not a Dense layer"):
        explain.neuron_importance(model, 5, x)


def test_prune_neurons_can_use_neuron_importance_by_name(iris_relu):
    prune = pytest.importorskip("densekit.prune", reason="dk.prune comes from the compress branch")
    model, x, y = iris_relu
    smaller = prune.neurons(model, 0.25, criterion="importance", x=x)
    assert [layer.units for layer in smaller.layers] == [12, 6, 3]


def test_class_attributions_give_one_row_per_class(iris_tanh):
    model, x, y = iris_tanh
    table = explain.class_attributions(model, x, y, steps=16)
    records = table.to_dict("records") if hasattr(table, "to_dict") else table
    assert [r["class"] for r in records] == [0, 1, 2]
    assert [r["rows"] for r in records] == [50, 50, 50]


@pytest.mark.parametrize("kind", ["heatmap", "hinton"])
def test_weight_pictures_have_one_panel_per_dense_layer(iris_relu, kind, tmp_path):
    pytest.importorskip("matplotlib")
    model, _, _ = iris_relu
    figure = explain.plot_weights(model, kind=kind)
    panels = [ax for ax in figure.axes if ax.get_xlabel() == "unit"]
    assert len(panels) == 3
    figure.savefig(tmp_path / f"{kind}.png")
    assert (tmp_path / f"{kind}.png").stat().st_size > 1000


def test_missing_matplotlib_names_the_plot_extra(iris_relu, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # what an environment without it sees
    with pytest.raises(dk.errors.MissingDependencyError, match=r"densekit\[plot\]"):
        explain.plot_weights(iris_relu[0])


def test_activation_histograms_and_importance_plot_render(iris_relu, tmp_path):
    pytest.importorskip("matplotlib")
    model, x, y = iris_relu
    histograms = explain.plot_activation_histograms(model, x)
    bars = explain.permutation_importance(model, x, y, n_repeats=2, seed=0).plot()
    for name, figure in [("hist", histograms), ("bars", bars)]:
        figure.savefig(tmp_path / f"{name}.png")
        assert (tmp_path / f"{name}.png").stat().st_size > 1000
    assert len(histograms.axes) == 3


def test_saturated_units_checks_threshold_and_fraction():
    model = dk.Sequential([dk.layers.Dense(3, "tanh", input_dim=1), dk.layers.Dense(1)], seed=0)
    x = np.linspace(-1, 1, 30).reshape(-1, 1)
    for name in ("threshold", "fraction"):
        with pytest.raises(dk.errors.ArgumentError, match=rf"{name} must be in \(0, 1\], got 1.5"):
            explain.saturated_units(model, x, **{name: 1.5})
        with pytest.raises(dk.errors.ArgumentError, match=rf"{name} must be in \(0, 1\], got 0"):
            explain.saturated_units(model, x, **{name: 0})
        with pytest.raises(dk.errors.ArgumentTypeError, match=f"{name} must be a number"):
            explain.saturated_units(model, x, **{name: "high"})


def test_neuron_importance_is_prunes_activation_score_times_the_next_kernel_norm():
    model = dk.Sequential(
        [
            dk.layers.Dense(6, "relu", input_dim=3),
            dk.layers.BatchNormalization(),
            dk.layers.Dense(4, "tanh"),
            dk.layers.Dense(2),
            dk.layers.Activation("sigmoid"),
        ],
        seed=0,
    )
    x = np.random.default_rng(1).normal(size=(40, 3)).astype(np.float32)
    norm = np.linalg.norm(model.layers[2].kernel.astype(np.float64), axis=1)
    expected = dk.prune.activation_scores(model, 0, x).astype(np.float64) * norm
    np.testing.assert_allclose(explain.neuron_importance(model, 0, x), expected)
    last = np.abs(
        model.layers[3].forward(
            model.layers[2].forward(
                model.layers[1].forward(model.layers[0].forward(x, False), False), False
            ),
            False,
        )
    )
    np.testing.assert_allclose(explain.neuron_importance(model, 3, x), last.mean(axis=0), rtol=1e-6)
    assert dk.prune.CRITERIA["importance"] is explain.neuron_importance
