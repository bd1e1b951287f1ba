"""
Pruning and int8: a smaller network, nearly the same accuracy
=============================================================

A 64 -> 128 -> 64 -> 10 network is trained on scikit-learn's digits. Then:

- magnitude pruning zeroes the smallest ``|w|`` of each kernel (30% to 95%), and a few
  epochs of fine-tuning let the remaining weights make up for them (the masks keep the
  pruned weights at zero through every later fit);
- post-training int8 quantization stores each kernel as 7-bit integers with one float
  scale per output unit, calibrated on 200 training rows, and computes each product in
  exact integer arithmetic.

The script prints test accuracy for each, and the file sizes; the figure shows accuracy
against sparsity.
"""

import tempfile
from pathlib import Path

import densekit as dk
from densekit.demo import load_digits_split

x_train, y_train, x_test, y_test = load_digits_split(seed=0)


def trained() -> dk.Sequential:
    model = dk.Sequential(
        [
            dk.layers.Dense(128, "relu", input_dim=64),
            dk.layers.Dense(64, "relu"),
            dk.layers.Dense(10, "softmax"),
        ],
        seed=0,
    )
    model.compile(
        optimizer=dk.optimizers.Adam(3e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    model.fit(x_train, y_train, epochs=20, batch_size=32, verbose=0, seed=0)
    return model


def accuracy(model) -> float:
    return float((model.predict(x_test).argmax(axis=1) == y_test).mean())


base = trained()
print(f"float32 model: {base.count_params():,} weights, test accuracy {accuracy(base):.4f}")

sparsities = [0.3, 0.6, 0.8, 0.9, 0.95]
before, after = [], []
for sparsity in sparsities:
    model = dk.Sequential.from_config(base.get_config())
    model.set_weights(base.get_weights())
    model.compile(optimizer=dk.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
    dk.prune.magnitude(model, sparsity)
    before.append(accuracy(model))
    model.fit(x_train, y_train, epochs=5, batch_size=32, verbose=0, seed=0)  # fine-tune
    after.append(accuracy(model))
    print(
        f"pruned {sparsity:.0%}: accuracy {before[-1]:.4f} at once, "
        f"{after[-1]:.4f} after 5 epochs of fine-tuning "
        "(zeros: " + ", ".join(f"{k} {v:.0%}" for k, v in dk.prune.sparsity(model).items()) + ")"
    )

quantized = dk.quantize.int8(base, x_train[:200])
print(f"int8 model: test accuracy {accuracy(quantized):.4f}")
folder = Path(tempfile.mkdtemp(prefix="densekit-int8-"))
base.save(folder / "float32.safetensors", include_optimizer=False)
quantized.save(folder / "int8.safetensors")
sizes = {name: (folder / f"{name}.safetensors").stat().st_size for name in ("float32", "int8")}
print(
    f"file sizes: float32 {sizes['float32']:,} bytes, int8 {sizes['int8']:,} bytes "
    f"({sizes['float32'] / sizes['int8']:.1f}x smaller)"
)

try:
    import matplotlib.pyplot as plt
except ImportError:  # the figure is optional: pip install 'densekit[plot]'
    plt = None
if plt is not None:
    figure, axes = plt.subplots(figsize=(7, 4))
    axes.plot(sparsities, before, "o--", label="pruned, no fine-tuning")
    axes.plot(sparsities, after, "o-", label="pruned, then 5 epochs of fine-tuning")
    axes.axhline(accuracy(base), color="gray", linestyle=":", label="float32, unpruned")
    axes.axhline(accuracy(quantized), color="C3", linestyle="-.", label="int8, unpruned")
    axes.set_xlabel("fraction of kernel weights pruned")
    axes.set_ylabel("test accuracy")
    axes.legend()
    figure.tight_layout()
