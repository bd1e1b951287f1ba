"""Peak resident memory of one training epoch, each peer in a fresh process.

The child imports its library and makes the data, takes that as the baseline, resets the
kernel's peak-RSS mark (Linux `clear_refs`), builds the model, warms up, trains one epoch, and
prints peak minus baseline as one JSON line. Where the mark cannot be reset the peak is
`ru_maxrss`, which also counts anything that peaked before the baseline.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys

from peers import TRAINERS
from workloads import initial_weights, make_data

MEMORY_PEERS = ("densekit", "densekit-numpy", "pytorch")


def _status_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return False
    return True


def _peak_kib() -> int:
    peak = _status_kib("VmHWM")
    if peak is None:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return peak


def child(peer: str, workload) -> None:
    """Run in the fresh process: measure one epoch and print the result as JSON."""
    if peer == "pytorch":
        import torch  # noqa: F401  (its import is part of the baseline)
    elif peer == "densekit":
        import densekit.backend.numba_kernels

        densekit.backend.numba_kernels.get()  # loads numba, when installed: the library's runtime
    elif peer == "densekit-numpy":
        import densekit  # noqa: F401
    x, y = make_data(workload)
    weights = initial_weights(workload.sizes)
    baseline = _status_kib("VmRSS") or _peak_kib()
    reset = _reset_peak()
    trainer = TRAINERS[peer](workload, x, y, weights)
    trainer.warm_up()
    trainer.epoch(seed=1)
    peak = _peak_kib()
    result = {
        "peer": peer,
        "workload": workload.name,
        "baseline_mib": baseline / 1024,
        "peak_mib": peak / 1024,
        "epoch_mib": (peak - baseline) / 1024,
        "peak_reset": reset,
    }
    print(json.dumps(result))


def measure(peer: str, workload_name: str, quick: bool, timeout: float) -> dict:
    """Start `run.py --memory-child peer workload` and read its JSON line."""
    run_py = os.path.join(os.path.dirname(os.path.abspath(__file__)), "run.py")
    command = [sys.executable, run_py, "--memory-child", peer, workload_name]
    if quick:
        command.append("--quick")
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"peer": peer, "workload": workload_name, "error": f"timed out after {timeout}s"}
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"peer": peer, "workload": workload_name, "error": tail}
    return json.loads(lines[-1])
