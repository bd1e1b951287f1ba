"""scikit-learn estimators: DenseClassifier and DenseRegressor.

Drop-in replacements for ``MLPClassifier`` / ``MLPRegressor``: the same
parameter names, meanings, fitted attributes and stopping rule, trained by a
densekit :class:`~densekit.model.Sequential` (its ``fit`` is the one training
loop; this module only translates). MLP's math, and how it is kept here:

- **Penalty.** MLP adds ``0.5 * alpha * sum(W^2) / n_batch`` to each batch's
  loss, over the kernels only (no biases), so the kernel gradient gains
  ``alpha * W / n_batch``. Here a gradient hook (``model.gradient_hooks``)
  adds exactly that, with ``n_batch`` the length of the current batch (the
  last one may be short), and the penalty is added to ``loss_curve_``.
- **Losses.** Multiclass: cross-entropy over a softmax; binary: one logistic
  output (so ``coefs_`` shapes match MLP's); multi-label: the binary
  cross-entropies *summed* over labels; regression: half the squared error,
  ``0.5 * mean((p - y)^2)``. ``loss=`` also offers absolute_error, huber
  (delta 1) and poisson (log link: a linear output ``z`` predicts
  ``exp(z)``, loss ``exp(z) - y z``).
- **Stopping.** After each epoch: with ``early_stopping``, the score
  (accuracy or R^2) on a held-out ``validation_fraction`` must beat the best
  by ``tol``; otherwise the training loss must fall below the best by ``tol``.
  More than ``n_iter_no_change`` epochs without that stops training (SGD with
  ``learning_rate='adaptive'`` first divides the rate by 5, down to 1e-6).
  With ``early_stopping`` the best-scoring weights are restored.
- **L-BFGS.** ``solver='lbfgs'`` minimizes MLP's full-batch objective (the mean loss
  plus ``0.5 * alpha * sum(W^2) / n``) with :class:`densekit.optimizers.LBFGS`, scipy's
  L-BFGS-B over the network's flat parameter buffer: ``max_iter`` iterations at most,
  ``max_fun`` evaluations, ``tol`` as scipy's ``gtol``; ``n_iter_`` is the iteration count
  and a run that stops on a limit warns (ConvergenceWarning), as MLP. No ``partial_fit``.
- **Randomness.** The initial weights, the early-stopping split (stratified for binary
  ``y`` only, as MLP) and each epoch's row order are drawn as MLP draws them, from the
  same ``random_state`` stream, so both estimators take the same path (up to rounding
  and Adam's epsilon convention). Each epoch is one ``Sequential.fit`` call on the rows
  in that order.
- **Sparse X.** CSR/CSC input goes to the first Dense layer's product as it is.
- **Sample weights.** MLP divides each batch's weighted loss and its penalty by
  the batch's weight sum; densekit divides by the batch length. Weights are
  rescaled to mean 1 over the training rows and the penalty is divided by
  ``n_batch * mean(w)``: both agree with MLP exactly when a batch holds all
  rows (or the weights are uniform), and in expectation over shuffled batches.
- **Adam.** densekit's is the paper's (eps added to ``sqrt(v_hat)``); MLP adds
  eps to ``sqrt(v)``; with the default eps = 1e-8 the difference is negligible.

- **dtype.** As MLP, the network computes in the input's float dtype: float32
  ``X`` gives float32 weights and outputs, anything else float64 (``dtype=None``,
  the default). ``dtype='float32'`` or ``'float64'`` fixes it whatever the input
  (float32 fits 1.6x faster on examples/pipeline_vs_mlp.py). A fitted network
  keeps its dtype through ``warm_start``, ``partial_fit`` and pickling; later
  inputs are cast to it.

The package, by concern: :mod:`.losses` (MLP's losses), :mod:`.training`
(the penalty and the stopping rule), :mod:`.base` (the shared estimator and its
fitting loop), :mod:`.classifier`, :mod:`.regressor`, :mod:`.checks` (parameter
checks) and :mod:`.expected_failures` (for ``check_estimator``).
"""

from __future__ import annotations

from ..errors import require

require("sklearn", "sklearn", "densekit.sklearn")

from .base import DenseBase  # noqa: E402
from .checks import (  # noqa: E402
    ACTIVATIONS,
    LEARNING_RATES,
    REGRESSION_LOSSES,
    SOLVERS,
    check_choice,
    check_integer,
    check_number,
)
from .classifier import DenseClassifier  # noqa: E402
from .expected_failures import expected_failed_checks  # noqa: E402
from .losses import HalfSquaredError, SummedBinaryCrossentropy  # noqa: E402
from .regressor import DenseRegressor  # noqa: E402
from .tabular import TabularBase, TabularClassifier, TabularRegressor  # noqa: E402
from .training import MLPTraining  # noqa: E402

__all__ = [
    "ACTIVATIONS",
    "LEARNING_RATES",
    "REGRESSION_LOSSES",
    "SOLVERS",
    "DenseBase",
    "DenseClassifier",
    "DenseRegressor",
    "HalfSquaredError",
    "MLPTraining",
    "SummedBinaryCrossentropy",
    "TabularBase",
    "TabularClassifier",
    "TabularRegressor",
    "check_choice",
    "check_integer",
    "check_number",
    "expected_failed_checks",
]
