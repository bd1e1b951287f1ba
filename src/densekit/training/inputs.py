"""Checking what ``fit``, ``evaluate`` and ``train_on_batch`` are given, for a model.

Shapes, feature counts, targets (prepared by the loss), sample weights and a
DataFrame's column names, checked against the model without changing it; what fit
then takes from them (the input width, the column names) is :func:`adopt_inputs`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .. import losses as losses_module
from ..errors import InputError
from ..validation import check_same_length, check_sample_weight, check_x, column_names

if TYPE_CHECKING:
    from ..model import Sequential


def check_inputs(
    model: Sequential,
    x: Any,
    y: Any,
    sample_weight: Any,
    building: bool = False,
    n_features: int | None = None,
    feature_names: list[str] | None = None,
):
    """x, y, sample_weight checked and converted, without changing the model.

    With ``building``, an unbuilt model is checked as it would be built for ``x``;
    ``n_features`` and ``feature_names`` stand in for the model's own until a first
    fit sets them (for validation data checked beside the training data).

    Parameters
    ----------
    model
        A compiled model.
    x
    y
    sample_weight
        The data as the user gave it (``sample_weight`` may be None).
    building
        Whether an unbuilt model may be checked as built for ``x``.
    n_features
        The width to check ``x`` against when the model is unbuilt.
    feature_names
        The columns to check a DataFrame against instead of the model's.

    Returns
    -------
    tuple
        ``(x, y, sample_weight)``: float arrays, targets shaped like the output.

    Raises
    ------
    InputError
        For missing targets, mismatched lengths, bad shapes or columns.
    """
    if y is None:
        raise InputError("y is None; fit and evaluate need targets")
    y = encode_labels(model, y)
    check_feature_names(model, x, fitted=feature_names)
    x = check_x(x, model.dtype, model.input_dim if model.built else n_features)
    n_targets = np.shape(y)[0] if np.ndim(y) > 0 else None
    if n_targets is None:
        raise InputError("y must be an array of targets, got a scalar")
    check_same_length(x, np.empty(n_targets))
    if model.built:
        n_outputs = model.output_dim
    else:
        if not building:
            model.require_built("evaluate")
        n_outputs = model.planned_output_dim(x.shape[1])
    y = model.loss.prepare_targets(y, n_outputs, model.dtype)
    sample_weight = check_sample_weight(sample_weight, x.shape[0], model.dtype)
    return x, y, sample_weight


def adopt_inputs(model: Sequential, x: Any, n_features: int) -> None:
    """What fit takes from checked inputs: the input width and a DataFrame's column names.

    The width builds an unbuilt model; the names are kept when the model has none yet.

    Parameters
    ----------
    model
        The model to build and name the columns of.
    x
        The inputs as given (a DataFrame's columns are recorded).
    n_features
        The checked input width.
    """
    check_feature_names(model, x, record=True)
    model.build(n_features)


def check_feature_names(
    model: Sequential, x: Any, record: bool = False, fitted: list[str] | None = None
) -> None:
    """A DataFrame's columns must be the ones the model was fitted on, in that order.

    Those are ``fitted``, by default the model's ``feature_names``.

    Parameters
    ----------
    model
        The model whose ``feature_names`` to check against.
    x
        The inputs; only a DataFrame has column names to check.
    record
        Record ``x``'s columns when the model has none yet.
    fitted
        The columns to check against instead of the model's.

    Raises
    ------
    InputError
        When the columns differ or come in another order.
    """
    if getattr(x, "columns", None) is None:  # not a DataFrame (predict's common case)
        return
    names = column_names(x)
    fitted = model.feature_names if fitted is None else fitted
    if fitted is None:
        if record:
            model.feature_names = names
        return
    if names == fitted:
        return
    missing = [name for name in fitted if name not in names]
    extra = [name for name in names if name not in fitted]
    if not missing and not extra:
        problem = "has the fitted columns in another order"
    else:
        problem = f"lacks columns {missing[:10]} and has unknown columns {extra[:10]}"
    raise InputError(
        f"x {problem}; the model was fitted on the columns {fitted[:20]}"
        + (" ..." if len(fitted) > 20 else "")
        + ": select them in that order, e.g. x[feature_names]"
    )


def encode_labels(model: Sequential, y: Any, record: bool = False) -> Any:
    """Text class labels as their indices in ``model.class_names``; other ``y`` as it is.

    The first fit on text labels records their sorted distinct values as
    ``model.class_names`` (``record``); after that, the same labels map to the same
    indices, and ``class_names[argmax(predict(x))]`` names a prediction.

    Parameters
    ----------
    model
        A compiled model.
    y
        Targets as the user gives them.
    record
        Record the class names when the model has none (fit does).

    Returns
    -------
    array-like
        Integer class indices for text labels, else ``y`` itself.

    Raises
    ------
    InputError
        For text targets with a regression loss, labels the model was not fit on, or
        text labels before any fit on them.
    """
    array = np.asarray(y) if not isinstance(y, np.ndarray) else y
    if array.dtype.kind not in "USO" or (array.dtype.kind == "O" and not _all_text(array)):
        return y
    if model.loss is None or model.loss.fuses_with is None:
        raise InputError(
            f"y holds text ({array.dtype}), but the loss {getattr(model.loss, 'name', None)!r} "
            "needs numbers; text class labels need a classification loss "
            "(sparse_categorical_crossentropy, or binary_crossentropy for two classes)"
        )
    if array.ndim != 1:
        raise InputError(f"text class labels must be 1-D (samples,), got shape {array.shape}")
    labels = array.astype(str)
    names = model.class_names
    if names is None:
        if not record:
            raise InputError(
                "y holds text labels, but this model was not fit on text labels: fit it on "
                "them first (their sorted order becomes the class indices, model.class_names)"
            )
        names = model.class_names = [str(name) for name in np.unique(labels)]
    known = np.asarray(names)
    index = np.searchsorted(known, labels).clip(0, len(known) - 1)
    unknown = labels[known[index] != labels]
    if unknown.size:
        raise InputError(
            f"y has labels {sorted(set(unknown.tolist()))[:10]} not among the classes the "
            f"model was fit on, model.class_names = {names[:20]}"
        )
    return index


def _all_text(array: np.ndarray) -> bool:
    return array.size > 0 and all(isinstance(value, str) for value in array.ravel()[:1000])


def class_labels(model: Sequential, y: np.ndarray) -> np.ndarray | None:
    """Class labels for stratification and class weights (None for regression).

    Parameters
    ----------
    model
        A compiled model (its loss says whether it classifies).
    y
        Prepared targets, shaped like the output.

    Returns
    -------
    numpy.ndarray or None
        One integer label a row.
    """
    if model.loss.fuses_with is None:
        return None
    if y.shape[1] == 1:
        return (y[:, 0] > 0.5).astype(np.int64)
    return y.argmax(axis=1)


def batch_targets(model: Sequential, y: Any) -> np.ndarray:
    """``y`` as the loss prepares it, or targets already shaped like the output.

    Parameters
    ----------
    model
        A built, compiled model.
    y
        Targets as the user gives them, or one-hot rows for a sparse loss.

    Returns
    -------
    numpy.ndarray
        Targets shaped ``(samples, outputs)``.
    """
    loss, n_outputs = model.loss, model.output_dim
    if (
        isinstance(loss, losses_module.SparseCategoricalCrossentropy)
        and np.ndim(y) == 2
        and np.shape(y)[1] == n_outputs > 1
    ):
        # the one-hot rows the sparse loss keeps internally: checked as one-hot targets
        return losses_module.CategoricalCrossentropy.prepare_targets(
            loss, y, n_outputs, model.dtype
        )
    return loss.prepare_targets(y, n_outputs, model.dtype)
