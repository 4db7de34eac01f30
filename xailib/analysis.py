"""Dataset-level analyses of n-body relevances: element pairs, decay with distance, many-body order, locality.

The analyses work on :class:`NBodyTable` objects, flat tables with one row per n-body term (molecule
index, element numbers, the distance that characterises the term, its relevance, and a per-molecule
scale for normalisation). :func:`tables_from_nbody` builds them from per-molecule n-body results.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations

import numpy as np
from ase.data import chemical_symbols
from scipy import stats

from xailib.relevance_runs import RelevanceResults, explain_dataset, load_results, save_results

__all__ = [
    "NBodyTable", "tables_from_nbody", "element_pair_strength", "decay_profile", "DecayFit", "fit_power_law",
    "fit_exponential", "manybody_shares", "manybody_shares_by_distance", "locality", "explain_dataset",
    "RelevanceResults", "load_results", "save_results",
]

ORDERS = (1, 2, 3)


@dataclass(frozen=True)
class NBodyTable:
    """One row per n-body term of a given order.

    Attributes
    ----------
    order
        1, 2 or 3.
    molecule
        Index of the molecule each term belongs to, shape ``(M,)``.
    numbers
        Sorted atomic numbers of the term's atoms, shape ``(M, order)``.
    distance
        0 for 1-body terms, the pair distance for 2-body terms and the largest pair distance for
        3-body terms (Angstrom), shape ``(M,)``.
    relevance
        The term's relevance, shape ``(M,)``.
    output
        The explained model output of each molecule, shape ``(n_molecules,)``.
    total_abs
        Per molecule, the sum of absolute relevance over all orders including the remainder.
    """

    order: int
    molecule: np.ndarray
    numbers: np.ndarray
    distance: np.ndarray
    relevance: np.ndarray
    output: np.ndarray
    total_abs: np.ndarray

    def __post_init__(self) -> None:
        m = len(self.relevance)
        if self.order not in ORDERS:
            raise ValueError(f"order must be one of {ORDERS}, got {self.order}")
        if self.numbers.shape != (m, self.order) or self.molecule.shape != (m,) or self.distance.shape != (m,):
            raise ValueError("NBodyTable columns have inconsistent shapes")

    def normalised(self, by: str | None) -> np.ndarray:
        """Relevance divided by the molecule's output (``"output"``) or total absolute relevance
        (``"total_abs"``); unchanged for ``None``."""
        if by is None:
            return self.relevance
        if by not in ("output", "total_abs"):
            raise ValueError(f"normalise must be None, 'output' or 'total_abs', got {by!r}")
        scale = (self.output if by == "output" else self.total_abs)[self.molecule]
        if np.any(scale == 0):
            raise ValueError(f"cannot normalise by {by}: a molecule has {by} = 0")
        return self.relevance / scale


def tables_from_nbody(
    positions: Sequence[np.ndarray],
    numbers: Sequence[np.ndarray],
    terms: Sequence[Mapping[tuple[int, ...], float]],
    remainders: Sequence[float],
    outputs: Sequence[float],
) -> dict[int, NBodyTable]:
    """Flatten per-molecule n-body terms into one :class:`NBodyTable` per order.

    Parameters
    ----------
    positions, numbers
        Per molecule, the ``(N, 3)`` positions (Angstrom) and ``(N,)`` atomic numbers.
    terms
        Per molecule, exact-set relevances keyed by sorted atom-index tuples of length 1, 2 or 3.
    remainders
        Per molecule, the relevance of all higher orders.
    outputs
        Per molecule, the explained model output.
    """
    if not (len(positions) == len(numbers) == len(terms) == len(remainders) == len(outputs)):
        raise ValueError("positions, numbers, terms, remainders and outputs must have one entry per molecule")
    total_abs = np.array(
        [sum(abs(v) for v in t.values()) + abs(rem) for t, rem in zip(terms, remainders)], dtype=float
    )
    rows: dict[int, list] = {k: [] for k in ORDERS}
    for mol, (pos, z, t) in enumerate(zip(positions, numbers, terms)):
        pos, z = np.asarray(pos, dtype=float), np.asarray(z)
        for key, value in t.items():
            if len(key) not in ORDERS or tuple(sorted(key)) != tuple(key) or len(set(key)) != len(key):
                raise ValueError(f"molecule {mol}: term key {key} is not a sorted tuple of 1-3 distinct atoms")
            dist = max((np.linalg.norm(pos[a] - pos[b]) for a, b in combinations(key, 2)), default=0.0)
            rows[len(key)].append((mol, tuple(sorted(z[list(key)])), dist, value))
    out = np.asarray(outputs, dtype=float)
    tables = {}
    for order, r in rows.items():
        tables[order] = NBodyTable(
            order=order,
            molecule=np.array([x[0] for x in r], dtype=int),
            numbers=np.array([x[1] for x in r], dtype=int).reshape(len(r), order),
            distance=np.array([x[2] for x in r], dtype=float),
            relevance=np.array([x[3] for x in r], dtype=float),
            output=out,
            total_abs=total_abs,
        )
    return tables


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


def decay_profile(
    table: NBodyTable,
    bins: Sequence[float] | np.ndarray,
    *,
    normalise: str | None = None,
    absolute: bool = True,
) -> dict[str, np.ndarray]:
    """Binned relevance against distance (pair distance; largest pair distance for 3-body terms).

    Returns
    -------
    dict
        ``center``, ``mean``, ``sem`` (standard error of the mean) and ``count`` per bin; empty bins
        have ``nan`` mean and sem.
    """
    if table.order < 2:
        raise ValueError("decay_profile needs 2- or 3-body terms")
    edges = np.asarray(bins, dtype=float)
    if edges.ndim != 1 or len(edges) < 2 or np.any(np.diff(edges) <= 0):
        raise ValueError("bins must be increasing bin edges")
    values = table.normalised(normalise)
    if absolute:
        values = np.abs(values)
    idx = np.digitize(table.distance, edges) - 1
    nb = len(edges) - 1
    mean, sem, count = np.full(nb, np.nan), np.full(nb, np.nan), np.zeros(nb, int)
    for b in range(nb):
        v = values[idx == b]
        count[b] = len(v)
        if len(v):
            mean[b] = v.mean()
            sem[b] = v.std(ddof=1) / np.sqrt(len(v)) if len(v) > 1 else np.nan
    return {"center": 0.5 * (edges[1:] + edges[:-1]), "mean": mean, "sem": sem, "count": count}


@dataclass(frozen=True)
class DecayFit:
    """A fitted decay law ``|R| = A r^-n`` (power) or ``|R| = A exp(-r/length)`` (exponential)."""

    kind: str
    n: float
    ci: tuple[float, float]
    amplitude: float
    r2: float
    rmse_log: float
    count: int


def _loglinear_fit(x: np.ndarray, y: np.ndarray, level: float) -> tuple[float, float, float, float, float]:
    """Least squares of y = a + b x; returns b, its half-width at ``level``, a, R^2, rmse."""
    res = stats.linregress(x, y)
    t = stats.t.ppf(0.5 + level / 2, len(x) - 2)
    pred = res.intercept + res.slope * x
    rmse = float(np.sqrt(np.mean((y - pred) ** 2)))
    return res.slope, t * res.stderr, res.intercept, res.rvalue**2, rmse


def _window(r, relevance, r_min, r_max):
    r, rel = np.asarray(r, dtype=float), np.abs(np.asarray(relevance, dtype=float))
    if r.shape != rel.shape:
        raise ValueError("r and relevance must have the same shape")
    if not 0 < r_min < r_max:
        raise ValueError(f"need 0 < r_min < r_max, got {r_min}, {r_max}")
    keep = (r >= r_min) & (r <= r_max) & (rel > 0) & np.isfinite(rel)
    if keep.sum() < 3:
        raise ValueError(f"only {int(keep.sum())} points with non-zero relevance in [{r_min}, {r_max}]; need 3")
    return r[keep], rel[keep]


def fit_power_law(r, relevance, r_min: float, r_max: float, *, level: float = 0.95) -> DecayFit:
    """Fit ``|R| ~ A r^-n`` by least squares in log-log space over ``r_min <= r <= r_max``.

    Returns a :class:`DecayFit` whose ``n`` is the exponent and ``ci`` its ``level`` confidence interval.
    """
    r, rel = _window(r, relevance, r_min, r_max)
    slope, half, intercept, r2, rmse = _loglinear_fit(np.log(r), np.log(rel), level)
    n = -slope
    return DecayFit("power", float(n), (float(n - half), float(n + half)), float(np.exp(intercept)), float(r2), rmse, len(r))


def fit_exponential(r, relevance, r_min: float, r_max: float, *, level: float = 0.95) -> DecayFit:
    """Fit ``|R| ~ A exp(-r / length)`` over the window; ``n`` holds the decay length (Angstrom)."""
    r, rel = _window(r, relevance, r_min, r_max)
    slope, half, intercept, r2, rmse = _loglinear_fit(r, np.log(rel), level)
    if slope >= 0:
        raise ValueError("relevance does not decay over the window; no exponential decay length")
    length = -1.0 / slope
    lo, hi = sorted((-1.0 / (slope - half), -1.0 / min(slope + half, -1e-300)))
    return DecayFit("exponential", float(length), (float(lo), float(hi)), float(np.exp(intercept)), float(r2), rmse, len(r))


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
