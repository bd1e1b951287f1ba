"""Where commands write: never over their own inputs; CSV to a file (atomically) or stdout."""

from __future__ import annotations

import csv
import io
import sys
from pathlib import Path

from ..errors import ArgumentError


def refuse_overwrite(output: str, what: str, **inputs: str) -> None:
    """Stop before writing ``what`` over one of the command's own input files.

    Parameters
    ----------
    output
        The path the command will write.
    what
        What it writes there ("the model"), for the message.
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
                f"-o {output} is the {role} file this command reads; writing {what} there "
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
