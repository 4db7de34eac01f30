"""Locality of an explanation: how concentrated the relevance is on a few atoms."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def locality(atom_relevance: Sequence[float] | np.ndarray, *, k: int = 3) -> dict[str, float]:
    """How concentrated a molecule's relevance is on few atoms.

    Returns the share of absolute relevance on the top-``k`` atoms, the Shannon entropy of the
    normalised absolute relevances, and that entropy divided by ``log(N)`` (1 = spread evenly,
    0 = all on one atom).
    """
    r = np.abs(np.asarray(atom_relevance, dtype=float))
    if r.ndim != 1 or len(r) == 0:
        raise ValueError("atom_relevance must be a non-empty 1-D array")
    if k < 1:
        raise ValueError("k must be at least 1")
    total = r.sum()
    if total == 0:
        raise ValueError("all atom relevances are zero; locality is undefined")
    p = r / total
    entropy = float(-np.sum(p[p > 0] * np.log(p[p > 0])))
    norm = entropy / np.log(len(r)) if len(r) > 1 else 0.0
    return {"top_k_share": float(np.sort(p)[::-1][:k].sum()), "entropy": entropy, "normalised_entropy": float(norm)}
