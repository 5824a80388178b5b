"""``driftline triggers exec -- CMD`` run by the tests: the runner started and stopped as a user runs it, and a
command that records each trigger it was run for, one line each, in the file it is given."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from driftline.config.settings import Settings
from driftline.streams.testing.worker_process import _worker_env

from .waiting import poll

#: A command (``python -c RECORD FILE``) appending ``<trigger id from stdin> <DRIFTLINE_TRIGGER_ID>`` to FILE.
RECORD = "import json, os, sys; t = json.load(sys.stdin); open(sys.argv[1], 'a').write(t['trigger_id'] + ' ' + os.environ['DRIFTLINE_TRIGGER_ID'] + '\\n')"  # noqa: E501


def start(
    settings: Settings, script: str, *args: str, retries: int = 0, group: str | None = None
) -> subprocess.Popen[str]:
    """``driftline triggers exec`` running ``python -c script args...`` for each trigger."""
    argv = [sys.executable, "-m", "driftline.streams.cli.main", "triggers", "exec", "--retries", str(retries),
            *(["--group", group] if group else []), "--", sys.executable, "-c", script, *args]
    return subprocess.Popen(argv, env=_worker_env(settings), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)


def stop(process: subprocess.Popen[str]) -> str:
    """SIGTERM, then its output; it must exit 0."""
    process.send_signal(signal.SIGTERM)
    out, _ = process.communicate(timeout=30)
    assert process.returncode == 0, out
    return out


def read_lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


async def wait_lines(path: Path, n: int, seconds: float = 30.0) -> list[str]:
    """The file's lines once it has ``n`` of them; fails the test after ``seconds``."""
    lines: list[str] = []

    async def enough() -> bool:
        nonlocal lines
        lines = read_lines(path)
        return len(lines) >= n

    if not await poll(enough, seconds, every=0.2):
        raise AssertionError(f"{path} has fewer than {n} lines after {seconds}s")
    return lines
