"""Starting the product's commands as a user's terminal starts them."""

from __future__ import annotations

import signal


def sigint_as_in_a_terminal() -> None:
    """``preexec_fn`` for a command a test later stops with Ctrl-C (SIGINT): a suite run in the background of a
    non-interactive shell (``cmd &``, CI runners) inherits SIGINT ignored, and so would the command, which then
    never sees the Ctrl-C (and a test that falls back to SIGKILL leaves the command's worker, Kafka and Redis
    running)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
