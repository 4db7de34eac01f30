"""Checks that a structure is computable, shared by every entry point that takes ``ase.Atoms``."""

from __future__ import annotations

from collections.abc import Collection

import numpy as np
from ase import Atoms
from ase.data import chemical_symbols

from xailib.base.errors import MalformedStructureError, UnsupportedElementError

#: Closer atoms than this (Angstrom) mean a broken structure.
MIN_DISTANCE = 0.4


def validate_structure(atoms: Atoms, *, elements: Collection[int] | None = None, max_z: int = 118,
                       min_distance: float = MIN_DISTANCE, method: str = "this method", periodic: bool = False) -> None:
    """Raise a named error unless ``atoms`` is a computable structure.

    Checks, in order: an ``ase.Atoms`` with at least one atom; positions of shape ``(n, 3)``, all finite;
    not periodic (with ``periodic=True``: a finite, non-degenerate cell along the periodic directions and no
    atom overlapping a periodic image); atomic numbers in ``1..max_z`` and, if given, in ``elements``; no
    two atoms closer than ``min_distance`` Angstrom (across the boundary for periodic structures).

    Raises
    ------
    MalformedStructureError
        Not an ``ase.Atoms``, no atoms, wrong shape, NaN or infinite coordinates, periodic, overlapping atoms.
    UnsupportedElementError
        An element outside ``1..max_z`` or outside ``elements``.
    """
    if not isinstance(atoms, Atoms):
        raise MalformedStructureError(f"expected an ase.Atoms object, got {type(atoms).__name__}")
    if len(atoms) == 0:
        raise MalformedStructureError("the structure has no atoms; build it with ase.Atoms(symbols, positions)")
    pos = np.asarray(atoms.positions, dtype=float)
    if pos.shape != (len(atoms), 3):
        raise MalformedStructureError(f"positions must have shape ({len(atoms)}, 3), got {pos.shape}")
    if not np.all(np.isfinite(pos)):
        raise MalformedStructureError("positions contain NaN or infinite values; check the geometry source")
    if atoms.pbc.any() and not periodic:
        raise MalformedStructureError(
            f"periodic structures are not supported by {method}: use an isolated molecule (atoms.pbc = False)"
        )
    numbers = np.asarray(atoms.numbers)
    bad = sorted({int(z) for z in numbers if z < 1 or z > max_z})
    if bad:
        raise UnsupportedElementError(f"{method} covers Z = 1..{max_z}; got atomic numbers {bad}")
    if elements is not None:
        other = sorted({chemical_symbols[int(z)] for z in numbers if int(z) not in elements})
        if other:
            allowed = ", ".join(chemical_symbols[z] for z in sorted(elements))
            raise UnsupportedElementError(f"elements {other} are outside the allowed set ({allowed})")
    if atoms.pbc.any():
        _check_periodic_cell(atoms, min_distance)
    elif len(atoms) > 1:
        d = atoms.get_all_distances()
        d = d[np.triu_indices(len(atoms), 1)]
        if d.min() < min_distance:
            raise MalformedStructureError(
                f"two atoms are {d.min():.3f} Ang apart (< {min_distance} Ang): overlapping atoms; "
                "fix the geometry (e.g. re-embed with RDKit)"
            )


def _check_periodic_cell(atoms: Atoms, min_distance: float) -> None:
    """A periodic structure needs a finite, non-degenerate cell and no atoms overlapping across its boundary."""
    cell = np.asarray(atoms.cell.array, dtype=float)
    periodic = cell[atoms.pbc]
    if not np.all(np.isfinite(cell)):
        raise MalformedStructureError("the cell contains NaN or infinite values; check the structure source")
    if np.linalg.matrix_rank(periodic, tol=1e-8) < len(periodic):
        raise MalformedStructureError(f"the structure is periodic along {atoms.pbc.tolist()} but its cell vectors "
                                      "there are zero or linearly dependent; set a cell or atoms.pbc = False")
    shifts = np.array(np.meshgrid(*[[-1, 0, 1]] * len(periodic), indexing="ij")).reshape(len(periodic), -1).T
    shortest = min(np.linalg.norm(k @ periodic) for k in shifts if k.any())
    if shortest < min_distance:
        raise MalformedStructureError(f"a periodic cell vector is {shortest:.3f} Ang long (< {min_distance} Ang): "
                                      "each atom overlaps its own image")
    if len(atoms) > 1:
        d = atoms.get_all_distances(mic=True)[np.triu_indices(len(atoms), 1)]
        if d.min() < min_distance:
            raise MalformedStructureError(f"two atoms are {d.min():.3f} Ang apart across the periodic boundary "
                                          f"(< {min_distance} Ang): overlapping atoms; fix the geometry or the cell")
