"""Tier 5: the training loop behind ``Sequential.fit`` (:mod:`.loop`) and its GPU
runner (:mod:`.gpu`)."""

from __future__ import annotations

from .loop import DEFAULT_BATCH_SIZE, fit

__all__ = ["DEFAULT_BATCH_SIZE", "fit"]
