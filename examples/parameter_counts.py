"""
Parameter counts: n * m + m
===========================

A dense layer from ``n`` inputs to ``m`` units has ``n * m`` weights and ``m`` biases:
``n * m + m`` parameters, which ``summary()`` and ``count_params()`` report.
"""

import densekit as dk

for n, m in [(10, 5), (100, 50), (1000, 500)]:
    model = dk.Sequential([dk.layers.Dense(m, input_dim=n)])
    model.summary()
    print(
        f"{n} -> {m}: n*m + m = {n * m + m:,} parameters; count_params() = {model.count_params():,}\n"
    )
