"""L-BFGS: a full-batch quasi-Newton method, scipy's L-BFGS-B over the flat parameter buffer.

The other optimizers take one step per minibatch from that batch's gradient. L-BFGS
instead minimizes the loss over *all* rows: each evaluation is a full forward and
backward pass, and the method builds a curvature estimate from the last
``history_size`` gradient differences, searching along ``-H g`` with a line search
(Nocedal & Wright, *Numerical Optimization*, Algorithm 7.5). For small data sets and
small networks it usually reaches a lower loss in less time than Adam or SGD; it is
scikit-learn's ``MLPClassifier(solver="lbfgs")``.

Because a densekit model keeps every trainable weight in one contiguous array, the
vector scipy optimizes *is* that array: each evaluation writes scipy's point into the
buffer (the layers' weights are views of it, so nothing else is copied), runs the
model's backprop, and hands scipy a float64 copy of the flat gradient.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..backend import threads as threads_module
from ..errors import ArgumentError, MissingDependencyError, require
from ..validation import check_number
from .base import Optimizer


class _Stop(Exception):
    """Raised by the iteration callback to end the minimization early."""


class LBFGS(Optimizer):
    """Full-batch L-BFGS (scipy's L-BFGS-B) over the model's flat parameter buffer.

    ``Sequential.fit`` with this optimizer treats each L-BFGS iteration as an epoch:
    ``epochs`` is the iteration limit, the loss and its gradient are computed over all
    rows at once (``batch_size`` and ``shuffle`` are not used), callbacks hear of each
    iteration, and a callback setting ``model.stop_training`` ends the run. It stops on
    its own when the largest gradient entry falls to ``tol``, when the loss changes by
    less than ``ftol`` (relatively), or after ``max_fun`` loss evaluations.

    Parameters
    ----------
    max_fun
        The most loss-and-gradient evaluations (scikit-learn's ``max_fun``).
    tol
        Stop when ``max |g_i| <= tol`` (scipy's ``gtol``; scikit-learn passes its
        ``tol`` here).
    ftol
        Stop when ``(f_k - f_{k+1}) / max(|f_k|, |f_{k+1}|, 1) <= ftol`` (scipy's default).
    history_size
        The number of gradient differences kept for the curvature estimate (scipy's
        ``maxcor``).
    max_line_search
        The most evaluations in one line search (scipy's ``maxls``).
    **unknown
        Refused (Keras 2's ``lr`` is named in the error).

    Raises
    ------
    ArgumentError
        If a setting is out of range.

    Notes
    -----
    scipy works in float64: a float32 model's weights are rounded to float32 at each
    evaluation, so its gradient is that of a point within float32 rounding of scipy's.
    float64 models get the exact method. Memory: one full-batch forward pass, plus
    ``2 * history_size`` float64 vectors the size of the buffer inside scipy.

    Examples
    --------
    >>> import numpy as np, densekit as dk
    >>> x = np.linspace(-1, 1, 40).reshape(-1, 1)
    >>> model = dk.Sequential([dk.layers.Dense(1, input_dim=1)], dtype="float64", seed=0)
    >>> model.compile(dk.optimizers.LBFGS(), "mse")
    >>> _ = model.fit(x, 3 * x + 1, epochs=50, verbose=0)
    >>> np.round(model.get_weights()[0].ravel(), 3)
    array([3.])
    """

    full_batch = True  #: fit computes the loss over all rows and calls :meth:`minimize`

    def __init__(
        self,
        max_fun: int = 15000,
        tol: float = 1e-5,
        ftol: float = 2.220446049250313e-09,
        history_size: int = 10,
        max_line_search: int = 20,
        **unknown: Any,
    ):
        super().__init__(learning_rate=1.0, **unknown)  # refuses Keras 2's lr=, naming the fix
        self.max_fun = _positive_int("max_fun", max_fun)
        self.tol = check_number("tol", tol, 0.0)
        self.ftol = check_number("ftol", ftol, 0.0)
        self.history_size = _positive_int("history_size", history_size)
        self.max_line_search = _positive_int("max_line_search", max_line_search)
        #: evaluations of the loss and gradient in the last :meth:`minimize`
        self.evaluations = 0

    def minimize(
        self,
        params: Any,
        loss_and_gradient: Callable[[], tuple[float, Any]],
        max_iter: int,
        callback: Callable[[int, float], None] | None = None,
    ) -> Any:
        """Minimize the loss over ``params`` in place; returns scipy's ``OptimizeResult``.

        Parameters
        ----------
        params
            The model's flat parameter buffer; it ends holding the best point found.
        loss_and_gradient
            ``() -> (loss, grad)`` at the point ``params`` holds now; ``grad`` is the
            flat gradient buffer (read at once, before the next call).
        max_iter
            The most L-BFGS iterations.
        callback
            ``callback(iteration, loss)`` after each iteration (iteration counts from 0);
            raising :class:`StopIteration` from it ends the run at that point.

        Returns
        -------
        scipy.optimize.OptimizeResult
            ``x`` (float64), ``fun``, ``nit``, ``nfev``, ``status``, ``message``,
            ``success``.

        Raises
        ------
        ArgumentError
            If ``max_iter`` is below 1.
        """
        optimize = require("scipy.optimize", "sklearn", "densekit.optimizers.LBFGS")
        max_iter = _positive_int("max_iter", max_iter)
        self.evaluations = 0
        last = {"loss": np.nan, "x": None}

        xp = self.ops.xp if self.ops is not None else np  # the buffer's array module

        # scipy's own work (dot products and a 2m x 2m system on buffer-sized vectors) runs
        # on one BLAS thread: measured on a shared 2-core machine, its calls took 6 ms each
        # on two threads against microseconds on one; the loss and gradient get the count
        # the caller chose
        one_thread = [_one_blas_thread()]

        def fun(point: np.ndarray) -> tuple[float, np.ndarray]:
            one_thread[0]()  # the caller's thread count for the model's products
            try:
                params[...] = xp.asarray(point)  # into the buffer the layers' weights view
                loss, grad = loss_and_gradient()
            finally:
                one_thread[0] = _one_blas_thread()
            self.evaluations += 1
            last["loss"] = float(loss)
            return float(loss), _host_float64(grad)  # the one copy scipy keeps

        iteration = [0]

        def on_iteration(point: np.ndarray) -> None:
            last["x"] = point
            if callback is not None:
                one_thread[0]()  # callbacks (a validation pass) get the caller's count too
                try:
                    callback(iteration[0], last["loss"])
                except StopIteration:
                    raise _Stop from None
                finally:
                    one_thread[0] = _one_blas_thread()
            iteration[0] += 1

        start = _host_float64(params)
        options = {
            "maxfun": self.max_fun,
            "maxiter": max_iter,
            "gtol": self.tol,
            "ftol": self.ftol,
            "maxcor": self.history_size,
            "maxls": self.max_line_search,
        }
        try:
            result = optimize.minimize(
                fun, start, jac=True, method="L-BFGS-B", callback=on_iteration, options=options
            )
        except _Stop:
            one_thread[0]()
            one_thread[0] = _nothing
            stopped = np.array(last["x"], dtype=np.float64)
            params[...] = xp.asarray(stopped)
            loss = float(loss_and_gradient()[0])
            result = optimize.OptimizeResult(
                x=stopped,
                fun=loss,
                nit=iteration[0] + 1,
                nfev=self.evaluations,
                status=0,
                success=True,
                message="stopped by a callback",
            )
        finally:
            one_thread[0]()
        params[...] = xp.asarray(result.x)
        self.iterations += int(result.nit)
        return result

    def apply_gradients(self, params: Any, grads: Any) -> None:
        """Refused: L-BFGS does not step from one batch's gradient.

        Parameters
        ----------
        params
            The flat parameter buffer.
        grads
            Its gradient.

        Raises
        ------
        ArgumentError
            Always; the message says to use ``fit`` (full batch) or :meth:`minimize`.
        """
        raise ArgumentError(
            "LBFGS is a full-batch method and takes no per-batch step (train_on_batch, "
            "custom loops, distributed runners): use model.fit(x, y, epochs=max_iter), "
            "which minimizes the loss over all rows, or LBFGS.minimize(params, "
            "loss_and_gradient, max_iter); for minibatch training compile with 'adam' or 'sgd'"
        )

    def get_config(self) -> dict:
        """The optimizer as ``{"name": "LBFGS", **settings}``.

        Returns
        -------
        dict
            What :func:`densekit.optimizers.get` takes back.
        """
        return {
            "name": "LBFGS",
            "max_fun": self.max_fun,
            "tol": self.tol,
            "ftol": self.ftol,
            "history_size": self.history_size,
            "max_line_search": self.max_line_search,
        }


def _nothing() -> None:
    return None


def _one_blas_thread() -> Callable[[], None]:
    """BLAS on one thread until the returned function restores it (no-op without threadpoolctl)."""
    try:
        return threads_module.limit(1)
    except MissingDependencyError:
        return _nothing


def _host_float64(array: Any) -> np.ndarray:
    """A new float64 NumPy copy of ``array`` (from the GPU too), what scipy works on."""
    return np.array(array.get() if hasattr(array, "get") else array, dtype=np.float64)


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ArgumentError(f"{name} must be an integer >= 1, got {value!r}")
    return int(value)
