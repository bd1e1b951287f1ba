"""Write the API reference's pages at build time: one per public namespace of densekit.

Each page documents the namespace's public classes and functions (its ``__all__``, else
the public names it defines or re-exports from its own modules) under the names users
type (``densekit.layers.Dense``), each once: a name re-exported by a later namespace links
to the first. The pages go to ``docs/api/`` (not in git), rewritten on every build.
"""

from __future__ import annotations

import importlib
import inspect
import types
from pathlib import Path

#: (namespace, title, lead) in the order of the reference
NAMESPACES = [
    ("densekit", "densekit: the model and the top-level functions", ""),
    ("densekit.layers", "Layers", ""),
    ("densekit.activations", "Activations", ""),
    ("densekit.losses", "Losses", ""),
    ("densekit.optimizers", "Optimizers", ""),
    ("densekit.schedules", "Learning-rate schedules", ""),
    ("densekit.regularizers", "Regularizers", ""),
    ("densekit.initializers", "Initializers", ""),
    ("densekit.metrics", "Metrics", ""),
    ("densekit.callbacks", "Callbacks", ""),
    ("densekit.checkpoint", "Checkpoints and weights files", ""),
    ("densekit.explain", "Explaining", ""),
    ("densekit.prune", "Pruning", ""),
    ("densekit.quantize", "Quantization", ""),
    ("densekit.tune", "Size and hyperparameter search", ""),
    ("densekit.sklearn", "scikit-learn estimators", ""),
    ("densekit.distributed", "Several machines: MPI", ""),
    ("densekit.dask", "Several machines: Dask", ""),
    ("densekit.models", "Keras' models functions", ""),
    ("densekit.preprocessing", "Preprocessing: table columns to features", ""),
    ("densekit.errors", "Errors", ""),
]


def public_names(module: types.ModuleType) -> list[str]:
    """The classes and functions a namespace offers, in a stable order."""
    names = getattr(module, "__all__", None)
    if names is None:
        names = sorted(name for name in vars(module) if not name.startswith("_"))
    chosen = []
    for name in names:
        obj = getattr(module, name, None)
        if not (inspect.isclass(obj) or inspect.isfunction(obj)):
            continue
        home = getattr(obj, "__module__", "") or ""
        if home == module.__name__ or home.startswith(module.__name__ + "."):
            chosen.append(name)
        elif module.__name__ == "densekit" and home.startswith("densekit."):
            chosen.append(name)
    return chosen


def write_pages(folder: Path) -> list[str]:
    """Write one page per namespace and the index; return the page names."""
    folder.mkdir(parents=True, exist_ok=True)
    seen: dict[int, str] = {}
    pages = []
    for public, title, _ in NAMESPACES:
        module = importlib.import_module("densekit")
        for part in public.split(".")[1:]:  # dk.checkpoint is an alias of a module
            if not hasattr(module, part):  # a subpackage not imported by densekit itself
                importlib.import_module(f"{module.__name__}.{part}")
            module = getattr(module, part)
        namespace = module.__name__
        lines = [
            f"# {title}",
            "",
            "```{eval-rst}",
            f".. automodule:: {namespace}",
            "   :no-members:",
            "```",
            "",
        ]
        also = []
        for name in public_names(module):
            obj = getattr(module, name)
            qualified = f"{namespace}.{name}"
            if id(obj) in seen:
                also.append(f"- `{qualified}` is {{py:obj}}`{seen[id(obj)]}`")
                continue
            seen[id(obj)] = qualified
            kind = "autoclass" if inspect.isclass(obj) else "autofunction"
            options = ["   :members:", "   :show-inheritance:"] if kind == "autoclass" else []
            lines += ["```{eval-rst}", f".. {kind}:: {qualified}", *options, "```", ""]
        if also:
            lines += ["## Also here", "", *also, ""]
        page = public.replace(".", "-")
        (folder / f"{page}.md").write_text("\n".join(lines), encoding="utf-8")
        pages.append(page)
    index = [
        "# API reference",
        "",
        "Generated from the docstrings (numpydoc) when the docs are built: each public",
        "class and function under the name you import it by.",
        "",
        "```{toctree}",
        ":maxdepth: 1",
        "",
        *pages,
        "```",
        "",
    ]
    (folder / "index.md").write_text("\n".join(index), encoding="utf-8")
    return pages
