"""
Overfitting, and three cures: L2, dropout and early stopping
============================================================

An oversized network (two hidden layers of 256 units, 85,002 weights) is
trained on 300 of scikit-learn's handwritten digits and validated on the
other 1,497. Unregularized, it fits the training set perfectly: its training
cross-entropy goes to zero while the validation cross-entropy stays high. The
difference between the two is the train-validation gap. Each cure is applied
alone, from the same initial weights and shuffling, and the script prints the
gap (and the accuracies) for each.

::

    python examples/overfitting.py            # ~15 s on one core
    python examples/overfitting.py --epochs 3 # a quick smoke run

The figure draws each variant's validation loss, epoch by epoch.
"""

from __future__ import annotations

import argparse
import time

from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import densekit as dk

SEED = 0
HIDDEN = 256


def build(l2: float = 0.0, dropout: float = 0.0) -> dk.Sequential:
    """64 -> 256 -> 256 -> 10; dropout also drops 20% of the input pixels."""
    regularizer = dk.regularizers.l2(l2) if l2 else None
    layers = [dk.layers.Dropout(0.2)] if dropout else []
    layers.append(dk.layers.Dense(HIDDEN, "relu", input_dim=64, kernel_regularizer=regularizer))
    if dropout:
        layers.append(dk.layers.Dropout(dropout))
    layers.append(dk.layers.Dense(HIDDEN, "relu", kernel_regularizer=regularizer))
    if dropout:
        layers.append(dk.layers.Dropout(dropout))
    layers.append(dk.layers.Dense(10, "softmax", kernel_regularizer=regularizer))
    model = dk.Sequential(layers, seed=SEED)
    model.compile(
        optimizer=dk.optimizers.Adam(1e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def data_loss(model: dk.Sequential, x, y) -> tuple[float, float]:
    """Cross-entropy without the weight penalty, and accuracy."""
    result = model.evaluate(x, y)
    return result["loss"] - model.regularization_penalty(), result["accuracy"]


def main(epochs: int) -> list[dict]:
    x, y = load_digits(return_X_y=True)
    x = x / 16.0
    x_train, x_val, y_train, y_val = train_test_split(
        x, y, train_size=300, stratify=y, random_state=SEED
    )
    variants = {
        "no regularization": (build(), []),
        "L2 (1e-3)": (build(l2=1e-3), []),
        "dropout (0.2, 0.5)": (build(dropout=0.5), []),
        "early stopping": (
            build(),
            [dk.callbacks.EarlyStopping(patience=5, restore_best_weights=True)],
        ),
    }
    rows, curves = [], {}
    print(f"digits: {len(x_train)} training and {len(x_val)} validation images")
    print(f"network: 64 -> {HIDDEN} -> {HIDDEN} -> 10, {build().count_params():,} weights")
    print(
        f"up to {epochs} epochs of Adam(1e-3), batch 32; accuracy gap = train - val, loss gap = val - train\n"
    )
    header = f"{'variant':<22}{'epochs':>7}{'train acc':>11}{'val acc':>9}{'acc gap':>9}"
    header += f"{'train loss':>12}{'val loss':>10}{'loss gap':>10}{'time':>8}"
    print(header)
    for name, (model, callbacks) in variants.items():
        started = time.perf_counter()
        history = model.fit(
            x_train,
            y_train,
            epochs=epochs,
            batch_size=32,
            validation_data=(x_val, y_val),
            callbacks=callbacks,
            verbose=0,
            seed=SEED,
        )
        seconds = time.perf_counter() - started
        train_loss, train_acc = data_loss(model, x_train, y_train)
        val_loss, val_acc = data_loss(model, x_val, y_val)
        row = {
            "variant": name,
            "epochs": len(history.epoch),
            "train_accuracy": train_acc,
            "val_accuracy": val_acc,
            "accuracy_gap": train_acc - val_acc,
            "train_loss": train_loss,
            "val_loss": val_loss,
            "loss_gap": val_loss - train_loss,
        }
        rows.append(row)
        curves[name] = history.history["val_loss"]
        print(
            f"{name:<22}{row['epochs']:>7}{train_acc:>11.3f}{val_acc:>9.3f}"
            f"{row['accuracy_gap']:>9.3f}{train_loss:>12.4f}{val_loss:>10.4f}"
            f"{row['loss_gap']:>10.4f}{seconds:>7.1f}s"
        )
    plot(curves)
    baseline = rows[0]["loss_gap"]
    print("\nloss gap (validation - training cross-entropy) relative to no regularization:")
    for row in rows[1:]:
        print(f"  {row['variant']:<20} {row['loss_gap']:.4f} ({row['loss_gap'] / baseline:.0%})")
    return rows


def plot(curves: dict[str, list[float]]) -> None:
    """Each variant's validation loss per epoch (when matplotlib is installed)."""
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        return
    figure, axes = plt.subplots(figsize=(7, 4))
    for name, values in curves.items():
        axes.plot(range(1, len(values) + 1), values, label=name)
    axes.set_xlabel("epoch")
    axes.set_ylabel("validation cross-entropy (with penalty)")
    axes.set_title("an oversized network on 300 digits")
    axes.legend()
    figure.tight_layout()


def one_thread():
    """Batches of 32 rows are too small for threaded BLAS to pay off: use one core."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return None
    return threadpool_limits(1)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Overfitting, and three cures.")
    parser.add_argument("--epochs", type=int, default=150, help="epochs per variant")
    limits = one_thread()
    main(parser.parse_args().epochs)
