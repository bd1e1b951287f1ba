"""Pruning: zero the smallest weights (masks), or remove whole units (a smaller model)."""

from __future__ import annotations

from .removal import (
    CRITERIA,
    METADATA_KEY,
    SCOPES,
    ConstantSparsity,
    PolynomialDecay,
    PruningCallback,
    PruningMasks,
    PruningSchedule,
    SparseInference,
    activation_scores,
    best_time,
    check_fraction,
    check_layer_names,
    check_repeats,
    l2_scores,
    magnitude,
    masks_of,
    neurons,
    reattach,
    register_criterion,
    sparse_inference,
    sparsity,
    strip,
    time_products,
)
from .removal import __all__
