"""Messages in command-line words: the library names Python arguments, the command line options.

An error raised by the library says ``fill_missing='mean'`` or ``task='classification'``;
a person at the command line typed ``--fill-missing mean`` and ``--task classification``.
:func:`command_line_words` rewrites the library's spelling of the arguments the command
line exposes into the options' spelling (also at the head of "opset must be ..."), and
drops a Python spelling given beside an option's (``--fill-missing {mean,...}
(fill_missing=...)``).
"""

from __future__ import annotations

import contextlib
import re
import sys
import warnings
from collections.abc import Iterator

#: library argument -> the command-line option that sets it
OPTIONS = {
    "task": "--task",
    "fill_missing": "--fill-missing",
    "validation_split": "--validation-split",
    "batch_size": "--batch-size",
    "learning_rate": "--learning-rate",
    "epochs": "--epochs",
    "hidden": "--hidden",
    "dropout": "--dropout",
    "activation": "--activation",
    "optimizer": "--optimizer",
    "patience": "--patience",
    "precision": "--precision",
    "device": "--device",
    "n_trials": "--trials",
    "n_jobs": "--jobs",
    "cv": "--cv",
    "storage": "--storage",
    "study_name": "--study-name",
    "opset": "--opset",
}
_NAMES = "|".join(sorted(OPTIONS, key=len, reverse=True))
#: " (fill_missing=...)" after the option's own spelling
_ASIDE = re.compile(rf" \((?:{_NAMES})=\.\.\.\)")
#: "opset must be ...": an argument named at the head of the library's check
_SUBJECT = re.compile(rf"(?<![\w.'\"-])({_NAMES})(?= must be\b)")
#: fill_missing='mean', task="classification", epochs=-1
_KEYWORD = re.compile(rf"(?<![\w.-])({_NAMES})=(?:'([^']*)'|\"([^\"]*)\"|([^\s,;)]+))")


def command_line_words(message: str) -> str:
    """``message`` with the library's ``name=value`` spelled as the command line's ``--name value``.

    Parameters
    ----------
    message
        An error or warning message from the library.

    Returns
    -------
    str
        The message in command-line words.

    Examples
    --------
    >>> from densekit.cli.wording import command_line_words
    >>> command_line_words("regression needs numbers (use task='classification' for labels)")
    'regression needs numbers (use --task classification for labels)'
    >>> command_line_words("opset must be an integer from 17 to 28, got 3")
    '--opset must be an integer from 17 to 28, got 3'
    """
    message = _ASIDE.sub("", message)
    message = _SUBJECT.sub(lambda match: OPTIONS[match.group(1)], message)

    def option(match: re.Match) -> str:
        value = next(group for group in match.groups()[1:] if group is not None)
        return f"{OPTIONS[match.group(1)]} {value}"

    return _KEYWORD.sub(option, message)


@contextlib.contextmanager
def one_line_warnings(quiet: bool) -> Iterator[None]:
    """Inside, each warning prints as one line, ``densekit: warning: ...``, on stderr.

    Python's default shows the file, the line and the source line of the ``warn`` call;
    at the command line that is noise. With ``quiet`` (``-q``) warnings are not shown.
    The warning settings are restored when the block ends.

    Parameters
    ----------
    quiet
        The command's ``-q``.

    Yields
    ------
    None
    """

    def show(message, category, filename, lineno, file=None, line=None):
        print(f"densekit: warning: {command_line_words(str(message))}", file=sys.stderr)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore" if quiet else "default")
        warnings.showwarning = show
        yield
