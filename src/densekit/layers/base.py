"""The layer contract every layer keeps.

A layer declares its weights (:class:`WeightSpec`) once it knows its input
width; the model allocates one flat buffer for all of them and hands each
layer views (``bind``). ``forward(x, training)`` keeps what ``backward``
needs; ``backward(grad)`` writes the weight gradients into the gradient views
and returns ``dL/dx``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..backend import CPU, Backend
from ..errors import ArgumentError, InputError, NotBuiltError
from ..initializers import Initializer
from ..regularizers import Regularizer


@dataclass(frozen=True)
class WeightSpec:
    """One named weight: its shape, how to initialize it, whether training changes it.

    Attributes
    ----------
    name
        The weight's name within its layer (``"kernel"``, ``"moving_mean"``).
    shape
        Its shape (``(n, m)`` for a kernel).
    initializer
        What fills it when the model is built.
    trainable
        Whether the optimizer updates it (moving statistics are not trainable).
    regularizer
        A penalty added to the loss, or None.
    """

    name: str
    shape: tuple[int, ...]
    initializer: Initializer
    trainable: bool = True
    regularizer: Regularizer | None = None

    @property
    def size(self) -> int:
        """The number of entries, ``prod(shape)``."""
        return int(np.prod(self.shape, dtype=np.int64))


class Layer:
    """Base class: the names and bookkeeping; subclasses hold the math.

    Parameters
    ----------
    name
        The layer's name; None lets the model name it (``dense``, ``dense_1``, ...).

    Raises
    ------
    ArgumentError
        If ``name`` is given but is not a non-empty string.
    """

    def __init__(self, name: str | None = None):
        if name is not None and (not isinstance(name, str) or not name):
            raise ArgumentError(f"layer name must be a non-empty string, got {name!r}")
        self.name = name
        self.input_dim: int | None = None
        self.output_dim: int | None = None
        self.backend: Backend = CPU
        self.rng: np.random.Generator | None = None
        self.weights: dict[str, Any] = {}
        self.grads: dict[str, Any] = {}
        self._buffers: dict[tuple[str, tuple], Any] = {}
        #: a weak reference to the model this layer is in, set by ``Sequential.add``: the
        #: layer holds views of that model's weights, so it can be in one model only
        self.owner: Any = None  # a weak reference to the model that holds the layer
        self._trainable = True

    @property
    def trainable(self) -> bool:
        """Whether training updates this layer's weights (Keras' ``layer.trainable``).

        ``layer.trainable = False`` freezes the layer: its weights move out of the
        model's flat trainable buffer into the non-trainable one, so the optimizer's one
        update over that buffer never touches them, no gradient is computed for them,
        and ``summary()`` counts them as non-trainable. A frozen BatchNormalization also
        runs in inference mode (its moving statistics stay), as in Keras. Changing it on
        a built model lays the buffers out again, keeping every weight; the optimizer's
        state starts afresh (Keras asks for ``compile()`` again).
        """
        return getattr(self, "_trainable", True)

    @trainable.setter
    def trainable(self, value: bool) -> None:
        if not isinstance(value, (bool, np.bool_)):
            raise ArgumentError(
                f"layer {self.name!r}: trainable must be True or False, got {value!r}"
            )
        if bool(value) == self.trainable:
            return
        self._trainable = bool(value)
        model = self.owner() if self.owner is not None else None
        if model is not None and model.built:
            model.relayout()

    def get_weights(self) -> list[np.ndarray]:
        """Copies of this layer's weights, in :meth:`weight_specs` order (Keras' ``get_weights``).

        Returns
        -------
        list of numpy.ndarray
            ``[kernel (n, m), bias (m,)]`` for a Dense layer; ``[]`` for one without weights.
        """
        return (
            [
                np.array(self.backend.to_numpy(self.weights[spec.name]))
                for spec in self.weight_specs()
                if spec.name in self.weights
            ]
            if self.built
            else []
        )

    def set_weights(self, weights: list) -> None:
        """Write ``weights`` (:meth:`get_weights`' order and shapes) into the model's buffers.

        Parameters
        ----------
        weights
            One array per weight.

        Raises
        ------
        NotBuiltError
            If the layer is not in a built model (it has no weights yet).
        InputError
            For a wrong count, shape or non-finite values (nothing is written then).
        """
        specs = self.weight_specs() if self.built else []
        if not specs or any(spec.name not in self.weights for spec in specs):
            raise NotBuiltError(
                f"layer {self.name!r} has no weights yet: add it to a model and build the "
                "model (input_dim=... on the first layer, or fit) before set_weights"
            )
        if not isinstance(weights, (list, tuple)) or len(weights) != len(specs):
            count = len(weights) if isinstance(weights, (list, tuple)) else type(weights).__name__
            raise InputError(
                f"layer {self.name!r}: set_weights needs a list of {len(specs)} arrays "
                f"({', '.join(spec.name for spec in specs)}), got {count}"
            )
        arrays = []
        for spec, value in zip(specs, weights):
            array = np.asarray(value)
            if array.shape != spec.shape:
                raise InputError(
                    f"layer {self.name!r}: weight {spec.name} must have shape {spec.shape}, "
                    f"got {array.shape}"
                )
            if array.dtype.kind not in "iuf" or not np.isfinite(array).all():
                raise InputError(f"layer {self.name!r}: weight {spec.name} must be finite numbers")
            arrays.append(array)
        for spec, array in zip(specs, arrays):
            self.weights[spec.name][...] = self.backend.asarray(array)

    # --- building -------------------------------------------------------------
    @property
    def built(self) -> bool:
        """True once :meth:`build` has fixed the input and output widths."""
        return self.output_dim is not None

    def build(self, input_dim: int) -> int:
        """Fix the input width and return the output width.

        Parameters
        ----------
        input_dim
            The number of features the layer receives.

        Returns
        -------
        int
            The number of features it outputs (here the same: a shape-preserving layer).
        """
        self.input_dim = int(input_dim)
        self.output_dim = self.input_dim
        return self.output_dim

    def weight_specs(self) -> list[WeightSpec]:
        """The weights in Keras order (kernel, bias; gamma, beta, mean, variance)."""
        return []

    def bind(self, weights: dict[str, Any], grads: dict[str, Any], backend: Backend) -> None:
        """Receive views of the model's flat weight and gradient buffers.

        Parameters
        ----------
        weights
            The layer's weights by name, each a view into the model's parameter buffer.
        grads
            Their gradients, views into the model's gradient buffer.
        backend
            The array backend (NumPy or CuPy) the buffers live on.
        """
        self.weights, self.grads, self.backend = weights, grads, backend
        self._buffers.clear()

    def use_kernels(self, ops: Any) -> None:
        """Compute with ``ops`` from now on; a layer that calls no kernels ignores it.

        Parameters
        ----------
        ops
            The kernels (:mod:`densekit.backend.kernels`) a fit moved the model to.
        """

    # --- computing ------------------------------------------------------------
    def forward(self, x: Any, training: bool) -> Any:
        """The layer's output for a batch, keeping what :meth:`backward` needs.

        Parameters
        ----------
        x
            The batch, ``(batch, input_dim)``.
        training
            True in ``fit`` (dropout drops, batch statistics are used), False at inference.

        Returns
        -------
        array
            The output, ``(batch, output_dim)``.

        Raises
        ------
        NotImplementedError
            Always: each layer implements its own.
        """
        raise NotImplementedError

    def backward(self, grad: Any, need_input_grad: bool = True) -> Any:
        """Write the weight gradients into the gradient views and return ``dL/dx``.

        Parameters
        ----------
        grad
            ``dL/dy`` for the last forward pass's output; a layer may overwrite it.
        need_input_grad
            False for the first layer, whose ``dL/dx`` nobody reads, so it can be skipped.

        Returns
        -------
        array
            ``dL/dx``, shaped like the last forward pass's input (or None when not needed).

        Raises
        ------
        NotImplementedError
            Always: each layer implements its own.
        """
        raise NotImplementedError

    def buffer(
        self,
        name: str,
        shape: tuple[int, ...],
        dtype: np.typing.DTypeLike,
        fill: float | None = None,
    ) -> Any:
        """A reusable work array, so the training loop does not allocate per batch.

        Parameters
        ----------
        name
            What the buffer is for; one buffer per name and shape.
        shape
            Its shape.
        dtype
            Its dtype; a different one makes a new buffer.
        fill
            A value set in every entry once, when the array is made (constant buffers).

        Returns
        -------
        array
            The buffer, on the layer's backend; its contents are whatever was left in it.
        """
        key = (name, shape)
        array = self._buffers.get(key)
        if array is None or array.dtype != dtype:
            if len(self._buffers) > 16:  # many batch sizes seen: start over
                self._buffers.clear()
            array = self.backend.xp.empty(shape, dtype=dtype)
            if fill is not None:
                array.fill(fill)
            self._buffers[key] = array
        return array

    # --- describing -----------------------------------------------------------
    def count_params(self) -> int:
        """The number of weights, trainable or not (Keras' ``count_params``)."""
        return sum(spec.size for spec in self.weight_specs())

    def get_config(self) -> dict:
        """The constructor's arguments, as saved in a model file."""
        return {"name": self.name}

    @classmethod
    def from_config(cls, config: dict) -> Layer:
        """Rebuild a layer from :meth:`get_config`'s output.

        Parameters
        ----------
        config
            The constructor's arguments by name.

        Returns
        -------
        Layer
            A new, unbuilt layer.
        """
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r} output_dim={self.output_dim}>"


def default_name(layer: Layer) -> str:
    """The Keras-style name of a layer's class: 'Dense' -> 'dense', 'BatchNormalization' -> 'batch_normalization'.

    Parameters
    ----------
    layer
        The layer.

    Returns
    -------
    str
        The class name in snake case.
    """
    return re.sub(r"(?<!^)(?=[A-Z])", "_", type(layer).__name__).lower()
