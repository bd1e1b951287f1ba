"""
DenseClassifier against MLPClassifier
=====================================

DenseClassifier as a drop-in for MLPClassifier in a scikit-learn Pipeline.

Both get the same parameters on the digits dataset (bundled with
scikit-learn); the script prints test accuracy and fit time (best of
``--repeats`` fits, as other processes on the machine make single timings noisy).

::

    python examples/pipeline_vs_mlp.py [--repeats 3] [--threads 1] [--max-iter 200]
"""

from __future__ import annotations

import argparse
import contextlib
import time
import warnings

from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from densekit.sklearn import DenseClassifier

PARAMS = dict(hidden_layer_sizes=(100,), alpha=1e-4, max_iter=200, random_state=0)


def best_fit(make, x, y, repeats: int):
    """The best wall-clock fit time over ``repeats`` fresh fits, and the last fitted pipeline."""
    times = []
    for _ in range(repeats):
        pipeline = make()
        started = time.perf_counter()
        pipeline.fit(x, y)
        times.append(time.perf_counter() - started)
    return min(times), pipeline


def main() -> None:
    parser = argparse.ArgumentParser(description="DenseClassifier against MLPClassifier.")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="BLAS threads (threadpoolctl)")
    parser.add_argument("--max-iter", type=int, default=PARAMS["max_iter"])
    args = parser.parse_args()
    params = dict(PARAMS, max_iter=args.max_iter)

    x, y = load_digits(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, random_state=0)
    limit = contextlib.nullcontext()
    if args.threads is not None:
        from threadpoolctl import threadpool_limits

        limit = threadpool_limits(args.threads)
    rows = []
    with limit, warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for name, cls in (("MLPClassifier", MLPClassifier), ("DenseClassifier", DenseClassifier)):
            seconds, pipeline = best_fit(
                lambda cls=cls: make_pipeline(StandardScaler(), cls(**params)),
                x_train,
                y_train,
                args.repeats,
            )
            model = pipeline[-1]
            rows.append((name, pipeline.score(x_test, y_test), seconds, model.n_iter_))
    print(f"digits: {len(x_train)} training rows, {len(x_test)} test rows; parameters {params}")
    print(f"{'estimator':<17}{'test accuracy':>15}{'fit time (s)':>15}{'epochs':>8}")
    for name, accuracy, seconds, epochs in rows:
        print(f"{name:<17}{accuracy:>15.4f}{seconds:>15.3f}{epochs:>8}")
    print(f"DenseClassifier fit is {rows[0][2] / rows[1][2]:.2f}x faster than MLPClassifier's")


if __name__ == "__main__":
    main()
