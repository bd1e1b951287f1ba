"""The architecture's import rules, read from the source with ``ast``.

Every module under ``src/densekit`` is parsed; its imports are all of them, those inside
functions included (a late import still ties two modules together), except those under
``if TYPE_CHECKING:`` (type hints only; they never run). Two rules hold:

(a) no module imports another module's ``_private`` name: what others need is public;
(b) no import cycle among densekit modules.

What counts as an import of what, for (b): ``import a.b`` and ``from a import b`` (``b`` a
submodule) import the submodule ``a.b``; ``from a import name`` imports the module ``a``.
The packages above an imported module are not counted: Python runs their ``__init__``
first, but a package's ``__init__`` that re-exports its own submodules depends on them,
not they on it. A submodule that takes a name from its package's ``__init__`` (``from .
import helper``) does import the ``__init__``, and is a cycle when the ``__init__`` imports
it back. The tiers themselves (which module may import which) are import-linter's
contract in ``pyproject.toml`` (``make lint``).
"""

from __future__ import annotations

import ast
from pathlib import Path
from textwrap import dedent

import pytest

SOURCE = Path(__file__).resolve().parents[1] / "src" / "densekit"


def module_files(package_dir: Path) -> dict[str, Path]:
    """Dotted module names of the package at ``package_dir`` (and below), to their files."""
    found = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = list(path.relative_to(package_dir.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports_of(tree: ast.AST):
    """Every import statement in ``tree``, at any depth, except under ``if TYPE_CHECKING:``."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for branch in node.orelse:
                yield from imports_of(ast.Module(body=[branch], type_ignores=[]))
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        yield from imports_of(node)


def _source_module(node: ast.ImportFrom, module: str, is_package: bool) -> str | None:
    """The absolute name of the module ``from X import ...`` takes names from."""
    if not node.level:
        return node.module
    package = module.split(".") if is_package else module.split(".")[:-1]
    if node.level - 1 > len(package):
        return None
    base = package[: len(package) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def import_graph(package_dir: Path) -> tuple[dict, list]:
    """The imports among the package's modules, and its imports of others' private names.

    Returns
    -------
    edges : dict
        ``{importer: {imported: [line, ...]}}`` over the package's modules.
    private : list
        ``(importer, line, source module, name)`` for each ``from X import _name``
        where ``X`` is another module of the package.
    """
    files = module_files(package_dir)
    edges: dict[str, dict[str, list[int]]] = {name: {} for name in files}
    private = []
    for module, path in files.items():
        is_package = path.name == "__init__.py"
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        targets = edges[module]
        for node in imports_of(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    name = alias.name
                    while name and name not in files:  # `import a.b.c` names a.b.c, maybe a.b
                        name = name.rpartition(".")[0]
                    if name and name != module:
                        targets.setdefault(name, []).append(node.lineno)
                continue
            source = _source_module(node, module, is_package)
            if source not in files:
                continue
            for alias in node.names:
                submodule = f"{source}.{alias.name}"
                target = submodule if submodule in files else source
                if target != module:
                    targets.setdefault(target, []).append(node.lineno)
                dunder = alias.name.startswith("__") and alias.name.endswith("__")
                if alias.name.startswith("_") and not dunder and source != module:
                    private.append((module, node.lineno, source, alias.name))
    return edges, private


def import_groups(edges: dict) -> list[list[str]]:
    """The groups of modules that import each other (directly or not), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in edges[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return groups


def import_cycles(edges: dict) -> list[list[str]]:
    """One cycle (``[a, b, ..., a]``) through each group of modules that import each other."""
    return [_cycle_in(edges, group) for group in import_groups(edges)]


def _cycle_in(edges: dict, group: list[str]) -> list[str]:
    """A shortest cycle through the first module of ``group`` (breadth-first)."""
    start, members = group[0], set(group)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for target in sorted(edges[node]):
                if target == start:
                    return paths[node] + [start]
                if target in members and target not in paths:
                    paths[target] = paths[node] + [target]
                    following.append(target)
        frontier = following
    return group


def describe(edges: dict, cycle: list[str]) -> str:
    """``a -> b (line 12) -> a (line 40)``: a cycle with the lines that import."""
    steps = [cycle[0]]
    for importer, imported in zip(cycle, cycle[1:]):
        lines = ", ".join(map(str, sorted(set(edges[importer][imported]))))
        steps.append(f"{imported} (line {lines} of {importer})")
    return " -> ".join(steps)


# --- densekit itself -------------------------------------------------------------------


def test_no_module_imports_another_modules_private_names():
    _, private = import_graph(SOURCE)
    found = [
        f"{module}, line {line}: from {source} import {name}"
        for module, line, source, name in private
    ]
    assert not found, "private names imported across modules (make them public):\n" + "\n".join(
        found
    )


def test_densekit_has_no_import_cycle():
    edges, _ = import_graph(SOURCE)
    cycles = [
        f"{describe(edges, _cycle_in(edges, group))}\n  ({len(group)} modules in the cycle: "
        f"{', '.join(group)})"
        for group in import_groups(edges)
    ]
    assert not cycles, "import cycles among densekit modules:\n" + "\n".join(cycles)


def test_every_module_is_seen():
    files = module_files(SOURCE)
    assert {"densekit", "densekit.model", "densekit.serialization.model_file"} <= set(files)


# --- the checker, on small packages ------------------------------------------------------


def _package(root: Path, files: dict[str, str]) -> Path:
    for relative, text in files.items():
        path = root / "pkg" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(dedent(text))
    return root / "pkg"


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        pytest.param(
            {"__init__.py": "", "a.py": "from . import b\n", "b.py": "from .a import f\n"},
            [["pkg.a", "pkg.b", "pkg.a"]],
            id="two modules",
        ),
        pytest.param(
            {
                "__init__.py": "",
                "a.py": "def f():\n    from .b import g\n",
                "b.py": "import pkg.a\n",
            },
            [["pkg.a", "pkg.b", "pkg.a"]],
            id="an import inside a function counts",
        ),
        pytest.param(
            {
                "__init__.py": "",
                "a.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .b import B\n",
                "b.py": "from .a import f\n",
            },
            [],
            id="a TYPE_CHECKING import does not",
        ),
        pytest.param(
            {
                "__init__.py": "from .a import f\nfrom .sub import g\n",
                "a.py": "",
                "sub/__init__.py": "from ..a import f\n",
            },
            [],
            id="an __init__ re-exporting its submodules",
        ),
        pytest.param(
            {"__init__.py": "from .a import f\nVERSION = 1\n", "a.py": "from . import VERSION\n"},
            [["pkg", "pkg.a", "pkg"]],
            id="a submodule taking a name from its package's __init__",
        ),
        pytest.param(
            {
                "__init__.py": "",
                "x/__init__.py": "from ..y import f\n",
                "y.py": "from .x import g\n",
            },
            [["pkg.x", "pkg.y", "pkg.x"]],
            id="relative imports resolved from a package's __init__",
        ),
    ],
)
def test_checker_finds_exactly_the_cycles(tmp_path, files, expected):
    edges, _ = import_graph(_package(tmp_path, files))
    assert import_cycles(edges) == expected


def test_checker_finds_private_names_across_modules(tmp_path):
    files = {
        "__init__.py": "from .a import __version__\n",
        "a.py": "from .b import _helper, public\nfrom os import _exit\n__version__ = 1\n",
        "b.py": "def _helper(): ...\ndef public(): ...\n",
    }
    _, private = import_graph(_package(tmp_path, files))
    assert private == [("pkg.a", 1, "pkg.b", "_helper")]


def test_to_torch_is_known_by_name_so_the_model_never_imports_interop():
    import subprocess
    import sys

    code = (
        "import sys, densekit; from densekit.model import CONVERTERS; "
        "assert CONVERTERS.get('torch') is densekit.interop.to_torch; "
        "assert 'torch' not in sys.modules"  # registering the converter imports no torch
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
