"""Statistics of the shipped datasets (used by the data chapter)."""

from __future__ import annotations

import os

import numpy as np

from xailib.base.paths import data_dir
from xailib.data.store import db_path


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
