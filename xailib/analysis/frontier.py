"""Do atom relevances sit where the frontier orbitals sit? One molecule's relevances against its HOMO/LUMO populations.

:func:`frontier_agreement` compares the absolute atom relevances ``|R_i|`` of one molecule with the
frontier population ``f_i`` of each atom (e.g. the mean of the HOMO and LUMO Mulliken populations of
:func:`xailib.qm.orbitals.frontier_populations`) in two ways, each with baselines that say what the number
would be without any knowledge of the orbitals:

- **Spearman** rank correlation of ``|R_i|`` and ``f_i`` over the atoms, against the same correlation
  after shuffling the relevances among atoms of the same element (``spearman_element``, the mean over
  seeded permutations). Frontier orbitals sit mostly on heavy atoms and heteroatoms, so any relevance that
  is larger on heavy atoms correlates with them; the element null keeps that and removes the rest.
- **Frontier share**: the share of ``|R|`` on the *frontier atoms*, the fewest atoms that together carry at
  least ``half`` of the frontier population. Baselines: ``share_even`` (relevance spread evenly: their
  number over ``N``) and ``share_element`` (the exact expectation when relevances are shuffled within
  elements: each element's relevance spread evenly over its atoms).

The share test has power only in an **informative** molecule (:func:`frontier_informative`): one in which
some element has atoms both inside and outside the frontier atoms. If every element's atoms lie wholly
inside or wholly outside, shuffling within elements cannot move relevance across the boundary and the
share equals ``share_element`` exactly, whatever the relevances; such molecules only dilute a test of
``share - share_element`` and are left out of it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.stats import rankdata


#: The frontier populations :func:`orbital_population` gives: the mean of HOMO and LUMO, and each alone.
ORBITALS = ("frontier", "HOMO", "LUMO")


def orbital_population(entry, orbital: str) -> np.ndarray:
    """Population per atom of one of :data:`ORBITALS` from an entry with ``homo_pop`` and ``lumo_pop`` (e.g.
    ``load_frontier_table().of(molecule)``): ``"frontier"`` is ``(homo_pop + lumo_pop) / 2``."""
    if orbital == "frontier":
        return (entry["homo_pop"] + entry["lumo_pop"]) / 2
    if orbital in ("HOMO", "LUMO"):
        return entry[f"{orbital.lower()}_pop"]
    raise ValueError(f"orbital must be one of {ORBITALS}, got {orbital!r}")


def frontier_atoms(population: Sequence[float] | np.ndarray, half: float = 0.5) -> np.ndarray:
    """Indices of the fewest atoms that carry at least ``half`` of the total (positive) population."""
    f = np.clip(np.asarray(population, dtype=float), 0.0, None)
    if f.ndim != 1 or f.sum() <= 0:
        raise ValueError("population must be a 1-D array with a positive sum")
    if not 0 < half <= 1:
        raise ValueError(f"half must lie in (0, 1], got {half}")
    order = np.argsort(-f, kind="stable")
    k = int(np.searchsorted(np.cumsum(f[order]) / f.sum(), half - 1e-12) + 1)
    return np.sort(order[:k])


def frontier_informative(population: Sequence[float] | np.ndarray, numbers: Sequence[int] | np.ndarray,
                         half: float = 0.5) -> bool:
    """Whether shuffling relevances within elements can change the frontier share of this molecule.

    True when some element has atoms both among the frontier atoms (:func:`frontier_atoms`) and outside
    them; otherwise the frontier share equals its within-element null for every relevance vector.
    """
    z = np.asarray(numbers)
    if np.shape(population) != z.shape:
        raise ValueError(f"population {np.shape(population)} and numbers {z.shape} must have the same shape")
    return _straddles(np.isin(np.arange(len(z)), frontier_atoms(population, half)), z)


def _straddles(in_top: np.ndarray, z: np.ndarray) -> bool:
    """Some element has atoms both inside and outside the frontier atoms."""
    return bool(any(0 < in_top[z == e].sum() < (z == e).sum() for e in np.unique(z)))


def _pearson_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pearson correlation of each row of ``x`` with ``y`` (nan for a constant row)."""
    xc, yc = x - x.mean(axis=-1, keepdims=True), y - y.mean()
    denom = np.sqrt((xc ** 2).sum(axis=-1) * (yc ** 2).sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, (xc * yc).sum(axis=-1) / denom, np.nan)


def _within_element_permutations(numbers: np.ndarray, n_perm: int, rng: np.random.Generator) -> np.ndarray:
    perms = np.tile(np.arange(len(numbers)), (n_perm, 1))
    for z in np.unique(numbers):
        idx = np.flatnonzero(numbers == z)
        if len(idx) > 1:
            perms[:, idx] = idx[np.argsort(rng.random((n_perm, len(idx))), axis=1)]
    return perms


def frontier_agreement(relevance: Sequence[float] | np.ndarray, population: Sequence[float] | np.ndarray,
                       numbers: Sequence[int] | np.ndarray, *, half: float = 0.5, n_perm: int = 200,
                       seed: int = 0) -> dict[str, float]:
    """How well one molecule's atom relevances follow its frontier-orbital populations (module docstring).

    Parameters
    ----------
    relevance
        Atom relevances ``R_i`` (their absolute values are compared).
    population
        Frontier population per atom (e.g. ``(homo_pop + lumo_pop) / 2``).
    numbers
        Atomic numbers (for the within-element null).
    half, n_perm, seed
        Population share that defines the frontier atoms; permutations and seed of the Spearman null.

    Returns
    -------
    dict
        ``spearman``, ``spearman_element`` (null), ``share``, ``share_even``, ``share_element`` (baselines),
        ``n_frontier`` (number of frontier atoms), ``n_atoms`` and ``informative``
        (:func:`frontier_informative`: whether ``share`` can differ from ``share_element`` at all).
    """
    r = np.abs(np.asarray(relevance, dtype=float))
    f = np.asarray(population, dtype=float)
    z = np.asarray(numbers)
    if not r.shape == f.shape == z.shape or r.ndim != 1 or len(r) < 2:
        raise ValueError(f"relevance {r.shape}, population {f.shape} and numbers {z.shape} must be equal 1-D "
                         "arrays of at least two atoms")
    if r.sum() == 0:
        raise ValueError("all atom relevances are zero; the agreement is undefined")
    rank_r, rank_f = rankdata(r), rankdata(f)
    perms = _within_element_permutations(z, n_perm, np.random.default_rng(seed))
    top = frontier_atoms(f, half)
    in_top = np.isin(np.arange(len(r)), top)
    element_share = sum(r[z == e].sum() * np.mean(in_top[z == e]) for e in np.unique(z)) / r.sum()
    return {"spearman": float(_pearson_rows(rank_r[None], rank_f)[0]),
            "spearman_element": float(np.nanmean(_pearson_rows(rank_r[perms], rank_f))),
            "share": float(r[top].sum() / r.sum()), "share_even": len(top) / len(r),
            "share_element": float(element_share), "n_frontier": len(top), "n_atoms": len(r),
            "informative": _straddles(in_top, z)}
