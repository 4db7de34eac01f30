"""Training figures: validation learning curves of seed replicas (see :mod:`xailib.models.replicas`)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

__all__ = ["learning_curves"]


def learning_curves(curves: Mapping[str, Mapping[str, np.ndarray]], ax=None, *, key: str = "val_loss",
                    scale: float = 1.0, mark_best: bool = True, title: str = "", ylabel: str | None = None,
                    colors=None, legend: bool = True):
    """Plot one validation curve per run (e.g. per seed) against the epoch, log y, best epochs marked.

    Parameters
    ----------
    curves
        ``{label: curve}``, each curve as returned by :func:`xailib.models.learning_curve` (``epoch``,
        ``val_loss`` and ``key``).
    ax
        The matplotlib axes to draw on; default: a new figure's.
    key
        The column plotted (``val_loss``, ``val_energy_MAE``, ...), multiplied by ``scale`` (e.g. 1000
        for meV).
    mark_best
        Mark each run's best epoch, the one with the lowest ``val_loss`` (whose weights are shipped), with
        a filled circle on its curve.

    Returns
    -------
    matplotlib.axes.Axes
        The axes, with one line per run (``ax.get_lines()`` holds the curves first, then the markers).
    """
    import matplotlib.pyplot as plt

    if not curves:
        raise ValueError("no learning curves to plot")
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.4))
    for label, curve in curves.items():
        if key not in curve:
            raise KeyError(f"curve {label!r} has no {key!r}; it has {sorted(curve)}")
    colors = list(colors) if colors is not None else [None] * len(curves)
    lines = []
    for (label, curve), color in zip(curves.items(), colors):
        (line,) = ax.semilogy(curve["epoch"], scale * np.asarray(curve[key]), "-", lw=1.3, color=color, label=label)
        lines.append(line)
    if mark_best:
        for (label, curve), line in zip(curves.items(), lines):
            best = int(np.nanargmin(curve["val_loss"]))
            ax.semilogy(curve["epoch"][best], scale * curve[key][best], "o", ms=6, color=line.get_color(),
                        markeredgecolor="k", markeredgewidth=0.6)
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel if ylabel is not None else key.replace("_", " "))
    if title:
        ax.set_title(title)
    if legend:
        ax.legend(fontsize=8)
    return ax
