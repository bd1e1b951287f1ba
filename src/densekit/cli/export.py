"""``densekit export``: write a model file as an ONNX graph.

A model made by ``densekit train`` is written as the whole pipeline (raw columns in,
labels or numbers out; see :mod:`densekit.tabular.onnx_pipeline`); ``--network-only``
or a model without stored preprocessing gives the bare network.
"""

from __future__ import annotations

import argparse
from typing import Any

from ..errors import ArgumentError
from .outputs import refuse_overwrite, say
from .tables import PREPROCESSING_KEY, reading_options, stored_preprocessor

CALIBRATION_ROWS = 1000


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
    ArgumentError
        If ``--int8`` is given for a model without stored preprocessing.
    DensekitError
        On bad options, data or model files; ``main`` prints it as one line.
    """
    from ..serialization.model_file import load_model

    refuse_overwrite(args.output, "the ONNX graph", model=args.model)
    model = load_model(args.model)
    pipeline = PREPROCESSING_KEY in model.metadata and not args.network_only
    if args.int8 is not None and not pipeline:
        raise ArgumentError("--int8 needs a model made by 'densekit train' (with preprocessing)")
    if not pipeline:
        from ..onnx import export_onnx

        export_onnx(model, args.output, opset=args.opset)
        what = "the network"
    else:
        from ..tabular.onnx_pipeline import export_pipeline

        preprocessor = stored_preprocessor(model, args.model)
        network = model if args.int8 is None else _int8(model, preprocessor, args.int8)
        export_pipeline(network, preprocessor, args.output, opset=args.opset)
        what = "the pipeline" + (" (int8 network)" if args.int8 is not None else "")
    say(f"wrote {what} to {args.output} (ONNX opset {args.opset})", args.quiet)
    return 0


def _int8(model: Any, preprocessor: Any, data: str) -> Any:
    """The network quantized to int8, calibrated on the first rows of a table."""
    from ..quantize import int8
    from ..tabular import read_table

    table = read_table(data, **reading_options(preprocessor))
    x = preprocessor.transform(table)[:CALIBRATION_ROWS]
    return int8(model, x)


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
        description="Write a model file as ONNX (Dropout removed; opset 17 or later). A model "
        "made by 'densekit train' becomes the whole pipeline: one input per raw column "
        "(double for numbers, NaN where missing; string for text), the preprocessing, the "
        "network, and the labels and probabilities or the prediction in the target's units.",
    )
    export.add_argument("model", help="densekit model file")
    export.add_argument("output", help="the .onnx file to write")
    export.add_argument("--opset", type=int, default=17, help="ONNX opset (default 17)")
    export.add_argument(
        "--network-only",
        action="store_true",
        help="write only the network (encoded features in, raw outputs out)",
    )
    export.add_argument(
        "--int8",
        default=None,
        metavar="DATA",
        help=f"quantize the network to int8, calibrated on the first {CALIBRATION_ROWS} rows "
        "of this CSV/Parquet file",
    )
    export.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    export.set_defaults(handler=cmd_export)
