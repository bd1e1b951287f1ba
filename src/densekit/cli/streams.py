"""The closed-pipe guard: a reader that leaves early stops the printing, never the work."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import TextIO

#: what a shell reports for a writer killed by SIGPIPE (128 + 13), e.g. ``yes | head -1``
EXIT_BROKEN_PIPE = 141


class GuardedStream:
    """``sys.stdout`` or ``sys.stderr`` for one command: a closed reader stops only the printing.

    The first BrokenPipeError (the reader, ``| head -1``, has gone) is remembered, and the file
    descriptor is pointed at os.devnull so that nothing still buffered can fail again, at exit
    either; later writes are dropped. The command goes on, writes its files, and ``main``
    returns EXIT_BROKEN_PIPE.

    Parameters
    ----------
    stream
        The text stream to guard; ``wrapped`` keeps it, to restore.
    """

    def __init__(self, stream: TextIO) -> None:
        self.wrapped = stream
        self.broken = False

    def write(self, text: str) -> int:
        """Write ``text``, or drop it once the reader has gone; returns its length."""
        if not self.broken:
            try:
                return self.wrapped.write(text)
            except BrokenPipeError:
                self._break()
        return len(text)

    def writelines(self, lines: Iterable[str]) -> None:
        """Write each line, as :meth:`write` does."""
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        """Flush the stream, unless the reader has gone."""
        if not self.broken:
            try:
                self.wrapped.flush()
            except BrokenPipeError:
                self._break()

    def _break(self) -> None:
        self.broken = True
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
        except OSError:
            return
        try:
            os.dup2(devnull, self.wrapped.fileno())
        except (OSError, ValueError):  # no file descriptor (a test's capture): nothing to redirect
            pass
        finally:
            os.close(devnull)

    def __getattr__(self, name: str):  # isatty, fileno, encoding, ... of the real stream
        return getattr(self.wrapped, name)


def flush_streams(streams: Iterable[GuardedStream]) -> bool:
    """Flush what is still buffered, so that a closed pipe shows here, guarded.

    Flushed here, a closed pipe is not reported as a message at interpreter exit.

    Parameters
    ----------
    streams
        The guarded streams of the command.

    Returns
    -------
    bool
        True when a reader has gone.
    """
    for stream in streams:
        stream.flush()
    return any(stream.broken for stream in streams)
