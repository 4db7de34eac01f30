"""Command line: ``python -m xailib <command>``.

Each command registers itself in ``_COMMANDS``; only implemented commands are listed.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence


def _add_info(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("info", help="package versions, CPU threads, data and model inventory")
    p.add_argument("--data-dir", default=None, help="data folder (default: the repository's data/)")

    def run(args: argparse.Namespace) -> int:
        from xailib.info import report

        print(report(args.data_dir))
        return 0

    p.set_defaults(func=run)


_COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [_add_info]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every implemented command."""
    parser = argparse.ArgumentParser(prog="python -m xailib", description="Explaining atomistic neural networks.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add in _COMMANDS:
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    return int(args.func(args) or 0)
