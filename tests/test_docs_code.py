"""Every code block of the docs runs, so the pages cannot rot.

In docs/**/*.md, fenced blocks are run by language, page by page in one namespace and in a
fresh working folder per page (so a page may write files and read them back):

- ``pycon``: a doctest session; the output shown must be the output printed;
- ``python``: run; a block whose first line is ``# not run: <reason>`` (a GPU, a cluster)
  is shown only, and must say why;
- ``console``: each ``$ `` line runs in a shell (``densekit`` is this checkout's);
- ``sh``: commands that set a machine up (make, pip, mpiexec ...): shown only, and the test
  checks that each line starts with one of those commands;
- ``text`` (output, formulas) and directives (``{toctree}``, ``{densekit-source}`` ...,
  run by the docs build) are not code.

Any other language fails the test, so nothing is skipped unnoticed. Docstring examples are
run by tests/test_docstring_examples.py; the gallery (examples/) by ``make docs``.
"""

from __future__ import annotations

import doctest
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"
FENCE = re.compile(
    r"^(?P<fence>`{3,}|~{3,})(?P<info>[^\n]*)\n(?P<body>.*?)^(?P=fence)\s*$", re.M | re.S
)
SHOWN_ONLY = ("make ", "pip ", "python -m pip", "mpiexec ", "apt-get ", "git ", "cd ", "export ")
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def pages():
    return sorted(
        page
        for page in DOCS.rglob("*.md")
        if not {"_build", "auto_examples", "api"} & set(page.relative_to(DOCS).parts)
    )


def blocks(page: Path):
    for match in FENCE.finditer(page.read_text(encoding="utf-8")):
        info = match.group("info").strip()
        line = page.read_text(encoding="utf-8")[: match.start()].count("\n") + 1
        yield info, match.group("body"), line


@pytest.mark.parametrize("page", pages(), ids=lambda p: str(p.relative_to(DOCS)))
def test_page_code_runs(page, tmp_path, monkeypatch):
    text = page.read_text(encoding="utf-8")
    for module in ("torch", "onnxruntime", "sklearn"):  # the test extras; torch may be absent
        if f"import {module}" in text or f"from {module}" in text:
            pytest.importorskip(module)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    namespace: dict = {"__name__": "__docs__"}
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    parser = doctest.DocTestParser()
    for info, body, line in blocks(page):
        where = f"{page.relative_to(DOCS)}:{line}"
        language = info.split()[0] if info else ""
        if language.startswith("{") or language in ("text", ""):
            continue
        if language == "pycon":
            test = parser.get_doctest(body, namespace, where, str(page), line)
            result = runner.run(test, clear_globs=False)
            namespace.update(test.globs)
            assert result.failed == 0, f"{where}: a doctest failed (its output is above)"
        elif language == "python":
            if body.startswith("# not run:"):
                assert len(body.splitlines()[0]) > len("# not run: ") + 5, f"{where}: say why"
                continue
            exec(compile(body, where, "exec"), namespace)
        elif language == "console":
            for command in (ln[2:] for ln in body.splitlines() if ln.startswith("$ ")):
                env = {
                    **os.environ,
                    "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
                }
                run = subprocess.run(
                    command, shell=True, capture_output=True, text=True, timeout=240, env=env
                )
                assert run.returncode == 0, f"{where}: `{command}` failed:\n{run.stderr}"
        elif language == "sh":
            for command in body.splitlines():
                command = command.strip()
                if command and not command.startswith("#"):
                    assert command.startswith(SHOWN_ONLY), (
                        f"{where}: `{command}` is in a shown-only sh block; "
                        "put commands the tests can run in a console block"
                    )
        else:
            pytest.fail(f"{where}: code block language {language!r} is neither run nor allowed")
