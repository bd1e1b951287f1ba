"""``densekit explain MODEL --trace ROW``: a row of a file or written out, traced as dk.explain.trace does."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import densekit as dk
from densekit.cli import main

sklearn_datasets = pytest.importorskip("sklearn.datasets")


@pytest.fixture
def iris_model(tmp_path):
    frame = sklearn_datasets.load_iris(as_frame=True).frame
    frame["species"] = frame.pop("target").map({0: "setosa", 1: "versicolor", 2: "virginica"})
    data = tmp_path / "iris.csv"
    frame.to_csv(data, index=False)
    model = tmp_path / "iris.safetensors"
    assert (
        main(["train", str(data), "--target", "species", "-o", str(model), "--epochs", "2", "-q"])
        == 0
    )
    return data, model


def test_a_row_of_the_training_file_goes_through_the_stored_preprocessing(
    iris_model, tmp_path, capsys
):
    data, model_path = iris_model
    page = tmp_path / "trace.html"
    capsys.readouterr()
    assert (
        main(
            [
                "explain",
                str(model_path),
                "--trace",
                "60",
                "--data",
                str(data),
                "--html",
                str(page),
                "-q",
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    # the same numbers as the library's trace of the preprocessed row 60 (a versicolor)
    model = dk.load_model(model_path)
    x = dk.cli.tables.stored_preprocessor(model, str(model_path)).transform(
        dk.tabular.read_table(data)
    )[60]
    expected = dk.explain.trace(model, x, 1)
    assert printed.strip() == expected.table()
    assert "<svg" in page.read_text(encoding="utf-8")


def test_values_on_the_command_line_with_y(tmp_path):
    model = dk.Sequential([dk.layers.Dense(3, "tanh", input_dim=2), dk.layers.Dense(1)], seed=0)
    model.compile(optimizer="sgd", loss="mse")
    path = tmp_path / "m.safetensors"
    model.save(path)
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "densekit.cli",
            "explain",
            str(path),
            "--trace",
            "0.5,-1",
            "--y",
            "2",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == dk.explain.trace(model, np.array([0.5, -1.0]), 2.0).table()


def test_a_numeric_file_with_target_for_a_library_model(tmp_path, capsys):
    model = dk.Sequential([dk.layers.Dense(1, input_dim=2)], seed=0)
    model.compile(optimizer="sgd", loss="mse")
    path = tmp_path / "m.safetensors"
    model.save(path)
    data = tmp_path / "rows.csv"
    data.write_text("a,y,b\n1,2,3\n4,5,6\n", encoding="utf-8")
    assert main(["explain", str(path), "--trace", "1", "--data", str(data), "--target", "y"]) == 0
    assert capsys.readouterr().out.strip() == dk.explain.trace(model, [4.0, 6.0], 5.0).table()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--trace", "0.5,x", "--y", "1"], "--trace must be numbers"),
        (["--trace", "0.5,1"], "needs the target too"),
        (["--trace", "7", "--data", "DATA", "--target", "y"], "data rows 0 to 1"),
        (["--trace", "one", "--data", "DATA", "--target", "y"], "row number"),
        (["--trace", "0", "--data", "DATA"], "--target"),
    ],
)
def test_bad_rows_are_one_line_errors(tmp_path, capsys, extra, message):
    model = dk.Sequential([dk.layers.Dense(1, input_dim=2)], seed=0)
    model.compile(optimizer="sgd", loss="mse")
    path = tmp_path / "m.safetensors"
    model.save(path)
    data = tmp_path / "rows.csv"
    data.write_text("a,y,b\n1,2,3\n4,5,6\n", encoding="utf-8")
    args = [str(data) if part == "DATA" else part for part in extra]
    assert main(["explain", str(path), *args]) == 2
    assert message in capsys.readouterr().err


def test_values_on_the_command_line_are_refused_for_a_train_model(iris_model, capsys):
    """Its network reads encoded features; raw cells come through --data and the preprocessing."""
    _, model_path = iris_model
    capsys.readouterr()
    assert main(["explain", str(model_path), "--trace", "5.1,3.5,1.4,0.2", "--y", "0"]) == 2
    err = capsys.readouterr().err
    assert "--data FILE --trace ROW" in err and len(err.strip().splitlines()) == 1
