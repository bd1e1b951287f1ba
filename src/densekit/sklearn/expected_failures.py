"""The ``check_estimator`` checks an estimator is expected to fail, and why."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .base import DenseBase
    from .tabular import TabularBase

#: TabularClassifier/TabularRegressor compute in float32 (no ``dtype`` to choose): a row's
#: prediction depends on where it falls in the BLAS kernel's blocks by a few float32 ulps
#: (eps = 1.2e-7), and these checks ask for rtol=1e-7
TABULAR_FLOAT32 = {
    "check_methods_sample_order_invariance": "float32: BLAS blocking moves a few ulps",
    "check_methods_subset_invariance": "float32: BLAS blocking moves a few ulps",
}


def expected_failed_checks(estimator: DenseBase | TabularBase) -> dict[str, str]:
    """The ``check_estimator`` checks this estimator is expected to fail, with reasons.

    Pass it as ``check_estimator(est, expected_failed_checks=expected_failed_checks(est))``
    (or to ``parametrize_with_checks``).

    Parameters
    ----------
    estimator
        The estimator to be checked.

    Returns
    -------
    dict of str to str
        Check name -> why it fails (empty unless the estimator computes in float32:
        ``dtype='float32'``, or the tabular estimators).
    """
    if not hasattr(estimator, "_fixed_dtype"):  # the tabular estimators: float32 always
        return dict(TABULAR_FLOAT32)
    fixed = estimator._fixed_dtype()
    if fixed is not None and fixed == np.float32:
        # predictions are computed in float64 from float32 weights (as MLP's X @ coefs_
        # promotes), so they do not depend on which rows share a product; but training
        # is float32 arithmetic: 15 weighted rows and the same rows repeated (30) are
        # summed in float32 in different orders and lengths, so the two fits' weights
        # differ by float32 rounding (eps = 1.2e-7) where the check asks rtol=1e-7
        reason = (
            "dtype='float32' fixed: training sums the weighted rows and the repeated rows "
            "in float32, whose rounding (eps = 1.2e-7) is the size of the check's rtol=1e-7; "
            "with dtype=None (the default) or 'float64' it passes"
        )
        return {
            "check_sample_weight_equivalence_on_dense_data": reason,
            "check_sample_weight_equivalence_on_sparse_data": reason,
        }
    return {}
