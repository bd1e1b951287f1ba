"""Sequential: a stack of layers with one flat parameter buffer.

Building allocates one contiguous array for every trainable parameter and one
for their gradients; each layer's ``W`` and ``b`` are views into them. A
training step is forward, loss, backward, then one vectorized optimizer update
over the whole buffer.
"""

from __future__ import annotations

import copy
import os
import warnings
import weakref
from collections.abc import Callable
from typing import Any

import numpy as np

from . import losses as losses_module
from . import metrics as metrics_module
from . import model_config
from . import optimizers as optimizers_module
from .backend import check_precision, get_backend, make_rng, resolve_dtype
from .backend import choice as kernel_choice
from .backend import kernels as kernels_module
from .callbacks import Callback, History
from .errors import (
    ArgumentError,
    ArgumentTypeError,
    InputError,
    NotBuiltError,
    NotCompiledError,
)
from .layers import Activation, BatchNormalization, Dense, Input, Layer
from .layers.base import default_name
from .registry import Registry
from .serialization import model_file
from .serialization.model_file import compile_arguments  # noqa: F401 - densekit.model.compile_arguments
from .training import inference, inputs, step
from .training import loop as training
from .training.inference import DEFAULT_PREDICT_BATCH_SIZE  # noqa: F401 - a public name
from .validation import (
    check_bool,
    check_count,
)


class Sequential:
    """A linear stack of layers (Keras' ``Sequential``).

    ``seed`` makes the initial weights (and, unless ``fit`` gets its own seed,
    the shuffling and dropout) reproducible bit for bit. ``device="gpu"`` keeps
    weights, gradients and optimizer state on a CUDA device (CuPy);
    ``precision`` ('fp32', 'tf32', 'bf16') picks how its float32 matrix
    products are computed there.

    Parameters
    ----------
    layers
        The layers, added in order (see :meth:`add`).
    name
        The model's name.
    seed
        Seeds the initial weights (and fit's shuffling and dropout without its own seed).
    dtype
        'float32' or 'float64': the weights' and the computation's dtype.
    device
        'cpu' or 'gpu'.
    precision
        'fp32', 'tf32' or 'bf16': how float32 matrix products are computed on a GPU.

    Raises
    ------
    ArgumentTypeError
        If ``layers`` is not a list of layers.
    ArgumentError
        For a bad setting or a layer :meth:`add` refuses.
    """

    def __init__(
        self,
        layers: list[Layer] | None = None,
        name: str = "sequential",
        seed: int | None = None,
        dtype: str = "float32",
        device: str = "cpu",
        precision: str = "fp32",
    ):
        self.name = name
        self.precision = check_precision(precision)
        self.dtype = resolve_dtype(dtype)
        self.seed = seed
        self.rng = make_rng(seed)
        self.backend = get_backend(device)
        self.layers: list[Layer] = []
        self.metadata: dict[str, Any] = {}
        #: a DataFrame's column names, recorded by the first fit on one, checked after
        self.feature_names: list[str] | None = None
        #: text class labels, sorted, recorded by the first fit on them: label i is class i
        self.class_names: list[str] | None = None
        self.optimizer: optimizers_module.Optimizer | None = None
        self.loss: losses_module.Loss | None = None
        self.metric_names: list[str] = []
        self.stop_training = False
        #: the last fit's History (Keras' ``model.history``); None before fit
        self.history: History | None = None
        #: the width an ``Input(shape=(n,))`` given first declares, until a layer takes it
        self._input_declared: int | None = None
        #: set by TerminateOnNaN: a non-finite loss stops training instead of raising
        self.stop_on_nonfinite = False
        self.params = self.grads = self.state = None
        #: callables ``hook(grads)`` run on the flat gradient before each step
        #: (a distributed all-reduce, for example)
        self.gradient_hooks: list[Callable[[Any], None]] = []
        #: callables ``constraint(model)`` run after each optimizer step
        #: (pruning masks, for example)
        self.constraints: list[Callable[[Sequential], None]] = []
        self.weight_index: list[tuple[Layer, Any, Any]] = []
        self.regularized: list = []  # (weight, grad, regularizer), filled when built
        self.ops: kernels_module.Kernels | None = None  # the kernels, chosen when built
        self._input_dim: int | None = None
        if layers is not None:
            if not isinstance(layers, (list, tuple)):
                raise ArgumentTypeError(f"layers must be a list of layers, got {layers!r}")
            try:
                for layer in layers:
                    self.add(layer)
            except BaseException:
                for layer in self.layers:  # this model is not made: its layers are free again
                    layer.owner = None
                raise

    # --- building ---------------------------------------------------------------
    def add(self, layer: Layer) -> None:
        """Append a layer; the first layer's ``input_dim`` builds the model at once.

        On a built model the layer is sized (on a copy) before it is appended, so a layer
        that does not fit raises and leaves the model, and the layer, as they were.

        Parameters
        ----------
        layer
            A densekit layer, in no other model.

        Raises
        ------
        ArgumentTypeError
            If ``layer`` is not a densekit layer.
        ArgumentError
            If the layer is already in a model, its name is taken, or its declared
            ``input_dim`` is not what the previous layer outputs.
        """
        if not isinstance(layer, Layer):
            raise ArgumentTypeError(f"Sequential takes densekit layers, got {layer!r}")
        if isinstance(layer, Input):
            if self.layers or self._input_declared is not None:
                raise ArgumentError(
                    "Input(shape=...) declares the model's input width, so it must come first "
                    "and only once; to give a later layer's width, use Dense(units, input_dim=n)"
                )
            self._input_declared = layer.shape[0]
            return
        if any(existing is layer for existing in self.layers):
            raise ArgumentError(f"layer {layer.name!r} is already in this model")
        owner = getattr(layer, "owner", None)
        other = None if owner is None else owner()
        if other is not None and other is not self:
            # it holds views of the other model's weights: sharing it would train one
            # model's weights through the other, or rebind them and break the first
            raise ArgumentError(
                f"layer {layer.name!r} is already in the model {other.name!r}; a layer can be "
                "in one model only: make a new layer, or a copy of this one with fresh weights, "
                f"{type(layer).__name__}.from_config(layer.get_config()) "
                "(model.copy() copies a whole model with its weights)"
            )
        name = layer.name
        if name is None:
            name = self._unique_name(default_name(layer))
        elif any(existing.name == name for existing in self.layers):
            raise ArgumentError(f"two layers named {name!r}: layer names must be unique")
        declared = getattr(layer, "declared_input_dim", None)
        if not self.layers and declared is None:
            declared = self._input_declared
        elif not self.layers and self._input_declared not in (None, declared):
            raise ArgumentError(
                f"layer {name!r} declares input_dim={declared}, but Input(shape=...) gave "
                f"{self._input_declared}"
            )
        if self.built and declared is not None and declared != self.output_dim:
            raise ArgumentError(
                f"layer {name!r} declares input_dim={declared}, "
                f"but the previous layer outputs {self.output_dim}"
            )
        width = None  # the width the layer receives now, where it is known
        if self.built:
            width = self.output_dim
        elif not self.layers:
            width = declared
        if width is not None:
            copy.copy(layer).build(width)  # raises here if the layer cannot take that width
        layer.name = name
        layer.owner = weakref.ref(self)
        self.layers.append(layer)
        if self.built:
            layer.build(self.layers[-2].output_dim)
            self._allocate(keep=self.get_weights())
        elif len(self.layers) == 1 and declared is not None:
            self.build(declared)

    def _unique_name(self, base: str) -> str:
        taken = {layer.name for layer in self.layers}
        if base not in taken:
            return base
        index = 1
        while f"{base}_{index}" in taken:
            index += 1
        return f"{base}_{index}"

    @property
    def built(self) -> bool:
        """Whether the weights are allocated (the input width is fixed)."""
        return self.params is not None

    @property
    def input_dim(self) -> int | None:
        """The input width, or None before the model is built."""
        return self._input_dim

    @property
    def output_dim(self) -> int | None:
        """The last layer's output width, or None before the model is built."""
        return self.layers[-1].output_dim if self.built else None

    def build(self, input_dim: int) -> None:
        """Fix the input width, size every layer and initialize the weights.

        A built model stays built: the same width again is a no-op (its trained weights
        are kept), another width is an error.

        Parameters
        ----------
        input_dim
            The number of input features.

        Raises
        ------
        InputError
            If the model is built for another width, or a layer declares another width.
        ArgumentError
            If the model has no layers or ``input_dim`` is below 1.
        ArgumentTypeError
            If ``input_dim`` is not an integer.
        """
        if self.built:
            if input_dim == self._input_dim:
                return
            raise InputError(
                f"the model is built for {self._input_dim} features, got input_dim={input_dim!r}; "
                "make a new model for another input width"
            )
        if not self.layers:
            raise ArgumentError("the model has no layers: add at least one Dense layer")
        if isinstance(input_dim, bool) or not isinstance(input_dim, (int, np.integer)):
            raise ArgumentTypeError(f"input_dim must be a positive integer, got {input_dim!r}")
        if input_dim < 1:
            raise ArgumentError(f"input_dim must be a positive integer, got {input_dim}")
        dim = int(input_dim)
        self.planned_output_dim(dim)  # every layer's check, before any layer is sized
        self._input_dim = dim
        for layer in self.layers:
            dim = layer.build(dim)
        self._allocate()

    def planned_output_dim(self, input_dim: int) -> int:
        """The width the layers would output for ``input_dim`` features; nothing is built.

        Each layer's declared width is checked on the way, and each is sized on a copy.

        Parameters
        ----------
        input_dim
            The number of input features.

        Returns
        -------
        int

        Raises
        ------
        InputError
            If a layer was declared with another input width than it would receive.
        """
        dim = input_dim
        for layer in self.layers:
            declared = getattr(layer, "declared_input_dim", None)
            if declared is not None and declared != dim:
                raise InputError(
                    f"layer {layer.name!r} was declared with input_dim={declared}, "
                    f"but it receives {dim} features"
                )
            dim = copy.copy(layer).build(dim)
        return dim

    def _allocate(self, keep: list[np.ndarray] | None = None) -> None:
        """One flat buffer for trainable weights (and their gradients), one for the rest."""
        xp = self.backend.xp
        specs = [(layer, spec) for layer in self.layers for spec in layer.weight_specs()]
        # a frozen layer's (trainable=False) weights go to the non-trainable buffer
        specs = [(layer, spec, spec.trainable and layer.trainable) for layer, spec in specs]
        n_trainable = sum(spec.size for _, spec, trains in specs if trains)
        n_state = sum(spec.size for _, spec, trains in specs if not trains)
        self.params = xp.zeros(n_trainable, dtype=self.dtype)
        self.grads = xp.zeros(n_trainable, dtype=self.dtype)
        self.state = xp.zeros(n_state, dtype=self.dtype)
        #: where train_step keeps the non-trainable state, to put back after a bad loss
        self.state_before_step = xp.zeros(n_state, dtype=self.dtype)
        self.weight_index = []
        self.slices: list[slice] = []
        self.regularized = []
        offsets = {True: 0, False: 0}
        views: dict[int, tuple[dict, dict]] = {id(layer): ({}, {}) for layer in self.layers}
        for position, (layer, spec, trains) in enumerate(specs):
            buffer = self.params if trains else self.state
            start = offsets[trains]
            part = slice(start, start + spec.size)
            offsets[trains] = part.stop
            weight = buffer[part].reshape(spec.shape)
            if keep is not None and position < len(keep):
                weight[...] = self.backend.asarray(keep[position])
            else:
                weight[...] = self.backend.asarray(
                    spec.initializer(spec.shape, self.rng, self.dtype)
                )
            weights, grads = views[id(layer)]
            weights[spec.name] = weight
            if trains:
                grads[spec.name] = self.grads[part].reshape(spec.shape)
                self.slices.append(part)
                if spec.regularizer is not None:
                    self.regularized.append((weight, grads[spec.name], spec.regularizer))
            self.weight_index.append((layer, spec, weight))
        for layer in self.layers:
            layer.bind(*views[id(layer)], self.backend)
        # chosen with the layers' kernels (DENSEKIT_KERNELS is read here, not per batch)
        self.ops = kernel_choice.for_backend(self.backend)
        self._first_trainable = next(
            (i for i, layer in enumerate(self.layers) if layer.grads), len(self.layers)
        )
        if self.optimizer is not None:
            self.optimizer.build(self.params, self.slices, backend=self.backend)

    def choose_kernels(self, steps: int) -> None:
        """Move to the compiled CPU kernels when a fit of ``steps`` steps repays loading them.

        Under ``DENSEKIT_KERNELS=auto`` (the default) a model starts on NumPy's kernels;
        ``fit`` calls this once it knows its steps (:func:`densekit.backend.choice.for_work`).
        The layers and the optimizer move together; weights and optimizer state stay.

        Parameters
        ----------
        steps
            The optimizer steps the fit will take.

        Raises
        ------
        ArgumentError, ArgumentTypeError
            If ``steps`` is not an integer >= 0.
        """
        steps = check_count("steps", steps)
        if not self.built:
            return
        compiled = kernel_choice.for_work(self.backend, int(self.params.size), steps)
        if compiled is None or compiled is self.ops:
            return
        self.ops = compiled
        for layer in self.layers:
            layer.use_kernels(compiled)
        if self.optimizer is not None and self.optimizer.ops is not None:
            self.optimizer.use_kernels(compiled, self.params)

    def relayout(self) -> None:
        """Lay the flat buffers out again after a layer's ``trainable`` changed, keeping the weights.

        The optimizer is rebuilt for the new trainable buffer: its state starts afresh.
        """
        self.require_built("lay out the weights")
        self._allocate(keep=self.get_weights())

    def trains(self, layer: Layer, spec: Any) -> bool:
        """Whether ``layer``'s weight ``spec`` is in the trainable buffer (not frozen, not state).

        Parameters
        ----------
        layer
            A layer of this model.
        spec
            One of its weight specs.

        Returns
        -------
        bool
        """
        return bool(spec.trainable and layer.trainable)

    @property
    def trainable_weights(self) -> list:
        """The weights training updates: views into the flat trainable buffer (Keras' name)."""
        return [w for layer, spec, w in self.weight_index if self.trains(layer, spec)]

    @property
    def non_trainable_weights(self) -> list:
        """Frozen layers' weights and moving statistics: views, in :meth:`get_weights` order."""
        return [w for layer, spec, w in self.weight_index if not self.trains(layer, spec)]

    @property
    def weights(self) -> list:
        """Every weight, as views, in :meth:`get_weights` order (Keras' ``model.weights``)."""
        return [w for _, _, w in self.weight_index]

    def pop(self) -> Layer:
        """Remove the last layer and return it (Keras' ``Sequential.pop``).

        The remaining layers keep their weights; the optimizer's state starts afresh
        for the smaller buffer.

        Returns
        -------
        Layer
            The removed layer, free to be added to another model.

        Raises
        ------
        ArgumentError
            If the model has no layers.
        """
        if not self.layers:
            raise ArgumentError("pop() on a model with no layers: there is nothing to remove")
        keep = None
        if self.built:
            count = len(self.layers[-1].weight_specs())
            weights = self.get_weights()
            keep = weights[: len(weights) - count]
        layer = self.layers.pop()
        layer.owner = None
        if not self.layers:
            self.params = self.grads = self.state = None
            self._input_dim = None
            self.weight_index = []
        elif self.built:
            self._allocate(keep=keep)
        return layer

    def require_built(self, action: str) -> None:
        """Raise :class:`~densekit.errors.NotBuiltError`, naming ``action``, unless built."""
        if not self.built:
            raise NotBuiltError(
                f"cannot {action} before the model is built: give the first layer input_dim=... "
                "or call fit(x, y) first"
            )

    # --- compiling ----------------------------------------------------------------
    def compile(
        self,
        optimizer: str | optimizers_module.Optimizer = "rmsprop",
        loss: str | losses_module.Loss | None = None,
        metrics: list[str] | None = None,
    ) -> None:
        """Choose the optimizer, the loss and the metrics to report.

        Every argument is resolved before the model changes: a bad one raises and leaves
        the previous optimizer (and its state), loss and metrics in place.

        Parameters
        ----------
        optimizer
            An optimizer or its name (see :func:`densekit.optimizers.get`).
        loss
            A loss or its name (see :func:`densekit.losses.get`); required.
        metrics
            Metric names to report.

        Raises
        ------
        ArgumentError
            Without a loss, or for an unknown optimizer, loss or metric.
        ArgumentTypeError
            If ``metrics`` is not a list of names.
        """
        if loss is None:
            raise ArgumentError(
                f"compile needs a loss, e.g. loss='mean_squared_error'; one of "
                f"{', '.join(losses_module.NAMES)}"
            )
        optimizer = optimizers_module.get(optimizer)
        loss = losses_module.get(loss)
        if metrics is None:
            metrics = []
        if isinstance(metrics, str) or not isinstance(metrics, (list, tuple)):
            raise ArgumentTypeError(f"metrics must be a list of names, got {metrics!r}")
        for name in metrics:
            metrics_module.get(name, 2, loss.name)  # validates the name now
        self._warn_if_outputs_are_not_probabilities(loss)
        self.optimizer, self.loss, self.metric_names = optimizer, loss, list(metrics)
        if self.built:
            self.optimizer.build(self.params, self.slices, backend=self.backend)

    def _warn_if_outputs_are_not_probabilities(self, loss: losses_module.Loss) -> None:
        """A cross-entropy on probabilities after, say, a linear output trains on nonsense."""
        wants = loss.fuses_with
        last = self.layers[-1] if self.layers else None
        activation = getattr(last, "activation", None)
        if wants is None or getattr(loss, "from_logits", False) or activation is None:
            return
        if activation.name not in ("sigmoid", "softmax"):
            warnings.warn(
                f"{loss.name} expects probabilities, but the last layer's activation is "
                f"{activation.name!r}: end the model with activation='{wants}', or use "
                f"{loss.name}(from_logits=True) for raw scores",
                UserWarning,
                stacklevel=3,
            )

    @property
    def compiled(self) -> bool:
        """Whether :meth:`compile` has set a loss."""
        return self.loss is not None

    def require_compiled(self, action: str) -> None:
        """Raise :class:`~densekit.errors.NotCompiledError`, naming ``action``, unless compiled."""
        if not self.compiled:
            raise NotCompiledError(
                f"cannot {action} before compile(optimizer=..., loss=...) is called"
            )

    @property
    def fuses_loss(self) -> bool:
        """Softmax/sigmoid output + matching cross-entropy: use dL/dz = p - y."""
        last = self.layers[-1]
        return (
            isinstance(last, (Dense, Activation))
            and self.loss.fuses_with is not None
            and not getattr(self.loss, "from_logits", False)
            and last.activation.name == self.loss.fuses_with
        )

    def compiled_metrics(self) -> list[metrics_module.Metric]:
        """Fresh metric objects for the compiled names, sized for the output."""
        from_logits = getattr(self.loss, "from_logits", False)
        return [
            metrics_module.get(name, self.output_dim, self.loss.name, from_logits)
            for name in self.metric_names
        ]

    # --- the math -------------------------------------------------------------------
    def forward(self, x: Any, training: bool = False) -> Any:
        """Run ``x`` (already on the backend, model dtype) through every layer.

        The result may be a layer's work buffer, which the next forward pass overwrites:
        copy it to keep it (``predict`` does).
        """
        for layer in self.layers:
            # Keras: a frozen BatchNormalization runs in inference mode
            frozen = not layer.trainable and isinstance(layer, BatchNormalization)
            x = layer.forward(x, training and not frozen)
        return x

    def backward(
        self, grad: Any, through_last_activation: bool = True, input_grad: bool = False
    ) -> Any:
        """Backpropagate dL/d(output) through every layer, filling ``self.grads``."""
        last = len(self.layers) - 1
        stop = 0 if input_grad else self._first_trainable
        for index in range(last, stop - 1, -1):
            layer = self.layers[index]
            need_input_grad = index > stop or input_grad
            if index == last and not through_last_activation:
                grad = layer.backward(grad, need_input_grad, through_activation=False)
            else:
                grad = layer.backward(grad, need_input_grad)
        return grad

    def regularization_penalty(self) -> float:
        """The weight regularizers' penalties, summed."""
        xp = self.backend.xp
        return sum(reg.penalty(xp, weight) for weight, _, reg in self.regularized)

    def compute_gradients(
        self,
        x: Any,
        y: Any,
        sample_weight: Any = None,
        training: bool = True,
        input_grad: bool = False,
    ) -> tuple:
        """Loss (with penalties) and the flat gradient for one batch; returns (loss, output, dx)."""
        return step.loss_and_gradient(
            self, x, y, sample_weight, training=training, input_grad=input_grad
        )

    def train_on_batch(self, x: Any, y: Any, sample_weight: Any = None) -> float:
        """One optimizer step on one batch; returns the batch loss (with penalties).

        ``x``, ``y`` and ``sample_weight`` are checked as ``fit`` checks them; ``y`` may
        also be targets already shaped like the model's output, ``(samples, outputs)``
        (one-hot rows for ``sparse_categorical_crossentropy``), as ``fit`` passes them.
        Bad input raises before the step; a loss that is not finite raises
        :class:`~densekit.errors.TrainingError`. Either way the model is left as it was:
        its weights, moving statistics, optimizer state and the layers' generators
        (dropout's draws are put back; fit's own loop skips that and the checks, having
        checked its data once).
        """
        return step.train_on_batch(self, x, y, sample_weight)

    def _batch_targets(self, y: Any) -> np.ndarray:
        return inputs.batch_targets(self, y)

    def train_step(self, x: Any, y: Any, sample_weight: Any = None) -> float:
        """:meth:`train_on_batch` on arrays already checked and prepared (fit's loops).

        See :func:`densekit.training.step.train_step`.
        """
        return step.train_step(self, x, y, sample_weight)

    def apply_gradients(self) -> None:
        """One optimizer step from ``self.grads``: the gradient hooks, the update, the constraints.

        The hooks are an all-reduce or pruning masks, say. Every training loop (fit, the
        GPU's, MPI's, Dask's) steps through here.
        """
        for hook in self.gradient_hooks:
            hook(self.grads)
        self.optimizer.apply_gradients(self.params, self.grads)
        for constraint in self.constraints:
            constraint(self)

    # --- fit ------------------------------------------------------------------------
    def fit(
        self,
        x: Any = None,
        y: Any = None,
        batch_size: int | None = None,
        epochs: int = 1,
        verbose: int | str = "auto",
        callbacks: list[Callback] | None = None,
        validation_split: float = 0.0,
        validation_data: tuple | None = None,
        shuffle: bool = True,
        class_weight: dict | None = None,
        sample_weight: Any = None,
        initial_epoch: int = 0,
        seed: int | None = None,
        threads: int | None = None,
        **unknown: Any,
    ) -> History:
        """Train for ``epochs`` passes over ``(x, y)`` in shuffled minibatches.

        ``validation_split`` holds out a *random* fraction of the rows, drawn
        from the seed and stratified by class for classification losses (unlike
        Keras, which takes the last rows unshuffled). ``seed`` fixes shuffling
        and dropout; with the model's ``seed`` it makes training bit-identical.
        ``threads`` limits the BLAS threads while it trains (see :mod:`densekit.threads`).
        """
        self.history = training.fit(
            self,
            x,
            y,
            batch_size=batch_size,
            epochs=epochs,
            verbose=verbose,
            callbacks=callbacks,
            validation_split=validation_split,
            validation_data=validation_data,
            shuffle=shuffle,
            class_weight=class_weight,
            sample_weight=sample_weight,
            initial_epoch=initial_epoch,
            seed=seed,
            threads=threads,
            unknown=unknown,
        )
        return self.history

    # --- inputs -----------------------------------------------------------------------
    def prepare_inputs(self, x, y, sample_weight, building=False):
        """Check and convert x, y, sample_weight (building the model from x if needed)."""
        prepared = self.check_inputs(x, y, sample_weight, building)
        if building:
            self.adopt_inputs(x, prepared[0].shape[1])
        return prepared

    def check_inputs(
        self,
        x: Any,
        y: Any,
        sample_weight: Any,
        building: bool = False,
        n_features: int | None = None,
        feature_names: list[str] | None = None,
    ) -> tuple:
        """x, y, sample_weight checked and converted, without changing the model.

        See :func:`densekit.training.inputs.check_inputs`.
        """
        return inputs.check_inputs(self, x, y, sample_weight, building, n_features, feature_names)

    def adopt_inputs(self, x: Any, n_features: int) -> None:
        """What fit takes from checked inputs: the input width and a DataFrame's columns."""
        inputs.adopt_inputs(self, x, n_features)

    def share_rng(self, rng: np.random.Generator) -> None:
        """Layers draw their randomness (dropout masks) from ``rng``; seeded ones keep theirs."""
        for layer in self.layers:
            if getattr(layer, "seed", None) is None:
                layer.rng = rng

    def _check_feature_names(self, x: Any, record: bool = False, fitted=None) -> None:
        inputs.check_feature_names(self, x, record, fitted)

    def class_labels(self, y: np.ndarray) -> np.ndarray | None:
        """Class labels for stratification and class weights (None for regression)."""
        return inputs.class_labels(self, y)

    # --- evaluate and predict -----------------------------------------------------
    def evaluate(
        self,
        x: Any = None,
        y: Any = None,
        batch_size: int | None = None,
        verbose: int = 0,
        sample_weight: Any = None,
        return_dict: bool = True,
    ) -> dict[str, float] | list[float] | float:
        """Loss (with weight penalties) and metrics on ``(x, y)``: ``{"loss": ..., ...}``.

        ``return_dict=False`` gives Keras' other form: ``[loss, metric, ...]``, or the
        loss alone when there are no metrics.
        """
        self.require_compiled("evaluate")
        self.require_built("evaluate")
        x, y, sample_weight = self.prepare_inputs(x, y, sample_weight)
        results = self.evaluate_arrays(x, y, sample_weight, batch_size)
        if return_dict:
            return results
        values = list(results.values())
        return values if len(values) > 1 else values[0]

    def evaluate_arrays(
        self, x: Any, y: Any, sample_weight: Any, batch_size: int | None
    ) -> dict[str, float]:
        """:meth:`evaluate` on checked, prepared arrays (fit's validation)."""
        return inference.evaluate_arrays(self, x, y, sample_weight, batch_size)

    def predict(
        self, x: Any, batch_size: int | None = None, verbose: int = 0, threads: int | None = None
    ) -> np.ndarray:
        """Outputs for ``x``, computed ``batch_size`` rows at a time (bounded memory).

        ``threads`` limits the BLAS threads for this call (see :mod:`densekit.threads`).
        """
        return inference.predict(self, x, batch_size, threads)

    def __call__(self, x: Any) -> np.ndarray:
        """:meth:`predict`."""
        return self.predict(x)

    # --- weights --------------------------------------------------------------------
    def get_weights(self) -> list[np.ndarray]:
        """Copies of every weight, Keras order: [W1 (n, m), b1 (m,), W2, b2, ...]."""
        self.require_built("get weights")
        return [self.backend.to_numpy(weight).copy() for _, _, weight in self.weight_index]

    def set_weights(self, weights: list) -> None:
        """Load weights given in :meth:`get_weights` order and shapes (Keras' layout)."""
        self.require_built("set weights")
        if not isinstance(weights, (list, tuple)):
            raise ArgumentTypeError(
                f"set_weights takes a list of arrays, got {type(weights).__name__}"
            )
        if len(weights) != len(self.weight_index):
            raise InputError(
                f"set_weights got {len(weights)} arrays, but the model has "
                f"{len(self.weight_index)} weights: {self.weight_names()}"
            )
        arrays = []
        for (layer, spec, _), value in zip(self.weight_index, weights):
            array = np.asarray(value)
            if array.shape != spec.shape:
                raise InputError(
                    f"weight {layer.name}/{spec.name} must have shape {spec.shape}, got {array.shape}"
                )
            if array.dtype.kind not in "iuf" or not np.isfinite(array).all():
                raise InputError(f"weight {layer.name}/{spec.name} must be finite numbers")
            with np.errstate(over="ignore"):
                converted = array.astype(self.dtype)
            if not np.isfinite(converted).all():  # a float64 beyond float32's range
                raise InputError(
                    f"weight {layer.name}/{spec.name} has values too large for {self.dtype.name}"
                )
            arrays.append(converted)
        for (_, _, weight), array in zip(self.weight_index, arrays):
            weight[...] = self.backend.asarray(array)

    def to(self, device: str) -> Sequential:
        """Move the model to ``device`` ('cpu' or 'gpu') in place and return it.

        Weights, gradients, non-trainable state and the optimizer's state and step
        count move; the layers are rebound to views of the new buffers.
        """
        backend = get_backend(device)
        if backend is self.backend:
            return self
        old = self.backend
        self.backend = backend
        self.device_data = None  # training data copied to the old device
        if not self.built:
            return self
        keep = [old.to_numpy(weight) for _, _, weight in self.weight_index]
        grads = old.to_numpy(self.grads)
        optimizer_state, iterations = {}, 0
        if self.optimizer is not None:
            optimizer_state = {k: old.to_numpy(v) for k, v in self.optimizer.state.items()}
            iterations = self.optimizer.iterations
        self._allocate(keep=keep)  # new buffers on the backend, layers rebound
        self.grads[...] = backend.asarray(grads)
        if self.optimizer is not None:
            for name, array in optimizer_state.items():
                self.optimizer.state[name][...] = backend.asarray(array)
            self.optimizer.iterations = iterations
        return self

    def weight_names(self) -> list[str]:
        """``layer/weight`` for every weight, in :meth:`get_weights` order."""
        return [f"{layer.name}/{spec.name}" for layer, spec, _ in self.weight_index]

    def count_params(self) -> int:
        """Number of weights, trainable and not (``n*m + m`` per Dense layer)."""
        self.require_built("count parameters")
        return int(self.params.size + self.state.size)

    # --- describing -------------------------------------------------------------------
    def summary(self, print_fn: Callable[[str], Any] | None = None) -> None:
        """Print each layer's output shape and parameter count, then the totals."""
        (print_fn or print)(self.summary_text())

    def summary_text(self) -> str:
        """The summary table as a string (see :meth:`summary`)."""
        return model_config.summary_text(self)

    def get_config(self) -> dict:
        """The architecture as plain values (what :meth:`from_config` takes)."""
        return model_config.get_config(self)

    @classmethod
    def from_config(cls, config: dict, dtype: str | None = None) -> Sequential:
        """A new model from :meth:`get_config`'s dict (freshly initialized weights)."""
        return model_config.from_config(cls, config, dtype)

    def compile_config(self) -> dict | None:
        """The optimizer's and loss's configs and the metric names; None when not compiled."""
        return model_config.compile_config(self)

    def copy(self, dtype: str | None = None) -> Sequential:
        """A new model with the same layers, weights and compile settings (fresh optimizer)."""
        return model_config.copy_model(Sequential, self, dtype)

    def settings_from(self, source: Sequential) -> Sequential:
        """Take ``source``'s compile settings, metadata, feature names, precision, backend."""
        return model_config.settings_from(self, source)

    # --- pickling and copy.deepcopy -----------------------------------------------------
    def __getstate__(self) -> dict:
        """Plain values for pickle and copy.deepcopy (see :mod:`densekit.model_config`)."""
        return model_config.get_state(self)

    def __setstate__(self, state: dict) -> None:
        model_config.set_state(Sequential, self, state)

    def to_torch(self):
        """The same network as a ``torch.nn.Sequential`` (see :mod:`densekit.interop`).

        Returns
        -------
        torch.nn.Sequential
            In eval mode, with this model's weights copied.
        """
        return CONVERTERS.get("torch")(self)

    def save_weights(self, path: str | os.PathLike) -> None:
        """Write the weights alone (by name, as safetensors) to ``path`` (Keras' ``save_weights``).

        :meth:`load_weights` reads them back into a model of the same architecture. Keras
        writes HDF5 (``.weights.h5``); densekit writes safetensors, so an ``.h5`` name is
        refused rather than given a misleading suffix.

        Parameters
        ----------
        path
            The file, e.g. ``"model.weights.safetensors"``; written atomically.

        Raises
        ------
        ArgumentError
            For an ``.h5``/``.hdf5`` name.
        """
        from .serialization.checkpoint import save_weights

        _refuse_hdf5(path)
        save_weights(self, path)

    def load_weights(self, path: str | os.PathLike) -> None:
        """Load weights written by :meth:`save_weights` (or a model file) into this built model.

        Parameters
        ----------
        path
            The file.

        Raises
        ------
        ArgumentError
            For an ``.h5``/``.hdf5`` name.
        """
        from .serialization.checkpoint import load_weights

        _refuse_hdf5(path)
        load_weights(self, path)

    def to_json(self, **kwargs: Any) -> str:
        """The architecture as a JSON string (Keras' ``to_json``); no weights.

        :func:`densekit.models.model_from_json` builds a fresh model from it.

        Parameters
        ----------
        **kwargs
            Passed to :func:`json.dumps` (``indent=2``, say).

        Returns
        -------
        str
            ``{"class_name": "Sequential", "config": get_config()}`` as JSON.
        """
        import json

        return json.dumps({"class_name": "Sequential", "config": self.get_config()}, **kwargs)

    def save(self, path: str | os.PathLike, include_optimizer: bool = True) -> None:
        """Write a safetensors file: weights as tensors, architecture as JSON metadata."""
        from .serialization.model_file import save_model

        include_optimizer = check_bool("include_optimizer", include_optimizer)
        save_model(self, path, include_optimizer=include_optimizer)

    def __repr__(self) -> str:
        state = f"{self.count_params():,} params" if self.built else "unbuilt"
        return f"<Sequential {self.name!r}: {len(self.layers)} layers, {state}>"


def _refuse_hdf5(path: str | os.PathLike) -> None:
    if str(path).lower().endswith((".h5", ".hdf5")):
        raise ArgumentError(
            f"densekit writes weights as safetensors, not HDF5: got {str(path)!r}; "
            "use a name ending in .weights.safetensors (to read Keras' .h5 weights, load "
            "them with h5py and pass the arrays to model.set_weights)"
        )


#: what a Sequential converts to, by library: ``converter(model)``. densekit.interop, a
#: higher tier that model.py cannot import, registers "torch" when densekit imports it.
CONVERTERS: Registry = Registry("model converter")

model_file.BUILDERS.register(model_file.FORMAT, Sequential.from_config)
