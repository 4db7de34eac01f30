"""The basic commands: ``info``, ``data``, ``train`` and ``explain``."""

from __future__ import annotations

import argparse


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
    p.add_argument("--max-time-min", type=float, default=None, help="override the wall-clock budget (minutes)")
    p.add_argument("--threads", type=int, default=None, help="override the number of torch threads")
    p.add_argument("--accelerator", default=None, help="Lightning accelerator (cpu, gpu, auto); default from config")
    p.add_argument("--devices", default=None, help="Lightning devices (e.g. 1, 4, auto); default from config")
    p.add_argument("--strategy", default=None, help="Lightning strategy (auto, ddp, ...); default from config")

    def run(args: argparse.Namespace) -> int:
        import dataclasses

        from xailib.models import load_train_config, train

        cfg = load_train_config(args.config)
        devices = args.devices
        if devices is not None and devices.isdigit():
            devices = int(devices)
        overrides = {"max_time_min": args.max_time_min, "num_threads": args.threads,
                     "accelerator": args.accelerator, "devices": devices, "strategy": args.strategy}
        cfg = dataclasses.replace(cfg, **{k: v for k, v in overrides.items() if v is not None})
        folder = train(cfg, out_dir=args.out)
        print(f"model written to {folder}")
        print((folder / "metrics.json").read_text())
        return 0

    p.set_defaults(func=run)


def add_explain(sub: argparse._SubParsersAction) -> None:
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

        from xailib.lrp import explain
        from xailib.models import load_model

        model = load_model(args.model, trust=args.trust)
        atoms = ase.io.read(args.structure)
        result = explain(model, atoms, rule=args.rule, gamma=args.gamma, target=args.target,
                         max_order=args.max_order)
        print(result.summary(args.top))
        if args.out:
            print(f"saved {result.save(args.out)}")
        return 0

    p.set_defaults(func=run)


def add_data(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("data", help="build or verify the GFN2-xTB datasets in data/")
    dsub = p.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    b = dsub.add_parser("build", help="generate datasets (all by default), then the manifest and README table")
    b.add_argument("--only", nargs="+", metavar="NAME", default=None,
                   help="dataset names: md17-ethanol md17-malonaldehyde md17-aspirin nci-small nci-large")
    b.add_argument("--workers", type=int, default=1, help="processes for the NCI sets (results do not depend on it)")
    b.add_argument("--data-dir", default=None, help="output folder (default: the repository's data/)")
    b.add_argument("--cache", default=None, metavar="DIR",
                   help="per-molecule cache for the NCI sets: resumable, shareable by several processes")
    v = dsub.add_parser("verify", help="check data/MANIFEST.sha256")
    v.add_argument("--data-dir", default=None, help="data folder (default: the repository's data/)")

    def run(args: argparse.Namespace) -> int:
        import os

        os.environ.setdefault("OMP_NUM_THREADS", "1")  # before tblite is loaded
        if args.data_command == "build":
            from xailib.base.paths import data_dir
            from xailib.data.registry import build

            build(args.only, args.data_dir, progress=True, workers=args.workers, cache_dir=args.cache)
            print(f"wrote datasets, MANIFEST.sha256 and README.md in {data_dir(args.data_dir)}")
            return 0
        from xailib.base.paths import data_dir
        from xailib.data.manifest import verify_manifest

        status = verify_manifest(data_dir(args.data_dir))
        for path, state in status.items():
            print(f"{path}: {state}")
        bad = [p for p, s in status.items() if s != "OK"]
        print(f"{len(status) - len(bad)} of {len(status)} files verified" + (f"; {len(bad)} failed" if bad else ""))
        return 1 if bad else 0

    p.set_defaults(func=run)
