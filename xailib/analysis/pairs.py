"""Interaction strength per pair of elements: mean 2-body relevance with a bootstrap interval over molecules."""

from __future__ import annotations

import numpy as np
from ase.data import chemical_symbols

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

    Returns
    -------
    dict
        ``{("C", "H"): {"mean", "ci_low", "ci_high", "count"}}`` with element symbols in ascending Z.
    """
    if table.order != 2:
        raise ValueError(f"element_pair_strength needs the 2-body table, got order {table.order}")
    values = table.normalised(normalise)
    if absolute:
        values = np.abs(values)
    keep = np.ones(len(values), bool) if max_distance is None else table.distance < max_distance
    rng = np.random.default_rng(seed)
    result = {}
    for pair in sorted({tuple(p) for p in table.numbers[keep].tolist()}):
        sel = keep & (table.numbers[:, 0] == pair[0]) & (table.numbers[:, 1] == pair[1])
        v = values[sel]
        low, high = _bootstrap_mean_ci(v, n_boot, rng, level)
        symbols = (chemical_symbols[pair[0]], chemical_symbols[pair[1]])
        result[symbols] = {"mean": float(v.mean()), "ci_low": low, "ci_high": high, "count": int(sel.sum())}
    return result
