"""Pictures of molecules: a static matplotlib ball-and-stick drawing and an interactive py3Dmol view."""

from __future__ import annotations

import numpy as np

from xailib.data.molecules import geometry_adjacency


def view3d(atoms, width: int = 400, height: int = 300):
    """An interactive py3Dmol view (sticks and spheres) of ``ase.Atoms``."""
    import py3Dmol
    from ase.data import chemical_symbols

    xyz = f"{len(atoms)}\n\n" + "\n".join(
        f"{chemical_symbols[z]} {x:.5f} {y:.5f} {w:.5f}" for z, (x, y, w) in zip(atoms.numbers, atoms.positions))
    view = py3Dmol.view(width=width, height=height)
    view.addModel(xyz, "xyz")
    view.setStyle({"stick": {"radius": 0.15}, "sphere": {"scale": 0.25}})
    view.zoomTo()
    return view


def draw_static(atoms, ax=None, bonds: np.ndarray | None = None):
    """A static matplotlib ball-and-stick picture (projection on the two main inertia axes)."""
    import matplotlib.pyplot as plt
    from ase.data import covalent_radii
    from ase.data.colors import jmol_colors

    pos = atoms.positions - atoms.positions.mean(axis=0)
    _, vecs = np.linalg.eigh(pos.T @ pos)
    proj = pos @ vecs[:, ::-1]  # largest spread first; third column is depth
    adj = geometry_adjacency(atoms.numbers, atoms.positions) if bonds is None else bonds
    ax = ax or plt.gca()
    for i, j in zip(*np.nonzero(np.triu(adj, 1))):
        ax.plot(proj[[i, j], 0], proj[[i, j], 1], color="0.4", lw=2.5, zorder=1)
    order = np.argsort(proj[:, 2])
    ax.scatter(proj[order, 0], proj[order, 1], s=900 * covalent_radii[atoms.numbers[order]] ** 2,
               c=jmol_colors[atoms.numbers[order]], edgecolors="k", linewidths=0.8, zorder=2)
    ax.set_aspect("equal")
    ax.axis("off")
    return ax
