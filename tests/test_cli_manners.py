"""Command-line manners: results on stdout, messages on stderr, -q, option checks, no leftovers.

Each command runs as a user runs it, a real ``python -m densekit`` process, except the
long table of refused option values, which goes through ``main`` in this process (the
same parser and checks, without a second of start-up per case).
"""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios
import textwrap

import pytest

from densekit.cli import main

sklearn_datasets = pytest.importorskip("sklearn.datasets")


def run(*args, env=None, timeout=120):
    return subprocess.run(
        [sys.executable, "-m", "densekit", *map(str, args)],
        capture_output=True, text=True, timeout=timeout, env=env,
    )  # fmt: skip


@pytest.fixture(scope="module")
def wine(tmp_path_factory):
    """The wine table as CSV, and a model trained on it by the command line."""
    folder = tmp_path_factory.mktemp("wine")
    table = folder / "wine.csv"
    sklearn_datasets.load_wine(as_frame=True).frame.to_csv(table, index=False)
    model = folder / "wine.safetensors"
    assert main(["train", str(table), "--target", "target", "-o", str(model), "--epochs", "2",
                 "-q"]) == 0  # fmt: skip
    return table, model


def test_train_prints_its_result_on_stdout_and_its_messages_on_stderr(wine, tmp_path):
    table, _ = wine
    result = run("train", table, "--target", "target", "-o", tmp_path / "m.safetensors",
                 "--epochs", "2")  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1 and lines[0].startswith("accuracy ")
    assert "on the validation split (20% of the rows, not used for training)" in lines[0]
    for words in ("13 columns -> 13 features", "Total params", "Epoch 2/2", "saved the model to"):
        assert words in result.stderr
    # stderr is a pipe, not a terminal: one line per epoch, no progress bar redrawn with \r
    assert "\r" not in result.stderr and "\r" not in result.stdout


def test_predict_summary_and_export_keep_results_and_messages_apart(wine, tmp_path):
    table, model = wine
    to_file = run("predict", model, table, "-o", tmp_path / "p.csv")
    assert (to_file.returncode, to_file.stdout) == (0, "")
    assert to_file.stderr == f"wrote 178 predictions to {tmp_path / 'p.csv'}\n"
    to_stdout = run("predict", model, table)
    assert to_stdout.stdout.startswith("prediction\n") and to_stdout.stderr == ""
    summary = run("summary", model)
    assert "Total params" in summary.stdout and summary.stderr == ""
    pytest.importorskip("onnx")
    export = run("export", model, tmp_path / "m.onnx")
    assert (export.returncode, export.stdout) == (0, "")
    assert export.stderr.startswith(f"wrote the pipeline to {tmp_path / 'm.onnx'}")


@pytest.mark.parametrize("command", ["train", "predict", "export", "tune", "demo"])
def test_quiet_prints_nothing_but_errors(command, wine, tmp_path):
    pytest.importorskip("matplotlib")
    table, model = wine
    report = tmp_path / "r.html"
    args = {
        "train": ["train", table, "--target", "target", "-o", tmp_path / "m", "--epochs", "1",
                  "--report", report],
        "predict": ["predict", model, table, "-o", tmp_path / "p.csv"],
        "export": ["export", model, tmp_path / "m.onnx"],
        "tune": ["tune", table, "--target", "target", "--trials", "1", "--epochs", "1",
                 "-o", tmp_path / "m", "--report", report],
        "demo": ["demo", "--epochs", "1", "--output", tmp_path],
    }[command]  # fmt: skip
    if command == "export":
        pytest.importorskip("onnx")
    if command == "tune":
        pytest.importorskip("optuna")
    temporary = tmp_path / "tmp"  # where tune's temporary study would be left
    temporary.mkdir()
    result = run(*args, "-q", env={**os.environ, "TMPDIR": str(temporary)})
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    assert list(temporary.iterdir()) == []


def test_fit_verbose_auto_draws_a_bar_on_a_terminal_and_lines_elsewhere():
    script = textwrap.dedent("""
        import numpy as np, densekit as dk
        model = dk.Sequential([dk.layers.Dense(1, input_dim=2)], seed=0)
        model.compile("sgd", "mse")
        model.fit(np.ones((64, 2)), np.ones(64), epochs=2, batch_size=8, seed=0)
    """)
    piped = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                           timeout=120)  # fmt: skip
    assert piped.returncode == 0, piped.stderr
    assert "\r" not in piped.stdout and piped.stdout.count("Epoch ") == 2
    leader, follower = pty.openpty()
    size = struct.pack("HHHH", 24, 100, 0, 0)  # rows, columns: a terminal 100 wide
    fcntl.ioctl(follower, termios.TIOCSWINSZ, size)
    process = subprocess.Popen([sys.executable, "-c", script], stdout=follower,
                               stderr=subprocess.PIPE)  # fmt: skip
    os.close(follower)
    seen = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the terminal's other end has closed
            break
        if not chunk:
            break
        seen += chunk
    os.close(leader)
    assert process.wait(timeout=120) == 0
    assert b"\r" in seen and b"batch" in seen  # tqdm's bar, redrawn in place


def test_errors_speak_in_command_line_words(wine, tmp_path):
    lines = wine[0].read_text().splitlines()
    lines[3] = "," + lines[3].split(",", 1)[1]
    holes = tmp_path / "holes.csv"
    holes.write_text("\n".join(lines) + "\n")
    missing = run("train", holes, "--target", "target", "-o", tmp_path / "m",
                  "--fill-missing", "none")  # fmt: skip
    assert missing.returncode == 2 and "--fill-missing" in missing.stderr
    assert "fill_missing" not in missing.stderr and len(missing.stderr.splitlines()) == 1
    words = tmp_path / "words.csv"
    words.write_text("x,y\n1,a\n2,b\n3,a\n")
    text_target = run("train", words, "--target", "y", "--task", "regression", "-o", tmp_path / "m")
    assert text_target.returncode == 2 and "--task classification" in text_target.stderr
    assert "task=" not in text_target.stderr and not (tmp_path / "m").exists()


REFUSED = [
    (["--hidden", "0"], "--hidden"),
    (["--hidden", "8,0"], "--hidden"),
    (["--hidden", "8.5"], "--hidden"),
    (["--epochs", "-1"], "--epochs"),
    (["--batch-size", "0"], "--batch-size"),
    (["--learning-rate", "0"], "--learning-rate"),
    (["--learning-rate", "nan"], "--learning-rate"),
    (["--learning-rate", "-0.1"], "--learning-rate"),
    (["--l2", "-1"], "--l2"),
    (["--l2", "inf"], "--l2"),
    (["--dropout", "1"], "--dropout"),
    (["--validation-split", "1"], "--validation-split"),
    (["--activation", "relux"], "--activation"),
    (["--optimizer", "adamm"], "--optimizer"),
    (["--patience", "-1"], "--patience"),
    (["--seed", "-3"], "--seed"),
    (["--task", "ranking"], "--task"),
    (["--fill-missing", "average"], "--fill-missing"),
    (["--precision", "bf16"], "--precision bf16"),
    (["--precision", "tf32"], "--precision tf32"),
    (["--device", "tpu"], "--device"),
    (["-o", "no-such-folder/m.safetensors"], "-o no-such-folder/m.safetensors"),
    (["--report", "no-such-folder/r.html"], "--report no-such-folder/r.html"),
    (["--report", "wine.csv"], "--report wine.csv"),
    (["--drop", "nothing"], "--drop"),
]


@pytest.mark.parametrize("extra, option", REFUSED, ids=[" ".join(e) for e, _ in REFUSED])
def test_train_refuses_invalid_option_values_before_any_work(extra, option, wine, tmp_path,
                                                             monkeypatch, capsys):  # fmt: skip
    monkeypatch.chdir(wine[0].parent)
    args = ["train", "wine.csv", "--target", "target", "-o", str(tmp_path / "m"), "--epochs", "1",
            "-q", *extra]  # fmt: skip
    try:
        code = main(args)
    except SystemExit as exc:  # argparse's usage errors
        code = exc.code
    error = capsys.readouterr().err
    assert code == 2 and option in error and "Traceback" not in error
    assert len(error.strip().splitlines()) == 1, error
    assert not (tmp_path / "m").exists() and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "args, option",
    [
        (["tune", "wine.csv", "--target", "target", "--cv", "1"], "--cv"),
        (["tune", "wine.csv", "--target", "target", "--max-units", "2"], "--max-units"),
        (["tune", "wine.csv", "--target", "target", "--trials", "0"], "--trials"),
        (["predict", "wine.safetensors", "wine.csv", "--batch-size", "0"], "--batch-size"),
        (["predict", "wine.safetensors", "wine.csv", "--precision", "tf32"], "--precision"),
        (["predict", "wine.safetensors", "wine.csv", "-o", "nowhere/p.csv"], "-o nowhere/p.csv"),
        (["demo", "--epochs", "-2"], "--epochs"),
    ],
)
def test_other_commands_refuse_invalid_option_values(args, option, wine, monkeypatch, capsys):
    monkeypatch.chdir(wine[0].parent)
    try:
        code = main(args)
    except SystemExit as exc:
        code = exc.code
    error = capsys.readouterr().err
    assert code == 2 and option in error and len(error.strip().splitlines()) == 1, error


def test_tune_keeps_its_temporary_study_when_asked_and_names_the_flags_that_continue_it(
    wine, tmp_path
):
    pytest.importorskip("optuna")
    temporary = tmp_path / "tmp"  # without --keep-study it stays empty: see the -q test
    temporary.mkdir()
    env = {**os.environ, "TMPDIR": str(temporary)}
    args = ["tune", wine[0], "--target", "target", "--trials", "1", "--epochs", "1"]
    kept = run(*args, "--keep-study", env=env)
    assert kept.returncode == 0, kept.stderr
    folders = list(temporary.iterdir())
    assert len(folders) == 1 and folders[0].name.startswith("densekit-tune-")
    storage = folders[0] / "study.db"
    assert f"continue it with --storage {storage} --study-name densekit" in kept.stderr
    continued = run(*args, "--storage", storage, env=env)
    assert "2 trials (2 complete" in continued.stdout, continued.stderr


@pytest.mark.parametrize(
    "library, command_line",
    [
        ("use task='classification' for labels", "use --task classification for labels"),
        ("fill them with --fill-missing {mean,zero} (fill_missing=...) or clean the data",
         "fill them with --fill-missing {mean,zero} or clean the data"),
        ("or validation_split=0 to train on all", "or --validation-split 0 to train on all"),
        ("opset must be an integer from 17 to 28, got 3", "--opset must be an integer from 17 to 28, got 3"),
        ("column 'epochs must be' is absent", "column 'epochs must be' is absent"),  # a name: kept
        ("my_task=3 is not an option", "my_task=3 is not an option"),
    ],
)  # fmt: skip
def test_library_words_become_command_line_words(library, command_line):
    from densekit.cli.wording import command_line_words

    assert command_line_words(library) == command_line
