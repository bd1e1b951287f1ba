"""Two directives for the docs: the code beside a formula, and a live trace of one sample.

``densekit-source QUALNAME`` includes the source of a densekit function or method as it
is at build time (options ``:contains:``, ``:start-at:``, ``:end-at:``, see
:mod:`source_refs`); a reference that no longer holds stops the build.

``densekit-trace`` runs its Python body (which must define ``model``, ``x`` and ``y``),
calls ``densekit.explain.trace(model, x, y)`` and puts the network diagram (SVG) and the
trace's table into the page: the numbers are computed when the docs are built.
"""

from __future__ import annotations

import source_refs
from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.util.docutils import SphinxDirective


class DensekitSource(SphinxDirective):
    """Include a function's lines, by qualified name, checked to hold the named code."""

    required_arguments = 1
    option_spec = {
        "contains": directives.unchanged,
        "start-at": directives.unchanged,
        "end-at": directives.unchanged,
        "caption": directives.unchanged,
    }

    def run(self):
        """The lines, numbered as in the file, under a caption naming the file and range."""
        qualname = self.arguments[0]
        try:
            source = source_refs.source_of(
                qualname,
                source_refs.split_contains(self.options.get("contains")),
                self.options.get("start-at"),
                self.options.get("end-at"),
            )
        except source_refs.ReferenceError as error:
            raise self.error(f"densekit-source: {error}") from error
        self.env.note_dependency(str(source.path))
        block = nodes.literal_block(source.text, source.text)
        block["language"] = "python"
        block["linenos"] = True
        block["highlight_args"] = {"linenostart": source.first_line}
        caption = self.options.get(
            "caption",
            f"{source.relative_path}, lines {source.first_line}–{source.last_line} "
            f"({qualname.removeprefix('densekit.')})",
        )
        container = nodes.container("", literal_block=True, classes=["literal-block-wrapper"])
        parsed, _ = self.state.inline_text(caption, self.lineno)
        container += nodes.caption(caption, "", *parsed)
        container += block
        return [container]


class DensekitTrace(SphinxDirective):
    """Run the body, trace ``model`` on ``x``, ``y``; show the diagram and the table."""

    has_content = True
    option_spec = {"no-table": directives.flag}

    def run(self):
        """The body's code, the diagram and the table of the trace it sets up."""
        import densekit as dk

        code = "\n".join(self.content)
        namespace: dict = {}
        try:
            exec(compile(code, f"<{self.env.docname} densekit-trace>", "exec"), namespace)
            result = dk.explain.trace(namespace["model"], namespace["x"], namespace["y"])
        except Exception as error:  # the build must fail, saying where
            raise self.error(f"densekit-trace: {type(error).__name__}: {error}") from error
        source = nodes.literal_block(code, code)
        source["language"] = "python"
        svg = nodes.raw("", f'<div class="densekit-trace">{result.to_svg()}</div>', format="html")
        out = [source, svg]
        if "no-table" not in self.options:
            table = result.table()
            block = nodes.literal_block(table, table)
            block["language"] = "text"
            out.append(block)
        return out


def setup(app):
    """Register the two directives."""
    app.add_directive("densekit-source", DensekitSource)
    app.add_directive("densekit-trace", DensekitTrace)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
