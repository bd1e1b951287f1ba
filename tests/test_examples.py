"""Each example script runs and shows what it claims."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def run_example(name: str) -> str:
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / name)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_one_neuron_learns_two_x_plus_three():
    out = run_example("one_neuron.py")
    weight, bias = map(float, re.search(r"y = ([\d.]+) \* x \+ ([\d.]+)", out).groups())
    assert weight == pytest.approx(2.0, abs=0.01) and bias == pytest.approx(3.0, abs=0.01)


def test_relu_neuron_needs_a_bias_to_output_two_at_zero():
    out = run_example("relu_bias.py")
    without, with_bias = (float(v) for v in re.findall(r"is ([\d.]+)", out))
    assert without == 0.0
    assert with_bias == pytest.approx(2.0, abs=0.05)


def test_parameter_counts_are_n_times_m_plus_m():
    out = run_example("parameter_counts.py")
    for total in ("55", "5,050", "500,500"):
        assert f"Total params: {total}" in out


def test_quickstart_runs():
    pytest.importorskip("sklearn")
    assert "val_accuracy" in run_example("quickstart.py")


def test_pruning_and_int8_keep_the_accuracy_and_shrink_the_file():
    pytest.importorskip("sklearn")
    out = run_example("pruning_int8.py")
    float_accuracy = float(re.search(r"float32 model: .* test accuracy ([\d.]+)", out).group(1))
    int8_accuracy = float(re.search(r"int8 model: test accuracy ([\d.]+)", out).group(1))
    assert int8_accuracy >= float_accuracy - 0.02
    assert float(re.search(r"\(([\d.]+)x smaller\)", out).group(1)) > 3
    assert "pruned 90%: " in out
