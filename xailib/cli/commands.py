"""The basic commands: ``info``, ``data``, ``train`` and ``explain``."""

from __future__ import annotations

import argparse

from xailib.cli.checks import (UsageError, nonnegative_float, nonnegative_int, output_path, positive_float,
                               positive_int, usage_check)


def add_info(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("info", help="package versions, CPU threads, data and model inventory")
    p.add_argument("--data-dir", default=None, help="data folder (default: the repository's data/)")

    def run(args: argparse.Namespace) -> int:
        from xailib.base.info import report

        print(report(args.data_dir))
        return 0

    p.set_defaults(func=run)


def add_train(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a SchNet/PaiNN model from a config file (configs/*.yaml)")
    p.add_argument("--config", required=True, help="training config (.yaml or .json), e.g. configs/md17-ethanol-schnet.yaml")
    p.add_argument("--out", default=None, help="model folder (default: the config's out_dir or data/models/<name>)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace the model in an existing, non-empty output folder (refused without it)")
    p.add_argument("--resume", action="store_true",
                   help="continue the interrupted or budget-limited run in the output folder from its last "
                        "checkpoint (checkpoints/last.ckpt); --max-time-min then sets the total budget")
    p.add_argument("--seed", type=nonnegative_int, default=None,
                   help="training seed; a seed other than the config's trains the replica <name>-seed<N> "
                        "(default output data/models/<name>-seed<N>)")
    p.add_argument("--max-time-min", type=positive_float, default=None, help="override the wall-clock budget (minutes)")
    p.add_argument("--threads", type=positive_int, default=None, help="override the number of torch threads")
    p.add_argument("--accelerator", default=None, help="Lightning accelerator (cpu, gpu, auto); default from config")
    p.add_argument("--devices", default=None, help="Lightning devices (e.g. 1, 4, auto); default from config")
    p.add_argument("--strategy", default=None, help="Lightning strategy (auto, ddp, ...); default from config")

    def run(args: argparse.Namespace) -> int:
        import dataclasses

        from xailib.models import load_train_config, train
        from xailib.models.train_config import check_dataset, check_output_folder, output_folder, seed_replica
        from xailib.models.training import check_resume

        with usage_check():  # the config, the output folder and the dataset, before training
            cfg = load_train_config(args.config)
            devices = args.devices
            if devices is not None and devices.isdigit():
                devices = int(devices)
            if args.seed is not None:
                cfg = seed_replica(cfg, args.seed)
            overrides = {"max_time_min": args.max_time_min, "num_threads": args.threads,
                         "accelerator": args.accelerator, "devices": devices, "strategy": args.strategy}
            cfg = dataclasses.replace(cfg, **{k: v for k, v in overrides.items() if v is not None})
            if args.resume and args.overwrite:
                raise UsageError("--resume continues the run in the output folder; --overwrite replaces it: "
                                 "give one of them")
            if args.resume:
                check_resume(output_folder(cfg, args.out))
            else:
                check_output_folder(output_folder(cfg, args.out), args.overwrite)
            check_dataset(cfg)
        folder = train(cfg, out_dir=args.out, overwrite=args.overwrite, resume=args.resume)
        print(f"model written to {folder}")
        print((folder / "metrics.json").read_text())
        return 0

    p.set_defaults(func=run)


PLOT_SUFFIXES = (".png", ".pdf", ".svg")


def add_explain(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("explain", help="relevant walks and exact n-body relevances of one structure")
    p.add_argument("--model", required=True, help="model folder or file (see xailib.models.load_model)")
    p.add_argument("--structure", required=True, help="structure file readable by ase.io.read (last frame)")
    p.add_argument("--rule", default="gi", choices=["gi", "gamma"], help="LRP rule (default gi)")
    p.add_argument("--gamma", type=nonnegative_float, default=0.1,
                   help="gamma of the gamma rule, finite and >= 0 (default 0.1)")
    p.add_argument("--composite", default="features", choices=["features", "reference"],
                   help="layers that get the rule: 'features' (atom-feature layers, default) or 'reference' "
                        "(also the edge filter networks, as the published per-walk GNN-LRP code)")
    p.add_argument("--target", default=None, help="output key (default: the model's first Atomwise output)")
    p.add_argument("--max-order", type=positive_int, default=3, help="highest exact n-body order, >= 1 (default 3)")
    p.add_argument("--top", type=nonnegative_int, default=10,
                   help="how many walks and pairs to print and plot (default 10)")
    p.add_argument("--out", default=None, help="save arrays to F.npz or F.json (the folder must exist)")
    p.add_argument("--plot", default=None, metavar="FILE.png",
                   help="draw the 2-body relevance map (xailib.viz.relevance_map) to a .png, .pdf or .svg file")
    p.add_argument("--html", default=None, metavar="FILE.html",
                   help="write a standalone page (xailib.viz.relevance_html): the static relevance map and the "
                        "interactive 3-D view of the top pairs and the 3 strongest walks (needs py3Dmol; the "
                        "3-D view loads 3Dmol.js from a CDN)")
    p.add_argument("--trust", action="store_true", help="allow unpickling a full model file (trusted sources only)")
    p.add_argument("--overwrite", action="store_true", help="replace existing --out, --plot or --html files")
    p.add_argument("--memory-limit", default=None, metavar="SIZE",
                   help="refuse (before any work) an n-body computation estimated to need more, e.g. 8GB "
                        "(default: 80%% of the memory available)")

    def run(args: argparse.Namespace) -> int:
        import importlib.util

        from xailib.base.structure_files import read_structure
        from xailib.lrp.memory import MemoryLimitError, parse_limit
        from xailib.base.structures import validate_structure
        from xailib.lrp import explain
        from xailib.models import UntrustedModelError, load_model, model_dir

        out = output_path(args.out, (".npz", ".json"), "--out", overwrite=args.overwrite)
        plot = output_path(args.plot, PLOT_SUFFIXES, "--plot", overwrite=args.overwrite)
        page = output_path(args.html, (".html",), "--html", overwrite=args.overwrite)
        for option, path in (("--plot", plot), ("--html", page)):
            if path is not None and args.max_order < 2:
                raise UsageError(f"{option} draws the 2-body terms; it needs --max-order 2 or more")
        if page is not None and importlib.util.find_spec("py3Dmol") is None:
            raise UsageError("--html needs the py3Dmol package for the 3-D view; install it (pip install py3Dmol)")
        try:
            parse_limit(args.memory_limit)
        except MemoryLimitError as err:
            raise UsageError(f"--memory-limit: {err}") from None
        with usage_check():  # the structure and the model path, before loading or computing
            atoms = read_structure(args.structure)
            validate_structure(atoms, method="explain", periodic=True)
            model_path = model_dir(args.model)
        try:
            model = load_model(model_path, trust=args.trust)
        except UntrustedModelError as err:
            raise UsageError(f"{model_path} is a pickled full model, and unpickling it can run arbitrary code; if "
                             "you trust its source, pass --trust (load_model(path, trust=True))") from err
        result = explain(model, atoms, rule=args.rule, gamma=args.gamma, target=args.target,
                         max_order=args.max_order, composite=args.composite, memory_limit=args.memory_limit)
        print(result.summary(args.top))
        if out is not None:
            print(f"saved {result.save(out)}")
        if plot is not None:
            print(f"plotted {_plot(result, plot, args.top)}")
        if page is not None:
            print(f"wrote {_page(result, page, args.top)}")
        return 0

    p.set_defaults(func=run)


def _plot(result, path, top: int):
    """Draw the 2-body relevance map of an :class:`~xailib.lrp.explain.Explanation` (1-body terms as rings),
    walks + bias terms as in the printed summary and the ``--html`` page."""
    import numpy as np
    from matplotlib.figure import Figure  # no pyplot: no backend or global state needed

    from xailib.viz import relevance_map

    nb = result.nbody
    atom_values = np.array([nb.order(1, part="combined").get((i,), 0.0) for i in range(len(nb.atoms))])
    fig = Figure(figsize=(6, 5))
    ax = fig.subplots()
    relevance_map(nb.atoms, nb.order(2, part="combined"), atom_values, ax=ax, top=top,
                  title=f"{nb.atoms.get_chemical_formula()}: top {top} pair terms, walks + bias ({nb.target!r}, "
                        f"rule {nb.rule})")
    ax.margins(0.12)  # room for the rings of the 1-body terms
    fig.savefig(path, dpi=150, bbox_inches="tight")
    return path


def _page(result, path, top: int) -> str:
    """Write the HTML page of :func:`xailib.viz.relevance_html`: combined 2-body terms and, when the walks
    were computed, the 3 strongest walks that move between atoms (the strongest walks of trained models
    often stay at one atom and would draw no path)."""
    from xailib.viz import relevance_html

    nb = result.nbody
    path.write_text(relevance_html(nb.atoms, nb, top=top, walks=result.walks, top_walks=min(3, top), walk_atoms=2,
                                   title=f"{nb.atoms.get_chemical_formula()}: relevances ({nb.target!r}, "
                                         f"rule {nb.rule}, composite {nb.composite})"), encoding="utf-8")
    return str(path)


def add_data(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("data", help="build or verify the GFN2-xTB datasets in data/")
    dsub = p.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    b = dsub.add_parser("build", help="generate datasets (all by default), then the manifest and README table")
    b.add_argument("--only", nargs="+", metavar="NAME", default=None,
                   help="dataset names: md17-ethanol md17-malonaldehyde md17-aspirin nci-small nci-large")
    b.add_argument("--workers", type=positive_int, default=1,
                   help="processes for the NCI sets (results do not depend on it)")
    b.add_argument("--data-dir", default=None, help="output folder (default: the repository's data/)")
    b.add_argument("--cache", default=None, metavar="DIR",
                   help="per-molecule cache for the NCI sets: resumable, shareable by several processes")
    v = dsub.add_parser("verify", help="check data/MANIFEST.sha256 and list files it does not cover")
    v.add_argument("--data-dir", default=None, help="data folder (default: the repository's data/)")
    m = dsub.add_parser("manifest", help="rewrite data/MANIFEST.sha256 over the files present (after a study "
                                         "rewrote its results)")
    m.add_argument("--data-dir", default=None, help="data folder (default: the repository's data/)")

    def run(args: argparse.Namespace) -> int:
        import os

        os.environ.setdefault("OMP_NUM_THREADS", "1")  # before tblite is loaded
        if args.data_command == "build":
            from xailib.base.paths import data_dir
            from xailib.data.registry import build

            build(args.only, args.data_dir, progress=True, workers=args.workers, cache_dir=args.cache)
            print(f"wrote datasets, MANIFEST.sha256 and README.md in {data_dir(args.data_dir)}")
            return 0
        if args.data_command == "manifest":
            from xailib.base.paths import data_dir
            from xailib.data.manifest import data_files, write_manifest

            folder = data_dir(args.data_dir)
            if not folder.is_dir():
                raise UsageError(f"--data-dir {folder} is not a folder")
            print(f"wrote {write_manifest(folder)} ({len(data_files(folder))} files)")
            return 0
        from xailib.base.paths import data_dir
        from xailib.data.manifest import EXCLUDED_DIRS, GOOD_STATES, verify_manifest

        status = verify_manifest(data_dir(args.data_dir))
        for path, state in status.items():
            print(f"{path}: {state}")
        count = {k: sum(s == k for s in status.values())
                 for k in ("OK", "MISSING", "CHANGED", "UNLISTED", "EXCLUDED")}
        listed = count["OK"] + count["MISSING"] + count["CHANGED"]
        line = f"{count['OK']} of {listed} listed files verified"
        line += "".join(f"; {count[k]} {k.lower()}" for k in ("MISSING", "CHANGED") if count[k])
        if count["UNLISTED"]:
            line += (f"; {count['UNLISTED']} unlisted (not in the manifest; rewrite it with "
                     "`python -m xailib data manifest`)")
        if count["EXCLUDED"]:
            line += f"; {count['EXCLUDED']} in excluded folders, not checked ({', '.join(EXCLUDED_DIRS)})"
        print(line)
        return 0 if all(s in GOOD_STATES for s in status.values()) else 1

    p.set_defaults(func=run)
