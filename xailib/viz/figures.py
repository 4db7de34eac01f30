"""Static matplotlib figures for the dataset-level analyses (element-pair heatmaps, decay plots, shares)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from ase.data import atomic_numbers

__all__ = ["pair_matrix", "pair_heatmap", "decay_plot", "shares_bars"]


def pair_matrix(
    strength: Mapping[tuple[str, str], Mapping[str, float]],
    elements: Sequence[str] | None = None,
    key: str = "mean",
    min_count: int = 1,
) -> tuple[list[str], np.ndarray]:
    """Symmetric element-by-element matrix of one field of :func:`xailib.analysis.element_pair_strength`.

    Parameters
    ----------
    strength
        ``{(el_a, el_b): {"mean", "ci_low", "ci_high", "count"}}``.
    elements
        Row/column order; default: all elements present, by atomic number.
    key
        The field to place (``"mean"``, ``"count"``, ...).
    min_count
        Pairs seen fewer times are left empty (``nan``).

    Returns
    -------
    elements, matrix
        The element order and the ``(E, E)`` matrix, ``nan`` where a pair is absent or too rare.
    """
    present = sorted({el for pair in strength for el in pair}, key=lambda s: atomic_numbers[s])
    elements = list(present if elements is None else elements)
    unknown = [el for el in present if el not in elements]
    if unknown:
        raise ValueError(f"elements {unknown} occur in the pair strengths but not in `elements`; add them")
    index = {el: i for i, el in enumerate(elements)}
    mat = np.full((len(elements), len(elements)), np.nan)
    for (a, b), stats in strength.items():
        if stats["count"] >= min_count:
            mat[index[a], index[b]] = mat[index[b], index[a]] = stats[key]
    return elements, mat


def pair_heatmap(strength, ax, *, elements=None, key="mean", min_count=1, title="", cmap="RdBu_r",
                 symmetric=True, fmt="{:.3f}"):
    """Draw :func:`pair_matrix` as an annotated heatmap (value and count per cell); returns the image.

    ``symmetric`` centres a diverging colour scale on zero (for signed relevances).
    """
    els, mat = pair_matrix(strength, elements, key, min_count)
    _, counts = pair_matrix(strength, els, "count", min_count)
    vmax = np.nanmax(np.abs(mat)) if np.isfinite(mat).any() else 1.0
    limits = dict(vmin=-vmax, vmax=vmax) if symmetric else dict(vmin=0, vmax=vmax)
    img = ax.imshow(np.ma.masked_invalid(mat), cmap=cmap, **limits)
    for i in range(len(els)):
        for j in range(len(els)):
            if np.isfinite(mat[i, j]):
                ax.text(j, i, f"{fmt.format(mat[i, j])}\n(n={int(counts[i, j])})", ha="center", va="center",
                        fontsize=6.5, color="k")
    ax.set_xticks(range(len(els)), els)
    ax.set_yticks(range(len(els)), els)
    ax.set_title(title)
    return img


def decay_plot(profile: Mapping[str, np.ndarray], ax, *, fit=None, label: str = "", color=None,
               min_count: int = 1, fit_range: tuple[float, float] | None = None):
    """Binned mean |relevance| against distance on log-log axes, with standard errors and a fitted law.

    ``profile`` is the output of :func:`xailib.analysis.decay_profile`; ``fit`` a
    :class:`xailib.analysis.DecayFit` (power or exponential) drawn over ``fit_range`` (its fit window;
    default: all bins).
    """
    ok = (profile["count"] >= min_count) & np.isfinite(profile["mean"]) & (profile["mean"] > 0)
    r, m, s = profile["center"][ok], profile["mean"][ok], np.nan_to_num(profile["sem"][ok])
    line = ax.errorbar(r, m, yerr=np.minimum(s, 0.999 * m), fmt="o", ms=3.5, capsize=2, label=label, color=color)
    if fit is not None:
        x = np.linspace(*(fit_range or (r.min(), r.max())), 100)
        y = fit.amplitude * (x ** -fit.n if fit.kind == "power" else np.exp(-x / fit.n))
        what = f"n = {fit.n:.1f}" if fit.kind == "power" else f"length {fit.n:.2f} A"
        ax.plot(x, y, "-", color=line[0].get_color(), lw=1, label=f"{label} fit, {what}".strip())
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("distance r (A)")
    ax.set_ylabel("mean |relevance|")
    return line


def shares_bars(shares: Mapping[str, Mapping[str, float]], ax, *, title: str = ""):
    """Grouped bars of many-body shares, one group per order and one bar per model."""
    models = list(shares)
    orders = list(next(iter(shares.values())))
    width = 0.8 / len(models)
    for k, name in enumerate(models):
        ax.bar(np.arange(len(orders)) + (k - (len(models) - 1) / 2) * width,
               [shares[name][o] for o in orders], width, label=name)
    ax.set_xticks(range(len(orders)), orders)
    ax.set_ylabel("share of |relevance|")
    ax.set_title(title)
    ax.legend(fontsize=8)
