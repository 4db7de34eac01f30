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
from xailib.analysis.formats import format_summary
from xailib.analysis.known_answer_stats import (
    WINDOW, abs_order_shares, fit_slope, load_known_answer, pair_type_means, pearson_r, ranking_agreement,
    separation_classes, truth,
)
from xailib.analysis.known_answers import KnownAnswerError, parse_name, results_dir, test_structures
from xailib.analysis.stats import molecule_bootstrap_rows, seed_summary
from xailib.analysis.synthetic import R_OFF
from xailib.analysis.topology import SEPARATION_CLASSES, cosine_envelope

__all__ = ["DISTANCE_BINS", "ENVELOPE_POWERS", "WINDOW", "cached_truth", "format_recovered", "load_known_answer",
           "parse_name", "recovery", "recovery_rows", "seed_names", "test_structures"]

#: Distance bins (Angstrom) of the pair agreement: bonded, first shell beyond bonds, the fit window, the switch.
DISTANCE_BINS = ((0.0, 2.0), (2.0, 3.0), (3.0, 4.0), (4.0, 5.0))
#: A separation class is fitted only if its pairs span at least this much of the window (Angstrom).
MIN_SPAN = 0.75
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


def seed_mean_interval(per_seed_stat, n_seeds: int, molecules: np.ndarray, *, n_boot: int = 200,
                       seed: int = 0) -> dict:
    """A statistic estimated per seed, summarised over seeds, with a molecule-bootstrap interval of its seed mean.

    ``per_seed_stat(s, rows)`` computes the statistic of seed ``s`` on the rows ``rows`` (indices into
    ``molecules``, repeated where a molecule is drawn twice). Each bootstrap replicate draws molecules once
    and evaluates every seed on the same draw, so the interval belongs to the reported seed mean (the seeds
    are paired: they are explained on the same structures). Returns :func:`seed_summary`'s keys plus
    ``low``, ``high`` and ``n_molecules``.
    """
    rows = np.arange(len(molecules))
    per_seed = [per_seed_stat(s, rows) for s in range(n_seeds)]
    interval = molecule_bootstrap_rows(lambda idx: float(np.mean([per_seed_stat(s, idx) for s in range(n_seeds)])),
                                       molecules, n_boot=n_boot, seed=seed)
    finite = np.isfinite(per_seed)
    out = seed_summary(np.asarray(per_seed)[finite]) if finite.any() else {"mean": float("nan"), "sd": float("nan")}
    out.update({"low": interval.low, "high": interval.high, "n_molecules": interval.n_molecules})
    return out


def _exponent_stat(r, values, k, cutoff=5.0):
    """Per-seed exponent statistic on rows: fit of log|v| (envelope-corrected) against log r in the window."""
    keep = (r >= WINDOW[0]) & (r <= WINDOW[1])
    log_r = np.log(r)
    corrected = []
    for v in values:
        a = np.abs(v)
        ok = keep & (a > 0)
        with np.errstate(divide="ignore"):
            log_v = np.where(ok, np.log(np.where(ok, a, 1.0)), np.nan)
        if k:
            log_v = log_v - k * np.log(np.maximum(cosine_envelope(r, cutoff), 1e-300))
        corrected.append((ok, log_v))

    def stat(s, rows):
        ok, log_v = corrected[s]
        rows = rows[ok[rows]]
        return -fit_slope(log_r[rows], log_v[rows])

    return stat


def recovery(potential: str, architecture: str, tag: str = "gi", *, baseline: bool = False,
             directory: str | os.PathLike | None = None, n_boot: int = 200) -> dict:
    """Recovered vs true for one potential, architecture and rule set (``baseline``: the random-initialisation
    models of that architecture against this potential's truth).

    Returns a dict with ``seeds`` (result names), ``pair`` (``pearson``, ``slope`` of learned on true 2-body
    terms), ``pair_by_distance`` (the same per :data:`DISTANCE_BINS`), ``exponent`` (true, and recovered raw
    and envelope-corrected with ``k`` of :data:`ENVELOPE_POWERS`, over :data:`WINDOW`), ``exponent_by_class``
    (true and raw per bond-separation class with at least 20 pairs of 5 molecules spanning :data:`MIN_SPAN`
    of the window), ``shares`` (true and recovered share of orders 1-4 in the summed |terms|), ``ranking``
    (Spearman of element-pair mean terms), ``pair_by_element`` (true and learned mean term per element pair
    below the switch, and their ratio) and, where stored, ``triple`` (correlation of 3-body terms).
    Recovered numbers are :func:`seed_mean_interval` dicts.
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
    n = len(learned)

    def interval(stat, mask=None):
        rows = np.flatnonzero(np.ones(len(mol), bool) if mask is None else mask)
        return seed_mean_interval(lambda s, idx: stat(s, rows[idx]), n, mol[rows], n_boot=n_boot)

    def agree(fn):
        return lambda s, rows: fn(t["pair"][rows], learned[s][rows])

    out: dict = {"seeds": names, "tag": tag, "potential": potential, "architecture": architecture,
                 "baseline": baseline}
    out["pair"] = {"pearson": interval(agree(pearson_r)), "slope": interval(agree(fit_slope))}
    out["pair_by_distance"] = {}
    for lo, hi in DISTANCE_BINS:
        m = (t["r"] >= lo) & (t["r"] < hi)
        out["pair_by_distance"][(lo, hi)] = {"pearson": interval(agree(pearson_r), m),
                                             "slope": interval(agree(fit_slope), m), "n_pairs": int(m.sum())}
    out["exponent"] = {"true": decay_exponent(t["r"], t["pair"], mol, window=WINDOW, n_boot=n_boot)}
    for k in ENVELOPE_POWERS:
        out["exponent"][f"k={k}"] = interval(_exponent_stat(t["r"], learned, k))
    classes = separation_classes(t["separation"])
    in_window = (t["r"] >= WINDOW[0]) & (t["r"] <= WINDOW[1])
    out["exponent_by_class"] = {}
    raw = _exponent_stat(t["r"], learned, 0)
    for c in SEPARATION_CLASSES:
        m = classes == c
        span = np.ptp(t["r"][m & in_window]) if np.any(m & in_window) else 0.0
        if (m & in_window).sum() < 20 or len(np.unique(mol[m & in_window])) < 5 or span < MIN_SPAN:
            continue
        true_fit = decay_exponent(t["r"][m], t["pair"][m], mol[m], window=WINDOW, n_boot=n_boot)
        out["exponent_by_class"][c] = {"true": true_fit, "raw": interval(raw, m), "n_pairs": int((m & in_window).sum())}
    true_shares = abs_order_shares(t["orders_abs"], n_boot=n_boot)
    shares = [r[tag]["orders_abs"] / r[tag]["orders_abs"].sum(1, keepdims=True) for r in runs]
    structures = np.arange(len(t["orders"]))
    out["shares"] = {k + 1: {"true": true_shares[k].estimate,
                             "recovered": seed_mean_interval(lambda s, idx, k=k: float(shares[s][idx, k].mean()),
                                                             n, structures, n_boot=n_boot)}
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
        tri_mol = np.repeat(structures, _triples_per_structure(t))
        out["triple"] = {"pearson": seed_mean_interval(lambda s, idx: pearson_r(t["triple"][idx], tri[s][idx]), n,
                                                       tri_mol, n_boot=n_boot), "n": len(t["triple"])}
    return out


def _triples_per_structure(t: dict) -> np.ndarray:
    n_atoms = np.array([int(max(t["j"][t["structure"] == s].max(), 1)) + 1 for s in range(len(t["orders"]))])
    return n_atoms * (n_atoms - 1) * (n_atoms - 2) // 6


def format_recovered(summary: dict, digits: int = 2) -> str:
    """``"mean ± sd [low, high]"`` of a recovered number (``sd`` left out for one seed): :func:`format_summary`."""
    return format_summary(summary, digits)


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
            "rank rho": _rank_text(rec["ranking"], digits),
        })
    return rows


def _rank_text(ranking: dict, digits: int) -> str:
    rho = ranking["spearman"]
    sd = f" ± {rho['sd']:.{digits}f}" if np.isfinite(rho.get("sd", float("nan"))) else ""
    return f"{rho['mean']:.{digits}f}{sd} ({ranking['n_types']} types)"
