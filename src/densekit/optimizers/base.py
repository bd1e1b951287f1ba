"""The optimizer's frame: learning rate, clipping, the step counter, state and config.

Each optimizer keeps its state (moments, velocities) as flat arrays the size of the
parameter buffer, so a step is one kernel call over the whole buffer
(:mod:`densekit.backend.kernels`: in-place ufuncs on NumPy, one compiled pass with numba,
one fused kernel on a GPU) with no Python loop over layers, and checkpoints hold the
state as plain arrays. The subclasses in this package each hold one update formula.
"""

from __future__ import annotations

from typing import Any

from .. import schedules
from ..backend import choice as kernel_choice
from ..backend import kernels as kernels_module
from ..errors import ArgumentError
from ..validation import check_number, refuse_unknown

#: Keras 2 arguments the optimizers know under another name
KERAS_RENAMED = {"lr": "is Keras 2's name: use learning_rate="}


def _positive_or_none(name: str, value: Any) -> float | None:
    return None if value is None else check_number(name, value, 0.0, open_low=True)


class Optimizer:
    """Learning rate (a number or a schedule), clipping, the step counter and state.

    Parameters
    ----------
    learning_rate
        The step size, or a schedule evaluated at :attr:`iterations`.
    clipnorm
        Each weight's gradient is scaled to at most this L2 norm.
    clipvalue
        Each gradient entry is clipped to ``[-clipvalue, clipvalue]``.
    global_clipnorm
        The whole gradient is scaled to at most this L2 norm.
    **unknown
        Refused: only here to name Keras 2's arguments in the error.

    Raises
    ------
    ArgumentError
        For an unknown keyword (Keras 2's ``lr`` says to use ``learning_rate``) or a
        value out of range.
    """

    #: names of the flat state arrays, in save order
    slots: tuple[str, ...] = ()

    def __init__(
        self,
        learning_rate: float | schedules.LearningRateSchedule = 1e-3,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
        **unknown: Any,
    ):
        refuse_unknown(type(self).__name__, unknown, KERAS_RENAMED)
        self.learning_rate = learning_rate
        self.clipnorm = _positive_or_none("clipnorm", clipnorm)
        self.clipvalue = _positive_or_none("clipvalue", clipvalue)
        self.global_clipnorm = _positive_or_none("global_clipnorm", global_clipnorm)
        self.iterations = 0
        self.state: dict[str, Any] = {}
        self.slices: list[slice] = []
        #: the kernels the update runs on (:mod:`densekit.backend.kernels`), chosen by build
        self.ops: kernels_module.Kernels | None = None

    # --- the learning rate ------------------------------------------------------
    @property
    def learning_rate(self) -> float:
        """The rate for the next step (a schedule is evaluated at ``iterations``)."""
        if isinstance(self._learning_rate, schedules.LearningRateSchedule):
            return float(self._learning_rate(self.iterations))
        return self._learning_rate

    @learning_rate.setter
    def learning_rate(self, value) -> None:
        if isinstance(value, schedules.LearningRateSchedule):
            self._learning_rate = value
        else:
            self._learning_rate = check_number("learning_rate", value, 0.0, open_low=True)

    @property
    def schedule(self) -> schedules.LearningRateSchedule | None:
        """The schedule that sets the rate at each step, or None for a constant rate."""
        rate = self._learning_rate
        return rate if isinstance(rate, schedules.LearningRateSchedule) else None

    # --- the step ---------------------------------------------------------------
    def build(self, params: Any, slices: list[slice], backend: Any = None) -> None:
        """Allocate state like ``params`` and choose the kernels the update runs on.

        Parameters
        ----------
        params
            The model's flat parameter buffer.
        slices
            Each weight's part of ``params`` (for per-weight clipping).
        backend
            The model's: brings its kernels (a GPU's fused ones; on the CPU numba's or
            NumPy's, as ``DENSEKIT_KERNELS`` says).
        """
        self.ops = kernel_choice.for_backend(backend, params)
        xp = self.ops.xp
        self.slices = list(slices)
        self.state = {name: xp.zeros_like(params) for name in self.slots}
        self.iterations = 0
        size = int(params.size)
        scratch = self._scratch_size(size)
        self._scratch = (
            xp.empty_like(params) if scratch == size else xp.empty(scratch, dtype=params.dtype)
        )

    def use_kernels(self, ops: kernels_module.Kernels, params: Any) -> None:
        """Run the update on ``ops`` from now on; the state (moments, step count) stays.

        Parameters
        ----------
        ops
            Kernels for the same array module, e.g. the compiled CPU ones a large fit
            moves to (:meth:`densekit.Sequential.choose_kernels`).
        params
            The flat parameter buffer the optimizer was built for.
        """
        self.ops = ops
        scratch = self._scratch_size(int(params.size))
        if self._scratch.size != scratch:
            self._scratch = ops.xp.empty(scratch, dtype=params.dtype)

    def _scratch_size(self, size: int) -> int:
        """Elements of work array the update needs (``size``: the parameter count)."""
        return size

    def apply_gradients(self, params: Any, grads: Any) -> None:
        """One update of ``params`` in place from ``grads`` (which may be clipped in place).

        Parameters
        ----------
        params
            The flat parameter buffer the optimizer was built for.
        grads
            Its gradient, same shape; clipping and the update may overwrite it.

        Raises
        ------
        ArgumentError
            If the optimizer was not built.
        """
        if not self.state and self.slots:
            raise ArgumentError("optimizer was not built: compile the model first")
        if self.ops is None:  # a stateless update (plain SGD) runs unbuilt, as it always has
            self.build(params, [])
        self._clip(grads)
        self._update(params, grads, self.learning_rate, self.iterations + 1)
        self.iterations += 1

    def _update(self, params, grads, lr: float, t: int) -> None:
        raise NotImplementedError

    def _clip(self, grads) -> None:
        ops = self.ops
        if self.clipvalue is not None:
            ops.clip_values(grads, self.clipvalue)
        if self.clipnorm is not None:
            for part in self.slices:
                ops.scale_to_norm(grads[part], self.clipnorm)
        if self.global_clipnorm is not None:
            ops.scale_to_norm(grads, self.global_clipnorm)

    # --- saving -----------------------------------------------------------------
    def get_config(self) -> dict:
        """The optimizer as ``{"name": ..., "learning_rate": ..., **hyperparameters}``.

        Returns
        -------
        dict
            What :func:`densekit.optimizers.get` takes back (a schedule as its config).
        """
        rate = self._learning_rate
        config = {
            "name": type(self).__name__,
            "learning_rate": rate.get_config()
            if isinstance(rate, schedules.LearningRateSchedule)
            else rate,
        }
        for key in ("clipnorm", "clipvalue", "global_clipnorm"):
            if getattr(self, key) is not None:
                config[key] = getattr(self, key)
        config.update(self._hyperparameters())
        return config

    def _hyperparameters(self) -> dict:
        return {}
