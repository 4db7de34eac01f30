"""Study subcommand of the known-answer chapter: ``study synthetic build|explain``."""

from __future__ import annotations

import argparse


def register(ssub: argparse._SubParsersAction) -> None:
    """Register ``study synthetic`` with its stages ``build`` and ``explain``."""
    p = ssub.add_parser("synthetic", help="known answers: synthetic-label datasets, then relevances of their models")
    p.add_argument("stage", choices=["build", "explain"],
                   help="build: data/synthetic/nci-small-<potential>.db; explain: relevances of the trained "
                        "known-answer models against the exact terms (data/synthetic/results/)")
    p.add_argument("names", nargs="*", metavar="NAME",
                   help="build: potentials (default: all); explain: model names (default: all trained)")
    p.add_argument("--missing", action="store_true", help="build: only the datasets that do not exist yet")
    p.add_argument("--force", action="store_true", help="explain: recompute result files that exist")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    import os

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from xailib.analysis.synthetic import POTENTIALS, UnknownPotentialError
    from xailib.analysis.synthetic_data import build_synthetic_dataset, ensure_synthetic_dataset
    from xailib.cli.checks import UsageError

    if args.stage == "build":
        unknown = [n for n in args.names if n not in POTENTIALS]
        if unknown:
            raise UsageError(str(UnknownPotentialError(f"unknown potential(s) {unknown}; choose from "
                                                       f"{', '.join(POTENTIALS)}")))
        for name in args.names or POTENTIALS:
            path = ensure_synthetic_dataset(name) if args.missing else build_synthetic_dataset(name)
            print(path)
        return 0
    from xailib.analysis.known_answers import KnownAnswerError, check_explainable, explain_known_answer_models

    try:
        check_explainable(args.names)
    except KnownAnswerError as err:
        raise UsageError(str(err)) from err
    explain_known_answer_models(args.names or None, force=args.force)
    return 0
