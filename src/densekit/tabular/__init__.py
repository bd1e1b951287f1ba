"""Tables from CSV/Parquet files, encoded as float arrays and decoded back, reproducibly.

This is the data layer behind ``densekit train DATA --target COL`` and
``densekit predict MODEL DATA``:

    table = read_table("train.csv")
    prep = TabularPreprocessor(target="species").fit(table)
    X, y = prep.transform(table), prep.encode_target(table)
    ...  # train; save prep.get_config() as JSON beside the weights
    prep = TabularPreprocessor.from_config(config)
    labels = prep.decode_target(model.predict(prep.transform(read_table("new.csv"))))

``table`` (the Table and its columns) and ``reading`` (CSV and Parquet files) live
here; the encoding itself is :mod:`densekit.preprocessing`, re-exported here.
"""

from __future__ import annotations

from ..preprocessing import (
    CONFIG_FORMAT,
    CONFIG_VERSION,
    FILL_MODES,
    MISSING_TOKENS,
    TASKS,
    TabularPreprocessor,
    TextColumn,
    is_missing,
)
from .reading import read_table
from .table import Table, column, identifier_columns

__all__ = [
    "CONFIG_FORMAT",
    "CONFIG_VERSION",
    "FILL_MODES",
    "MISSING_TOKENS",
    "TASKS",
    "Table",
    "TabularPreprocessor",
    "TextColumn",
    "column",
    "identifier_columns",
    "is_missing",
    "read_table",
]
