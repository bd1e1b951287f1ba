"""TabularClassifier and TabularRegressor: a tuned-by-default network for tables.

Where :class:`DenseClassifier` keeps ``MLPClassifier``'s defaults for drop-in use, these
estimators carry a recipe chosen on measurements (``benchmarks/tabular.py``; the choices
and what each bought are in ``benchmarks/RESULTS-tabular.md``), built from densekit's own
layers:

    Scale -> PeriodicEmbedding (numbers with more than two values) ->
    BatchEnsembleDense(width, k, shared input) -> ... -> BatchEnsembleDense(outputs, k)

- a learnable scale per feature (RealMLP's front scale), periodic number embeddings
  (RealMLP's PBLD), and ``k`` ensemble members sharing each kernel (TabM's
  BatchEnsemble), each member trained on its own loss (:class:`~densekit.losses.MemberMean`)
  and their probabilities (or values) averaged;
- AdamW with a short ``beta_2`` and RealMLP's multi-cycle schedule
  (:class:`~densekit.schedules.CosineLogCycles`); label smoothing for classification;
  standardized targets for regression;
- ``validation_fraction`` of the rows held out (stratified): after every epoch the
  ensemble is scored on them, and the best epoch's weights are kept (classification:
  error, ties broken by log loss; regression: squared error); then the temperature
  that minimizes the held-out log loss is fitted, so probabilities are calibrated;
  with ``refit=True`` a second network is trained on all rows for the chosen number
  of epochs, so the held-out rows are not lost to the final model.

Input is a raw table: a pandas DataFrame with text (or category) columns and missing
values, or a numeric array (NaN allowed). :class:`densekit.preprocessing.FeatureEncoder`
encodes it (RealMLP's robust scaling and smooth clip for numbers, a median fill with a
missing indicator, one-hot text, a missing text cell its own level), fitted on the
training rows and kept in ``encoder_``; ``filled_`` says what was filled.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from .. import losses, optimizers, schedules
from ..errors import InputError
from ..layers import BatchEnsembleDense, CategoryEmbedding, Dropout, PeriodicEmbedding, Scale
from ..model import Sequential
from ..preprocessing import FeatureEncoder
from .checks import check_choice, check_integer, check_number

SCHEDULES = ("coslog", "cosine", "constant")


class TabularBase(BaseEstimator):
    """The recipe shared by :class:`TabularClassifier` and :class:`TabularRegressor`.

    Parameters
    ----------
    hidden_layer_sizes
        The hidden widths (each member's; the members share each kernel).
    members
        ``k``, the ensemble size; 1 is a single network.
    embedding
        ``"periodic"`` (PBLD number embeddings) or None.
    front_scale
        Put a learnable per-feature scale first.
    activation
        The hidden layers' activation.
    dropout
        The dropout rate after each hidden layer (0: none).
    learning_rate
        AdamW's peak rate.
    weight_decay
        AdamW's decoupled decay.
    beta_2
        AdamW's second-moment decay (short: 0.95).
    schedule
        ``"coslog"`` (4 cycles), ``"cosine"`` or ``"constant"``.
    batch_size
        Rows per step (at most; a table of fewer than ``8 * batch_size`` rows takes 8
        steps an epoch).
    max_epochs
        The epochs the schedule spans.
    validation_fraction
        The rows held out to choose the epoch (and the temperature).
    refit
        Train again on all rows for the chosen number of epochs.
    max_onehot
        Text columns of at most this many categories are one-hot encoded; those of more
        get a learned 8-wide embedding per category (:class:`~densekit.layers.CategoryEmbedding`).
    random_state
        Seed for the split, the initialization and the batches.
    verbose
        Print a line per epoch.
    """

    _task = "regression"

    def __init__(
        self,
        hidden_layer_sizes: tuple[int, ...] = (128, 128),
        members: int = 8,
        embedding: str | None = "periodic",
        front_scale: bool = True,
        activation: str = "relu",
        dropout: float = 0.0,
        learning_rate: float = 2e-3,
        weight_decay: float = 1e-4,
        beta_2: float = 0.95,
        schedule: str = "coslog",
        batch_size: int = 256,
        max_epochs: int = 64,
        validation_fraction: float = 0.2,
        refit: bool = False,
        max_onehot: int = 64,
        random_state: int | None = None,
        verbose: bool = False,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.members = members
        self.embedding = embedding
        self.front_scale = front_scale
        self.activation = activation
        self.dropout = dropout
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.beta_2 = beta_2
        self.schedule = schedule
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.validation_fraction = validation_fraction
        self.refit = refit
        self.max_onehot = max_onehot
        self.random_state = random_state
        self.verbose = verbose

    # --- checks -------------------------------------------------------------------------
    def _check_params(self) -> tuple[int, ...]:
        sizes = self.hidden_layer_sizes
        if isinstance(sizes, (int, np.integer)):
            sizes = (sizes,)
        sizes = tuple(sizes)
        for i, width in enumerate(sizes):
            check_integer(f"hidden_layer_sizes[{i}]", width, 1)
        check_integer("members", self.members, 1)
        check_choice("embedding", self.embedding, ("periodic", None))
        check_choice("front_scale", self.front_scale, (True, False))
        check_number("dropout", self.dropout, 0.0, 1.0)
        if self.dropout >= 1:
            check_number("dropout", self.dropout, 0.0, 0.99)
        check_number("learning_rate", self.learning_rate, 0.0, open_low=True)
        check_number("weight_decay", self.weight_decay, 0.0)
        check_number("beta_2", self.beta_2, 0.0, 0.9999)
        check_choice("schedule", self.schedule, SCHEDULES)
        check_integer("batch_size", self.batch_size, 1)
        check_integer("max_epochs", self.max_epochs, 1)
        check_number("validation_fraction", self.validation_fraction, 0.0, 0.9)
        check_choice("refit", self.refit, (True, False))
        return sizes

    # --- the network --------------------------------------------------------------------
    def _network(self, x: np.ndarray, n_outputs: int, sizes: tuple[int, ...], seed: int):
        k = self.members
        layers: list = []
        width = x.shape[1]
        passed = np.arange(width)  # the input columns in the order the numbers reach Scale
        codes = getattr(self, "_codes", [])
        if codes:  # high-cardinality text: each column's codes become a learned vector
            layer = CategoryEmbedding(codes, embedding_dim=8, input_dim=width)
            layers.append(layer)
            width = layer.build(width)
            passed = np.setdiff1d(passed, [i for i, _ in codes])
        if self.front_scale:
            layers.append(Scale(lr_factor=6.0, input_dim=None if layers else width))
        if self.embedding == "periodic":
            # numbers with more than two values; 0/1 columns (one-hot, indicators) pass
            columns = [p for p, j in enumerate(passed) if len(np.unique(x[:1000, j])) > 2]
            if columns:
                layers.append(
                    PeriodicEmbedding(columns=columns, input_dim=None if layers else width)
                )
        for i, units in enumerate(sizes):
            first = i == 0
            layers.append(
                BatchEnsembleDense(
                    units,
                    k,
                    self.activation,
                    shared_input=first,
                    kernel_initializer="he_uniform",
                    adapter_initializer="random_sign" if first and k > 1 else "ones",
                    input_dim=width if first and not layers else None,
                )
            )
            if self.dropout:
                layers.append(Dropout(self.dropout))
        layers.append(BatchEnsembleDense(n_outputs, k, shared_input=not sizes))
        return Sequential(layers, seed=seed, dtype="float32")

    def _rate(self, steps: int):
        if self.schedule == "coslog":
            return schedules.CosineLogCycles(self.learning_rate, decay_steps=steps)
        if self.schedule == "cosine":
            return schedules.WarmupCosineDecay(
                self.learning_rate, decay_steps=steps, warmup_steps=min(steps // 20, 200)
            )
        return self.learning_rate

    def _train(self, x, targets, x_val, y_val, epochs: int, sizes, seed: int, n_outputs: int):
        """Train one network for ``epochs`` epochs of a schedule spanning ``max_epochs``.

        With validation rows, the ensemble is scored after every epoch and the best
        epoch's weights are kept. Returns the model, the chosen epoch count and its score.
        """
        rng = np.random.default_rng(seed)
        model = self._network(x, n_outputs, sizes, seed)
        loss = losses.MemberMean(self._inner_loss(), self.members)
        # at least 8 steps an epoch: a small table gets smaller batches, not fewer steps
        batch = max(1, min(self.batch_size, math.ceil(len(x) / 8)))
        steps = self.max_epochs * math.ceil(len(x) / batch)
        optimizer = optimizers.AdamW(
            self._rate(steps), weight_decay=self.weight_decay, beta_2=self.beta_2
        )
        model.compile(optimizer, loss)
        model.build(x.shape[1])
        y = loss.prepare_targets(targets, n_outputs * self.members, np.float32)
        best_score, best_epoch, best_params = (math.inf, math.inf), epochs - 1, None
        for epoch in range(epochs):
            order = rng.permutation(len(x))
            for start in range(0, len(x), batch):
                rows = order[start : start + batch]
                model.train_step(x[rows], y[rows])
            if x_val is None:
                continue
            score = self._score(model.predict(x_val, verbose=0), y_val)
            if self.verbose:
                print(f"epoch {epoch + 1}: validation {score}")
            if score < best_score:
                best_score, best_epoch, best_params = score, epoch, model.params.copy()
        if best_params is not None:
            model.params[...] = best_params
        return model, best_epoch + 1, best_score

    def _fit_arrays(self, x: np.ndarray, targets: np.ndarray, stratify, n_outputs: int):
        sizes = self._check_params()
        seed = self.random_state
        if not isinstance(seed, (int, np.integer)):
            seed = np.random.default_rng().integers(2**31)
        seed = int(seed)
        x = np.ascontiguousarray(x, dtype=np.float32)
        n_val = int(round(self.validation_fraction * len(x)))
        fit = (x, targets)
        if 1 <= n_val < len(x):
            train, val = _split(len(x), n_val, stratify, seed)
            model, epochs, score = self._train(
                x[train], targets[train], x[val], targets[val],
                self.max_epochs, sizes, seed, n_outputs,
            )  # fmt: skip
            self.best_epoch_, self.best_validation_score_ = epochs, score
            self._calibrate(model.predict(x[val], verbose=0), targets[val])
            if self.refit:  # all rows, the same schedule, stopped at the chosen epoch
                model, _, _ = self._train(*fit, None, None, epochs, sizes, seed, n_outputs)
        else:  # too few rows to hold any out: train for all epochs
            model, _, _ = self._train(*fit, None, None, self.max_epochs, sizes, seed, n_outputs)
            self.best_epoch_, self.best_validation_score_ = self.max_epochs, None
            self._calibrate(None, None)
        self.model_ = model
        return self

    def _encode(self, X: Any, y: Any = None, fit: bool = False):
        """The features as float32 (and ``y`` checked, when given), through ``encoder_``.

        A DataFrame with a non-numeric column goes to the encoder as it is (its column
        names are checked at predict); anything else is checked by scikit-learn as numbers,
        NaN allowed.

        Raises
        ------
        ValueError
            When fitting without ``y`` (and scikit-learn's checks' errors).
        """
        table = _has_text(X)
        if fit:
            if y is None:  # scikit-learn's wording, which its checks look for
                raise ValueError(
                    f"{type(self).__name__} requires y to be passed, but the target y is None"
                )
            self._table = table
        elif getattr(self, "_table", False):
            table = True
            X = self._as_fitted_frame(X)
        if table:
            if fit:
                names = [str(c) for c in X.columns]
                if y is not None:
                    _, y = validate_data(self, np.zeros((len(X), 1)), y, **self._y_checks())
                self.feature_names_in_ = np.asarray(names, dtype=object)
                self.n_features_in_ = len(names)
            data = X
        else:
            checks = {"dtype": [np.float64, np.float32], "ensure_all_finite": "allow-nan"}
            if y is not None:
                data, y = validate_data(self, X, y, reset=fit, **checks, **self._y_checks())
            else:
                data = validate_data(self, X, reset=fit, **checks)
        if fit:
            check_integer("max_onehot", self.max_onehot, 1)
            self.encoder_ = FeatureEncoder(
                scaling="robust",
                categorical="auto",
                max_onehot=self.max_onehot,
                fill_missing="auto",
            )
            encoded = self.encoder_.fit_transform(data)
            self.filled_ = self.encoder_.filled_summary()
            self._codes = [(int(i), int(c)) for i, c in self.encoder_.embedding_columns()]
        else:
            encoded = self.encoder_.transform(data)
        x = np.ascontiguousarray(encoded, dtype=np.float32)
        return x if y is None else (x, y)

    def _y_checks(self) -> dict:
        return {}

    def _as_fitted_frame(self, X: Any) -> Any:
        """At predict, a table fitted on a DataFrame: the same columns, by name."""
        import pandas as pd

        names = list(self.feature_names_in_)
        if isinstance(X, pd.DataFrame):
            got = [str(c) for c in X.columns]
            missing = [n for n in names if n not in got]
            if missing:
                raise InputError(
                    f"X lacks the column(s) {missing} that {type(self).__name__} was fitted "
                    f"with; expected the columns {names}"
                )
            return X[names] if got != names else X
        array = np.asarray(X, dtype=object)
        if array.ndim != 2 or array.shape[1] != len(names):
            raise InputError(
                f"X has shape {array.shape}, but {type(self).__name__} was fitted on a table "
                f"of {len(names)} columns {names}"
            )
        return pd.DataFrame(array, columns=names)

    def _outputs(self, x) -> np.ndarray:
        check_is_fitted(self, "model_")
        return self.model_.predict(self._encode(x), verbose=0)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = self.random_state is None
        tags.input_tags.allow_nan = True
        return tags


def _has_text(X: Any) -> bool:
    """Whether ``X`` is a DataFrame with a column that is not numbers (text, category, bool)."""
    dtypes = getattr(X, "dtypes", None)
    if dtypes is None or not hasattr(X, "columns"):
        return False
    return any(getattr(d, "kind", "O") not in "iuf" for d in dtypes)


def _split(n: int, n_val: int, stratify, seed: int):
    """Seeded train/validation indices, stratified by class where every class has 2 rows."""
    rng = np.random.default_rng(seed)
    if stratify is not None:
        counts = np.bincount(stratify)
        if counts[counts > 0].min() >= 2 and n_val >= (counts > 0).sum():
            from sklearn.model_selection import train_test_split

            return train_test_split(
                np.arange(n), test_size=n_val, stratify=stratify, random_state=seed
            )
    order = rng.permutation(n)
    return order[n_val:], order[:n_val]


class TabularClassifier(ClassifierMixin, TabularBase):
    """A classifier for tables, tuned by default (see the module docstring).

    Parameters
    ----------
    hidden_layer_sizes
    members
    embedding
    front_scale
    activation
    dropout
    learning_rate
    weight_decay
    beta_2
    schedule
    batch_size
    max_epochs
    validation_fraction
    refit
    max_onehot
        As in :class:`TabularBase`.
    label_smoothing
        Keras' label smoothing of the training targets.
    calibration
        ``"temperature"``: divide the logits by the temperature that minimizes the
        held-out log loss; None: keep them.
    random_state
    verbose
        As in :class:`TabularBase`.

    Attributes
    ----------
    classes_
        The class labels, sorted.
    temperature_
        The fitted temperature (1 without validation rows).
    best_epoch_
        The epoch (from 1) whose weights were kept.
    model_
        The trained :class:`~densekit.Sequential` (its output: each member's logits).
    """

    _task = "classification"

    def __init__(
        self,
        hidden_layer_sizes: tuple[int, ...] = (128, 128),
        members: int = 8,
        embedding: str | None = "periodic",
        front_scale: bool = True,
        activation: str = "relu",
        dropout: float = 0.0,
        learning_rate: float = 2e-3,
        weight_decay: float = 1e-4,
        beta_2: float = 0.95,
        schedule: str = "coslog",
        batch_size: int = 256,
        max_epochs: int = 64,
        validation_fraction: float = 0.2,
        refit: bool = False,
        max_onehot: int = 64,
        label_smoothing: float = 0.1,
        calibration: str | None = "temperature",
        random_state: int | None = None,
        verbose: bool = False,
    ):
        super().__init__(
            hidden_layer_sizes, members, embedding, front_scale, activation, dropout,
            learning_rate, weight_decay, beta_2, schedule, batch_size, max_epochs,
            validation_fraction, refit, max_onehot, random_state, verbose,
        )  # fmt: skip
        self.label_smoothing = label_smoothing
        self.calibration = calibration

    def _inner_loss(self):
        return losses.SparseCategoricalCrossentropy(
            from_logits=True, label_smoothing=self.label_smoothing
        )

    def _probabilities(self, outputs: np.ndarray, temperature: float) -> np.ndarray:
        n, k = outputs.shape[0], self.members
        z = outputs.reshape(n * k, -1).astype(np.float64) / temperature
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        return p.reshape(n, k, -1).mean(axis=1)

    def _score(self, outputs, y) -> tuple[float, float]:
        p = self._probabilities(outputs, 1.0)
        error = float(np.mean(p.argmax(axis=1) != y))
        logloss = float(-np.mean(np.log(np.maximum(p[np.arange(len(y)), y], 1e-15))))
        return (error, logloss)

    def _calibrate(self, outputs, y) -> None:
        """The temperature minimizing the held-out log loss (golden section on log T)."""
        self.temperature_ = 1.0
        if outputs is None or len(y) < 2 or self.calibration is None:
            return

        def nll(log_t):
            p = self._probabilities(outputs, math.exp(log_t))
            return -np.mean(np.log(np.maximum(p[np.arange(len(y)), y], 1e-15)))

        lo, hi = math.log(0.05), math.log(20.0)
        ratio = (math.sqrt(5) - 1) / 2
        for _ in range(40):
            a, b = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
            if nll(a) < nll(b):
                hi = b
            else:
                lo = a
        best = (lo + hi) / 2
        if nll(best) < nll(0.0):
            self.temperature_ = math.exp(best)

    def fit(self, X: Any, y: Any) -> TabularClassifier:
        """Train on a table ``X`` and class labels ``y``.

        Parameters
        ----------
        X
            The features: a DataFrame (text, categories and missing values allowed) or a
            numeric array ``(samples, features)`` (NaN allowed).
        y
            The labels (any hashable values).

        Returns
        -------
        TabularClassifier
            ``self``.

        Raises
        ------
        ArgumentError
            If a parameter is out of range.
        ValueError
            If ``X`` or ``y`` is not valid (scikit-learn's checks' messages).
        """
        check_number("label_smoothing", self.label_smoothing, 0.0, 1.0)
        check_choice("calibration", self.calibration, ("temperature", None))
        X, y = self._encode(X, y, fit=True)
        check_classification_targets(y)
        self.classes_, codes = np.unique(y, return_inverse=True)
        n_classes = len(self.classes_)
        if n_classes < 2:
            raise ValueError(
                f"TabularClassifier needs at least 2 classes in y, got {n_classes} class "
                f"({self.classes_!r})"
            )
        return self._fit_arrays(X, codes.astype(np.int64), codes, n_classes)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Calibrated class probabilities, ``(samples, classes)`` in ``classes_`` order.

        Parameters
        ----------
        X
            The features.

        Returns
        -------
        ndarray
        """
        return self._probabilities(self._outputs(X), self.temperature_)

    def predict(self, X: Any) -> np.ndarray:
        """The most probable class of each row.

        Parameters
        ----------
        X
            The features.

        Returns
        -------
        ndarray
        """
        proba = self.predict_proba(X)  # first: it says when the estimator is not fitted
        return self.classes_[proba.argmax(axis=1)]


class TabularRegressor(RegressorMixin, TabularBase):
    """A regressor for tables, tuned by default (see the module docstring).

    Targets are standardized for training (mean 0, standard deviation 1) and predictions
    put back in the target's units. Its parameters are :class:`TabularBase`'s.

    Attributes
    ----------
    best_epoch_
        The epoch (from 1) whose weights were kept.
    model_
        The trained :class:`~densekit.Sequential` (its output: each member's standardized
        prediction).
    """

    def _inner_loss(self):
        return losses.MeanSquaredError()

    def _y_checks(self) -> dict:
        return {"multi_output": True, "y_numeric": True}

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def _score(self, outputs, y) -> tuple[float, float]:
        mean = outputs.reshape(len(y), self.members, -1).mean(axis=1)
        return (float(np.mean((mean - y.reshape(mean.shape)) ** 2)), 0.0)

    def _calibrate(self, outputs, y) -> None:
        pass

    def fit(self, X: Any, y: Any) -> TabularRegressor:
        """Train on a table ``X`` and targets ``y`` ``(samples,)`` or ``(samples, outputs)``.

        Parameters
        ----------
        X
            The features: a DataFrame (text, categories and missing values allowed) or a
            numeric array ``(samples, features)`` (NaN allowed).
        y
            The targets.

        Returns
        -------
        TabularRegressor
            ``self``.

        Raises
        ------
        ArgumentError
            If a parameter is out of range.
        ValueError
            If ``X`` or ``y`` is not valid (scikit-learn's checks' messages).
        """
        X, y = self._encode(X, y, fit=True)
        y = np.asarray(y, dtype=np.float64)
        self._one_output = y.ndim == 1
        y2 = y.reshape(len(y), -1)
        self.target_mean_ = y2.mean(axis=0)
        std = y2.std(axis=0)
        self.target_scale_ = np.where(std > 0, std, 1.0)
        targets = ((y2 - self.target_mean_) / self.target_scale_).astype(np.float32)
        return self._fit_arrays(X, targets, None, y2.shape[1])

    def predict(self, X: Any) -> np.ndarray:
        """The members' mean prediction, in the target's units.

        Parameters
        ----------
        X
            The features.

        Returns
        -------
        ndarray
            ``(samples,)``, or ``(samples, outputs)`` for several targets.
        """
        outputs = self._outputs(X)
        n = outputs.shape[0]
        mean = outputs.reshape(n, self.members, -1).mean(axis=1).astype(np.float64)
        values = mean * self.target_scale_ + self.target_mean_
        return values[:, 0] if self._one_output else values
