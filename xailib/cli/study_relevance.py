"""Study subcommands of the relevance chapters: ``explain-test-sets`` and ``models-table``."""

from __future__ import annotations

import argparse

from xailib.cli.checks import nonnegative_float, positive_int


def register(ssub: argparse._SubParsersAction) -> None:
    """Register ``study explain-test-sets`` and ``study models-table``."""
    p = ssub.add_parser("explain-test-sets",
                        help="explain every shipped nci-small model on the nci-small test split (data/relevance/)")
    p.add_argument("models", nargs="*", metavar="MODEL",
                   help="model folder names under --models-dir (default: every nci-small-* model)")
    p.add_argument("--rule", default="gi", choices=["gi", "gamma"], help="LRP rule (default gi)")
    p.add_argument("--gamma", type=nonnegative_float, default=0.1, help="gamma of the gamma rule (default 0.1)")
    p.add_argument("--composite", default="features", choices=["features", "reference"],
                   help="which Dense layers get the rule (default features; reference: filter networks too)")
    p.add_argument("--force", action="store_true", help="recompute results that exist")
    p.add_argument("--stored-order", type=positive_int, default=None,
                   help="store terms up to this order (higher ones go to the remainder; default: all)")
    p.add_argument("--frames-per-molecule", type=positive_int, default=None,
                   help="store only the first N frames of each test molecule (default: all 11)")
    p.add_argument("--models-dir", default=None,
                   help="where the model folders are (default data/models); results always go to data/relevance")
    p.set_defaults(func=_explain_test_sets)

    t = ssub.add_parser("models-table", help="write data/models/README.md from the models' metrics.json files")
    t.add_argument("--models-dir", default=None, help="folder of model folders (default data/models)")
    t.set_defaults(func=_models_table)


def _explain_test_sets(args: argparse.Namespace) -> int:
    import os

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from pathlib import Path

    from xailib.analysis.test_sets import explain_test_sets
    from xailib.base.paths import data_dir
    from xailib.cli.checks import UsageError

    folder = Path(args.models_dir) if args.models_dir else data_dir() / "models"
    missing = [n for n in args.models if not (folder / n / "model.pt").exists()]
    if missing:
        raise UsageError(f"no model folder with model.pt for {missing} in {folder}")
    written = explain_test_sets(args.models, rule=args.rule, gamma=args.gamma, composite=args.composite,
                                force=args.force, stored_order=args.stored_order,
                                frames_per_molecule=args.frames_per_molecule,
                                models_dir=args.models_dir)
    print(f"wrote {len(written)} result file(s)" + (" and updated MANIFEST.sha256" if written else ""))
    return 0


def _models_table(args: argparse.Namespace) -> int:
    from xailib.models.inventory import write_models_readme

    path = write_models_readme(args.models_dir)
    print(path.read_text())
    print(f"wrote {path}")
    return 0
