"""Reading + preprocessing a CSV: densekit vs pandas.read_csv + scikit-learn's ColumnTransformer.

    python benchmarks/tabular_reading.py [--rows 1000000] [--repeats 3] [--workdir DIR]

Generates two tables (never committed; in a temporary folder unless --workdir):
``numbers`` (5 numeric features, a text target) and ``mixed`` (25 numeric columns
with 1% missing cells, 25 text columns of 2-5 levels, a text target: 137 encoded
features, so the dense float matrices stay within a shared machine's memory). Each job
runs in its own process, one at a time, the jobs alternating within each repeat so
that noise on a shared machine falls on all alike; the child reports its own peak
RSS (VmHWM), the parent the wall time (interpreter start and imports included).

Jobs:

- ``densekit``: ``read_table`` + ``TabularPreprocessor`` fit, transform and target.
- ``pandas+sklearn``: ``pandas.read_csv`` + ``ColumnTransformer`` (numbers:
  ``SimpleImputer(median, add_indicator=True)`` + ``StandardScaler``, the features
  densekit makes; text: ``SimpleImputer(most_frequent)``
  + ``OneHotEncoder(handle_unknown="ignore")``) ``fit_transform`` + ``LabelEncoder``.
- ``predict``: ``densekit predict MODEL DATA -o OUT`` vs ``pandas.read_csv`` + the fitted
  ColumnTransformer's ``transform`` + the same densekit network's ``predict`` +
  ``DataFrame.to_csv``; both models were fitted on the first 20,000 rows.
- ``pyarrow``/``polars``/``pandas`` alone: reading the file, to choose the reader.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SAMPLE_ROWS = 20_000


def generate(path: Path, rows: int, n_numbers: int, n_text: int, seed: int = 0) -> None:
    """A CSV of numbers (1% missing when there is text too), text columns and a text target."""
    rng = np.random.default_rng(seed)
    names = [f"x{i}" for i in range(n_numbers)] + [f"t{i}" for i in range(n_text)] + ["y"]
    with open(path, "w") as file:
        file.write(",".join(names) + "\n")
        for start in range(0, rows, 100_000):
            n = min(100_000, rows - start)
            columns = []
            for _ in range(n_numbers):
                cells = np.char.mod("%.4f", rng.normal(size=n) * 10)
                if n_text:
                    cells[rng.random(n) < 0.01] = ""
                columns.append(cells)
            for i in range(n_text):
                levels = np.array([f"level{j}" for j in range(2 + i % 4)])
                columns.append(levels[rng.integers(0, len(levels), n)])
            columns.append(np.array(["no", "yes"])[rng.integers(0, 2, n)])
            block = np.stack(columns, axis=1)
            file.write("\n".join(",".join(row) for row in block.tolist()) + "\n")


def _peak_mib() -> float:
    """This process's peak RSS: VmHWM (ru_maxrss can carry the forking parent's peak)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _sklearn_transformer(frame):
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    features = frame.drop(columns=["y"])
    numbers = [c for c in features if features[c].dtype.kind in "fi"]
    text = [c for c in features if c not in numbers]
    return ColumnTransformer(
        [
            (
                "num",
                make_pipeline(
                    SimpleImputer(strategy="median", add_indicator=True), StandardScaler()
                ),
                numbers,
            ),
            (
                "text",
                make_pipeline(
                    SimpleImputer(strategy="most_frequent"),
                    OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                ),
                text,
            ),
        ]
    )


def job(name: str, data: str, work: str) -> dict:
    """Run one job in this process; returns what it measured."""
    if name == "densekit":
        from densekit.tabular import TabularPreprocessor, read_table

        table = read_table(data)
        prep = TabularPreprocessor("y").fit(table)
        x, y = prep.transform(table), prep.encode_target(table)
        return {"shape": list(x.shape), "y": int(y.sum())}
    if name == "pandas+sklearn":
        import pandas as pd
        from sklearn.preprocessing import LabelEncoder

        frame = pd.read_csv(data)
        x = _sklearn_transformer(frame).fit_transform(frame)
        y = LabelEncoder().fit_transform(frame["y"])
        return {"shape": list(x.shape), "y": int(y.sum())}
    if name == "densekit predict":
        from densekit.cli import main

        out = Path(work) / "densekit-predictions.csv"
        out.unlink(missing_ok=True)
        assert (
            main(["predict", str(Path(work) / "model.safetensors"), data, "-o", str(out), "-q"])
            == 0
        )
        return {}
    if name == "pandas+sklearn predict":
        import pandas as pd

        from densekit.serialization.model_file import load_model

        frame = pd.read_csv(data)
        with open(Path(work) / "transformer.pkl", "rb") as file:
            transformer = pickle.load(file)
        x = transformer.transform(frame).astype(np.float32)
        outputs = load_model(Path(work) / "sklearn-model.safetensors").predict(x)
        labels = np.where(outputs[:, 0] > 0.5, "yes", "no")
        pd.DataFrame({"prediction": labels}).to_csv(
            Path(work) / "pandas-predictions.csv", index=False
        )
        return {}
    if name == "pyarrow":
        import pyarrow.csv as pa_csv

        options = pa_csv.ConvertOptions(auto_dict_encode=True, auto_dict_max_cardinality=2**31 - 1)
        return {"rows": pa_csv.read_csv(data, convert_options=options).num_rows}
    if name == "polars":
        import polars as pl

        return {"rows": pl.read_csv(data).height}
    if name == "pandas":
        import pandas as pd

        return {"rows": len(pd.read_csv(data))}
    raise ValueError(name)


def prepare_models(data: Path, work: Path) -> None:
    """Fit both pipelines (and one network each) on the first rows, for the predict jobs."""
    import pandas as pd

    from densekit.cli import main

    sample = work / f"{data.stem}-sample.csv"
    with open(data) as source, open(sample, "w") as target:
        for i, line in enumerate(source):
            if i > SAMPLE_ROWS:
                break
            target.write(line)
    model = work / "model.safetensors"
    model.unlink(missing_ok=True)
    args = ["train", str(sample), "--target", "y", "-o", str(model), "--epochs", "1", "-q"]
    assert main([*args, "--hidden", "16"]) == 0
    frame = pd.read_csv(sample)
    transformer = _sklearn_transformer(frame).fit(frame)
    with open(work / "transformer.pkl", "wb") as file:
        pickle.dump(transformer, file)
    from densekit.cli.train import build_model

    x = transformer.transform(frame).astype(np.float32)
    network = build_model(x.shape[1], 1, "binary_crossentropy", hidden=[16])
    network.compile(loss="binary_crossentropy")
    network.fit(x, (frame["y"] == "yes").to_numpy(np.float32)[:, None], epochs=1, verbose=0)
    network.save(work / "sklearn-model.safetensors")


def run(name: str, data: Path, work: Path) -> tuple[float, float]:
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, __file__, "--job", name, "--data", str(data), "--workdir", str(work)],
        capture_output=True,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    wall = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(f"{name} failed:\n{result.stderr}")
    return wall, json.loads(result.stdout.strip().splitlines()[-1])["peak_mib"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workdir", default=None)
    parser.add_argument("--tables", default="numbers,mixed")
    parser.add_argument("--job", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--data", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.job:
        found = job(args.job, args.data, args.workdir)
        print(json.dumps({**found, "peak_mib": _peak_mib()}))
        return
    work = Path(args.workdir or tempfile.mkdtemp(prefix="densekit-reading-"))
    work.mkdir(parents=True, exist_ok=True)
    shapes = {"numbers": (5, 0), "mixed": (25, 25)}
    groups = [
        ["densekit", "pandas+sklearn"],
        ["densekit predict", "pandas+sklearn predict"],
        ["pyarrow", "polars", "pandas"],
    ]
    for table in args.tables.split(","):
        data = work / f"{table}-{args.rows}.csv"
        if not data.exists():
            generate(data, args.rows, *shapes[table])
        prepare_models(data, work)
        size = data.stat().st_size / 2**20
        print(
            f"\n{table}: {args.rows:,} rows x {sum(shapes[table])} features + target, {size:.0f} MiB"
        )
        for group in groups:
            times: dict[str, list] = {name: [] for name in group}
            peaks: dict[str, list] = {name: [] for name in group}
            for repeat in range(args.repeats):
                order = group[repeat % len(group) :] + group[: repeat % len(group)]
                for name in order:
                    try:
                        wall, peak = run(name, data, work)
                    except RuntimeError as exc:
                        print(f"  {name}: skipped ({str(exc).splitlines()[-1]})")
                        group = [g for g in group if g != name]
                        continue
                    times[name].append(wall)
                    peaks[name].append(peak)
            base = statistics.median(times[group[-1]]) if times[group[-1]] else None
            for name in group:
                if not times[name]:
                    continue
                median = statistics.median(times[name])
                ratio = (
                    f", {median / base:.2f}x of {group[-1]}" if base and name != group[-1] else ""
                )
                print(
                    f"  {name:24s} {median:6.2f} s (min {min(times[name]):.2f}, max "
                    f"{max(times[name]):.2f}), peak {statistics.median(peaks[name]):6.0f} MiB{ratio}"
                )


if __name__ == "__main__":
    main()
