"""Smoke test of the benchmark harness: `benchmarks/run.py --quick` runs end to end.

It checks that the harness works, not how fast anything is.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("threadpoolctl")
pytest.importorskip("sklearn")
pytest.importorskip("torch")

ROOT = Path(__file__).resolve().parents[1]
WORKLOADS = ["tiny", "tabular", "mnist-shape", "wide"]
RATE = r"[\d.]+[kM]?"


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    command = [
        sys.executable,
        str(ROOT / "benchmarks" / "run.py"),
        "--quick",
        "--keep-openblas-env",  # tests never change the machine's OpenBLAS settings
        "--json",
        str(out / "results.json"),
        "--markdown",
        str(out / "results.md"),
    ]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout, out


def test_quick_run_reports_rows_per_second_for_pytorch_on_every_workload(quick_run):
    stdout, _ = quick_run
    for name in WORKLOADS:
        assert re.search(rf"^{name}\s+pytorch\s+\d+\s+{RATE}\s", stdout, re.M), name


def test_quick_run_reports_sklearn_except_on_wide(quick_run):
    stdout, _ = quick_run
    for name in ["tiny", "tabular", "mnist-shape"]:
        assert re.search(rf"^{name}\s+sklearn\s+\d+\s+{RATE}\s", stdout, re.M), name
    assert not re.search(r"^wide\s+sklearn", stdout, re.M)


def test_quick_run_reports_densekit_or_says_it_is_not_importable(quick_run):
    stdout, _ = quick_run
    if "densekit: not importable" in stdout:
        pytest.skip("densekit is not importable here")
    for name in WORKLOADS:
        assert re.search(rf"^{name}\s+densekit\s+\d+\s+{RATE}\s", stdout, re.M), name
        assert re.search(rf"^{name}\s+densekit-numpy\s+\d+\s+{RATE}\s", stdout, re.M), name
    assert re.search(r"^densekit CPU kernels: (numba [\d.]+|numpy)", stdout, re.M)


def test_quick_run_measures_gemm_inference_and_memory(quick_run):
    stdout, _ = quick_run
    assert "machine GEMM rate:" in stdout
    assert re.search(rf"^pytorch\s+[\d.]+ \(\d+\)\s.*{RATE} \(\d+\)", stdout, re.M)
    assert re.search(r"^tiny\s+pytorch\s+[\d.]+\s", stdout, re.M)


def test_quick_run_writes_json_and_markdown(quick_run):
    _, out = quick_run
    results = json.loads((out / "results.json").read_text())
    assert set(results["training"]) == set(WORKLOADS)
    assert results["gemm"]["machine_rate"] > 0
    markdown = (out / "results.md").read_text()
    assert "| mnist-shape | pytorch |" in markdown
    assert "BLAS" in markdown


def test_quick_run_names_the_openblas_kernel_and_environment(quick_run):
    stdout, out = quick_run
    assert "OpenBLAS environment: " in stdout
    assert "OpenBLAS kernel: " in stdout
    assert "- OpenBLAS environment: " in (out / "results.md").read_text()
