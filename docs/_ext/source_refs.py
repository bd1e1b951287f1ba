"""Find the lines of densekit that a docs page shows beside a formula (no Sphinx needed).

A page names a function or method by its qualified name (``densekit.layers.dense.Dense.
backward``), strings that must occur in it (the code the formula stands for), and
optionally a sub-range: from the first line containing ``start_at`` to the first line
after it containing ``end_at``. The docs build includes those lines from the source as
it is at build time, and tests/test_docs_references.py checks every reference, so a
change that moves or rewrites the code fails the test instead of leaving a stale page.
"""

from __future__ import annotations

import importlib
import inspect
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
#: the directive in MyST pages: ```{densekit-source} qualified.name  + :option: lines
DIRECTIVE = re.compile(r"^(`{3,}|~{3,})\{densekit-source\}\s+(\S+)\s*\n(.*?)^\1", re.M | re.S)
#: separates several strings in one :contains: option
SEPARATOR = " ;; "


class ReferenceError(Exception):
    """A reference that no longer holds: the object is gone or lacks the named code."""


@dataclass
class Source:
    """The lines a reference shows."""

    path: Path
    first_line: int
    text: str

    @property
    def last_line(self) -> int:
        """The number of the last line shown."""
        return self.first_line + self.text.count("\n")

    @property
    def relative_path(self) -> str:
        """The file, relative to the repository."""
        return self.path.relative_to(ROOT).as_posix()


def resolve(qualname: str):
    """The object a qualified name names: the longest importable module, then attributes."""
    parts = qualname.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for name in parts[cut:]:
            try:
                obj = getattr(obj, name)
            except AttributeError as error:
                raise ReferenceError(f"{qualname}: no {name!r} in {obj!r}") from error
        return obj
    raise ReferenceError(f"{qualname}: no importable module")


def source_of(
    qualname: str,
    contains: list[str] | tuple[str, ...] = (),
    start_at: str | None = None,
    end_at: str | None = None,
) -> Source:
    """The source lines of ``qualname`` (or the part from ``start_at`` to ``end_at``).

    Raises
    ------
    ReferenceError
        When the object is gone, a marker is missing, or a string of ``contains`` is not
        in the lines shown.
    """
    obj = inspect.unwrap(resolve(qualname))
    if isinstance(obj, property):
        obj = obj.fget
    try:
        lines, first = inspect.getsourcelines(obj)
        path = Path(inspect.getsourcefile(obj)).resolve()
    except (TypeError, OSError) as error:
        raise ReferenceError(f"{qualname}: no source ({error})") from error
    start, stop = 0, len(lines)
    if start_at is not None:
        found = [i for i, line in enumerate(lines) if start_at in line]
        if not found:
            raise ReferenceError(f"{qualname}: no line contains start-at {start_at!r}")
        start = found[0]
    if end_at is not None:
        found = [i for i, line in enumerate(lines) if i >= start and end_at in line]
        if not found:
            raise ReferenceError(f"{qualname}: no line after start-at contains end-at {end_at!r}")
        stop = found[0] + 1
    text = textwrap.dedent("".join(lines[start:stop])).rstrip("\n")
    for needle in contains:
        if needle not in text:
            raise ReferenceError(f"{qualname}: the lines shown no longer contain {needle!r}")
    return Source(path, first + start, text)


def parse_options(block: str) -> dict[str, str]:
    """``:name: value`` lines at the top of a directive's body."""
    options = {}
    for line in block.splitlines():
        match = re.match(r"^:([\w-]+):\s*(.*)$", line.strip())
        if not match:
            break
        options[match.group(1)] = match.group(2)
    return options


def split_contains(value: str | None) -> list[str]:
    """The strings of a :contains: option."""
    return [] if not value else [part.strip() for part in value.split(SEPARATOR.strip())]


def references(docs: Path = DOCS):
    """Every (page, qualified name, options) of the docs' densekit-source directives."""
    for page in sorted(docs.rglob("*.md")):
        if {"_build", "auto_examples", "api"} & set(page.relative_to(docs).parts):
            continue  # generated pages
        for match in DIRECTIVE.finditer(page.read_text(encoding="utf-8")):
            yield page, match.group(2), parse_options(match.group(3))
