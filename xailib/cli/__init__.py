"""Command line: ``python -m xailib <command>``.

Commands: ``info``, ``data build|verify``, ``train``, ``explain`` (:mod:`xailib.cli.commands`) and
``study <name>``, the long studies whose cached results the chapters read (:mod:`xailib.cli.study`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from xailib.cli import commands, study

_COMMANDS = [commands.add_info, commands.add_data, commands.add_train, commands.add_explain, study.add_study]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every implemented command."""
    parser = argparse.ArgumentParser(prog="python -m xailib", description="Explaining atomistic neural networks.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add in _COMMANDS:
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status.

    Bad input and missing files (:class:`~xailib.base.errors.XailibError`, ``FileNotFoundError``) are
    reported as one line ``error: ...`` on stderr with exit status 2, not as a traceback.
    """
    from xailib.base.errors import XailibError

    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except (XailibError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
