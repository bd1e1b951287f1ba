"""Per-step time of data-parallel training on 1 and 2 ranks, MPI and Dask side by side.

    python benchmarks/scale.py [--steps 20] [--wide-steps 3] [--json out.json]

For each of issue 3's workloads (wide with fewer rows: only a few steps are timed)
it runs densekit.distributed.fit under ``mpiexec -n 1`` and ``-n 2`` and reports the
time of one optimizer step and the share of it spent in the gradient Allreduce;
then densekit.dask.fit (sync_every=1, exact) on a LocalCluster of 1 and 2 worker
processes, with the share of a step that is a bare scheduler round trip. It also
times MPI_Allreduce alone at 100 KB and 4 MB (the latency and bandwidth figures
of docs/scaling.md). Timings on a shared 2-core machine are noisy: run it alone.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "src")]

from workloads import WORKLOADS, Workload, make_data  # noqa: E402

import densekit as dk  # noqa: E402


def build(workload: Workload) -> dk.Sequential:
    sizes = workload.sizes
    layers = [dk.layers.Dense(sizes[1], activation="relu", input_dim=sizes[0])]
    layers += [dk.layers.Dense(m, activation="relu") for m in sizes[2:-1]]
    classify = workload.task == "classification"
    layers.append(dk.layers.Dense(sizes[-1], activation="softmax" if classify else None))
    model = dk.Sequential(layers, seed=1)
    loss = "sparse_categorical_crossentropy" if classify else "mean_squared_error"
    model.compile(dk.optimizers.Adam(1e-3), loss)
    return model


def data_for(workload: Workload, steps: int):
    rows = min(workload.rows, steps * workload.batch)
    shrunk = Workload(workload.name, workload.sizes, rows, workload.batch, workload.task)
    return make_data(shrunk)


# --- MPI ----------------------------------------------------------------------------------


def mpi_worker(name: str, steps: int, out: str) -> None:
    """Run under mpiexec: one warm-up epoch, then one timed epoch of ``steps`` steps."""
    from densekit import distributed

    comm = distributed.world()
    workload = WORKLOADS[name]
    x, y = data_for(workload, steps)
    model = build(workload)
    distributed.fit(model, x[: workload.batch], y[: workload.batch], batch_size=workload.batch,
                    verbose=0)  # fmt: skip
    comm.Barrier()
    started = time.perf_counter()
    history = distributed.fit(model, x, y, batch_size=workload.batch, verbose=0, seed=0)
    seconds = time.perf_counter() - started
    n_steps = -(-len(x) // workload.batch)
    if comm.Get_rank() == 0:
        result = {
            "step_ms": 1e3 * seconds / n_steps,
            "allreduce_ms": 1e3 * history.allreduce_seconds / n_steps,
            "params": int(model.params.size),
        }
        Path(out).write_text(json.dumps(result))


def allreduce_worker(out: str) -> None:
    """Run under mpiexec -n 2: Allreduce time at 100 KB and 4 MB of float32."""
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    result = {}
    for nbytes in (100_000, 4_000_000):
        buffer = np.ones(nbytes // 4, dtype=np.float32)
        for _ in range(10):
            comm.Allreduce(MPI.IN_PLACE, buffer, op=MPI.SUM)
        comm.Barrier()
        repeats = 200 if nbytes < 1e6 else 50
        started = time.perf_counter()
        for _ in range(repeats):
            comm.Allreduce(MPI.IN_PLACE, buffer, op=MPI.SUM)
        result[str(nbytes)] = 1e3 * (time.perf_counter() - started) / repeats
    if comm.Get_rank() == 0:
        Path(out).write_text(json.dumps(result))


def mpiexec() -> str:
    found = shutil.which("mpiexec", path=str(Path(sys.executable).parent)) or shutil.which(
        "mpiexec"
    )
    if found is None:
        raise SystemExit("no mpiexec: pip install 'densekit[mpi]'")
    return found


def run_mpi(ranks: int, *args: str) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        out = str(Path(folder) / "out.json")
        env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
        command = [mpiexec(), "-n", str(ranks), sys.executable, __file__, *args, "--out", out]
        subprocess.run(command, check=True, env=env)
        return json.loads(Path(out).read_text())


# --- Dask ---------------------------------------------------------------------------------


def dask_step(client, workload: Workload, steps: int) -> dict:
    import dask.array as da

    from densekit import dask as dkd

    x, y = data_for(workload, steps)
    workers = len(client.scheduler_info()["workers"])
    chunk = -(-len(x) // workers)  # one partition per worker
    xs, ys = da.from_array(x, chunks=(chunk, -1)), da.from_array(y, chunks=chunk)
    model = build(workload)
    dkd.fit(model, xs[: workload.batch], ys[: workload.batch], client,
            batch_size=workload.batch, verbose=0)  # fmt: skip
    history = dkd.fit(model, xs, ys, client, batch_size=workload.batch, verbose=0)
    round_trip = _round_trip(client)
    return {"step_ms": 1e3 * history.step_seconds, "round_trip_ms": 1e3 * round_trip}


def _noop(x):
    return x


def _round_trip(client, repeats: int = 20) -> float:
    """A task on every worker and back: the scheduler's floor under a synchronous step."""
    workers = list(client.scheduler_info()["workers"])
    started = time.perf_counter()
    for i in range(repeats):
        futures = [client.submit(_noop, i, workers=[w], pure=False) for w in workers]
        client.gather(futures)
    return (time.perf_counter() - started) / repeats


def run_dask(names: list[str], steps: dict[str, int]) -> dict:
    import distributed

    results: dict = {}
    for n_workers in (1, 2):
        with distributed.LocalCluster(n_workers=n_workers, processes=True, threads_per_worker=1,
                                      dashboard_address=None) as cluster:  # fmt: skip
            with distributed.Client(cluster) as client:
                client.run(lambda: os.environ.update(OMP_NUM_THREADS="1"))
                for name in names:
                    results[(name, n_workers)] = dask_step(client, WORKLOADS[name], steps[name])
    return results


# --- projection ---------------------------------------------------------------------------

#: Assumed one-message latency of a network at each bandwidth (not measured here):
#: TCP over 10 Gb/s Ethernet, RDMA over a 100 Gb/s fabric.
NETWORKS = {"10 Gb/s": (10e9 / 8, 25e-6), "100 Gb/s": (100e9 / 8, 3e-6)}


def fit_latency_bandwidth(allreduce_ms: dict) -> tuple[float, float]:
    """alpha (s) and beta (bytes/s) from two 2-rank Allreduce times: t = 2*alpha + S/beta."""
    (s1, t1), (s2, t2) = sorted((int(k), v / 1e3) for k, v in allreduce_ms.items())
    beta = (s2 - s1) / (t2 - t1)
    return (t1 - s1 / beta) / 2, beta


def allreduce_seconds(params: int, ranks: int, beta: float, alpha: float) -> float:
    """Recursive-doubling latency plus ring (reduce-scatter + allgather) bandwidth:
    2*log2(N)*alpha + 2*(N-1)/N * 4*params/beta."""
    return 2 * np.log2(ranks) * alpha + 2 * (ranks - 1) / ranks * 4 * params / beta


def project(report: dict, names=("mnist-shape", "wide"), ranks=(8, 64, 512)) -> list[str]:
    """Weak-scaling speedup N*Tc / (Tc + Tcomm/k), Tc the measured 1-rank step."""
    lines = ["| network | " + " | ".join(f"{n}: N={r}" for n in names for r in ranks) + " |"]
    lines.append("|---|" + "---:|" * (len(names) * len(ranks)))
    for label, (beta, alpha) in NETWORKS.items():
        cells = []
        for name in names:
            compute = report["mpi"][f"{name}/1"]["step_ms"] / 1e3
            params = report["mpi"][f"{name}/1"]["params"]
            for n in ranks:
                comm = allreduce_seconds(params, n, beta, alpha)
                speedup = n * compute / (compute + comm)
                k = max(1, int(np.ceil(9 * comm / compute)))  # comm <= 10% of the step
                cells.append(
                    f"{speedup:.0f}x"
                    + ("" if k == 1 else f" (k={k}: {n * compute / (compute + comm / k):.0f}x)")
                )
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return lines


# --- report -------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--wide-steps", type=int, default=3)
    parser.add_argument("--workloads", default="tiny,tabular,mnist-shape,wide")
    parser.add_argument("--json")
    parser.add_argument("--mpi-worker")
    parser.add_argument("--allreduce-worker", action="store_true")
    parser.add_argument("--no-dask", action="store_true")
    parser.add_argument("--out")
    parser.add_argument("--project", metavar="JSON", help="print the projection from a saved run")
    args = parser.parse_args()
    if args.project:
        report = json.loads(Path(args.project).read_text())
        alpha, beta = fit_latency_bandwidth(report["allreduce_ms"])
        print(f"measured: alpha {alpha * 1e6:.1f} us, beta {beta / 1e9:.2f} GB/s")
        print("\n".join(project(report)))
        return None
    steps = {name: args.wide_steps if name == "wide" else args.steps for name in WORKLOADS}
    if args.mpi_worker:
        return mpi_worker(args.mpi_worker, steps[args.mpi_worker], args.out)
    if args.allreduce_worker:
        return allreduce_worker(args.out)
    names = args.workloads.split(",")
    report: dict = {"allreduce_ms": run_mpi(2, "--allreduce-worker"), "mpi": {}, "dask": {}}
    for name in names:
        for ranks in (1, 2):
            report["mpi"][f"{name}/{ranks}"] = run_mpi(ranks, "--mpi-worker", name)
    if not args.no_dask:
        for (name, workers), value in run_dask(names, steps).items():
            report["dask"][f"{name}/{workers}"] = value
    print_table(report, names)
    if {"mnist-shape", "wide"} <= set(names):
        print("\n".join(project(report)))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))


def print_table(report: dict, names: list[str]) -> None:
    a = report["allreduce_ms"]
    print(f"MPI Allreduce, 2 ranks: 100 KB {a['100000']:.3f} ms, 4 MB {a['4000000']:.3f} ms")
    print("| workload | params | MPI 1 rank | MPI 2 ranks | Allreduce share | "
          "Dask 1 worker | Dask 2 workers | round-trip share |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name in names:
        one, two = report["mpi"][f"{name}/1"], report["mpi"][f"{name}/2"]
        row = [name, f"{two['params']:,}", f"{one['step_ms']:.2f} ms", f"{two['step_ms']:.2f} ms",
               f"{100 * two['allreduce_ms'] / two['step_ms']:.0f}%"]  # fmt: skip
        if report["dask"]:
            d1, d2 = report["dask"][f"{name}/1"], report["dask"][f"{name}/2"]
            row += [f"{d1['step_ms']:.1f} ms", f"{d2['step_ms']:.1f} ms",
                    f"{100 * min(1.0, d2['round_trip_ms'] / d2['step_ms']):.0f}%"]  # fmt: skip
        else:
            row += ["-", "-", "-"]
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
