"""densekit on CuPy against PyTorch CUDA eager, side by side on one GPU.

    python benchmarks/gpu.py [--quick] [--rounds 2] [--epochs 3] [--out DIR]

Runs issue 3's four workloads (tiny, tabular, mnist-shape, wide) and a larger
wide one that fills the card: the same data, initial weights, batch size and
Adam (lr 1e-3, eps 1e-7) for densekit (``fit`` on NumPy arrays, device='gpu')
and PyTorch (data already on the GPU, ``torch.randperm`` shuffling, default
foreach Adam, and its fused Adam). Each competitor trains a warm-up epoch,
then ``--epochs`` timed epochs, in ``--rounds`` interleaved rounds; every
epoch ends in a device synchronize and the tables give the median and the
spread (min-max) over all timed epochs. In the same run: the card's float32,
TF32 and BF16 GEMM rates (8192^3 cupy.matmul, CUDA events), GPU-vs-CPU
parity after one float32 epoch, the batch-feeding modes, TF32 training, and
``fit`` with and without CUDA graphs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))

import workloads  # noqa: E402 - benchmarks/ is the script's folder
from peers import build_torch  # noqa: E402
from workloads import Workload  # noqa: E402

import densekit as dk  # noqa: E402
from densekit.callbacks import Callback  # noqa: E402
from densekit.training import gpu as dk_device  # noqa: E402

LEARNING_RATE, EPSILON = 1e-3, 1e-7


WORKLOADS = [
    Workload("tiny", (8, 16, 1), 10_000, 32, "regression"),
    Workload("tabular", (20, 64, 64, 2), 50_000, 256, "classification"),
    Workload("mnist-shape", (784, 256, 128, 10), 60_000, 128, "classification"),
    Workload("wide", (1024, 4096, 4096, 1024), 8_000, 512, "regression"),
    Workload("wide-xl", (4096, 8192, 8192, 4096), 32_768, 2048, "regression"),
]
QUICK = [
    Workload("tiny", (8, 16, 1), 2_000, 32, "regression"),
    Workload("tabular", (20, 64, 64, 2), 4_096, 256, "classification"),
    Workload("mnist-shape", (784, 256, 128, 10), 4_096, 128, "classification"),
    Workload("wide", (256, 512, 512, 256), 2_048, 512, "regression"),
]


def make_data(w: Workload, seed: int = 0):
    """Inputs and targets from benchmarks/workloads.py's teacher network (seed 0 here)."""
    return workloads.make_data(w, seed=seed)


def initial_weights(sizes, seed: int = 1):
    rng = np.random.default_rng(seed)
    weights = []
    for n, m in zip(sizes[:-1], sizes[1:]):
        limit = np.sqrt(6.0 / (n + m))
        weights += [rng.uniform(-limit, limit, (n, m)).astype(np.float32), np.zeros(m, np.float32)]
    return weights


# --- densekit -----------------------------------------------------------------------------
def build_densekit(w: Workload, weights, device="gpu", precision="fp32"):
    layers = []
    for i, m in enumerate(w.sizes[1:]):
        last = i == len(w.sizes) - 2
        act = ("softmax" if w.task == "classification" else None) if last else "relu"
        layers.append(dk.layers.Dense(m, activation=act, input_dim=w.sizes[0] if i == 0 else None))
    model = dk.Sequential(layers, seed=0, device=device, precision=precision)
    loss = "sparse_categorical_crossentropy" if w.task == "classification" else "mse"
    model.compile(dk.optimizers.Adam(LEARNING_RATE, epsilon=EPSILON), loss)
    model.set_weights(weights)
    return model


class EpochTimer(Callback):
    """Wall time of each epoch, the device synchronized at both ends."""

    def __init__(self, sync):
        super().__init__()
        self.sync, self.times = sync, []

    def on_epoch_begin(self, epoch, logs=None):
        self.sync()
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.sync()
        self.times.append(time.perf_counter() - self.started)


def densekit_epochs(model, x, y, w: Workload, epochs: int, sync) -> list[float]:
    """Times of ``epochs`` epochs of one ``fit`` call (after its first, warm-up, epoch)."""
    timer = EpochTimer(sync)
    model.fit(x, y, batch_size=w.batch, epochs=1 + epochs, verbose=0, callbacks=[timer], seed=7)
    return timer.times[1:]


# --- PyTorch --------------------------------------------------------------------------------
class TorchRunner:
    def __init__(self, torch, w: Workload, x, y, weights, fused: bool):
        self.torch, self.w = torch, w
        self.model = build_torch(torch, w.sizes, weights).cuda().train()
        self.optimizer = torch.optim.Adam(
            self.model.parameters(), lr=LEARNING_RATE, eps=EPSILON, fused=fused or None
        )
        self.loss = (
            torch.nn.CrossEntropyLoss() if w.task == "classification" else torch.nn.MSELoss()
        )
        self.x, self.y = torch.from_numpy(x).cuda(), torch.from_numpy(y).cuda()
        self.generator = torch.Generator(device="cuda").manual_seed(0)

    def epoch(self, order=None):
        torch, w = self.torch, self.w
        if order is None:
            order = torch.randperm(w.rows, device="cuda", generator=self.generator)
        for start in range(0, w.rows, w.batch):
            index = order[start : start + w.batch]
            self.optimizer.zero_grad(set_to_none=True)
            loss = self.loss(self.model(self.x[index]), self.y[index])
            loss.backward()
            self.optimizer.step()

    def epochs(self, n: int) -> list[float]:
        times = []
        self.epoch()  # warm-up
        for _ in range(n):
            self.torch.cuda.synchronize()
            started = time.perf_counter()
            self.epoch()
            self.torch.cuda.synchronize()
            times.append(time.perf_counter() - started)
        return times


# --- the card -------------------------------------------------------------------------------
def gemm_rates(cupy, n: int = 8192) -> dict[str, float]:
    """TFLOP/s of an n^3 float32 product: cupy.matmul (fp32), and densekit's cuBLAS
    call (float32 in and out) with fp32, TF32 and BF16 products; median of 10."""
    kernels = dk.backend.get_backend("gpu").kernels
    rng = cupy.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=cupy.float32)
    b = rng.standard_normal((n, n), dtype=cupy.float32)
    out = cupy.empty((n, n), cupy.float32)
    rates = {}
    variants = [("cupy_fp32", lambda: cupy.matmul(a, b, out=out))] + [
        (p, lambda p=p: kernels.matmul(a, b, out, precision=p)) for p in ("fp32", "tf32", "bf16")
    ]
    for label, product in variants:
        for _ in range(3):
            product()
        times = []
        for _ in range(10):
            start, stop = cupy.cuda.Event(), cupy.cuda.Event()
            start.record()
            product()
            stop.record()
            stop.synchronize()
            times.append(cupy.cuda.get_elapsed_time(start, stop) / 1e3)
        rates[label] = 2.0 * n**3 / statistics.median(times) / 1e12
    return rates


def parity_checks(torch, w: Workload, x, y, weights) -> dict:
    """||w_gpu - w_cpu|| / ||w_cpu|| after one float32 epoch in the same order.

    With Adam, and with SGD (lr 0.01): Adam's first steps move every weight by
    about lr * sign(g), so a gradient whose sign is decided by rounding (a
    different summation order in cuBLAS and the CPU's BLAS) moves by 2 lr; SGD
    has no such amplifier. PyTorch CUDA against the same CPU run gives the floor
    that another correct GPU implementation reaches.
    """
    result = {}
    order = np.random.default_rng(11).permutation(w.rows)  # what fit(seed=11) draws
    for name, make in [
        ("adam", lambda: dk.optimizers.Adam(LEARNING_RATE, epsilon=EPSILON)),
        ("sgd", lambda: dk.optimizers.SGD(0.01)),
    ]:
        models = {}
        for device in ("gpu", "cpu"):
            model = build_densekit(w, weights, device)
            model.compile(make(), model.loss)
            model.fit(x, y, batch_size=w.batch, epochs=1, verbose=0, seed=11)
            models[device] = model.backend.to_numpy(model.params)
        cpu = models["cpu"]
        result[f"parity_{name}"] = float(np.linalg.norm(models["gpu"] - cpu) / np.linalg.norm(cpu))
        if name == "adam":
            runner = TorchRunner(torch, w, x, y, weights, fused=False)
            runner.epoch(order=torch.from_numpy(order).cuda())
            flat = []
            for layer in runner.model:
                if isinstance(layer, torch.nn.Linear):
                    flat += [layer.weight.detach().T.reshape(-1), layer.bias.detach()]
            flat = torch.cat(flat).cpu().numpy()
            result["parity_torch_adam"] = float(np.linalg.norm(flat - cpu) / np.linalg.norm(cpu))
    return result


# --- the run --------------------------------------------------------------------------------
def _stats(times: list[float]) -> dict:
    return {"median": statistics.median(times), "min": min(times), "max": max(times)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke test)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs per round")
    parser.add_argument("--out", default=os.environ.get("OUT", "."))
    parser.add_argument("--only", nargs="*", help="workload names")
    args = parser.parse_args(argv)

    import cupy
    import torch

    sync = cupy.cuda.Device().synchronize
    props = cupy.cuda.runtime.getDeviceProperties(0)
    card = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
    info = {
        "card": card,
        "memory_gib": round(props["totalGlobalMem"] / 2**30, 1),
        "cupy": cupy.__version__,
        "torch": torch.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    print(json.dumps(info), flush=True)
    rates = gemm_rates(cupy, 2048 if args.quick else 8192)
    print("GEMM TFLOP/s", json.dumps({k: round(v, 1) for k, v in rates.items()}), flush=True)

    workloads = QUICK if args.quick else WORKLOADS
    if args.only:
        workloads = [w for w in workloads if w.name in args.only]
    results = []
    for w in workloads:
        x, y = make_data(w)
        weights = initial_weights(w.sizes)
        row = {
            "workload": w.name,
            "sizes": "-".join(map(str, w.sizes)),
            "rows": w.rows,
            "batch": w.batch,
            "params": w.params,
        }
        runners = {
            "densekit": build_densekit(w, weights),
            "torch": TorchRunner(torch, w, x, y, weights, fused=False),
            "torch_fused": TorchRunner(torch, w, x, y, weights, fused=True),
        }
        times: dict[str, list[float]] = {k: [] for k in runners}
        for _ in range(args.rounds):
            for name, runner in runners.items():
                if name == "densekit":
                    times[name] += densekit_epochs(runner, x, y, w, args.epochs, sync)
                else:
                    times[name] += runner.epochs(args.epochs)
        for name, t in times.items():
            row[name] = _stats(t)
        # TF32 on both sides for the wide networks
        if w.sizes[1] >= 1024:
            torch.backends.cuda.matmul.allow_tf32 = True
            model = build_densekit(w, weights, precision="tf32")
            row["densekit_tf32"] = _stats(densekit_epochs(model, x, y, w, args.epochs, sync))
            row["torch_tf32"] = _stats(
                TorchRunner(torch, w, x, y, weights, fused=False).epochs(args.epochs)
            )
            torch.backends.cuda.matmul.allow_tf32 = False
        # feeding modes (default 'auto' is resident for all of these sizes)
        if w.name in ("mnist-shape", "wide") or args.quick:
            dk_device.CUDA_GRAPHS = False  # graphs need resident data: compare eager with eager
            for mode in ("resident", "stream", "sync"):
                dk_device.FEED_MODE = mode
                model = build_densekit(w, weights)
                row[f"feed_{mode}"] = _stats(densekit_epochs(model, x, y, w, args.epochs, sync))
            dk_device.FEED_MODE = "auto"
            dk_device.CUDA_GRAPHS = True
        # parity: one float32 epoch on the GPU and on the CPU, same order
        if w.name != "wide-xl":
            row.update(parity_checks(torch, w, x, y, weights))
        # the same fit without CUDA graphs (every kernel launched from Python)
        if w.sizes[1] <= 1024 or args.quick:
            dk_device.CUDA_GRAPHS = False
            model = build_densekit(w, weights)
            row["densekit_eager"] = _stats(densekit_epochs(model, x, y, w, args.epochs, sync))
            dk_device.CUDA_GRAPHS = True
        results.append(row)
        print(json.dumps(row), flush=True)
        del runners
        cupy.get_default_memory_pool().free_all_blocks()
        torch.cuda.empty_cache()

    report = {"info": info, "gemm_tflops": rates, "results": results}
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "gpu-results.json"), "w") as f:
        json.dump(report, f, indent=1)
    table = markdown(report)
    with open(os.path.join(args.out, "RESULTS-gpu.md"), "w") as f:
        f.write(table)
    print(table)
    return 0


def markdown(report: dict) -> str:
    info, rates = report["info"], report["gemm_tflops"]
    lines = [
        f"# densekit on the GPU: {info['card']} ({info['memory_gib']} GiB)",
        "",
        f"{info['date']}; CuPy {info['cupy']}, PyTorch {info['torch']}, NumPy {info['numpy']}, "
        f"Python {info['python']}. Measured 8192^3 float32 GEMM: cupy.matmul "
        f"{rates['cupy_fp32']:.1f} TFLOP/s; densekit's cuBLAS call fp32 {rates['fp32']:.1f}, "
        f"TF32 {rates['tf32']:.1f}, BF16 {rates['bf16']:.1f} TFLOP/s.",
        "",
        "Epoch times: median (min-max) over the timed epochs; rows/s from the median. "
        "densekit = `fit` on NumPy arrays (device='gpu'); PyTorch eager = data already on the "
        "GPU, default (foreach) Adam; 'fused' = `Adam(fused=True)`. GFLOP/s = 6 x params x "
        "rows / time; '% GEMM' against the measured fp32 (or TF32) rate. Parity: "
        "||w_gpu - w_cpu|| / ||w_cpu|| after one float32 epoch in the same order (densekit GPU "
        "vs densekit CPU with Adam and with SGD; PyTorch CUDA vs the same densekit CPU run).",
        "",
        "| workload | densekit rows/s | PyTorch rows/s | PyTorch fused rows/s | "
        "ratio (vs best PyTorch) | densekit GFLOP/s | % GEMM | parity: Adam / SGD / PyTorch Adam |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in report["results"]:
        rows = r["rows"]
        flops = 6.0 * r["params"] * rows

        def cell(key, r=r, rows=rows):
            s = r[key]
            return f"{rows / s['median']:,.0f} ({rows / s['max']:,.0f}-{rows / s['min']:,.0f})"

        dk_t = r["densekit"]["median"]
        best = min(r["torch"]["median"], r["torch_fused"]["median"])
        parity = (
            f"{r['parity_adam']:.1e} / {r['parity_sgd']:.1e} / {r['parity_torch_adam']:.1e}"
            if "parity_adam" in r
            else "-"
        )
        lines.append(
            f"| {r['workload']} {r['sizes']} b{r['batch']} | {cell('densekit')} | {cell('torch')} "
            f"| {cell('torch_fused')} | {best / dk_t:.2f}x | {flops / dk_t / 1e9:,.0f} | "
            f"{100 * flops / dk_t / 1e12 / rates['fp32']:.0f}% | {parity} |"
        )
    tf = [r for r in report["results"] if "densekit_tf32" in r]
    if tf:
        lines += [
            "",
            "TF32 matrix products on both sides (`precision='tf32'`, "
            "`torch.backends.cuda.matmul.allow_tf32 = True`):",
            "",
            "| workload | densekit rows/s | PyTorch rows/s | ratio | densekit TFLOP/s | "
            "% TF32 GEMM |",
            "|---|---|---|---|---|---|",
        ]
        for r in tf:
            t, p = r["densekit_tf32"]["median"], r["torch_tf32"]["median"]
            flops = 6.0 * r["params"] * r["rows"]
            lines.append(
                f"| {r['workload']} | {r['rows'] / t:,.0f} | {r['rows'] / p:,.0f} | "
                f"{p / t:.2f}x | {flops / t / 1e12:.1f} | "
                f"{100 * flops / t / 1e12 / rates['tf32']:.0f}% |"
            )
    feed = [r for r in report["results"] if "feed_stream" in r]
    if feed:
        lines += [
            "",
            "Batch feeding (densekit `fit` without CUDA graphs, rows/s): resident = data copied once, "
            "batches gathered on the GPU (the default when it fits); stream = pinned host "
            "buffers, copy on a second stream one batch ahead; sync = plain copy per batch.",
            "",
            "| workload | resident | stream | sync |",
            "|---|---|---|---|",
        ]
        for r in feed:
            lines.append(
                f"| {r['workload']} | "
                + " | ".join(
                    f"{r['rows'] / r[k]['median']:,.0f}"
                    for k in ("feed_resident", "feed_stream", "feed_sync")
                )
                + " |"
            )
    eager = [r for r in report["results"] if "densekit_eager" in r]
    if eager:
        lines += [
            "",
            "CUDA graphs in `fit` (the default where it applies): each full batch's "
            "whole training step replayed from one captured graph, against the same `fit` "
            "with `densekit.training.gpu.CUDA_GRAPHS = False` (every kernel launched from Python):",
            "",
            "| workload | eager rows/s | graph rows/s | speed-up |",
            "|---|---|---|---|",
        ]
        for r in eager:
            e, g = r["densekit_eager"]["median"], r["densekit"]["median"]
            lines.append(
                f"| {r['workload']} | {r['rows'] / e:,.0f} | {r['rows'] / g:,.0f} | {e / g:.2f}x |"
            )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
