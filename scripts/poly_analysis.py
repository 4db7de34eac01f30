"""Polynomial-envelope models against the shipped ones: relevances, decay fits, order shares, errors, MD.

Two stages (one torch thread, from the repository root)::

    # 1. relevances of the poly nci-small energy models on the full nci-small test split (rule gi),
    #    written beside their weights (gitignored): <models-dir>/<name>/relevance.npz
    OMP_NUM_THREADS=1 PYTHONPATH=. python scripts/poly_analysis.py explain --models-dir data/poly/models
    # 2. the small committed summary data/poly/results.json for the 2 poly and the 2 shipped energy models
    OMP_NUM_THREADS=1 PYTHONPATH=. python scripts/poly_analysis.py summarise --models-dir data/poly/models

Stage 2 uses the shipped relevances ``data/relevance/nci-small-energy-{schnet,painn}.npz`` and the same
functions and windows as chapter 06 (``xailib.analysis``: 2- and 3-body decay profiles normalised by each
molecule's total absolute relevance, power-law and exponential fits over 2.0-4.0 A with 95 % intervals,
the window scan of the 2-body exponent, many-body shares and the 3-body share by distance), plus fits
over 2.0-6.5 A and 5.0-6.5 A where the poly models have terms beyond the original 5 A cutoff. It also
collects the test errors (``metrics.json``) of the four poly and the four shipped energy models and the
MD stability results ``data/md/ethanol/*.npz`` (scripts/md_stability.py) of the ethanol models.

Measured on the shared 2-core machine, 1 thread: explain 120 s (SchNet variant) and 179 s (PaiNN
variant) for the 660 test structures (also in ``results.json``, ``explain_wall_s``); summarise 36 s.
The four trainings take 8-11 min each and the two ethanol MD runs 9 min (SchNet) and 17 min (PaiNN).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

POLY_NCI = {"SchNet": "nci-small-energy-schnet-poly", "PaiNN": "nci-small-energy-painn-poly"}
SHIPPED_NCI = {"SchNet": "nci-small-energy-schnet", "PaiNN": "nci-small-energy-painn"}
POLY_ETHANOL = {"SchNet": "ethanol-schnet-poly", "PaiNN": "ethanol-painn-poly"}
SHIPPED_ETHANOL = {"SchNet": "md17-ethanol-schnet", "PaiNN": "md17-ethanol-painn"}
WINDOW = (2.0, 4.0)  # chapter 06
R_MAXES = [3.0, 3.5, 4.0, 4.5, 4.9]  # chapter 06 window scan
EXTRA_WINDOWS = [(2.0, 6.5), (5.0, 6.5)]  # beyond the original cutoff, before the poly switch
BINS = np.round(np.arange(0.8, 8.01, 0.2), 10)
RELEVANCE_FILE = "relevance.npz"
FILTER_GRID = np.round(np.arange(0.5, 8.51, 0.1), 10)


def explain(models_dir: Path, names: list[str], force: bool) -> None:
    import torch

    import xailib
    from xailib.analysis import explain_dataset, save_results
    from xailib.manifest import sha256
    from xailib.models import load_model

    sys.path.insert(0, str(ROOT / "scripts"))
    from explain_test_sets import test_structures

    torch.set_num_threads(1)
    xailib.set_seed(0)
    structures = test_structures()
    for name in names:
        out = models_dir / name / RELEVANCE_FILE
        if out.exists() and not force:
            print(f"{name}: {out} exists, skipped (--force to recompute)", flush=True)
            continue
        model = load_model(models_dir / name)
        start = time.perf_counter()
        results = explain_dataset(model, structures, rule="gi", progress=True)
        wall = time.perf_counter() - start
        results.meta.update(model=name, model_sha256=sha256(models_dir / name / "model.pt"), dataset="nci-small",
                            split="test_idx", wall_s=round(wall, 1), torch_threads=torch.get_num_threads())
        save_results(results, out)
        print(f"{name}: {len(results)} structures, {wall:.0f} s", flush=True)


def _fit_dict(fit) -> dict:
    return {"kind": fit.kind, "n": fit.n, "ci": list(fit.ci), "amplitude": fit.amplitude, "r2": fit.r2, "rmse_log": fit.rmse_log,
            "count": fit.count}


def _clean(a) -> list:
    return [None if not np.isfinite(x) else float(x) for x in np.asarray(a, dtype=float)]


def relevance_summary(path: Path) -> dict:
    """Decay profiles, fits and order shares of one model's relevance file (chapter 06 settings)."""
    from xailib.analysis import (
        decay_profile,
        fit_exponential,
        fit_power_law,
        load_results,
        manybody_shares,
        manybody_shares_by_distance,
    )

    res = load_results(path)
    tables = res.tables()
    out: dict = {"n_structures": len(res), "rule": res.meta["rule"], "explain_wall_s": res.meta.get("wall_s"),
                 "n_terms": {str(k): int(len(tables[k].relevance)) for k in (2, 3)}, "orders": {}}
    for order in (2, 3):
        t = tables[order]
        rel = t.normalised("total_abs")
        prof = decay_profile(t, BINS, normalise="total_abs")
        entry = {
            "profile": {"center": _clean(prof["center"]), "mean": _clean(prof["mean"]), "sem": _clean(prof["sem"]),
                        "count": [int(c) for c in prof["count"]]},
            "power": _fit_dict(fit_power_law(t.distance, rel, *WINDOW)),
            "exponential": _fit_dict(fit_exponential(t.distance, rel, *WINDOW)),
            "max_distance": float(t.distance.max()),
        }
        if order == 2:
            entry["scan"] = {str(rm): _fit_dict(fit_power_law(t.distance, rel, WINDOW[0], rm)) for rm in R_MAXES}
        for lo, hi in EXTRA_WINDOWS:
            if t.distance.max() >= hi - 0.5:  # only models with terms out there (not the 5 A cutoff ones)
                entry[f"power_{lo}-{hi}"] = _fit_dict(fit_power_law(t.distance, rel, lo, hi))
        out["orders"][str(order)] = entry
    out["shares"] = manybody_shares(tables, res.remainder)
    by_d = manybody_shares_by_distance(tables, BINS)
    out["shares_by_distance"] = {k: _clean(v) for k, v in by_d.items()}
    return out


def filter_profile(folder: Path, grid: np.ndarray) -> list[list[float]]:
    """Mean |W_t(r)| over the features of each interaction's radial filter, envelope included."""
    import torch

    from xailib.models import load_model

    rep = load_model(folder).representation
    d = torch.tensor(grid, dtype=torch.float32)
    with torch.no_grad():
        env = rep.cutoff_fn(d)[:, None]
        if hasattr(rep, "filter_net"):  # PaiNN: one network, 3 * n_atom_basis filters per interaction
            w = rep.filter_net(rep.radial_basis(d)) * env
            parts = torch.split(w, 3 * rep.n_atom_basis, dim=-1)
        else:  # SchNet: one filter network per interaction
            parts = [inter.filter_network(rep.radial_basis(d)) * env for inter in rep.interactions]
        return [p.abs().mean(-1).tolist() for p in parts]


def md_summary(path: Path) -> dict:
    """Stable seeds and times to failure of one scripts/md_stability.py result file."""
    with np.load(path, allow_pickle=False) as f:
        meta = json.loads(str(f["meta"]))
        return {"seed": f["seed"].tolist(), "stable": [bool(s) for s in f["stable"]],
                "time_to_failure_fs": f["time_to_failure_fs"].tolist(), "reason": [str(r) for r in f["reason"]],
                "settings": {k: meta.get(k) for k in ("run_ps", "temperature_K", "timestep_fs", "ensemble",
                                                      "md_wall_time_s")}}


def metrics(folder: Path) -> dict:
    m = json.loads((folder / "metrics.json").read_text())
    keep = ("energy_mae_meV", "forces_mae_meV_per_A", "energy_rmse_meV", "forces_rmse_meV_per_A", "epochs",
            "best_epoch", "training_wall_time_s", "torch_threads", "n_test", "n_parameters")
    return {k: m.get(k) for k in keep}


def summarise(models_dir: Path, out: Path) -> dict:
    import schnetpack
    import torch

    start = time.perf_counter()
    shipped = ROOT / "data" / "models"
    result: dict = {"relevance": {}, "metrics": {}, "md": {}}
    for arch in ("SchNet", "PaiNN"):
        for kind, names, folder in (("shipped", SHIPPED_NCI, shipped), ("poly", POLY_NCI, models_dir)):
            name = names[arch]
            path = (ROOT / "data" / "relevance" / f"{name}.npz") if kind == "shipped" else folder / name / RELEVANCE_FILE
            print(f"{name}: {path}", flush=True)
            if not path.exists():
                print(f"  missing: {path} (train and explain it first); left out", flush=True)
                result.setdefault("missing", []).append(name)
                continue
            result["relevance"][name] = relevance_summary(path)
            result.setdefault("filters", {})[name] = filter_profile((shipped if kind == "shipped" else folder) / name,
                                                                    FILTER_GRID)
        for names, folder in ((SHIPPED_NCI, shipped), (POLY_NCI, models_dir), (SHIPPED_ETHANOL, shipped),
                              (POLY_ETHANOL, models_dir)):
            if (folder / names[arch] / "metrics.json").exists():
                result["metrics"][names[arch]] = metrics(folder / names[arch])
            else:
                result.setdefault("missing", []).append(names[arch])
        for names in (SHIPPED_ETHANOL, POLY_ETHANOL):
            md = ROOT / "data" / "md" / "ethanol" / f"{names[arch]}.npz"
            if md.exists():
                result["md"][names[arch]] = md_summary(md)
            else:
                print(f"no MD results {md} (run scripts/md_stability.py first)", flush=True)
                result.setdefault("missing", []).append(f"md/{names[arch]}")
    from xailib.models import ModelConfig

    poly_cfg = ModelConfig.from_dict(json.loads((models_dir / POLY_NCI["SchNet"] / "config.json").read_text())).to_dict()
    result["meta"] = {
        "command": "python scripts/poly_analysis.py " + " ".join(sys.argv[1:]),
        "window": list(WINDOW), "r_maxes": R_MAXES, "extra_windows": [list(w) for w in EXTRA_WINDOWS],
        "bins": BINS.tolist(), "filter_grid": FILTER_GRID.tolist(), "normalise": "total_abs", "rule": "gi",
        "poly_config": {k: poly_cfg[k] for k in ("cutoff", "envelope", "envelope_power", "envelope_r0",
                                                 "envelope_width", "rbf_cutoff", "n_rbf")},
        "wall_s": round(time.perf_counter() - start, 1), "versions": {
            "python": platform.python_version(), "numpy": np.__version__, "torch": torch.__version__,
            "schnetpack": schnetpack.__version__}}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")
    print(f"wrote {out} ({out.stat().st_size / 1e3:.0f} kB)", flush=True)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stage", choices=["explain", "summarise"])
    parser.add_argument("names", nargs="*", help="explain: model names (default: the two poly nci-small models)")
    parser.add_argument("--models-dir", type=Path, default=ROOT / "data" / "poly" / "models")
    parser.add_argument("--out", type=Path, default=ROOT / "data" / "poly" / "results.json")
    parser.add_argument("--force", action="store_true")
    args = parser.parse_args(argv)
    if args.stage == "explain":
        explain(args.models_dir, args.names or list(POLY_NCI.values()), args.force)
    else:
        summarise(args.models_dir, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
