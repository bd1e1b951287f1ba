"""Tables from CSV/Parquet files, encoded as float arrays and decoded back, reproducibly."""

from __future__ import annotations

from .preprocessor import (
    CONFIG_FORMAT,
    CONFIG_VERSION,
    FILL_MODES,
    MISSING_TOKENS,
    TASKS,
    Table,
    TabularPreprocessor,
    column,
    identifier_columns,
    is_missing,
    read_table,
)

__all__ = [
    "CONFIG_FORMAT",
    "CONFIG_VERSION",
    "FILL_MODES",
    "MISSING_TOKENS",
    "TASKS",
    "Table",
    "TabularPreprocessor",
    "column",
    "identifier_columns",
    "is_missing",
    "read_table",
]
