"""Where commands write: results to stdout, messages to stderr, files never over their inputs.

Every command follows one rule: what it computed for the user (predictions, metrics,
a trial table, a summary) goes to stdout; what it tells the user along the way
(progress, warnings, "wrote ...", hints) goes to stderr; ``-q`` silences both but
errors (``predict`` without ``-o`` still writes its CSV: that is its output).
"""

from __future__ import annotations

import contextlib
import csv
import io
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

from ..errors import ArgumentError
from .wording import command_line_words


def refuse_overwrite(output: str, what: str, option: str = "-o", **inputs: str) -> None:
    """Stop before writing ``what`` over one of the command's own input files.

    Parameters
    ----------
    output
        The path the command will write.
    what
        What it writes there ("the model"), for the message.
    option
        The option that named ``output``, for the message.
    **inputs
        The files the command reads, by role (``data=...``, ``model=...``).

    Raises
    ------
    ArgumentError
        If ``output`` is one of the inputs.
    """
    target = Path(output)
    for role, source in inputs.items():
        source_path = Path(source)
        same = target.resolve() == source_path.resolve() or (
            target.exists() and source_path.exists() and target.samefile(source_path)
        )
        if same:
            raise ArgumentError(
                f"{option} {output} is the {role} file this command reads; writing {what} there "
                "would destroy it: choose another output path"
            )


def write_csv(path: str | None, header: list[str], columns: list[list]) -> None:
    """Write columns as CSV: to a file atomically, or to stdout row by row.

    Parameters
    ----------
    path
        The file to write, or None for stdout.
    header
        The column names.
    columns
        The columns' values, each as long as the others.
    """
    # To stdout row by row, not as one large write: on an unbuffered stdout (python -u) a
    # reader that leaves makes a large write return short, and Python drops the rest unnoticed.
    stream = sys.stdout if path is None else io.StringIO()
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(zip(*columns))
    if path is not None:
        from ..serialization.safetensors import atomic_write

        atomic_write(Path(path), [stream.getvalue().encode()])


def check_output_path(path: str, option: str) -> None:
    """Stop before any work when ``path`` cannot be written: its folder is missing, or it is one.

    Parameters
    ----------
    path
        The file the command will write.
    option
        The option that named it (``-o``, ``--report``), for the message.

    Raises
    ------
    ArgumentError
        If the folder does not exist or ``path`` is a folder.
    """
    target = Path(path)
    if target.is_dir():
        raise ArgumentError(f"{option} {path} is a folder; give the path of a file to write")
    if not target.parent.is_dir():
        raise ArgumentError(
            f"{option} {path}: the folder {str(target.parent)!r} does not exist; create it first"
        )


def say(text: str, quiet: bool) -> None:
    """Print a message (progress, "wrote ...", a hint) on stderr, unless ``-q``.

    Results go to stdout (:func:`show`); messages go to stderr, so that
    ``densekit ... > results.txt`` keeps only results and a pipe reads only them.

    Parameters
    ----------
    text
        The message.
    quiet
        The command's ``-q``: print nothing.
    """
    if not quiet:
        print(text, file=sys.stderr)


def show(text: str, quiet: bool) -> None:
    """Print a result (metrics, a table) on stdout, unless ``-q``.

    Parameters
    ----------
    text
        The result.
    quiet
        The command's ``-q``: print nothing.
    """
    if not quiet:
        print(text)


@contextlib.contextmanager
def messages_to_stderr() -> Iterator[None]:
    """Send what the library prints on stdout (``summary()``, ``fit``'s epochs) to stderr.

    ``fit(verbose="auto")`` then asks stderr whether it is a terminal: a progress bar
    there, one line per epoch in a log file or a pipe.

    Yields
    ------
    None
    """
    with contextlib.redirect_stdout(sys.stderr):
        yield


@contextlib.contextmanager
def reported_warnings(quiet: bool) -> Iterator[list[str]]:
    """Collect the warnings raised inside, then print each as one line on stderr (unless ``-q``).

    The list it yields is filled when the block ends, for the report's data section.

    Parameters
    ----------
    quiet
        The command's ``-q``: collect, but print nothing.

    Yields
    ------
    list of str
        The warnings' messages, in order, without repeats.
    """
    raised: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield raised
        finally:
            raised.extend(dict.fromkeys(command_line_words(str(w.message)) for w in caught))
    for message in raised:
        say(f"densekit: warning: {message}", quiet)
