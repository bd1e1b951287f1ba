"""The preprocessor's config round trip: its fitted state as plain JSON, and back, checked.

``densekit train`` stores this JSON in the model file's metadata; reading it back
validates every field, so a hand-edited or foreign file fails with a
:class:`~densekit.errors.ModelFileError` that names the field. Version 2 adds the
encoding settings (scaling, categorical codes, missing indicators); version 1
(model files written before) still reads, and predicts as it did: standard
scaling, one-hot, and the missing markers counted in text columns too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ..errors import ModelFileError
from .cells import MISSING_TOKENS
from .encoders import (
    CATEGORICAL,
    ENCODINGS,
    FILL_MODES,
    SCALINGS,
    CategoricalColumn,
    NumericColumn,
)
from .target import TASKS

CONFIG_FORMAT = "densekit.tabular"
CONFIG_VERSION = 2
_V1_FILL_MODES = ("mean", "median", "most_frequent", "zero")
_SETTINGS = ("scaling", "categorical", "max_onehot", "missing_values")
_KEYS_V1 = (
    "format",
    "version",
    "target",
    "task",
    "fill_missing",
    "max_classes",
    "features",
    "target_encoding",
)
_KEYS = (*_KEYS_V1, "settings")


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
    settings
        The feature encoding settings (scaling, categorical, max_onehot, missing_values).
    """

    target: str
    task: str
    fill_missing: str | None
    max_classes: int
    columns: list[NumericColumn | CategoricalColumn]
    classes: list
    target_mean: float | None
    target_std: float | None
    settings: dict

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
            "settings": {key: self.settings[key] for key in _SETTINGS},
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
        version = config.get("version") if isinstance(config, dict) else None
        config = _field(config, "config", _KEYS_V1 if version == 1 else _KEYS)
        if config["format"] != CONFIG_FORMAT:
            raise _bad("['format']", f"is {config['format']!r}; expected {CONFIG_FORMAT!r}")
        if version not in (1, CONFIG_VERSION) or isinstance(version, bool):
            raise _bad(
                "['version']",
                f"is {version!r}; this densekit reads versions 1 and {CONFIG_VERSION}",
            )
        target = _name(config["target"], "['target']")
        task = _one_of(config["task"], "['task']", TASKS)
        modes = _V1_FILL_MODES if version == 1 else FILL_MODES
        fill_missing = _one_of(config["fill_missing"], "['fill_missing']", (None, *modes))
        max_classes = config["max_classes"]
        if isinstance(max_classes, bool) or not isinstance(max_classes, int) or max_classes < 2:
            raise _bad("['max_classes']", f"must be an int >= 2, got {max_classes!r}")
        if version == 1:
            settings = {"scaling": "standard", "categorical": "onehot", "max_onehot": 32}
            settings["missing_values"] = []
        else:
            settings = settings_from_config({"settings": config["settings"]}, "['settings']")
            del settings["fill_missing"]
        columns = features_from_config(config["features"], "['features']", fill_missing, version)
        names = [column.name for column in columns]
        if len(set(names)) != len(names) or target in names:
            raise _bad(
                "['features']", f"names {names} must be unique and exclude the target {target!r}"
            )
        classes, target_mean, target_std = _target_from_config(config["target_encoding"], task)
        return cls(
            target,
            task,
            fill_missing,
            max_classes,
            columns,
            classes,
            target_mean,
            target_std,
            settings,
        )


def settings_from_config(config: Any, where: str = "['settings']") -> dict:
    """The FeatureEncoder settings of a config, checked.

    Parameters
    ----------
    config
        A dict with a ``"settings"`` object (fill_missing may be in it or not).
    where
        Where the settings sit, for messages.

    Returns
    -------
    dict
        Keyword arguments for :class:`~densekit.preprocessing.FeatureEncoder`.

    Raises
    ------
    ModelFileError
        If a setting is malformed.
    """
    if not isinstance(config, dict):
        raise _bad("config", f"must be an object, got {type(config).__name__}")
    settings = config.get("settings")
    keys = _SETTINGS + (
        ("fill_missing",) if isinstance(settings, dict) and "fill_missing" in settings else ()
    )
    settings = _field(settings, where, keys)
    max_onehot = settings["max_onehot"]
    if isinstance(max_onehot, bool) or not isinstance(max_onehot, int) or max_onehot < 1:
        raise _bad(f"{where}['max_onehot']", f"must be an int >= 1, got {max_onehot!r}")
    missing_values = settings["missing_values"]
    if not isinstance(missing_values, list) or not all(isinstance(v, str) for v in missing_values):
        raise _bad(f"{where}['missing_values']", f"must be a list of str, got {missing_values!r}")
    return {
        "scaling": _one_of(settings["scaling"], f"{where}['scaling']", SCALINGS),
        "categorical": _one_of(settings["categorical"], f"{where}['categorical']", CATEGORICAL),
        "max_onehot": max_onehot,
        "fill_missing": _one_of(
            settings.get("fill_missing"), f"{where}['fill_missing']", (None, *FILL_MODES)
        ),
        "missing_values": list(missing_values),
    }


def features_from_config(
    features: Any, where: str, fill_missing: str | None, version: int
) -> list[NumericColumn | CategoricalColumn]:
    """The per-column encoders of a config, checked.

    Parameters
    ----------
    features
        The list of feature specs.
    where
        Where the list sits, for messages.
    fill_missing
        The fill mode the specs must agree with.
    version
        The config version (1 or 2).

    Returns
    -------
    list
        NumericColumn and CategoricalColumn objects, in order.

    Raises
    ------
    ModelFileError
        If a spec is malformed or names repeat.
    """
    if not isinstance(features, list) or not features:
        raise _bad(where, f"must be a non-empty list, got {features!r}")
    read = _feature_from_config_v1 if version == 1 else _feature_from_config
    columns = [read(spec, f"{where}[{i}]", fill_missing) for i, spec in enumerate(features)]
    names = [column.name for column in columns]
    if len(set(names)) != len(names):
        raise _bad(where, f"names {names} must be unique")
    return columns


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


def _feature_from_config_v1(spec: Any, where: str, fill_missing: str | None):
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
            "standard",
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
    name = _name(spec["name"], f"{where}['name']")
    return CategoricalColumn(name, categories, fill, "onehot", False, MISSING_TOKENS)


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


def _feature_from_config(spec: Any, where: str, fill_missing: str | None):
    kind = _one_of(
        spec.get("kind") if isinstance(spec, dict) else None,
        f"{where}['kind']",
        ("numeric", "categorical"),
    )
    auto = fill_missing == "auto"
    if kind == "numeric":
        keys = ("name", "kind", "scaling", "center", "scale", "fill", "indicator")
        spec = _field(spec, where, keys)
        scaling = _one_of(spec["scaling"], f"{where}['scaling']", SCALINGS)
        scale = _finite(spec["scale"], f"{where}['scale']", positive=scaling == "standard")
        if scale < 0:
            raise _bad(f"{where}['scale']", f"must be >= 0, got {scale!r}")
        fill = spec["fill"]
        if (fill is None) != (fill_missing is None):
            raise _bad(f"{where}['fill']", f"is {fill!r} but fill_missing is {fill_missing!r}")
        indicator = _flag(spec["indicator"], f"{where}['indicator']", allowed=auto)
        return NumericColumn(
            _name(spec["name"], f"{where}['name']"),
            scaling,
            _finite(spec["center"], f"{where}['center']"),
            scale,
            None if fill is None else _finite(fill, f"{where}['fill']"),
            indicator,
        )
    keys = ("name", "kind", "encoding", "categories", "fill", "missing_level", "missing_tokens")
    spec = _field(spec, where, keys)
    encoding = _one_of(spec["encoding"], f"{where}['encoding']", ENCODINGS)
    categories = _sorted_unique(spec["categories"], f"{where}['categories']", (str,))
    fill = spec["fill"]
    needs_fill = fill_missing in ("mean", "median", "most_frequent")
    if (fill is not None) != needs_fill or (fill is not None and fill not in categories):
        raise _bad(
            f"{where}['fill']",
            f"is {fill!r}; with fill_missing {fill_missing!r} it must "
            + ("be one of the categories" if needs_fill else "be null"),
        )
    level_ok = auto and encoding == "onehot"
    missing_level = _flag(spec["missing_level"], f"{where}['missing_level']", allowed=level_ok)
    tokens = spec["missing_tokens"]
    if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
        raise _bad(f"{where}['missing_tokens']", f"must be a list of str, got {tokens!r}")
    name = _name(spec["name"], f"{where}['name']")
    return CategoricalColumn(name, categories, fill, encoding, missing_level, frozenset(tokens))


def _flag(value: Any, where: str, allowed: bool) -> bool:
    """A JSON boolean; True only where the settings allow it."""
    if not isinstance(value, bool):
        raise _bad(where, f"must be true or false, got {value!r}")
    if value and not allowed:
        raise _bad(where, "can only be true with fill_missing 'auto' (and one-hot encoding)")
    return value
