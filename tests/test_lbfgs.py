"""dk.optimizers.LBFGS: scipy's L-BFGS-B over the model's flat parameter buffer."""

from __future__ import annotations

import numpy as np
import pytest

import densekit as dk

pytest.importorskip("scipy")


def _regression(rows=50, features=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((rows, features))
    y = x @ np.array([1.5, -2.0, 0.5])[:features] + 0.3 + 0.1 * rng.standard_normal(rows)
    return x, y


def _linear(features=3):
    model = dk.Sequential([dk.layers.Dense(1, input_dim=features)], dtype="float64", seed=0)
    model.compile(dk.optimizers.LBFGS(tol=1e-12), "mse")
    return model


def test_a_linear_fit_reaches_the_least_squares_minimum():
    x, y = _regression()
    model = _linear()
    model.compile(dk.optimizers.LBFGS(tol=1e-10, ftol=0.0), "mse")
    model.fit(x, y, epochs=200, verbose=0)
    design = np.hstack([x, np.ones((len(x), 1))])
    exact = np.linalg.lstsq(design, y, rcond=None)[0]
    found = np.concatenate([model.get_weights()[0].ravel(), model.get_weights()[1]])
    # the loss mean((Dw - y)^2) is quadratic with Hessian H = 2 D'D / n, so the distance
    # to the minimum is at most |g| / lambda_min(H), g the gradient where L-BFGS stopped
    model.compute_gradients(x, y.reshape(-1, 1))
    gradient = model.grads.copy()
    hessian = 2 * design.T @ design / len(x)
    bound = np.linalg.norm(gradient) / np.linalg.eigvalsh(hessian)[0]
    assert np.abs(gradient).max() <= 1e-10
    assert np.abs(found - exact).max() <= bound + 64 * np.finfo(float).eps


def test_the_gradient_scipy_gets_is_the_backprop_gradient_float64():
    x, y = _regression(rows=20)
    model = dk.Sequential(
        [dk.layers.Dense(4, "tanh", input_dim=3), dk.layers.Dense(1)], dtype="float64", seed=1
    )
    model.compile("lbfgs", "mse")
    seen = []

    def loss_and_gradient():
        loss = model.compute_gradients(x, y.reshape(-1, 1))[0]
        seen.append((model.params.copy(), loss, model.grads.copy()))
        return loss, model.grads

    model.optimizer.minimize(model.params, loss_and_gradient, max_iter=1)
    point, _, grad = seen[0]

    def loss_at(theta):
        model.params[...] = theta
        return model.compute_gradients(x, y.reshape(-1, 1))[0]

    step = 1e-6
    numeric = np.array(
        [
            (loss_at(point + step * e) - loss_at(point - step * e)) / (2 * step)
            for e in np.eye(point.size)
        ]
    )
    # central differences: error O(step^2 f''') plus rounding eps * |f| / step
    np.testing.assert_allclose(numeric, grad, rtol=0, atol=1e-8)


def test_fit_keeps_the_flat_buffer_and_its_views():
    x, y = _regression()
    model = _linear()
    params, kernel = model.params, model.layers[0].kernel
    model.fit(x, y, epochs=20, verbose=0)
    assert model.params is params and np.shares_memory(model.layers[0].kernel, params)
    assert model.layers[0].kernel is kernel


def test_each_iteration_is_an_epoch_for_history_and_callbacks():
    x, y = _regression()
    model = _linear()
    history = model.fit(x, y, epochs=3, verbose=0, validation_data=(x, y))
    assert len(history.history["loss"]) == 3 and len(history.history["val_loss"]) == 3
    assert history.history["loss"][0] > history.history["loss"][-1]
    assert model.optimizer.iterations == 3


def test_a_callback_can_stop_it():
    class StopAfterTwo(dk.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                self.model.stop_training = True

    x, y = _regression()
    model = _linear()
    history = model.fit(x, y, epochs=50, verbose=0, callbacks=[StopAfterTwo()])
    assert len(history.history["loss"]) == 2


def test_max_fun_limits_the_evaluations():
    x, y = _regression()
    model = dk.Sequential(
        [dk.layers.Dense(8, "tanh", input_dim=3), dk.layers.Dense(1)], dtype="float64", seed=0
    )
    model.compile(dk.optimizers.LBFGS(max_fun=5), "mse")
    model.fit(x, y, epochs=100, verbose=0)
    assert model.optimizer.evaluations <= 5 + model.optimizer.max_line_search


def test_a_float32_model_trains_too():
    x, y = _regression()
    model = dk.Sequential([dk.layers.Dense(1, input_dim=3)], seed=0)
    model.compile("lbfgs", "mse")
    history = model.fit(x, y, epochs=30, verbose=0)
    assert model.params.dtype == np.float32 and history.history["loss"][-1] < 0.02


def test_a_step_per_batch_is_refused_with_what_to_do():
    model = _linear()
    with pytest.raises(dk.errors.ArgumentError, match="full-batch.*model.fit"):
        model.train_on_batch(np.ones((2, 3)), np.ones(2))


def test_config_round_trip_and_bad_settings():
    optimizer = dk.optimizers.LBFGS(max_fun=100, tol=1e-6, history_size=5)
    again = dk.optimizers.get(optimizer.get_config())
    assert again.get_config() == optimizer.get_config()
    with pytest.raises(dk.errors.ArgumentError, match="max_fun"):
        dk.optimizers.LBFGS(max_fun=0)
