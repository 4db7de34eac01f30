"""Statistics of chapter 10's controlled comparison, read from ``data/poly/equal.json`` (:func:`load_equal`).

Differences between a variant and the cosine-cutoff control are paired twice: by seed (the runs of one seed
share their training frames and initial random stream) and by molecule (every run is scored on the same 60
test molecules). Intervals are two-level percentile bootstraps (:func:`two_level_interval`): seeds and
molecules are both resampled, so the interval holds the spread between training runs as well as between
molecules; the molecule-only interval (seeds fixed) is reported beside it as ``mol_low``/``mol_high``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from xailib.analysis.stats import molecule_bootstrap_rows, seed_summary
from xailib.poly.equal import ARCHS, LONG_RANGE, VARIANTS, best_within, equal_time_budget

CONTROL = "cosine"


def two_level_interval(values: np.ndarray, *, n_boot: int = 4000, seed: int = 0, level: float = 0.95
                       ) -> tuple[float, float]:
    """Percentile interval of the mean of a seeds x molecules array, resampling seeds and molecules.

    Each replicate draws as many seeds as there are and as many molecules as there are, both with
    replacement, and averages the drawn block. With two or three seeds the seed level is coarse; the
    interval is then wide, which is the honest answer.
    """
    v = np.asarray(values, dtype=float)
    if v.ndim != 2 or min(v.shape) < 1 or not np.isfinite(v).all():
        raise ValueError("two_level_interval needs a finite seeds x molecules array")
    rng = np.random.default_rng(seed)
    n_s, n_m = v.shape
    stats = np.empty(n_boot)
    for b in range(n_boot):
        stats[b] = v[rng.integers(0, n_s, n_s)][:, rng.integers(0, n_m, n_m)].mean()
    alpha = (1 - level) / 2
    return float(np.quantile(stats, alpha)), float(np.quantile(stats, 1 - alpha))


def power_law_long_share(structures, power: float, long_range: float = LONG_RANGE) -> dict[str, Any]:
    """A reference for :func:`long_range_share`: the share of sum_ij r_ij^-power carried by pairs beyond
    ``long_range``, per structure that has such pairs (every atom pair weighted alike, no damping).
    Returns ``mean`` over those structures, ``per_structure`` and ``n_structures``."""
    shares = []
    for atoms in structures:
        d = atoms.get_all_distances()[np.triu_indices(len(atoms), 1)]
        if d.size and d.max() > long_range:
            w = d ** (-float(power))
            shares.append(float(w[d > long_range].sum() / w.sum()))
    if not shares:
        raise ValueError(f"no structure has a pair beyond {long_range} A")
    return {"mean": float(np.mean(shares)), "per_structure": shares, "n_structures": len(shares)}


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
    ``mean`` (seed mean of the MAE difference), ``per_seed``, ``low``/``high`` (95 % two-level interval),
    ``mol_low``/``mol_high`` (molecules resampled, seeds fixed), ``ratio`` (seed-mean MAE of the variant over
    that of the control), ``seeds``, ``n_molecules``.
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
    low, high = two_level_interval(diff, n_boot=n_boot)
    return {"mean": float(diff.mean()), "per_seed": [float(d) for d in diff.mean(axis=1)],
            "low": low, "high": high, "mol_low": interval.low, "mol_high": interval.high,
            "ratio": float(v.mean() / c.mean()), "seeds": seeds, "n_molecules": len(ids)}


def long_range_share(doc: Mapping, arch: str, variant: str, *, n_boot: int = 2000) -> dict[str, Any]:
    """Share of |2-body relevance| in pairs beyond 5 A (molecules that have such pairs): seed mean, ``per_seed``,
    two-level interval ``low``/``high``, molecule-only interval ``mol_low``/``mol_high``, ``n_molecules``."""
    runs = runs_of(doc, arch, variant)
    seeds = sorted(runs)
    if not seeds:
        raise ValueError(f"no {arch} {variant} run")
    shares = np.array([[np.nan if x is None else x for x in runs[s]["pairs"]["long_share"]] for s in seeds])
    keep = np.isfinite(shares).all(axis=0)
    shares = shares[:, keep]
    ids = np.asarray(runs[seeds[0]]["pairs"]["molecule_ids"])[keep]
    interval = molecule_bootstrap_rows(lambda rows: float(shares[:, rows].mean()), ids, n_boot=n_boot)
    low, high = two_level_interval(shares, n_boot=n_boot)
    return {"mean": float(shares.mean()), "per_seed": [float(x) for x in shares.mean(axis=1)],
            "low": low, "high": high, "mol_low": interval.low, "mol_high": interval.high,
            "seeds": seeds, "n_molecules": int(keep.sum())}


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
            steps = [runs[s]["step_s"] for s in seeds]
            rows.append({"arch": arch, "variant": variant, "seeds": seeds, "energy_mae_meV": e,
                         "forces_mae_meV_per_A": f, "epochs": [runs[s]["metrics"]["epochs"] for s in seeds],
                         "logged_s_per_epoch": float(np.mean(per_epoch)),
                         "step_s": float(np.mean(steps)), "step_s_range": [float(min(steps)), float(max(steps))]})
    return rows
