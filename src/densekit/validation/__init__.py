"""Checking inputs, splitting off a validation set, and batching.

One set of checks used by every entry point, so ``fit``, ``predict`` and
``evaluate`` reject bad input the same way and with the same words. One concern a module:

- :mod:`.arrays`: ``x``, ``y``, ``sample_weight`` and DataFrame column names;
- :mod:`.numbers`: scalar arguments (numbers in a range, counts, flags, batch sizes);
- :mod:`.splits`: the validation split;
- :mod:`.arguments`: unknown keyword arguments.
"""

from __future__ import annotations

from .arguments import refuse_unknown
from .arrays import (
    check_same_length,
    check_sample_weight,
    check_x,
    check_x_layout,
    check_x_rows,
    check_y,
    column_names,
    is_sparse,
)
from .numbers import (
    check_batch_size,
    check_bool,
    check_count,
    check_number,
    check_positive_int,
)
from .splits import check_validation_split, validation_split_indices

__all__ = [
    "check_batch_size",
    "check_bool",
    "check_count",
    "check_number",
    "check_positive_int",
    "check_same_length",
    "check_sample_weight",
    "check_validation_split",
    "check_x",
    "check_x_layout",
    "check_x_rows",
    "check_y",
    "column_names",
    "is_sparse",
    "refuse_unknown",
    "validation_split_indices",
]
