"""Study subcommands of chapters 08-09: ``study transfer adversarial|train|eval``, ``study partition`` and
``study partition-timing`` (library: :mod:`xailib.transfer`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from xailib.cli.checks import UsageError, positive_int, usage_check


def _add_transfer(ssub: argparse._SubParsersAction) -> None:
    p = ssub.add_parser("transfer", help="chapters 08-09: adversarial validation, the six transfer models, results",
                        description="Transferability studies (about 5 min, 6 x 4 min and 1 min on one core).")
    tsub = p.add_subparsers(dest="transfer_step", metavar="STEP", required=True)
    a = tsub.add_parser("adversarial", help="nci-small vs nci-large validation and the shipped models' errors "
                                            "-> data/transfer/adversarial.npz (~5 min)")
    a.add_argument("--seed", type=int, default=0, help="seed of the folds, the bootstrap and xgboost (default 0)")
    a.add_argument("--folds", type=positive_int, default=5, help="cross-validation folds (default 5)")
    a.add_argument("--out", default=None, help="output file (default data/transfer/adversarial.npz)")
    t = tsub.add_parser("train", help="build the HF/STO-3G training database, then train configs "
                                      "(weights to data/transfer/models/, <= 4 min each)")
    t.add_argument("configs", nargs="*", metavar="CONFIG",
                   help="training configs (default: every configs/transfer/*.yaml)")
    t.add_argument("--build-only", action="store_true", help="only (re)build the training databases")
    e = tsub.add_parser("eval", help="predictions of the trained models on nci-small test molecules and the "
                                     "nci-large subset -> data/transfer/results.npz (~1 min)")
    e.add_argument("--models-dir", default=None, help="trained models (default data/transfer/models)")
    e.add_argument("--out", default=None, help="output file (default data/transfer/results.npz)")

    def run(args: argparse.Namespace) -> int:
        from xailib import transfer as T

        if args.transfer_step == "adversarial":
            arrays, meta = T.adversarial_study(seed=args.seed, folds=args.folds)
            path = T.save_adversarial(arrays, meta, args.out or T.ADVERSARIAL_FILE)
        elif args.transfer_step == "train":
            missing = [c for c in args.configs if not Path(c).is_file()]
            if missing:
                raise UsageError(f"no training config {missing[0]}")
            T.train_transfer_models(args.configs or None, build_only=args.build_only)
            return 0
        else:
            models_dir = Path(args.models_dir) if args.models_dir else T.transfer_models_dir()
            if not models_dir.is_dir():
                raise UsageError(f"no trained models in {models_dir}; run `python -m xailib study transfer "
                                        "train` first")
            arrays, meta = T.evaluate_transfer_models(models_dir)
            path = T.save_results(arrays, meta, args.out or T.RESULTS_FILE)
        print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KiB) in {meta['wall_time_s']} s")
        return 0

    p.set_defaults(func=run)


def _add_partition(ssub: argparse._SubParsersAction) -> None:
    p = ssub.add_parser("partition", help="AO/MO atomic energies of a dataset's relaxed structures "
                                          "-> data/partition/DATASET-METHOD-BASIS.npz",
                        description="One closed-shell SCF per molecule (PySCF) on the relaxed frame of each "
                                    "molecule, split by the AO and MO schemes; molecules that fail are recorded.")
    p.add_argument("dataset", metavar="DATASET", help="an NCI dataset: nci-small or nci-large")
    p.add_argument("--n-molecules", type=positive_int, default=None, help="a seeded subset of molecules (default: all)")
    p.add_argument("--seed", type=int, default=0, help="seed of the subset (default 0)")
    p.add_argument("--method", default="hf", help="PySCF method: hf or a functional such as pbe (default hf)")
    p.add_argument("--basis", default="sto-3g", help="basis set (default sto-3g)")
    p.add_argument("--out", default=None, help="output file (default data/partition/DATASET-METHOD-BASIS.npz)")
    p.add_argument("--within-basis", default=None, metavar="BASIS",
                   help="draw the molecules from those of the existing partition at BASIS (same method), "
                        "so that the two bases can be compared molecule by molecule")
    p.add_argument("--cache", default=None, metavar="DIR",
                   help="one file per finished molecule here; a rerun with the same DIR resumes "
                        "(default data/partition/cache/DATASET-METHOD-BASIS-SEED-N/)")

    def run(args: argparse.Namespace) -> int:
        import os

        os.environ.setdefault("OMP_NUM_THREADS", "1")
        from xailib.data import db_path
        from xailib.transfer import partition_dataset, save_partition

        with usage_check():  # a one-line error for an unknown dataset before PySCF starts
            db_path(args.dataset)
        from xailib.base.paths import data_dir

        cache = args.cache or (data_dir() / "partition" / "cache" /
                               f"{args.dataset}-{args.method}-{args.basis}-{args.seed}-{args.n_molecules or 'all'}")
        rows = None
        if args.within_basis:
            import numpy as np

            from xailib.transfer import load_partition

            with usage_check():
                pool = load_partition(args.dataset, args.method, args.within_basis)["frame"]
            rows = np.sort(pool) if args.n_molecules is None or args.n_molecules >= len(pool) else \
                np.sort(np.random.default_rng(args.seed).choice(pool, args.n_molecules, replace=False))
        arrays, meta = partition_dataset(args.dataset, n_molecules=args.n_molecules, seed=args.seed,
                                         method=args.method, basis=args.basis, progress=True, cache=cache,
                                         rows=rows)
        if args.within_basis:
            meta["structures"] += f"; drawn from the molecules of the {args.method}/{args.within_basis} partition"
        path = save_partition(arrays, meta, args.out)
        print(f"wrote {path}: {meta['n_done']} molecules, {len(meta['skipped'])} skipped, "
              f"{meta['wall_time_s'] / 60:.1f} min")
        return 0

    p.set_defaults(func=run)


def _add_timing(ssub: argparse._SubParsersAction) -> None:
    p = ssub.add_parser("partition-timing", help="time the SCF and both partitions on NCI molecules of "
                                                 "increasing size (prints a table)")
    p.add_argument("--method", default="hf", help="PySCF method (default hf)")
    p.add_argument("--basis", default="sto-3g", help="basis set (default sto-3g)")
    p.add_argument("--heavy", type=positive_int, nargs="+", default=[6, 10, 14, 18, 22, 26, 30],
                   help="heavy-atom counts, one molecule each (default 6 10 ... 30)")
    p.add_argument("--out", default=None, help="also save the table as JSON to this file")

    def run(args: argparse.Namespace) -> int:
        import os

        os.environ.setdefault("OMP_NUM_THREADS", "1")
        from xailib.transfer import partition_timing, save_partition_timing, timing_table

        print(f"method={args.method} basis={args.basis} OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}")
        print("wall-clock seconds per step, and CPU seconds of this process for all three (cpu_s)")
        rows, meta = partition_timing(args.heavy, method=args.method, basis=args.basis, progress=True)
        print(timing_table(rows, header=False, mean=True).splitlines()[-1])
        if args.out:
            print(f"wrote {save_partition_timing(rows, meta, args.out)}")
        return 0

    p.set_defaults(func=run)


def register(ssub: argparse._SubParsersAction) -> None:
    """Register ``study transfer``, ``study partition`` and ``study partition-timing``."""
    _add_transfer(ssub)
    _add_partition(ssub)
    _add_timing(ssub)
