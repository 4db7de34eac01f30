"""Rank agreement of element-pair strengths with a reference, over seeds and molecules.

:func:`pair_rank_correlation` answers "does the ordering of element pairs by a model's 2-body strength
follow a reference ordering?", where the reference is a table (e.g. tabulated bond energies) or another
model / LRP rule. Like :func:`~xailib.analysis.pair_strengths`, it reports the spread over training seeds
and an interval from a bootstrap over molecules, and keeps flagged pairs (seen in fewer than
``min_molecules`` molecules) out.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

import numpy as np
from ase.data import atomic_numbers, chemical_symbols
from scipy import stats

from xailib.analysis.runs import RelevanceResults
from xailib.analysis.seeds import MIN_MOLECULES, _seeds, common_structures
from xailib.analysis.stats import element_pair_table, seed_summary

__all__ = ["pair_rank_correlation"]


def _pair_key(pair) -> tuple[int, int]:
    a, b = (atomic_numbers[p] if isinstance(p, str) else int(p) for p in pair)
    return (a, b) if a <= b else (b, a)


def _per_molecule(seeds: dict, molecules: list, value: str, **table_kw) -> dict[tuple[int, int], np.ndarray]:
    """{pair: array (n_seeds, n_molecules)} of per-molecule values, ``nan`` where a molecule lacks the pair."""
    index = {str(m): i for i, m in enumerate(molecules)}
    out: dict[tuple[int, int], np.ndarray] = {}
    for s, res in enumerate(seeds.values()):
        t = element_pair_table(res, **table_kw)
        for mol, z1, z2, v in zip(t["molecule"], t["z1"], t["z2"], t[value]):
            key = (int(z1), int(z2))
            if key not in out:
                out[key] = np.full((len(seeds), len(molecules)), np.nan)
            out[key][s, index[str(mol)]] = v
    return out


def _spearman_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Spearman correlation of each row of ``x`` with the matching row of ``y`` (average ranks for ties)."""
    rx, ry = stats.rankdata(x, axis=1), stats.rankdata(y, axis=1)
    rx, ry = rx - rx.mean(axis=1, keepdims=True), ry - ry.mean(axis=1, keepdims=True)
    den = np.sqrt((rx**2).sum(axis=1) * (ry**2).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, (rx * ry).sum(axis=1) / den, np.nan)


def pair_rank_correlation(
    results_by_seed: Mapping[str, RelevanceResults] | Sequence[RelevanceResults],
    reference: Mapping | Sequence[RelevanceResults],
    *,
    value: str = "mean",
    normalise: str | None = "total_abs",
    max_distance: float | None = None,
    part: str = "combined",
    min_molecules: int = MIN_MOLECULES,
    align: bool = True,
    n_boot: int = 2000,
    seed: int = 0,
    level: float = 0.95,
) -> dict:
    """Spearman rank correlation of element-pair strengths with a reference, with seed spread and a
    molecule bootstrap interval.

    Strengths are those of :func:`~xailib.analysis.pair_strengths` (same ``value``, ``normalise``,
    ``max_distance``, ``part``): per seed, the mean over molecules of one value per molecule.

    Parameters
    ----------
    results_by_seed
        One :class:`RelevanceResults` per training seed of one model (a mapping or a sequence).
    reference
        Either a table ``{pair: number}`` (pairs as symbols or atomic numbers, either order, e.g.
        ``{("C", "H"): -4.3}``), or the results of another model or rule, one per seed, whose strengths
        are computed the same way. With results, seed ``i`` of one side is paired with seed ``i`` of the
        other (both need the same number of seeds), and both sides are compared on the same molecules.
    min_molecules
        Pairs seen in fewer molecules (on either side) are left out.
    align
        Keep only the structures every seed (of both sides, for results) has
        (:func:`~xailib.analysis.common_structures`).
    n_boot, seed, level
        Bootstrap replicates, generator seed, nominal coverage.

    Returns
    -------
    dict
        ``mean``, ``sd``, ``min``, ``max``, ``n_seeds``, ``per_seed``: Spearman's rho per seed and its
        summary (:func:`~xailib.analysis.seed_summary`; ``sd`` is ``nan`` for one seed);
        ``pooled``: rho of the seed-averaged strengths; ``low``, ``high``, ``level``: percentile interval
        of ``pooled`` from resampling molecules (the same draw for both sides; replicates in which a pair
        has no molecule are dropped); ``n_pairs`` and ``pairs`` (symbols, ascending Z) compared;
        ``n_molecules`` (molecules behind the strengths); ``n_boot_used``.

    Raises
    ------
    ValueError
        Fewer than three pairs to compare, or reference results with a different number of seeds.
    """
    if value not in ("mean", "abs_mean", "sum", "abs_sum"):
        raise ValueError(f"value must be 'mean', 'abs_mean', 'sum' or 'abs_sum', got {value!r}")
    mine = _seeds(results_by_seed)
    table = isinstance(reference, Mapping) and not any(isinstance(v, RelevanceResults) for v in reference.values())
    if table:
        theirs = None
    else:
        theirs = _seeds(reference)
        if len(theirs) != len(mine):
            raise ValueError(f"{len(mine)} seeds against {len(theirs)} reference seeds; pair them one to one")
    if align:
        joint = {("a", k): r for k, r in mine.items()}
        if theirs is not None:
            joint.update({("b", k): r for k, r in theirs.items()})
        joint = common_structures(joint)
        mine = {k: joint[("a", k)] for k in mine}
        if theirs is not None:
            theirs = {k: joint[("b", k)] for k in theirs}
    sides = [mine] + ([theirs] if theirs is not None else [])
    molecules = sorted({str(m) for side in sides for r in side.values() for m in r.molecule_ids()})
    kw = {"part": part, "normalise": normalise, "max_distance": max_distance}
    values = [_per_molecule(side, molecules, value, **kw) for side in sides]
    ref_table = {} if theirs is not None else {_pair_key(p): float(v) for p, v in reference.items()}

    def enough(arr: np.ndarray) -> bool:
        return int(np.any(np.isfinite(arr), axis=0).sum()) >= min_molecules

    keys = sorted(k for k in values[0] if enough(values[0][k])
                  and (k in ref_table if theirs is None else k in values[1] and enough(values[1][k])))
    if len(keys) < 3:
        raise ValueError(f"only {len(keys)} pairs to compare (need 3)")

    def per_seed_strengths(v: dict) -> np.ndarray:  # (n_seeds, n_pairs)
        return np.stack([np.nanmean(v[k], axis=1) for k in keys], axis=1)

    def molecule_values(v: dict) -> tuple[np.ndarray, np.ndarray]:  # seed-averaged (n_molecules, n_pairs), mask
        with warnings.catch_warnings():  # a molecule without the pair: mean of an empty slice, nan
            warnings.simplefilter("ignore", RuntimeWarning)
            m = np.stack([np.nanmean(v[k], axis=0) for k in keys], axis=1)
        mask = np.isfinite(m)
        return np.where(mask, m, 0.0), mask.astype(float)

    x = per_seed_strengths(values[0])
    y = np.tile([ref_table[k] for k in keys], (len(x), 1)) if theirs is None else per_seed_strengths(values[1])
    rho = _spearman_rows(x, y)

    vx, mx = molecule_values(values[0])
    vy, my = molecule_values(values[1]) if theirs is not None else (None, None)
    point_y = y[:1] if theirs is None else (vy.sum(0) / my.sum(0))[None]
    pooled = float(_spearman_rows((vx.sum(0) / mx.sum(0))[None], point_y)[0])

    rng = np.random.default_rng(seed)
    n_mol = len(molecules)
    draws = rng.integers(0, n_mol, size=(n_boot, n_mol))
    weights = np.stack([np.bincount(d, minlength=n_mol) for d in draws]).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        bx = (weights @ vx) / (weights @ mx)
        by = np.tile(y[:1], (n_boot, 1)) if theirs is None else (weights @ vy) / (weights @ my)
    ok = np.all(np.isfinite(bx), axis=1) & np.all(np.isfinite(by), axis=1)
    boot = _spearman_rows(bx[ok], by[ok])
    boot = boot[np.isfinite(boot)]
    alpha = (1 - level) / 2
    low, high = np.quantile(boot, [alpha, 1 - alpha]) if len(boot) else (np.nan, np.nan)
    n_with = int(np.any(mx > 0, axis=1).sum())
    return {**seed_summary(rho), "per_seed": tuple(float(r) for r in rho), "pooled": pooled,
            "low": float(low), "high": float(high), "level": level, "n_pairs": len(keys),
            "pairs": [(chemical_symbols[a], chemical_symbols[b]) for a, b in keys], "n_molecules": n_with,
            "n_boot_used": len(boot)}
