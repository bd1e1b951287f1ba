"""densekit's L-BFGS solver beside scikit-learn's MLP ``solver="lbfgs"``, on the same data.

Both estimators get the same data, the same settings and the same ``random_state``; with
that, densekit's estimators start from MLP's initial weights (drawn from the same stream),
so the two minimize the same function from the same point, and the final training loss
(``loss_``, MLP's objective: data loss plus ``alpha``'s penalty) is directly comparable.
Each repeat fits both, one after the other (alternating which goes first), on one BLAS
thread; the table gives the median and the min-max spread of the repeats, and the time
ratio densekit / scikit-learn (below 1: densekit faster).

    python benchmarks/lbfgs.py [--repeats 5] [--markdown out.md] [--json out.json]

Data: scikit-learn's bundled digits (1797 x 64, 10 classes, scaled to [0, 1]) and
diabetes (442 x 10, standardized features and target). Nothing is downloaded.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import time
import warnings

from sklearn.datasets import load_diabetes, load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.preprocessing import MinMaxScaler, StandardScaler
from threadpoolctl import threadpool_limits

from densekit.sklearn import DenseClassifier, DenseRegressor


def cpu_model() -> str:
    """The CPU model line of ``lscpu`` (or the platform's processor string)."""
    try:
        text = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return platform.processor() or "unknown"
    for line in text.splitlines():
        if line.startswith("Model name:"):
            return line.split(":", 1)[1].strip()
    return "unknown"


def datasets() -> dict:
    """name -> (x, y, (ours, theirs), settings)."""
    x, y = load_digits(return_X_y=True)
    digits = (MinMaxScaler().fit_transform(x), y)
    x, y = load_diabetes(return_X_y=True)
    diabetes = (StandardScaler().fit_transform(x), (y - y.mean()) / y.std())
    # max_iter high enough that both stop on their own test (gtol = tol, or ftol)
    settings = {"solver": "lbfgs", "alpha": 1e-4, "max_iter": 5000, "hidden_layer_sizes": (64,)}
    return {
        "digits (1797 x 64, 10 classes)": (*digits, (DenseClassifier, MLPClassifier), settings),
        "diabetes (442 x 10, regression)": (*diabetes, (DenseRegressor, MLPRegressor), settings),
    }


def fit_once(cls, x, y, settings, seed) -> dict:
    """Fit one estimator; its time, final loss and iterations."""
    estimator = cls(random_state=seed, **settings)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        started = time.perf_counter()
        estimator.fit(x, y)
        seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "loss": float(estimator.loss_),
        "n_iter": int(estimator.n_iter_),
        "score": float(estimator.score(x, y)),
    }


def run(repeats: int, seed: int = 0) -> dict:
    """Interleaved repeats of both solvers on each data set."""
    results = {}
    with threadpool_limits(1):
        for name, (x, y, (ours, theirs), settings) in datasets().items():
            runs = {"densekit": [], "scikit-learn": []}
            fit_once(ours, x, y, settings, seed)  # warm-up (imports, first allocations)
            fit_once(theirs, x, y, settings, seed)
            for repeat in range(repeats):
                order = [("densekit", ours), ("scikit-learn", theirs)]
                for label, cls in order if repeat % 2 == 0 else order[::-1]:
                    runs[label].append(fit_once(cls, x, y, settings, seed))
            results[name] = runs
    return results


def summary(values: list[float]) -> tuple[float, float, float]:
    """(median, min, max)."""
    return statistics.median(values), min(values), max(values)


def markdown(results: dict, repeats: int) -> str:
    """The results as a Markdown table."""
    lines = [
        f"CPU: {cpu_model()}; one BLAS thread; {repeats} interleaved repeats, median (min-max).",
        "",
        "| data | solver | fit time s | final loss | iterations | train score | time ratio |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, runs in results.items():
        medians = {}
        for label in ("densekit", "scikit-learn"):
            seconds = summary([r["seconds"] for r in runs[label]])
            medians[label] = seconds[0]
            loss, n_iter, score = (runs[label][0][key] for key in ("loss", "n_iter", "score"))
            ratio = (
                f"{medians['densekit'] / medians['scikit-learn']:.2f}"
                if label == "scikit-learn"
                else ""
            )
            lines.append(
                f"| {name} | {label} | {seconds[0]:.3f} ({seconds[1]:.3f}-{seconds[2]:.3f}) "
                f"| {loss:.6g} | {n_iter} | {score:.4f} | {ratio} |"
            )
    return "\n".join(lines)


def main() -> None:
    """Run the comparison and print (and optionally write) the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--markdown")
    parser.add_argument("--json")
    args = parser.parse_args()
    results = run(args.repeats)
    table = markdown(results, args.repeats)
    print(table)
    if args.markdown:
        with open(args.markdown, "w") as file:
            file.write(table + "\n")
    if args.json:
        with open(args.json, "w") as file:
            json.dump({"cpu": cpu_model(), "repeats": args.repeats, "results": results}, file)


if __name__ == "__main__":
    main()
