"""Statistics and pictures of the shipped datasets (used by the data chapter and by ``data/README.md``)."""

from __future__ import annotations

import os

import numpy as np

from xailib.datasets import data_dir, db_path


def label_arrays(name: str, keys: tuple[str, ...] = ("energy",), directory: str | os.PathLike | None = None,
                 ) -> dict[str, np.ndarray]:
    """Stored labels of every frame in row order.

    Molecular labels (``energy``, ``homo``, ``lumo``, ``gap``) come back with shape ``(n_frames,)``,
    ``dipole_moment`` as ``(n_frames, 3)``; per-atom labels (``forces``, ``atomic_energies``,
    ``partial_charges``) are concatenated over all atoms, and ``numbers`` (atomic numbers, concatenated)
    and ``n_atoms`` (per frame) are always included.
    """
    from ase.db import connect

    out: dict[str, list] = {k: [] for k in keys}
    numbers, n_atoms = [], []
    with connect(str(db_path(name, directory))) as conn:
        for row in conn.select():
            numbers.append(row.numbers)
            n_atoms.append(row.natoms)
            for k in keys:
                if k not in row.data:
                    raise KeyError(f"{name} has no label {k!r}; it has {sorted(row.data)}")
                out[k].append(np.asarray(row.data[k], dtype=float))
    arrays = {k: np.concatenate(v) if k not in ("dipole_moment",) else np.concatenate(v, axis=0)
              for k, v in out.items()}
    arrays["numbers"] = np.concatenate(numbers)
    arrays["n_atoms"] = np.asarray(n_atoms)
    return arrays


def summary(names: tuple[str, ...], directory: str | os.PathLike | None = None) -> list[dict]:
    """One dict per dataset: molecules, frames, atoms per frame, element counts, size on disk (MB)."""
    from ase.db import connect

    rows = []
    for name in names:
        with connect(str(db_path(name, directory))) as conn:
            md = conn.metadata
        size = sum(p.stat().st_size for p in data_dir(directory).glob(f"{name}.*")) / 1e6
        rows.append({"dataset": name, "molecules": md["n_molecules"], "frames": md["n_frames"],
                     "elements": md["elements"], "size_MB": round(size, 2),
                     "build_min": round(md["build_seconds"] / 60, 1)})
    return rows


def heavy_atom_counts(name: str, directory: str | os.PathLike | None = None) -> np.ndarray:
    """Heavy atoms per molecule of a dataset (from its SMILES)."""
    from ase.db import connect
    from rdkit import Chem

    with connect(str(db_path(name, directory))) as conn:
        smiles = conn.metadata["smiles"]
    return np.array([Chem.MolFromSmiles(s).GetNumHeavyAtoms() for s in smiles.values()])


def frame_atoms(name: str, index: int, directory: str | os.PathLike | None = None):
    """The ``ase.Atoms`` of row ``index`` (0-based) of a dataset."""
    from ase.db import connect

    with connect(str(db_path(name, directory))) as conn:
        return conn.get(id=int(index) + 1).toatoms()


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

    from xailib.molecules import geometry_adjacency

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
