"""The ``driftline`` command line: ``worker``, ``demo``, ``status``, ``dashboard``, ``report``, ``alerts tail``,
``triggers exec``, ``reference build``, ``config show``, ``stack``.

One module per command group, each with its ``add_<group>_parser(subparsers)`` (as stack/commands.py):
worker_command.py, demo_command.py, views_commands.py (status, dashboard, report: the composition root
that starts the views), ops_commands.py (config show, alerts tail, triggers exec), reference_command.py.
Each imports what its command runs on inside the run function, so ``driftline --help`` stays fast and
``driftline worker`` never loads Bokeh."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from driftline.streams.cli.demo_command import add_demo_parser
from driftline.streams.cli.ops_commands import add_ops_parsers
from driftline.streams.cli.reference_command import add_reference_parser
from driftline.streams.cli.views_commands import add_views_parsers
from driftline.streams.cli.worker_command import add_worker_parser
from driftline.streams.stack.commands import add_stack_parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return 2
    return int(args.run(args))


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="driftline", description="Streaming drift monitor for models in production.")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")
    add_worker_parser(sub)
    add_demo_parser(sub)
    add_views_parsers(sub)  # status, dashboard, report
    add_ops_parsers(sub)  # config show, alerts tail, triggers exec
    add_reference_parser(sub)
    add_stack_parser(sub)
    return parser


if __name__ == "__main__":
    sys.exit(main())
