"""
Quickstart: a classifier with early stopping
============================================

The README's example, on scikit-learn's breast-cancer data: standardized inputs, one
hidden ReLU layer with dropout, a sigmoid output, Adam, a stratified validation split and
early stopping that restores the best weights.
"""

from sklearn.datasets import load_breast_cancer

import densekit as dk

data = load_breast_cancer()
x = (data.data - data.data.mean(axis=0)) / data.data.std(axis=0)
y = data.target

model = dk.Sequential(
    [
        dk.layers.Dense(32, activation="relu", input_dim=x.shape[1]),
        dk.layers.Dropout(0.2),
        dk.layers.Dense(1, activation="sigmoid"),
    ],
    seed=0,
)
model.compile(optimizer=dk.optimizers.Adam(1e-3), loss="binary_crossentropy", metrics=["accuracy"])
history = model.fit(
    x,
    y,
    epochs=50,
    batch_size=32,
    validation_split=0.2,
    verbose=0,
    seed=0,
    callbacks=[dk.callbacks.EarlyStopping(patience=5, restore_best_weights=True)],
)
print(
    f"trained {len(history.history['loss'])} epochs; last: "
    f"loss {history.history['loss'][-1]:.4f}, val_accuracy {history.history['val_accuracy'][-1]:.4f}"
)
print(model.evaluate(x, y))
