"""Preprocessing: raw table columns in, float32 features for a network out, and back.

Reusable by every tool that feeds a network from a table (``densekit train``, the
scikit-learn estimators). Columns come in as lists, NumPy arrays (float64 with NaN,
or text), pandas DataFrame columns or pyarrow arrays, and are encoded with
vectorized NumPy: text is handled once per distinct value, never cell by cell.

The public API::

    from densekit.preprocessing import FeatureEncoder, TargetEncoder, TabularPreprocessor

    enc = FeatureEncoder(scaling="robust", categorical="auto", max_onehot=32,
                         fill_missing="auto")       # the defaults but scaling="standard",
    X = enc.fit(df).transform(df)                   #   categorical="onehot"
    enc.feature_names          # ['age', 'age:missing', 'color=red', 'city', ...]
    enc.feature_groups()       # {'age': [0, 1], 'color': [2, 3, 4], 'city': [5]}
    enc.embedding_columns()    # [(5, 41)]: feature 5 holds codes 0..40 (0 = missing/unknown)
    enc.filled_summary()       # 'filled missing values: age 177 with 28 (+ indicator)'
    enc.unseen()               # after transform: {'color': 3} cells of unseen categories

    target = TargetEncoder(task=None, max_classes=20).fit(y)   # infers the task
    target.transform(y)        # int64 class indices, or float32 (n, 1) standardized
    target.inverse_transform(outputs)   # labels, or numbers in the target's units

    prep = TabularPreprocessor(target="species").fit(table)    # both, for a table with
    X, y = prep.transform(table), prep.encode_target(table)    # its target column
    prep.get_config(); TabularPreprocessor.from_config(config) # JSON, in model files

Conventions (the modules' docstrings say more):

- Numbers: ``scaling="standard"``: ``(x - mean) / std``; ``"robust"``: RealMLP-TD's
  ``(x - median) / IQR`` (half the range where the IQR is 0, 0 for a constant
  column), then the smooth clip ``z / sqrt(1 + (z / 3)^2)``.
- Text: one-hot over the sorted training categories (``"color=red"``), or integer
  codes for an embedding (``categorical="codes"``, or ``"auto"`` above
  ``max_onehot`` categories): 0 = missing or unknown, 1..k the categories.
- Missing values (``fill_missing="auto"``): a number is filled with the median
  and, when the column had missing values in training, a 0/1 ``"name:missing"``
  feature follows it; a text cell is its own ``"name:missing"`` level. Blank and
  null cells are missing everywhere; ``NA``, ``NaN``, ``null``, ``None``, ``?``
  only in numeric columns and targets, or where ``missing_values`` says.
  ``fill_missing=None`` raises on missing cells; ``"mean"``, ``"median"``,
  ``"most_frequent"``, ``"zero"`` fill without indicators (text: the most
  frequent category, or all zeros for ``"zero"``).
- Errors name the column, the row (from 1, below the header) and the value.
"""

from __future__ import annotations

from .cells import MISSING_TOKENS, is_missing
from .columns import TextColumn, as_column, columns_of
from .config import CONFIG_FORMAT, CONFIG_VERSION
from .encoders import (
    CATEGORICAL,
    ENCODINGS,
    FILL_MODES,
    SCALINGS,
    CategoricalColumn,
    NumericColumn,
    robust_center_scale,
    smooth_clip,
)
from .features import FeatureEncoder
from .preprocessor import TabularPreprocessor, named_column
from .target import TASKS, TargetEncoder

__all__ = [
    "CATEGORICAL",
    "CONFIG_FORMAT",
    "CONFIG_VERSION",
    "ENCODINGS",
    "FILL_MODES",
    "MISSING_TOKENS",
    "SCALINGS",
    "TASKS",
    "CategoricalColumn",
    "FeatureEncoder",
    "NumericColumn",
    "TabularPreprocessor",
    "TargetEncoder",
    "TextColumn",
    "as_column",
    "columns_of",
    "is_missing",
    "named_column",
    "robust_center_scale",
    "smooth_clip",
]
