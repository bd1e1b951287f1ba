"""Tier 4: files. safetensors containers, model files and checkpoints.

- :mod:`.safetensors`: the container, read with ``json`` and ``numpy`` only (no code is
  ever executed by loading), written atomically;
- :mod:`.model_file`: what a model file holds, and checking every field on the way back;
- :mod:`.checkpoint`: training state (weights, optimizer, generators) to resume from.

Serialization never imports the model: it knows file formats by name.
"""

from __future__ import annotations

from .model_file import load_model, save_model
from .safetensors import atomic_write, read_safetensors, write_safetensors

__all__ = ["atomic_write", "load_model", "read_safetensors", "save_model", "write_safetensors"]
