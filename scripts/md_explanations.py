"""Explanation metrics of MD-family models, cached in data/md/<molecule>/explanations.json.

For each model folder, the exact 1-3-body relevances (rule gi) of N seeded test frames of
``md17-<molecule>`` (the same frames for every model) are summarised by
:func:`xailib.md_metrics.explanation_metrics`: short-range 2-body sign and size, the decay exponent of
``|2-body relevance|`` over the stated window and the many-body shares. Test errors are copied from each
model's ``metrics.json``. Entries of models not named on the command line are kept, so models are added
by re-running with their folders.

    OMP_NUM_THREADS=1 PYTHONPATH=. python scripts/md_explanations.py ethanol \
        data/models/md17-ethanol-schnet data/models/md17-ethanol-painn data/md/models/ethanol-*

Took about 20 s per model on one core (N = 150 ethanol frames; wall times are stored per entry).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np


def test_frames(molecule: str, n: int, seed: int) -> tuple[list, np.ndarray]:
    """``n`` frames of the test split of ``md17-<molecule>`` drawn with ``seed`` (and their db indices)."""
    from ase.db import connect

    from xailib.datasets import db_path, load_split

    name = f"md17-{molecule}"
    test_idx = load_split(name)["test_idx"]
    pick = np.sort(np.random.default_rng(seed).choice(test_idx, size=min(n, len(test_idx)), replace=False))
    with connect(str(db_path(name))) as db:
        return [db.get_atoms(id=int(i) + 1) for i in pick], pick


def training_config_difference(name: str, architecture: str, molecule: str) -> dict:
    """How the training config ``configs/**/<name>.yaml`` differs from the shipped base
    ``configs/md17-<molecule>-<architecture>.yaml`` (empty for the base, None if no config is found)."""
    import yaml

    from xailib.md_metrics import config_difference

    root = Path(__file__).resolve().parent.parent / "configs"
    found = sorted(root.rglob(f"{name}.yaml"))
    base = root / f"md17-{molecule}-{architecture}.yaml"
    if not found or not base.exists():
        return None
    return config_difference(yaml.safe_load(base.read_text()), yaml.safe_load(found[0].read_text()))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("molecule")
    ap.add_argument("models", nargs="+", help="model folders (name = folder name)")
    ap.add_argument("--n-frames", type=int, default=150)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--rule", default="gi")
    ap.add_argument("--out", default=None, help="default data/md/<molecule>/explanations.json")
    args = ap.parse_args(argv)

    import xailib
    from xailib.md_metrics import explanation_metrics
    from xailib.models import load_model

    xailib.set_seed(args.seed)
    out = Path(args.out or f"data/md/{args.molecule}/explanations.json")
    cache = json.loads(out.read_text()) if out.exists() else {"models": {}}
    frames, idx = test_frames(args.molecule, args.n_frames, args.seed)
    for spec in args.models:
        folder = Path(spec)
        t0 = time.perf_counter()
        try:
            model = load_model(folder)
        except Exception as err:  # e.g. a model of a branch whose config keys this checkout does not know
            print(f"skipped {folder}: cannot load it ({err})", flush=True)
            continue
        metrics = explanation_metrics(model, frames, rule=args.rule, progress=False)
        metrics["wall_time_s"] = round(time.perf_counter() - t0, 1)
        metrics["folder"] = str(folder)
        metrics["config"] = json.loads((folder / "config.json").read_text())
        metrics["differs_from_base"] = training_config_difference(folder.name, metrics["config"]["architecture"],
                                                                  args.molecule)
        mfile = folder / "metrics.json"
        test = json.loads(mfile.read_text()) if mfile.exists() else {}
        metrics["test"] = {k: test.get(k) for k in ("energy_mae_meV", "forces_mae_meV_per_A", "energy_rmse_meV",
                                                      "forces_rmse_meV_per_A", "n_train", "n_test", "epochs",
                                                      "training_wall_time_s")}
        cache["models"][folder.name] = metrics
        print(f"{folder.name}: {({k: round(v, 4) for k, v in metrics.items() if isinstance(v, float)})}", flush=True)
        write(out, cache, args, frames, idx)  # after every model, so a later failure loses nothing
    write(out, cache, args, frames, idx)
    print(f"-> {out}")


def write(out: Path, cache: dict, args, frames, idx) -> None:
    import schnetpack
    import torch

    from xailib.md_metrics import DECAY_WINDOW_A, SHORT_RANGE_A

    cache["meta"] = {
        "molecule": args.molecule, "n_frames": len(frames), "seed": args.seed, "rule": args.rule,
        "frames_db_index": idx.tolist(), "short_range_A": SHORT_RANGE_A, "decay_window_A": list(DECAY_WINDOW_A),
        "normalisation": "per structure by total absolute relevance (except short_mean_eV)",
        "python": platform.python_version(), "torch": torch.__version__, "schnetpack": schnetpack.__version__,
        "command": "OMP_NUM_THREADS=1 PYTHONPATH=. python scripts/md_explanations.py " + " ".join(sys.argv[1:]),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(cache, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
