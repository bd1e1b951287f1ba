"""densekit.mlp: the one MLP builder and the one loss-to-output mapping.

The fingerprints below were taken from the builders that cli, tune and sklearn
each had before mlp.py existed: the same settings and seed must give the same
layers and bit-identical weights, through those modules and through mlp itself.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from densekit.errors import ArgumentError, ArgumentTypeError
from densekit.mlp import build_mlp

CLI_CASES = {
    "cli-multiclass": dict(n_features=5, units=3, loss="sparse_categorical_crossentropy",
                           hidden=[8, 4], activation="relu", dropout=0.0, l2=0.0, seed=0),
    "cli-binary": dict(n_features=4, units=1, loss="binary_crossentropy", hidden=[6],
                       activation="tanh", dropout=0.2, l2=1e-3, seed=7),
    "cli-regression-no-hidden": dict(n_features=3, units=1, loss="mean_squared_error",
                                     hidden=[], seed=1),
    "cli-regression-bf16": dict(n_features=6, units=2, loss="mean_absolute_error",
                                hidden=[5, 5, 5], activation="sigmoid", dropout=0.5,
                                l2=0.01, seed=123, precision="bf16"),
}  # fmt: skip
TUNE_CASES = {
    "tune-regression": dict(config={"units": [4, 9], "activation": "relu", "dropout": 0.0,
                                    "l2": 0.0, "optimizer": "adam", "learning_rate": 1e-3},
                            input_dim=3, y=np.array([0.5, 1.5, 2.0]), seed=0),
    "tune-binary": dict(config={"units": [7], "activation": "tanh", "dropout": 0.3,
                                "l2": 1e-4, "optimizer": "sgd", "learning_rate": 0.05},
                        input_dim=5, y=np.array([0, 1, 1]), seed=11),
    "tune-multiclass": dict(config={"units": [16, 8, 4], "activation": "relu",
                                    "dropout": 0.1, "l2": 1e-2, "optimizer": "adam",
                                    "learning_rate": 0.01},
                            input_dim=2, y=np.array([0, 1, 2, 3]), seed=None),
    "tune-no-hidden": dict(config={"units": [], "activation": "relu", "dropout": 0.0,
                                   "l2": 0.0, "optimizer": "adam", "learning_rate": 1e-3},
                           input_dim=4, y=np.array([0, 1, 2]), seed=3),
}  # fmt: skip
SKLEARN_CASES = {
    "sklearn-relu": dict(params={}, sizes=(10,), n_features=4, n_outputs=3,
                         output_activation="softmax", seed=5, dtype="float64"),
    "sklearn-logistic": dict(params={"activation": "logistic"}, sizes=(6, 3), n_features=2,
                             n_outputs=1, output_activation="sigmoid", seed=0,
                             dtype="float32"),
    "sklearn-bn-dropout": dict(params={"activation": "tanh", "batch_norm": True,
                                       "dropout": 0.25}, sizes=(8, 8), n_features=3,
                               n_outputs=2, output_activation="linear", seed=99,
                               dtype="float64"),
    "sklearn-identity-no-hidden": dict(params={"activation": "identity"}, sizes=(),
                                       n_features=5, n_outputs=1,
                                       output_activation="linear", seed=1,
                                       dtype="float32"),
}  # fmt: skip

FINGERPRINTS = {
    "cli-multiclass": "7d5932310f654c310e427b2c240df693a69fc186bc037fd7a7d8194cea9d2d7e",
    "cli-binary": "a2dbeaef02b9d573eff1b44e945fd1813beaec5bf35e0e02ee456fe6a78ebf19",
    "cli-regression-no-hidden": "6b52cd6c8b4af5cbb64c67f8d4d85fd90d00f5c2ff59f271c5d55687d46bcea5",
    "cli-regression-bf16": "19d5351261f196aac83dfcc126159f9d3d165d2a7c8ab421936df3107520b55d",
    "tune-regression": "09d956eb31012a23351d069d035fe397c081229f95b9b77bb0185e9dd1cb4d0a",
    "tune-binary": "d0fc9e41887073d64ce3b0f70ff09c7a41aab85df814882acc77668751021059",
    "tune-multiclass": "6a1f411d68c845f2fe38eb7c5f6eeb1b03daef5bc9766baa58c62a120829ef3a",
    "tune-no-hidden": "97e112b6ee74d4a67646f5cc4d508fc8b72930689ce4ce4275b95b5e66c05bf7",
    "sklearn-relu": "ad0d610c412ce0c3cf189a8d6f60b61445b4dd48cafbdaad9df2124967adc6f6",
    "sklearn-logistic": "17f1b65970f6a60377eaf2093c445e1641a7cb73bcacf7250788d7d713dc897f",
    "sklearn-bn-dropout": "649ed783fdfb1b796c095ed2fdd41480c3f43c1b736759d0a50324176ec76f9a",
    "sklearn-identity-no-hidden": "ede8c7e1be8db92de912843f6ccda832f2c614c66e93638a374cb05f3b382b1f",
}


def fingerprint(model) -> str:
    """sha256 of the layers' configs (names aside), the dtype, the precision and, for a
    seeded model, every weight's bytes."""
    digest = hashlib.sha256()
    for layer in model.layers:
        config = {key: value for key, value in layer.get_config().items() if key != "name"}
        digest.update(type(layer).__name__.encode())
        digest.update(json.dumps(config, sort_keys=True, default=str).encode())
    digest.update(str(model.dtype).encode())
    digest.update(str(model.precision).encode())
    if model.built and model.seed is not None:
        for weight in model.get_weights():
            digest.update(np.ascontiguousarray(weight).tobytes())
    return digest.hexdigest()


def old_cli(case):
    from densekit.cli import build_model

    return build_model(**case)


def old_tune(case):
    pytest.importorskip("optuna")
    from densekit import tune

    task = tune.infer_task(case["y"])
    return tune.build_model(case["config"], case["input_dim"], task, seed=case["seed"])


def old_sklearn(case):
    pytest.importorskip("sklearn")
    from densekit.sklearn import DenseClassifier

    estimator = DenseClassifier(**case["params"])
    return estimator._build_model(
        case["sizes"],
        case["n_features"],
        case["n_outputs"],
        case["output_activation"],
        case["seed"],
        np.dtype(case["dtype"]),
    )


@pytest.mark.parametrize("name", CLI_CASES)
def test_cli_build_model_is_unchanged(name):
    assert fingerprint(old_cli(CLI_CASES[name])) == FINGERPRINTS[name]


@pytest.mark.parametrize("name", TUNE_CASES)
def test_tune_build_model_is_unchanged(name):
    assert fingerprint(old_tune(TUNE_CASES[name])) == FINGERPRINTS[name]


@pytest.mark.parametrize("name", SKLEARN_CASES)
def test_sklearn_build_model_is_unchanged(name):
    assert fingerprint(old_sklearn(SKLEARN_CASES[name])) == FINGERPRINTS[name]


def mlp_call(name: str):
    """The build_mlp call each pinned case stands for."""
    from densekit.mlp import build_mlp, output_head

    if name in CLI_CASES:
        case = dict(CLI_CASES[name])
        head = output_head(case.pop("units"), loss=case.pop("loss"))
        return build_mlp(
            case.pop("n_features"),
            case.pop("hidden"),
            head.units,
            output_activation=head.activation,
            **case,
        )
    if name in TUNE_CASES:
        case = TUNE_CASES[name]
        config = case["config"]
        y = case["y"]
        kind = "regression" if y.dtype.kind == "f" else "binary" if y.max() < 2 else "multiclass"
        head = output_head(1 if kind != "multiclass" else int(y.max()) + 1, task=kind)
        return build_mlp(
            case["input_dim"],
            config["units"],
            head.units,
            activation=config["activation"],
            output_activation=head.activation,
            dropout=config["dropout"],
            l2=config["l2"],
            seed=case["seed"],
        )
    case = SKLEARN_CASES[name]
    names = {"relu": "relu", "tanh": "tanh", "logistic": "sigmoid", "identity": "linear"}
    params = case["params"]
    return build_mlp(
        case["n_features"],
        case["sizes"],
        case["n_outputs"],
        activation=names[params.get("activation", "relu")],
        output_activation=case["output_activation"],
        dropout=params.get("dropout", 0.0),
        batch_norm=params.get("batch_norm", False),
        init="sklearn",
        declare_input_dim=False,
        seed=case["seed"],
        dtype=case["dtype"],
    )


@pytest.mark.parametrize("name", FINGERPRINTS)
def test_build_mlp_gives_the_old_builders_networks(name):
    assert fingerprint(mlp_call(name)) == FINGERPRINTS[name]


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"task": "binary"}, ("sigmoid", "binary_crossentropy")),
        ({"task": "multiclass"}, ("softmax", "sparse_categorical_crossentropy")),
        ({"task": "multilabel"}, ("sigmoid", "binary_crossentropy")),
        ({"task": "regression"}, ("linear", "mean_squared_error")),
        ({"loss": "categorical_crossentropy"}, ("softmax", "categorical_crossentropy")),
        ({"loss": "huber"}, ("linear", "huber")),
    ],
)
def test_output_head_maps_tasks_and_losses(kwargs, expected):
    from densekit.mlp import output_head

    head = output_head(3, **kwargs)
    assert (head.activation, head.loss, head.units) == (*expected, 3)


def test_bad_arguments_raise():
    from densekit.errors import ArgumentError
    from densekit.mlp import build_mlp, output_head

    with pytest.raises(ArgumentError, match="task or a loss"):
        output_head(1)
    with pytest.raises(ArgumentError, match="task must be"):
        output_head(1, task="ranking")
    with pytest.raises(ArgumentError, match="init must be"):
        build_mlp(2, [3], 1, init="he")
    with pytest.raises(ArgumentError):
        build_mlp(2, [3], 1, l2=-1.0)


@pytest.mark.parametrize(
    "hidden, error, words",
    [
        ("16", ArgumentTypeError, "sequence of layer widths"),
        (16, ArgumentTypeError, "sequence of layer widths"),
        ([16, 2.5], ArgumentTypeError, "hidden\\[1\\]"),
        ([16, 0], ArgumentError, "hidden\\[1\\]"),
    ],
    ids=["text", "one-int", "float-width", "zero-width"],
)
def test_hidden_widths_are_checked_not_coerced(hidden, error, words):
    # int("16") per character would build layers of 1 and 6 units without a word
    with pytest.raises(error, match=words):
        build_mlp(4, hidden, 1)


def test_numpy_integer_widths_build_the_same_network():
    plain = build_mlp(4, [8, 3], 2, seed=0)
    from_numpy = build_mlp(np.int64(4), np.array([8, 3]), np.int32(2), seed=0)
    for a, b in zip(plain.get_weights(), from_numpy.get_weights()):
        np.testing.assert_array_equal(a, b)
