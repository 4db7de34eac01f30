"""Text of summarised numbers, for the book's tables and glued values.

Each formatter takes a summary as the analyses return it (the dicts of :func:`~xailib.analysis.seed_summary`,
:func:`~xailib.analysis.seed_molecule_summary`, :func:`~xailib.analysis.pair_rank_correlation`, or an
:class:`~xailib.analysis.Interval`) and writes it in one of the book's fixed forms. ``digits`` is the number
of decimals, ``scale`` multiplies every number first (``100`` for shares in %).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from xailib.analysis.stats import Interval

__all__ = ["format_summary", "format_interval", "format_difference", "format_seed_interval",
           "format_rank_correlation", "format_ranges", "format_seed_range", "pair_label"]


def format_summary(summary: Mapping, digits: int = 2, scale: float = 1.0) -> str:
    """``"mean ± sd [low, high]"``; ``"mean [low, high]"`` when ``sd`` is ``nan`` or missing (one seed)."""
    sd = summary.get("sd", float("nan"))
    spread = f" ± {scale * sd:.{digits}f}" if np.isfinite(sd) else ""
    return (f"{scale * summary['mean']:.{digits}f}{spread} "
            f"[{scale * summary['low']:.{digits}f}, {scale * summary['high']:.{digits}f}]")


def format_interval(interval: Interval, digits: int = 2) -> str:
    """``"estimate [low, high]"`` of an :class:`~xailib.analysis.Interval`."""
    return f"{interval.estimate:.{digits}f} [{interval.low:.{digits}f}, {interval.high:.{digits}f}]"


def format_difference(interval: Interval, pairings: Sequence[float], digits: int = 2, scale: float = 1.0,
                      unit: str = "") -> str:
    """``"+d [low, high]unit, seed pairings min to max"`` of a :func:`~xailib.analysis.seed_compare.paired_difference`
    (signed numbers)."""
    return (f"{scale * interval.estimate:+.{digits}f} [{scale * interval.low:+.{digits}f}, "
            f"{scale * interval.high:+.{digits}f}]{unit}, "
            f"seed pairings {scale * min(pairings):+.{digits}f} to {scale * max(pairings):+.{digits}f}")


def format_seed_interval(summary: Mapping, digits: int = 4) -> str:
    """``"+mean ± sd (seeds +min to +max; 95 % CI [+low, +high], n molecules)"`` of a
    :func:`~xailib.analysis.seed_molecule_summary` (a row of :func:`~xailib.analysis.pair_strengths`)."""
    s, d = summary, digits
    return (f"{s['mean']:+.{d}f} ± {s['sd']:.{d}f} (seeds {s['min']:+.{d}f} to {s['max']:+.{d}f}; "
            f"95 % CI [{s['low']:+.{d}f}, {s['high']:+.{d}f}], {s['n_molecules']} molecules)")


def format_rank_correlation(rho: Mapping) -> str:
    """A :func:`~xailib.analysis.pair_rank_correlation` as ``"+mean ± sd (seeds +min to +max; seed-averaged
    +pooled, 95 % CI [+low, +high]; n pairs, n molecules)"``, two decimals."""
    r = rho
    return (f"{r['mean']:+.2f} ± {r['sd']:.2f} (seeds {r['min']:+.2f} to {r['max']:+.2f}; seed-averaged "
            f"{r['pooled']:+.2f}, 95 % CI [{r['low']:+.2f}, {r['high']:+.2f}]; {r['n_pairs']} pairs, "
            f"{r['n_molecules']} molecules)")


def format_ranges(summary: Mapping, digits: int = 1, scale: float = 100.0, unit: str = " %") -> str:
    """``"mean unit (seeds [min, max], molecules [low, high])"`` (default: shares in %)."""
    def num(x):
        return f"{scale * x:.{digits}f}"
    s = summary
    return f"{num(s['mean'])}{unit} (seeds [{num(s['min'])}, {num(s['max'])}], molecules [{num(s['low'])}, {num(s['high'])}])"


def format_seed_range(summary: Mapping, digits: int = 1, scale: float = 100.0) -> str:
    """``"mean [min, max]"`` over seeds, no molecule interval (default: shares in %)."""
    s = summary
    return f"{scale * s['mean']:.{digits}f} [{scale * s['min']:.{digits}f}, {scale * s['max']:.{digits}f}]"


def pair_label(row: Mapping) -> str:
    """Label of an element-pair row (``row["pair"] = ("H", "C")``): ``"H–C"`` (en dash)."""
    return "–".join(row["pair"])
