"""Decay of relevance with distance: binned profiles and power-law or exponential fits with intervals."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy import stats

from xailib.analysis.tables import NBodyTable
from xailib.analysis.topology import envelope_corrected

if TYPE_CHECKING:
    from xailib.analysis.stats import Interval


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


def decay_fit_bootstrap(
    table: NBodyTable,
    structure_molecules: Sequence,
    r_min: float,
    r_max: float,
    *,
    normalise: str | None = "total_abs",
    n_boot: int = 200,
    seed: int = 0,
    level: float = 0.95,
) -> dict:
    """Power-law and exponential fits over a window with percentile intervals from a bootstrap over molecules.

    The terms of one molecule (all its frames, all its pairs) are correlated, so the intervals of
    :func:`fit_power_law` (which treat terms as independent) are far too narrow. Here each replicate draws
    as many molecules as there are, with replacement, takes every term of the drawn molecules in the
    window (a molecule drawn twice enters twice) and refits both laws.

    Parameters
    ----------
    table
        2- or 3-body terms (e.g. ``results.tables()[2]``); its ``molecule`` column indexes structures.
    structure_molecules
        The molecule of each structure of the table (e.g. ``results.molecule_ids()``).
    r_min, r_max
        The fit window (Angstrom), as in :func:`fit_power_law`.
    normalise
        As in :meth:`NBodyTable.normalised` (default: each term over its structure's total |relevance|).
    n_boot, seed, level
        Replicates, seed of the generator and nominal coverage. The draws depend only on ``seed``,
        ``n_boot`` and the set of molecules in ``structure_molecules``: two calls with the same three
        (e.g. for the 2- and 3-body tables of one result) draw the same molecules in every replicate, so
        their ``replicates`` are paired and a difference of two exponents can be bootstrapped.

    Returns
    -------
    dict
        ``power`` (:class:`~xailib.analysis.Interval` of the exponent ``n``), ``exponential`` (of the
        decay length), ``rmse_power`` and ``rmse_exponential`` (of the log-space residual scatter), each
        with the fit on all data as ``estimate`` and the number of molecules with terms in the window;
        ``replicates``: the per-replicate values under the same four keys (``nan`` where a replicate has
        fewer than 3 terms or no exponential decay).
    """
    from xailib.analysis.stats import Interval

    if n_boot < 1:
        raise ValueError(f"n_boot must be positive, got {n_boot}")
    if not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1), got {level}")
    mol = np.asarray(structure_molecules)
    if mol.ndim != 1 or len(mol) != len(table.output):
        raise ValueError(f"structure_molecules needs one entry per structure ({len(table.output)}), got {mol.shape}")
    r, rel = table.distance, np.abs(table.normalised(normalise))
    keep = (r >= r_min) & (r <= r_max) & (rel > 0) & np.isfinite(rel)
    power, expo = fit_power_law(r, rel, r_min, r_max), fit_exponential(r, rel, r_min, r_max)
    universe, inv = np.unique(mol, return_inverse=True)
    term_mol = inv.ravel()[table.molecule[keep]]
    log_r, r_kept, log_rel = np.log(r[keep]), r[keep], np.log(rel[keep])
    order = np.argsort(term_mol, kind="stable")
    rows_of = np.split(order, np.cumsum(np.bincount(term_mol, minlength=len(universe)))[:-1])
    rng = np.random.default_rng(seed)
    reps = {k: np.full(n_boot, np.nan) for k in ("power", "exponential", "rmse_power", "rmse_exponential")}
    for b in range(n_boot):
        rows = np.concatenate([rows_of[m] for m in rng.integers(0, len(universe), size=len(universe))])
        if len(rows) < 3:
            continue
        slope, _, _, _, rmse = _loglinear_fit(log_r[rows], log_rel[rows], level)
        reps["power"][b], reps["rmse_power"][b] = -slope, rmse
        slope, _, _, _, rmse = _loglinear_fit(r_kept[rows], log_rel[rows], level)
        reps["rmse_exponential"][b] = rmse
        if slope < 0:
            reps["exponential"][b] = -1.0 / slope
    estimates = {"power": power.n, "exponential": expo.n, "rmse_power": power.rmse_log,
                 "rmse_exponential": expo.rmse_log}
    n_mol = len(np.unique(term_mol))
    alpha = (1 - level) / 2
    out = {}
    for key, values in reps.items():
        low, high = np.nanquantile(values, [alpha, 1 - alpha]) if np.isfinite(values).any() else (np.nan, np.nan)
        out[key] = Interval(float(estimates[key]), float(low), float(high), n_mol, level)
    out["replicates"] = reps
    return out


def decay_exponent(r, values, molecules, *, window: tuple[float, float], k: int = 0,
                   cutoff: float = 5.0, n_boot: int = 200, seed: int = 0) -> Interval:
    """Power-law exponent ``n`` of ``|values| ~ r^-n`` (least squares in log-log space) over ``window``, after
    dividing by the cosine envelope to the power ``k`` (``k = 0``: raw), with a molecule-bootstrap interval.
    Zero terms are left out; a negative ``n`` means the terms grow with distance."""
    r, v, mol = np.asarray(r, float), np.abs(np.asarray(values, float)), np.asarray(molecules)
    keep = (r >= window[0]) & (r <= window[1]) & (v > 0) & np.isfinite(v)
    if keep.sum() < 3:
        raise ValueError(f"only {int(keep.sum())} non-zero terms in the window {window}; need 3")
    r, v, mol = r[keep], v[keep], mol[keep]
    if k:
        v = envelope_corrected(v, r, cutoff, k)
    from xailib.analysis.stats import molecule_bootstrap_rows

    log_r, log_v = np.log(r), np.log(v)

    def exponent(rows):
        return -float(np.polyfit(log_r[rows], log_v[rows], 1)[0]) if np.ptp(log_r[rows]) > 0 else float("nan")

    return molecule_bootstrap_rows(exponent, mol, n_boot=n_boot, seed=seed)
