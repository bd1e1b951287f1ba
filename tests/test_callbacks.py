"""densekit.callbacks: Keras semantics for each callback, and clean stops on divergence."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer

import densekit as dk
from densekit.callbacks import (
    BackupAndRestore,
    Callback,
    CSVLogger,
    EarlyStopping,
    LearningRateScheduler,
    ModelCheckpoint,
    ReduceLROnPlateau,
    TerminateOnNaN,
)
from densekit.errors import ArgumentError, ModelFileError, TrainingError
from densekit.serialization.checkpoint import load_weights


@pytest.fixture(scope="module")
def cancer():
    x, y = load_breast_cancer(return_X_y=True)
    x = (x - x.mean(axis=0)) / x.std(axis=0)
    return x, y


def classifier(optimizer="adam", seed: int = 0, hidden: int = 16) -> dk.Sequential:
    model = dk.Sequential(
        [dk.layers.Dense(hidden, activation="relu", input_dim=30), dk.layers.Dense(1, "sigmoid")],
        seed=seed,
    )
    model.compile(optimizer=optimizer, loss="binary_crossentropy", metrics=["accuracy"])
    return model


class Recorder(Callback):
    """Keeps the learning rate, weights and logs seen at the end of each epoch."""

    def on_train_begin(self, logs=None):
        self.rates, self.weights, self.logs = [], [], []

    def on_epoch_end(self, epoch, logs=None):
        self.rates.append(self.model.optimizer.learning_rate)
        self.weights.append(self.model.get_weights())
        self.logs.append(dict(logs))


def same(a: list, b: list) -> bool:
    return len(a) == len(b) and all(np.array_equal(p, q) for p, q in zip(a, b))


# --- EarlyStopping ----------------------------------------------------------------------


def test_early_stopping_with_zero_patience_never_stops_an_improving_run(cancer):
    model = classifier(optimizer=dk.optimizers.SGD(0.01))
    stop = EarlyStopping(monitor="loss", patience=0)
    history = model.fit(*cancer, epochs=6, batch_size=len(cancer[0]), verbose=0, callbacks=[stop])
    assert np.all(np.diff(history.history["loss"]) < 0)
    assert len(history.epoch) == 6 and stop.stopped_epoch == 0


def test_early_stopping_stops_after_patience_epochs_without_improvement(cancer):
    stop = EarlyStopping(monitor="val_loss", min_delta=10.0, patience=2)
    history = classifier().fit(
        *cancer, epochs=20, validation_split=0.2, verbose=0, callbacks=[stop]
    )
    assert history.epoch == [0, 1, 2] and stop.stopped_epoch == 2


def test_early_stopping_restores_the_weights_of_the_best_epoch(cancer):
    model, recorder = classifier(hidden=64), Recorder()
    stop = EarlyStopping(monitor="val_loss", patience=3, restore_best_weights=True)
    model.fit(
        *cancer,
        epochs=40,
        batch_size=16,
        validation_split=0.5,
        verbose=0,
        callbacks=[stop, recorder],
    )
    losses = [logs["val_loss"] for logs in recorder.logs]
    assert stop.best_epoch == int(np.argmin(losses))
    assert same(model.get_weights(), recorder.weights[stop.best_epoch])


@pytest.mark.parametrize(
    "callback",
    [
        EarlyStopping(monitor="val_auc"),
        ModelCheckpoint("unused.safetensors", monitor="val_auc", save_best_only=True),
        ReduceLROnPlateau(monitor="val_auc"),
    ],
    ids=["EarlyStopping", "ModelCheckpoint", "ReduceLROnPlateau"],
)
def test_missing_monitored_metric_names_the_metrics_that_exist(cancer, callback):
    with pytest.raises(
        ArgumentError, match="'val_auc'.*: accuracy, .*loss, val_accuracy, val_loss"
    ):
        classifier().fit(*cancer, epochs=1, validation_split=0.2, verbose=0, callbacks=[callback])


# --- ModelCheckpoint ----------------------------------------------------------------------


def test_model_checkpoint_saves_every_epoch_under_a_formatted_name(cancer, tmp_path):
    model = classifier()
    pattern = str(tmp_path / "model-{epoch:02d}-{loss:.3f}.safetensors")
    model.fit(*cancer, epochs=3, verbose=0, callbacks=[ModelCheckpoint(pattern, monitor="loss")])
    files = sorted(p.name for p in tmp_path.iterdir())
    assert [name[:8] for name in files] == ["model-01", "model-02", "model-03"]
    last = dk.load_model(tmp_path / files[-1])
    np.testing.assert_array_equal(last.predict(cancer[0]), model.predict(cancer[0]))
    assert last.optimizer.iterations == model.optimizer.iterations


def test_model_checkpoint_save_best_only_writes_only_improvements(cancer, tmp_path):
    model, recorder = classifier(hidden=64), Recorder()
    pattern = str(tmp_path / "best-{epoch}.safetensors")
    checkpoint = ModelCheckpoint(pattern, monitor="val_loss", save_best_only=True)
    model.fit(
        *cancer,
        epochs=25,
        batch_size=16,
        validation_split=0.5,
        verbose=0,
        callbacks=[checkpoint, recorder],
    )
    losses = [logs["val_loss"] for logs in recorder.logs]
    improved = [e + 1 for e in range(len(losses)) if losses[e] < min(losses[:e], default=np.inf)]
    saved = sorted(int(p.stem.split("-")[1]) for p in tmp_path.iterdir())
    assert saved == improved and len(saved) < len(losses)
    best = dk.load_model(tmp_path / f"best-{saved[-1]}.safetensors")
    assert same(best.get_weights(), recorder.weights[saved[-1] - 1])


def test_model_checkpoint_save_weights_only_loads_into_a_fresh_model(cancer, tmp_path):
    model = classifier()
    path = tmp_path / "weights.safetensors"
    model.fit(
        *cancer, epochs=2, verbose=0, callbacks=[ModelCheckpoint(path, save_weights_only=True)]
    )
    fresh = classifier(seed=99)
    load_weights(fresh, path)
    assert same(fresh.get_weights(), model.get_weights())
    with pytest.raises(ModelFileError):
        dk.load_model(path)  # weights alone are not a model file


# --- learning rate --------------------------------------------------------------------------


def test_reduce_lr_on_plateau_follows_keras_patience_cooldown_and_min_lr(cancer):
    model, recorder = classifier(optimizer=dk.optimizers.SGD(0.01)), Recorder()
    reduce = ReduceLROnPlateau(
        monitor="loss", factor=0.5, patience=1, cooldown=2, min_delta=1e9, min_lr=0.002
    )
    model.fit(*cancer, epochs=8, verbose=0, callbacks=[reduce, recorder])
    expected = [0.01, 0.005, 0.005, 0.0025, 0.0025, 0.002, 0.002, 0.002]
    np.testing.assert_allclose(recorder.rates, expected)
    assert recorder.logs[1]["learning_rate"] == 0.01  # the rate used during that epoch


def test_reduce_lr_on_plateau_rejects_a_factor_of_one_or_more():
    with pytest.raises(ArgumentError, match=r"factor must be in \(0, 1\)"):
        ReduceLROnPlateau(factor=1.0)


def test_learning_rate_scheduler_sets_the_rate_each_epoch(cancer):
    model, recorder = classifier(optimizer=dk.optimizers.SGD(0.1)), Recorder()
    scheduler = LearningRateScheduler(lambda epoch, lr: 0.1 * 0.5**epoch)
    model.fit(*cancer, epochs=4, verbose=0, callbacks=[scheduler, recorder])
    np.testing.assert_allclose(recorder.rates, [0.1, 0.05, 0.025, 0.0125])
    assert recorder.logs[3]["learning_rate"] == 0.0125


def test_learning_rate_scheduler_refuses_a_bad_rate(cancer):
    scheduler = LearningRateScheduler(lambda epoch, lr: -1.0)
    with pytest.raises(ArgumentError, match="returned -1.0 for epoch 0"):
        classifier().fit(*cancer, epochs=1, verbose=0, callbacks=[scheduler])


def test_learning_rate_callbacks_refuse_an_optimizer_schedule(cancer):
    decay = dk.schedules.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.9)
    model = classifier(optimizer=dk.optimizers.SGD(decay))
    with pytest.raises(ArgumentError, match="follows a schedule"):
        model.fit(*cancer, epochs=1, verbose=0, callbacks=[LearningRateScheduler(lambda e, lr: lr)])


# --- divergence -------------------------------------------------------------------------------


def diverging(cancer):
    """Unscaled inputs and a large SGD step: the MSE loss overflows within an epoch."""
    x, y = load_breast_cancer(return_X_y=True)
    model = dk.Sequential([dk.layers.Dense(8, "tanh", input_dim=30), dk.layers.Dense(1)], seed=0)
    model.compile(optimizer=dk.optimizers.SGD(1.0), loss="mse")
    return model, x, y


@pytest.mark.filterwarnings("ignore:overflow encountered")
def test_non_finite_loss_raises_and_keeps_finite_weights(cancer):
    model, x, y = diverging(cancer)
    with pytest.raises(TrainingError, match="the loss became inf"):
        model.fit(x, y, epochs=3, verbose=0)
    assert all(np.isfinite(w).all() for w in model.get_weights())


@pytest.mark.filterwarnings("ignore:overflow encountered")
def test_terminate_on_nan_stops_cleanly_with_finite_weights(cancer, capsys):
    model, x, y = diverging(cancer)
    terminate = TerminateOnNaN()
    history = model.fit(x, y, epochs=3, verbose=0, callbacks=[terminate])
    assert terminate.stopped_batch is not None and terminate.stopped_epoch == 0
    assert "Invalid loss, terminating training" in capsys.readouterr().out
    assert all(np.isfinite(w).all() for w in model.get_weights())
    assert model.optimizer.iterations == terminate.stopped_batch  # the bad step was skipped
    assert len(history.epoch) == 1 and not model.stop_on_nonfinite


def overflowing(cancer):
    """One full batch per epoch and a step so large the weights overflow, with a finite loss."""
    x, y = load_breast_cancer(return_X_y=True)
    model = dk.Sequential([dk.layers.Dense(4, "relu", input_dim=30), dk.layers.Dense(1)], seed=0)
    model.compile(optimizer=dk.optimizers.SGD(1e35), loss="mse")
    return model, x, y


@pytest.mark.filterwarnings("ignore:overflow encountered")
def test_weights_that_overflow_with_a_finite_loss_are_rolled_back(cancer):
    model, x, y = overflowing(cancer)
    before = model.get_weights()
    with pytest.raises(TrainingError, match="weights became NaN or infinite during epoch 1"):
        model.fit(x, y, epochs=2, batch_size=len(x), verbose=0)
    assert same(model.get_weights(), before)
    assert model.optimizer.iterations == 0


@pytest.mark.filterwarnings("ignore:overflow encountered")
def test_terminate_on_nan_rolls_back_weights_that_overflow(cancer):
    model, x, y = overflowing(cancer)
    before = model.get_weights()
    with pytest.warns(UserWarning, match="restored the weights from the start of epoch 1"):
        history = model.fit(
            x, y, epochs=2, batch_size=len(x), verbose=0, callbacks=[TerminateOnNaN()]
        )
    assert same(model.get_weights(), before) and history.epoch == [0]


@pytest.mark.filterwarnings("ignore:overflow encountered")
def test_a_model_too_large_to_copy_says_its_weights_were_not_restored(cancer, monkeypatch):
    monkeypatch.setattr(dk.training.loop, "ROLLBACK_COPY_LIMIT", 0)  # as if the model were huge
    model, x, y = overflowing(cancer)
    with pytest.raises(TrainingError, match="too large for fit to keep a copy") as error:
        model.fit(x, y, epochs=2, batch_size=len(x), verbose=0)
    assert "ModelCheckpoint or BackupAndRestore" in str(error.value)
    assert not np.isfinite(model.params).all()  # said, not hidden


# --- CSVLogger ----------------------------------------------------------------------------------


def read_rows(path) -> list[list[str]]:
    with open(path, newline="") as stream:
        return list(csv.reader(stream))


def test_csv_logger_writes_a_header_and_a_row_per_epoch(cancer, tmp_path):
    path = tmp_path / "log.csv"
    history = classifier().fit(
        *cancer, epochs=3, validation_split=0.2, verbose=0, callbacks=[CSVLogger(path)]
    )
    rows = read_rows(path)
    assert rows[0] == ["epoch", "accuracy", "loss", "val_accuracy", "val_loss"]
    assert [row[0] for row in rows[1:]] == ["0", "1", "2"]
    assert [float(row[2]) for row in rows[1:]] == history.history["loss"]


def test_csv_logger_append_continues_and_replaces_epochs_trained_again(cancer, tmp_path):
    path = tmp_path / "log.csv"
    model = classifier()
    model.fit(*cancer, epochs=3, verbose=0, callbacks=[CSVLogger(path)])
    model.fit(
        *cancer, epochs=4, initial_epoch=2, verbose=0, callbacks=[CSVLogger(path, append=True)]
    )
    rows = read_rows(path)
    assert rows[0] == ["epoch", "accuracy", "loss"]
    assert [row[0] for row in rows[1:]] == ["0", "1", "2", "3"]


# --- BackupAndRestore in one process ------------------------------------------------------------


class CrashAt(Callback):
    def __init__(self, epoch: int):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            raise RuntimeError("simulated crash")


def dropout_model() -> dk.Sequential:
    model = dk.Sequential(
        [
            dk.layers.Dense(32, activation="relu", input_dim=30),
            dk.layers.Dropout(0.4),
            dk.layers.Dense(1, "sigmoid"),
        ],
        seed=5,
    )
    model.compile(optimizer="adam", loss="binary_crossentropy")
    return model


def test_backup_and_restore_resumes_after_a_crash_with_identical_weights(cancer, tmp_path):
    reference = dropout_model()
    reference.fit(*cancer, epochs=5, validation_split=0.2, verbose=0)
    backup = tmp_path / "backup"
    with pytest.raises(RuntimeError, match="simulated crash"):
        dropout_model().fit(
            *cancer,
            epochs=5,
            validation_split=0.2,
            verbose=0,
            callbacks=[CrashAt(2), BackupAndRestore(backup)],
        )
    resumed = dropout_model()
    restore = BackupAndRestore(backup)
    history = resumed.fit(*cancer, epochs=5, validation_split=0.2, verbose=0, callbacks=[restore])
    assert restore.restored_epoch == 2 and history.epoch == [2, 3, 4]
    assert same(resumed.get_weights(), reference.get_weights())
    assert not backup.exists()  # a finished run removes its backup


def test_backup_from_another_architecture_is_refused(cancer, tmp_path):
    backup = tmp_path / "backup"
    classifier().fit(
        *cancer, epochs=1, verbose=0, callbacks=[BackupAndRestore(backup, delete_checkpoint=False)]
    )
    with pytest.raises(ModelFileError, match="different model architecture"):
        dropout_model().fit(*cancer, epochs=2, verbose=0, callbacks=[BackupAndRestore(backup)])


def test_callbacks_receive_fit_params(cancer):
    recorder = Recorder()
    classifier().fit(*cancer, epochs=2, batch_size=100, verbose=0, callbacks=[recorder])
    assert recorder.params == {"epochs": 2, "steps": 6, "verbose": 0}
