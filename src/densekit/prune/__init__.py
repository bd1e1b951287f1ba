"""Pruning: zero the smallest weights (masks), or remove whole units (a smaller model).

One module per concern:

- :mod:`~densekit.prune.masks`: the masks, their hooks, file round trip (:func:`reattach`);
- :mod:`~densekit.prune.magnitude_pruning`: :func:`magnitude`, zero the smallest ``|w|``;
- :mod:`~densekit.prune.schedules`: pruning during ``fit`` (schedules, :class:`PruningCallback`);
- :mod:`~densekit.prune.removal`: :func:`neurons`, remove hidden units;
- :mod:`~densekit.prune.sparse`: :func:`sparse_inference`, CSR products where faster;
- :mod:`~densekit.prune.timing` and :mod:`~densekit.prune.checks`: shared helpers.
"""

from __future__ import annotations

from .checks import check_fraction as check_fraction
from .checks import check_layer_names as check_layer_names
from .magnitude_pruning import SCOPES as SCOPES
from .magnitude_pruning import magnitude
from .masks import METADATA_KEY as METADATA_KEY
from .masks import PruningMasks, masks_of, reattach, sparsity, strip
from .masks import attach as attach
from .removal import CRITERIA, neurons, register_criterion
from .removal import activation_scores as activation_scores
from .removal import l2_scores as l2_scores
from .schedules import ConstantSparsity, PolynomialDecay, PruningCallback, PruningSchedule
from .sparse import SparseInference, sparse_inference
from .timing import best_time as best_time
from .timing import check_repeats as check_repeats
from .timing import time_products

__all__ = [
    "magnitude",
    "strip",
    "reattach",
    "sparsity",
    "masks_of",
    "PruningMasks",
    "PruningSchedule",
    "ConstantSparsity",
    "PolynomialDecay",
    "PruningCallback",
    "neurons",
    "register_criterion",
    "CRITERIA",
    "sparse_inference",
    "SparseInference",
    "time_products",
]
