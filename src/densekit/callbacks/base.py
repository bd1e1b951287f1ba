"""The callback protocol: :class:`Callback`, :class:`CallbackList`, :class:`History`.

And :func:`check_callbacks`, which checks ``fit``'s ``callbacks`` argument.

Subclass :class:`Callback` and override what you need. Each callback resets its state in
``on_train_begin``, so one instance can serve several ``fit`` calls.
"""

from __future__ import annotations

from typing import Any

from ..errors import ArgumentError, ArgumentTypeError


class Callback:
    """The protocol: every hook receives ``logs``, a dict of the latest metrics."""

    def __init__(self):
        self.model = None
        self.params: dict = {}

    def set_model(self, model: Any) -> None:
        """Attach the model being trained: hooks reach it as ``self.model``.

        Parameters
        ----------
        model
            The :class:`~densekit.Sequential` that ``fit`` trains.
        """
        self.model = model

    def set_params(self, params: dict) -> None:
        """Record ``fit``'s settings.

        Parameters
        ----------
        params
            ``{"epochs": ..., "steps": ..., "verbose": ...}``, as Keras passes them.
        """
        self.params = params

    def on_train_begin(self, logs: dict | None = None) -> None:
        """Called once when ``fit`` starts: reset any state here.

        Parameters
        ----------
        logs
            The latest metrics (``{"loss": ..., "val_loss": ...}``); None where there are none.
        """

    def on_train_end(self, logs: dict | None = None) -> None:
        """Called once when ``fit`` ends, stopped early or not.

        Parameters
        ----------
        logs
            The latest metrics (``{"loss": ..., "val_loss": ...}``); None where there are none.
        """

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        """Called at the start of each epoch.

        Parameters
        ----------
        epoch
            The epoch's index, from 0.
        logs
            The latest metrics (``{"loss": ..., "val_loss": ...}``); None where there are none.
        """

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        """Called at the end of each epoch, after validation; set ``model.stop_training`` to stop.

        Parameters
        ----------
        epoch
            The epoch's index, from 0.
        logs
            The latest metrics (``{"loss": ..., "val_loss": ...}``); None where there are none.
        """

    def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        """Called before each training step.

        Parameters
        ----------
        batch
            The batch's index within the epoch, from 0.
        logs
            The latest metrics (``{"loss": ..., "val_loss": ...}``); None where there are none.
        """

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        """Called after each training step; ``logs["loss"]`` is that batch's loss.

        Parameters
        ----------
        batch
            The batch's index within the epoch, from 0.
        logs
            The latest metrics (``{"loss": ..., "val_loss": ...}``); None where there are none.
        """


def check_callbacks(callbacks: Any, refuse: dict[type, str] | None = None) -> list[Callback]:
    """``callbacks`` as a list of :class:`Callback`, checked.

    Parameters
    ----------
    callbacks
        A list or tuple of callbacks, or None for none.
    refuse
        Callback types the training loop cannot honour, each mapped to the reason why.

    Returns
    -------
    list of Callback
        The callbacks.

    Raises
    ------
    ArgumentTypeError
        If ``callbacks`` is not a list or tuple.
    ArgumentError
        If an item is not a :class:`Callback`, or is of a refused type.
    """
    if callbacks is None:
        return []
    if not isinstance(callbacks, (list, tuple)):
        raise ArgumentTypeError(f"callbacks must be a list of callbacks, got {callbacks!r}")
    for callback in callbacks:
        _check_is_callback(callback)
        for kind, reason in (refuse or {}).items():
            if isinstance(callback, kind):
                raise ArgumentError(f"{type(callback).__name__} cannot be used here: {reason}")
    return list(callbacks)


def _check_is_callback(callback: Any) -> None:
    if not isinstance(callback, Callback):
        raise ArgumentError(
            f"callbacks must be densekit.callbacks.Callback objects, got {callback!r}"
        )


class CallbackList:
    """Calls each hook on every callback, in order.

    Callbacks marked ``runs_last`` (BackupAndRestore) go to the end, so a backup
    taken at the end of an epoch holds what every other callback changed then.

    Parameters
    ----------
    callbacks
        The callbacks to call.
    model
        The model they are attached to.
    """

    def __init__(self, callbacks: list[Callback], model: Any):
        for callback in callbacks:
            _check_is_callback(callback)
        for callback in callbacks:
            callback.set_model(model)
        self.callbacks = sorted(callbacks, key=lambda c: getattr(c, "runs_last", False))

    def set_params(self, params: dict) -> None:
        """Pass ``fit``'s settings to every callback.

        Parameters
        ----------
        params
            ``{"epochs": ..., "steps": ..., "verbose": ...}``.
        """
        for callback in self.callbacks:
            callback.set_params(params)

    def __getattr__(self, hook: str):
        if not hook.startswith("on_"):
            raise AttributeError(hook)

        def call_all(*args):
            for callback in self.callbacks:
                getattr(callback, hook)(*args)

        return call_all


class History(Callback):
    """Records every epoch's logs: ``history.history["loss"]`` is a list per epoch."""

    def on_train_begin(self, logs=None):
        """Start a fresh record."""
        self.epoch: list[int] = []
        self.history: dict[str, list[float]] = {}

    def on_epoch_end(self, epoch, logs=None):
        """Append the epoch and each of its metrics."""
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)
