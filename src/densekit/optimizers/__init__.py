"""Optimizers: one vectorized, in-place update over the model's flat buffer.

One formula a module: :mod:`.sgd`, :mod:`.adam` (Adam, AdamW), :mod:`.rmsprop`,
:mod:`.adagrad`, and the full-batch :mod:`.lbfgs` (scipy's L-BFGS-B), on the frame in :mod:`.base` (learning rate, clipping, state, config).

Conventions (see ARCHITECTURE.md): Adam is the paper's Algorithm 1, as in
PyTorch; SGD momentum is Keras' ``v = mu v - lr g; p += v``; RMSprop and
Adagrad put epsilon outside the square root, as PyTorch does. Defaults are
Keras'.
"""

from __future__ import annotations

from .. import schedules
from ..backend.kernels import CHUNK
from ..errors import ArgumentError, ArgumentTypeError, DensekitError
from ..registry import Registry
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .base import KERAS_RENAMED, Optimizer
from .lbfgs import LBFGS
from .rmsprop import RMSprop
from .sgd import SGD

#: the optimizers by name, in the order the docs list them
REGISTRY: Registry[Optimizer] = Registry("optimizer", Optimizer)
for _cls in (SGD, Adam, AdamW, RMSprop, Adagrad, LBFGS):
    REGISTRY.register(_cls.__name__.lower(), _cls)
del _cls

#: the optimizer classes by name (``"adam"``: :class:`Adam`)
OPTIMIZERS = {name: REGISTRY.get(name) for name in REGISTRY.names}
NAMES = REGISTRY.names


def get(identifier: str | dict | Optimizer) -> Optimizer:
    """Resolve 'adam', a config dict or an :class:`Optimizer` (a fresh one for names).

    Parameters
    ----------
    identifier
        A name (any case), ``{"name": ..., **parameters}`` as ``get_config()`` writes
        it (a schedule as its config), or an optimizer, returned as it is.

    Returns
    -------
    Optimizer

    Raises
    ------
    ArgumentTypeError
        If ``identifier`` is none of these.
    ArgumentError
        For an unknown name (the message lists :data:`NAMES`) or bad parameters.
    DensekitError
        Any other error of the optimizer's constructor, as it is.
    """
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str):
        identifier = {"name": identifier}
    if not isinstance(identifier, dict):
        raise ArgumentTypeError(
            f"optimizer must be a name or a densekit.optimizers object, got {identifier!r}"
        )
    params = dict(identifier)
    name = str(params.pop("name", "")).lower()
    cls = REGISTRY.get(name)
    if isinstance(params.get("learning_rate"), dict):
        params["learning_rate"] = schedules.from_config(params["learning_rate"])
    try:
        return cls(**params)
    except DensekitError:
        raise
    except TypeError as exc:
        raise ArgumentError(f"bad parameters for optimizer {name!r}: {exc}") from exc


__all__ = [
    "CHUNK",
    "KERAS_RENAMED",
    "NAMES",
    "OPTIMIZERS",
    "REGISTRY",
    "SGD",
    "Adagrad",
    "LBFGS",
    "Adam",
    "AdamW",
    "Optimizer",
    "RMSprop",
    "get",
]
