"""The command line's own output: ``say`` for results on stdout, ``err`` for ``error: ...`` on stderr.

The one module of the command groups that calls ``print`` (ruff's T20 is ignored for it)."""

from __future__ import annotations

import sys


def say(text: str, *, flush: bool = False) -> None:
    """One line (or several, joined with newlines) on stdout."""
    print(text, flush=flush)


def err(message: str) -> None:
    """``error: <message>`` on stderr: what every command prints before a non-zero exit.

    >>> import contextlib, io
    >>> with contextlib.redirect_stderr(io.StringIO()) as stderr:
    ...     err("no such model")
    >>> stderr.getvalue()
    'error: no such model\\n'
    """
    print(f"error: {message}", file=sys.stderr)
