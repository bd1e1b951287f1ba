"""The command line, run as a user runs it: a real process on real files."""

from __future__ import annotations

import csv
import os
import subprocess
import sys

import numpy as np
import pytest

from densekit.cli import main

sklearn_datasets = pytest.importorskip("sklearn.datasets")


@pytest.fixture
def iris_csv(tmp_path):
    frame = sklearn_datasets.load_iris(as_frame=True).frame
    frame["species"] = frame.pop("target").map({0: "setosa", 1: "versicolor", 2: "virginica"})
    frame["colour"] = ["red", "blue", "green"] * 50
    path = tmp_path / "iris.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.fixture
def diabetes_csv(tmp_path):
    path = tmp_path / "diabetes.csv"
    sklearn_datasets.load_diabetes(as_frame=True).frame.to_csv(path, index=False)
    return path


def run_cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "densekit.cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def read_rows(path):
    with open(path, newline="") as stream:
        return list(csv.DictReader(stream))


def test_train_then_predict_classifies_iris_from_raw_rows(iris_csv, tmp_path):
    model = tmp_path / "iris.safetensors"
    trained = run_cli("train", iris_csv, "--target", "species", "-o", model, "--epochs", "60", "-q")
    assert trained.returncode == 0, trained.stderr
    out = tmp_path / "pred.csv"
    predicted = run_cli("predict", model, iris_csv, "-o", out, "--proba")
    assert predicted.returncode == 0, predicted.stderr
    rows = read_rows(out)
    truth = [row["species"] for row in read_rows(iris_csv)]
    accuracy = np.mean([row["prediction"] == label for row, label in zip(rows, truth)])
    assert accuracy > 0.9
    assert set(rows[0]) == {"prediction", "proba_setosa", "proba_versicolor", "proba_virginica"}
    total = sum(float(rows[0][f"proba_{c}"]) for c in ("setosa", "versicolor", "virginica"))
    assert total == pytest.approx(1.0, abs=1e-5)


def test_regression_predictions_are_in_the_targets_units(diabetes_csv, tmp_path):
    model = tmp_path / "diabetes.safetensors"
    assert (
        main(
            [
                "train",
                str(diabetes_csv),
                "--target",
                "target",
                "-o",
                str(model),
                "--epochs",
                "40",
                "-q",
            ]
        )
        == 0
    )
    out = tmp_path / "pred.csv"
    assert main(["predict", str(model), str(diabetes_csv), "-o", str(out), "-q"]) == 0
    predictions = np.array([float(row["prediction"]) for row in read_rows(out)])
    targets = np.array([float(row["target"]) for row in read_rows(diabetes_csv)])
    assert 25 < predictions.mean() < 300  # the target's units, not standardized
    assert np.corrcoef(predictions, targets)[0, 1] > 0.6


def test_summary_lists_layers_and_preprocessing(iris_csv, tmp_path, capsys):
    model = tmp_path / "m.safetensors"
    main(
        [
            "train",
            str(iris_csv),
            "--target",
            "species",
            "-o",
            str(model),
            "--epochs",
            "1",
            "--hidden",
            "8",
            "-q",
        ]
    )
    assert main(["summary", str(model)]) == 0
    out = capsys.readouterr().out
    assert "Total params: 91" in out  # (4 + 3 one-hot) * 8 + 8 = 64, then 8 * 3 + 3 = 27
    assert "Classes: ['setosa', 'versicolor', 'virginica']" in out
    assert "colour=red" in out


def test_missing_cells_are_reported_or_filled(iris_csv, tmp_path, capsys):
    text = iris_csv.read_text().splitlines()
    text[3] = "," + text[3].split(",", 1)[1]  # empty first cell in data row 3
    holes = tmp_path / "holes.csv"
    holes.write_text("\n".join(text) + "\n")
    model = tmp_path / "m.safetensors"
    refuse = ["--fill-missing", "none"]
    assert main(["train", str(holes), "--target", "species", "-o", str(model), *refuse]) == 2
    error = capsys.readouterr().err
    assert "sepal length" in error and "missing" in error and "Traceback" not in error
    assert (
        main(["train", str(holes), "--target", "species", "-o", str(model), "--epochs", "1"]) == 0
    )
    assert "filled missing values: sepal length (cm) 1 with" in capsys.readouterr().err
    model.unlink()
    assert (
        main(
            [
                "train",
                str(holes),
                "--target",
                "species",
                "-o",
                str(model),
                "-q",
                "--epochs",
                "1",
                "--fill-missing",
                "mean",
            ]
        )
        == 0
    )


@pytest.mark.parametrize(
    "args, words",
    [
        (["predict", "missing.safetensors", "x.csv"], "no model file"),
        (["train", "missing.csv", "--target", "y", "-o", "m.safetensors"], "missing.csv"),
        (["summary", "README.md"], "not a model file"),
    ],
)
def test_errors_are_one_line_without_traceback(args, words, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "README.md").write_text("hello, this is not a model\n" * 3)
    result = run_cli(*args)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert words in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_unknown_target_column_names_the_columns(iris_csv, tmp_path, capsys):
    assert main(["train", str(iris_csv), "--target", "nope", "-o", str(tmp_path / "m")]) == 2
    assert "species" in capsys.readouterr().err


def test_predict_refuses_a_model_without_preprocessing(tmp_path, iris_csv, capsys):
    import densekit as dk

    model = dk.Sequential([dk.layers.Dense(1, input_dim=4)])
    model.save(tmp_path / "plain.safetensors")
    assert main(["predict", str(tmp_path / "plain.safetensors"), str(iris_csv)]) == 2
    assert "no stored preprocessing" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["train", "predict", "summary", "export", "demo"])
def test_every_command_has_help(command):
    result = run_cli(command, "--help")
    assert result.returncode == 0 and "usage: densekit" in result.stdout


def test_demo_trains_digits_and_saves_the_model(tmp_path, capsys):
    assert main(["demo", "--epochs", "3", "--output", str(tmp_path), "-q"]) == 0
    import densekit as dk

    model = dk.load_model(tmp_path / "digits.safetensors")
    assert model.input_dim == 64 and model.output_dim == 10


def test_export_writes_an_onnx_file_that_onnxruntime_runs(iris_csv, tmp_path):
    onnxruntime = pytest.importorskip("onnxruntime")
    model_path, onnx_path = tmp_path / "m.safetensors", tmp_path / "m.onnx"
    main(
        [
            "train",
            str(iris_csv),
            "--target",
            "species",
            "-o",
            str(model_path),
            "--epochs",
            "2",
            "-q",
        ]
    )
    assert main(["export", str(model_path), str(onnx_path), "-q"]) == 0
    import densekit as dk

    model = dk.load_model(model_path)
    x = np.random.default_rng(0).standard_normal((5, model.input_dim)).astype(np.float32)
    session = onnxruntime.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    (onnx_out,) = session.run(None, {session.get_inputs()[0].name: x})
    np.testing.assert_allclose(onnx_out, model.predict(x), rtol=1e-5, atol=1e-6)


def test_export_refuses_to_overwrite_the_model(tmp_path, capsys):
    import densekit as dk

    path = tmp_path / "m.safetensors"
    dk.Sequential([dk.layers.Dense(1, input_dim=2)]).save(path)
    before = path.read_bytes()
    assert main(["export", str(path), str(path)]) == 2
    assert "would destroy it" in capsys.readouterr().err
    assert path.read_bytes() == before


def test_tune_reads_the_table_like_train_drop_and_overwrite_guard(iris_csv, tmp_path, capsys):
    pytest.importorskip("optuna")
    assert main(["tune", str(iris_csv), "--target", "species", "-o", str(iris_csv), "-q"]) == 2
    assert "would destroy it" in capsys.readouterr().err
    model = tmp_path / "best.safetensors"
    assert main(["tune", str(iris_csv), "--target", "species", "--drop", "colour", "--trials",
                 "1", "--epochs", "1", "-o", str(model), "-q"]) == 0  # fmt: skip
    import densekit as dk

    assert dk.load_model(model).input_dim == 4  # colour's three one-hot columns left out


def test_checkpoint_without_distributed_is_refused_not_ignored(iris_csv, tmp_path, capsys):
    args = ["train", str(iris_csv), "--target", "species", "-o", str(tmp_path / "m"), "-q",
            "--checkpoint", str(tmp_path / "ck.safetensors")]  # fmt: skip
    assert main(args) == 2
    assert "--checkpoint is for --distributed" in capsys.readouterr().err


# --- a closed pipe (`densekit ... | head -1`, `| true`) stops the printing, never the work ---

BROKEN_PIPE = 141  # what a shell reports for a Unix tool stopped by SIGPIPE (128 + 13)


@pytest.fixture
def wine_csv(tmp_path):
    path = tmp_path / "wine.csv"
    sklearn_datasets.load_wine(as_frame=True).frame.to_csv(path, index=False)
    return path


@pytest.fixture
def wine_model(wine_csv, tmp_path):
    path = tmp_path / "wine.safetensors"
    args = ["train", str(wine_csv), "--target", "target", "-o", str(path), "--epochs", "2", "-q"]
    assert main(args) == 0
    return path


def run_into_closed_pipe(*args, stderr_too=False):
    """Run the command line with stdout a pipe whose reader has gone, as in ``| true``."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # no reader: the first write that reaches the pipe fails with EPIPE
    try:
        return subprocess.run(
            [sys.executable, "-m", "densekit", *map(str, args)],
            stdout=write_end,
            stderr=subprocess.STDOUT if stderr_too else subprocess.PIPE,
            text=True,
            timeout=120,
        )
    finally:
        os.close(write_end)


def assert_stopped_quietly(result):
    assert result.returncode == BROKEN_PIPE, result.stderr
    assert result.stderr is None or result.stderr == "", result.stderr


def test_train_into_a_closed_pipe_saves_the_model_then_exits_141(wine_csv, tmp_path):
    import densekit as dk

    model = tmp_path / "w.safetensors"
    result = run_into_closed_pipe("train", wine_csv, "--target", "target", "-o", model,
                                  "--epochs", "5")  # fmt: skip
    assert_stopped_quietly(result)  # the per-epoch lines failed, the training did not
    assert dk.load_model(model).input_dim == 13


def test_train_into_a_closed_pipe_with_stderr_too_saves_the_model(wine_csv, tmp_path):
    import densekit as dk

    model = tmp_path / "w.safetensors"
    result = run_into_closed_pipe("train", wine_csv, "--target", "target", "-o", model,
                                  "--epochs", "2", stderr_too=True)  # fmt: skip
    assert result.returncode == BROKEN_PIPE
    assert dk.load_model(model).output_dim == 3


def test_train_into_a_closed_pipe_writes_the_report(wine_csv, tmp_path):
    pytest.importorskip("matplotlib")
    model, page = tmp_path / "w.safetensors", tmp_path / "report.html"
    result = run_into_closed_pipe("train", wine_csv, "--target", "target", "-o", model,
                                  "--epochs", "2", "--report", page)  # fmt: skip
    assert_stopped_quietly(result)
    assert model.exists() and "<html" in page.read_text().lower()


def test_tune_into_a_closed_pipe_saves_the_best_model(wine_csv, tmp_path):
    pytest.importorskip("optuna")
    import densekit as dk

    model = tmp_path / "best.safetensors"
    result = run_into_closed_pipe("tune", wine_csv, "--target", "target", "--trials", "1",
                                  "--epochs", "1", "--storage", tmp_path / "study.db",
                                  "-o", model, "-q")  # fmt: skip
    assert_stopped_quietly(result)  # -q still prints the trials table, which fails
    assert dk.load_model(model).input_dim == 13


def test_predict_to_a_closed_pipe_stops_quietly(wine_model, wine_csv):
    assert_stopped_quietly(run_into_closed_pipe("predict", wine_model, wine_csv))


@pytest.mark.parametrize("unbuffered", [False, True], ids=["buffered", "python -u"])
def test_predict_piped_into_head_stops_quietly_after_the_first_line(
    wine_model, tmp_path, monkeypatch, unbuffered
):
    if unbuffered:
        monkeypatch.setenv("PYTHONUNBUFFERED", "1")
    else:
        monkeypatch.delenv("PYTHONUNBUFFERED", raising=False)
    rows = sklearn_datasets.load_wine(as_frame=True).frame
    big = tmp_path / "big.csv"  # megabytes of predictions: far more than a pipe buffers
    pd = pytest.importorskip("pandas")
    pd.concat([rows] * 200).to_csv(big, index=False)
    process = subprocess.Popen(
        [sys.executable, "-m", "densekit", "predict", str(wine_model), str(big), "--proba"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    first = process.stdout.readline()  # what `head -1` does: one line, then close
    process.stdout.close()
    error = process.stderr.read()
    assert process.wait(timeout=120) == BROKEN_PIPE, error
    assert first == "prediction,proba_0,proba_1,proba_2\n"
    assert error == ""


def test_predict_to_a_file_with_stderr_into_a_closed_pipe_writes_the_file(wine_model, wine_csv,
                                                                         tmp_path):  # fmt: skip
    out = tmp_path / "pred.csv"
    result = run_into_closed_pipe("predict", wine_model, wine_csv, "-o", out, stderr_too=True)
    assert result.returncode == BROKEN_PIPE  # its "wrote 178 predictions" line failed
    assert len(read_rows(out)) == 178


def test_summary_into_a_closed_pipe_stops_quietly(wine_model):
    assert_stopped_quietly(run_into_closed_pipe("summary", wine_model))


def test_export_into_a_closed_pipe_writes_the_onnx_file(wine_model, tmp_path):
    onnx = pytest.importorskip("onnx")
    graph = tmp_path / "m.onnx"
    assert_stopped_quietly(run_into_closed_pipe("export", wine_model, graph))
    onnx.checker.check_model(onnx.load(str(graph)))


def test_demo_into_a_closed_pipe_saves_the_model(tmp_path):
    import densekit as dk

    assert_stopped_quietly(run_into_closed_pipe("demo", "--epochs", "2", "--output", tmp_path))
    assert dk.load_model(tmp_path / "digits.safetensors").output_dim == 10


def test_an_error_into_a_closed_pipe_keeps_the_error_status(tmp_path):
    result = run_into_closed_pipe("train", tmp_path / "missing.csv", "--target", "y",
                                  "-o", tmp_path / "m.safetensors", stderr_too=True)  # fmt: skip
    assert result.returncode == 2  # a failure is still a failure, not a reader that left


def test_a_reader_that_reads_everything_gets_status_0(wine_model):
    result = run_cli("summary", wine_model)
    assert result.returncode == 0 and "Total params" in result.stdout
