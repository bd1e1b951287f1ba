"""
One neuron learns y = 2x + 3
============================

A Dense layer with one unit and no activation is exactly ``y = w * x + b``, so
after training ``get_weights()`` should hold a weight near 2 and a bias near 3.
The figure shows the points, the learned line and the loss falling epoch by epoch.
"""

import numpy as np

import densekit as dk

x = np.linspace(-2.0, 2.0, 40).reshape(-1, 1)
y = 2.0 * x + 3.0

model = dk.Sequential([dk.layers.Dense(1, input_dim=1)], seed=0)
model.compile(optimizer=dk.optimizers.SGD(learning_rate=0.05), loss="mean_squared_error")
history = model.fit(x, y, epochs=100, batch_size=8, verbose=0, seed=0)

kernel, bias = model.get_weights()
print(f"learned y = {kernel[0, 0]:.4f} * x + {bias[0]:.4f}   (true: y = 2x + 3)")

try:
    import matplotlib.pyplot as plt
except ImportError:  # the figure is optional: pip install 'densekit[plot]'
    plt = None
if plt is not None:
    figure, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5))
    left.scatter(x[:, 0], y[:, 0], s=12, label="data: y = 2x + 3")
    left.plot(x[:, 0], model.predict(x)[:, 0], color="C1", label="the neuron's w x + b")
    left.set_xlabel("x")
    left.set_ylabel("y")
    left.legend()
    right.semilogy(history.history["loss"])
    right.set_xlabel("epoch")
    right.set_ylabel("mean squared error")
    figure.tight_layout()
