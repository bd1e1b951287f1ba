"""Smoke test of benchmarks/tabular_reading.py: its generator and both pipelines run, in process."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

pytest.importorskip("pandas")
pytest.importorskip("sklearn")

ROOT = Path(__file__).resolve().parents[1]


def load_benchmark():
    spec = importlib.util.spec_from_file_location(
        "tabular_reading", ROOT / "benchmarks" / "tabular_reading.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_both_pipelines_encode_the_generated_table_to_the_same_width(tmp_path):
    bench = load_benchmark()
    data = tmp_path / "mixed.csv"
    bench.generate(data, 300, 3, 4)
    ours = bench.job("densekit", str(data), str(tmp_path))
    theirs = bench.job("pandas+sklearn", str(data), str(tmp_path))
    assert ours == theirs  # same rows and features (indicators, one-hot), same labels
