"""Raw decay exponents of 2-body terms per bond-separation class, over seeds, with an untrained baseline.

Chapter 06 fits every seed's 2-body terms on the same structures (the first, relaxed frame of each test
molecule: the structures of chapter 03b and of :mod:`xailib.analysis.manybody_study`), so that seeds and the
untrained baseline line up pair by pair. :func:`pair_table` lists every atom pair of the structures with
its distance, elements and separation class; :func:`pair_values` puts a result's stored 2-body terms in that
order; :func:`class_exponents` fits ``|R| ~ r^-n`` per class (raw: chapter 03b validated no correction) and
:func:`law_comparison` compares the power law with the exponential by their log-space scatter.
:func:`known_answer_order_exponents` makes chapter 06's 2- versus 3-body decay comparison on chapter 03b's known
answers.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from xailib.analysis.known_answer_report import MIN_SPAN, seed_mean_interval
from xailib.analysis.known_answers import canonical_pairs
from xailib.analysis.runs import RelevanceResults
from xailib.analysis.test_sets import first_frames
from xailib.analysis.topology import SEPARATION_CLASSES, bond_separation, separation_class

#: Class label of the fit over all pairs.
ALL = "all"


def pair_table(structures: Sequence, molecules: Sequence) -> dict[str, np.ndarray]:
    """Every pair ``i < j`` of every structure (:func:`~xailib.analysis.known_answers.canonical_pairs` order) with
    ``molecule`` (from ``molecules``, one per structure), ``separation`` and ``separation_class``."""
    pairs = canonical_pairs(list(structures))
    sep = np.concatenate([bond_separation(a)[np.triu_indices(len(a), 1)] for a in structures])
    pairs.update(molecule=np.asarray(molecules)[pairs["structure"]], separation=sep,
                 separation_class=separation_class(sep))
    return pairs


def pair_values(results: RelevanceResults, structures: Sequence, part: str = "combined") -> np.ndarray:
    """The stored 2-body terms of ``results`` on ``structures`` (the first frame of each of its molecules,
    checked atom by atom) in :func:`pair_table` order; 0 for pairs without a term (beyond the cutoff graph)."""
    idx = first_frames([str(m) for m in results.molecule_ids()], 1)
    if len(idx) != len(structures):
        raise ValueError(f"the results have {len(idx)} molecules, the structures {len(structures)}")
    sub = results.subset(idx)
    n_atoms = np.array([len(a) for a in structures])
    for k, a in enumerate(structures):
        if not (np.array_equal(sub.numbers[sub.offsets[k]:sub.offsets[k + 1]], a.numbers)
                and np.allclose(sub.positions[sub.offsets[k]:sub.offsets[k + 1]], a.positions, atol=1e-5)):
            raise ValueError(f"structure {k} of the results is not the given structure")
    atoms = sub.term_atoms
    is_pair = (atoms[:, 0] >= 0) & (atoms[:, 1] >= 0) & (atoms[:, 2] < 0)
    s, i, j = sub.term_molecule[is_pair].astype(int), atoms[is_pair, 0].astype(int), atoms[is_pair, 1].astype(int)
    offsets = np.concatenate([[0], np.cumsum(n_atoms * (n_atoms - 1) // 2)])
    n = n_atoms[s]
    out = np.zeros(offsets[-1])
    out[offsets[s] + i * n - i * (i + 1) // 2 + (j - i - 1)] = sub.term_values(part)[is_pair]
    return out


def _log_fit(r: np.ndarray, values: Sequence[np.ndarray], window: tuple[float, float], law: str):
    """Per-seed statistic ``stat(s, rows)``: exponent (``power``) or log-space rmse (``rmse_power``/``rmse_exp``)."""
    inside = (r >= window[0]) & (r <= window[1])
    x_all = np.log(r) if law in ("power", "rmse_power") else r
    logs = []
    for v in values:
        a = np.abs(np.asarray(v, float))
        ok = inside & (a > 0)
        logs.append((ok, np.log(np.where(ok, a, 1.0))))

    def stat(s: int, rows: np.ndarray) -> float:
        ok, log_v = logs[s]
        rows = rows[ok[rows]]
        if len(rows) < 3 or np.ptp(x_all[rows]) == 0:
            return float("nan")
        slope, intercept = np.polyfit(x_all[rows], log_v[rows], 1)
        if law == "power":
            return -float(slope)
        return float(np.sqrt(np.mean((log_v[rows] - intercept - slope * x_all[rows]) ** 2)))

    return stat


def class_exponents(pairs: dict, values_by_seed: Sequence[np.ndarray], *, window: tuple[float, float],
                    n_boot: int = 200, seed: int = 0, min_pairs: int = 20, min_molecules: int = 5,
                    min_span: float = MIN_SPAN, classes: Sequence[str] | None = None) -> dict[str, dict]:
    """Raw power-law exponent per separation class (and :data:`ALL`; or only ``classes``) over ``window``, for
    each seed's values.

    A class is fitted when its non-zero pairs in the window number ``min_pairs``, come from ``min_molecules``
    molecules and span ``min_span`` Angstrom (the rules of chapter 03b). Returns per fitted class:
    ``per_seed`` (exponents), :func:`~xailib.analysis.seed_summary` keys, ``low``/``high`` (molecule bootstrap
    of the seed mean, seeds paired), ``n_pairs`` and ``n_molecules``.
    """
    r, mol, cls = pairs["r"], pairs["molecule"], pairs["separation_class"]
    inside = (r >= window[0]) & (r <= window[1]) & np.all([np.abs(v) > 0 for v in values_by_seed], axis=0)
    out = {}
    for c in ((*SEPARATION_CLASSES, ALL) if classes is None else classes):
        m = (cls == c) if c != ALL else np.ones(len(r), bool)
        sel = m & inside
        if sel.sum() < min_pairs or len(np.unique(mol[sel])) < min_molecules or np.ptp(r[sel]) < min_span:
            continue
        rows = np.flatnonzero(m)
        stat = _log_fit(r[rows], [np.asarray(v)[rows] for v in values_by_seed], window, "power")
        summary = seed_mean_interval(stat, len(values_by_seed), mol[rows], n_boot=n_boot, seed=seed)
        summary["per_seed"] = [stat(s, np.arange(len(rows))) for s in range(len(values_by_seed))]
        summary.update(n_pairs=int(sel.sum()), n_molecules=int(len(np.unique(mol[sel]))))
        out[c] = summary
    return out


def law_comparison(pairs: dict, values_by_seed: Sequence[np.ndarray], *, window: tuple[float, float],
                   n_boot: int = 200, seed: int = 0) -> dict[str, dict]:
    """Log-space rmse of the power-law and the exponential fit over all pairs in ``window``, per seed, and
    their difference ``exp - power`` (positive: the power law scatters less), each with the keys of
    :func:`~xailib.analysis.known_answer_report.seed_mean_interval` plus ``per_seed``."""
    r, mol = pairs["r"], pairs["molecule"]
    power = _log_fit(r, values_by_seed, window, "rmse_power")
    expo = _log_fit(r, values_by_seed, window, "rmse_exp")
    out = {}
    for key, stat in (("rmse_power", power), ("rmse_exp", expo),
                      ("difference", lambda s, rows: expo(s, rows) - power(s, rows))):
        summary = seed_mean_interval(stat, len(values_by_seed), mol, n_boot=n_boot, seed=seed)
        summary["per_seed"] = [stat(s, np.arange(len(r))) for s in range(len(values_by_seed))]
        out[key] = summary
    return out


def known_answer_order_exponents(potential: str, architecture: str | None = None, *,
                                 window: tuple[float, float], tag: str = "gi") -> list[dict[str, float]]:
    """Raw 2- and 3-body exponents (``n2``: pairs by distance; ``n3``: triples by their longest side; ``difference``
    = n3 - n2) over ``window`` on chapter 03b's test structures: of the exact terms of ``potential``
    (``architecture`` None; one entry) or of each seed trained on it (only ``pair_power_atm`` stores 3-body terms).
    The check of the 2- versus 3-body decay comparison of chapter 06 on a known answer."""
    from xailib.analysis.decay import decay_exponent
    from xailib.analysis.known_answer_report import cached_truth, load_known_answer, seed_names
    from xailib.analysis.manybody import known_answer_triples

    t = cached_truth(potential)
    _, tri_mol, tri_r = known_answer_triples()
    runs = ([{"pair": t["pair"], "triple": t["triple"]}] if architecture is None
            else [load_known_answer(n)[tag] for n in seed_names(potential, architecture)])
    out = []
    for run in runs:
        if "triple" not in run or not np.any(run["triple"]):
            raise KeyError(f"no 3-body terms for {potential} ({architecture or 'truth'})")
        n2 = decay_exponent(t["r"], run["pair"], t["structure"], window=window, n_boot=1).estimate
        n3 = decay_exponent(tri_r, run["triple"], tri_mol, window=window, n_boot=1).estimate
        out.append({"n2": float(n2), "n3": float(n3), "difference": float(n3 - n2)})
    return out
