"""A public method that raises on bad input leaves everything as it was.

One table: each case builds a model (``SETUPS``), takes a fingerprint of all its
observable state (the flat buffers' bytes, the optimizer and its state, the compile
settings, the layers, every random generator, the flags fit sets) and of the files in
the test's folder, makes one bad call, and checks the error class and that both
fingerprints are unchanged. Then the model trains one epoch and must end with the
weights of a twin that never saw the bad call.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import densekit as dk
from densekit.callbacks import (
    BackupAndRestore,
    Callback,
    EarlyStopping,
    LearningRateScheduler,
    ModelCheckpoint,
    ReduceLROnPlateau,
    TerminateOnNaN,
)
from densekit.errors import (
    ArgumentError,
    ArgumentTypeError,
    InputError,
    ModelFileError,
    NotBuiltError,
    NotCompiledError,
    TrainingError,
)
from densekit.layers import BatchNormalization, Dense, Dropout, Layer, Normalization
from densekit.serialization import checkpoint

N_FEATURES, N_CLASSES = 4, 3
_data_rng = np.random.default_rng(7)
X = _data_rng.normal(size=(40, N_FEATURES))
Y = np.arange(40) % N_CLASSES


# --- the models the bad calls are made on --------------------------------------------


def _layers(input_dim: int | None = N_FEATURES) -> list:
    return [
        Dense(8, activation="relu", input_dim=input_dim),
        BatchNormalization(),
        Dropout(0.25),
        Dense(N_CLASSES, activation="softmax"),
    ]


def _compiled(input_dim: int | None = N_FEATURES, optimizer: Any = None) -> dk.Sequential:
    model = dk.Sequential(_layers(input_dim), seed=1)
    model.compile(
        optimizer or dk.optimizers.Adam(1e-2), "sparse_categorical_crossentropy", ["accuracy"]
    )
    return model


def trained(tmp_path: Path) -> dk.Sequential:
    """Built, compiled and trained: the optimizer has state and a step count."""
    model = _compiled()
    model.fit(X, Y, epochs=2, batch_size=8, verbose=0)
    return model


def unbuilt(tmp_path: Path) -> dk.Sequential:
    """Compiled, not built: fit builds it from the data."""
    return _compiled(input_dim=None)


def uncompiled(tmp_path: Path) -> dk.Sequential:
    return dk.Sequential(_layers(), seed=1)


def scheduled(tmp_path: Path) -> dk.Sequential:
    """Trained with a learning-rate schedule (which LR callbacks refuse)."""
    model = _compiled(optimizer=dk.optimizers.Adam(dk.schedules.ExponentialDecay(1e-2, 10, 0.9)))
    model.fit(X, Y, epochs=1, batch_size=8, verbose=0)
    return model


def with_file(tmp_path: Path) -> dk.Sequential:
    """Trained, with a saved model file already in the folder."""
    model = trained(tmp_path)
    model.save(tmp_path / "model.safetensors")
    return model


def with_unsavable_metadata(tmp_path: Path) -> dk.Sequential:
    model = with_file(tmp_path)
    model.metadata = {"created": object()}  # not JSON
    return model


def with_foreign_backup(tmp_path: Path) -> dk.Sequential:
    """Unbuilt, with a BackupAndRestore backup written by another architecture."""
    other = dk.Sequential([Dense(5, input_dim=N_FEATURES), Dense(N_CLASSES, "softmax")], seed=2)
    other.compile("adam", "sparse_categorical_crossentropy")
    other.fit(X, Y, epochs=1, verbose=0)
    (tmp_path / "backup").mkdir()
    checkpoint.save_checkpoint(other, tmp_path / "backup" / BackupAndRestore.FILENAME, 1)
    return unbuilt(tmp_path)


def with_bad_files(tmp_path: Path) -> dk.Sequential:
    """Trained, beside a file of zeros and a truncated model file."""
    model = with_file(tmp_path)
    (tmp_path / "zeros.safetensors").write_bytes(b"\x00" * 40)
    (tmp_path / "cut.safetensors").write_bytes((tmp_path / "model.safetensors").read_bytes()[:-7])
    return model


def with_normalization(tmp_path: Path) -> dk.Sequential:
    """A built model whose first layer is an adapted Normalization."""
    norm = Normalization(input_dim=N_FEATURES)
    model = dk.Sequential([norm, Dense(N_CLASSES, activation="softmax")], seed=1)
    norm.adapt(X)
    model.compile("adam", "sparse_categorical_crossentropy")
    return model


# --- fingerprints ------------------------------------------------------------------------


def _bytes(array: Any) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def _generator(rng: np.random.Generator | None) -> Any:
    return None if rng is None else (id(rng), json.dumps(rng.bit_generator.state, default=str))


def fingerprint(model: dk.Sequential) -> dict:
    """Everything a user (or the next call) can observe of ``model``."""
    optimizer = model.optimizer
    observed = {
        "built": model.built,
        "input_dim": model.input_dim,
        "config": json.dumps(model.get_config(), sort_keys=True, default=str),
        "metadata": repr(model.metadata),
        "feature_names": model.feature_names,
        "stop_training": model.stop_training,
        "stop_on_nonfinite": model.stop_on_nonfinite,
        "loss": id(model.loss),
        "metrics": list(model.metric_names),
        "rng": _generator(model.rng),
        "fit_rng": _generator(getattr(model, "fit_rng", None)),
        "layers": [
            (
                id(layer),
                layer.name,
                layer.input_dim,
                layer.output_dim,
                json.dumps(layer.get_config(), sort_keys=True, default=str),
                _generator(layer.rng),
                sorted(layer.weights),
            )
            for layer in model.layers
        ],
        "hooks": (list(model.gradient_hooks), list(model.constraints)),
    }
    if model.built:
        observed["params"] = _bytes(model.params)
        observed["state"] = _bytes(model.state)
        observed["weights"] = [_bytes(w) for w in model.get_weights()]
    if optimizer is not None:
        observed["optimizer"] = (
            id(optimizer),
            json.dumps(optimizer.get_config(), sort_keys=True, default=str),
            optimizer.iterations,
            optimizer.learning_rate,
            {name: _bytes(array) for name, array in optimizer.state.items()},
        )
    return observed


def files(folder: Path) -> dict[str, str]:
    """Every file and folder under ``folder``, with a hash of each file's bytes."""
    return {
        str(path.relative_to(folder)): _bytes(np.frombuffer(path.read_bytes(), np.uint8))
        if path.is_file()
        else "folder"
        for path in sorted(folder.rglob("*"))
    }


# --- the table -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    id: str
    setup: Callable[[Path], dk.Sequential]
    call: Callable[[dk.Sequential, Path], Any]
    error: type[Exception]
    #: False for a model that cannot train by design: the fingerprint is the check
    trains_after: bool = True


class EvenWidth(Layer):
    """A layer whose ``build`` refuses an odd input width, as a user's layer may."""

    def build(self, input_dim: int) -> int:
        if input_dim % 2:
            raise InputError(f"EvenWidth takes an even number of features, got {input_dim}")
        return super().build(input_dim)


def _fit(**kwargs) -> Callable[[dk.Sequential, Path], Any]:
    arguments = {"x": X, "y": Y, "epochs": 1, "batch_size": 8, "verbose": 0, **kwargs}
    return lambda model, tmp_path: model.fit(**arguments)


def _fit_with(make_callbacks: Callable[[Path], list], **kwargs):
    def call(model, tmp_path):
        return model.fit(X, Y, epochs=2, verbose=0, callbacks=make_callbacks(tmp_path), **kwargs)

    return call


X_NAN = X.copy()
X_NAN[3, 1] = np.nan
Y_OUT_OF_RANGE = Y.copy()
Y_OUT_OF_RANGE[5] = 7
FRAME = pd.DataFrame(X, columns=[f"f{i}" for i in range(N_FEATURES)])
WEIGHT_COUNT = 2 + 4 + 2  # Dense kernel, bias; BN gamma, beta, moving mean, variance; Dense


def _train_on_batch(**kwargs) -> Callable[[dk.Sequential, Path], Any]:
    arguments = {"x": X, "y": Y, **kwargs}
    return lambda model, tmp_path: model.train_on_batch(**arguments)


def _one_hot_with_nan() -> np.ndarray:
    """Targets shaped like the output (as fit's loop passes them), one of them NaN."""
    one_hot = np.eye(N_CLASSES)[Y]
    one_hot[2, 0] = np.nan
    return one_hot


def _add_anothers_layer(model: dk.Sequential) -> None:
    """Add a layer of another model, alive while ``add`` runs."""
    other = dk.Sequential([Dense(N_CLASSES, input_dim=N_CLASSES, name="borrowed")], seed=3)
    model.add(other.layers[0])


def _weights_with(model: dk.Sequential, index: int, value: Any) -> list:
    weights = model.get_weights()
    weights[index] = value
    return weights


CASES = [
    # compile: names, types and the metric the issue reports
    Case(
        "compile-unknown-metric",
        trained,
        lambda m, p: m.compile("adam", "mse", ["f1_score"]),
        ArgumentError,
    ),
    Case(
        "compile-unknown-metric-unbuilt",
        unbuilt,
        lambda m, p: m.compile("adam", "mse", ["f1_score"]),
        ArgumentError,
    ),
    Case(
        "compile-unknown-metric-uncompiled",
        uncompiled,
        lambda m, p: m.compile("adam", "mse", ["f1_score"]),
        ArgumentError,
    ),
    Case(
        "compile-metrics-str",
        trained,
        lambda m, p: m.compile("sgd", "mse", "mae"),
        ArgumentTypeError,
    ),
    Case(
        "compile-metric-not-str",
        trained,
        lambda m, p: m.compile("sgd", "mse", [3]),
        ArgumentTypeError,
    ),
    Case("compile-unknown-loss", trained, lambda m, p: m.compile("sgd", "nope"), ArgumentError),
    Case(
        "compile-unknown-optimizer", trained, lambda m, p: m.compile("nope", "mse"), ArgumentError
    ),
    Case("compile-no-loss", trained, lambda m, p: m.compile("sgd"), ArgumentError),
    # fit: every argument, on a built and on an unbuilt model
    *[
        Case(f"fit-{name}-{setup.__name__}", setup, call, error)
        for setup in (trained, unbuilt)
        for name, call, error in [
            ("batch-size-0", _fit(batch_size=0), ArgumentError),
            ("epochs-negative", _fit(epochs=-1), ArgumentError),
            ("initial-epoch-str", _fit(initial_epoch="1"), ArgumentTypeError),
            ("verbose-5", _fit(verbose=5), ArgumentError),
            ("validation-split-1.5", _fit(validation_split=1.5), ArgumentError),
            ("threads-0", _fit(threads=0), ArgumentError),
            ("threads-str", _fit(threads="2"), ArgumentTypeError),
            ("shuffle-str", _fit(shuffle="no"), ArgumentTypeError),
            ("shuffle-int", _fit(shuffle=1), ArgumentTypeError),
            ("steps-per-epoch", _fit(steps_per_epoch=3), ArgumentError),
            ("unknown-keyword", _fit(epoch=3), ArgumentTypeError),
            ("x-nan", _fit(x=X_NAN), InputError),
            ("x-1d", _fit(x=X[:, 0]), InputError),
            ("y-short", _fit(y=Y[:-1]), InputError),
            ("y-label-out-of-range", _fit(y=Y_OUT_OF_RANGE), InputError),
            ("y-nan", _fit(y=np.where(Y == 1, np.nan, Y)), InputError),
            ("sample-weight-negative", _fit(sample_weight=-np.ones(len(X))), InputError),
            ("sample-weight-short", _fit(sample_weight=np.ones(3)), InputError),
            ("class-weight-list", _fit(class_weight=[1.0, 2.0, 3.0]), ArgumentTypeError),
            ("class-weight-unknown-class", _fit(class_weight={9: 1.0}), ArgumentError),
            ("class-weight-negative", _fit(class_weight={0: -1.0}), ArgumentError),
            ("validation-data-one", _fit(validation_data=(X,)), ArgumentError),
            ("validation-data-width", _fit(validation_data=(X[:, :2], Y)), InputError),
            ("validation-data-labels", _fit(validation_data=(X, Y_OUT_OF_RANGE)), InputError),
            ("validation-data-nan", _fit(validation_data=(X_NAN, Y)), InputError),
            ("callbacks-not-list", _fit(callbacks=EarlyStopping()), ArgumentTypeError),
            ("callbacks-not-callback", _fit(callbacks=[object()]), ArgumentError),
            ("callbacks-not-callback-seed", _fit(callbacks=[object()], seed=3), ArgumentError),
            ("seed-negative", _fit(seed=-1), ArgumentError),
            (
                "validation-split-one-row",
                _fit(x=X[:1], y=Y[:1], validation_split=0.2),
                InputError,
            ),
            (
                "validation-split-singleton-classes",
                _fit(x=X[:3], y=Y[:3], validation_split=0.2),
                InputError,
            ),
            ("dataframe-bad-labels", _fit(x=FRAME, y=Y_OUT_OF_RANGE), InputError),
            (
                "early-stopping-missing-monitor",
                _fit_with(lambda p: [EarlyStopping(monitor="val_loss")]),
                ArgumentError,
            ),
            (
                "reduce-lr-missing-monitor",
                _fit_with(lambda p: [ReduceLROnPlateau(monitor="val_accuracy")]),
                ArgumentError,
            ),
            (
                "checkpoint-best-missing-monitor",
                _fit_with(lambda p: [ModelCheckpoint(p / "best.safetensors", save_best_only=True)]),
                ArgumentError,
            ),
            (
                "checkpoint-path-missing-key",
                _fit_with(lambda p: [ModelCheckpoint(p / "m-{val_auc:.2f}.safetensors")]),
                ArgumentError,
            ),
        ]
    ],
    Case("fit-width-built", trained, _fit(x=X[:, :3]), InputError),
    Case("fit-uncompiled", uncompiled, _fit(), NotCompiledError),
    Case(
        "fit-reduce-lr-with-schedule",
        scheduled,
        _fit_with(lambda p: [TerminateOnNaN(), ReduceLROnPlateau(monitor="loss")]),
        ArgumentError,
    ),
    Case(
        "fit-lr-scheduler-with-schedule",
        scheduled,
        _fit_with(lambda p: [TerminateOnNaN(), LearningRateScheduler(lambda e, lr: lr)]),
        ArgumentError,
    ),
    Case(
        "fit-backup-of-another-model",
        with_foreign_backup,
        _fit_with(lambda p: [TerminateOnNaN(), BackupAndRestore(p / "backup")], seed=4),
        ModelFileError,
    ),
    # build
    Case("build-other-width", trained, lambda m, p: m.build(5), InputError),
    Case("build-str", unbuilt, lambda m, p: m.build("4"), ArgumentTypeError),
    Case("build-zero", unbuilt, lambda m, p: m.build(0), ArgumentError),
    Case(
        "build-declared-width-disagrees",
        lambda p: _declared_mismatch(),
        lambda m, p: m.build(N_FEATURES),
        InputError,
        trains_after=False,
    ),
    # add
    Case("add-not-a-layer", trained, lambda m, p: m.add("dense"), ArgumentTypeError),
    Case("add-twice", trained, lambda m, p: m.add(m.layers[0]), ArgumentError),
    Case("add-same-name", trained, lambda m, p: m.add(Dense(2, name="dense")), ArgumentError),
    Case("add-declared-width", trained, lambda m, p: m.add(Dense(2, input_dim=9)), ArgumentError),
    Case("add-layer-whose-build-refuses", trained, lambda m, p: m.add(EvenWidth()), InputError),
    Case("add-layer-of-another-model", trained, lambda m, p: _add_anothers_layer(m), ArgumentError),
    Case(
        "add-layer-of-another-unbuilt-model",
        unbuilt,
        lambda m, p: _add_anothers_layer(m),
        ArgumentError,
    ),
    # train_on_batch: checked as fit checks; a loss that is not finite undoes the forward pass
    *[
        Case(f"train-on-batch-{name}", setup, call, error)
        for name, setup, call, error in [
            ("uncompiled", uncompiled, _train_on_batch(), NotCompiledError),
            ("unbuilt", unbuilt, _train_on_batch(), NotBuiltError),
            ("x-nan", trained, _train_on_batch(x=X_NAN), InputError),
            ("x-width", trained, _train_on_batch(x=X[:, :3]), InputError),
            ("x-1d", trained, _train_on_batch(x=X[:, 0]), InputError),
            ("y-short", trained, _train_on_batch(y=Y[:-1]), InputError),
            ("y-label-out-of-range", trained, _train_on_batch(y=Y_OUT_OF_RANGE), InputError),
            ("one-hot-y-nan", trained, _train_on_batch(y=_one_hot_with_nan()), InputError),
            (
                "sample-weight-negative",
                trained,
                _train_on_batch(sample_weight=-np.ones(len(X))),
                InputError,
            ),
            (
                "loss-overflows",  # finite inputs, but the weighted loss is inf in float32
                trained,
                _train_on_batch(sample_weight=np.full(len(X), 3e38)),
                TrainingError,
            ),
        ]
    ],
    # evaluate and predict read only, but must refuse before anything else
    Case("evaluate-uncompiled", uncompiled, lambda m, p: m.evaluate(X, Y), NotCompiledError),
    Case("evaluate-unbuilt", unbuilt, lambda m, p: m.evaluate(X, Y), NotBuiltError),
    Case("evaluate-x-nan", trained, lambda m, p: m.evaluate(X_NAN, Y), InputError),
    Case(
        "evaluate-batch-size-0", trained, lambda m, p: m.evaluate(X, Y, batch_size=0), ArgumentError
    ),
    Case(
        "evaluate-sample-weight-short",
        trained,
        lambda m, p: m.evaluate(X, Y, sample_weight=[1.0]),
        InputError,
    ),
    Case("predict-unbuilt", unbuilt, lambda m, p: m.predict(X), NotBuiltError),
    Case("predict-x-width", trained, lambda m, p: m.predict(X[:, :2]), InputError),
    Case("predict-batch-size-0", trained, lambda m, p: m.predict(X, batch_size=0), ArgumentError),
    Case("predict-threads-str", trained, lambda m, p: m.predict(X, threads="2"), ArgumentTypeError),
    Case("predict-threads-0", trained, lambda m, p: m.predict(X, threads=0), ArgumentError),
    Case(
        "predict-dataframe-columns",
        lambda p: _fitted_on_frame(),
        lambda m, p: m.predict(FRAME[FRAME.columns[::-1]]),
        InputError,
    ),
    # weights
    Case("get-weights-unbuilt", unbuilt, lambda m, p: m.get_weights(), NotBuiltError),
    Case("set-weights-unbuilt", unbuilt, lambda m, p: m.set_weights([]), NotBuiltError),
    Case("set-weights-not-list", trained, lambda m, p: m.set_weights(m.params), ArgumentTypeError),
    Case(
        "set-weights-count", trained, lambda m, p: m.set_weights(m.get_weights()[:-1]), InputError
    ),
    Case(
        "set-weights-shape",
        trained,
        lambda m, p: m.set_weights(_weights_with(m, -1, np.zeros(5))),
        InputError,
    ),
    Case(
        "set-weights-nan-in-last",
        trained,
        lambda m, p: m.set_weights(_weights_with(m, -1, np.full(N_CLASSES, np.nan))),
        InputError,
    ),
    Case(
        "set-weights-too-large-for-float32",
        trained,
        lambda m, p: m.set_weights(_weights_with(m, -1, np.full(N_CLASSES, 1e39))),
        InputError,
    ),
    Case(
        "set-weights-strings",
        trained,
        lambda m, p: m.set_weights(_weights_with(m, -1, np.array(["a", "b", "c"]))),
        InputError,
    ),
    Case("to-unknown-device", trained, lambda m, p: m.to("tpu"), ArgumentError),
    # layers
    Case(
        "adapt-nan",
        with_normalization,
        lambda m, p: m.layers[0].adapt(X_NAN),
        InputError,
    ),
    Case(
        "adapt-width",
        with_normalization,
        lambda m, p: m.layers[0].adapt(X[:, :2]),
        InputError,
    ),
    Case("adapt-1d", with_normalization, lambda m, p: m.layers[0].adapt(X[:, 0]), InputError),
    Case(
        "trainable-not-a-bool",
        trained,
        lambda m, p: setattr(m.layers[0], "trainable", "no"),
        ArgumentError,
    ),
    # files: a failing save keeps the existing file, a failing load creates nothing
    Case(
        "save-unsavable-metadata-over-a-file",
        with_unsavable_metadata,
        lambda m, p: m.save(p / "model.safetensors"),
        ArgumentTypeError,
    ),
    Case("save-foreign-suffix", with_file, lambda m, p: m.save(p / "model.h5"), InputError),
    Case("save-into-a-folder", with_file, lambda m, p: m.save(p), InputError),
    Case(
        "save-missing-folder",
        with_file,
        lambda m, p: m.save(p / "no" / "m.safetensors"),
        InputError,
    ),
    Case("save-unbuilt", unbuilt, lambda m, p: m.save(p / "m.safetensors"), NotBuiltError),
    Case(
        "save-include-optimizer-str-over-a-file",
        with_file,
        lambda m, p: m.save(p / "model.safetensors", include_optimizer="no"),
        ArgumentTypeError,
    ),
    Case(
        "save-include-optimizer-int",
        trained,
        lambda m, p: m.save(p / "m.safetensors", include_optimizer=0),
        ArgumentTypeError,
    ),
    Case(
        "load-missing", trained, lambda m, p: dk.load_model(p / "none.safetensors"), ModelFileError
    ),
    Case("load-folder", trained, lambda m, p: dk.load_model(p), ModelFileError),
    Case(
        "load-zeros",
        with_bad_files,
        lambda m, p: dk.load_model(p / "zeros.safetensors"),
        ModelFileError,
    ),
    Case(
        "load-truncated",
        with_bad_files,
        lambda m, p: dk.load_model(p / "cut.safetensors"),
        ModelFileError,
    ),
    Case(
        "load-weights-of-another-model",
        lambda p: _trained_beside_foreign_backup(p),
        lambda m, p: checkpoint.load_weights(m, p / "backup" / BackupAndRestore.FILENAME),
        ModelFileError,
    ),
    Case(
        "restore-checkpoint-of-another-model",
        lambda p: _trained_beside_foreign_backup(p),
        lambda m, p: checkpoint.restore_checkpoint(m, p / "backup" / BackupAndRestore.FILENAME),
        ModelFileError,
    ),
]


# --- densekit.distributed.fit on one rank (this process: MPI's COMM_WORLD of size 1) ----------


def _distributed_fit(**kwargs) -> Callable[[dk.Sequential, Path], Any]:
    def call(model, tmp_path):
        from densekit import distributed

        arguments = {"x": X, "y": Y, "epochs": 1, "batch_size": 8, "verbose": 0, **kwargs}
        for name in ("x", "checkpoint"):  # a file in the test's folder, named relatively
            if isinstance(arguments.get(name), str) and name in kwargs:
                arguments[name] = str(tmp_path / arguments[name])
        return distributed.fit(model, **arguments)

    return call


def _beside_npy_with_nan(setup: Callable[[Path], dk.Sequential]) -> Callable:
    """``setup``'s model beside x.npy, whose first column is NaN: a memory map is read,
    and checked, only once fit has drawn the validation rows, after building the model."""

    def make(tmp_path: Path) -> dk.Sequential:
        x = X.copy()
        x[:, 0] = np.nan
        np.save(tmp_path / "x.npy", x)
        return setup(tmp_path)

    return make


def _scheduled_beside_its_checkpoint(tmp_path: Path) -> dk.Sequential:
    """A scheduled model beside a checkpoint its twin wrote one epoch later."""
    from densekit import distributed

    twin = scheduled(tmp_path)
    distributed.fit(twin, X, Y, epochs=1, verbose=0, checkpoint=tmp_path / "ck.safetensors")
    return scheduled(tmp_path)


def _distributed_cases() -> list[Case]:
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        return []
    backup = BackupAndRestore.FILENAME
    cases = [
        Case(f"distributed-fit-{name}-{setup.__name__}", setup, call, error)
        for setup in (trained, unbuilt)
        for name, call, error in [
            ("batch-size-0", _distributed_fit(batch_size=0), ArgumentError),
            ("epochs-negative", _distributed_fit(epochs=-1), ArgumentError),
            ("verbose-5", _distributed_fit(verbose=5), ArgumentError),
            ("sync-every-0", _distributed_fit(sync_every=0), ArgumentError),
            ("checkpoint-every-0", _distributed_fit(checkpoint_every=0), ArgumentError),
            ("validation-split-1.5", _distributed_fit(validation_split=1.5), ArgumentError),
            ("shuffle-str", _distributed_fit(shuffle="no"), ArgumentTypeError),
            ("resume-str", _distributed_fit(resume="no"), ArgumentTypeError),
            ("checkpoint-int", _distributed_fit(checkpoint=3), ArgumentTypeError),
            ("seed-negative", _distributed_fit(seed=-1), ArgumentError),
            ("callbacks-not-list", _distributed_fit(callbacks=EarlyStopping()), ArgumentTypeError),
            ("callbacks-not-callback", _distributed_fit(callbacks=[object()]), ArgumentError),
            (
                "backup-and-restore",
                _distributed_fit(callbacks=[BackupAndRestore("backup")]),
                ArgumentError,
            ),
            (
                "early-stopping-missing-monitor",
                _distributed_fit(callbacks=[EarlyStopping(monitor="val_loss")]),
                ArgumentError,
            ),
            ("x-nan", _distributed_fit(x=X_NAN), InputError),
            ("y-short", _distributed_fit(y=Y[:-1]), InputError),
            ("y-label-out-of-range", _distributed_fit(y=Y_OUT_OF_RANGE), InputError),
            (
                "sample-weight-negative",
                _distributed_fit(sample_weight=-np.ones(len(X))),
                InputError,
            ),
            ("class-weight-negative", _distributed_fit(class_weight={0: -1.0}), ArgumentError),
            ("validation-data-width", _distributed_fit(validation_data=(X[:, :2], Y)), InputError),
            ("validation-data-nan", _distributed_fit(validation_data=(X_NAN, Y)), InputError),
            (
                "validation-split-one-row",
                _distributed_fit(x=X[:1], y=Y[:1], validation_split=0.2),
                InputError,
            ),
        ]
    ]
    from_another = _distributed_fit(resume=True, checkpoint=f"backup/{backup}", seed=4)
    for name, setup in [
        ("trained", lambda p: _trained_beside_foreign_backup(p)),
        ("unbuilt", with_foreign_backup),
    ]:
        cases.append(
            Case(
                f"distributed-fit-resume-another-model-{name}", setup, from_another, ModelFileError
            )
        )
    for setup in (trained, unbuilt):
        cases.append(
            Case(
                f"distributed-fit-memory-map-nan-in-held-out-rows-{setup.__name__}",
                _beside_npy_with_nan(setup),
                _distributed_fit(x="x.npy", validation_split=0.25, seed=4),
                InputError,
            )
        )
    resumed = _distributed_fit(
        epochs=3,
        resume=True,
        checkpoint="ck.safetensors",
        callbacks=[LearningRateScheduler(lambda epoch, rate: rate)],
    )
    return [
        *cases,
        Case("distributed-fit-width-built", trained, _distributed_fit(x=X[:, :3]), InputError),
        Case("distributed-fit-uncompiled", uncompiled, _distributed_fit(), NotCompiledError),
        # the checkpoint is read and applied, then the callback refuses the schedule
        Case(
            "distributed-fit-resumed-then-a-callback-refuses",
            _scheduled_beside_its_checkpoint,
            resumed,
            ArgumentError,
        ),
    ]


def _declared_mismatch() -> dk.Sequential:
    """Unbuilt; its second layer says it takes 9 inputs, but the first gives 8."""
    model = dk.Sequential([Dense(8), Dense(N_CLASSES, "softmax", input_dim=9)], seed=1)
    model.compile("adam", "sparse_categorical_crossentropy")
    return model


def _fitted_on_frame() -> dk.Sequential:
    model = _compiled(input_dim=None)
    model.fit(FRAME, Y, epochs=1, verbose=0)
    return model


def _trained_beside_foreign_backup(tmp_path: Path) -> dk.Sequential:
    with_foreign_backup(tmp_path)
    return trained(tmp_path)


def _follow_up(model: dk.Sequential) -> list[np.ndarray]:
    """A valid call after the failing one: one epoch of training (compiling if needed)."""
    if not model.compiled:
        model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(X, Y, epochs=1, batch_size=8, verbose=0, seed=11)
    return model.get_weights()


CASES += _distributed_cases()


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_a_failing_call_changes_nothing(case: Case, tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # e.g. adapt's constant-column warning
        model = case.setup(tmp_path)
        twin_folder = tmp_path / "twin"
        twin_folder.mkdir()
        twin = case.setup(twin_folder)
        before, files_before = fingerprint(model), files(tmp_path)
        with pytest.raises(case.error):
            case.call(model, tmp_path)
        assert fingerprint(model) == before
        assert files(tmp_path) == files_before
        if not case.trains_after:
            return
        weights, expected = _follow_up(model), _follow_up(twin)
    for got, want in zip(weights, expected, strict=True):
        np.testing.assert_array_equal(got, want)


def test_a_failing_fit_leaves_the_callers_generator_as_it_was(tmp_path: Path) -> None:
    """fit(seed=generator) draws the validation split from it before the callbacks start;
    a callback that then refuses (a backup of another model) must not cost those draws."""
    model = with_foreign_backup(tmp_path)
    generator = np.random.default_rng(5)
    state = generator.bit_generator.state
    with pytest.raises(ModelFileError, match="different model architecture"):
        model.fit(
            X,
            Y,
            validation_split=0.25,
            seed=generator,
            callbacks=[BackupAndRestore(tmp_path / "backup")],
            verbose=0,
        )
    assert generator.bit_generator.state == state


class AddsAScore(Callback):
    """A user's callback that adds a metric of its own to the epoch's logs."""

    def on_epoch_end(self, epoch, logs=None):
        logs["score"] = -float(epoch)


def test_a_metric_a_users_callback_adds_can_be_monitored(tmp_path: Path) -> None:
    """fit refuses a monitored name its logs lack before training only when no callback
    of another class could add it: here one does, and EarlyStopping reads it."""
    model = trained(tmp_path)
    stopper = EarlyStopping(monitor="score", mode="max", patience=0)
    history = model.fit(X, Y, epochs=5, verbose=0, callbacks=[AddsAScore(), stopper])
    assert history.epoch == [0, 1]  # the score falls after epoch 0: stopped at epoch 1


# --- what the checks above must still let through -------------------------------------------


def test_numpy_bools_are_taken_for_shuffle_and_include_optimizer(tmp_path: Path) -> None:
    plain, numpy_bool = _compiled(), _compiled()
    plain.fit(X, Y, epochs=1, batch_size=8, verbose=0, shuffle=False)
    numpy_bool.fit(X, Y, epochs=1, batch_size=8, verbose=0, shuffle=np.bool_(False))
    for got, want in zip(numpy_bool.get_weights(), plain.get_weights(), strict=True):
        np.testing.assert_array_equal(got, want)
    numpy_bool.save(tmp_path / "m.safetensors", include_optimizer=np.False_)
    assert dk.load_model(tmp_path / "m.safetensors").optimizer.iterations == 0


def test_a_refused_layer_stays_bound_to_its_own_model() -> None:
    model, other = trained(Path()), dk.Sequential([Dense(2, input_dim=N_CLASSES)], seed=3)
    with pytest.raises(ArgumentError, match=r"already in the model .*make a new layer"):
        model.add(other.layers[0])
    with pytest.raises(ArgumentError, match="already in the model"):
        dk.Sequential([other.layers[0]])
    assert np.shares_memory(other.layers[0].weights["kernel"], other.params)


def test_the_layers_of_a_model_that_failed_to_be_made_can_be_used_again() -> None:
    first = Dense(8, input_dim=N_FEATURES)
    with pytest.raises(ArgumentTypeError):
        dk.Sequential([first, "dense"])
    model = dk.Sequential([first, Dense(N_CLASSES, "softmax")])
    assert np.shares_memory(first.weights["kernel"], model.params)


def test_train_on_batch_takes_labels_or_one_hot_rows_alike() -> None:
    labels, one_hot = trained(Path()), trained(Path())
    assert labels.train_on_batch(X, Y) == one_hot.train_on_batch(X, np.eye(N_CLASSES)[Y])
    for got, want in zip(labels.get_weights(), one_hot.get_weights(), strict=True):
        np.testing.assert_array_equal(got, want)


def test_terminate_on_nan_skips_the_whole_step_moving_statistics_included() -> None:
    """The first batch's loss overflows: fit stops before any step, so nothing moves."""
    model = _compiled()
    before = fingerprint(model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the overflow itself
        model.fit(
            X,
            Y,
            batch_size=len(X),
            sample_weight=np.full(len(X), 3e38),
            callbacks=[TerminateOnNaN()],
            shuffle=False,
            verbose=0,
        )
    after = fingerprint(model)
    assert after["state"] == before["state"] and after["params"] == before["params"]
    assert model.optimizer.iterations == 0
