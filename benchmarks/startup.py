"""Small jobs start fast: ``densekit train`` and ``predict`` as whole processes.

Times the command line on a 200-row and a 50,000-row CSV under the three kernel choices:
``auto`` (the default: numba's kernels only for a fit that repays loading them),
``numpy`` (as installed without the ``[fast]`` extra) and ``numba`` (always compiled, the
default before ``auto``). Each run is a fresh process; the runs of the three choices are
interleaved, and the table gives the median, the spread, and the peak resident memory
(``wait4``'s ``ru_maxrss`` of that process alone).

    python benchmarks/startup.py --repeats 5 --markdown out.md
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

CHOICES = ("auto", "numpy", "numba")
SIZES = {"200 rows": 200, "50k rows": 50_000}


def write_table(path: Path, rows: int, seed: int = 0) -> None:
    """A classification table: 8 numeric columns, one text column, a 3-class target."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((rows, 8))
    colour = rng.choice(["red", "green", "blue", "grey"], rows)
    score = x[:, 0] + 0.5 * x[:, 1] ** 2 + (colour == "red")
    target = np.digitize(score, np.quantile(score, [1 / 3, 2 / 3]))
    with open(path, "w") as f:
        f.write(",".join([f"x{i}" for i in range(8)] + ["colour", "target"]) + "\n")
        for i in range(rows):
            numbers = ",".join(f"{v:.5f}" for v in x[i])
            f.write(f"{numbers},{colour[i]},class{target[i]}\n")


def run(command: list[str], choice: str) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds and peak MiB of one process."""
    env = dict(os.environ, DENSEKIT_KERNELS=choice)
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(command)} failed under DENSEKIT_KERNELS={choice}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def measure(folder: Path, repeats: int, epochs: int) -> list[dict]:
    densekit = str(Path(sys.executable).with_name("densekit"))
    rows = []
    for label, size in SIZES.items():
        data = folder / f"table-{size}.csv"
        write_table(data, size)
        jobs = {}
        for choice in CHOICES:
            model = folder / f"model-{size}-{choice}.safetensors"
            jobs[("train", choice)] = [
                densekit, "train", str(data), "--target", "target", "-o", str(model),
                "--epochs", str(epochs), "-q",
            ]  # fmt: skip
            jobs[("predict", choice)] = [densekit, "predict", str(model), str(data), "-q"]
        for command in ("train", "predict"):
            results = {choice: [] for choice in CHOICES}
            for choice in CHOICES:  # warm-up: numba's on-disk cache, the file system's
                run(jobs[(command, choice)], choice)
            for _ in range(repeats):
                for choice in CHOICES:
                    results[choice].append(run(jobs[(command, choice)], choice))
            for choice in CHOICES:
                wall, cpu, peak = zip(*results[choice])
                rows.append(
                    {"table": label, "command": command, "kernels": choice,
                     "wall": wall, "cpu": cpu, "peak": max(peak)}
                )  # fmt: skip
    return rows


def markdown(rows: list[dict], repeats: int, epochs: int) -> str:
    numpy_cpu = {
        (r["table"], r["command"]): statistics.median(r["cpu"])
        for r in rows
        if r["kernels"] == "numpy"
    }
    lines = [
        f"`densekit train --epochs {epochs}` and `densekit predict`, whole processes, "
        f"{repeats} interleaved runs each (median, min–max); CPU = user + system seconds.",
        "",
        "| table | command | DENSEKIT_KERNELS | wall s | CPU s | CPU vs numpy | peak MiB |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        cpu = statistics.median(r["cpu"])
        lines.append(
            f"| {r['table']} | {r['command']} | {r['kernels']} | "
            f"{statistics.median(r['wall']):.2f} ({min(r['wall']):.2f}–{max(r['wall']):.2f}) | "
            f"{cpu:.2f} ({min(r['cpu']):.2f}–{max(r['cpu']):.2f}) | "
            f"{cpu / numpy_cpu[(r['table'], r['command'])]:.2f}x | {r['peak']:.0f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--markdown", help="also write the table here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        rows = measure(Path(folder), args.repeats, args.epochs)
    text = markdown(rows, args.repeats, args.epochs)
    print(text)
    if args.markdown:
        Path(args.markdown).write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
