"""Relevance maps of one molecule: a static 2-D map (matplotlib) and an interactive 3-D view (py3Dmol)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

#: CPK-like colours for the elements of organic molecules (others grey).
ELEMENT_COLOURS = {1: "#d9d9d9", 6: "#404040", 7: "#3050f8", 8: "#ff0d0d", 9: "#90e050", 16: "#e0c000",
                   17: "#1ff01f"}


def project_2d(positions: np.ndarray) -> np.ndarray:
    """Positions projected on their two principal axes (the view that shows the molecule best)."""
    centred = positions - positions.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    return centred @ vt[:2].T


def relevance_map(atoms, pairs: Mapping[tuple[int, int], float], atom_values: np.ndarray | None = None, *,
                  ax=None, top: int | None = 15, title: str | None = None):
    """2-D relevance map: atoms (colour by element, labelled ``symbol index``), the ``top`` pair terms
    as lines (red positive, blue negative, width by ``|R|``) and, if given, atom terms as rings.

    Parameters
    ----------
    atoms
        ``ase.Atoms``.
    pairs
        ``{(i, j): relevance}``, e.g. ``NBodyRelevances.order(2)``.
    atom_values
        Optional per-atom relevance (e.g. 1-body terms), drawn as rings scaled by ``|R|``.
    top
        Draw only the ``top`` largest ``|R|`` pairs (``None``: all).

    Returns
    -------
    matplotlib.axes.Axes
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(5, 4))
    xy = project_2d(atoms.positions)
    items = sorted(pairs.items(), key=lambda kv: -abs(kv[1]))[:top]
    scale = max((abs(r) for _, r in items), default=1.0) or 1.0
    for (i, j), r in reversed(items):
        ax.plot(*xy[[i, j]].T, color="#c0392b" if r > 0 else "#2e64b4", lw=0.5 + 6 * abs(r) / scale,
                alpha=0.85, solid_capstyle="round", zorder=1)
    colours = [ELEMENT_COLOURS.get(int(z), "#a0a0a0") for z in atoms.numbers]
    ax.scatter(*xy.T, s=[260 if z > 1 else 140 for z in atoms.numbers], c=colours, edgecolors="k", zorder=2)
    if atom_values is not None:
        a_scale = np.abs(atom_values).max() or 1.0
        for (x, y), r in zip(xy, atom_values):
            ax.scatter([x], [y], s=150 + 900 * abs(r) / a_scale, facecolors="none", zorder=3,
                       edgecolors="#c0392b" if r > 0 else "#2e64b4", linewidths=1.5)
    for k, ((x, y), sym) in enumerate(zip(xy, atoms.get_chemical_symbols())):
        ax.annotate(f"{sym}{k}", (x, y), xytext=(6, 6), textcoords="offset points", fontsize=8, zorder=4)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title)
    return ax


def relevance_view(atoms, pairs: Mapping[tuple[int, int], float], *, top: int = 10, width: int = 420,
                   height: int = 320):
    """Interactive py3Dmol view: the molecule as sticks, the ``top`` pair terms as cylinders
    (red positive, blue negative, radius by ``|R|``). Needs ``py3Dmol``; use :func:`relevance_map`
    for a static figure."""
    from xailib.viz.molecules import view3d

    view = view3d(atoms, width=width, height=height)
    items = sorted(pairs.items(), key=lambda kv: -abs(kv[1]))[:top]
    scale = max((abs(r) for _, r in items), default=1.0) or 1.0
    for (i, j), r in items:
        a, b = atoms.positions[i], atoms.positions[j]
        view.addCylinder({"start": dict(zip("xyz", map(float, a))), "end": dict(zip("xyz", map(float, b))),
                          "radius": 0.05 + 0.25 * abs(r) / scale, "color": "red" if r > 0 else "blue",
                          "opacity": 0.6, "fromCap": 1, "toCap": 1})
    view.zoomTo()
    return view
