"""Compression side by side: does each method pay off in size, speed and accuracy?

    python benchmarks/compression.py                     # full run (a few minutes on 2 cores)
    python benchmarks/compression.py --quick             # small network, few epochs (smoke test)
    python benchmarks/compression.py --markdown benchmarks/RESULTS-compression.md

Data: scikit-learn's bundled digits (1,797 8x8 images, 10 classes), a stratified
80/20 split; the last 20% of the training rows is the validation set of the
int8 accuracy guard. Network: 64 -> 512 -> 512 -> 10 (relu, softmax), Adam.

Methods, each from the same trained float model:
- 90% magnitude sparsity: PolynomialDecay 0 -> 90% during fine-tuning, then
  fine-tuned at 90%; timed dense (densekit predict) and with the measured
  dense/CSR choice (``dk.prune.sparse_inference``).
- 50% neuron removal (activation criterion) + fine-tuning.
- int8 (post-training, guard max_drop=0.005): densekit's integer simulation and
  onnxruntime on the QDQ export, against onnxruntime on the float32 export.
- int8 after a few epochs of quantization-aware training (``dk.quantize.qat``).
- float16 weight storage.

Throughput is rows per second of batch inference (batch ``--batch``), best of
``--repeats`` interleaved rounds, every engine limited to ``--threads`` threads
(default 1: BLAS via threadpoolctl, onnxruntime intra-op threads, no spinning),
the most repeatable setting on a shared machine.
A second table times one 512x512 Dense product dense vs CSR at rising sparsity
(the break-even sparsity of sparse inference).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from threadpoolctl import threadpool_limits

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))

import densekit as dk  # noqa: E402
from densekit import prune, quantize  # noqa: E402
from densekit.report.compression import file_bytes  # noqa: E402


def interleaved_timing(rows: list[dict], batch_rows: np.ndarray, repeats: int) -> None:
    """Rows per second of each row's ``predict`` on one batch: best of ``repeats`` rounds,
    every round timing each engine once, so load from other jobs falls on all alike."""
    best = [np.inf] * len(rows)
    for entry in rows:
        entry["predict"](batch_rows)  # warm-up
    for _ in range(repeats):
        for k, entry in enumerate(rows):
            start = time.perf_counter()
            entry["predict"](batch_rows)
            best[k] = min(best[k], time.perf_counter() - start)
    for entry, seconds in zip(rows, best):
        entry["rows_per_s"] = len(batch_rows) / seconds
        del entry["predict"]


def ort_session(model, folder: str, name: str, threads: int):
    import onnxruntime as ort

    path = os.path.join(folder, f"{name}.onnx")
    quantize.export_onnx(model, path)
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    return (lambda x: session.run(None, {"input": x})[0]), os.path.getsize(path)


def build(hidden: int, seed: int) -> dk.Sequential:
    model = dk.Sequential(
        [
            dk.layers.Dense(hidden, activation="relu", input_dim=64),
            dk.layers.Dense(hidden, activation="relu"),
            dk.layers.Dense(10, activation="softmax"),
        ],
        seed=seed,
    )
    model.compile(dk.optimizers.Adam(1e-3), "sparse_categorical_crossentropy", ["accuracy"])
    return model


def fine_tune_optimizer(model, rate: float = 3e-4) -> None:
    model.compile(dk.optimizers.Adam(rate), "sparse_categorical_crossentropy", ["accuracy"])


def run(args) -> tuple[list[dict], list[dict]]:
    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype(np.float32)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=0.2, stratify=y, random_state=0
    )
    x_fit, y_fit = x_train[:-300], y_train[:-300]
    x_val, y_val = x_train[-300:], y_train[-300:]
    batch_rows = np.ascontiguousarray(np.resize(x_test, (args.batch, 64)))  # test rows, repeated

    model = build(args.hidden, args.seed)
    model.fit(x_fit, y_fit, epochs=args.epochs, batch_size=32, verbose=0, seed=args.seed)
    base_accuracy = quantize.accuracy(model, x_test, y_test)
    rows = []

    def row(method, compressed, accuracy, predict, size, engine="densekit", note=""):
        return {
            "method": method,
            "engine": engine,
            "params": compressed,
            "bytes": size,
            "accuracy": accuracy,
            "delta": accuracy - base_accuracy,
            "predict": predict,
            "note": note,
        }

    with threadpool_limits(limits=args.threads):
        rows.append(
            row("float32", model.count_params(), base_accuracy, model.predict, file_bytes(model))
        )

        # 90% magnitude sparsity, reached gradually while fine-tuning
        sparse = model.copy()
        fine_tune_optimizer(sparse)
        steps = -(-len(x_fit) // 32)
        ramp = prune.PolynomialDecay(0.0, 0.9, 0, steps * args.ramp_epochs, frequency=steps // 2)
        sparse.fit(
            x_fit,
            y_fit,
            epochs=args.tune_epochs,
            batch_size=32,
            verbose=0,
            seed=args.seed,
            callbacks=[prune.PruningCallback(ramp)],
        )
        prune.strip(sparse)
        zeros = sum(int((np.asarray(layer.kernel) == 0).sum()) for layer in sparse.layers)
        accuracy = quantize.accuracy(sparse, x_test, y_test)
        sparsity = prune.sparsity(sparse)
        rows.append(
            row(
                "90% magnitude + fine-tune",
                f"{sparse.count_params() - zeros} nonzero",
                accuracy,
                sparse.predict,
                file_bytes(sparse),
                note="kernel sparsity " + ", ".join(f"{v:.2f}" for v in sparsity.values()),
            )
        )
        runner = prune.sparse_inference(sparse, batch_rows, repeats=args.repeats)
        chosen = [c["layer"] for c in runner.choices if c["sparse"]]
        rows.append(
            row(
                "90% magnitude + fine-tune",
                f"{sparse.count_params() - zeros} nonzero",
                accuracy,
                runner.predict,
                file_bytes(sparse),
                engine="densekit + measured CSR",
                note=f"CSR chosen for {chosen or 'no layer'}",
            )
        )

        # 50% of hidden units removed, then fine-tuned
        small = prune.neurons(model, 0.5, criterion="activation", x=x_fit)
        fine_tune_optimizer(small)
        before_tuning = quantize.accuracy(small, x_test, y_test)
        small.fit(x_fit, y_fit, epochs=args.tune_epochs, batch_size=32, verbose=0, seed=args.seed)
        rows.append(
            row(
                "50% neurons removed + fine-tune",
                small.count_params(),
                quantize.accuracy(small, x_test, y_test),
                small.predict,
                file_bytes(small),
                note=f"accuracy {before_tuning:.4f} before fine-tuning",
            )
        )

        # int8 (post-training) and float16
        import warnings

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            q8 = quantize.int8(model, x_fit[:500], validation=(x_val, y_val), max_drop=0.005)
        q8_accuracy = quantize.accuracy(q8, x_test, y_test)
        guard = f"kept float32: {q8.kept_float}" if q8.kept_float else "all layers int8"
        rows.append(
            row(
                "int8 (PTQ)",
                q8.count_params(),
                q8_accuracy,
                q8.predict,
                file_bytes(q8),
                engine="densekit (integer simulation)",
                note=guard + (f"; {caught[0].message}" if caught else ""),
            )
        )
        trained = quantize.qat(model, momentum=0.9)
        fine_tune_optimizer(trained, 1e-4)
        trained.fit(x_fit, y_fit, epochs=args.qat_epochs, batch_size=32, verbose=0, seed=args.seed)
        q8_qat = quantize.int8(quantize.strip_qat(trained), x_fit[:500])
        rows.append(
            row(
                "int8 (QAT)",
                q8_qat.count_params(),
                quantize.accuracy(q8_qat, x_test, y_test),
                q8_qat.predict,
                file_bytes(q8_qat),
                engine="densekit (integer simulation)",
                note=f"{args.qat_epochs} epochs of QAT (Adam 1e-4) from the float model",
            )
        )
        half = quantize.float16(model)
        rows.append(
            row(
                "float16 storage",
                half.count_params(),
                quantize.accuracy(half, x_test, y_test),
                half.predict,
                file_bytes(half),
            )
        )
        with tempfile.TemporaryDirectory() as folder:
            float_ort, float_onnx_bytes = ort_session(model, folder, "float", args.threads)
            int8_ort, int8_onnx_bytes = ort_session(q8, folder, "int8", args.threads)
            float_ort_accuracy = float((float_ort(x_test).argmax(1) == y_test).mean())
            rows.append(
                row(
                    "float32",
                    model.count_params(),
                    float_ort_accuracy,
                    float_ort,
                    float_onnx_bytes,
                    engine="onnxruntime",
                    note="ONNX file bytes",
                )
            )
            rows.append(
                row(
                    "int8 (PTQ)",
                    q8.count_params(),
                    float((int8_ort(x_test).argmax(1) == y_test).mean()),
                    int8_ort,
                    int8_onnx_bytes,
                    engine="onnxruntime (QDQ)",
                    note="ONNX file bytes",
                )
            )
            interleaved_timing(rows, batch_rows, args.repeats)

        # the break-even sparsity of CSR against dense BLAS
        rng = np.random.default_rng(0)
        signal = rng.random((256, 512), dtype=np.float32)
        break_even = []
        for level in (0.5, 0.7, 0.8, 0.9, 0.92, 0.94, 0.95, 0.96, 0.97, 0.99):
            kernel = rng.normal(size=(512, 512)).astype(np.float32)
            kernel[rng.random(kernel.shape) < level] = 0.0
            dense_s, sparse_s = prune.time_products(kernel, signal, repeats=args.repeats)
            break_even.append(
                {"sparsity": level, "dense_ms": dense_s * 1e3, "csr_ms": sparse_s * 1e3}
            )
    return rows, break_even


def markdown(rows: list[dict], break_even: list[dict], args) -> str:
    base = {r["engine"]: r for r in rows if r["method"] == "float32"}
    base["onnxruntime (QDQ)"] = base["onnxruntime"]
    lines = [
        "## Compression (benchmarks/compression.py)",
        "",
        f"digits, 64 -> {args.hidden} -> {args.hidden} -> 10, {args.epochs} epochs of training, "
        f"{args.tune_epochs} of fine-tuning; batch inference of {args.batch} rows, best of "
        f"{args.repeats} interleaved rounds, {args.threads} thread(s); {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores.",
        "",
        "| method | engine | parameters | file bytes | test accuracy | change (points) "
        "| rows/s | speed vs float | notes |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        reference = base.get(r["engine"], base["densekit"])
        size_ratio = reference["bytes"] / r["bytes"]
        lines.append(
            f"| {r['method']} | {r['engine']} | {r['params']} | {r['bytes']:,} "
            f"({size_ratio:.2f}x smaller) | {r['accuracy']:.4f} | {100 * r['delta']:+.2f} "
            f"| {r['rows_per_s']:,.0f} | {r['rows_per_s'] / reference['rows_per_s']:.2f}x "
            f"| {r['note']} |"
        )
    lines += [
        "",
        "Speed and size are relative to float32 on the same engine (onnxruntime rows to the "
        "float32 ONNX model, the others to densekit's float32 predict).",
        "",
        f"Dense vs CSR for one 512x512 Dense product on 256 rows ({args.threads} thread(s)):",
        "",
        "| kernel sparsity | dense ms | CSR ms | faster |",
        "|---|---|---|---|",
    ]
    for b in break_even:
        faster = "CSR" if b["csr_ms"] < b["dense_ms"] else "dense"
        lines.append(
            f"| {b['sparsity']:.2f} | {b['dense_ms']:.3f} | {b['csr_ms']:.3f} | {faster} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--hidden", type=int, default=512)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--tune-epochs", type=int, default=15)
    parser.add_argument("--ramp-epochs", type=int, default=8)
    parser.add_argument("--qat-epochs", type=int, default=3)
    parser.add_argument("--batch", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="BLAS and onnxruntime threads")
    parser.add_argument("--markdown", default=None, help="also write the table to this file")
    args = parser.parse_args()
    if args.quick:
        args.hidden, args.epochs, args.tune_epochs, args.ramp_epochs = 64, 3, 2, 1
        args.qat_epochs = 1
        args.batch, args.repeats = 128, 2
    rows, break_even = run(args)
    text = markdown(rows, break_even, args)
    print(text)
    if args.markdown:
        with open(args.markdown, "w") as stream:
            stream.write(text)


if __name__ == "__main__":
    main()
