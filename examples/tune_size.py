"""
How many hidden units? A rule of thumb against a search
=======================================================

How many hidden units? The rule of thumb against a search on a validation set.

The seed's rule of thumb puts the hidden layer's size between the input and the
output size; its advice for the real answer is to try sizes and keep the one
that does best on data the network did not train on. This script does both on
scikit-learn's 8x8 digits (64 inputs, 10 classes): it trains the rule-of-thumb
network (the midpoint, (64 + 10) / 2 = 37 units), lets dk.tune.search try sizes
from 2 to 512 units with everything else fixed, and compares them on the same
validation split and on a test set neither has seen.

::

    python examples/tune_size.py [--trials 20] [--epochs 30]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import densekit as dk
from densekit.demo import load_digits_split

FIXED = {"layers": 1, "activation": "relu", "learning_rate": 3e-3}


def main() -> None:
    parser = argparse.ArgumentParser(description="Hidden units: a rule of thumb against a search.")
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=30)
    args = parser.parse_args()

    x_train, y_train, x_test, y_test = load_digits_split(seed=0)
    n_in, n_out = x_train.shape[1], 10
    rule_units = round((n_in + n_out) / 2)
    folder = Path(tempfile.mkdtemp(prefix="tune-size-"))
    common = dict(epochs=args.epochs, seed=0, pruning=False)

    # the rule of thumb, trained exactly as every trial of the search is
    rule = dk.tune.search(
        {**FIXED, "units": [rule_units]}, x_train, y_train, sampler="grid",
        n_trials=None, storage=folder / "rule.log", **common,
    )  # fmt: skip
    found = dk.tune.search(
        {**FIXED, "units": (2, 512, "log")}, x_train, y_train, n_trials=args.trials,
        storage=folder / "search.log", **common,
    )  # fmt: skip

    print(f"digits: {n_in} inputs, {n_out} classes, {len(x_train)} training rows")
    for name, result in (("rule of thumb", rule), (f"search, {args.trials} trials", found)):
        (units,) = result.best_params["units"]
        test = result.best_model.evaluate(x_test, y_test)
        print(
            f"{name:>22}: {units:4d} hidden units, {result.best_model.count_params():6,} params, "
            f"val_loss {result.best_value:.4f}, test loss {test['loss']:.4f}, "
            f"test accuracy {test['accuracy']:.4f}"
        )
    table = found.trials
    rows = table.to_dict("records") if hasattr(table, "to_dict") else table
    tried = sorted((int(r["units"]), r["value"]) for r in rows if r["value"] is not None)
    print("sizes tried (units: val_loss): " + ", ".join(f"{u}: {v:.3f}" for u, v in tried))
    plot(tried, rule_units, rule.best_value)


def plot(tried: list[tuple[int, float]], rule_units: int, rule_loss: float) -> None:
    """Validation loss against the number of hidden units (when matplotlib is installed)."""
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        return
    figure, axes = plt.subplots(figsize=(7, 4))
    axes.semilogx([u for u, _ in tried], [v for _, v in tried], "o", label="search trials")
    axes.semilogx([rule_units], [rule_loss], "s", color="C1", label="rule of thumb")
    axes.set_xlabel("hidden units")
    axes.set_ylabel("validation loss")
    axes.legend()
    figure.tight_layout()


if __name__ == "__main__":
    main()
