"""``python -m xailib study md family|run|explain``: the MD-stability study of chapter 07.

    python -m xailib study md family                          # train configs/md-family/*.yaml
    python -m xailib study md run ethanol xtb md17-ethanol-schnet data/md/models/ethanol-schnet-n100
    python -m xailib study md explain ethanol md17-ethanol-schnet data/md/models/ethanol-*

The library functions are :func:`xailib.md.train_family`, :func:`xailib.md.run_stability_study` and
:func:`xailib.md.explanation_study`.
"""

from __future__ import annotations

import argparse
import os

from xailib.cli.checks import positive_float, positive_int, usage_check


def register(ssub: argparse._SubParsersAction) -> None:
    """Register ``study md`` and its actions."""
    p = ssub.add_parser("md", help="MD stability of a model family and its explanation metrics (chapter 07)")
    msub = p.add_subparsers(dest="md_command", metavar="ACTION", required=True)

    f = msub.add_parser("family", help="train the MD family (configs/md-family/*.yaml -> data/md/models/)")
    f.add_argument("names", nargs="*", help="config names (default: every config in the folder)")
    f.add_argument("--config-dir", default=None, help="folder of training configs (default configs/md-family)")
    f.add_argument("--threads", type=positive_int, default=int(os.environ.get("OMP_NUM_THREADS") or 1),
                   help="torch threads per training (default $OMP_NUM_THREADS or 1)")
    f.set_defaults(func=_family)

    r = msub.add_parser("run", help="repeated MD per model -> data/md/<molecule>/<model>.npz")
    r.add_argument("molecule", help="an MD17-style dataset: ethanol, malonaldehyde or aspirin")
    r.add_argument("models", nargs="+", help="model folders or shipped names, or 'xtb' for the GFN2-xTB reference")
    r.add_argument("--seeds", type=positive_int, default=5, help="seeds 0..N-1 (default 5)")
    r.add_argument("--ps", type=positive_float, default=10.0, help="run length in ps (default 10)")
    r.add_argument("--timestep", type=positive_float, default=0.5, help="fs (default 0.5)")
    r.add_argument("--temperature", type=positive_float, default=500.0, help="K (default 500)")
    r.add_argument("--record-fs", type=positive_float, default=10.0,
                   help="record (and monitor) every ... fs (default 10)")
    r.add_argument("--snapshot-fs", type=positive_float, default=250.0,
                   help="store positions every ... fs (default 250)")
    r.add_argument("--out-dir", default=None, help="folder holding <molecule>/ (default data/md)")
    r.set_defaults(func=_run)

    e = msub.add_parser("explain", help="explanation metrics per model -> data/md/<molecule>/explanations.json")
    e.add_argument("molecule")
    e.add_argument("models", nargs="+", help="model folders or shipped names (entries of others are kept)")
    e.add_argument("--n-frames", type=positive_int, default=150, help="seeded test frames (default 150)")
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--rule", default="gi", choices=["gi", "gamma"])
    e.add_argument("--out", default=None, help="default data/md/<molecule>/explanations.json")
    e.set_defaults(func=_explain)


def _family(args: argparse.Namespace) -> int:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from xailib.md import family_configs, train_family

    with usage_check():
        configs = family_configs(args.names, config_dir=args.config_dir)
    print(f"training {len(configs)} models: {', '.join(p.stem for p in configs)}", flush=True)
    for folder in train_family([p.stem for p in configs], config_dir=configs[0].parent, threads=args.threads):
        print(f"model written to {folder}", flush=True)
    return 0


def _run(args: argparse.Namespace) -> int:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from xailib.md import load_run, run_stability_study

    _check_models([m for m in args.models if m != "xtb"])
    paths = run_stability_study(args.molecule, args.models, seeds=args.seeds, ps=args.ps,
                                timestep_fs=args.timestep, temperature_K=args.temperature,
                                record_fs=args.record_fs, snapshot_fs=args.snapshot_fs, root=args.out_dir)
    for path in paths:
        run = load_run(path)
        ttf = ", ".join(f"{t / 1000:.2f}" for t in run["time_to_failure_fs"])
        print(f"{path.stem}: stable {int(run['stable'].sum())}/{len(run['stable'])}, "
              f"time to failure (ps) {ttf} -> {path}")
    return 0


def _explain(args: argparse.Namespace) -> int:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from xailib.md import explanation_study, load_explanations

    _check_models(args.models)
    out = explanation_study(args.molecule, args.models, n_frames=args.n_frames, seed=args.seed, rule=args.rule,
                            out=args.out)
    entries = load_explanations(out)["models"]
    print(f"{len(entries)} models in {out}")
    return 0


def _check_models(models) -> None:
    """Every model argument names a model folder or file (a usage error otherwise), before any computation."""
    from xailib.models import model_dir

    with usage_check():
        for spec in models:
            model_dir(spec)
