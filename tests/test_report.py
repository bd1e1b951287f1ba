"""dk.report: one self-contained HTML page, opened in a real headless Chromium."""

from __future__ import annotations

import fcntl
import json
import os
import re
import select
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

import densekit as dk

pytest.importorskip("matplotlib")
CHROMIUM = Path("/usr/bin/chromium")


def iris_report(tmp_path, tuning=None) -> Path:
    from sklearn.datasets import load_iris

    data = load_iris()
    x = ((data.data - data.data.mean(0)) / data.data.std(0)).astype(np.float32)
    y = data.target
    order = np.random.default_rng(0).permutation(len(x))
    train, val = order[:110], order[110:]
    model = dk.Sequential(
        [dk.layers.Dense(12, "relu", input_dim=4), dk.layers.Dense(3, "softmax")],
        name="iris",
        seed=0,
    )
    model.compile(dk.optimizers.Adam(0.01), "sparse_categorical_crossentropy", ["accuracy"])
    history = model.fit(
        x[train], y[train], epochs=15, verbose=0, validation_data=(x[val], y[val]), seed=0
    )
    return dk.report(
        model,
        history,
        x[val],
        y[val],
        tmp_path / "report.html",
        feature_names=data.feature_names,
        tuning=tuning,
        class_names=list(data.target_names),
    )


@pytest.fixture(scope="module")
def iris_page(tmp_path_factory):
    pytest.importorskip("optuna")
    from sklearn.datasets import load_iris

    folder = tmp_path_factory.mktemp("report")
    x, y = load_iris(return_X_y=True)
    tuning = dk.tune.search(
        {"layers": 1, "units": [4, 12]}, x, y, n_trials=3, epochs=3, seed=0,
        storage=folder / "study.log", refit=False,
    )  # fmt: skip
    return iris_report(folder, tuning)


def test_report_is_one_self_contained_page(iris_page):
    page = iris_page.read_text(encoding="utf-8")
    assert "<script" not in page.lower() and "<link" not in page.lower()
    assert "@import" not in page and "url(" not in page
    sources = re.findall(r"""(?:src|href)\s*=\s*["']([^"']*)""", page)
    assert sources and all(source.startswith("data:image/png;base64,") for source in sources)
    for heading in ("Model", "Training curves", "Confusion matrix", "Feature importance",
                    "Weights", "Units", "Tuning"):  # fmt: skip
        assert f"<h2>{heading}</h2>" in page
    assert "petal length (cm)" in page


def test_regression_report_has_residual_plots(tmp_path):
    from sklearn.datasets import load_diabetes

    x, y = load_diabetes(return_X_y=True)
    y = (y - y.mean()) / y.std()
    model = dk.Sequential([dk.layers.Dense(8, "tanh", input_dim=10), dk.layers.Dense(1)], seed=0)
    model.compile("adam", "mse", ["mae"])
    history = model.fit(x[:350], y[:350], epochs=3, verbose=0, validation_split=0.2, seed=0)
    page = dk.report(model, history, x[350:], y[350:], tmp_path / "r.html").read_text()
    assert "<h2>Residuals</h2>" in page and "Confusion matrix" not in page
    assert "<h2>Tuning</h2>" not in page


def test_report_leaves_no_temporary_file_behind(iris_page):
    assert sorted(p.name for p in iris_page.parent.iterdir()) == ["report.html", "study.log"]


# --- the browser check ------------------------------------------------------------------


class Chromium:
    """Headless Chromium driven over the DevTools protocol on a pipe (fds 3 and 4)."""

    def __init__(self, profile: Path):
        to_browser_read, to_browser_write = os.pipe()
        from_browser_read, from_browser_write = os.pipe()
        # park the child's ends above 10 so placing them at 3 and 4 cannot clobber them
        high_read = fcntl.fcntl(to_browser_read, fcntl.F_DUPFD, 10)
        high_write = fcntl.fcntl(from_browser_write, fcntl.F_DUPFD, 10)

        def place_pipes():
            os.dup2(high_read, 3)
            os.dup2(high_write, 4)

        self.process = subprocess.Popen(
            [
                str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--disable-extensions", "--disable-dev-shm-usage",
                "--remote-debugging-pipe", f"--user-data-dir={profile}", "about:blank",
            ],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            close_fds=False, preexec_fn=place_pipes,
        )  # fmt: skip
        for fd in (to_browser_read, from_browser_write, high_read, high_write):
            os.close(fd)
        self.writer, self.reader = to_browser_write, from_browser_read
        self.buffer, self.events, self.next_id = b"", [], 0

    def send(self, method: str, params: dict | None = None, session: str | None = None):
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self.writer, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._receive(deadline=time.monotonic() + 30)
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]
            self.events.append(reply)

    def wait_for(self, method: str, timeout: float = 30.0) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            for event in self.events:
                if event.get("method") == method:
                    return event
            self.events.append(self._receive(deadline))

    def _receive(self, deadline: float) -> dict:
        while b"\0" not in self.buffer:
            ready, _, _ = select.select(
                [self.reader], [], [], max(0.0, deadline - time.monotonic())
            )
            if not ready:
                raise TimeoutError("Chromium did not answer in time")
            chunk = os.read(self.reader, 1 << 20)
            if not chunk:
                raise RuntimeError("Chromium closed the DevTools pipe")
            self.buffer += chunk
        message, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(message)

    def close(self):
        try:
            self.send("Browser.close")
        except (RuntimeError, TimeoutError, OSError):
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        os.close(self.writer)
        os.close(self.reader)


def open_page(page: Path, screenshot: Path, profile: Path) -> dict:
    """Load ``page``; return console errors, requests made and every image's natural size."""
    browser = Chromium(profile)
    try:
        target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        for domain in ("Page", "Runtime", "Log", "Network"):
            browser.send(f"{domain}.enable", session=session)
        browser.send("Emulation.setDeviceMetricsOverride",
                     {"width": 1200, "height": 900, "deviceScaleFactor": 1, "mobile": False},
                     session=session)  # fmt: skip
        browser.send("Page.navigate", {"url": page.resolve().as_uri()}, session=session)
        browser.wait_for("Page.loadEventFired")
        images = browser.send(
            "Runtime.evaluate",
            {
                "expression": "JSON.stringify([...document.images].map(i => "
                "({alt: i.alt, width: i.naturalWidth, height: i.naturalHeight, done: i.complete})))",
                "returnByValue": True,
            },
            session=session,
        )["result"]["value"]
        height = browser.send("Runtime.evaluate",
                              {"expression": "document.documentElement.scrollHeight",
                               "returnByValue": True}, session=session)["result"]["value"]  # fmt: skip
        shot = browser.send(
            "Page.captureScreenshot",
            {"format": "png", "captureBeyondViewport": True,
             "clip": {"x": 0, "y": 0, "width": 1200, "height": height, "scale": 1}},
            session=session,
        )  # fmt: skip
        import base64

        screenshot.write_bytes(base64.b64decode(shot["data"]))
        time.sleep(0.2)  # let late console messages arrive
        browser.send("Runtime.evaluate", {"expression": "1"}, session=session)
        events = browser.events
    finally:
        browser.close()
    errors = [
        e["params"] for e in events
        if (e.get("method") == "Runtime.consoleAPICalled" and e["params"]["type"] in ("error", "assert"))
        or e.get("method") == "Runtime.exceptionThrown"
        or (e.get("method") == "Log.entryAdded" and e["params"]["entry"]["level"] == "error")
    ]  # fmt: skip
    requests = [
        e["params"]["request"]["url"]
        for e in events
        if e.get("method") == "Network.requestWillBeSent"
    ]
    return {"errors": errors, "images": json.loads(images), "requests": requests}


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium "
                    "(apt-get install chromium; CI installs it in .ci/run)")  # fmt: skip
def test_report_renders_in_headless_chromium_with_every_image(iris_page, tmp_path):
    screenshot = tmp_path / "report.png"
    seen = open_page(iris_page, screenshot, tmp_path / "profile")
    print(f"\nreport screenshot: {screenshot}")
    assert seen["errors"] == []
    assert len(seen["images"]) == iris_page.read_text().count("<img ") >= 6
    assert all(image["done"] and image["width"] > 0 and image["height"] > 0
               for image in seen["images"]), seen["images"]  # fmt: skip
    assert all(url.startswith(("file:", "data:")) for url in seen["requests"]), seen["requests"]
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_command_line_train_reports_on_the_rows_fit_held_out(tmp_path, capsys):
    from sklearn.datasets import load_iris

    from densekit.cli import main

    load_iris(as_frame=True).frame.to_csv(tmp_path / "iris.csv", index=False)
    code = main(
        ["train", str(tmp_path / "iris.csv"), "--target", "target", "-o", str(tmp_path / "m.st"),
         "--epochs", "3", "-q", "--report", str(tmp_path / "train.html")]
    )  # fmt: skip
    assert code == 0 and capsys.readouterr() == ("", "")  # -q: nothing but errors
    page = (tmp_path / "train.html").read_text()
    assert "the validation split (20% of the rows, not used for training): 30 rows" in page


# --- the command line's report: the user's units, honest rows, data and settings -------


@pytest.fixture(scope="module")
def cli_reports(tmp_path_factory):
    """Reports ``densekit train --test`` writes on a regression and a multi-class table."""
    from sklearn.datasets import load_diabetes, load_wine

    from densekit.cli import main

    folder = tmp_path_factory.mktemp("cli-reports")
    diabetes = load_diabetes(as_frame=True, scaled=False).frame.rename(
        columns={"target": "progression"}
    )
    diabetes["sex"] = diabetes["sex"].map({1.0: "s1", 2.0: "s2"})  # a text column: one-hot
    wine = load_wine(as_frame=True).frame
    wine["cultivar"] = wine.pop("target").map(dict(enumerate(load_wine().target_names)))
    pages = {}
    for name, frame, target in (("diabetes", diabetes, "progression"), ("wine", wine, "cultivar")):
        shuffled = frame.sample(frac=1.0, random_state=0)
        test_rows = len(frame) // 5
        shuffled[test_rows:].to_csv(folder / f"{name}.csv", index=False)
        shuffled[:test_rows].to_csv(folder / f"{name}-test.csv", index=False)
        code = main(["train", str(folder / f"{name}.csv"), "--target", target,
                     "-o", str(folder / f"{name}.safetensors"), "--epochs", "8", "-q",
                     "--test", str(folder / f"{name}-test.csv"),
                     "--report", str(folder / f"{name}.html")])  # fmt: skip
        assert code == 0
        pages[name] = folder / f"{name}.html"
    return folder, pages


def card(page: str, name: str) -> float:
    value = re.search(rf'<div class="card">{re.escape(name)}<b>([^<]+)</b>', page)
    assert value is not None, f"no card {name!r}"
    return float(value.group(1).replace(",", ""))


def test_regression_report_speaks_the_targets_units(cli_reports):
    import pandas as pd
    from sklearn import metrics

    folder, pages = cli_reports
    page = pages["diabetes"].read_text()
    model = dk.load_model(folder / "diabetes.safetensors")
    from densekit.cli.tables import stored_preprocessor
    from densekit.tabular import read_table

    preprocessor = stored_preprocessor(model, "diabetes")
    test = read_table(str(folder / "diabetes-test.csv"))
    predicted = np.asarray(preprocessor.decode_target(model.predict(preprocessor.transform(test))))
    truth = pd.read_csv(folder / "diabetes-test.csv")["progression"].to_numpy()
    # the cards show 4 significant digits: within half a unit of the 4th of the exact value
    for name, value in (("MAE (progression)", metrics.mean_absolute_error(truth, predicted)),
                        ("RMSE (progression)", metrics.root_mean_squared_error(truth, predicted))):  # fmt: skip
        assert card(page, name) == pytest.approx(value, rel=5e-4)
    assert card(page, "R²") == pytest.approx(metrics.r2_score(truth, predicted), abs=6e-5)
    assert "<title>densekit: &#x27;progression&#x27; from diabetes.csv</title>" in page
    assert f"the test file {folder / 'diabetes-test.csv'} (not used for training)" in page
    for heading in ("Data", "Settings", "Predicted against actual", "Residuals",
                    "Feature importance", "Training curves"):  # fmt: skip
        assert f"<h2>{heading}</h2>" in page
    assert "sex (text, 2 categories, one-hot)" in page
    importance = page[page.index("<h2>Feature importance</h2>") : page.index("<h2>Training")]
    assert '<td class="text">sex</td>' in importance and "sex=s1" not in importance


def test_multi_class_report_has_per_class_scores_curves_and_calibration(cli_reports):
    import pandas as pd
    from sklearn import metrics

    folder, pages = cli_reports
    page = pages["wine"].read_text()
    model = dk.load_model(folder / "wine.safetensors")
    from densekit.cli.tables import stored_preprocessor
    from densekit.tabular import read_table

    preprocessor = stored_preprocessor(model, "wine")
    probabilities = model.predict(preprocessor.transform(read_table(str(folder / "wine-test.csv"))))
    truth = pd.read_csv(folder / "wine-test.csv")["cultivar"].map(
        {name: k for k, name in enumerate(preprocessor.classes_)}
    )
    predicted = probabilities.argmax(axis=1)
    assert card(page, "accuracy") == pytest.approx(
        metrics.accuracy_score(truth, predicted), abs=5e-5
    )
    assert card(page, "macro F1") == pytest.approx(
        metrics.f1_score(truth, predicted, average="macro"), abs=5e-5
    )
    auc = metrics.roc_auc_score(truth, probabilities, multi_class="ovr", average="macro")
    assert card(page, "ROC AUC (macro, one-vs-rest)") == pytest.approx(auc, abs=5e-5)
    for heading in ("Per-class scores", "Confusion matrix", "ROC and precision–recall curves",
                    "Calibration", "Data", "Settings"):  # fmt: skip
        assert f"<h2>{heading}</h2>" in page
    for name in ("class_0", "class_1", "class_2"):  # the class balance of the training file
        assert re.search(rf"{name}: \d+ \(\d+\.\d%\)", page)


def test_report_names_the_rows_it_evaluated_on(tmp_path):
    from sklearn.datasets import load_iris

    from densekit.cli import main

    load_iris(as_frame=True).frame.to_csv(tmp_path / "iris.csv", index=False)
    args = ["train", str(tmp_path / "iris.csv"), "--target", "target", "-o", str(tmp_path / "m"),
            "--epochs", "1", "-q", "--report", str(tmp_path / "r.html")]  # fmt: skip
    assert main([*args, "--validation-split", "0"]) == 0
    page = (tmp_path / "r.html").read_text()
    assert "the training rows (no held-out data: --validation-split 0): 150 rows" in page
    assert main([*args, "--patience", "2"]) == 0
    assert (
        "not used for training; early stopping (--patience) watched them)"
        in (tmp_path / "r.html").read_text()
    )


def test_binary_report_draws_one_curve_for_the_second_class(tmp_path):
    from sklearn import metrics
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer()
    x = ((data.data - data.data.mean(0)) / data.data.std(0)).astype(np.float32)
    model = dk.Sequential([dk.layers.Dense(1, "sigmoid", input_dim=30)], seed=0)
    model.compile("adam", "binary_crossentropy", ["accuracy"])
    model.fit(x[:400], data.target[:400], epochs=2, verbose=0, seed=0)
    page = dk.report(model, None, x[400:], data.target[400:], tmp_path / "b.html",
                     class_names=list(data.target_names)).read_text()  # fmt: skip
    auc = metrics.roc_auc_score(data.target[400:], model.predict(x[400:])[:, 0])
    assert card(page, "ROC AUC") == pytest.approx(auc, abs=5e-5)
    assert "for class &#x27;benign&#x27;" in page and "the 169 rows given as x_val" in page


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium")
@pytest.mark.parametrize("name", ["diabetes", "wine"])
def test_command_line_reports_render_in_headless_chromium(cli_reports, name, tmp_path):
    _, pages = cli_reports
    screenshot = tmp_path / f"{name}.png"
    seen = open_page(pages[name], screenshot, tmp_path / "profile")
    print(f"\n{name} report screenshot: {screenshot}")
    assert seen["errors"] == []
    assert len(seen["images"]) == pages[name].read_text().count("<img ") >= 7
    assert all(image["done"] and image["width"] > 0 for image in seen["images"]), seen["images"]
    assert all(url.startswith(("file:", "data:")) for url in seen["requests"]), seen["requests"]
