"""The training loop behind ``Sequential.fit``.

Each epoch is one pass over the rows in shuffled minibatches (gathered into reused
buffers), one optimizer step per batch. The weights and optimizer state are copied at
each epoch's start, so that weights which turn NaN or infinite are rolled back. Callbacks
hear of every epoch (and of every batch when one of them overrides a batch hook);
``verbose=1`` draws a progress bar, ``verbose=2`` prints a line per epoch, ``"auto"`` the
bar on a terminal and the lines elsewhere.
"""

from __future__ import annotations

import math
import sys
import time
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from ..backend import make_rng
from ..backend import threads as threads_module
from ..callbacks import Callback, CallbackList, History, check_callbacks, check_monitored
from ..errors import ArgumentError, ArgumentTypeError, InputError, TrainingError
from ..layers import Dense
from ..validation import (
    check_batch_size,
    check_bool,
    check_count,
    check_validation_split,
    column_names,
    refuse_unknown,
    validation_split_indices,
)
from . import full_batch, inputs
from .cpu import CpuRunner
from .epoch import print_epoch, run_epoch

if TYPE_CHECKING:
    from ..model import Sequential

DEFAULT_BATCH_SIZE = 32  # Keras' fit default
#: Keras fit arguments densekit does not take, with the reason
KERAS_UNSUPPORTED = {
    "steps_per_epoch": "is not supported: densekit trains on whole epochs, each a pass over "
    "every row of x; to take fewer steps, pass fewer rows or a larger batch_size"
}
#: fit copies the weights and optimizer state at each epoch's start, to restore them if they
#: turn NaN or infinite; a larger copy (past a 5M-parameter network with Adam) is not kept:
#: it would cost more memory than the training itself (2-3x the weights)
ROLLBACK_COPY_LIMIT = 64 * 2**20


def fit(
    model: Sequential,
    x: Any,
    y: Any,
    *,
    batch_size: int | None,
    epochs: int,
    verbose: int | str,
    callbacks: list[Callback] | None,
    validation_split: float,
    validation_data: tuple | None,
    shuffle: bool,
    class_weight: dict | None,
    sample_weight: Any,
    initial_epoch: int,
    seed: int | None,
    threads: int | None,
    unknown: dict,
) -> History:
    """``Sequential.fit``: check the arguments, then run the epochs (see its docstring)."""
    # Every argument is checked before the model changes, so a bad one raises and leaves
    # the model, its optimizer and its generators as they were. What can only fail once
    # training is set up (a callback's on_train_begin: a backup of another model, a
    # schedule where a callback sets the rate) puts back what fit changed before raising.
    refuse_unknown("fit", unknown, KERAS_UNSUPPORTED)
    model.require_compiled("fit")
    threads = threads_module.check_threads(threads)
    given_x = x
    had_class_names = model.class_names
    y = inputs.encode_labels(model, y, record=True)  # text labels: model.class_names
    try:
        x, y, sample_weight = model.check_inputs(x, y, sample_weight, building=True)
    except BaseException:
        model.class_names = had_class_names
        raise
    batch_size = check_batch_size(batch_size, DEFAULT_BATCH_SIZE)
    epochs = check_count("epochs", epochs)
    initial_epoch = check_count("initial_epoch", initial_epoch)
    verbose = check_verbose(verbose)
    validation_split = check_validation_split(validation_split)
    shuffle = check_bool("shuffle", shuffle)
    sample_weight = apply_class_weight(model, class_weight, y, sample_weight)
    rng = make_rng(seed) if seed is not None else model.rng
    callbacks = check_callbacks(callbacks)
    validation = None
    if validation_data is not None:
        feature_names = model.feature_names or column_names(given_x)
        validation = prepare_validation(model, validation_data, x.shape[1], feature_names)
    elif validation_split > 0:
        check_split(model, x, y, validation_split)
    if epochs > initial_epoch:
        check_monitored(callbacks, epoch_log_keys(model, validation_data, validation_split))

    undo = undo_point(model, rng)
    try:
        model.adopt_inputs(given_x, x.shape[1])
        model.share_rng(rng)
        if validation is None and validation_split > 0:
            labels = model.class_labels(y)
            train, held_out = validation_split_indices(x.shape[0], validation_split, rng, labels)
            w = sample_weight
            validation = (x[held_out], y[held_out], None if w is None else w[held_out])
            x, y = x[train], y[train]
            sample_weight = None if w is None else w[train]

        history = History()
        callback_list = CallbackList([history, *callbacks], model)
        callback_list.set_params(
            {"epochs": epochs, "steps": -(-x.shape[0] // batch_size), "verbose": verbose}
        )
        model.stop_training = False
        # callbacks may restore a checkpoint here (BackupAndRestore): they see the
        # generator that drives shuffling and dropout, and may move the first epoch
        model.fit_rng = rng
        model.initial_epoch = initial_epoch
        callback_list.on_train_begin({})
    except BaseException:
        undo()
        raise
    # the fit's size decides the kernels (DENSEKIT_KERNELS=auto): the caller's epochs,
    # not those left after a resume, so a resumed run computes as the uninterrupted one
    model.choose_kernels((epochs - initial_epoch) * -(-x.shape[0] // batch_size))
    restore_threads = threads_module.limit_for_training(
        threads, _largest_product(model, batch_size)
    )
    if getattr(model.optimizer, "full_batch", False):  # LBFGS: each iteration an epoch
        try:
            full_batch.run(model, x, y, sample_weight, epochs, validation, callback_list, verbose)
        finally:
            callback_list.on_train_end({})
            restore_threads()
        return history
    try:
        for epoch in range(model.initial_epoch, epochs):
            callback_list.on_epoch_begin(epoch, {})
            started = time.perf_counter()
            last_finite = _snapshot(model)
            try:
                logs = _train_epoch(
                    model,
                    x,
                    y,
                    sample_weight,
                    batch_size,
                    shuffle,
                    rng,
                    callback_list,
                    verbose,
                    f"Epoch {epoch + 1}/{epochs}",
                )
            except TrainingError as exc:
                outcome = _roll_back_if_not_finite(model, last_finite)
                if outcome != "finite":
                    raise TrainingError(f"{exc} {_rollback_note(outcome, epoch)}") from None
                raise
            outcome = _roll_back_if_not_finite(model, last_finite)
            if outcome != "finite":
                if not model.stop_on_nonfinite:
                    raise TrainingError(
                        f"the weights became NaN or infinite during epoch {epoch + 1} "
                        f"although the loss stayed finite; {_rollback_note(outcome, epoch)} "
                        "Try a lower learning rate or gradient clipping (clipnorm=1.0)."
                    )
                warnings.warn(
                    f"the weights became NaN or infinite during epoch {epoch + 1}; "
                    f"TerminateOnNaN stopped training. {_rollback_note(outcome, epoch)}",
                    stacklevel=3,  # the caller of Sequential.fit
                )
                model.stop_training = True
            if validation is not None:
                val_logs = model.evaluate_arrays(*validation, batch_size=None)
                logs.update({f"val_{key}": value for key, value in val_logs.items()})
            if verbose == 2 or (verbose == 1 and validation is not None):
                print_epoch(epoch, epochs, logs, time.perf_counter() - started)
            callback_list.on_epoch_end(epoch, logs)
            if model.stop_training:
                break
    finally:
        callback_list.on_train_end({})
        restore_threads()
    return history


def _train_epoch(
    model: Sequential, x, y, w, batch_size, shuffle, rng, callbacks, verbose, title
) -> dict:
    """One pass over the rows in minibatches, on the model's device; the epoch's logs."""
    order = rng.permutation(x.shape[0]) if shuffle else None
    if model.backend.name != "cpu":  # batches streamed to the device, no per-batch sync
        from .gpu import GpuRunner

        runner = GpuRunner(model, x, y, w, batch_size, order)
    else:
        runner = CpuRunner(model, x, y, w, batch_size, order)
    return run_epoch(model, runner, callbacks, verbose, title)


def _snapshot(model: Sequential) -> tuple | None:
    """Copies of the weights and optimizer state (once per epoch, for a rollback).

    None when they exceed :data:`ROLLBACK_COPY_LIMIT`.
    """
    xp = model.backend.xp
    arrays = [model.params, model.state, *model.optimizer.state.values()]
    if sum(array.nbytes for array in arrays) > ROLLBACK_COPY_LIMIT:
        return None
    slots = {name: xp.copy(array) for name, array in model.optimizer.state.items()}
    return xp.copy(model.params), xp.copy(model.state), slots, model.optimizer.iterations


def _roll_back_if_not_finite(model: Sequential, snapshot: tuple | None) -> str:
    """'finite' if every weight is; else restore ``snapshot``: 'restored', or 'lost'.

    'lost' when there was no snapshot to restore.
    """
    xp = model.backend.xp
    if bool(xp.isfinite(model.params).all()) and bool(xp.isfinite(model.state).all()):
        return "finite"
    if snapshot is None:
        return "lost"
    params, state, slots, iterations = snapshot
    model.params[...] = params
    model.state[...] = state
    for name, array in slots.items():
        model.optimizer.state[name][...] = array
    model.optimizer.iterations = iterations
    return "restored"


def _rollback_note(outcome: str, epoch: int) -> str:
    """What fit did with weights that turned NaN or infinite in ``epoch`` (0-based)."""
    if outcome == "restored":
        return f"fit restored the weights from the start of epoch {epoch + 1}."
    return (
        "The weights stay NaN or infinite: the model is too large for fit to keep a copy "
        f"of them each epoch (more than {ROLLBACK_COPY_LIMIT // 2**20} MiB with the "
        "optimizer state); keep copies with ModelCheckpoint or BackupAndRestore."
    )


def _largest_product(model: Sequential, batch_size: int) -> int:
    """Multiply-adds of the largest matrix product in one batch (batch x inputs x units)."""
    sizes = [layer.input_dim * layer.units for layer in model.layers if isinstance(layer, Dense)]
    return batch_size * max(sizes, default=0)


def prepare_validation(
    model: Sequential,
    validation_data: tuple | list,
    n_features: int,
    feature_names: list[str] | None,
) -> tuple:
    """``validation_data`` checked as the training data was (its width, its columns).

    Checked before fit builds the model from the training data.

    Parameters
    ----------
    model
        The model being fitted (maybe not built yet).
    validation_data
        ``(x_val, y_val)`` or ``(x_val, y_val, weights)``.
    n_features
        The training data's width.
    feature_names
        The training data's column names (None: none).

    Returns
    -------
    tuple
        ``(x_val, y_val, weights)`` checked and converted.

    Raises
    ------
    ArgumentError
        If ``validation_data`` is not a pair or a triple.
    InputError
        If the validation arrays fail the training data's checks.
    """
    if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
        raise ArgumentError("validation_data must be (x_val, y_val) or (x_val, y_val, weights)")
    x_val, y_val, *rest = validation_data
    try:
        return model.check_inputs(
            x_val,
            y_val,
            rest[0] if rest else None,
            building=True,
            n_features=n_features,
            feature_names=feature_names,
        )
    except InputError as exc:
        raise InputError(f"validation_data: {exc}") from exc


def check_split(model: Sequential, x: Any, y: Any, validation_split: float) -> None:
    """Raise now what the validation split would raise once fit has built the model.

    That is too few rows, or classes of one row each. The split's failure depends on
    the labels, not on the draw, so a spare generator finds it; that is run only when
    every class has a single row, the one case that fails.

    Parameters
    ----------
    model
        The model being fitted (its loss says whether there are classes).
    x
    y
        The checked training rows and targets.
    validation_split
        The held-out fraction.

    Raises
    ------
    InputError
        If there are fewer than 2 rows, or the classes cannot be split.
    """
    if x.shape[0] < 2:
        raise InputError("validation_split needs at least 2 samples")
    labels = model.class_labels(y)
    if labels is not None and np.unique(labels).size == len(labels):
        validation_split_indices(x.shape[0], validation_split, np.random.default_rng(0), labels)


def epoch_log_keys(
    model: Sequential, validation_data: tuple | list | None, validation_split: float
) -> set[str]:
    """The names in every epoch's logs: the loss and metrics, and their val_ twins."""
    keys = {"loss", *model.metric_names}
    if validation_data is not None or validation_split > 0:
        keys |= {f"val_{key}" for key in keys}
    return keys


def undo_point(model: Sequential, rng: np.random.Generator) -> Callable[[], None]:
    """A function that puts back what fit changes before its first epoch.

    That is attributes only (the model's, its layers' and its optimizer's: building a
    model, sharing a generator, flags a callback sets) and the states of the generators
    (the model's, its layers', and ``rng``, fit's, which may be the caller's); the
    buffers of a built model are not written before the first epoch, so no copy of them
    is kept (a BackupAndRestore that restores runs last and validates before it writes).
    """
    owners = [model, *model.layers]
    if model.optimizer is not None:
        owners.append(model.optimizer)
    attributes = [(owner, dict(vars(owner))) for owner in owners]
    every = [model.rng, rng, *(layer.rng for layer in model.layers)]
    generators = {id(generator): generator for generator in every if generator is not None}
    states = [(generator, generator.bit_generator.state) for generator in generators.values()]

    def undo() -> None:
        for owner, saved in attributes:
            vars(owner).clear()
            vars(owner).update(saved)
        for generator, state in states:
            generator.bit_generator.state = state

    return undo


def apply_class_weight(
    model: Sequential, class_weight: dict | None, y: Any, sample_weight: Any
) -> Any:
    """``sample_weight`` times each row's class weight (``sample_weight`` as is without one).

    Parameters
    ----------
    model
        The model (a classification loss gives the rows' labels).
    class_weight
        ``{class index: weight}``, or None.
    y
        The checked targets.
    sample_weight
        Checked per-row weights, or None.

    Returns
    -------
    numpy.ndarray or None
        The per-row weights.

    Raises
    ------
    ArgumentError
        Without a classification loss, or for a key that is not a class or a weight
        that is not a finite number >= 0.
    ArgumentTypeError
        If ``class_weight`` is not a dict.
    """
    if class_weight is None:
        return sample_weight
    labels = model.class_labels(y)
    if labels is None:
        raise ArgumentError("class_weight needs a classification loss (a cross-entropy)")
    if not isinstance(class_weight, dict):
        raise ArgumentTypeError(
            f"class_weight must be a dict {{class: weight}}, got {class_weight!r}"
        )
    n_classes = max(2, y.shape[1])
    weights = np.ones(n_classes)
    for cls, weight in class_weight.items():
        if not isinstance(cls, (int, np.integer)) or not 0 <= cls < n_classes:
            raise ArgumentError(f"class_weight key {cls!r} is not a class in [0, {n_classes})")
        if not (isinstance(weight, (int, float)) and math.isfinite(weight) and weight >= 0):
            raise ArgumentError(f"class_weight[{cls}] must be a finite number >= 0")
        weights[cls] = weight
    per_sample = weights[labels].astype(model.dtype)
    return per_sample if sample_weight is None else per_sample * sample_weight


def check_verbose(verbose: Any) -> int:
    """``verbose`` as 0, 1 or 2; 'auto' is 1 on a terminal and 2 elsewhere.

    Keras' meanings: 0 silent, 1 a progress bar, 2 one line per epoch. 'auto' asks
    whether stdout is a terminal: a bar redrawn in place (carriage returns) belongs on
    a screen, not in a log file or a pipe, which get one line per epoch. An explicit 1
    or 2 is kept.

    Parameters
    ----------
    verbose
        0, 1, 2 or 'auto'.

    Returns
    -------
    int

    Raises
    ------
    ArgumentError
        For any other value.
    """
    if isinstance(verbose, str) and verbose == "auto":
        return 1 if stdout_is_terminal() else 2
    if verbose not in (0, 1, 2):
        raise ArgumentError(f"verbose must be 0, 1, 2 or 'auto', got {verbose!r}")
    return int(verbose)


def stdout_is_terminal() -> bool:
    """Whether ``sys.stdout`` is a terminal (False for a file, a pipe, a capture or None).

    Returns
    -------
    bool
    """
    isatty = getattr(sys.stdout, "isatty", None)
    try:
        return bool(isatty()) if isatty is not None else False
    except (ValueError, OSError):  # a closed stream
        return False
