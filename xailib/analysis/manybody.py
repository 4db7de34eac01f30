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
