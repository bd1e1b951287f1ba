"""The preprocessor's config round trip: its fitted state as plain JSON, and back, checked.

``densekit train`` stores this JSON in the model file's metadata; reading it back
validates every field, so a hand-edited or foreign file fails with a
:class:`~densekit.errors.ModelFileError` that names the field.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ..errors import ModelFileError
from .encoders import CategoricalColumn, NumericColumn

TASKS = ("classification", "regression")
FILL_MODES = ("mean", "median", "most_frequent", "zero")
CONFIG_FORMAT = "densekit.tabular"
CONFIG_VERSION = 1
_KEYS = (
    "format",
    "version",
    "target",
    "task",
    "fill_missing",
    "max_classes",
    "features",
    "target_encoding",
)


@dataclass
class PreprocessorState:
    """What a fitted TabularPreprocessor knows: its settings and encodings.

    Parameters
    ----------
    target, task, fill_missing, max_classes
        The preprocessor's settings, ``task`` resolved.
    columns
        The fitted feature encoders, in table order.
    classes
        The sorted class labels (classification), else empty.
    target_mean, target_std
        The target's standardization (regression), else None.
    """

    target: str
    task: str
    fill_missing: str | None
    max_classes: int
    columns: list[NumericColumn | CategoricalColumn]
    classes: list
    target_mean: float | None
    target_std: float | None

    def to_config(self) -> dict:
        """The state as plain JSON values, the format :meth:`from_config` reads.

        Returns
        -------
        dict
            The config, tagged with CONFIG_FORMAT and CONFIG_VERSION.
        """
        if self.task == "regression":
            target = {"mean": self.target_mean, "std": self.target_std}
        else:
            target = {"classes": list(self.classes)}
        return {
            "format": CONFIG_FORMAT,
            "version": CONFIG_VERSION,
            "target": self.target,
            "task": self.task,
            "fill_missing": self.fill_missing,
            "max_classes": self.max_classes,
            "features": [column.to_config() for column in self.columns],
            "target_encoding": target,
        }

    @classmethod
    def from_config(cls, config: Any) -> PreprocessorState:
        """Read a config back, checking every field.

        Parameters
        ----------
        config
            A dict made by :meth:`to_config` (from a model file's metadata).

        Returns
        -------
        PreprocessorState
            The state it describes.

        Raises
        ------
        ModelFileError
            If a field is missing, unknown, of the wrong type or out of range.
        """
        config = _field(config, "config", _KEYS)
        if config["format"] != CONFIG_FORMAT:
            raise _bad("['format']", f"is {config['format']!r}; expected {CONFIG_FORMAT!r}")
        if config["version"] != CONFIG_VERSION or isinstance(config["version"], bool):
            raise _bad(
                "['version']",
                f"is {config['version']!r}; this densekit reads version {CONFIG_VERSION}",
            )
        target = _name(config["target"], "['target']")
        task = _one_of(config["task"], "['task']", TASKS)
        fill_missing = _one_of(config["fill_missing"], "['fill_missing']", (None, *FILL_MODES))
        max_classes = config["max_classes"]
        if isinstance(max_classes, bool) or not isinstance(max_classes, int) or max_classes < 2:
            raise _bad("['max_classes']", f"must be an int >= 2, got {max_classes!r}")
        features = config["features"]
        if not isinstance(features, list) or not features:
            raise _bad("['features']", f"must be a non-empty list, got {features!r}")
        columns = [
            _feature_from_config(spec, f"['features'][{i}]", fill_missing)
            for i, spec in enumerate(features)
        ]
        names = [column.name for column in columns]
        if len(set(names)) != len(names) or target in names:
            raise _bad(
                "['features']", f"names {names} must be unique and exclude the target {target!r}"
            )
        classes, target_mean, target_std = _target_from_config(config["target_encoding"], task)
        return cls(
            target, task, fill_missing, max_classes, columns, classes, target_mean, target_std
        )


def _bad(where: str, problem: str) -> ModelFileError:
    return ModelFileError(f"tabular preprocessor config: {where} {problem}")


def _field(mapping: Any, where: str, keys: tuple[str, ...]) -> dict:
    """The mapping, checked to have exactly these keys."""
    if not isinstance(mapping, dict):
        raise _bad(where, f"must be an object, got {type(mapping).__name__}")
    missing = [k for k in keys if k not in mapping]
    if missing:
        raise _bad(where, f"lacks keys {missing}; expected keys {list(keys)}")
    unknown = sorted(str(k) for k in mapping if k not in keys)
    if unknown:
        raise _bad(where, f"has unknown keys {unknown}; expected keys {list(keys)}")
    return mapping


def _name(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise _bad(where, f"must be a non-empty string, got {value!r}")
    return value


def _finite(value: Any, where: str, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise _bad(where, f"must be a finite number, got {value!r}")
    if positive and value <= 0:
        raise _bad(where, f"must be positive, got {value!r}")
    return float(value)


def _one_of(value: Any, where: str, choices: tuple) -> Any:
    if value not in choices or isinstance(value, bool):
        raise _bad(where, f"must be one of {list(choices)}, got {value!r}")
    return value


def _sorted_unique(values: Any, where: str, kinds: tuple[type, ...]) -> list:
    if not isinstance(values, list) or not values:
        raise _bad(where, f"must be a non-empty list, got {values!r}")
    if any(isinstance(v, bool) or not isinstance(v, kinds) for v in values):
        raise _bad(where, f"must hold only {'/'.join(k.__name__ for k in kinds)} values")
    if any(isinstance(v, float) and not math.isfinite(v) for v in values):
        raise _bad(where, "must hold only finite numbers")
    if any(a >= b for a, b in zip(values, values[1:], strict=False)):
        raise _bad(where, "must be sorted and without duplicates")
    return list(values)


def _feature_from_config(spec: Any, where: str, fill_missing: str | None):
    kind = _one_of(
        spec.get("kind") if isinstance(spec, dict) else None,
        f"{where}['kind']",
        ("numeric", "categorical"),
    )
    if kind == "numeric":
        spec = _field(spec, where, ("name", "kind", "mean", "std", "fill"))
        fill = spec["fill"]
        if (fill is None) != (fill_missing is None):
            raise _bad(f"{where}['fill']", f"is {fill!r} but fill_missing is {fill_missing!r}")
        return NumericColumn(
            _name(spec["name"], f"{where}['name']"),
            _finite(spec["mean"], f"{where}['mean']"),
            _finite(spec["std"], f"{where}['std']", positive=True),
            None if fill is None else _finite(fill, f"{where}['fill']"),
        )
    spec = _field(spec, where, ("name", "kind", "categories", "fill"))
    categories = _sorted_unique(spec["categories"], f"{where}['categories']", (str,))
    fill = spec["fill"]
    needs_fill = fill_missing in ("mean", "median", "most_frequent")
    if (fill is not None) != needs_fill or (fill is not None and fill not in categories):
        raise _bad(
            f"{where}['fill']",
            f"is {fill!r}; with fill_missing {fill_missing!r} it must "
            + ("be one of the categories" if needs_fill else "be null"),
        )
    return CategoricalColumn(_name(spec["name"], f"{where}['name']"), categories, fill)


def _target_from_config(spec: Any, task: str) -> tuple[list, float | None, float | None]:
    """(classes, mean, std) of the target encoding; classes are empty for regression."""
    where = "['target_encoding']"
    if task == "regression":
        spec = _field(spec, where, ("mean", "std"))
        mean = _finite(spec["mean"], f"{where}['mean']")
        return [], mean, _finite(spec["std"], f"{where}['std']", positive=True)
    spec = _field(spec, where, ("classes",))
    classes = spec["classes"]
    text = isinstance(classes, list) and bool(classes) and isinstance(classes[0], str)
    kinds = (str,) if text else (int, float)
    classes = _sorted_unique(classes, f"{where}['classes']", kinds)
    if len(classes) < 2:
        raise _bad(f"{where}['classes']", f"has {len(classes)} class; need at least 2")
    return classes, None, None
