"""Many-body order: the shares of the total relevance carried by 1-, 2-, 3-body terms and higher orders.

The first functions work on :class:`NBodyTable` objects; the ``study_*`` functions on the complete order sums of
:func:`xailib.analysis.manybody_study.load_manybody` (per molecule, summarised over seeds and molecules)."""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from itertools import combinations

import numpy as np

from xailib.analysis.tables import ORDERS, NBodyTable


def manybody_shares(tables: Mapping[int, NBodyTable], remainders: Iterable[float]) -> dict[str, float]:
    """Share of absolute relevance carried by 1-, 2-, 3-body terms and by higher orders.

    Shares are computed per molecule (absolute relevance of each order over the molecule's total
    absolute relevance) and averaged over molecules; they add to one.
    """
    rem = np.abs(np.asarray(list(remainders), dtype=float))
    n_mol = len(rem)
    per_order = {}
    for order in ORDERS:
        t = tables[order]
        if len(t.output) != n_mol:
            raise ValueError("tables and remainders describe different numbers of molecules")
        per_order[order] = np.bincount(t.molecule, weights=np.abs(t.relevance), minlength=n_mol)
    total = sum(per_order.values()) + rem
    if np.any(total == 0):
        raise ValueError("a molecule has zero total absolute relevance")
    shares = {f"{k}-body": float(np.mean(v / total)) for k, v in per_order.items()}
    shares["higher"] = float(np.mean(rem / total))
    return shares


def manybody_shares_by_distance(tables: Mapping[int, NBodyTable], bins: Sequence[float]) -> dict[str, np.ndarray]:
    """Share of absolute 2- versus 3-body relevance per distance bin (largest pair distance)."""
    edges = np.asarray(bins, dtype=float)
    sums = {}
    for order in (2, 3):
        t = tables[order]
        idx = np.digitize(t.distance, edges) - 1
        ok = (idx >= 0) & (idx < len(edges) - 1)
        sums[order] = np.bincount(idx[ok], weights=np.abs(t.relevance[ok]), minlength=len(edges) - 1)
    total = sums[2] + sums[3]
    with np.errstate(invalid="ignore", divide="ignore"):
        return {"center": 0.5 * (edges[1:] + edges[:-1]), "2-body": sums[2] / total, "3-body": sums[3] / total}


def manybody_shares_by_distance_bootstrap(
    tables: Mapping[int, NBodyTable],
    bins: Sequence[float],
    structure_molecules: Sequence,
    *,
    n_boot: int = 2000,
    seed: int = 0,
    level: float = 0.95,
) -> dict[str, np.ndarray]:
    """The 3-body share of :func:`manybody_shares_by_distance` with a bootstrap interval over molecules.

    Per bin, the share is the summed |3-body| over the summed |2-body| + |3-body| relevance of the terms
    in that bin (the point estimate of :func:`manybody_shares_by_distance`). Each replicate draws as
    many molecules as there are, with replacement, and recomputes the share from the drawn molecules'
    terms (all their frames).

    Parameters
    ----------
    tables
        :class:`NBodyTable` objects of orders 2 and 3 from one result.
    bins
        Increasing bin edges (Angstrom; 3-body terms are binned by their largest pair distance).
    structure_molecules
        The molecule of each structure of the tables (e.g. ``results.molecule_ids()``).

    Returns
    -------
    dict of arrays, one entry per bin
        ``center``, ``3-body`` (share), ``low``, ``high`` (percentile interval at ``level``; ``nan``
        where a replicate leaves the bin empty too often to say) and ``n_molecules`` (molecules with a
        2- or 3-body term in the bin).
    """
    edges = np.asarray(bins, dtype=float)
    if edges.ndim != 1 or len(edges) < 2 or np.any(np.diff(edges) <= 0):
        raise ValueError("bins must be increasing bin edges")
    if n_boot < 1:
        raise ValueError(f"n_boot must be positive, got {n_boot}")
    mol = np.asarray(structure_molecules)
    universe, inv = np.unique(mol, return_inverse=True)
    inv = inv.ravel()
    n_mol, nb = len(universe), len(edges) - 1
    sums = {}
    for order in (2, 3):
        t = tables[order]
        if len(t.output) != len(mol):
            raise ValueError(f"structure_molecules needs one entry per structure ({len(t.output)}), got {len(mol)}")
        idx = np.digitize(t.distance, edges) - 1
        ok = (idx >= 0) & (idx < nb)
        flat = inv[t.molecule[ok]] * nb + idx[ok]
        sums[order] = np.bincount(flat, weights=np.abs(t.relevance[ok]), minlength=n_mol * nb).reshape(n_mol, nb)
    both = sums[2] + sums[3]
    with np.errstate(invalid="ignore", divide="ignore"):
        share = sums[3].sum(axis=0) / both.sum(axis=0)
        rng = np.random.default_rng(seed)
        boot = np.empty((n_boot, nb))
        chunk = max(1, 2_000_000 // max(n_mol * nb, 1))
        for start in range(0, n_boot, chunk):
            draws = rng.integers(0, n_mol, size=(min(chunk, n_boot - start), n_mol))
            boot[start:start + len(draws)] = sums[3][draws].sum(axis=1) / both[draws].sum(axis=1)
    alpha = (1 - level) / 2
    low, high = np.full(nb, np.nan), np.full(nb, np.nan)
    for b in range(nb):
        v = boot[:, b][np.isfinite(boot[:, b])]
        if len(v) >= 0.99 * n_boot and n_mol > 1:
            low[b], high[b] = np.quantile(v, [alpha, 1 - alpha])
    return {"center": 0.5 * (edges[1:] + edges[:-1]), "3-body": share, "low": low, "high": high,
            "n_molecules": (both > 0).sum(axis=0)}


# --- shares from the complete order sums of the many-body study (xailib.analysis.manybody_study) ---

def _entries(study: Mapping, names: Sequence[str], tag: str) -> list[dict]:
    missing = [n for n in names if n not in study["models"] or tag not in study["models"][n]]
    if missing:
        raise KeyError(f"the many-body study has no {tag!r} results for {missing}")
    return [study["models"][n][tag] for n in names]


def _summaries(study: Mapping, per_seed_values: list[np.ndarray], n_boot: int, seed: int) -> dict:
    from xailib.analysis.seeds import seed_molecule_summary

    mols = study["molecules"].tolist()
    return seed_molecule_summary([dict(zip(mols, v)) for v in per_seed_values], n_boot=n_boot, seed=seed)


def study_order_shares(study: Mapping, names: Sequence[str], *, tag: str = "gi", n_boot: int = 2000,
                       seed: int = 0) -> list[dict]:
    """Order shares per molecule, summarised over the seeds ``names`` (:func:`~xailib.analysis.seed_molecule_summary`).

    Where the computed orders are complete (``max_order`` = interactions + 1; 3-interaction models), kinds:
    ``abs`` (sum of |terms| of the order over the sum over all orders), ``signed`` (signed order sum over
    the rule output; adds to 1) and ``abs_net`` (the older convention: the highest order entered as the
    |net| sum of its terms, the lower ones as sums of |terms|; kept to measure its bias) and ``abs_truncated``
    (orders below the highest over their own sum of |terms|, like the incomplete case). Always: ``abs_of23``
    (order 3: |3-body| over |2-body| + |3-body|, the 1-body part left out). Where they are not
    (6-interaction SchNet): ``abs`` over the computed orders only, ``signed`` with order ``"remainder"`` (the
    net relevance of larger sets over the rule output), and ``net_bound`` (order ``"remainder"``:
    |remainder| over sum |terms| + |remainder|, a lower bound of the absolute share of the larger sets,
    since |net| <= sum of |terms|). Rows: ``kind``, ``order``, ``complete`` and the summary keys.
    """
    entries = _entries(study, names, tag)
    meta = study["meta"]["models"]
    complete = {bool(meta[n]["complete"]) for n in names}
    if len(complete) != 1:
        raise ValueError("mix of complete and incomplete order sums; summarise them separately")
    complete = complete.pop()
    kinds: dict[tuple[str, object], list[np.ndarray]] = {}
    for e in entries:
        signed, absolute, out = e["orders"], e["orders_abs"], e["rule_output"]
        k_max = signed.shape[1]
        for k in range(k_max):
            kinds.setdefault(("abs", k + 1), []).append(absolute[:, k] / absolute.sum(1))
            kinds.setdefault(("signed", k + 1), []).append(signed[:, k] / out)
        kinds.setdefault(("abs_of23", 3), []).append(absolute[:, 2] / (absolute[:, 1] + absolute[:, 2]))
        if complete:
            mixed = np.column_stack([absolute[:, :-1], np.abs(signed[:, -1])])
            for k in range(k_max):
                kinds.setdefault(("abs_net", k + 1), []).append(mixed[:, k] / mixed.sum(1))
            for k in range(k_max - 1):
                kinds.setdefault(("abs_truncated", k + 1), []).append(absolute[:, k] / absolute[:, :-1].sum(1))
        else:
            rem = e["remainder"]
            kinds.setdefault(("signed", "remainder"), []).append(rem / out)
            kinds.setdefault(("net_bound", "remainder"), []).append(np.abs(rem) / (absolute.sum(1) + np.abs(rem)))
    return [{"kind": kind, "order": order, "complete": complete, **_summaries(study, v, n_boot, seed)}
            for (kind, order), v in kinds.items()]


def study_distance_shares(study: Mapping, names: Sequence[str], *, n_boot: int = 2000, seed: int = 0,
                          level: float = 0.95) -> dict[str, np.ndarray]:
    """3-body share of |2-body| + |3-body| per distance bin (``study["edges"]``; 3-body terms by largest pair
    distance), per seed the ratio of the sums over molecules (:func:`share3_by_distance`); ``mean``/``sd``/``min``/
    ``max`` over seeds, ``per_seed``, and a
    molecule-bootstrap interval (``low``, ``high``) of the seed mean (each replicate draws molecules once for
    all seeds). ``n_molecules``: molecules with a 2- or 3-body term in the bin."""
    entries = _entries(study, names, "gi")
    a2 = np.array([e["dist_abs2"] for e in entries], dtype=float)  # (seeds, molecules, bins)
    a3 = np.array([e["dist_abs3"] for e in entries], dtype=float)
    return _distance_summary(a2, a3, study["edges"], n_boot=n_boot, seed=seed, level=level)


def _distance_summary(a2: np.ndarray, a3: np.ndarray, edges: np.ndarray, *, n_boot: int, seed: int,
                      level: float) -> dict[str, np.ndarray]:
    """:func:`study_distance_shares` of binned sums ``a2``/``a3`` of shape (seeds, molecules, bins)."""
    per_seed = share3_by_distance(a2, a3)
    rng = np.random.default_rng(seed)
    n_mol = a2.shape[1]
    boot = np.empty((n_boot, a2.shape[2]))
    for b in range(n_boot):
        draw = rng.integers(0, n_mol, size=n_mol)
        boot[b] = np.mean(share3_by_distance(a2[:, draw], a3[:, draw]), axis=0)
    with warnings.catch_warnings():  # bins no molecule reaches: nan, no warning
        warnings.simplefilter("ignore", RuntimeWarning)
        low, high = np.nanquantile(boot, [(1 - level) / 2, (1 + level) / 2], axis=0)
        sd = per_seed.std(axis=0, ddof=1) if len(a2) > 1 else np.full(len(edges) - 1, np.nan)
        lo_seed, hi_seed = np.nanmin(per_seed, axis=0), np.nanmax(per_seed, axis=0)
    return {"edges": np.asarray(edges), "center": 0.5 * (edges[1:] + edges[:-1]), "mean": per_seed.mean(0), "sd": sd,
            "min": lo_seed, "max": hi_seed, "per_seed": per_seed, "low": low, "high": high,
            "n_molecules": ((a2 + a3) > 0).any(0).sum(0)}


# --- the 3-body share by distance on the known answers of chapter 03b ---

def binned_abs(r: np.ndarray, values: np.ndarray, molecule: np.ndarray, edges: Sequence[float],
               n_molecules: int) -> np.ndarray:
    """Summed ``|values|`` per molecule and distance bin, shape ``(n_molecules, len(edges) - 1)``.

    ``r`` is each term's distance (a pair's distance; a triple's longest side), ``molecule`` its molecule index
    (``0 .. n_molecules - 1``); terms outside the edges are left out. The layout of the study's
    ``dist_abs2``/``dist_abs3`` (:mod:`xailib.analysis.manybody_study`)."""
    edges = np.asarray(edges, dtype=float)
    r, v, mol = (np.asarray(x) for x in (r, values, molecule))
    if not (r.shape == v.shape == mol.shape) or r.ndim != 1:
        raise ValueError("r, values and molecule must be 1-D arrays of one length")
    nb = len(edges) - 1
    idx = np.searchsorted(edges, r, side="right") - 1
    ok = (idx >= 0) & (idx < nb)
    flat = mol[ok].astype(int) * nb + idx[ok]
    return np.bincount(flat, weights=np.abs(v[ok].astype(float)), minlength=n_molecules * nb).reshape(n_molecules, nb)


def share3_by_distance(abs2: np.ndarray, abs3: np.ndarray) -> np.ndarray:
    """3-body share of |2-body| + |3-body| per distance bin: the sums over molecules (axis -2) of :func:`binned_abs`
    arrays, ``sum |3| / sum (|2| + |3|)``; ``nan`` where a bin holds no term. Leading axes (seeds) are kept."""
    a2, a3 = np.asarray(abs2, dtype=float), np.asarray(abs3, dtype=float)
    if a2.shape != a3.shape or a2.ndim < 2:
        raise ValueError(f"abs2 and abs3 must be (..., molecules, bins) arrays of one shape, got {a2.shape}, "
                         f"{a3.shape}")
    s3, both = a3.sum(-2), (a2 + a3).sum(-2)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(both > 0, s3 / np.where(both > 0, both, 1.0), np.nan)


def triple_longest_sides(structures: Sequence) -> np.ndarray:
    """Longest side of every triple ``i < j < k`` (:func:`~xailib.analysis.known_answers.canonical_triples` order)."""
    out = []
    for atoms in structures:
        d = atoms.get_all_distances()
        for i, j, k in combinations(range(len(atoms)), 3):
            out.append(max(d[i, j], d[j, k], d[i, k]))
    return np.asarray(out, dtype=float)


def known_answer_distance_shares(potential: str, architecture: str | None = None, *, edges: Sequence[float],
                                 tag: str = "gi", n_boot: int = 2000, seed: int = 0, level: float = 0.95) -> dict:
    """The 3-body share by distance (:func:`share3_by_distance`, pairs by distance, triples by longest side) of
    chapter 03b's known answers on its test structures: of the exact terms of ``potential`` (``architecture``
    None), or of every seed of the models of ``architecture`` trained on it (their stored 2- and 3-body terms;
    only ``pair_power_atm`` stores 3-body terms). Same keys as :func:`study_distance_shares` (for the truth one
    "seed")."""
    from xailib.analysis.known_answer_report import cached_truth, load_known_answer, seed_names

    t = cached_truth(potential)
    n_mol, tri_mol, tri_r = known_answer_triples()
    edges = np.asarray(edges, dtype=float)
    if architecture is None:
        runs = [{"pair": t["pair"], "triple": t["triple"]}]
    else:
        runs = [load_known_answer(n)[tag] for n in seed_names(potential, architecture)]
        if any("triple" not in r for r in runs):
            raise KeyError(f"the models of {architecture} trained on {potential} have no stored 3-body terms")
    a2 = np.array([binned_abs(t["r"], r["pair"], t["structure"], edges, n_mol) for r in runs])
    a3 = np.array([binned_abs(tri_r, r["triple"], tri_mol, edges, n_mol) for r in runs])
    return _distance_summary(a2, a3, edges, n_boot=n_boot, seed=seed, level=level)


@lru_cache(maxsize=1)
def known_answer_triples() -> tuple[int, np.ndarray, np.ndarray]:
    """Number of test structures, and structure and longest side of each of their canonical triples."""
    from xailib.analysis.known_answers import canonical_triples, test_structures

    structures = test_structures()
    tri_mol = np.array([s for s, *_ in canonical_triples(structures)])
    return len(structures), tri_mol, triple_longest_sides(structures)


def study_vector_shares(study: Mapping, names: Sequence[str], *, n_boot: int = 2000, seed: int = 0) -> dict[str, dict]:
    """PaiNN's vector-channel shares (:func:`xailib.analysis.vector_channel.vector_shares`: ``net``, ``atoms``,
    ``of_output``) and ``scalar_of_output`` (``S / output``) per molecule, summarised over the seeds ``names``."""
    from xailib.analysis.vector_channel import vector_shares

    per: dict[str, list[np.ndarray]] = {}
    for name, e in zip(names, _entries(study, names, "gi")):
        if "vector_vector" not in e:
            raise KeyError(f"{name} has no vector-channel parts (PaiNN models only)")
        table = {k: e[f"vector_{k}"] for k in ("scalar", "vector", "scalar_abs", "vector_abs")}
        table["output"] = study["models"][name]["output"]
        for key, value in {**vector_shares(table), "scalar_of_output": table["scalar"] / table["output"]}.items():
            per.setdefault(key, []).append(value)
    return {key: _summaries(study, v, n_boot, seed) for key, v in per.items()}


def known_answer_share(potential: str, architecture: str, order: int, *, tag: str = "gi",
                       among: Sequence[int] | None = None) -> dict:
    """Chapter 03b's share of ``order`` in the summed |terms| (complete orders 1-4 under gi) of the models
    trained on a synthetic ``potential`` (``"init"``: the untrained baselines): :func:`~xailib.analysis.seed_summary`
    over seeds of the mean over molecules; the ``mean`` is the number chapter 03b reports. ``among``: the
    orders in the denominator (default all; ``(2, 3)``: the share of the 2- plus 3-body |terms|, per molecule,
    like the ``abs_of23`` kind of :func:`study_order_shares`)."""
    from xailib.analysis.known_answer_report import load_known_answer, seed_names
    from xailib.analysis.stats import seed_summary

    per_seed = []
    for name in seed_names(potential, architecture):
        a = load_known_answer(name)[tag]["orders_abs"].astype(float)
        denominator = a.sum(1) if among is None else a[:, [k - 1 for k in among]].sum(1)
        per_seed.append(float(np.mean(a[:, order - 1] / denominator)))
    return seed_summary(per_seed)
