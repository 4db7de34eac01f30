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


def _add_explain(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("explain", help="relevant walks and exact n-body relevances of one structure")
    p.add_argument("--model", required=True, help="model folder or file (see xailib.models.load_model)")
    p.add_argument("--structure", required=True, help="structure file readable by ase.io.read (last frame)")
    p.add_argument("--rule", default="gi", choices=["gi", "gamma"], help="LRP rule (default gi)")
    p.add_argument("--gamma", type=float, default=0.1, help="gamma of the gamma rule (default 0.1)")
    p.add_argument("--target", default=None, help="output key (default: the model's first Atomwise output)")
    p.add_argument("--max-order", type=int, default=3, help="highest exact n-body order (default 3)")
    p.add_argument("--top", type=int, default=10, help="how many walks and pairs to print")
    p.add_argument("--out", default=None, help="save arrays to F.npz or F.json")
    p.add_argument("--trust", action="store_true", help="allow unpickling a full model file (trusted sources only)")

    def run(args: argparse.Namespace) -> int:
        import ase.io

        from xailib.lrp.explain import explain, load_any_model

        model = load_any_model(args.model, trust=args.trust)
        atoms = ase.io.read(args.structure)
        result = explain(model, atoms, rule=args.rule, gamma=args.gamma, target=args.target,
                         max_order=args.max_order)
        print(result.summary(args.top))
        if args.out:
            print(f"saved {result.save(args.out)}")
        return 0

    p.set_defaults(func=run)


_COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [_add_info, _add_explain]


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
