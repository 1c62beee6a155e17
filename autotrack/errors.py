"""The one base of every error whose message is meant for the user.

The command line prints an `AutotrackError` as one line and exits with 1; any other exception is a bug, reported
as such with its traceback saved to a log file.
"""

from __future__ import annotations


class AutotrackError(Exception):
    """Bad input or an unusable environment (a missing file, a malformed prompt, no display): the message says what
    to do. Every user-facing error of autotrack derives from this class."""


def one_line(error: BaseException) -> str:
    """The first line of an error's message (its type when it has none), as the command line shows it."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


class InputError(AutotrackError, ValueError):
    """A value, file or prompt autotrack was given cannot be used (out of range, malformed, missing a part)."""
