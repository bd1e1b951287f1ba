"""``densekit summary``: print a model file's layers, parameters, loss and preprocessing."""

from __future__ import annotations

import argparse
from typing import Any

from .tables import PREPROCESSING_KEY, stored_preprocessor


def cmd_summary(args: argparse.Namespace) -> int:
    """Print a model file's layers and parameters, its loss, target and features.

    Parameters
    ----------
    args
        The parsed ``densekit summary`` arguments.

    Returns
    -------
    int
        The exit status, 0.

    Raises
    ------
    DensekitError
        On bad options, data or model files; ``main`` prints it as one line.
    """
    from ..serialization.model_file import load_model

    model = load_model(args.model)
    model.summary()
    config = model.compile_config()
    if config is not None:
        print(f"Loss: {config['loss']['name']}; optimizer: {config['optimizer']['name']}")
    if PREPROCESSING_KEY in model.metadata:
        preprocessor = stored_preprocessor(model, args.model)
        print(f"Target: {preprocessor.target!r} ({preprocessor.task})")
        if preprocessor.task == "classification":
            print(f"Classes: {preprocessor.classes_}")
        print(
            f"Features ({len(preprocessor.feature_names)}): {', '.join(preprocessor.feature_names)}"
        )
    return 0


def add_command(commands: Any) -> None:
    """Add the ``summary`` command, its options and its handler.

    Parameters
    ----------
    commands
        What ``ArgumentParser.add_subparsers`` returned.
    """
    summary = commands.add_parser(
        "summary",
        help="print a model file's layers and parameters",
        description="Print a model's layers, shapes and parameters.",
    )
    summary.add_argument("model")
    summary.set_defaults(handler=cmd_summary)
