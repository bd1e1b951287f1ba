"""The main job on built-in data: scikit-learn's 8x8 handwritten digits.

Splits the 1,797 images into train and test, trains a 64-64-32-10 network
with early stopping on a validation split, prints the summary, the progress
and the test metrics, and saves the model.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .errors import InputError, require


def load_digits_split(
    seed: int = 0, test_fraction: float = 0.25
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Digits scaled to [0, 1], split at random (stratified) into train and test.

    Parameters
    ----------
    seed
        Seeds the split.
    test_fraction
        The share of images for the test set.

    Returns
    -------
    x_train, y_train, x_test, y_test : numpy.ndarray
        Pixels as float32 ``(n, 64)``, labels as int64 ``(n,)``.
    """
    datasets = require("sklearn.datasets", "demo", "The demo's digits dataset")
    from .validation import validation_split_indices

    digits = datasets.load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    y = digits.target.astype(np.int64)
    train, test = validation_split_indices(len(x), test_fraction, np.random.default_rng(seed), y)
    return x[train], y[train], x[test], y[test]


def run_demo(epochs: int = 30, output: str | Path = "out", seed: int = 0, verbose: bool = True):
    """Train, evaluate and save the demo model.

    Parameters
    ----------
    epochs
        The most epochs to train (early stopping may end sooner).
    output
        The folder for ``digits.safetensors``; made if missing, before training.
    seed
        Seeds the split, the weights and the shuffling.
    verbose
        Print the summary, the progress and the results.

    Returns
    -------
    model : Sequential
        The trained model.
    history : History
        What ``fit`` recorded.
    results : dict
        The test loss and accuracy.

    Raises
    ------
    InputError
        If the output folder cannot be made.
    """
    import densekit as dk

    folder = Path(output)  # made first: a bad folder should fail before, not after, training
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create the output folder {str(folder)!r}: {exc}") from exc
    x_train, y_train, x_test, y_test = load_digits_split(seed)
    model = dk.Sequential(
        [
            dk.layers.Dense(64, activation="relu", input_dim=x_train.shape[1]),
            dk.layers.Dropout(0.1),
            dk.layers.Dense(32, activation="relu"),
            dk.layers.Dense(10, activation="softmax"),
        ],
        name="digits",
        seed=seed,
    )
    model.compile(
        optimizer=dk.optimizers.Adam(3e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    say = print if verbose else (lambda *_: None)
    say(f"scikit-learn digits: {len(x_train)} training and {len(x_test)} test images of 8x8 pixels")
    if verbose:
        model.summary()
    history = model.fit(
        x_train,
        y_train,
        epochs=epochs,
        batch_size=32,
        validation_split=0.2,
        seed=seed,
        verbose="auto" if verbose else 0,  # a bar on a terminal, else a line per epoch
        callbacks=[dk.callbacks.EarlyStopping(patience=5, restore_best_weights=True)],
    )
    results = model.evaluate(x_test, y_test)
    path = folder / "digits.safetensors"
    model.save(path)  # before the prints: a closed stdout must not lose the model
    say(f"test loss {results['loss']:.4f}, test accuracy {results['accuracy']:.4f}")
    say(f"saved the model to {path}")
    return model, history, results
