"""Layers: Dense, Activation, Dropout, BatchNormalization, Normalization, FakeQuant, and their contract."""

from __future__ import annotations

from ..errors import ModelFileError
from .activation import Activation
from .base import Layer, WeightSpec
from .category import CategoryEmbedding
from .dense import Dense
from .dropout import Dropout
from .embeddings import PeriodicEmbedding
from .ensemble import BatchEnsembleDense
from .fake_quant import FakeQuant
from .input import Input
from .normalization import BatchNormalization, Normalization
from .scale import Scale

LAYER_TYPES: dict[str, type[Layer]] = {"Dense": Dense, "Activation": Activation, "Dropout": Dropout}


def register(cls: type[Layer]) -> type[Layer]:
    """Make a layer class loadable from a model file by its class name.

    Parameters
    ----------
    cls
        The layer class; its ``from_config`` rebuilds it from ``get_config``'s output.

    Returns
    -------
    type
        ``cls``, so this works as a class decorator.
    """
    LAYER_TYPES[cls.__name__] = cls
    return cls


def from_config(entry: dict) -> Layer:
    """Rebuild a layer from ``{"class_name": ..., "config": {...}}``, validating both.

    Parameters
    ----------
    entry
        One layer's entry of a model file's architecture.

    Returns
    -------
    Layer
        A new, unbuilt layer.

    Raises
    ------
    ModelFileError
        If the entry is malformed, names an unregistered class, or its config is refused.
    """
    if not isinstance(entry, dict) or set(entry) != {"class_name", "config"}:
        raise ModelFileError(f"layer entry must have class_name and config, got {entry!r:.200}")
    cls = LAYER_TYPES.get(entry["class_name"])
    if cls is None:
        raise ModelFileError(
            f"unknown layer type {entry['class_name']!r}; known: {', '.join(LAYER_TYPES)}"
        )
    if not isinstance(entry["config"], dict):
        raise ModelFileError(f"config of {entry['class_name']} must be an object")
    config = dict(entry["config"])
    trainable = config.pop("trainable", True)
    if not isinstance(trainable, bool):
        raise ModelFileError(f"trainable of {entry['class_name']} must be true or false")
    try:
        layer = cls.from_config(config)
    except (TypeError, ValueError) as exc:
        raise ModelFileError(f"bad {entry['class_name']} config: {exc}") from exc
    layer.trainable = trainable
    return layer


register(BatchNormalization)
register(Normalization)
register(FakeQuant)
register(BatchEnsembleDense)
register(CategoryEmbedding)
register(PeriodicEmbedding)
register(Scale)


__all__ = [
    "Activation",
    "Layer",
    "WeightSpec",
    "Dense",
    "Dropout",
    "BatchNormalization",
    "Normalization",
    "FakeQuant",
    "Input",
    "BatchEnsembleDense",
    "CategoryEmbedding",
    "PeriodicEmbedding",
    "Scale",
    "LAYER_TYPES",
    "register",
    "from_config",
]
