"""Statistics of chapter 10's controlled comparison, read from ``data/poly/equal.json`` (:func:`load_equal`).

Differences between a variant and the cosine-cutoff control are paired twice: by seed (the runs of one seed
share their training frames and initial random stream) and by molecule (every run is scored on the same 60
test molecules). Intervals are percentile bootstraps over molecules of the seed-mean difference, every seed
evaluated on the same molecule draw.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from xailib.analysis.stats import molecule_bootstrap_rows, seed_summary
from xailib.poly.equal import ARCHS, VARIANTS, best_within, equal_time_budget

CONTROL = "cosine"


def runs_of(doc: Mapping, arch: str, variant: str) -> dict[int, Mapping]:
    """The summarised runs of one architecture and variant, by seed."""
    return {r["seed"]: r for r in doc["runs"].values() if r["arch"] == arch and r["variant"] == variant}


def _molecule_matrix(runs: Mapping[int, Mapping], seeds, quantity: str) -> tuple[np.ndarray, list[str]]:
    ids = runs[seeds[0]]["molecule_errors"]["molecule_ids"]
    if any(runs[s]["molecule_errors"]["molecule_ids"] != ids for s in seeds):
        raise ValueError("runs scored on different molecules cannot be paired")
    return np.array([runs[s]["molecule_errors"][quantity] for s in seeds]), ids


def error_difference(doc: Mapping, arch: str, variant: str, quantity: str = "energy_meV", *,
                     n_boot: int = 2000) -> dict[str, Any]:
    """Test error of ``variant`` minus that of the cosine control (same architecture, same seeds).

    ``quantity``: ``"energy_meV"`` or ``"forces_meV_per_A"`` (per-molecule mean absolute errors). Returns
    ``mean`` (seed mean of the MAE difference), ``per_seed``, ``low``/``high`` (95 % molecule bootstrap of the
    seed mean), ``ratio`` (seed-mean MAE of the variant over that of the control), ``seeds``, ``n_molecules``.
    """
    var, ctl = runs_of(doc, arch, variant), runs_of(doc, arch, CONTROL)
    seeds = sorted(set(var) & set(ctl))
    if not seeds:
        raise ValueError(f"no seed with both {arch} {variant} and {arch} {CONTROL} runs")
    v, ids = _molecule_matrix(var, seeds, quantity)
    c, ids_c = _molecule_matrix(ctl, seeds, quantity)
    if ids != ids_c:
        raise ValueError("variant and control were scored on different molecules")
    diff = v - c  # seeds x molecules
    interval = molecule_bootstrap_rows(lambda rows: float(diff[:, rows].mean()), np.asarray(ids), n_boot=n_boot)
    return {"mean": float(diff.mean()), "per_seed": [float(d) for d in diff.mean(axis=1)],
            "low": interval.low, "high": interval.high, "ratio": float(v.mean() / c.mean()),
            "seeds": seeds, "n_molecules": len(ids)}


def long_range_share(doc: Mapping, arch: str, variant: str, *, n_boot: int = 2000) -> dict[str, Any]:
    """Share of |2-body relevance| in pairs beyond 5 A (molecules that have such pairs), seed mean with a
    molecule interval; ``per_seed`` and ``n_molecules`` beside it."""
    runs = runs_of(doc, arch, variant)
    seeds = sorted(runs)
    if not seeds:
        raise ValueError(f"no {arch} {variant} run")
    shares = np.array([[np.nan if x is None else x for x in runs[s]["pairs"]["long_share"]] for s in seeds])
    keep = np.isfinite(shares).all(axis=0)
    shares = shares[:, keep]
    ids = np.asarray(runs[seeds[0]]["pairs"]["molecule_ids"])[keep]
    interval = molecule_bootstrap_rows(lambda rows: float(shares[:, rows].mean()), ids, n_boot=n_boot)
    return {"mean": float(shares.mean()), "per_seed": [float(x) for x in shares.mean(axis=1)],
            "low": interval.low, "high": interval.high, "seeds": seeds, "n_molecules": int(keep.sum())}


def equal_time(doc: Mapping, arch: str, key: str = "val_energy_MAE", clock: str = "quiet_s") -> list[dict[str, Any]]:
    """Per seed of ``arch``: the time budget (the quickest variant's training time on ``clock``) and, per
    variant, the lowest ``key`` (validation, eV) reached within it and at the end of its 25 epochs.

    ``clock`` ``"quiet_s"`` (default) prices every epoch at the step cost measured on a quiet machine;
    ``"elapsed_s"`` uses the logged wall time, which other jobs on the machine inflated unevenly.
    """
    rows = []
    arch_runs = {n: r for n, r in doc["runs"].items() if r["arch"] == arch}
    for seed in sorted({r["seed"] for r in arch_runs.values()}):
        budget = equal_time_budget(arch_runs, arch, seed, clock)
        for variant in VARIANTS:
            run = runs_of(doc, arch, variant).get(seed)
            if run is None:
                continue
            curve = run["curve"]
            rows.append({"arch": arch, "seed": seed, "variant": variant, "budget_s": budget,
                         "epochs_in_budget": int(np.sum(np.asarray(curve[clock]) <= budget)),
                         "within_budget": best_within(curve, budget, key, clock),
                         "at_end": float(np.nanmin(curve[key])), "total_s": curve[clock][-1]})
    return rows


def summary_rows(doc: Mapping) -> list[dict[str, Any]]:
    """One row per architecture and variant: seeds, test errors (seed mean and sd), epochs, logged seconds per
    epoch (shared machine) and the quiet-machine seconds per step (:func:`xailib.poly.equal.step_cost`)."""
    rows = []
    for arch in ARCHS:
        for variant in VARIANTS:
            runs = runs_of(doc, arch, variant)
            if not runs:
                continue
            seeds = sorted(runs)
            e = seed_summary([runs[s]["metrics"]["energy_mae_meV"] for s in seeds])
            f = seed_summary([runs[s]["metrics"]["forces_mae_meV_per_A"] for s in seeds])
            per_epoch = [runs[s]["curve"]["elapsed_s"][-1] / len(runs[s]["curve"]["epoch"]) for s in seeds]
            rows.append({"arch": arch, "variant": variant, "seeds": seeds, "energy_mae_meV": e,
                         "forces_mae_meV_per_A": f, "epochs": [runs[s]["metrics"]["epochs"] for s in seeds],
                         "logged_s_per_epoch": float(np.mean(per_epoch)),
                         "step_s": float(np.mean([runs[s]["step_s"] for s in seeds]))})
    return rows
