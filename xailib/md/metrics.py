"""Linking MD stability to explanations: per-model explanation metrics, time to failure, rank correlations.

* :func:`explanation_metrics` summarises a model's n-body relevances on a set of structures in a few
  numbers: the sign and size of its short-range 2-body terms (pairs closer than ``short_range``,
  i.e. covalent bonds), the power-law exponent of ``|2-body relevance|`` against distance over a stated
  window (:func:`xailib.analysis.fit_power_law`) and the shares of 1-, 2-, 3-body and higher-order
  relevance (:func:`xailib.analysis.manybody_shares`). All relevances are normalised per structure by
  its total absolute relevance, as in chapter 06, except ``short_mean_eV``.
* :func:`time_to_failure` reads a run file of :func:`xailib.md.run_stability_study` and summarises its
  seeds (censored runs count with their run length); :func:`family_table` joins the runs and
  explanations of a family of models.
* :func:`spearman_ci` is Spearman's rank correlation with a seeded bootstrap interval that resamples
  models.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from scipy import stats

from xailib.analysis import NBodyTable, explain_dataset, fit_power_law, manybody_shares
from xailib.md.store import load_explanations, load_run

#: Pairs closer than this (Angstrom) are "short range": every covalent bond of C, H, O molecules.
SHORT_RANGE_A = 1.6
#: Window of the decay fit (Angstrom): beyond the bonds, below the smallest cutoff of the MD family (3 A).
DECAY_WINDOW_A = (1.6, 2.9)

METRICS = {
    "short_mean": "mean normalised 2-body relevance of pairs < short range (signed)",
    "short_abs": "mean |normalised 2-body relevance| of pairs < short range",
    "short_positive_fraction": "fraction of short-range 2-body terms with positive relevance",
    "decay_n": "power-law exponent of |normalised 2-body relevance| over the decay window",
    "share_1": "share of |relevance| in 1-body terms",
    "share_2": "share of |relevance| in 2-body terms",
    "share_3": "share of |relevance| in 3-body terms",
    "share_higher": "share of |relevance| in higher orders",
}


def metrics_from_tables(
    tables: Mapping[int, NBodyTable],
    remainders: Sequence[float],
    *,
    short_range: float = SHORT_RANGE_A,
    window: tuple[float, float] = DECAY_WINDOW_A,
) -> dict[str, float]:
    """Explanation metrics (the keys of :data:`METRICS` plus details) from n-body tables.

    ``tables`` as from :meth:`xailib.analysis.RelevanceResults.tables`; ``remainders`` the
    higher-order remainder per structure.
    """
    t2 = tables[2]
    rel = t2.normalised("total_abs")
    short = t2.distance < short_range
    if not short.any():
        raise ValueError(f"no 2-body terms closer than {short_range} A; is short_range in Angstrom?")
    fit = fit_power_law(t2.distance, rel, *window)
    shares = manybody_shares(tables, remainders)
    return {
        "short_mean": float(rel[short].mean()),
        "short_abs": float(np.abs(rel[short]).mean()),
        "short_positive_fraction": float((rel[short] > 0).mean()),
        "short_mean_eV": float(t2.relevance[short].mean()),
        "short_count": int(short.sum()),
        "decay_n": fit.n,
        "decay_ci": list(fit.ci),
        "decay_r2": fit.r2,
        "decay_count": fit.count,
        "share_1": shares["1-body"],
        "share_2": shares["2-body"],
        "share_3": shares["3-body"],
        "share_higher": shares["higher"],
        "short_range_A": float(short_range),
        "decay_window_A": [float(w) for w in window],
        "n_structures": int(len(t2.output)),
    }


def explanation_metrics(model, structures, *, rule: str = "gi", progress: bool = True, **options) -> dict[str, float]:
    """Exact 1-3-body relevances of ``model`` on ``structures`` (:func:`xailib.analysis.explain_dataset`)
    summarised by :func:`metrics_from_tables` (``options`` go there)."""

    res = explain_dataset(model, structures, max_order=3, rule=rule, progress=progress)
    out = metrics_from_tables(res.tables(), res.remainder, **options)
    out["rule"] = rule
    return out


def time_to_failure(path: str | Path, *, statistic: str = "median") -> dict:
    """Per-model summary of a run file (:func:`xailib.md.save_run`).

    Returns ``ttf_ps`` (the ``statistic``, ``"median"`` or ``"mean"``, over seeds of the time to
    failure; stable runs count with their full length, i.e. censored), ``run_ps``, ``n_seeds``,
    ``n_stable``, ``per_seed_ps`` and ``reasons`` (count per failure reason).
    """
    if statistic not in ("median", "mean"):
        raise ValueError(f"statistic must be 'median' or 'mean', got {statistic!r}")
    run = load_run(path)
    ttf = run["time_to_failure_fs"] / 1000.0
    stable = run["stable"].astype(bool)
    reasons = [str(r) for r in run["reason"]]
    meta = run["meta"]
    counts: dict[str, int] = {}
    for r in reasons:
        if r:
            counts[r] = counts.get(r, 0) + 1
    return {"ttf_ps": float(np.median(ttf) if statistic == "median" else np.mean(ttf)), "statistic": statistic,
            "run_ps": float(meta["run_ps"]), "n_seeds": int(len(ttf)), "n_stable": int(stable.sum()),
            "per_seed_ps": ttf.tolist(), "reasons": counts}


def _flat(d: Mapping, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, Mapping):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def config_difference(base: Mapping, variant: Mapping, *, ignore: Sequence[str] = ("name", "out_dir")) -> dict:
    """Settings where a training config differs from its base: ``{"model.cutoff": [5.0, 3.0], ...}``
    (nested keys joined by dots; a key missing on one side is ``None`` there)."""
    a, b = _flat(base), _flat(variant)
    return {k: [a.get(k), b.get(k)] for k in sorted(set(a) | set(b))
            if k not in ignore and a.get(k) != b.get(k)}


def describe_difference(diff: Mapping) -> str:
    """``config_difference`` as short text, e.g. ``"model.cutoff 5.0 -> 3.0; max_time_min 8 -> 6"``."""
    return "; ".join(f"{k} {v[0]} -> {v[1]}" for k, v in diff.items()) or "(base)"


@dataclass(frozen=True)
class RankCorrelation:
    """Spearman's rho with a bootstrap percentile interval (``n_boot_used`` resamples had both
    variables non-constant; the others have no defined rho and are dropped)."""

    rho: float
    ci_low: float
    ci_high: float
    p_value: float
    n: int
    n_boot_used: int
    level: float

    def as_dict(self) -> dict:
        return asdict(self)


def spearman_ci(x, y, *, n_boot: int = 2000, level: float = 0.95, seed: int = 0) -> RankCorrelation:
    """Spearman rank correlation of paired samples with a seeded bootstrap CI (resampling pairs).

    Ties get average ranks (as in :func:`scipy.stats.spearmanr`); NaN pairs are an error.
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x.ndim != 1 or x.shape != y.shape:
        raise ValueError(f"x and y must be 1-D of the same length, got shapes {x.shape} and {y.shape}")
    if len(x) < 3:
        raise ValueError(f"need at least 3 pairs for a rank correlation, got {len(x)}")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise ValueError("x and y must be finite")
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        raise ValueError("x or y is constant; the rank correlation is undefined")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    res = stats.spearmanr(x, y)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(x), size=(n_boot, len(x)))
    rx = stats.rankdata(x[idx], axis=1)
    ry = stats.rankdata(y[idx], axis=1)
    rx -= rx.mean(axis=1, keepdims=True)
    ry -= ry.mean(axis=1, keepdims=True)
    den = np.sqrt((rx**2).sum(axis=1) * (ry**2).sum(axis=1))
    ok = den > 0
    rho = (rx * ry).sum(axis=1)[ok] / den[ok]
    alpha = (1 - level) / 2
    lo, hi = (np.quantile(rho, [alpha, 1 - alpha]) if ok.any() else (np.nan, np.nan))
    return RankCorrelation(float(res.statistic), float(lo), float(hi), float(res.pvalue), len(x), int(ok.sum()),
                           float(level))


def family_table(md_dir: str | Path, explanations: str | Path | None = None, *, statistic: str = "median",
                 reference: str = "xtb") -> list[dict]:
    """One row per model that has both an MD run file in ``md_dir`` and an entry in the explanations
    JSON (default ``md_dir/explanations.json``): name, architecture, ``differs``, test errors,
    the :func:`time_to_failure` summary and the explanation metrics. Sorted by name."""
    md_dir = Path(md_dir)
    explanations = Path(explanations) if explanations is not None else md_dir / "explanations.json"
    entries = load_explanations(explanations)["models"]
    rows = []
    for path in sorted(md_dir.glob("*.npz")):
        name = path.stem
        if name == reference or name not in entries:
            continue
        e = entries[name]
        row = {"name": name, "architecture": e["config"]["architecture"],
               "differs": describe_difference(e["differs_from_base"]) if e.get("differs_from_base") is not None
               else "?", "energy_mae_meV": e["test"]["energy_mae_meV"],
               "forces_mae_meV_per_A": e["test"]["forces_mae_meV_per_A"]}
        row.update(time_to_failure(path, statistic=statistic))
        row.update({k: e[k] for k in METRICS})
        row["decay_ci"] = e["decay_ci"]
        rows.append(row)
    return rows


def correlations(rows: Sequence[Mapping], columns: Sequence[str], *, target: str = "ttf_ps", n_boot: int = 2000,
                 level: float = 0.95, seed: int = 0) -> dict[str, RankCorrelation]:
    """:func:`spearman_ci` between each column of ``rows`` and ``target`` (same seed for each); a
    column that is constant over the models, or a constant target, gives NaNs instead of an error."""
    y = np.array([r[target] for r in rows], dtype=float)
    out = {}
    for c in columns:
        x = np.array([r[c] for r in rows], dtype=float)
        if np.ptp(x) == 0 or np.ptp(y) == 0:
            out[c] = RankCorrelation(np.nan, np.nan, np.nan, np.nan, len(x), 0, float(level))
        else:
            out[c] = spearman_ci(x, y, n_boot=n_boot, level=level, seed=seed)
    return out


def histogram_w1(counts_a, counts_b, edges) -> float:
    """Wasserstein-1 distance (Angstrom) between two distributions given as histograms on the same
    ``edges``: the integral of ``|CDF_a - CDF_b|`` (each histogram normalised to one)."""
    a, b, edges = np.asarray(counts_a, float), np.asarray(counts_b, float), np.asarray(edges, float)
    if a.shape != b.shape or a.ndim != 1 or len(edges) != len(a) + 1:
        raise ValueError("counts must be 1-D of one length and edges one longer")
    if a.sum() <= 0 or b.sum() <= 0:
        raise ValueError("an empty histogram has no distribution")
    cdf = np.cumsum(a / a.sum()) - np.cumsum(b / b.sum())
    return float(np.sum(np.abs(cdf) * np.diff(edges)))
