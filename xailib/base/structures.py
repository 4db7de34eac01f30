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
                       min_distance: float = MIN_DISTANCE, method: str = "this method") -> None:
    """Raise a named error unless ``atoms`` is a computable isolated molecule.

    Checks, in order: an ``ase.Atoms`` with at least one atom; positions of shape ``(n, 3)``, all finite;
    not periodic; atomic numbers in ``1..max_z`` and, if given, in ``elements``; no two atoms closer than
    ``min_distance`` Angstrom.

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
    if atoms.pbc.any():
        raise MalformedStructureError(
            "periodic structures are not supported here: use an isolated molecule (atoms.pbc = False)"
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
    if len(atoms) > 1:
        d = atoms.get_all_distances()
        d = d[np.triu_indices(len(atoms), 1)]
        if d.min() < min_distance:
            raise MalformedStructureError(
                f"two atoms are {d.min():.3f} Ang apart (< {min_distance} Ang): overlapping atoms; "
                "fix the geometry (e.g. re-embed with RDKit)"
            )
