"""Dataset-level numbers over training seeds and molecules: pair strengths and many-body order shares.

Every number carries (DESIGN.md section 7) the mean and spread over seeds, an interval from a bootstrap
over molecules, and the number of molecules behind it; quantities seen in fewer than ``min_molecules``
molecules are flagged and kept out of rankings (:func:`ranked`).

How seeds and molecules combine (:func:`seed_molecule_summary`). Per seed, the estimate is the mean over
molecules of one value per molecule (its frames averaged); ``mean``/``sd``/``min``/``max`` summarise these
per-seed estimates, i.e. training randomness. The interval is a molecule bootstrap of the per-molecule
values averaged over seeds first. Why this and not seed 0 alone or seed-by-molecule rows pooled: all
seeds are explained on the same test molecules, so a molecule's values under different seeds are paired
(correlated) observations of one replicate; averaging them first keeps the molecule as the unit of
resampling, uses every seed, and makes the interval one of the reported estimate (the seed mean, which it
equals whenever every seed sees the same molecules). The interval thus answers "how much would this
number move with another sample of test molecules"; the seed spread answers "how much with another
training run". With 2-3 seeds no interval over seeds is attempted.

Seeds are compared on the same structures: the replicas are explained on the first frames of each test
molecule only, so :func:`pair_strengths` and :func:`order_shares` first keep the structures every seed has
(:func:`common_structures`, matched by molecule id and coordinates). A multi-seed number of seed 0 can
therefore differ from the same number over all of seed 0's frames.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence

import numpy as np

from xailib.analysis.runs import RelevanceResults
from xailib.analysis.stats import element_pair_table, molecule_bootstrap, order_table, seed_summary

__all__ = ["common_structures", "seed_molecule_summary", "pair_strengths", "order_shares", "ranked", "seed_rankings",
           "as_pair_dict"]

#: Fewer molecules than this and a quantity is flagged (and left out of rankings).
MIN_MOLECULES = 5


def _seeds(results_by_seed: Mapping[str, RelevanceResults] | Sequence[RelevanceResults]) -> dict:
    seeds = dict(results_by_seed) if isinstance(results_by_seed, Mapping) else dict(enumerate(results_by_seed))
    if not seeds:
        raise ValueError("need results of at least one seed")
    return seeds


def _structure_keys(res: RelevanceResults) -> list[tuple]:
    ids, off = res.molecule_ids(), res.offsets
    return [(str(ids[k]), res.numbers[off[k]:off[k + 1]].tobytes(), res.positions[off[k]:off[k + 1]].tobytes())
            for k in range(len(res))]


def common_structures(
    results_by_seed: Mapping[str, RelevanceResults] | Sequence[RelevanceResults],
) -> dict:
    """The results of every seed restricted to the structures all seeds have (same molecule id, atoms and
    coordinates), via :meth:`RelevanceResults.subset`; results that have only shared structures are
    returned as they are. Keys: the mapping's, or 0, 1, ... for a sequence.

    Raises
    ------
    ValueError
        No structure is shared by all seeds.
    """
    seeds = _seeds(results_by_seed)
    keys = {name: _structure_keys(r) for name, r in seeds.items()}
    shared = set.intersection(*(set(k) for k in keys.values()))
    if not shared:
        raise ValueError(f"the results of {list(seeds)} share no structure")
    out = {}
    for name, r in seeds.items():
        idx = [i for i, key in enumerate(keys[name]) if key in shared]
        out[name] = r if len(idx) == len(r) else r.subset(idx)
    return out


def seed_molecule_summary(
    per_seed: Sequence[Mapping[Hashable, float]],
    *,
    min_molecules: int = MIN_MOLECULES,
    n_boot: int = 2000,
    seed: int = 0,
    level: float = 0.95,
) -> dict:
    """One quantity given per seed as ``{molecule: value}`` (one value per molecule, frames averaged).

    Returns
    -------
    dict
        ``mean``, ``sd``, ``min``, ``max``, ``n_seeds`` (:func:`seed_summary` of the per-seed means over
        molecules), ``per_seed`` (those means, in seed order), ``low``, ``high``, ``level`` (molecule
        bootstrap of the mean of the seed-averaged per-molecule values), ``n_molecules`` (molecules with
        a value in any seed) and ``flagged`` (``n_molecules < min_molecules``). Seeds without any
        molecule are skipped; all ``nan`` if no seed has one.
    """
    per_seed = [p for p in per_seed if len(p)]
    if not per_seed:
        nan = float("nan")
        return {"mean": nan, "sd": nan, "min": nan, "max": nan, "n_seeds": 0, "per_seed": (), "low": nan,
                "high": nan, "level": level, "n_molecules": 0, "flagged": True}
    estimates = [float(np.mean(list(p.values()))) for p in per_seed]
    pooled: dict[Hashable, list[float]] = {}
    for p in per_seed:
        for mol, value in p.items():
            pooled.setdefault(mol, []).append(float(value))
    molecules = sorted(pooled, key=str)
    averaged = np.array([np.mean(pooled[m]) for m in molecules])
    interval = molecule_bootstrap(averaged, None, np.mean, n_boot=n_boot, seed=seed, level=level)
    return {**seed_summary(estimates), "per_seed": tuple(estimates), "low": interval.low, "high": interval.high,
            "level": level, "n_molecules": len(molecules), "flagged": len(molecules) < min_molecules}


def pair_strengths(
    results_by_seed: Mapping[str, RelevanceResults] | Sequence[RelevanceResults],
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
) -> list[dict]:
    """Interaction strength per element pair, with seed spread, molecule interval and molecule count.

    Per seed and molecule, the strength of a pair type is a column of :func:`element_pair_table`:
    ``"mean"`` (mean relevance per pair term of that type in the molecule, default), ``"abs_mean"``,
    ``"sum"`` or ``"abs_sum"`` (summed over the molecule's pairs of that type). The per-seed estimate is
    the mean over the molecules that have the pair (each molecule once, unlike
    :func:`element_pair_strength`, which weights molecules by their number of pairs); seeds and
    molecules combine as in :func:`seed_molecule_summary`.

    Parameters
    ----------
    results_by_seed
        One :class:`RelevanceResults` per training seed of one model (a mapping name -> results, or a
        sequence), all on the same test split with ``meta["molecule_ids"]``.
    normalise, max_distance, part
        As in :func:`element_pair_table` (default: relevance over the structure's total |relevance|).
    min_molecules
        Pairs seen in fewer molecules are ``flagged``.
    align
        Keep only the structures all seeds have (:func:`common_structures`) first.

    Returns
    -------
    list of dict, one per element pair (ascending Z)
        ``pair`` (symbols, e.g. ``("H", "C")``), ``z`` (atomic numbers) and the keys of
        :func:`seed_molecule_summary`: ``mean``, ``sd``, ``min``, ``max``, ``n_seeds``, ``per_seed``,
        ``low``, ``high``, ``level``, ``n_molecules``, ``flagged``.
    """
    if value not in ("mean", "abs_mean", "sum", "abs_sum"):
        raise ValueError(f"value must be 'mean', 'abs_mean', 'sum' or 'abs_sum', got {value!r}")
    seeds = common_structures(results_by_seed) if align else _seeds(results_by_seed)
    by_pair: dict[tuple[int, int], list[dict]] = {}
    symbols: dict[tuple[int, int], tuple[str, str]] = {}
    tables = [element_pair_table(r, part, normalise=normalise, max_distance=max_distance) for r in seeds.values()]
    for s, t in enumerate(tables):
        for mol, z1, z2, pair, v in zip(t["molecule"], t["z1"], t["z2"], t["pair"], t[value]):
            key = (int(z1), int(z2))
            symbols[key] = tuple(str(pair).split("-"))
            by_pair.setdefault(key, [{} for _ in tables])[s][mol.item() if hasattr(mol, "item") else mol] = v
    return [{"pair": symbols[key], "z": key,
             **seed_molecule_summary(by_pair[key], min_molecules=min_molecules, n_boot=n_boot, seed=seed,
                                     level=level)}
            for key in sorted(by_pair)]


def order_shares(
    results_by_seed: Mapping[str, RelevanceResults] | Sequence[RelevanceResults],
    *,
    part: str = "combined",
    min_molecules: int = MIN_MOLECULES,
    align: bool = True,
    n_boot: int = 2000,
    seed: int = 0,
    level: float = 0.95,
) -> list[dict]:
    """Shares of the many-body orders, with seed spread, molecule interval and molecule count.

    Per seed and molecule, the frame-averaged shares of :func:`order_table`: ``abs`` (|order| over the
    sum of |order| including the |remainder|; the mean over molecules is what :func:`manybody_shares`
    gives when each molecule has one frame) and ``signed`` (order sum over the part's total, the conserved
    total for ``"combined"``). Seeds and molecules combine as in :func:`seed_molecule_summary`; ``align``
    as in :func:`pair_strengths`.

    Returns
    -------
    list of dict, 8 rows (for ``max_order`` 3)
        ``quantity`` (e.g. ``"abs_share_2"``), ``kind`` (``"abs"``/``"signed"``), ``order`` (1, 2, 3
        or ``"higher"``) and the keys of :func:`seed_molecule_summary`.
    """
    seeds = common_structures(results_by_seed) if align else _seeds(results_by_seed)
    tables = [order_table(r, part) for r in seeds.values()]
    keys = [c[len("abs_share_"):] for c in tables[0] if c.startswith("abs_share_")]
    if any([c[len("abs_share_"):] for c in t if c.startswith("abs_share_")] != keys for t in tables):
        raise ValueError("the seeds' results were computed to different max_order")
    rows = []
    for kind in ("abs", "signed"):
        for k in keys:
            column = f"{kind}_share_{k}"
            per_seed = [dict(zip(t["molecule"].tolist(), t[column])) for t in tables]
            summary = seed_molecule_summary(per_seed, min_molecules=min_molecules, n_boot=n_boot, seed=seed,
                                            level=level)
            rows.append({"quantity": column, "kind": kind, "order": k if k == "higher" else int(k), **summary})
    return rows


def ranked(rows: Iterable[dict], key: str = "mean", *, descending: bool = False, by_magnitude: bool = False) -> list[dict]:
    """Rows sorted by ``key`` (ascending: for signed energies, most stabilising first), flagged rows left
    out. ``by_magnitude`` sorts by ``|key|``; rows whose ``key`` is ``nan`` are left out too."""
    keep = [r for r in rows if not r["flagged"] and np.isfinite(r[key])]
    return sorted(keep, key=lambda r: abs(r[key]) if by_magnitude else r[key], reverse=descending)


def seed_rankings(rows: Sequence[dict], k: int | None = None) -> list[list[dict]]:
    """Per seed, ``rows`` (with ``per_seed`` estimates, e.g. from :func:`ranked`) sorted by that seed's
    estimate, ascending (ties keep the order of ``rows``), the first ``k`` of them (all for ``None``)."""
    if not rows:
        return []
    return [sorted(rows, key=lambda r: r["per_seed"][s])[:k] for s in range(rows[0]["n_seeds"])]


def as_pair_dict(rows: Iterable[dict], *, include_flagged: bool = False) -> dict[tuple[str, str], dict]:
    """Rows of :func:`pair_strengths` in the format of :func:`element_pair_strength`
    (``{("H", "C"): {"mean", "ci_low", "ci_high", "count", "sd"}}``, ``count`` = molecules), e.g. for
    :func:`xailib.viz.pair_heatmap`. Flagged pairs are left out unless ``include_flagged``."""
    return {r["pair"]: {"mean": r["mean"], "ci_low": r["low"], "ci_high": r["high"], "count": r["n_molecules"],
                        "sd": r["sd"]}
            for r in rows if include_flagged or not r["flagged"]}
