"""Figures of the known-answer chapter: learned against true pair terms, and their decay with distance."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np


def pair_scatter(ax, true, learned, r, *, title: str = "", vmax: float = 5.0):
    """Learned against true 2-body terms (eV), coloured by distance, with the identity line."""
    true, learned, r = (np.asarray(x, float) for x in (true, learned, r))
    sc = ax.scatter(true, learned, c=r, s=4, cmap="viridis", vmin=0.0, vmax=vmax, alpha=0.6, rasterized=True)
    lo, hi = float(min(true.min(), learned.min())), float(max(true.max(), learned.max()))
    ax.plot([lo, hi], [lo, hi], "k--", lw=0.8)
    ax.set(xlabel="true pair energy (eV)", ylabel="learned 2-body term (eV)", title=title)
    return sc


def binned_abs(r, values, bins: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """Bin centres and mean ``|values|`` per distance bin (``nan`` for empty bins)."""
    r, v = np.asarray(r, float), np.abs(np.asarray(values, float))
    edges = np.asarray(bins, float)
    idx = np.digitize(r, edges) - 1
    mean = np.array([v[idx == b].mean() if np.any(idx == b) else np.nan for b in range(len(edges) - 1)])
    return 0.5 * (edges[1:] + edges[:-1]), mean


def decay_panel(ax, r, curves: Mapping[str, np.ndarray], *, bins: Sequence[float] | None = None,
                window: tuple[float, float] | None = None, title: str = ""):
    """Mean ``|term|`` against distance on log-log axes, one line per entry of ``curves`` (label -> values),
    with the fit window shaded."""
    from matplotlib.ticker import NullFormatter

    bins = np.linspace(1.0, 5.0, 33) if bins is None else bins
    for label, values in curves.items():
        centre, mean = binned_abs(r, values, bins)
        ok = np.isfinite(mean) & (mean > 0)
        ax.plot(centre[ok], mean[ok], marker="o", ms=3, label=label)
    if window is not None:
        ax.axvspan(*window, color="0.9", zorder=0)
    ax.set(xscale="log", yscale="log", xlabel="pair distance (Å)", ylabel="mean |2-body term| (eV)", title=title)
    ticks = [t for t in (1, 1.5, 2, 3, 4, 5) if bins[0] <= t <= bins[-1]]
    ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.legend(fontsize=7)
