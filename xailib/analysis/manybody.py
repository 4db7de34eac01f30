"""Many-body order: the shares of the total relevance carried by 1-, 2-, 3-body terms and higher orders."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

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
