"""int8 ONNX export on CPUs without VNNI: accuracy and speed of the weight formats.

    python benchmarks/int8_saturation.py              # a few minutes on 2 cores
    python benchmarks/int8_saturation.py --quick      # smoke test

On x86 without VNNI, onnxruntime's u8 x s8 kernel adds adjacent products into a
saturating int16 (vpmaddubsw), so full-range s8 weights (|Wq| <= 127) can be clamped.
Three exports of the same trained model are compared:

- ``s8 full range`` (the export before the fix): weights in [-127, 127] as int8;
- ``s8 [-64, 64]`` (the default, ``weight_max=64``): the same fast kernel, no pair can
  leave int16;
- ``u8 zp 128`` (``weight_max=127``): full-range weights stored as uint8 ``Wq + 128``,
  run by the u8 x u8 kernel, which widens before its multiply-add.

Accuracy: scikit-learn's digits and wine, stratified 70/30 splits, ``--seeds`` seeds;
densekit's int8 ``predict`` against the float model (test accuracy, largest softmax
difference, predicted classes that differ). Agreement of onnxruntime (graph
optimizations on, so the fused integer kernels run) with ``predict`` on every row, on
this CPU and, when ``qemu-x86_64`` is installed, under ``-cpu Haswell`` (AVX2, no VNNI,
no AVX-512; correctness only: emulated speed means nothing).
Speed: onnxruntime on this CPU, 1 thread, median and interquartile range of
``--repeats`` runs per round, engines interleaved round by round.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
from sklearn.datasets import load_digits, load_wine
from sklearn.model_selection import train_test_split

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))

import densekit as dk  # noqa: E402
from densekit import quantize  # noqa: E402

FORMATS = ("s8 full range", "s8 [-64, 64]", "u8 zp 128")
EMULATED_RUN = """
import sys
import numpy as np
import onnxruntime as ort
options = ort.SessionOptions()
options.log_severity_level = 3
session = ort.InferenceSession(sys.argv[1], options, providers=["CPUExecutionProvider"])
np.save(sys.argv[3], session.run(None, {"input": np.load(sys.argv[2])})[0])
"""


def dataset(name: str) -> tuple[np.ndarray, np.ndarray]:
    if name == "digits":
        x, y = load_digits(return_X_y=True)
        return (x / 16.0).astype(np.float32), y
    x, y = load_wine(return_X_y=True)
    return x.astype(np.float32), y


def trained_model(name: str, x: np.ndarray, y: np.ndarray, seed: int, epochs: int):
    if name == "digits":
        front = [dk.layers.Dense(128, activation="relu", input_dim=64)]
        front.append(dk.layers.Dense(128, activation="relu"))
    else:  # raw wine features span 0.1 to 1700: a float Normalization in front
        front = [dk.layers.Normalization(mean=x.mean(0), variance=x.var(0), input_dim=13)]
        front.append(dk.layers.Dense(32, activation="relu"))
    model = dk.Sequential(
        front + [dk.layers.Dense(int(y.max()) + 1, activation="softmax")], seed=seed
    )
    model.compile(dk.optimizers.Adam(3e-3), "sparse_categorical_crossentropy")
    model.fit(x, y, epochs=epochs, batch_size=32, verbose=0, seed=seed)
    return model


def export(model, calibration: np.ndarray, folder: str, tag: str) -> dict[str, tuple]:
    """Each format's ONNX path and the QuantizedModel whose predict it must agree with."""
    import onnx
    from onnx import numpy_helper

    full = quantize.int8(model, calibration, weight_max=127)
    paths = {name: os.path.join(folder, f"{tag}-{k}.onnx") for k, name in enumerate(FORMATS)}
    quantize.export_onnx(full, paths["u8 zp 128"])
    proto = onnx.load(paths["u8 zp 128"])
    for init in proto.graph.initializer:  # back to int8: what the export wrote before
        if init.name.endswith(("_w_q", "_w_zp")):
            signed = numpy_helper.to_array(init).astype(np.int16) - 128
            init.CopyFrom(numpy_helper.from_array(signed.astype(np.int8), init.name))
    onnx.save(proto, paths["s8 full range"])
    default = quantize.int8(model, calibration)
    quantize.export_onnx(default, paths["s8 [-64, 64]"])
    models = {"s8 full range": full, "s8 [-64, 64]": default, "u8 zp 128": full}
    return {name: (paths[name], models[name]) for name in FORMATS}


def session(path: str):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3
    return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])


def on_haswell(path: str, x: np.ndarray, folder: str) -> np.ndarray | None:
    if shutil.which("qemu-x86_64") is None or platform.machine() != "x86_64":
        return None
    np.save(os.path.join(folder, "x.npy"), x)
    command = ["qemu-x86_64", "-cpu", "Haswell", sys.executable, "-c", EMULATED_RUN, path]
    command += [os.path.join(folder, "x.npy"), os.path.join(folder, "y.npy")]
    subprocess.run(command, check=True, capture_output=True, timeout=600)
    return np.load(os.path.join(folder, "y.npy"))


def agreement(output: np.ndarray | None, ours: np.ndarray) -> str:
    if output is None:
        return "-"
    flips = int((output.argmax(1) != ours.argmax(1)).sum())
    return f"{np.abs(output - ours).max():.4f} / {flips}"


def accuracy_tables(args, folder: str) -> list[str]:
    lines = [
        "| data | seed | float acc | int8 acc, weights [-127, 127] | int8 acc, [-64, 64] "
        "| max softmax diff vs float, [-127, 127] / [-64, 64] | classes changed |",
        "|---|---|---|---|---|---|---|",
    ]
    agree = [
        "| data | seed | export | onnxruntime vs predict, this CPU: max diff / classes "
        "changed | under qemu -cpu Haswell |",
        "|---|---|---|---|---|",
    ]
    for name, epochs in (("digits", args.epochs), ("wine", 3 * args.epochs)):
        x, y = dataset(name)
        for seed in range(args.seeds):
            x_fit, x_test, y_fit, y_test = train_test_split(
                x, y, test_size=0.3, stratify=y, random_state=seed
            )
            model = trained_model(name, x_fit, y_fit, seed, epochs)
            reference = model.predict(x_test)
            cells, diffs, changed = [], [], []
            for weight_max in (127, quantize.WEIGHT_MAX):
                q = quantize.int8(model, x_fit[:300], weight_max=weight_max)
                p = q.predict(x_test)
                cells.append(f"{(p.argmax(1) == y_test).mean():.4f}")
                diffs.append(f"{np.abs(p - reference).max():.4f}")
                changed.append(str(int((p.argmax(1) != reference.argmax(1)).sum())))
            lines.append(
                f"| {name} | {seed} | {(reference.argmax(1) == y_test).mean():.4f} | "
                f"{cells[0]} | {cells[1]} | {' / '.join(diffs)} | {' / '.join(changed)} |"
            )
            if seed >= args.agreement_seeds:
                continue
            for fmt, (path, q) in export(model, x_fit[:300], folder, name).items():
                ours = q.predict(x)
                here = session(path).run(None, {"input": x})[0]
                emulated = on_haswell(path, x, folder) if args.qemu else None
                agree.append(
                    f"| {name} | {seed} | {fmt} | {agreement(here, ours)} | "
                    f"{agreement(emulated, ours)} |"
                )
            print(f"{name} seed {seed} done", file=sys.stderr, flush=True)
    return lines + [""] + agree


def timing_table(args, folder: str) -> list[str]:
    x, y = dataset("digits")
    rng = np.random.default_rng(0)
    lines = [
        "| network | batch | float32 us | s8 full range us | s8 [-64, 64] us | u8 zp 128 us "
        "| u8 / s8 |",
        "|---|---|---|---|---|---|---|",
    ]
    for hidden in args.hidden:
        model = trained_model("digits", x, y, 0, 1)
        if hidden != 128:
            model = dk.Sequential(
                [
                    dk.layers.Dense(hidden, activation="relu", input_dim=64),
                    dk.layers.Dense(hidden, activation="relu"),
                    dk.layers.Dense(10, activation="softmax"),
                ],
                seed=0,
            )
        paths = {name: path for name, (path, _) in export(model, x[:300], folder, "t").items()}
        paths["float32"] = os.path.join(folder, "t-float.onnx")
        quantize.export_onnx(model, paths["float32"])
        sessions = {name: session(path) for name, path in paths.items()}
        for batch in args.batches:
            rows = np.ascontiguousarray(x[rng.integers(0, len(x), batch)])
            times = {name: [] for name in sessions}
            for s in sessions.values():
                s.run(None, {"input": rows})
            for _ in range(args.rounds):
                for name, s in sessions.items():
                    for _ in range(args.repeats):
                        start = time.perf_counter()
                        s.run(None, {"input": rows})
                        times[name].append(time.perf_counter() - start)
            cells = []
            for name in ("float32",) + FORMATS:
                t = np.array(times[name]) * 1e6
                q1, median, q3 = np.percentile(t, [25, 50, 75])
                cells.append(f"{median:,.1f} [{q1:,.1f}, {q3:,.1f}]")
            ratio = np.median(times["u8 zp 128"]) / np.median(times["s8 [-64, 64]"])
            lines.append(
                f"| 64-{hidden}-{hidden}-10 | {batch} | {' | '.join(cells)} | {ratio:.2f}x |"
            )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--agreement-seeds", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--no-qemu", dest="qemu", action="store_false")
    args = parser.parse_args()
    args.hidden, args.batches = (128, 512), (1, 1024)
    if args.quick:
        args.seeds, args.agreement_seeds, args.epochs = 1, 1, 2
        args.repeats, args.rounds, args.hidden, args.batches = 3, 2, (128,), (1, 64)
    with tempfile.TemporaryDirectory() as folder:
        print("\n".join(accuracy_tables(args, folder)))
        print()
        print("\n".join(timing_table(args, folder)))


if __name__ == "__main__":
    main()
