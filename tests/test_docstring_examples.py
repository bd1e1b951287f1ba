"""Every example in a docstring of src/densekit runs and prints what it shows.

Each module's doctests run in a fresh folder (examples may write files) with a small
namespace that stands for the names examples use without defining: ``dk``, ``np``, a
compiled, trained classifier ``model`` on iris, and its data ``x``, ``y`` (with
``x_val``/``y_val`` and ``x_test``/``y_test``); ``torch`` where it is installed.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import numpy as np
import pytest

import densekit as dk

MODULES = sorted(
    info.name
    for info in pkgutil.walk_packages(dk.__path__, "densekit.")
    if not info.name.endswith("__main__")
)


def _with_examples(name: str) -> bool:
    module = importlib.import_module(name)
    return any(test.examples for test in doctest.DocTestFinder().find(module, name))


WITH_EXAMPLES = [name for name in MODULES if _with_examples(name)]


def _namespace() -> dict:
    datasets = pytest.importorskip("sklearn.datasets")
    x, y = datasets.load_iris(return_X_y=True)
    x = ((x - x.mean(axis=0)) / x.std(axis=0)).astype(np.float32)
    model = dk.Sequential(
        [dk.layers.Dense(8, "relu", input_dim=4), dk.layers.Dense(3, "softmax")], seed=0
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=2, verbose=0, seed=0)
    names = {"dk": dk, "np": np, "model": model, "x": x, "y": y}
    names.update(x_val=x[::5], y_val=y[::5], x_test=x[1::5], y_test=y[1::5])
    try:
        import torch
    except ImportError:
        pass
    else:
        names["torch"] = torch
    return names


def test_the_examples_are_found():
    assert {"densekit.gradcheck", "densekit.explain.trace", "densekit.onnx"} <= set(WITH_EXAMPLES)


@pytest.mark.parametrize("name", WITH_EXAMPLES)
def test_docstring_examples_run(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    module = importlib.import_module(name)
    namespace = _namespace()
    if "torch" not in namespace and any(
        "torch." in example.source
        for test in doctest.DocTestFinder().find(module, name)
        for example in test.examples
    ):
        pytest.skip("torch is not installed")
    if name == "densekit.onnx":
        pytest.importorskip("onnxruntime")
    finder = doctest.DocTestFinder()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for test in finder.find(module, name, globs=dict(namespace)):
        result = runner.run(test)
        assert result.failed == 0, f"{test.name}: a docstring example failed (see above)"
