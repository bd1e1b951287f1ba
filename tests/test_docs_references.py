"""The docs' "formula beside code" references still hold the code they show.

Each ``densekit-source`` directive in docs/ names a function by qualified name, optional
start and end markers, and strings that must occur in the lines shown (the code the formula
on the page stands for). The docs build includes those lines from the source as it is;
this test fails when a function is renamed, moved, or no longer contains that code, so a
page cannot silently show something else than it says.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"
sys.path.insert(0, str(DOCS / "_ext"))

import source_refs  # noqa: E402

REFERENCES = list(source_refs.references(DOCS))


def test_the_how_it_works_pages_reference_code():
    pages = {page.name for page, _, _ in REFERENCES}
    for name in ("neuron.md", "layer.md", "activations.md", "losses.md", "backprop.md"):
        assert name in pages
    for name in ("optimizers.md", "regularization.md", "dropout.md", "batchnorm.md"):
        assert name in pages
    assert {"pruning.md", "int8.md"} <= pages
    # every reference names the code it shows: a bare include could drift unnoticed
    for page, qualname, options in REFERENCES:
        assert options.get("contains"), f"{page.name}: {qualname} has no :contains:"


@pytest.mark.parametrize(
    ("page", "qualname", "options"),
    REFERENCES,
    ids=[f"{page.stem}:{name.removeprefix('densekit.')}" for page, name, _ in REFERENCES],
)
def test_reference_holds(page, qualname, options):
    source = source_refs.source_of(
        qualname,
        source_refs.split_contains(options.get("contains")),
        options.get("start-at"),
        options.get("end-at"),
    )
    assert source.text.strip()
    assert source.relative_path.startswith("src/densekit/")


def test_a_changed_function_fails_the_check():
    with pytest.raises(source_refs.ReferenceError, match="no longer contain"):
        source_refs.source_of("densekit.activations.relu_backward", ["grad *= a >= 0"])
    with pytest.raises(source_refs.ReferenceError, match="no 'gone'"):
        source_refs.source_of("densekit.activations.gone", [])
    with pytest.raises(source_refs.ReferenceError, match="start-at"):
        source_refs.source_of("densekit.activations.relu_backward", [], start_at="not there")
