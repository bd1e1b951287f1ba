"""Tier 6: reports.

An HTML page for a trained model (:mod:`.html`) and a table that sets a model beside its
compressed copy (:mod:`.compression`).
"""

from __future__ import annotations

from .compression import compression_report
from .html import report

__all__ = ["compression_report", "report"]
