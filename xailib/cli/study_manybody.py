"""Study subcommand of chapter 06: ``study manybody`` (complete many-body order sums, data/manybody/)."""

from __future__ import annotations

import argparse


def register(ssub: argparse._SubParsersAction) -> None:
    """Register ``study manybody``."""
    p = ssub.add_parser("manybody", help="complete n-body order sums of the nci-small energy models, their untrained "
                                         "baselines and PaiNN's vector channel (data/manybody/)")
    p.add_argument("names", nargs="*", metavar="NAME",
                   help="model entries (default: all; see xailib.analysis.manybody_study.MODELS); a subset is "
                        "written to --out only")
    p.add_argument("--out", default=None, help="output .npz (default data/manybody/nci-small-energy.npz)")
    p.add_argument("--models-dir", default=None, help="folder of the model folders (default data/models)")
    p.add_argument("--gamma", action="store_true",
                   help="also the gamma rule (reference composite) for the trained 3-interaction models")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    import os

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from xailib.analysis.manybody_study import MODELS, compute_manybody, manybody_path, save_manybody
    from xailib.cli.checks import UsageError

    unknown = [n for n in args.names if n not in MODELS]
    if unknown:
        raise UsageError(f"unknown model entries {unknown}; choose from {', '.join(MODELS)}")
    if args.names and args.out is None:
        raise UsageError("a subset of the models needs --out (the shipped file holds all of them)")
    arrays, meta = compute_manybody(args.names or None, models_dir=args.models_dir, gamma=args.gamma)
    path = save_manybody(arrays, meta, args.out)
    if args.out is None:
        from xailib.data.manifest import update_manifest

        from xailib.base.paths import data_dir

        update_manifest(data_dir(), [path])
    print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KB, {meta['wall_time_s']:.0f} s)")
    return 0
