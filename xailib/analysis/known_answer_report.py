"""The known-answer chapter's numbers: recovered vs true, over seeds and molecules, for one potential,
architecture and rule set.

Seeds and molecules combine as in :mod:`xailib.analysis.seeds`: each number is estimated per seed
(``mean``/``sd`` over seeds: training randomness) and its interval is a molecule bootstrap of the terms
averaged over seeds first (paired: every seed is explained on the same structures).
"""

from __future__ import annotations

import os
from functools import lru_cache

import numpy as np

from xailib.analysis.decay import decay_exponent
from xailib.analysis.known_answer_stats import (
    WINDOW, agreement, load_known_answer, abs_order_shares, pair_type_means, ranking_agreement,
    separation_classes, truth,
)
from xailib.analysis.known_answers import KnownAnswerError, parse_name, results_dir, test_structures
from xailib.analysis.stats import seed_summary
from xailib.analysis.synthetic import R_OFF
from xailib.analysis.topology import SEPARATION_CLASSES

__all__ = ["DISTANCE_BINS", "ENVELOPE_POWERS", "WINDOW", "cached_truth", "format_recovered", "load_known_answer",
           "parse_name", "recovery", "recovery_rows", "seed_names", "test_structures"]

#: Distance bins (Angstrom) of the pair agreement: bonded, first shell beyond bonds, the fit window, the switch.
DISTANCE_BINS = ((0.0, 2.0), (2.0, 3.0), (3.0, 4.0), (4.0, 5.0))
#: Envelope powers tried in the decay correction (0: raw).
ENVELOPE_POWERS = (0, 1, 2)


@lru_cache(maxsize=8)
def cached_truth(potential: str) -> dict:
    """:func:`~xailib.analysis.known_answer_stats.truth` on the test structures, computed once per potential."""
    return truth(potential)


def seed_names(potential: str, architecture: str, directory: str | os.PathLike | None = None) -> list[str]:
    """Names of the stored results of one potential (or ``"init"``) and architecture, every seed, sorted by seed."""
    names = [p.stem for p in results_dir(directory).glob(f"synthetic-{potential}-{architecture}*.npz")]
    names = [n for n in names if parse_name(n)["potential"] == potential]
    if not names:
        raise KnownAnswerError(f"no stored results for synthetic-{potential}-{architecture}; run "
                               "`python -m xailib study synthetic explain`")
    return sorted(names, key=lambda n: parse_name(n)["seed"])


def _summary(per_seed: list[float], pooled) -> dict:
    out = {**seed_summary(per_seed)} if np.all(np.isfinite(per_seed)) else {"mean": float(np.nanmean(per_seed)),
                                                                            "sd": float("nan"), "n_seeds": len(per_seed)}
    out.update({"low": pooled.low, "high": pooled.high, "n_molecules": pooled.n_molecules, "pooled": pooled.estimate})
    return out


def recovery(potential: str, architecture: str, tag: str = "gi", *, baseline: bool = False,
             directory: str | os.PathLike | None = None, n_boot: int = 200) -> dict:
    """Recovered vs true for one potential, architecture and rule set (``baseline``: the random-initialisation
    models of that architecture against this potential's truth).

    Returns a dict with ``seeds`` (result names), ``pair`` (``pearson``, ``slope`` of learned on true 2-body
    terms), ``pair_by_distance`` (the same per :data:`DISTANCE_BINS`), ``exponent`` (true, and recovered
    raw and envelope-corrected with ``k`` of :data:`ENVELOPE_POWERS`, over :data:`WINDOW`),
    ``exponent_by_class`` (true and raw per bond-separation class), ``shares`` (true and recovered share
    of orders 1-4 in the summed |terms|), ``ranking`` (Spearman of element-pair mean terms),
    ``pair_by_element`` (true and learned mean term per element pair below the switch, and their ratio,
    over seeds) and, where
    stored, ``triple`` (agreement of 3-body terms). Recovered numbers are :func:`_summary` dicts.
    """
    names = seed_names("init" if baseline else potential, architecture, directory)
    runs = [load_known_answer(n, directory) for n in names]
    if any(tag not in r for r in runs):
        raise KnownAnswerError(f"rule set {tag!r} is not stored for all of {names}")
    t = cached_truth(potential)
    mol = t["structure"]
    learned = [r[tag]["pair"].astype(float) for r in runs]
    if any(len(v) != len(t["pair"]) for v in learned):
        raise KnownAnswerError("stored pair terms do not line up with the test structures; re-run the explain stage")
    mean_learned = np.mean(learned, axis=0)

    def combined(fn, *args):
        per_seed = [fn(v, *args) for v in learned]
        return per_seed, fn(mean_learned, *args, pooled=True)

    def agree(values, key, mask=slice(None), pooled=False):
        res = agreement(values[mask], t["pair"][mask], mol[mask], n_boot=n_boot if pooled else 1)
        return res[key] if pooled else res[key].estimate

    out: dict = {"seeds": names, "tag": tag, "potential": potential, "architecture": architecture,
                 "baseline": baseline}
    out["pair"] = {k: _summary(*combined(agree, k)) for k in ("pearson", "slope")}
    out["pair_by_distance"] = {}
    for lo, hi in DISTANCE_BINS:
        m = (t["r"] >= lo) & (t["r"] < hi)
        out["pair_by_distance"][(lo, hi)] = {k: _summary(*combined(agree, k, m)) for k in ("pearson", "slope")}
        out["pair_by_distance"][(lo, hi)]["n_pairs"] = int(m.sum())

    def exponent(values, k=0, mask=slice(None), pooled=False):
        fit = decay_exponent(t["r"][mask], values[mask], mol[mask], window=WINDOW, k=k,
                             n_boot=n_boot if pooled else 1)
        return fit if pooled else fit.estimate

    out["exponent"] = {"true": decay_exponent(t["r"], t["pair"], mol, window=WINDOW, n_boot=n_boot)}
    for k in ENVELOPE_POWERS:
        out["exponent"][f"k={k}"] = _summary(*combined(exponent, k))
    classes = separation_classes(t["separation"])
    in_window = (t["r"] >= WINDOW[0]) & (t["r"] <= WINDOW[1])
    out["exponent_by_class"] = {}
    for c in SEPARATION_CLASSES:
        m = classes == c
        if (m & in_window).sum() < 20 or len(np.unique(mol[m & in_window])) < 5:
            continue
        true_fit = decay_exponent(t["r"][m], t["pair"][m], mol[m], window=WINDOW, n_boot=n_boot)
        out["exponent_by_class"][c] = {"true": true_fit,
                                       "raw": _summary(*combined(exponent, 0, m)), "n_pairs": int((m & in_window).sum())}
    true_shares = abs_order_shares(t["orders_abs"], n_boot=n_boot)
    per_seed_shares = [abs_order_shares(r[tag]["orders_abs"], n_boot=1) for r in runs]
    mean_abs = np.mean([r[tag]["orders_abs"] for r in runs], axis=0)
    pooled_shares = abs_order_shares(mean_abs, n_boot=n_boot)
    out["shares"] = {k + 1: {"true": true_shares[k].estimate,
                             "recovered": _summary([s[k].estimate for s in per_seed_shares], pooled_shares[k])}
                     for k in range(4)}
    out["shares_exact"] = tag == "gi"
    within = t["r"] < R_OFF
    true_types = pair_type_means(t["z"], t["pair"], mol, within)
    ranks = [ranking_agreement(pair_type_means(t["z"], v, mol, within), true_types)["spearman"] for v in learned]
    out["ranking"] = {"spearman": seed_summary(ranks), "n_types": len(true_types)}
    per_seed_types = [pair_type_means(t["z"], v, mol, within) for v in learned]
    out["pair_by_element"] = {key: {"true": value, "learned": seed_summary([p[key] for p in per_seed_types]),
                                    "ratio": seed_summary([p[key] / value for p in per_seed_types])}
                              for key, value in true_types.items()}
    if all("triple" in r[tag] for r in runs) and np.any(t["triple"]):
        tri = [r[tag]["triple"].astype(float) for r in runs]
        tri_mol = np.repeat(np.arange(len(t["orders"])), _triples_per_structure(t))
        per_seed = [agreement(v, t["triple"], tri_mol, n_boot=1)["pearson"].estimate for v in tri]
        pooled = agreement(np.mean(tri, axis=0), t["triple"], tri_mol, n_boot=n_boot)["pearson"]
        out["triple"] = {"pearson": _summary(per_seed, pooled), "n": len(t["triple"])}
    return out


def _triples_per_structure(t: dict) -> np.ndarray:
    n_atoms = np.array([int(max(t["j"][t["structure"] == s].max(), 1)) + 1 for s in range(len(t["orders"]))])
    return n_atoms * (n_atoms - 1) * (n_atoms - 2) // 6


def format_recovered(summary: dict, digits: int = 2) -> str:
    """``"mean ± sd [low, high]"`` of a recovered number (``sd`` left out for one seed)."""
    sd = summary.get("sd", float("nan"))
    spread = f" ± {sd:.{digits}f}" if np.isfinite(sd) else ""
    return f"{summary['mean']:.{digits}f}{spread} [{summary['low']:.{digits}f}, {summary['high']:.{digits}f}]"


def recovery_rows(records: list[dict], digits: int = 2) -> list[dict]:
    """One table row per :func:`recovery` record: pair correlation and slope, exponents (true procedure,
    raw, envelope-corrected), 3-body share (true, recovered) and element-pair rank correlation, as text."""
    rows = []
    for rec in records:
        exp = rec["exponent"]
        true_exp = exp["true"]
        rows.append({
            "potential": rec["potential"], "model": rec["architecture"] + (" (init)" if rec["baseline"] else ""),
            "rule": rec["tag"], "seeds": len(rec["seeds"]),
            "pair r": format_recovered(rec["pair"]["pearson"], digits),
            "pair slope": format_recovered(rec["pair"]["slope"], digits),
            "n true": f"{true_exp.estimate:.{digits}f} [{true_exp.low:.{digits}f}, {true_exp.high:.{digits}f}]",
            **{f"n {k}": format_recovered(exp[k], digits) for k in (f"k={p}" for p in ENVELOPE_POWERS)},
            "3-body share true": f"{rec['shares'][3]['true']:.{digits}f}",
            "3-body share": format_recovered(rec["shares"][3]["recovered"], digits),
            "rank rho": f"{rec['ranking']['spearman']['mean']:.{digits}f}",
        })
    return rows
