"""Study subcommand of chapter 10: ``study poly explain|summarise`` (:mod:`xailib.poly`)."""

from __future__ import annotations

import argparse


def register(ssub: argparse._SubParsersAction) -> None:
    """Register ``study poly`` with its stages ``explain`` and ``summarise``."""
    p = ssub.add_parser("poly", help="polynomial-envelope study (chapter 10): explain, then summarise")
    p.add_argument("stage", choices=["explain", "summarise", "equal-explain", "equal"],
                   help="explain: test-set relevances of the poly models; summarise: write data/poly/results.json; "
                        "equal-explain: relevances of the equal-conditions runs (first frame per test molecule); "
                        "equal: write data/poly/equal.json")
    p.add_argument("names", nargs="*", metavar="MODEL",
                   help="explain: model names (default: the two poly nci-small models)")
    p.add_argument("--models-dir", default=None, help="folder of the trained poly models (default data/poly/models)")
    p.add_argument("--out", default=None,
                   help="summarise / equal: output file (default data/poly/results.json / data/poly/equal.json)")
    p.add_argument("--force", action="store_true", help="explain, equal-explain: recompute relevance files that exist")
    p.add_argument("--arch", action="append", choices=["SchNet", "PaiNN"], default=None,
                   help="equal-explain, equal: only this architecture (repeatable; default both)")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    import os

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from pathlib import Path

    from xailib import poly
    from xailib.cli.checks import UsageError
    from xailib.poly.study import default_models_dir

    if args.stage != "explain" and args.names:
        raise UsageError(f"{args.stage} takes no model names (it works on the fixed set of the study)")
    if args.stage == "equal-explain":
        poly.explain_runs(args.models_dir, force=args.force, archs=args.arch or poly.ARCHS)
        return 0
    if args.stage == "equal":
        poly.summarise_equal(args.models_dir, args.out, archs=args.arch or poly.ARCHS)
        return 0
    if args.stage == "explain":
        folder = Path(args.models_dir) if args.models_dir else default_models_dir()
        absent = [n for n in (args.names or poly.POLY_NCI.values()) if not (folder / n / "model.pt").exists()]
        if absent:
            raise UsageError(f"no trained model {absent} in {folder}; train them first (make poly)")
        poly.explain(args.models_dir, args.names, force=args.force)
    else:
        poly.summarise(args.models_dir, args.out)
    return 0
