"""Interaction strength per pair of elements: mean 2-body relevance with a bootstrap interval.

The interval is over pair terms unless ``molecule_ids`` is given (then over molecules, the replicates of
DESIGN.md section 7); :func:`xailib.analysis.pair_strengths` adds seeds and per-molecule weighting.
"""

from __future__ import annotations

import numpy as np
from ase.data import chemical_symbols

from xailib.analysis.stats import molecule_bootstrap
from xailib.analysis.tables import NBodyTable


def _bootstrap_mean_ci(values: np.ndarray, n_boot: int, rng: np.random.Generator, level: float) -> tuple[float, float]:
    if len(values) < 2:
        return float("nan"), float("nan")
    means = rng.choice(values, size=(n_boot, len(values)), replace=True).mean(axis=1)
    alpha = (1 - level) / 2
    return float(np.quantile(means, alpha)), float(np.quantile(means, 1 - alpha))


def element_pair_strength(
    table: NBodyTable,
    *,
    normalise: str | None = "total_abs",
    absolute: bool = False,
    max_distance: float | None = None,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
    molecule_ids=None,
) -> dict[tuple[str, str], dict[str, float]]:
    """Mean 2-body relevance per pair of elements, with counts and bootstrap confidence intervals.

    Parameters
    ----------
    table
        The 2-body table.
    normalise
        ``"output"``, ``"total_abs"`` (per molecule) or ``None``.
    absolute
        Average absolute instead of signed relevance.
    max_distance
        Keep only pairs closer than this (Angstrom), e.g. bonded pairs.
    molecule_ids
        The molecule of each structure of the table (``RelevanceResults.molecule_ids()``). If given, the
        interval comes from :func:`xailib.analysis.molecule_bootstrap` (whole molecules resampled, the
        pooled mean recomputed) and each entry gets ``n_molecules``; if not, from a bootstrap over pair
        terms, which treats correlated terms and frames as independent and is too narrow.

    Returns
    -------
    dict
        ``{("C", "H"): {"mean", "ci_low", "ci_high", "count"}}`` with element symbols in ascending Z
        (plus ``"n_molecules"`` with ``molecule_ids``).
    """
    if table.order != 2:
        raise ValueError(f"element_pair_strength needs the 2-body table, got order {table.order}")
    values = table.normalised(normalise)
    if absolute:
        values = np.abs(values)
    keep = np.ones(len(values), bool) if max_distance is None else table.distance < max_distance
    rng = np.random.default_rng(seed)
    mols = None if molecule_ids is None else np.asarray(molecule_ids)
    if mols is not None and len(mols) != len(table.output):
        raise ValueError(f"molecule_ids has {len(mols)} entries for {len(table.output)} structures")
    result = {}
    for pair in sorted({tuple(p) for p in table.numbers[keep].tolist()}):
        sel = keep & (table.numbers[:, 0] == pair[0]) & (table.numbers[:, 1] == pair[1])
        v = values[sel]
        symbols = (chemical_symbols[pair[0]], chemical_symbols[pair[1]])
        if molecule_ids is None:
            low, high = _bootstrap_mean_ci(v, n_boot, rng, level)
            result[symbols] = {"mean": float(v.mean()), "ci_low": low, "ci_high": high, "count": int(sel.sum())}
        else:
            iv = molecule_bootstrap(v, mols[table.molecule[sel]], n_boot=n_boot, seed=seed, level=level)
            result[symbols] = {"mean": float(v.mean()), "ci_low": iv.low, "ci_high": iv.high, "count": int(sel.sum()),
                               "n_molecules": iv.n_molecules}
    return result
