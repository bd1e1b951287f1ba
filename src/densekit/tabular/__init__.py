"""Tables from CSV/Parquet files, encoded as float arrays and decoded back, reproducibly.

This is the data layer behind ``densekit train DATA --target COL`` and
``densekit predict MODEL DATA``:

    table = read_table("train.csv")
    prep = TabularPreprocessor(target="species").fit(table)
    X, y = prep.transform(table), prep.encode_target(table)
    ...  # train; save prep.get_config() as JSON beside the weights
    prep = TabularPreprocessor.from_config(config)
    labels = prep.decode_target(model.predict(prep.transform(read_table("new.csv"))))

One concern per module: ``cells`` (what a cell means: missing, a number, text),
``table`` (the Table and its columns), ``reading`` (CSV and Parquet files),
``encoders`` (numeric standardization, categorical one-hot), ``preprocessor``
(fit, transform, decode, task inference) and ``config`` (its JSON round trip).
Their docstrings state the conventions.
"""

from __future__ import annotations

from .cells import MISSING_TOKENS, is_missing
from .config import CONFIG_FORMAT, CONFIG_VERSION, FILL_MODES, TASKS
from .preprocessor import TabularPreprocessor
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
    "column",
    "identifier_columns",
    "is_missing",
    "read_table",
]
