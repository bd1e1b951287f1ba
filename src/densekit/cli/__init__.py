"""The ``densekit`` command line: train on a CSV/Parquet file, predict, summarize, demo.

    densekit train data.csv --target price -o model.safetensors --hidden 64,32
    densekit predict model.safetensors new_rows.csv -o predictions.csv
    densekit summary model.safetensors
    densekit export model.safetensors model.onnx
    densekit demo

The preprocessing learned by ``train`` (standardization, one-hot vocabularies,
class names) is stored inside the model file, so ``predict`` takes raw rows.
Results go to stdout and messages (progress, warnings, "wrote ...") to stderr, for every
command; ``-q`` silences all but errors. Errors print one line, in command-line words
(``--fill-missing``, not ``fill_missing=``), and exit with status 2; no traceback. A reader that leaves early
(``densekit train ... | head -1``) stops the printing, never the work: the command still
writes its files, then exits with status 141, as a Unix tool stopped by SIGPIPE does.

This module holds ``main``; each command lives in its own module (``train``, ``tune``,
``predict``, ``summary``, ``export``, ``demo``), which adds its options to the parser
(``parser``); the pieces they share are ``argument_types``, ``tables``, ``devices``,
``outputs``, ``reporting``, ``wording`` and ``streams`` (the closed-pipe guard).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from ..errors import DensekitError
from .demo import cmd_demo
from .export import cmd_export
from .parser import EXIT_ERROR, make_parser
from .predict import cmd_predict
from .streams import EXIT_BROKEN_PIPE, GuardedStream, flush_streams
from .summary import cmd_summary
from .tables import PREPROCESSING_KEY
from .train import build_model, cmd_train
from .tune import cmd_tune
from .wording import command_line_words, one_line_warnings

__all__ = [
    "EXIT_BROKEN_PIPE",
    "EXIT_ERROR",
    "PREPROCESSING_KEY",
    "build_model",
    "cmd_demo",
    "cmd_export",
    "cmd_predict",
    "cmd_summary",
    "cmd_train",
    "cmd_tune",
    "main",
    "make_parser",
]


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; its prints go through a guard, so a closed pipe cannot lose its work.

    Parameters
    ----------
    argv
        The arguments after the program name; None reads ``sys.argv``.

    Returns
    -------
    int
        The exit status: 0, EXIT_ERROR (2) on an error, EXIT_BROKEN_PIPE (141) when the
        reader of the output left early, 130 when interrupted.

    Raises
    ------
    SystemExit
        From argparse, for ``--help``, ``--version`` and usage errors.
    """
    streams = (GuardedStream(sys.stdout), GuardedStream(sys.stderr))
    sys.stdout, sys.stderr = streams
    try:
        status = _run(argv)
        broken = flush_streams(streams)
    except SystemExit as exc:  # argparse's --help, --version and usage errors exit
        if exc.code in (0, None) and flush_streams(streams):
            raise SystemExit(EXIT_BROKEN_PIPE) from None
        raise
    finally:
        flush_streams(streams)
        sys.stdout, sys.stderr = (stream.wrapped for stream in streams)
    return EXIT_BROKEN_PIPE if status == 0 and broken else status


def _run(argv: Sequence[str] | None) -> int:
    """Parse and run one command; an error it raises becomes one line and an exit status."""
    parser = make_parser()
    args = parser.parse_args(argv)
    try:
        with one_line_warnings(getattr(args, "quiet", False)):
            return args.handler(args)
    except DensekitError as exc:
        print(f"densekit: error: {command_line_words(str(exc))}", file=sys.stderr)
        return EXIT_ERROR
    except BrokenPipeError:
        # A write that bypassed the guard (to sys.stdout.buffer, say) met a closed reader.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return EXIT_BROKEN_PIPE
    except MemoryError:
        print(
            "densekit: error: out of memory; use fewer rows, --drop wide text columns, "
            "or a smaller --batch-size",
            file=sys.stderr,
        )
        return EXIT_ERROR
    except OSError as exc:
        print(
            f"densekit: error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "),
            file=sys.stderr,
        )
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("densekit: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
