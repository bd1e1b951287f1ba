"""``densekit export``: write a model file as an ONNX graph."""

from __future__ import annotations

import argparse
from typing import Any

from .outputs import refuse_overwrite, say


def cmd_export(args: argparse.Namespace) -> int:
    """Export a model file to ONNX.

    Parameters
    ----------
    args
        The parsed ``densekit export`` arguments.

    Returns
    -------
    int
        The exit status, 0.

    Raises
    ------
    DensekitError
        On bad options, data or model files; ``main`` prints it as one line.
    """
    from ..onnx import export_onnx
    from ..serialization.model_file import load_model

    refuse_overwrite(args.output, "the ONNX graph", model=args.model)
    export_onnx(load_model(args.model), args.output, opset=args.opset)
    say(f"wrote {args.output} (ONNX opset {args.opset})", args.quiet)
    return 0


def add_command(commands: Any) -> None:
    """Add the ``export`` command, its options and its handler.

    Parameters
    ----------
    commands
        What ``ArgumentParser.add_subparsers`` returned.
    """
    export = commands.add_parser(
        "export",
        help="export a model to ONNX",
        description="Write a model file as ONNX (Dropout removed; opset 17 or later).",
    )
    export.add_argument("model", help="densekit model file")
    export.add_argument("output", help="the .onnx file to write")
    export.add_argument("--opset", type=int, default=17, help="ONNX opset (default 17)")
    export.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    export.set_defaults(handler=cmd_export)
