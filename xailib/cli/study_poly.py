"""Study subcommand of chapter 10: ``study poly explain|summarise`` (:mod:`xailib.poly`)."""

from __future__ import annotations

import argparse


def register(ssub: argparse._SubParsersAction) -> None:
    """Register ``study poly`` with its stages ``explain`` and ``summarise``."""
    p = ssub.add_parser("poly", help="polynomial-envelope study (chapter 10): explain, then summarise")
    p.add_argument("stage", choices=["explain", "summarise"],
                   help="explain: test-set relevances of the poly models; summarise: write data/poly/results.json")
    p.add_argument("names", nargs="*", metavar="MODEL",
                   help="explain: model names (default: the two poly nci-small models)")
    p.add_argument("--models-dir", default=None, help="folder of the trained poly models (default data/poly/models)")
    p.add_argument("--out", default=None, help="summarise: output file (default data/poly/results.json)")
    p.add_argument("--force", action="store_true", help="explain: recompute relevance files that exist")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    import os

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from pathlib import Path

    from xailib import poly
    from xailib.cli.checks import UsageError
    from xailib.poly.study import default_models_dir

    if args.stage == "summarise" and args.names:
        raise UsageError("summarise takes no model names (it summarises the fixed set of the study)")
    if args.stage == "explain":
        folder = Path(args.models_dir) if args.models_dir else default_models_dir()
        absent = [n for n in (args.names or poly.POLY_NCI.values()) if not (folder / n / "model.pt").exists()]
        if absent:
            raise UsageError(f"no trained model {absent} in {folder}; train them first (make poly)")
        poly.explain(args.models_dir, args.names, force=args.force)
    else:
        poly.summarise(args.models_dir, args.out)
    return 0
