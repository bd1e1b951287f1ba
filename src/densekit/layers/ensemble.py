"""BatchEnsemble: k dense layers that share one kernel (TabM's efficient ensemble).

Member ``i`` of ``k`` computes, with the shared kernel ``W`` ``(n, m)`` and its own
vectors ``r_i`` ``(n,)``, ``s_i`` ``(m,)`` and bias ``b_i`` ``(m,)``:

    forward   U_i = X_i * r_i      T_i = U_i @ W      Z_i = T_i * s_i + b_i      A_i = f(Z_i)
    backward  dZ_i = dA_i * f'(Z_i)       db_i = sum_rows dZ_i       ds_i = sum_rows dZ_i * T_i
              dT_i = dZ_i * s_i           dW = sum_i U_i.T @ dT_i    dU_i = dT_i @ W.T
              dr_i = sum_rows dU_i * X_i  dX_i = dU_i * r_i

(Wen, Tran & Ba, "BatchEnsemble", 2020; Gorishniy et al., "TabM", 2025.) The members
sit side by side in the feature axis, so the layer keeps densekit's 2-D contract: its
input is ``(batch, k * n)`` (member ``i``'s features in columns ``i*n .. i*n + n``) and
its output ``(batch, k * m)``. With ``shared_input=True`` the input is one ``(batch, n)``
that every member reads (the first layer of an ensemble). All k members' products are one
``(batch * k, n) @ (n, m)`` matrix product: the cost of one wide layer, the parameters of
one layer plus ``k * (n + 2 m)``.

End a network with a ``BatchEnsembleDense(outputs, k)`` head and train it with
:class:`densekit.losses.MemberMean`, which gives each member its own loss (as TabM
does) and whose :meth:`~densekit.losses.MemberMean.average` averages the members'
predictions.
"""

from __future__ import annotations

from typing import Any

from .. import activations, initializers
from ..errors import ArgumentError, ArgumentTypeError
from ..validation import check_positive_int
from .base import Layer, WeightSpec


class BatchEnsembleDense(Layer):
    """``k`` dense layers sharing one kernel, each with its own input and output scales and bias.

    Parameters
    ----------
    units
        ``m``, each member's output width; the layer outputs ``k * m`` columns.
    members
        ``k``, the number of ensemble members (TabM uses 32).
    activation
        Applied to each member's output, as in :class:`Dense`.
    shared_input
        True when the input is one ``(batch, n)`` for all members (the first layer);
        False when it is ``(batch, k * n)``, one block per member.
    kernel_initializer
        The shared kernel's initializer.
    adapter_initializer
        ``r`` 's initializer (``"random_sign"`` makes the members differ from the
        start, TabM's choice for the first layer; ``"ones"`` is plain BatchEnsemble).
    scale_initializer
        ``s`` 's initializer.
    bias_initializer
        The biases' initializer.
    input_dim
        The input width (``n``, or ``k * n`` without ``shared_input``), to build at once.
    name
        The layer's name; None lets the model name it.

    Raises
    ------
    ArgumentError
        If ``units`` or ``members`` is not a positive integer, or an initializer or the
        activation is unknown.
    ArgumentTypeError
        If ``shared_input`` is not a bool.
    """

    def __init__(
        self,
        units: int,
        members: int = 8,
        activation: str | activations.Activation | None = None,
        shared_input: bool = False,
        kernel_initializer: str | initializers.Initializer = "glorot_uniform",
        adapter_initializer: str | initializers.Initializer = "ones",
        scale_initializer: str | initializers.Initializer = "ones",
        bias_initializer: str | initializers.Initializer = "zeros",
        input_dim: int | None = None,
        name: str | None = None,
    ):
        super().__init__(name)
        self.units = check_positive_int("units", units)
        self.members = check_positive_int("members", members)
        self.activation = activations.get(activation)
        if self.activation.name == "softmax":
            raise ArgumentError(
                "BatchEnsembleDense cannot apply softmax (it would mix the members' outputs): "
                "end with activation=None and train with losses.MemberMean(from_logits loss)"
            )
        if not isinstance(shared_input, bool):
            raise ArgumentTypeError(f"shared_input must be True or False, got {shared_input!r}")
        self.shared_input = shared_input
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.adapter_initializer = initializers.get(adapter_initializer)
        self.scale_initializer = initializers.get(scale_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.declared_input_dim = (
            None if input_dim is None else check_positive_int("input_dim", input_dim)
        )

    def build(self, input_dim: int) -> int:
        """Fix the input width; the output width is ``members * units``.

        Parameters
        ----------
        input_dim
            ``n`` with ``shared_input``, else ``members * n``.

        Returns
        -------
        int
            ``members * units``.

        Raises
        ------
        ArgumentError
            Without ``shared_input``, if ``input_dim`` is not a multiple of ``members``.
        """
        input_dim = int(input_dim)
        if not self.shared_input and input_dim % self.members:
            raise ArgumentError(
                f"BatchEnsembleDense with members={self.members} needs an input width that is "
                f"a multiple of {self.members} (one block per member), got {input_dim}; "
                "for the first layer use shared_input=True"
            )
        self.input_dim = input_dim
        self.features = input_dim if self.shared_input else input_dim // self.members
        self.output_dim = self.members * self.units
        return self.output_dim

    def weight_specs(self) -> list[WeightSpec]:
        """The shared kernel ``(n, m)``, then ``r`` ``(k, n)``, ``s`` ``(k, m)``, bias ``(k, m)``."""
        k, n, m = self.members, self.features, self.units
        return [
            WeightSpec("kernel", (n, m), self.kernel_initializer),
            WeightSpec("adapter", (k, n), self.adapter_initializer),
            WeightSpec("scale", (k, m), self.scale_initializer),
            WeightSpec("bias", (k, m), self.bias_initializer),
        ]

    def forward(self, x: Any, training: bool) -> Any:
        """``A_i = f(((X_i * r_i) @ W) * s_i + b_i)`` for every member, one matrix product."""
        xp = self.backend.xp
        w = self.weights
        batch, k, n, m = x.shape[0], self.members, self.features, self.units
        x3 = x.reshape(batch, 1 if self.shared_input else k, n)
        u = self.buffer("u", (batch, k, n), x.dtype)
        xp.multiply(x3, w["adapter"], out=u)
        t = self.buffer("t", (batch * k, m), x.dtype)
        xp.matmul(u.reshape(batch * k, n), w["kernel"], out=t)
        t3 = t.reshape(batch, k, m)
        z = self.buffer("z", (batch, k, m), x.dtype)
        xp.multiply(t3, w["scale"], out=z)
        z += w["bias"]
        z2 = z.reshape(batch, k * m)
        if self.activation.name == "linear":
            a = z2
        elif self.activation.writes_out:
            a = self.activation.forward(xp, z2, out=self.buffer("a", z2.shape, x.dtype))
        else:
            a = self.activation.forward(xp, z2)
        self._x3, self._u, self._t, self._z, self._a = x3, u, t3, z2, a
        return a

    @property
    def pre_activation(self) -> Any:
        """``Z`` of the last forward pass, ``(batch, k * m)``: the logits a fused loss reads."""
        return self._z

    def backward(self, grad: Any, need_input_grad: bool = True, through_activation: bool = True):
        """The gradients of ``W``, ``r``, ``s`` and ``b`` (module docstring), and ``dL/dX``."""
        xp = self.backend.xp
        batch, k, n, m = self._x3.shape[0], self.members, self.features, self.units
        if through_activation:
            grad = self.activation.backward(xp, self._z, self._a, grad)
        dz = grad.reshape(batch, k, m)
        g, w = self.grads, self.weights
        xp.sum(dz, axis=0, out=g["bias"])
        work = self.buffer("work", (batch, k, m), dz.dtype)
        xp.multiply(dz, self._t, out=work)
        xp.sum(work, axis=0, out=g["scale"])
        dt = xp.multiply(dz, w["scale"], out=work)
        xp.matmul(self._u.reshape(batch * k, n).T, dt.reshape(batch * k, m), out=g["kernel"])
        du = self.buffer("du", (batch * k, n), dz.dtype)
        xp.matmul(dt.reshape(batch * k, m), w["kernel"].T, out=du)
        du = du.reshape(batch, k, n)
        product = self.buffer("product", (batch, k, n), dz.dtype)
        xp.multiply(du, self._x3, out=product)
        xp.sum(product, axis=0, out=g["adapter"])
        if not need_input_grad:
            return None
        dx = xp.multiply(du, w["adapter"], out=product)
        if self.shared_input:
            return dx.sum(axis=1)
        return dx.reshape(batch, k * n)

    def get_config(self) -> dict:
        """The constructor's arguments, as JSON."""
        return {
            "name": self.name,
            "units": self.units,
            "members": self.members,
            "activation": self.activation.get_config(),
            "shared_input": self.shared_input,
            "kernel_initializer": self.kernel_initializer.get_config(),
            "adapter_initializer": self.adapter_initializer.get_config(),
            "scale_initializer": self.scale_initializer.get_config(),
            "bias_initializer": self.bias_initializer.get_config(),
            "input_dim": self.declared_input_dim,
        }
