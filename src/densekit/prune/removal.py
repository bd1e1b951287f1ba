"""Pruning: zero the smallest weights (masks), or remove whole units (a smaller model).

Magnitude pruning keeps, in each Dense kernel (``scope="layer"``) or across all
of them (``scope="global"``), the weights with the largest ``|w|`` and sets the
rest to zero. The mask is attached to the model: a gradient hook zeroes the
pruned gradients and a constraint, run after every optimizer step, zeroes the
pruned weights *and* their optimizer state (SGD velocity, Adam ``m``/``v``,
RMSprop/Adagrad accumulators), so neither momentum nor weight decay can bring a
pruned weight back. Biases are never pruned.

Masks and files: the pruned weights are stored as exact zeros and
``model.metadata["pruning"]`` names the masked layers, so ``dk.load_model``
re-attaches the masks (mask = ``kernel != 0``) and fine-tuning can go on after a
reload. (A kept weight that is exactly 0.0 when saved comes back masked; the
file stays a plain densekit model that any reader loads.) :func:`strip`
removes the masks and that entry: a plain model again. ``model.copy()`` does
not copy hooks: call :func:`reattach` on the copy to keep pruning it.

Neuron pruning (:func:`neurons`) removes hidden units for real: the unit's
kernel column and bias, the matching BatchNormalization entries, and the next
Dense layer's kernel row. The result is a new, physically smaller Sequential.

Sparse inference (:func:`sparse_inference`) times a dense and a CSR product
for each Dense layer on a sample batch and uses CSR only where it measured
faster. Measured break-even (benchmarks/compression.py, one 512x512 kernel,
256 rows, one thread, NumPy/OpenBLAS float32 vs scipy CSR, a shared 2-core
x86 machine): dense ~0.85 ms at any sparsity; CSR 1.3-1.6 ms at 90%,
~0.86 ms at 94%, 0.79-1.0 ms at 95%, 0.43-0.47 ms at 99%. CSR starts to win
at about 95% sparsity; at the 90% that keeps accuracy it is slower, which is
why the choice is measured per layer and machine, not guessed.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from ..callbacks import Callback
from ..errors import ArgumentError, ArgumentTypeError, InputError, require
from ..layers import Dense

SCOPES = ("layer", "global")
METADATA_KEY = "pruning"


# --- masks --------------------------------------------------------------------------


class PruningMasks:
    """The masks of one model: ``{layer name: 0/1 array shaped like its kernel}``.

    Registered as both a gradient hook (pruned gradients are zero before the
    optimizer sees them) and a constraint (pruned weights and optimizer state
    are zero after every step).
    """

    def __init__(self, model, masks: dict[str, np.ndarray]):
        self.model = model
        self.masks = masks

    def _kernel_slices(self):
        """(layer, mask, flat slice of its kernel in model.params), for the masked layers."""
        model = self.model
        trainable = [(layer, spec) for layer, spec, _ in model.weight_index if spec.trainable]
        for (layer, spec), part in zip(trainable, model.slices):
            if spec.name == "kernel" and layer.name in self.masks:
                yield layer, self.masks[layer.name], part

    def zero_gradients(self, grads) -> None:
        xp = self.model.backend.xp
        for _, mask, part in self._kernel_slices():
            grads[part] *= xp.asarray(mask.ravel())

    def __call__(self, model) -> None:
        """The constraint: pruned weights and their optimizer state back to exactly zero."""
        xp = model.backend.xp
        optimizer_state = model.optimizer.state if model.optimizer is not None else {}
        for _, mask, part in self._kernel_slices():
            flat = xp.asarray(mask.ravel())
            model.params[part] *= flat
            for slot in optimizer_state.values():
                slot[part] *= flat

    def sparsity(self) -> dict[str, float]:
        return {name: 1.0 - float(mask.mean()) for name, mask in self.masks.items()}


def masks_of(model) -> PruningMasks | None:
    """The masks attached to ``model`` (None when it has none)."""
    for constraint in model.constraints:
        if isinstance(constraint, PruningMasks):
            return constraint
    return None


def _attach(model, masks: dict[str, np.ndarray], scope: str) -> PruningMasks:
    pruning = masks_of(model)
    if pruning is None:
        pruning = PruningMasks(model, masks)
        model.gradient_hooks.append(pruning.zero_gradients)
        model.constraints.append(pruning)
    else:
        pruning.masks = masks
    pruning(model)
    model.metadata[METADATA_KEY] = {"layers": sorted(masks), "scope": scope}
    return pruning


def strip(model):
    """Remove the masks (hooks, constraint and metadata); the zeros stay. Returns ``model``."""
    pruning = masks_of(model)
    if pruning is not None:
        model.constraints.remove(pruning)
        model.gradient_hooks.remove(pruning.zero_gradients)
    model.metadata.pop(METADATA_KEY, None)
    return model


def reattach(model) -> PruningMasks | None:
    """Re-create the masks of a loaded model from its zeros (``mask = kernel != 0``)."""
    entry = model.metadata.get(METADATA_KEY)
    if not entry:
        return None
    by_name = {layer.name: layer for layer in model.layers}
    unknown = [name for name in entry.get("layers", []) if name not in by_name]
    if unknown:
        raise InputError(f"pruning metadata names layers {unknown} that the model lacks")
    masks = {
        name: (model.backend.to_numpy(by_name[name].kernel) != 0).astype(model.dtype)
        for name in entry["layers"]
    }
    return _attach(model, masks, entry.get("scope", "layer"))


def sparsity(model) -> dict[str, float]:
    """Fraction of exactly-zero entries in each Dense kernel."""
    return {
        layer.name: float((model.backend.to_numpy(layer.kernel) == 0).mean())
        for layer in model.layers
        if isinstance(layer, Dense)
    }


# --- magnitude pruning ----------------------------------------------------------------


def check_fraction(name: str, value: Any, allow_one: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)):
        raise ArgumentTypeError(f"{name} must be a number in [0, 1), got {value!r}")
    value = float(value)
    if not (0.0 <= value <= 1.0 if allow_one else 0.0 <= value < 1.0):
        raise ArgumentError(f"{name} must be in [0, 1{']' if allow_one else ')'}, got {value}")
    return value


def check_layer_names(argument: str, names: Any, known) -> list[str]:
    """``names`` (a list of Dense layer names, each in ``known``) as a list, or a clear error.

    A single name given as a str is rejected, not read character by character.
    """
    if isinstance(names, str):
        raise ArgumentTypeError(
            f"{argument} must be a list of layer names, got the str {names!r}; "
            f"for one layer write [{names!r}]"
        )
    if not isinstance(names, (list, tuple, set, frozenset)):
        raise ArgumentTypeError(f"{argument} must be a list of layer names, got {names!r}")
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ArgumentError(
            f"{argument} names {unknown}, which are not Dense layers of the model; "
            f"known: {sorted(known)}"
        )
    return list(names)


def check_repeats(repeats: Any) -> int:
    """The number of timed runs: an integer >= 1."""
    if isinstance(repeats, bool) or not isinstance(repeats, (int, np.integer)):
        raise ArgumentTypeError(f"repeats must be an integer >= 1, got {repeats!r}")
    if repeats < 1:
        raise ArgumentError(f"repeats must be an integer >= 1, got {repeats}")
    return int(repeats)


def _prunable(model, layers: list[str] | None) -> list[Dense]:
    model.require_built("prune")
    dense = [layer for layer in model.layers if isinstance(layer, Dense)]
    if layers is None:
        return dense
    layers = check_layer_names("layers", layers, {layer.name for layer in dense})
    return [layer for layer in dense if layer.name in layers]


def _smallest_mask(magnitudes: np.ndarray, sparsity: float) -> np.ndarray:
    """1 everywhere but at the ``round(sparsity * size)`` smallest entries."""
    k = int(round(sparsity * magnitudes.size))
    mask = np.ones(magnitudes.size, dtype=bool)
    if k > 0:
        mask[np.argpartition(magnitudes.ravel(), k - 1)[:k]] = False
    return mask.reshape(magnitudes.shape)


def magnitude(
    model,
    sparsity: float,
    scope: str = "layer",
    layers: list[str] | None = None,
):
    """Zero the fraction ``sparsity`` of Dense kernel weights with the smallest ``|w|``.

    ``scope="layer"`` prunes each kernel to that sparsity; ``"global"`` ranks all
    kernels together (wide layers then lose more). ``layers`` limits pruning to
    the named Dense layers. The masks stay attached until :func:`strip`.
    Returns ``model`` (changed in place).
    """
    sparsity = check_fraction("sparsity", sparsity)
    if scope not in SCOPES:
        raise ArgumentError(f"scope must be 'layer' or 'global', got {scope!r}")
    targets = _prunable(model, layers)
    kernels = {layer.name: np.abs(model.backend.to_numpy(layer.kernel)) for layer in targets}
    if scope == "layer":
        masks = {name: _smallest_mask(k, sparsity) for name, k in kernels.items()}
    else:
        flat = np.concatenate([k.ravel() for k in kernels.values()])
        keep = _smallest_mask(flat, sparsity)
        masks, start = {}, 0
        for name, k in kernels.items():
            masks[name] = keep[start : start + k.size].reshape(k.shape)
            start += k.size
    _attach(model, {name: m.astype(model.dtype) for name, m in masks.items()}, scope)
    return model


# --- schedules --------------------------------------------------------------------------


class PruningSchedule:
    """When to prune (``should_prune(step)``) and to what sparsity (``sparsity(step)``)."""

    def __init__(self, begin_step: int, end_step: int, frequency: int):
        for name, value in (("begin_step", begin_step), ("frequency", frequency)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ArgumentError(f"{name} must be an integer >= 0, got {value!r}")
        if frequency < 1:
            raise ArgumentError(f"frequency must be >= 1, got {frequency}")
        if (
            isinstance(end_step, bool)
            or not isinstance(end_step, int)
            or (end_step != -1 and end_step < begin_step)
        ):
            raise ArgumentError(f"end_step must be -1 or >= begin_step, got {end_step!r}")
        self.begin_step, self.end_step, self.frequency = begin_step, end_step, frequency

    def should_prune(self, step: int) -> bool:
        in_range = step >= self.begin_step and (self.end_step == -1 or step <= self.end_step)
        return in_range and (step - self.begin_step) % self.frequency == 0

    def sparsity(self, step: int) -> float:
        raise NotImplementedError


class ConstantSparsity(PruningSchedule):
    """Prune to ``target_sparsity`` every ``frequency`` steps from ``begin_step`` (TF-MOT)."""

    def __init__(
        self, target_sparsity: float, begin_step: int = 0, end_step: int = -1, frequency: int = 100
    ):
        super().__init__(begin_step, end_step, frequency)
        self.target_sparsity = check_fraction("target_sparsity", target_sparsity)

    def sparsity(self, step: int) -> float:
        return self.target_sparsity


class PolynomialDecay(PruningSchedule):
    """Sparsity rising from ``initial`` to ``final`` between ``begin_step`` and ``end_step``:

    s(t) = s_f + (s_i - s_f) * (1 - (t - t_0) / (t_1 - t_0))^power      (TF-MOT, power 3)
    """

    def __init__(
        self,
        initial_sparsity: float,
        final_sparsity: float,
        begin_step: int,
        end_step: int,
        power: float = 3,
        frequency: int = 100,
    ):
        super().__init__(begin_step, end_step, frequency)
        if end_step <= begin_step:
            raise ArgumentError(f"end_step ({end_step}) must be > begin_step ({begin_step})")
        self.initial_sparsity = check_fraction("initial_sparsity", initial_sparsity)
        self.final_sparsity = check_fraction("final_sparsity", final_sparsity)
        self.power = float(power)

    def should_prune(self, step: int) -> bool:
        # the final sparsity is always reached at end_step, whatever the frequency
        return super().should_prune(step) or step == self.end_step

    def sparsity(self, step: int) -> float:
        progress = min(1.0, max(0.0, (step - self.begin_step) / (self.end_step - self.begin_step)))
        return (
            self.final_sparsity
            + (self.initial_sparsity - self.final_sparsity) * (1.0 - progress) ** self.power
        )


class PruningCallback(Callback):
    """Apply a :class:`PruningSchedule` during ``fit``: after each optimizer step ``t``
    where ``schedule.should_prune(t)``, re-prune to ``schedule.sparsity(t)``.

    Masks are recomputed from the current magnitudes, so weights pruned earlier
    (exact zeros, the smallest) stay pruned while the sparsity rises.
    """

    def __init__(self, schedule: PruningSchedule, scope: str = "layer", layers=None):
        super().__init__()
        if not isinstance(schedule, PruningSchedule):
            raise ArgumentTypeError(f"schedule must be a PruningSchedule, got {schedule!r}")
        if scope not in SCOPES:
            raise ArgumentError(f"scope must be 'layer' or 'global', got {scope!r}")
        self.schedule, self.scope, self.layers = schedule, scope, layers

    def on_train_begin(self, logs=None):
        self.log: list[tuple[int, float]] = []
        if self.schedule.should_prune(self.model.optimizer.iterations):
            self._prune(self.model.optimizer.iterations)

    def on_train_batch_end(self, batch, logs=None):
        step = self.model.optimizer.iterations
        if self.schedule.should_prune(step):
            self._prune(step)

    def _prune(self, step: int) -> None:
        target = self.schedule.sparsity(step)
        magnitude(self.model, target, self.scope, self.layers)
        self.log.append((step, target))


# --- neuron pruning -----------------------------------------------------------------------


def _hidden_dense(model) -> list[int]:
    dense = [i for i, layer in enumerate(model.layers) if isinstance(layer, Dense)]
    return dense[:-1]


def _signal_into_next(model, index: int, x: np.ndarray) -> np.ndarray:
    """What hidden layer ``index`` hands the next Dense layer (after BN/Dropout), on ``x``."""
    signal = model.backend.asarray(x)
    for position, layer in enumerate(model.layers):
        signal = layer.forward(signal, False)
        if position >= index and (
            position + 1 == len(model.layers) or isinstance(model.layers[position + 1], Dense)
        ):
            return model.backend.to_numpy(signal).copy()
    raise AssertionError("unreachable: a hidden Dense layer is followed by a Dense layer")


def l2_scores(model, index: int, x=None) -> np.ndarray:
    """L2 norm of each unit's kernel column (its incoming weights)."""
    kernel = model.backend.to_numpy(model.layers[index].kernel).astype(np.float64)
    return np.sqrt((kernel**2).sum(axis=0))


def activation_scores(model, index: int, x) -> np.ndarray:
    """Mean |signal| each unit hands the next Dense layer (after BatchNormalization) on ``x``."""
    if x is None:
        raise ArgumentError("criterion='activation' needs sample inputs: pass x=...")
    return np.abs(_signal_into_next(model, index, x)).mean(axis=0)


#: named criteria ``criterion(model, layer_index, x) -> scores`` (higher = keep);
#: other modules add theirs with :func:`register_criterion` (e.g. "importance")
CRITERIA: dict[str, Callable] = {"l2": l2_scores, "activation": activation_scores}


def register_criterion(name: str, criterion: Callable) -> None:
    """Make ``neurons(..., criterion=name)`` use ``criterion(model, layer_index, x)``."""
    if not isinstance(name, str) or not callable(criterion):
        raise ArgumentTypeError("register_criterion takes a name and a callable")
    CRITERIA[name] = criterion


def _scores(model, index: int, criterion, x) -> np.ndarray:
    layer = model.layers[index]
    if not callable(criterion):
        if criterion not in CRITERIA:
            raise ArgumentError(
                f"criterion must be one of {sorted(CRITERIA)} or a callable "
                f"criterion(model, layer_index, x) -> scores, got {criterion!r}"
            )
        criterion = CRITERIA[criterion]
    scores = np.asarray(criterion(model, index, x), dtype=np.float64)
    if scores.shape != (layer.units,) or not np.isfinite(scores).all():
        raise InputError(
            f"criterion scores for layer {layer.name!r} must be {layer.units} finite numbers, "
            f"got shape {scores.shape}"
        )
    return scores


def _removal_counts(model, hidden: list[int], amount) -> dict[int, int]:
    units = {i: model.layers[i].units for i in hidden}
    if isinstance(amount, (float, np.floating)) and not isinstance(amount, bool):
        fraction = check_fraction("fraction", amount)
        return {i: min(n - 1, int(round(fraction * n))) for i, n in units.items()}
    if isinstance(amount, dict):
        names = {model.layers[i].name: i for i in hidden}
        unknown = [name for name in amount if name not in names]
        if unknown:
            raise ArgumentError(f"{unknown} are not hidden Dense layers; hidden: {list(names)}")
        counts = {i: 0 for i in hidden}
        counts.update({names[name]: count for name, count in amount.items()})
    elif isinstance(amount, (list, tuple)):
        if len(amount) != len(hidden):
            raise ArgumentError(
                f"per-layer counts must have one entry per hidden Dense layer "
                f"({len(hidden)}), got {len(amount)}"
            )
        counts = dict(zip(hidden, amount))
    else:
        raise ArgumentTypeError(
            f"amount must be a fraction in [0, 1), a list of counts or a dict "
            f"{{layer name: count}}, got {amount!r}"
        )
    for i, count in counts.items():
        if isinstance(count, bool) or not isinstance(count, (int, np.integer)):
            raise ArgumentTypeError(f"unit counts must be integers, got {count!r}")
        if not 0 <= count < units[i]:
            raise ArgumentError(
                f"cannot remove {count} of the {units[i]} units of {model.layers[i].name!r}: "
                "at least one unit must stay"
            )
    return {i: int(c) for i, c in counts.items()}


def _check_between(model, hidden: list[int]) -> None:
    """Only weightless layers and per-unit ones (BatchNormalization) may sit between Dense."""
    for layer in model.layers[hidden[0] :]:
        if isinstance(layer, Dense) or not layer.count_params():
            continue
        if type(layer).__name__ != "BatchNormalization":
            raise ArgumentError(
                f"neuron pruning cannot slice layer {layer.name!r} "
                f"({type(layer).__name__}): only Dense, BatchNormalization and weightless "
                "layers are supported after the first Dense layer"
            )


def neurons(
    model,
    amount: float | list[int] | dict[str, int],
    criterion: str | Callable = "l2",
    x: Any = None,
    compensate: bool = True,
):
    """A new, smaller Sequential without the least important units of each hidden Dense layer.

    ``amount`` is a fraction of each hidden layer's units, a list of counts (one
    per hidden Dense layer) or ``{layer name: count}``; the output layer is never
    touched. ``criterion``: ``"l2"`` (norm of the unit's kernel column, its
    incoming weights), ``"activation"`` (mean ``|a|`` on ``x`` of what the unit
    feeds the next Dense layer, after BatchNormalization), or a callable
    ``criterion(model, layer_index, x) -> scores`` (higher = keep), or a name added
    with :func:`register_criterion` (the hook for ``"importance"``). With ``x`` and
    ``compensate``, the mean signal of each removed unit is folded into the next
    layer's bias (``b' = b + mean(a_removed) @ W_removed_rows``).
    The result is compiled like ``model`` (fresh optimizer state) and can be fine-tuned.
    """
    from ..model import Sequential

    model.require_built("prune neurons")
    hidden = _hidden_dense(model)
    if not hidden:
        raise ArgumentError("the model has no hidden Dense layer: nothing to prune")
    _check_between(model, hidden)
    if criterion == "activation" and x is None:
        raise ArgumentError("criterion='activation' needs sample inputs: pass x=...")
    if x is not None:
        from ..validation import check_x

        x = check_x(x, model.dtype, model.input_dim)
    counts = _removal_counts(model, hidden, amount)
    keep: dict[int, np.ndarray] = {}
    bias_shift: dict[int, np.ndarray] = {}
    for i in hidden:
        scores = _scores(model, i, criterion, x)
        order = np.argsort(-scores, kind="stable")
        keep[i] = np.sort(order[: model.layers[i].units - counts[i]])
        if x is not None and compensate and counts[i]:
            removed = np.setdiff1d(np.arange(model.layers[i].units), keep[i])
            bias_shift[i] = _signal_into_next(model, i, x)[:, removed].mean(0), removed

    config = model.get_config()
    for i in hidden:
        config["layers"][i]["config"]["units"] = int(len(keep[i]))
    smaller = Sequential.from_config(config)
    if not smaller.built:
        smaller.build(model.input_dim)
    weights = _sliced_weights(model, keep, bias_shift)
    smaller.set_weights(weights)
    smaller = smaller._settings_from(model)
    smaller.metadata.pop(METADATA_KEY, None)
    return smaller


def _sliced_weights(model, keep: dict[int, np.ndarray], bias_shift: dict) -> list[np.ndarray]:
    """The weights of the smaller model, in ``get_weights`` order."""
    kept_in: dict[int, np.ndarray | None] = {}  # kept features entering each layer
    shift: dict[int, tuple] = {}  # Dense layer -> (mean removed signal, removed rows)
    incoming, source = None, None
    for i, layer in enumerate(model.layers):
        kept_in[i] = incoming
        if isinstance(layer, Dense):
            if source in bias_shift:
                shift[i] = bias_shift[source]
            incoming, source = (keep[i], i) if i in keep else (None, None)
    index_of = {id(layer): i for i, layer in enumerate(model.layers)}
    weights = []
    for layer, spec, weight in model.weight_index:
        i = index_of[id(layer)]
        array = model.backend.to_numpy(weight).copy()
        if isinstance(layer, Dense) and spec.name == "kernel":
            if kept_in[i] is not None:
                array = array[kept_in[i], :]
            if i in keep:
                array = array[:, keep[i]]
        elif isinstance(layer, Dense) and spec.name == "bias":
            if i in shift:
                mean_signal, removed = shift[i]
                kernel = model.backend.to_numpy(layer.kernel).astype(np.float64)
                array = (array + mean_signal @ kernel[removed, :]).astype(array.dtype)
            if i in keep:
                array = array[keep[i]]
        elif kept_in[i] is not None:  # per-unit weights (BatchNormalization)
            array = array[kept_in[i]]
        weights.append(array)
    return weights


# --- sparse inference ---------------------------------------------------------------------


class SparseInference:
    """Inference for a pruned model: each Dense product dense or CSR, as measured.

    ``choices`` holds, per Dense layer: its sparsity, the measured dense and
    sparse times (seconds per call on the sample) and whether CSR is used.
    """

    def __init__(self, model, sparse_kernels: dict[str, Any], choices: list[dict]):
        self.model = model
        self.sparse_kernels = sparse_kernels  # layer name -> CSR of kernel.T (units, inputs)
        self.choices = choices

    def _dense_forward(self, layer: Dense, x: np.ndarray) -> np.ndarray:
        csr_t = self.sparse_kernels.get(layer.name)
        if csr_t is None:
            z = x @ layer.kernel
        else:
            z = np.ascontiguousarray((csr_t @ x.T).T)
        if layer.use_bias:
            z += layer.bias
        return layer.activation.forward(np, z)

    def predict(self, x: Any, batch_size: int | None = None) -> np.ndarray:
        from ..validation import check_batch_size, check_x

        model = self.model
        x = check_x(x, model.dtype, model.input_dim)
        batch_size = check_batch_size(batch_size, 1024)
        out = []
        for start in range(0, len(x), batch_size):
            signal = x[start : start + batch_size]
            for layer in model.layers:
                if isinstance(layer, Dense):
                    signal = self._dense_forward(layer, signal)
                else:
                    signal = layer.forward(signal, False)
            out.append(np.array(signal, copy=True))
        return np.concatenate(out)  # check_x guarantees at least one row


def best_time(function: Callable[[], Any], repeats: int) -> float:
    repeats = check_repeats(repeats)
    function()  # warm-up
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return best


def time_products(kernel: np.ndarray, x: np.ndarray, repeats: int = 5) -> tuple[float, float]:
    """Best-of-``repeats`` seconds for ``x @ kernel`` dense and with CSR (``(K^T x^T)^T``)."""
    sparse = require("scipy.sparse", "sklearn", "sparse inference")
    csr_t = sparse.csr_matrix(np.ascontiguousarray(kernel.T))
    dense_time = best_time(lambda: x @ kernel, repeats)
    sparse_time = best_time(lambda: np.ascontiguousarray((csr_t @ x.T).T), repeats)
    return dense_time, sparse_time


def sparse_inference(
    model, x_sample: Any, repeats: int = 5, min_sparsity: float = 0.5
) -> SparseInference:
    """Time dense vs CSR products per Dense layer on ``x_sample``; use CSR where faster.

    Layers below ``min_sparsity`` are not timed (CSR cannot win there). Needs
    NumPy inference (CPU backend) and scipy.
    """
    from ..validation import check_x

    repeats = check_repeats(repeats)
    min_sparsity = check_fraction("min_sparsity", min_sparsity, allow_one=True)
    sparse = require("scipy.sparse", "sklearn", "sparse inference")
    model.require_built("run sparse inference")
    if model.backend.xp is not np:
        raise ArgumentError("sparse inference runs on the CPU backend only")
    signal = check_x(x_sample, model.dtype, model.input_dim)
    sparse_kernels, choices = {}, []
    for layer in model.layers:
        if isinstance(layer, Dense):
            kernel = np.asarray(layer.kernel)
            zero_fraction = float((kernel == 0).mean())
            choice = {"layer": layer.name, "sparsity": zero_fraction, "sparse": False}
            if zero_fraction >= min_sparsity:
                dense_time, sparse_time = time_products(kernel, signal, repeats)
                choice.update(dense_seconds=dense_time, sparse_seconds=sparse_time)
                if sparse_time < dense_time:
                    choice["sparse"] = True
                    sparse_kernels[layer.name] = sparse.csr_matrix(np.ascontiguousarray(kernel.T))
            choices.append(choice)
        signal = np.array(layer.forward(signal, False), copy=True)
    return SparseInference(model, sparse_kernels, choices)


__all__ = [
    "magnitude",
    "strip",
    "reattach",
    "sparsity",
    "masks_of",
    "PruningMasks",
    "PruningSchedule",
    "ConstantSparsity",
    "PolynomialDecay",
    "PruningCallback",
    "neurons",
    "register_criterion",
    "CRITERIA",
    "sparse_inference",
    "SparseInference",
    "time_products",
]
