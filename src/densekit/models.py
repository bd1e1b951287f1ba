"""Keras' ``keras.models`` functions: ``model_from_json``, ``clone_model``, ``load_model``.

``Sequential`` and ``load_model`` are here too, so ``dk.models.Sequential`` and
``dk.models.load_model`` work as ``keras.models``' do.
"""

from __future__ import annotations

import json
from typing import Any

from .errors import ArgumentTypeError, ModelFileError
from .model import Sequential
from .serialization.model_file import load_model


def model_from_json(json_string: str) -> Sequential:
    """A new model, freshly initialized, from :meth:`Sequential.to_json`'s string.

    Parameters
    ----------
    json_string
        ``{"class_name": "Sequential", "config": {...}}`` as JSON.

    Returns
    -------
    Sequential
        Built when the config names an input width; weights are new (load them with
        ``load_weights`` or ``set_weights``).

    Raises
    ------
    ArgumentTypeError
        If ``json_string`` is not a string.
    ModelFileError
        If it is not such JSON, names another class, or holds a bad layer.
    """
    if not isinstance(json_string, (str, bytes)):
        raise ArgumentTypeError(
            f"model_from_json takes the string model.to_json() returns, got "
            f"{type(json_string).__name__}"
        )
    try:
        entry = json.loads(json_string)
    except json.JSONDecodeError as exc:
        raise ModelFileError(f"model_from_json: not valid JSON: {exc}") from exc
    if not isinstance(entry, dict) or not isinstance(entry.get("config"), dict):
        raise ModelFileError("model_from_json: expected {'class_name': ..., 'config': {...}}")
    if entry.get("class_name") != "Sequential":
        raise ModelFileError(
            f"model_from_json: densekit builds Sequential models, got class_name "
            f"{entry.get('class_name')!r}"
        )
    config = entry["config"]
    if not isinstance(config.get("layers"), list):
        raise ModelFileError("model_from_json: config.layers must be a list of layers")
    return Sequential.from_config(config)


def clone_model(model: Sequential, **unknown: Any) -> Sequential:
    """A new model with ``model``'s architecture and *fresh* weights (Keras' ``clone_model``).

    As in Keras, the clone is not compiled and its weights are newly initialized; to copy
    the weights too, use ``model.copy()`` or ``clone.set_weights(model.get_weights())``.

    Parameters
    ----------
    model
        The model to clone.
    **unknown
        Keras' ``input_tensors`` and ``clone_function`` are refused, with what to do.

    Returns
    -------
    Sequential
        New layers, new weights (from the model's seed, so a seeded model clones to the
        weights it started from), built when ``model`` is.

    Raises
    ------
    ArgumentTypeError
        If ``model`` is not a Sequential, or for Keras' other arguments.
    """
    if unknown:
        raise ArgumentTypeError(
            f"clone_model takes the model only, got {', '.join(sorted(unknown))}: to change "
            "layers, edit model.get_config()['layers'] and call Sequential.from_config"
        )
    if not isinstance(model, Sequential):
        raise ArgumentTypeError(f"clone_model takes a densekit Sequential, got {model!r}")
    clone = Sequential.from_config(model.get_config())
    if model.built and not clone.built:
        clone.build(model.input_dim)
    return clone


__all__ = ["Sequential", "clone_model", "load_model", "model_from_json"]
