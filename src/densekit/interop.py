"""PyTorch conversion: ``torch.nn.Sequential`` to a densekit Sequential and back.

    nn.Linear(n, m)          Dense(m): kernel = weight.T (n, m), bias = bias
    activation modules       the activation of the Dense before them
    nn.Dropout(p)            Dropout(p)
    nn.BatchNorm1d(m)        BatchNormalization(momentum = 1 - torch momentum, epsilon = eps),
                             gamma = weight, beta = bias, moving_mean = running_mean,
                             moving_variance = running_var

The running variance is copied as is: PyTorch updates it with the unbiased
batch variance and densekit with the biased one, but both hold an estimate of
the population variance, which is what inference divides by; outputs at
inference are the same formula on the same numbers.

``Sequential.to_torch`` calls :func:`to_torch` through ``densekit.model.CONVERTERS``,
where this module registers it ("torch") when densekit imports it: the model (a lower
tier) never imports this module. torch itself is imported only when a conversion runs.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import ArgumentError, ArgumentTypeError, require
from .layers import Activation, BatchNormalization, Dense, Dropout
from .model import CONVERTERS, Sequential

SUPPORTED = (
    "Linear, ReLU, LeakyReLU, ELU, GELU(approximate='none'), Sigmoid, Tanh, Softmax(dim=1 or -1), "
    "Softplus(beta=1, threshold=20), SiLU, Identity, Dropout, BatchNorm1d"
)


def _torch():
    return require("torch", "torch", "PyTorch conversion")


def from_torch(module: Any, dtype: str | None = None, name: str = "sequential") -> Sequential:
    """A densekit Sequential that computes what ``module`` computes, weights copied.

    Parameters
    ----------
    module
        A ``torch.nn.Sequential`` that starts with ``nn.Linear``, of the modules in
        :data:`SUPPORTED`.
    dtype
        ``"float32"`` or ``"float64"``; None takes the module's parameter dtype.
    name
        The model's name.

    Returns
    -------
    Sequential
        The built model.

    Raises
    ------
    ArgumentTypeError
        If ``module`` is not an ``nn.Sequential``.
    ArgumentError
        If it does not start with ``nn.Linear``, or holds a module (or a setting, such as
        ``GELU(approximate="tanh")``) densekit has no equivalent for.

    Examples
    --------
    >>> net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))
    >>> model = dk.from_torch(net)
    >>> [layer.activation.name for layer in model.layers]
    ['relu', 'linear']
    """
    torch = _torch()
    nn = torch.nn
    if not isinstance(module, nn.Sequential):
        raise ArgumentTypeError(
            f"from_torch takes a torch.nn.Sequential, got {type(module).__name__}"
        )
    children = list(module.children())
    if not children or not isinstance(children[0], nn.Linear):
        raise ArgumentError("from_torch needs an nn.Sequential that starts with nn.Linear")
    if dtype is None:
        dtype = "float64" if next(module.parameters()).dtype == torch.float64 else "float32"
    layers, weights = [], []
    for index, child in enumerate(children):
        activation = _activation_of(nn, child, index)
        if activation is not None:
            previous = layers[-1] if layers else None
            if isinstance(previous, Dense) and previous.activation.name == "linear":
                layers[-1] = _with_activation(previous, activation)
            elif activation != "linear":  # after BatchNorm1d, Dropout or another activation
                layers.append(Activation(activation))
        elif isinstance(child, nn.Linear):
            layers.append(Dense(child.out_features, use_bias=child.bias is not None))
            weights.append(_numpy(child.weight).T)
            if child.bias is not None:
                weights.append(_numpy(child.bias))
        elif isinstance(child, nn.Dropout):
            layers.append(Dropout(float(child.p)))
        elif isinstance(child, nn.BatchNorm1d):
            layers.append(_batch_norm(child, index))
            if child.affine:
                weights += [_numpy(child.weight), _numpy(child.bias)]
            weights += [_numpy(child.running_mean), _numpy(child.running_var)]
        else:
            raise ArgumentError(
                f"module {index} ({child!r}) has no densekit equivalent; supported: {SUPPORTED}"
            )
    model = Sequential(layers, name=name, dtype=dtype)
    model.build(children[0].in_features)
    model.set_weights(weights)
    return model


def to_torch(model: Sequential) -> Any:
    """A ``torch.nn.Sequential``, in eval mode, that computes what ``model`` computes.

    Parameters
    ----------
    model
        A built :class:`~densekit.Sequential` of Dense, Activation, Dropout and
        BatchNormalization layers.

    Returns
    -------
    torch.nn.Sequential
        The module, weights copied, in ``model``'s dtype.

    Raises
    ------
    ArgumentError
        If a layer (or its activation) has no PyTorch equivalent.
    """
    torch = _torch()
    nn = torch.nn
    model.require_built("convert to PyTorch")
    dtype = torch.float64 if model.dtype == np.float64 else torch.float32
    modules = []
    for layer in model.layers:
        weights = {key: model.backend.to_numpy(value) for key, value in layer.weights.items()}
        if isinstance(layer, Dense):
            linear = nn.Linear(layer.input_dim, layer.units, bias=layer.use_bias, dtype=dtype)
            with torch.no_grad():
                linear.weight.copy_(torch.from_numpy(weights["kernel"].T.copy()))
                if layer.use_bias:
                    linear.bias.copy_(torch.from_numpy(weights["bias"]))
            modules.append(linear)
            activation = _torch_activation(nn, layer)
            if activation is not None:
                modules.append(activation)
        elif isinstance(layer, Activation):
            activation = _torch_activation(nn, layer)
            modules.append(activation if activation is not None else nn.Identity())
        elif isinstance(layer, Dropout):
            modules.append(nn.Dropout(layer.rate))
        elif isinstance(layer, BatchNormalization):
            modules.append(_torch_batch_norm(torch, layer, weights, dtype))
        else:
            raise ArgumentError(
                f"layer {layer.name!r} ({type(layer).__name__}) has no PyTorch conversion; "
                "supported: Dense, Activation, Dropout, BatchNormalization"
            )
    return nn.Sequential(*modules).eval()


CONVERTERS.register("torch", to_torch)


# --- activations -------------------------------------------------------------------


def _activation_of(nn, child, index: int) -> str | dict | None:
    """The densekit activation for an activation module, or None for other modules."""
    simple = {
        nn.ReLU: "relu",
        nn.Sigmoid: "sigmoid",
        nn.Tanh: "tanh",
        nn.SiLU: "swish",
        nn.Identity: "linear",
    }
    for cls, name in simple.items():
        if type(child) is cls:
            return name
    if type(child) is nn.LeakyReLU:
        return {"name": "leaky_relu", "negative_slope": float(child.negative_slope)}
    if type(child) is nn.ELU:
        return {"name": "elu", "alpha": float(child.alpha)}
    if type(child) is nn.GELU:
        if child.approximate != "none":
            raise ArgumentError(
                f"module {index} is GELU(approximate={child.approximate!r}); densekit's gelu is "
                "the exact one (approximate='none'), so the tanh approximation is refused"
            )
        return "gelu"
    if type(child) is nn.Softmax:
        if child.dim not in (1, -1):
            raise ArgumentError(
                f"module {index} is Softmax(dim={child.dim}); densekit's softmax is over the "
                "features, dim=1 (or -1)"
            )
        return "softmax"
    if type(child) is nn.Softplus:
        if child.beta != 1 or child.threshold != 20:
            raise ArgumentError(
                f"module {index} is Softplus(beta={child.beta}, threshold={child.threshold}); "
                "densekit's softplus is log(1 + exp(z)), beta=1 and the default threshold=20"
            )
        return "softplus"
    return None


def _with_activation(dense: Dense, activation) -> Dense:
    config = dense.get_config()
    config["activation"] = activation
    return Dense.from_config(config)


def _torch_activation(nn, layer: Dense):
    name, params = layer.activation.name, layer.activation.params
    makers = {
        "linear": lambda: None,
        "relu": nn.ReLU,
        "sigmoid": nn.Sigmoid,
        "tanh": nn.Tanh,
        "swish": nn.SiLU,
        "gelu": lambda: nn.GELU(approximate="none"),
        "softmax": lambda: nn.Softmax(dim=1),
        "softplus": nn.Softplus,
        "leaky_relu": lambda: nn.LeakyReLU(params.get("negative_slope", 0.2)),
        "elu": lambda: nn.ELU(params.get("alpha", 1.0)),
    }
    if name not in makers:
        raise ArgumentError(f"activation {name!r} of layer {layer.name!r} has no PyTorch module")
    return makers[name]()


# --- batch normalization -------------------------------------------------------------


def _batch_norm(child, index: int) -> BatchNormalization:
    if child.momentum is None:
        raise ArgumentError(
            f"module {index} is BatchNorm1d(momentum=None) (a cumulative average); densekit "
            "keeps an exponential moving average: give a momentum in [0, 1]"
        )
    if not child.track_running_stats:
        raise ArgumentError(
            f"module {index} is BatchNorm1d(track_running_stats=False); densekit needs the "
            "running statistics it uses at inference"
        )
    return BatchNormalization(
        momentum=1.0 - float(child.momentum),
        epsilon=float(child.eps),
        center=bool(child.affine),
        scale=bool(child.affine),
    )


def _torch_batch_norm(torch, layer: BatchNormalization, weights: dict, dtype):
    if layer.center != layer.scale:
        raise ArgumentError(
            f"layer {layer.name!r} has center={layer.center}, scale={layer.scale}; "
            "nn.BatchNorm1d's affine sets both together"
        )
    module = torch.nn.BatchNorm1d(
        layer.input_dim,
        eps=layer.epsilon,
        momentum=1.0 - layer.momentum,
        affine=layer.scale,
        dtype=dtype,
    )
    with torch.no_grad():
        if layer.scale:
            module.weight.copy_(torch.from_numpy(weights["gamma"]))
            module.bias.copy_(torch.from_numpy(weights["beta"]))
        module.running_mean.copy_(torch.from_numpy(weights["moving_mean"]))
        module.running_var.copy_(torch.from_numpy(weights["moving_variance"]))
    return module


def _numpy(tensor) -> np.ndarray:
    return tensor.detach().cpu().numpy().copy()
