"""The kernels interface: every array routine a layer, a loss or an optimizer step calls.

Consumers ask for one kernels object when a model is built (:func:`densekit.backend.choice.for_backend`) and call
``kernels.adam_step(...)``, ``kernels.bias_activation(...)`` and the rest, never asking
which device they run on or what is installed. :class:`Kernels` is the reference: the
formulas as the docs write them, in in-place ufuncs on ``xp`` (NumPy, or CuPy for the
routines the GPU has no kernel of its own for). Beside it:

- :class:`~densekit.backend.numba_kernels.NumbaKernels`: the optimizer steps, ReLU and
  softmax after a bias, ReLU's derivative and the softmax cross-entropy, each one
  compiled pass (``DENSEKIT_KERNELS=numba``, the default when numba is installed);
- :class:`~densekit.backend.cupy_kernels.CupyKernels`: fused CUDA kernels on a GPU.

Each implementation gives the reference's results bit for bit, except where its own
docstring says otherwise (C's ``exp`` in numba's softmax; the GPU's arithmetic).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

#: elements per piece of a chunked update: the pieces of p, g, m, v and the scratch
#: (5 x 256 KiB in float32) stay in a core's L2 cache between the update's ufuncs
CHUNK = 1 << 16


class Kernels:
    """The reference kernels: in-place ufuncs on the array module ``xp``.

    Parameters
    ----------
    xp
        The array module the arrays belong to (``numpy``, or a CuPy-like module).
    """

    #: which implementation this is: 'numpy', 'numba' or 'cupy'
    name = "numpy"

    def __init__(self, xp: Any = np) -> None:
        self.xp = xp
        self._ones: dict[tuple, Any] = {}
        if type(self).matmul is Kernels.matmul:
            # the reference's product is xp.matmul itself: no Python frame in the hot loop
            self.matmul = xp.matmul

    # --- matrix products ----------------------------------------------------------
    def matmul(self, a: Any, b: Any, out: Any) -> Any:
        """``out = a @ b``.

        Parameters
        ----------
        a
        b
            The factors, 2-D (or ``a`` 1-D: a row vector).
        out
            Written with the product.

        Returns
        -------
        array
            ``out``.
        """
        return self.xp.matmul(a, b, out=out)

    def column_sums(self, a: Any, out: Any) -> Any:
        """``out = a.sum(axis=0)``, as ``1^T a``: BLAS sums the columns several times faster.

        Parameters
        ----------
        a
            A 2-D array, ``(rows, columns)``.
        out
            The ``(columns,)`` result, written.

        Returns
        -------
        array
            ``out``.
        """
        key = (a.shape[0], a.dtype)
        ones = self._ones.get(key)
        if ones is None:
            if len(self._ones) > 16:  # many batch sizes seen: start over
                self._ones.clear()
            ones = self._ones[key] = self.xp.ones(a.shape[0], dtype=a.dtype)
        return self.matmul(ones, a, out=out)

    # --- activations --------------------------------------------------------------
    def bias_activation(self, activation: Any, use_bias: bool) -> Callable[..., Any]:
        """The layer's forward step after its product: ``z += b; a = f(z)``.

        Parameters
        ----------
        activation
            ``f``.
        use_bias
            Whether there is a ``b`` to add.

        Returns
        -------
        callable
            ``forward(z, bias, out) -> a``: adds ``bias`` to ``z`` in place and returns
            ``f(z)``, written into ``out`` (an array shaped like ``z``) where it can be.
        """
        xp = self.xp
        writes_out = activation.writes_out

        def forward(z, bias, out):
            if use_bias:
                z += bias
            if writes_out:
                return activation.forward(xp, z, out=out)
            return activation.forward(xp, z)

        # an activation that makes its own result (or is z itself, linear) needs no ``out``:
        # the layer then skips that buffer (a kernel without the attribute gets one)
        forward.needs_out = writes_out
        return forward

    def activation_backward(self, activation: Any) -> Callable[..., Any]:
        """The backward step through the activation: ``dz = grad * f'(z)``.

        Parameters
        ----------
        activation
            ``f``.

        Returns
        -------
        callable
            ``backward(z, a, grad) -> dz``, given ``z`` and ``a = f(z)``; it may write
            over ``grad``.
        """
        xp = self.xp
        return lambda z, a, grad: activation.backward(xp, z, a, grad)

    # --- losses -------------------------------------------------------------------
    def cross_entropy_from_logits(self, loss: Any, y: Any, z: Any, p: Any) -> tuple[float, Any]:
        """Mean categorical cross-entropy of ``p = softmax(z)`` and its gradient in ``z``.

        ``l = mean_i sum_k y_ik (logsumexp(z_i) - z_ik)``;  ``dl/dz = (p sum_k y_k - y) / n``.
        The reference asks ``loss`` (``loss.mean_and_gradient_from_logits``).

        Parameters
        ----------
        loss
            The loss (a plain categorical or sparse categorical cross-entropy).
        y
        z
        p
            Targets (one-hot or probabilities), logits and ``softmax(z)``, ``(n, k)``.

        Returns
        -------
        (float, array)
            The mean loss and ``dl/dz``.
        """
        return loss.mean_and_gradient_from_logits(self.xp, y, z, p)

    # --- gradient clipping, in place ----------------------------------------------------
    def clip_values(self, grads: Any, limit: float) -> None:
        """``g = clip(g, -limit, limit)``, in place.

        Parameters
        ----------
        grads
            The gradient (or a part of it), overwritten.
        limit
            The largest magnitude an entry keeps.
        """
        self.xp.clip(grads, -limit, limit, out=grads)

    def scale_to_norm(self, grads: Any, max_norm: float) -> None:
        """``g *= min(1, max_norm / ||g||)``, in place: the L2 norm becomes at most ``max_norm``.

        Parameters
        ----------
        grads
            The gradient (or one weight's part of it), overwritten.
        max_norm
            The largest L2 norm it keeps.
        """
        xp = self.xp
        if xp is not np:  # on a device: no round trip to the host, scale by min(1, max/norm)
            norm = xp.sqrt((grads * grads).sum())
            grads *= xp.minimum(1.0, max_norm / xp.maximum(norm, np.finfo(grads.dtype).tiny))
            return
        flat = grads.ravel()  # a view: the gradient buffer is contiguous
        norm = math.sqrt(float(np.vdot(flat, flat)))  # sum g^2 without a squared copy of g
        if norm > max_norm:
            grads *= max_norm / norm

    # --- optimizer steps over the flat buffer, in place --------------------------------
    def chunk_size(self, size: int) -> int:
        """Elements the chunked steps update at once (a piece that stays in cache).

        Parameters
        ----------
        size
            The parameter count.

        Returns
        -------
        int
            At most :data:`CHUNK` on NumPy; ``size`` elsewhere (a GPU streams it whole).
        """
        return min(size, CHUNK) if self.xp is np else size

    def sgd_step(
        self,
        params: Any,
        grads: Any,
        velocity: Any,
        scratch: Any,
        lr: float,
        momentum: float,
        nesterov: bool,
    ) -> None:
        """SGD: ``p -= lr g``; with momentum (Keras') ``v = mu v - lr g; p += v``.

        Nesterov: ``p += mu v - lr g`` with the new ``v``.

        Parameters
        ----------
        params
        grads
            The flat parameters (updated) and gradients (may be overwritten).
        velocity
            ``v`` (updated); None without momentum.
        scratch
            Work array the size of ``params`` (Nesterov only).
        lr
        momentum
            ``lr`` and ``mu``.
        nesterov
            Whether to take Nesterov's look-ahead step.
        """
        grads *= lr
        if not momentum:
            params -= grads
            return
        velocity *= momentum
        velocity -= grads
        if nesterov:
            params -= grads
            params += self.xp.multiply(velocity, momentum, out=scratch)
        else:
            params += velocity

    def adam_step(
        self,
        params: Any,
        grads: Any,
        m: Any,
        v: Any,
        scratch: Any,
        lr: float,
        t: int,
        beta_1: float,
        beta_2: float,
        epsilon: float,
        weight_decay: float = 0.0,
    ) -> None:
        """Adam, Algorithm 1 of Kingma & Ba (as PyTorch); AdamW's decoupled decay first.

            p *= 1 - lr wd
            m = b1 m + (1 - b1) g          v = b2 v + (1 - b2) g^2
            p -= lr m_hat / (sqrt(v_hat) + eps),   m_hat = m / (1 - b1^t), v_hat = v / (1 - b2^t)

        computed in the paper's "more efficient" order (end of its section 2): with
        ``c = sqrt(1 - b2^t)``, ``lr m_hat / (sqrt(v_hat) + eps) = (lr c / (1 - b1^t)) m /
        (sqrt(v) + eps c)``; on NumPy one chunk at a time, so the temporaries stay in cache.

        Parameters
        ----------
        params
        grads
        m
        v
            The flat parameters and moments (updated) and the gradients.
        scratch
            Work array of :meth:`chunk_size` elements.
        lr
            The learning rate of this step.
        t
            The step number, from 1.
        beta_1
        beta_2
        epsilon
            The moments' decay rates and the denominator's epsilon.
        weight_decay
            AdamW's decoupled decay ``wd`` (0 for Adam).
        """
        correction = math.sqrt(1.0 - beta_2**t)
        step = lr * correction / (1.0 - beta_1**t)
        epsilon = epsilon * correction
        decay = 1.0 - lr * weight_decay
        if params.size <= scratch.size:  # a small model: the whole buffer at once, no views
            if weight_decay:
                params *= decay
            _adam(self.xp, params, grads, m, v, scratch, beta_1, beta_2, step, epsilon)
            return
        for start in range(0, params.size, scratch.size):
            part = slice(start, start + scratch.size)
            p = params[part]
            if weight_decay:
                p *= decay
            _adam(
                self.xp, p, grads[part], m[part], v[part], scratch[: p.size],
                beta_1, beta_2, step, epsilon,
            )  # fmt: skip

    def rmsprop_step(
        self,
        params: Any,
        grads: Any,
        v: Any,
        mean_grad: Any,
        velocity: Any,
        scratch: Any,
        lr: float,
        rho: float,
        momentum: float,
        epsilon: float,
    ) -> None:
        """RMSprop: ``v = rho v + (1 - rho) g^2;  p -= lr g / (sqrt(v) + eps)``.

        Centered (``mean_grad`` given): ``gm = rho gm + (1 - rho) g`` and ``sqrt(v - gm^2)``
        in the denominator; with momentum: ``u = mu u + lr g / (...); p -= u``.

        Parameters
        ----------
        params
        grads
        v
            The flat parameters and mean square (updated) and the gradients.
        mean_grad
        velocity
            The mean gradient (centered only) and ``u`` (momentum only), updated.
        scratch
            Work array the size of ``params``.
        lr
        rho
        momentum
        epsilon
            The step's hyperparameters.
        """
        xp, tmp = self.xp, scratch
        v *= rho
        xp.multiply(grads, grads, out=tmp)
        tmp *= 1.0 - rho
        v += tmp
        if mean_grad is not None:
            mean_grad *= rho
            mean_grad += xp.multiply(grads, 1.0 - rho, out=tmp)
            xp.multiply(mean_grad, mean_grad, out=tmp)
            xp.subtract(v, tmp, out=tmp)
            xp.sqrt(tmp, out=tmp)
        else:
            xp.sqrt(v, out=tmp)
        tmp += epsilon
        xp.divide(grads, tmp, out=tmp)
        tmp *= lr
        if velocity is not None:
            velocity *= momentum
            velocity += tmp
            params -= velocity
        else:
            params -= tmp

    def adagrad_step(
        self, params: Any, grads: Any, accumulator: Any, scratch: Any, lr: float, epsilon: float
    ) -> None:
        """Adagrad: ``acc += g^2;  p -= lr g / (sqrt(acc) + eps)``.

        Parameters
        ----------
        params
        grads
        accumulator
            The flat parameters and ``acc`` (updated) and the gradients.
        scratch
            Work array the size of ``params``.
        lr
        epsilon
            The learning rate and the denominator's epsilon.
        """
        xp, tmp = self.xp, scratch
        xp.multiply(grads, grads, out=tmp)
        accumulator += tmp
        xp.sqrt(accumulator, out=tmp)
        tmp += epsilon
        xp.divide(grads, tmp, out=tmp)
        tmp *= lr
        params -= tmp


def _adam(xp, p, g, m, v, tmp, beta_1, beta_2, step, epsilon) -> None:
    """Adam's update in place, with no temporaries.

    m += (1 - b1)(g - m);  v += (1 - b2)(g^2 - v);  p -= step * m / (sqrt(v) + epsilon)
    (``step`` and ``epsilon`` carry the bias corrections).
    """
    xp.subtract(g, m, out=tmp)
    tmp *= 1.0 - beta_1
    m += tmp
    xp.multiply(g, g, out=tmp)
    tmp -= v
    tmp *= 1.0 - beta_2
    v += tmp
    xp.sqrt(v, out=tmp)
    tmp += epsilon
    xp.divide(m, tmp, out=tmp)
    tmp *= step
    p -= tmp


NUMPY = Kernels(np)

_REFERENCE: dict[int, Kernels] = {id(np): NUMPY}


def reference(xp: Any) -> Kernels:
    """The reference kernels on the array module ``xp`` (one object per module).

    Parameters
    ----------
    xp
        ``numpy`` or a CuPy-like module.

    Returns
    -------
    Kernels
    """
    found = _REFERENCE.get(id(xp))
    if found is None:
        found = _REFERENCE[id(xp)] = Kernels(xp)
    return found
