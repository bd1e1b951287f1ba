"""Exceptions raised by densekit.

Every error a user can cause is a :class:`DensekitError`, and also a
``ValueError`` or ``TypeError`` so that code written for NumPy or
scikit-learn catches it as it expects. Messages name what was given and
what was expected.
"""

from __future__ import annotations

from types import ModuleType


class DensekitError(Exception):
    """Base class of every error densekit raises on purpose."""


class InputError(DensekitError, ValueError):
    """Data given to a public entry point is malformed (shape, dtype, NaN, labels)."""


class ArgumentError(DensekitError, ValueError):
    """An argument is out of range or an unknown name (activation, loss, optimizer)."""


class ArgumentTypeError(DensekitError, TypeError):
    """An argument has the wrong type."""


class NotBuiltError(DensekitError, ValueError):
    """The model has no weights yet: give ``input_dim`` or call ``fit`` first."""


class NotCompiledError(DensekitError, ValueError):
    """``fit``/``evaluate`` was called before ``compile``."""


class ModelFileError(DensekitError, ValueError):
    """A model file is truncated, corrupted, foreign or of an unsupported version."""


class TrainingError(DensekitError, ValueError):
    """Training could not go on (for example the loss became NaN or infinite)."""


class MissingDependencyError(DensekitError, ImportError):
    """An optional dependency is needed for this feature; the message names the extra."""


def require(module_name: str, extra: str, feature: str) -> ModuleType:
    """Import an optional dependency or say which extra installs it.

    Parameters
    ----------
    module_name
        The module to import (``"onnx"``, ``"sklearn"``).
    extra
        The densekit extra that installs it (``pip install 'densekit[extra]'``).
    feature
        What needs it, as the error message says it.

    Returns
    -------
    module
        The imported module.

    Raises
    ------
    MissingDependencyError
        If the module cannot be imported; the message names the extra.
    """
    import importlib

    try:
        return importlib.import_module(module_name)
    except ImportError as exc:
        raise MissingDependencyError(
            f"{feature} needs the optional dependency '{module_name}': "
            f"pip install 'densekit[{extra}]'"
        ) from exc
