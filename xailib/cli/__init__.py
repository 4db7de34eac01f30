"""Command line: ``python -m xailib <command>``.

Commands: ``info``, ``data build|verify``, ``train``, ``explain`` (:mod:`xailib.cli.commands`) and
``study <name>``, the long studies whose cached results the chapters read (:mod:`xailib.cli.study`).
Exit statuses: 0 success, 2 usage error, 1 failure at run time (:mod:`xailib.cli.checks`); each error
is one line on stderr, ``python -m xailib --debug ...`` shows its traceback.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from xailib.cli import commands, study
from xailib.cli.checks import EXIT_FAILURE, EXIT_USAGE, Parser, UsageError, report

_COMMANDS = [commands.add_info, commands.add_data, commands.add_train, commands.add_explain, study.add_study]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every implemented command (and the global ``--debug``)."""
    parser = Parser(prog="python -m xailib", description="Explaining atomistic neural networks.")
    parser.add_argument("--debug", action="store_true",
                        help="show the full traceback of an error instead of one line")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add in _COMMANDS:
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status (see :mod:`xailib.cli.checks`).

    Usage errors (argparse, or a command's checks before it computes: :class:`UsageError`) are one line
    ``error: ...`` on stderr with exit status 2 (argparse's ``SystemExit(2)`` propagates); errors of
    the :class:`~xailib.base.errors.XailibError` family and missing or unreadable files (``OSError``)
    raised during the work are one line with exit status 1. With ``--debug`` they are re-raised.
    """
    from xailib.base.errors import XailibError

    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        return int(args.func(args) or 0)
    except (XailibError, OSError) as err:
        if args.debug:
            raise
        return report(err, EXIT_USAGE if isinstance(err, UsageError) else EXIT_FAILURE)
