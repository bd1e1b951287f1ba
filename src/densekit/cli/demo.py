"""``densekit demo``: train on scikit-learn's digits, print the results, write a report."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..errors import MissingDependencyError, require
from .argument_types import non_negative_int
from .outputs import messages_to_stderr, say, show


def cmd_demo(args: argparse.Namespace) -> int:
    """Train and save the digits model, then write its HTML report (needs matplotlib).

    The test accuracy goes to stdout; the summary, the epochs and "wrote ..." to stderr.

    Parameters
    ----------
    args
        The parsed ``densekit demo`` arguments.

    Returns
    -------
    int
        The exit status, 0.

    Raises
    ------
    DensekitError
        On bad options, data or model files; ``main`` prints it as one line.
    """
    from ..demo import run_demo

    with messages_to_stderr():  # the summary, the epochs and "saved ..." are messages
        model, history, results = run_demo(
            epochs=args.epochs, output=args.output, seed=args.seed, verbose=not args.quiet
        )
    from ..demo import load_digits_split
    from ..report.html import report

    _, _, x_test, y_test = load_digits_split(args.seed)
    show(
        f"test accuracy {results['accuracy']:.4f}, test loss {results['loss']:.4f} "
        f"on {len(x_test)} held-out digits",
        args.quiet,
    )
    pixels = [f"pixel_{row}_{column}" for row in range(8) for column in range(8)]
    try:
        require("matplotlib", "plot", "the demo's HTML report")
    except MissingDependencyError as exc:
        say(f"no report: {exc}", args.quiet)
        return 0
    path = report(model, history, x_test, y_test, Path(args.output) / "report.html",
                  feature_names=pixels, title="densekit demo: scikit-learn digits",
                  class_names=[str(digit) for digit in range(10)],
                  evaluated_on=f"the test split ({len(x_test)} digits, not used for training)")  # fmt: skip
    say(f"wrote the report to {path.resolve()}", args.quiet)
    return 0


def add_command(commands: Any) -> None:
    """Add the ``demo`` command, its options and its handler.

    Parameters
    ----------
    commands
        What ``ArgumentParser.add_subparsers`` returned.
    """
    demo = commands.add_parser(
        "demo",
        help="train on scikit-learn's digits and print the results",
        description="Train a network on the 8x8 digits that ship with scikit-learn.",
    )
    demo.add_argument("--epochs", type=non_negative_int, default=30)
    demo.add_argument("--output", default="out", help="folder for the model (default ./out)")
    demo.add_argument("--seed", type=non_negative_int, default=0)
    demo.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    demo.set_defaults(handler=cmd_demo)
