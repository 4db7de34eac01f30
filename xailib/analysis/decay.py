"""Decay of relevance with distance: binned profiles and power-law or exponential fits with intervals."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from xailib.analysis.tables import NBodyTable


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
