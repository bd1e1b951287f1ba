"""Side-by-side benchmark of densekit against PyTorch eager, scikit-learn and onnxruntime.

    python benchmarks/run.py                    # everything, 5 interleaved repeats
    python benchmarks/run.py --quick            # tiny sizes, 1 repeat (CI smoke test)
    python benchmarks/run.py --only mnist-shape --threads 1 --markdown benchmarks/RESULTS.md

Training: one shuffled epoch (Adam, lr 1e-3) after a few warm-up batches, for each workload of
issue 3. In each repeat every (peer, thread count) runs once, in an order rotated from the last
repeat's, so that noise from the machine falls on all alike. Each peer is reported at its best
thread count; GFLOP/s counts 6 x params x rows per epoch, and "of GEMM" divides it by NumPy's
float32 GEMM rate on a 512x1024 @ 1024x4096 product, measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import inference
import machine
import memory
import numpy as np
import peers
import report
from workloads import QUICK_WORKLOADS, WORKLOADS, initial_weights, make_data

INFERENCE_WORKLOAD = "mnist-shape"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, 1 repeat (smoke test)")
    parser.add_argument("--repeats", type=int, default=None, help="interleaved repeats (5)")
    parser.add_argument(
        "--threads", default=None, help="thread counts to try, e.g. 1,2 (default: 1 and all cores)"
    )
    parser.add_argument("--only", default=None, help="workload(s) to run, comma-separated")
    parser.add_argument(
        "--peers",
        default="densekit,densekit-numpy,pytorch,sklearn",
        help="training peers, comma-separated",
    )
    parser.add_argument("--no-inference", action="store_true", help="skip the inference part")
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory part")
    parser.add_argument("--json", default=None, metavar="PATH", help="write raw results here")
    parser.add_argument("--markdown", default=None, metavar="PATH", help="write the tables here")
    parser.add_argument(
        "--keep-openblas-env",
        action="store_true",
        help="keep OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE if set (by default the run unsets them)",
    )
    parser.add_argument(
        "--memory-child", nargs=2, metavar=("PEER", "WORKLOAD"), help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    if args.repeats is None:
        args.repeats = 1 if args.quick else 5
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    if args.threads is None:
        args.threads = [1] if args.quick else sorted({1, machine.usable_cores()})
    else:
        args.threads = [int(t) for t in args.threads.split(",")]
    workloads = QUICK_WORKLOADS if args.quick else WORKLOADS
    names = list(workloads) if args.only is None else args.only.split(",")
    unknown = [n for n in names if n not in workloads]
    if unknown:
        parser.error(f"--only: unknown workload {unknown}; choose from {list(workloads)}")
    args.workloads = [workloads[n] for n in names]
    args.all_workloads = workloads
    args.peers = args.peers.split(",")
    unknown = [p for p in args.peers if p not in peers.TRAINERS]
    if unknown:
        parser.error(f"--peers: unknown peer {unknown}; choose from {list(peers.TRAINERS)}")
    return args


def say(*parts) -> None:
    print(*parts, flush=True)


def rotated(entries: list, repeat: int) -> list:
    shift = repeat % len(entries)
    return entries[shift:] + entries[:shift]


def measure_gemm(threads: list[int], quick: bool) -> dict:
    """NumPy's (and torch's) float32 GEMM rate for each shape and thread count."""
    calls = 3 if quick else 20
    rates: dict[str, dict] = {"numpy": {}, "torch": {}}
    for m, k, n in machine.GEMM_SHAPES:
        key = f"{m}x{k} @ {k}x{n}"
        rates["numpy"][key] = {t: machine.numpy_gemm_gflops(m, k, n, t, calls) for t in threads}
        try:
            rates["torch"][key] = {t: machine.torch_gemm_gflops(m, k, n, t, calls) for t in threads}
        except ImportError:
            pass
    first = next(iter(rates["numpy"]))
    rates["machine_rate"] = max(rates["numpy"][first].values())
    rates["machine_rate_shape"] = first
    return rates


def train_workload(workload, names: list[str], threads: list[int], repeats: int) -> dict:
    """Build each peer once, warm it up, then time interleaved epochs."""
    x, y = make_data(workload)
    weights = initial_weights(workload.sizes)
    result = {
        "workload": {
            "name": workload.name,
            "shape": workload.shape,
            "rows": workload.rows,
            "batch": workload.batch,
            "task": workload.task,
            "params": workload.params,
            "flops_per_epoch": workload.flops_per_epoch,
        },
        "peers": {},
    }
    runners = {}
    for name in names:
        if name == "sklearn" and not workload.sklearn:
            continue
        try:
            runner = peers.TRAINERS[name](workload, x, y, weights)
            for t in threads:  # each thread count starts its pools before it is timed
                with runner.threads(t):
                    runner.warm_up()
        except Exception as exc:
            result["peers"][name] = {"error": _reason(exc)}
            continue
        runners[name] = runner
        result["peers"][name] = {"note": runner.note, "seconds": {t: [] for t in threads}}
    entries = [(name, t) for name in runners for t in threads]
    for repeat in range(repeats):
        for name, t in rotated(entries, repeat):
            runner = runners[name]
            with runner.threads(t):
                start = time.perf_counter()
                runner.epoch(seed=repeat + 1)
                seconds = time.perf_counter() - start
            result["peers"][name]["seconds"][t].append(seconds)
    return result


def _reason(exc: Exception) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return text if text.startswith("densekit: not importable") else f"{type(exc).__name__}: {text}"


def run_inference(sizes, task: str, threads: list[int], repeats: int, quick: bool) -> dict:
    """Batch-1 latency and batch-N throughput, (predictor, threads) interleaved per repeat."""
    batch = 256 if quick else 4096
    latency_calls, throughput_calls = (50, 3) if quick else (1000, 20)
    rng = np.random.default_rng(2)
    x_big = rng.standard_normal((batch, sizes[0]), dtype=np.float32)
    x_one = np.ascontiguousarray(x_big[:1])
    weights = initial_weights(sizes)
    expected = inference.reference(x_big[:64], weights, task)
    result = {"batch": batch, "latency_calls": latency_calls, "peers": {}}
    predictors = {}
    for name, cls in inference.PREDICTORS.items():
        try:
            predictor = cls(sizes, weights, task)
            with predictor.threads(threads[0]):
                got = predictor.predict(x_big[:64])
        except Exception as exc:
            result["peers"][name] = {"error": _reason(exc)}
            continue
        predictors[name] = predictor
        result["peers"][name] = {
            "max_abs_diff": float(np.max(np.abs(got - expected))),
            "latency_us": {t: [] for t in threads},
            "throughput": {t: [] for t in threads},
        }
    entries = [(name, t) for name in predictors for t in threads]
    for repeat in range(repeats):
        for name, t in rotated(entries, repeat):
            predictor, entry = predictors[name], result["peers"][name]
            with predictor.threads(t):
                entry["latency_us"][t].append(_median_call_us(predictor, x_one, latency_calls))
                seconds = _median_call_us(predictor, x_big, throughput_calls) / 1e6
                entry["throughput"][t].append(batch / seconds)
    return result


def _median_call_us(predictor, x: np.ndarray, calls: int) -> float:
    for _ in range(min(10, calls)):
        predictor.predict(x)
    times = np.empty(calls)
    for i in range(calls):
        start = time.perf_counter_ns()
        predictor.predict(x)
        times[i] = time.perf_counter_ns() - start
    return float(np.median(times)) / 1e3


def run_memory(workloads, names: list[str], quick: bool) -> list[dict]:
    results = []
    for workload in workloads:
        for peer in memory.MEMORY_PEERS:
            if peer not in names:
                continue
            if peer.startswith("densekit") and peers.import_densekit()[0] is None:
                results.append({"peer": peer, "workload": workload.name, "error": "not importable"})
                continue
            results.append(memory.measure(peer, workload.name, quick, timeout=600))
    return results


def gemm_rows(gemm: dict, threads: list[int]) -> list[list[str]]:
    rows = []
    for library in ("numpy", "torch"):
        for shape, by_threads in gemm[library].items():
            rows.append([library, shape] + [f"{by_threads[t]:.1f}" for t in threads])
    return rows


def training_notes(training: dict) -> list[str]:
    notes = {}
    for result in training.values():
        for peer, entry in result["peers"].items():
            if "note" in entry:
                notes.setdefault(peer, []).append(f"{result['workload']['name']}: {entry['note']}")
    return [f"{peer} runs " + "; ".join(lines) for peer, lines in notes.items()]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.memory_child:
        peer, name = args.memory_child
        memory.child(peer, args.all_workloads[name])
        return 0

    # only a run from the command line re-executes itself; a caller's process is left alone
    machine.run_unpinned(args.keep_openblas_env or argv is not None)
    info = machine.describe()
    info["openblas_env"] = machine.openblas_environment()
    dk, reason = peers.import_densekit()
    if dk is None:
        say(f"densekit: not importable ({reason}); skipping it")
    say(f"{info['date']} · {info['cpu']} · {info['cores']} cores · threads tried: {args.threads}")
    say(" · ".join(f"{k} {v}" for k, v in info["versions"].items()))
    info["densekit_kernels"] = peers.kernel_description()
    say(f"densekit CPU kernels: {info['densekit_kernels']}")
    say(f"OpenBLAS environment: {info['openblas_env']}")
    say("OpenBLAS kernel: " + openblas_kernels(machine.blas_info()))

    gemm = measure_gemm(args.threads, args.quick)
    gemm_header = ["GEMM float32", "shape"] + [f"GFLOP/s, {t} thr" for t in args.threads]
    say("\n" + report.text_table(gemm_header, gemm_rows(gemm, args.threads)))
    say(f"machine GEMM rate: {gemm['machine_rate']:.1f} GFLOP/s ({gemm['machine_rate_shape']})")

    training = {}
    for workload in args.workloads:
        say(
            f"\ntraining {workload.name} ({workload.shape}, {workload.rows} rows, "
            f"batch {workload.batch}) ..."
        )
        result = train_workload(workload, args.peers, args.threads, args.repeats)
        result["summary"] = report.summarize_training(result, gemm["machine_rate"])
        training[workload.name] = result
        say(
            report.text_table(report.TRAINING_HEADER, report.training_rows({workload.name: result}))
        )

    inference_result = None
    names = [w.name for w in args.workloads]
    if not args.no_inference and INFERENCE_WORKLOAD in names:
        workload = args.all_workloads[INFERENCE_WORKLOAD]
        say(f"\ninference {workload.name} ({workload.shape}) ...")
        inference_result = run_inference(
            workload.sizes, workload.task, args.threads, args.repeats, args.quick
        )
        inference_result["summary"] = report.summarize_inference(inference_result)
        rows = report.inference_rows(inference_result["summary"])
        say(report.text_table(report.INFERENCE_HEADER, rows))

    memory_results = None
    if not args.no_memory:
        # --quick measures one workload: each child pays a fresh import of its library
        targets = args.workloads[:1] if args.quick else args.workloads
        say(f"\npeak memory of a training epoch ({', '.join(w.name for w in targets)}) ...")
        memory_results = run_memory(targets, args.peers, args.quick)
        say(report.text_table(report.MEMORY_HEADER, report.memory_rows(memory_results)))

    say("\n" + "\n".join(training_notes(training)))
    results = {
        "machine": info,
        "blas": machine.blas_info(),
        "command": " ".join(["benchmarks/run.py", *(argv if argv is not None else sys.argv[1:])]),
        "quick": args.quick,
        "repeats": args.repeats,
        "threads": args.threads,
        "gemm": gemm,
        "training": training,
        "inference": inference_result,
        "memory": memory_results,
    }
    if args.json:
        _write(args.json, json.dumps(results, indent=1, default=str))
    if args.markdown:
        _write(args.markdown, markdown(results))
    return 0


def openblas_kernels(pools: list[dict]) -> str:
    """The kernel family each loaded OpenBLAS runs (threadpoolctl's ``architecture``)."""
    found = [
        f"{p.get('architecture')} ({os.path.basename(p.get('filepath', ''))})"
        for p in pools
        if p.get("internal_api") == "openblas"
    ]
    return "; ".join(found) or "no OpenBLAS loaded"


def markdown(results: dict) -> str:
    info, threads = results["machine"], results["threads"]
    lines = [
        "# densekit benchmark results",
        "",
        f"- date: {info['date']}",
        f"- machine: {info['cpu']}, {info['cores']} usable cores "
        f"({info['logical_cpus']} logical CPUs), {info['platform']}",
        "- versions: " + ", ".join(f"{k} {v}" for k, v in info["versions"].items()),
        f"- densekit CPU kernels: {info.get('densekit_kernels', 'unknown')}",
        "- BLAS / thread pools: "
        + "; ".join(
            f"{p.get('internal_api')} {p.get('version')} ({p.get('user_api')}, "
            f"{os.path.basename(p.get('filepath', ''))})"
            for p in results["blas"]
        ),
        f"- OpenBLAS environment: {info.get('openblas_env', 'not recorded')}; kernel: "
        + openblas_kernels(results["blas"]),
        f"- command: `{results['command']}`; {results['repeats']} interleaved repeats; "
        f"threads tried: {threads}",
        "",
        "## Machine GEMM rate (float32, median)",
        "",
        report.markdown_table(
            ["library", "shape"] + [f"GFLOP/s, {t} thr" for t in threads],
            gemm_rows(results["gemm"], threads),
        ),
        "",
        "## Training: one epoch, Adam lr 1e-3, each peer at its best thread count",
        "",
        "rows/s is the median over repeats; GFLOP/s counts 6 × params × rows; "
        f"'of GEMM' is against {results['gemm']['machine_rate']:.1f} GFLOP/s "
        f"(NumPy, {results['gemm']['machine_rate_shape']}).",
        "",
        report.markdown_table(report.TRAINING_HEADER, report.training_rows(results["training"])),
        "",
        *[f"- {note}" for note in training_notes(results["training"])],
    ]
    if results["inference"]:
        lines += [
            "",
            f"## Inference: mnist-shape, batch 1 and batch {results['inference']['batch']}",
            "",
            report.markdown_table(
                report.INFERENCE_HEADER, report.inference_rows(results["inference"]["summary"])
            ),
        ]
    if results["memory"]:
        lines += [
            "",
            "## Peak resident memory of a training epoch (fresh process each)",
            "",
            report.markdown_table(report.MEMORY_HEADER, report.memory_rows(results["memory"])),
        ]
    return "\n".join(lines) + "\n"


def _write(path: str, text: str) -> None:
    """Write to a temporary file and rename it into place, so no half-written file is left."""
    temporary = f"{path}.tmp"
    with open(temporary, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(temporary, path)


if __name__ == "__main__":
    sys.exit(main())
