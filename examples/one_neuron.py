"""One neuron learns y = 2x + 3 from a few dozen points.

A Dense layer with one unit and no activation is exactly y = w*x + b, so
after training get_weights() should hold a weight near 2 and a bias near 3.
"""

import numpy as np

import densekit as dk

x = np.linspace(-2.0, 2.0, 40).reshape(-1, 1)
y = 2.0 * x + 3.0

model = dk.Sequential([dk.layers.Dense(1, input_dim=1)], seed=0)
model.compile(optimizer=dk.optimizers.SGD(learning_rate=0.05), loss="mean_squared_error")
model.fit(x, y, epochs=100, batch_size=8, verbose=0, seed=0)

kernel, bias = model.get_weights()
print(f"learned y = {kernel[0, 0]:.4f} * x + {bias[0]:.4f}   (true: y = 2x + 3)")
