"""scipy sparse x (CSR/CSC) through the first Dense layer's product, never densified."""

from __future__ import annotations

import numpy as np
import pytest

import densekit as dk

sparse = pytest.importorskip("scipy.sparse")


def _data(rows=40, features=30, seed=0):
    rng = np.random.default_rng(seed)
    dense = rng.standard_normal((rows, features)) * (rng.random((rows, features)) < 0.1)
    return dense, (dense.sum(axis=1) > 0).astype(int)


def _model(dtype="float64"):
    model = dk.Sequential(
        [dk.layers.Dense(6, "relu", input_dim=30), dk.layers.Dense(1, "sigmoid")],
        seed=0,
        dtype=dtype,
    )
    model.compile(dk.optimizers.SGD(0.1), "binary_crossentropy", metrics=["accuracy"])
    return model


@pytest.mark.parametrize("container", ["csr_matrix", "csc_matrix", "csr_array"])
def test_fit_and_predict_on_sparse_x_match_the_dense_rows(container):
    x, y = _data()
    on_sparse, on_dense = _model(), _model()
    make = getattr(sparse, container)
    history = on_sparse.fit(make(x), y, epochs=3, batch_size=8, seed=0, verbose=0)
    reference = on_dense.fit(x, y, epochs=3, batch_size=8, seed=0, verbose=0)
    # float64 products of the same terms in another order: rounding of a few eps per step
    np.testing.assert_allclose(history.history["loss"], reference.history["loss"], rtol=1e-12)
    np.testing.assert_allclose(on_sparse.predict(make(x)), on_dense.predict(x), rtol=1e-12)
    assert on_sparse.evaluate(make(x), y) == pytest.approx(on_dense.evaluate(x, y), rel=1e-12)


def test_the_first_layer_sees_the_sparse_matrix_itself():
    x, y = _data()
    model = _model()
    seen = []
    forward = model.layers[0].forward

    def spy(batch, training):
        seen.append(sparse.issparse(batch))
        return forward(batch, training)

    model.layers[0].forward = spy
    model.predict(sparse.csr_matrix(x))
    model.fit(sparse.csr_matrix(x), y, epochs=1, batch_size=8, verbose=0)
    assert seen and all(seen)


def test_nonfinite_sparse_values_and_wrong_widths_are_refused():
    x, y = _data()
    bad = sparse.csr_matrix(x)
    bad.data[0] = np.nan
    model = _model()
    with pytest.raises(dk.errors.InputError, match="sparse.*NaN"):
        model.fit(bad, y, verbose=0)
    with pytest.raises(dk.errors.InputError, match="29 features"):
        model.predict(sparse.csr_matrix(x[:, :29]))


def test_lbfgs_trains_on_sparse_x():
    x, y = _data()
    model = _model()
    model.compile("lbfgs", "binary_crossentropy")
    history = model.fit(sparse.csr_matrix(x), y, epochs=20, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
