"""The ``check_estimator`` checks an estimator is expected to fail, and why."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .base import DenseBase


def expected_failed_checks(estimator: DenseBase) -> dict[str, str]:
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
        Check name -> why it fails (empty unless ``dtype='float32'`` is fixed).
    """
    fixed = estimator._fixed_dtype()
    if fixed is not None and fixed == np.float32:
        # the checks pass float64 data; MLP (and dtype=None) would compute in float64
        reason = (
            "dtype='float32' fixed: float32 results agree with each other to a few float32 "
            "ulps (eps = 1.2e-7; which ones depends on the CPU's BLAS kernel), the check "
            "asks for {}; with dtype=None (the default) or 'float64' it passes"
        )
        return {
            "check_sample_weight_equivalence_on_dense_data": reason.format("rtol=1e-7"),
            "check_methods_subset_invariance": reason.format("atol=1e-7"),
        }
    return {}
