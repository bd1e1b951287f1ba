"""Sphinx configuration of the densekit documentation (``make docs``)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(DOCS / "_ext"))

# the gallery runs the examples on one BLAS thread, and figures never open a window
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

from api_pages import write_pages  # noqa: E402

import densekit  # noqa: E402

write_pages(DOCS / "api")  # the API reference's pages, from the package as it is

project = "densekit"
author = "the densekit authors"
copyright = "densekit authors, MIT license"
release = densekit.__version__
version = release

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx-mathjax-offline",  # MathJax 3 bundled: the pages need no network
    "sphinx_gallery.gen_gallery",
    "densekit_docs",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "**.ipynb_checkpoints", "auto_examples/*.ipynb", "auto_examples/*.py"]

myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3

# --- the API reference: numpydoc docstrings, rendered by napoleon ---------------------
autodoc_default_options = {"members": True, "member-order": "bysource"}
autodoc_typehints = "description"
autodoc_typehints_description_target = "documented_params"
autodoc_class_signature = "separated"
autodoc_preserve_defaults = True
autosummary_generate = False
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False
napoleon_use_ivar = True


def skip_member(app, what, name, obj, skip, options):
    """Leave out scikit-learn's generated metadata-routing setters (its docs, not ours)."""
    if name.startswith("set_") and name.endswith("_request"):
        return True
    return None


def setup(app):
    """Connect the hook above."""
    app.connect("autodoc-skip-member", skip_member)


# --- the gallery: examples/ run at build time, their output and figures in the page ---
sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r".*\.py$",
    "ignore_pattern": r"__init__\.py",
    "abort_on_example_error": True,
    "download_all_examples": False,
    "show_memory": False,
    "remove_config_comments": True,
    "within_subsection_order": "gallery_order.ExampleOrder",  # docs/_ext/gallery_order.py
    "min_reported_time": 1,
    "image_scrapers": ("matplotlib",),
    "capture_repr": ("__repr__",),
    "plot_gallery": "True",
    "write_computation_times": False,  # its page loads scripts from a CDN
}

# --- HTML -------------------------------------------------------------------------
html_theme = "furo"
html_title = f"densekit {release}"
html_static_path = ["_static"]
html_css_files = ["densekit.css"]
html_show_sourcelink = False
pygments_style = "friendly"
