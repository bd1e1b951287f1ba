"""Fit CPU time of densekit's TabularClassifier/Regressor against RealMLP-TD, alternating.

Same tables and splits as ``benchmarks/tabular.py``, one thread each, the two fits
alternating (A B A B ...) in one process, so a shared machine's load falls on both alike.
CPU time (``time.process_time``) is reported beside wall time: on a machine other jobs
share, wall time mostly measures them. Run it from the peers' environment with densekit
on the path::

    OMP_WAIT_POLICY=PASSIVE OMP_NUM_THREADS=1 PYTHONPATH=src nice -n 10 \\
        /tmp/peers/bin/python benchmarks/tabular_fit_time.py titanic,wage,hmda 2
"""

from __future__ import annotations

import sys

import numpy as np
import tabular


def main(argv=None) -> int:
    """Print one line per fit and the per-table median CPU ratio."""
    argv = sys.argv[1:] if argv is None else argv
    tables = argv[0].split(",")
    repeats = int(argv[1]) if len(argv) > 1 else 2
    import torch

    torch.set_num_threads(1)
    ratios = []
    for name in tables:
        table = tabular.load_table(name)
        times = {"realmlp-td": [], "densekit-tabular": []}
        for _ in range(repeats):
            for model in times:
                result = tabular.run_one(model, table, 0)
                times[model].append((result["fit_cpu_s"], result["fit_s"]))
                print(
                    f"{name:10s} {model:18s} cpu {result['fit_cpu_s']:7.2f} s  "
                    f"wall {result['fit_s']:7.2f} s",
                    flush=True,
                )
        cpu = {m: float(np.median([c for c, _ in v])) for m, v in times.items()}
        ratio = cpu["densekit-tabular"] / cpu["realmlp-td"]
        ratios.append(ratio)
        print(
            f"{name:10s} median CPU: densekit {cpu['densekit-tabular']:.2f} s, "
            f"RealMLP-TD {cpu['realmlp-td']:.2f} s, ratio {ratio:.3f}",
            flush=True,
        )
    print(f"geometric mean of the ratios: {float(np.exp(np.mean(np.log(ratios)))):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
