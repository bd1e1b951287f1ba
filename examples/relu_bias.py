"""
Why a neuron needs a bias
=========================

A ReLU neuron without a bias cannot output 2 at x = 0: without a bias,
``y = relu(w * 0) = 0`` whatever ``w`` is. With a bias, ``y = relu(w * 0 + b)``
can be anything >= 0, so it learns to output 2 there.
"""

import numpy as np

import densekit as dk

x = np.array([[0.0], [1.0], [-1.0]])
y = np.array([[2.0], [3.0], [1.0]])  # y = x + 2 on these points, so y(0) = 2

for use_bias in (False, True):
    model = dk.Sequential(
        [
            dk.layers.Dense(
                1, activation="relu", use_bias=use_bias, input_dim=1, kernel_initializer="ones"
            )
        ],
        seed=0,
    )
    model.compile(optimizer=dk.optimizers.Adam(0.05), loss="mse")
    model.fit(x, y, epochs=500, batch_size=3, verbose=0, seed=0)
    at_zero = model.predict(np.array([[0.0]]))[0, 0]
    print(f"use_bias={use_bias!s:5}: output at x = 0 is {at_zero:.3f} (wanted 2)")
