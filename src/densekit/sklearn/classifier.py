"""DenseClassifier: scikit-learn's ``MLPClassifier`` on densekit (multiclass, binary, multi-label)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.metrics import accuracy_score
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import column_or_1d
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets, type_of_target, unique_labels
from sklearn.utils.validation import _check_sample_weight, validate_data

from .. import losses as dk_losses
from ..errors import InputError
from ..mlp import output_head
from .base import DenseBase
from .losses import SummedBinaryCrossentropy

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

    from ..optimizers import Optimizer

#: LabelBinarizer's target types -> densekit.mlp's tasks
TASKS = {"multiclass": "multiclass", "multilabel-indicator": "multilabel", "binary": "binary"}


class DenseClassifier(ClassifierMixin, DenseBase):
    """``MLPClassifier`` on densekit (multiclass, binary, multi-label).

    Softmax for multiclass, one logistic output for binary, independent logistic
    outputs for multi-label ``y`` (2-D 0/1).

    Adds ``dropout`` (a Dropout of that rate after each hidden layer),
    ``batch_norm`` (a BatchNormalization after each hidden layer's activation),
    ``class_weight`` (dict or 'balanced', multiplied into ``sample_weight``),
    ``optimizer`` (a densekit optimizer or name, overriding ``solver``),
    ``dtype`` (None: the input's float dtype, as MLP; or 'float32' / 'float64')
    and ``validation_loss_curve_`` (with ``early_stopping``: the loss
    on the held-out rows after each epoch, without the penalty). The fitted
    network is ``model_``, a densekit Sequential (save it, export it to ONNX).

    Parameters
    ----------
    hidden_layer_sizes
    activation
    solver
    alpha
    batch_size
    learning_rate
    learning_rate_init
    power_t
    max_iter
    shuffle
    random_state
    tol
    verbose
    warm_start
    momentum
    nesterovs_momentum
    early_stopping
    validation_fraction
    beta_1
    beta_2
    epsilon
    n_iter_no_change
    max_fun
        As ``sklearn.neural_network.MLPClassifier``'s.
    dropout
        The rate of a Dropout after each hidden layer (0: none).
    batch_norm
        A BatchNormalization after each hidden layer's activation.
    class_weight
        Class weights, multiplied into ``sample_weight``.
    optimizer
        Overrides ``solver`` (and its rate settings).
    dtype
        None (the input's float dtype), 'float32' or 'float64'.
    """

    def __init__(
        self,
        hidden_layer_sizes: int | tuple[int, ...] = (100,),
        activation: str = "relu",
        *,
        solver: str = "adam",
        alpha: float = 0.0001,
        batch_size: int | str = "auto",
        learning_rate: str = "constant",
        learning_rate_init: float = 0.001,
        power_t: float = 0.5,
        max_iter: int = 200,
        shuffle: bool = True,
        random_state: int | np.random.RandomState | None = None,
        tol: float = 1e-4,
        verbose: bool = False,
        warm_start: bool = False,
        momentum: float = 0.9,
        nesterovs_momentum: bool = True,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
        n_iter_no_change: int | float = 10,
        max_fun: int = 15000,
        dropout: float = 0.0,
        batch_norm: bool = False,
        class_weight: dict | str | None = None,
        optimizer: str | dict | Optimizer | None = None,
        dtype: str | None = None,
    ):
        super().__init__(
            hidden_layer_sizes,
            activation,
            solver=solver,
            alpha=alpha,
            batch_size=batch_size,
            learning_rate=learning_rate,
            learning_rate_init=learning_rate_init,
            power_t=power_t,
            max_iter=max_iter,
            shuffle=shuffle,
            random_state=random_state,
            tol=tol,
            verbose=verbose,
            warm_start=warm_start,
            momentum=momentum,
            nesterovs_momentum=nesterovs_momentum,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            beta_1=beta_1,
            beta_2=beta_2,
            epsilon=epsilon,
            n_iter_no_change=n_iter_no_change,
            max_fun=max_fun,
            dropout=dropout,
            batch_norm=batch_norm,
            optimizer=optimizer,
            dtype=dtype,
        )
        self.class_weight = class_weight

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags

    def _output_activation(self) -> str:
        task = TASKS.get(self._label_binarizer.y_type_, "binary")
        return output_head(len(self.classes_), task=task).activation

    def _out_activation_name(self) -> str:
        return "softmax" if self._label_binarizer.y_type_ == "multiclass" else "logistic"

    def _loss(self) -> dk_losses.Loss:
        kind = self._label_binarizer.y_type_
        if kind == "multiclass":
            return dk_losses.CategoricalCrossentropy()
        if kind == "multilabel-indicator":
            return SummedBinaryCrossentropy()
        return dk_losses.BinaryCrossentropy()

    def _stratify(self, targets, y_original):
        # MLP's rule: only a one-column target (binary) is stratified, on its 0/1 column
        # as bools (the split's error names the class 'True')
        return targets.astype(bool) if targets.shape[1] == 1 else None

    def _validate(self, x, y, sample_weight, reset: bool):
        x, y = validate_data(
            self,
            x,
            y,
            reset=reset,
            multi_output=True,
            accept_sparse=["csr", "csc"],
            dtype=[np.float64, np.float32],
        )
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, x, dtype=np.float64)
        if self.class_weight is not None:
            class_weights = compute_sample_weight(self.class_weight, y)
            sample_weight = (
                class_weights if sample_weight is None else sample_weight * class_weights
            )
        return x, y, sample_weight

    def _targets(self, y) -> np.ndarray:
        return self._label_binarizer.transform(y)

    def fit(
        self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None
    ) -> DenseClassifier:
        """Fit to ``X`` (n, features) and labels ``y`` (n,) or a 0/1 indicator (n, labels).

        Parameters
        ----------
        X
            The input rows.
        y
            Labels, or a multi-label 0/1 indicator.
        sample_weight
            Per-row weights.

        Returns
        -------
        DenseClassifier
            self, fitted.

        Raises
        ------
        InputError
            If ``y`` has other classes than before under ``warm_start``.
        """
        x, y, sample_weight = self._validate(X, y, sample_weight, reset=True)
        if not (self.warm_start and hasattr(self, "model_")):
            self._set_classes(y, classes=None)
        elif set(unique_labels(y)) != set(self.classes_):
            raise InputError(
                "warm_start can only be used where `y` has the same classes as in the previous "
                f"call to fit. Previously got {self.classes_}, `y` has {unique_labels(y)}"
            )
        return self._fit(x, self._targets(y), y, sample_weight, incremental=False)

    @available_if(DenseBase._check_solver)
    def partial_fit(
        self,
        X: ArrayLike,
        y: ArrayLike,
        sample_weight: ArrayLike | None = None,
        classes: ArrayLike | None = None,
    ) -> DenseClassifier:
        """One epoch over ``(X, y)``; the first call needs ``classes`` (all labels).

        Parameters
        ----------
        X
            The input rows.
        y
            Labels, or a multi-label 0/1 indicator.
        sample_weight
            Per-row weights.
        classes
            Every label (required on the first call, the same after).

        Returns
        -------
        DenseClassifier
            self.

        Raises
        ------
        InputError
            If ``classes`` is missing or changed, or ``y`` has labels outside it.
        """
        first = not hasattr(self, "classes_")
        if first and classes is None:
            raise InputError("classes must be passed on the first call to partial_fit.")
        x, y, sample_weight = self._validate(X, y, sample_weight, reset=first)
        if first:
            self._set_classes(y, classes)
        elif classes is not None and not np.array_equal(np.unique(classes), self.classes_):
            raise InputError(
                f"`classes={np.unique(classes)!r}` is not the same as on last call to "
                f"partial_fit, was: {self.classes_!r}"
            )
        labels = unique_labels(y)
        if len(np.setdiff1d(labels, self.classes_, assume_unique=True)):
            raise InputError(
                f"`y` has classes not in `self.classes_`. `self.classes_` has {self.classes_}. "
                f"'y' has {labels}."
            )
        return self._fit(x, self._targets(y), y, sample_weight, incremental=True)

    def _set_classes(self, y, classes) -> None:
        # as MLP: one class trains a network that always predicts it; a multi-label y
        # defines its labels by its columns, whatever ``classes`` says
        binarizer = LabelBinarizer()
        multilabel = type_of_target(y).startswith("multilabel")
        binarizer.fit(y if classes is None or multilabel else np.asarray(classes))
        self._label_binarizer = binarizer
        self.classes_ = binarizer.classes_

    def predict(self, X: ArrayLike) -> np.ndarray:
        """The most probable class (multi-label: every label with probability > 0.5).

        Parameters
        ----------
        X
            The input rows.

        Returns
        -------
        numpy.ndarray
            Labels (n,), or a 0/1 indicator (n, labels).
        """
        output = self._forward(X)
        return self._labels_from_output(output)

    def _labels_from_output(self, output):
        if self.n_outputs_ == 1:
            output = output.ravel()
        return self._label_binarizer.inverse_transform(output)

    def predict_proba(self, X: ArrayLike) -> np.ndarray:
        """Class probabilities (n, classes); binary: ``[1 - p, p]`` from the one output.

        Parameters
        ----------
        X
            The input rows.

        Returns
        -------
        numpy.ndarray
            Probabilities (n, classes), in ``classes_`` order.
        """
        output = self._forward(X)
        if self.n_outputs_ == 1 and self._label_binarizer.y_type_ != "multilabel-indicator":
            return np.hstack([1.0 - output, output])
        return output

    def predict_log_proba(self, X: ArrayLike) -> np.ndarray:
        """``log(predict_proba(X))``.

        Parameters
        ----------
        X
            The input rows.

        Returns
        -------
        numpy.ndarray
            Log-probabilities (n, classes).
        """
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def _score_output(self, output, y, sample_weight) -> float:
        return float(
            accuracy_score(y, self._labels_from_output(output), sample_weight=sample_weight)
        )
