"""DenseRegressor: scikit-learn's ``MLPRegressor`` on densekit, with MLP's half squared error."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from sklearn.base import RegressorMixin
from sklearn.metrics import r2_score
from sklearn.utils import column_or_1d
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import _check_sample_weight, validate_data

from .. import losses as dk_losses
from ..mlp import output_head
from .base import DenseBase
from .checks import REGRESSION_LOSSES, check_choice
from .losses import HalfSquaredError

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

    from ..optimizers import Optimizer


class DenseRegressor(RegressorMixin, DenseBase):
    """``MLPRegressor`` on densekit, with MLP's half squared error by default.

    A linear output (``exp`` of it with ``loss='poisson'``), one column per target.

    ``loss`` is 'squared_error' (reported as ``0.5 * mean((p - y)^2)``, MLP's),
    'absolute_error', 'huber' (delta 1) or 'poisson'. Adds ``dropout``,
    ``batch_norm``, ``optimizer``, ``dtype`` and ``validation_loss_curve_``, as
    :class:`DenseClassifier` does; the fitted network is ``model_``.

    Parameters
    ----------
    hidden_layer_sizes
    activation
        As ``sklearn.neural_network.MLPRegressor``'s.
    loss
        'squared_error', 'absolute_error', 'huber' or 'poisson'.
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
        As ``sklearn.neural_network.MLPRegressor``'s.
    dropout
    batch_norm
    optimizer
    dtype
        As :class:`~densekit.sklearn.DenseClassifier`'s.
    """

    def __init__(
        self,
        hidden_layer_sizes: int | tuple[int, ...] = (100,),
        activation: str = "relu",
        *,
        loss: str = "squared_error",
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
        self.loss = loss

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def _output_activation(self) -> str:
        return output_head(1, task="regression").activation

    def _out_activation_name(self) -> str:
        return "exp" if self.loss == "poisson" else "identity"

    def _loss(self) -> dk_losses.Loss:
        check_choice("loss", self.loss, REGRESSION_LOSSES)
        return {
            "squared_error": HalfSquaredError,
            "absolute_error": dk_losses.MeanAbsoluteError,
            "huber": dk_losses.Huber,
            "poisson": lambda: dk_losses.Poisson(log_input=True),
        }[self.loss]()

    def _stratify(self, targets, y_original):
        return None

    def _validate(self, x, y, sample_weight, reset: bool):
        x, y = validate_data(
            self,
            x,
            y,
            reset=reset,
            multi_output=True,
            y_numeric=True,
            accept_sparse=["csr", "csc"],
            dtype=[np.float64, np.float32],
        )
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, x, dtype=np.float64)
        return x, y, sample_weight

    def _targets(self, y) -> np.ndarray:
        return y.reshape(-1, 1) if y.ndim == 1 else y

    def fit(
        self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None
    ) -> DenseRegressor:
        """Fit to ``X`` (n, features) and targets ``y`` (n,) or (n, outputs).

        Parameters
        ----------
        X
            The input rows.
        y
            Targets.
        sample_weight
            Per-row weights.

        Returns
        -------
        DenseRegressor
            self, fitted.

        Raises
        ------
        ArgumentError
            If ``loss`` or another parameter is invalid.
        """
        check_choice("loss", self.loss, REGRESSION_LOSSES)
        x, y, sample_weight = self._validate(X, y, sample_weight, reset=True)
        self._y_ndim = y.ndim
        return self._fit(x, self._targets(y), y, sample_weight, incremental=False)

    @available_if(DenseBase._check_solver)
    def partial_fit(
        self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None
    ) -> DenseRegressor:
        """One epoch over ``(X, y)``, keeping the weights and optimizer state.

        Parameters
        ----------
        X
            The input rows.
        y
            Targets.
        sample_weight
            Per-row weights.

        Returns
        -------
        DenseRegressor
            self.
        """
        first = not hasattr(self, "model_")
        x, y, sample_weight = self._validate(X, y, sample_weight, reset=first)
        if first:
            self._y_ndim = y.ndim
        return self._fit(x, self._targets(y), y, sample_weight, incremental=True)

    def predict(self, X: ArrayLike) -> np.ndarray:
        """Predicted targets: (n,) for a 1-D ``y`` at fit, else (n, outputs).

        Parameters
        ----------
        X
            The input rows.

        Returns
        -------
        numpy.ndarray
            The predictions.
        """
        return self._prediction(self._forward(X))

    def _prediction(self, output):
        if self.loss == "poisson":
            output = np.exp(output)
        return output.ravel() if self._y_ndim == 1 else output

    def _score_output(self, output, y, sample_weight) -> float:
        prediction = self._prediction(output)
        if not np.isfinite(prediction).all():  # a diverging network: MLP scores it NaN
            return float("nan")
        return float(r2_score(y, prediction, sample_weight=sample_weight))
