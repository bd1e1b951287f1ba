"""The version of densekit (tier 0: imports nothing), for the modules that print it."""

from __future__ import annotations

__version__ = "0.1.0"
