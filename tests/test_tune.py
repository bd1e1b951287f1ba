"""dk.tune.search: the size it finds, resuming, worker processes, reproducibility."""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

import densekit as dk

pytest.importorskip("optuna")
from densekit import tune  # noqa: E402

# |x1| + |x2| = relu(x1) + relu(-x1) + relu(x2) + relu(-x2): a ReLU network needs
# at least 4 hidden units to represent it exactly, and fewer cannot get close.
RIDGE_SPACE = {"layers": 1, "units": (1, 32, "log"), "activation": "relu", "learning_rate": 0.02}


def ridge_task(n: int = 400) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, size=(n, 2)).astype(np.float32)
    return x, (np.abs(x[:, 0]) + np.abs(x[:, 1])).astype(np.float32)


def rows(result) -> list[dict]:
    table = result.trials
    return table.to_dict("records") if hasattr(table, "to_dict") else table


def test_search_finds_a_size_the_target_needs(tmp_path):
    x, y = ridge_task()
    result = tune.search(
        RIDGE_SPACE, x, y, n_trials=12, epochs=40, seed=0, storage=tmp_path / "study.log"
    )
    (units,) = result.best_params["units"]
    assert units >= 4
    too_small = [r["value"] for r in rows(result) if int(r["units"]) <= 2]
    assert too_small, "the search never tried 1 or 2 units"
    assert result.best_value * 100 < min(too_small)


def test_best_model_is_the_best_trials_model(tmp_path):
    x, y = ridge_task()
    result = tune.search(
        RIDGE_SPACE, x, y, n_trials=4, epochs=20, seed=1, storage=tmp_path / "study.log"
    )
    ((train, val),) = tune.make_folds(len(x), 0.2, None, 1, None)
    score = result.best_model.evaluate(x[val], y[val])["loss"]
    assert score == pytest.approx(result.best_value, rel=1e-5)
    assert [layer.units for layer in result.best_model.layers] == [*result.best_params["units"], 1]


def test_search_resumes_from_its_sqlite_storage(tmp_path):
    x, y = ridge_task(200)
    url = f"sqlite:///{tmp_path / 'study.db'}"
    first = tune.search(RIDGE_SPACE, x, y, n_trials=3, epochs=5, seed=0, storage=url, refit=False)
    second = tune.search(
        RIDGE_SPACE, x, y, n_trials=2, epochs=5, seed=0, storage=tmp_path / "study.db", refit=False
    )
    assert first.storage == second.storage == url
    assert [r["trial"] for r in rows(second)] == [0, 1, 2, 3, 4]
    assert [r["value"] for r in rows(second)][:3] == [r["value"] for r in rows(first)]
    assert second.best_value <= first.best_value


def test_two_worker_processes_share_one_study(tmp_path):
    x, y = ridge_task(200)
    result = tune.search(
        RIDGE_SPACE, x, y, n_trials=6, epochs=5, n_jobs=2, seed=0, storage=tmp_path / "s.db"
    )
    table = rows(result)
    assert sorted(r["trial"] for r in table) == list(range(6))
    assert all(r["state"] in ("COMPLETE", "PRUNED") for r in table)
    workers = {trial.user_attrs["pid"] for trial in result.study.trials}
    assert len(workers) == 2 and os.getpid() not in workers
    assert result.best_model is not None


def test_the_same_seed_gives_the_same_trials(tmp_path):
    x, y = ridge_task(200)
    space = {**tune.DEFAULT_SPACE, "units": (2, 16, "log")}

    def run(name):
        result = tune.search(space, x, y, n_trials=5, epochs=4, seed=7, storage=tmp_path / name)
        return [
            {k: v for k, v in r.items() if k != "seconds"} for r in tune.trial_rows(result.study)
        ]

    assert run("a.log") == run("b.log")


def test_grid_sampler_tries_every_point(tmp_path):
    x, y = ridge_task(200)
    space = {"layers": (1, 2), "units": [2, 8], "activation": ["relu", "tanh"]}
    result = tune.search(space, x, y, sampler="grid", n_trials=None, epochs=3, seed=0,
                         storage=tmp_path / "grid.log", pruning=False)  # fmt: skip
    seen = {(r["layers"], r["units"], r["activation"]) for r in rows(result)}
    assert len(seen) == 8


def test_cross_validation_scores_every_fold_for_classes(tmp_path):
    from sklearn.datasets import load_iris

    x, y = load_iris(return_X_y=True)
    x = (x - x.mean(0)) / x.std(0)
    space = {"layers": 1, "units": [8], "learning_rate": 0.01}
    result = tune.search(
        space, x, y, cv=3, n_trials=1, epochs=10, seed=0, storage=tmp_path / "cv.log"
    )
    assert result.best_model.layers[-1].activation.name == "softmax"
    assert len(result.study.best_trial.user_attrs["best_epochs"]) == 3
    assert result.best_model.evaluate(x, y)["accuracy"] > 0.8


def test_build_fn_is_searched_too(tmp_path):
    x, y = ridge_task(200)
    result = tune.search(
        build_ridge, x, y, n_trials=3, epochs=3, seed=0, storage=tmp_path / "b.log"
    )
    assert set(result.best_params) == {"units"}
    assert result.best_model.layers[0].units == result.best_params["units"]


def build_ridge(trial):
    model = dk.Sequential(
        [
            dk.layers.Dense(trial.suggest_int("units", 2, 8), "relu", input_dim=2),
            dk.layers.Dense(1),
        ],
        seed=0,
    )
    model.compile("adam", "mse")
    return model


def test_missing_optuna_names_the_extra_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "optuna", None)  # what an environment without it sees
    x, y = ridge_task(20)
    with pytest.raises(dk.errors.MissingDependencyError, match=r"densekit\[tune\]"):
        tune.search(RIDGE_SPACE, x, y, n_trials=1)


@pytest.mark.parametrize(
    "space, message",
    [
        ({"neurons": (1, 4)}, "unknown search-space keys"),
        ({"units": (8.5, 16)}, "'units' must be integers >= 1"),
        ({"units": (0, 16)}, "'units' must be integers >= 1"),
        ({"layers": [1, -1]}, "'layers' must be integers >= 0"),
        ({"learning_rate": (0.0, 0.1, "log")}, "log range needs low > 0"),
        ({"dropout": (0.5, 0.1)}, "low 0.5 is above high 0.1"),
    ],
)
def test_bad_search_spaces_are_refused_by_name(space, message):
    x, y = ridge_task(20)
    with pytest.raises(dk.errors.ArgumentError, match=message):
        tune.search(space, x, y, n_trials=1)


def test_command_line_tune_saves_the_best_model_and_a_report(tmp_path, capsys):
    from sklearn.datasets import load_iris

    from densekit.cli import main

    frame = load_iris(as_frame=True).frame
    frame.to_csv(tmp_path / "iris.csv", index=False)
    code = main(
        ["tune", str(tmp_path / "iris.csv"), "--target", "target", "--trials", "3",
         "--epochs", "3", "--storage", str(tmp_path / "s.log"), "-o", str(tmp_path / "m.safetensors"),
         "--report", str(tmp_path / "tune.html")]
    )  # fmt: skip
    printed = capsys.readouterr()
    assert code == 0 and "3 trials" in printed.out  # the result, on stdout
    assert "wrote the report to" in printed.err and f"--storage {tmp_path / 's.log'}" in printed.err
    assert dk.load_model(tmp_path / "m.safetensors").metadata["preprocessing"]
    page = (tmp_path / "tune.html").read_text()
    assert "<h2>Tuning</h2>" in page and "used to choose the best trial" in page


def test_tune_size_example_compares_the_rule_of_thumb_with_the_search():
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "examples" / "tune_size.py"
    result = subprocess.run(
        [sys.executable, str(script), "--trials", "3", "--epochs", "3"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "rule of thumb:   37 hidden units" in result.stdout
    assert "search, 3 trials:" in result.stdout


@pytest.mark.parametrize(
    "y, kwargs, message",
    [
        (np.where(np.arange(40) == 3, np.nan, np.arange(40) % 2), {}, "NaN"),
        (np.arange(40) % 2, {"validation_split": "0.2"}, "validation_split"),
        (np.arange(39) % 2, {}, "40 samples but y has 39"),
    ],
)
def test_bad_targets_and_split_are_refused_before_any_trial(y, kwargs, message):
    x = np.random.default_rng(0).standard_normal((40, 3))
    with pytest.raises(dk.errors.DensekitError, match=message):
        dk.tune.search(None, x, y, n_trials=1, epochs=1, **kwargs)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"sampler": "cma"}, "sampler must be one of"),
        ({"n_jobs": 0}, "n_jobs must be"),
        ({"n_trials": 0}, "n_trials must be"),
        ({"n_trials": None}, "give n_trials or timeout"),
        ({"epochs": 0}, "epochs must be"),
        ({"patience": -1}, "patience must be"),
    ],
)
def test_search_settings_are_checked_when_made(kwargs, message):
    with pytest.raises(dk.errors.ArgumentError, match=message):
        tune.SearchSettings(**kwargs)


def test_the_job_carries_one_settings_object_and_pickles():
    import pickle

    x, y = ridge_task(50)
    settings = tune.SearchSettings(sampler="grid", n_trials=None, seed=3, monitor="val_mae")
    job = tune.make_job(
        {"layers": 1, "units": [2, 4], "activation": ["relu", "tanh"]}, x, y, settings
    )
    assert job.settings is settings and settings.direction == "minimize"
    assert job.n_trials == 4  # the whole grid
    restored = pickle.loads(pickle.dumps(job))
    assert restored.settings == settings and restored.task == job.task


def test_a_temporary_study_is_kept_in_memory_and_its_folder_removed(tmp_path, monkeypatch):
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    x, y = ridge_task(100)
    result = tune.search(RIDGE_SPACE, x, y, n_trials=2, epochs=2, seed=0, refit=False)
    assert list(tmp_path.iterdir()) == [] and result.storage is None
    assert result.summary().startswith("2 trials (2 complete")
    assert len(result.trials) == 2
