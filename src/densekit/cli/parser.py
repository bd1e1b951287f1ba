"""The argument parser: ``densekit`` and its commands, each added by its own module."""

from __future__ import annotations

import argparse

from . import demo, explain, export, predict, summary, train, tune

EXIT_ERROR = 2
#: the commands in the order ``densekit --help`` lists them
COMMANDS = (train, tune, predict, summary, export, explain, demo)


class _Parser(argparse.ArgumentParser):
    """argparse, with a usage error on one line (and a pointer to --help) like every other error."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(EXIT_ERROR, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def make_parser() -> argparse.ArgumentParser:
    """The ``densekit`` parser: ``--version`` and one subcommand per command module.

    Returns
    -------
    argparse.ArgumentParser
        The parser; parsed arguments carry their command's function as ``handler``.
    """
    parser = _Parser(
        prog="densekit",
        description="Dense neural networks: train on a table, predict, summarize.",
    )
    from .. import __version__

    parser.add_argument("--version", action="version", version=f"densekit {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    for command in COMMANDS:
        command.add_command(commands)
    return parser
