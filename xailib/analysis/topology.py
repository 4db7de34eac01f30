"""Bond topology of a molecule from its geometry, and the cutoff envelope of schnetpack's filters.

:func:`bond_graph` connects atoms closer than ``scale`` times the sum of their ASE covalent radii;
:func:`bond_separation` counts bonds on the shortest path between two atoms and
:func:`separation_class` names it (``"1-2"`` ... ``">=1-5"``, ``"through-space"`` between fragments).
:func:`cosine_envelope` is schnetpack's ``CosineCutoff``; :func:`envelope_corrected` divides it out.
"""

from __future__ import annotations

import numpy as np
from ase import Atoms
from ase.data import covalent_radii
from scipy.sparse.csgraph import shortest_path

from xailib.base.structures import validate_structure

#: Names of the bond-separation classes, closest first.
SEPARATION_CLASSES = ("1-2", "1-3", "1-4", ">=1-5", "through-space")


def bond_graph(atoms: Atoms, scale: float = 1.2) -> np.ndarray:
    """Boolean ``(n, n)`` adjacency: ``d_ij < scale * (r_cov_i + r_cov_j)``, no self-bonds.

    Parameters
    ----------
    atoms
        An isolated molecule (checked by :func:`~xailib.base.structures.validate_structure`).
    scale
        Factor (> 0) on the summed ASE covalent radii.
    """
    validate_structure(atoms, method="bond_graph")
    if not np.isfinite(scale) or scale <= 0:
        raise ValueError(f"scale must be a positive number, got {scale}")
    radii = covalent_radii[atoms.numbers]
    d = atoms.get_all_distances()
    bonded = d < scale * (radii[:, None] + radii[None, :])
    np.fill_diagonal(bonded, False)
    return bonded


def bond_separation(atoms: Atoms, scale: float = 1.2) -> np.ndarray:
    """Integer ``(n, n)`` number of bonds on the shortest bond path; 0 on the diagonal, -1 without a path.

    Parameters
    ----------
    atoms, scale
        As in :func:`bond_graph`.
    """
    dist = shortest_path(bond_graph(atoms, scale).astype(float), directed=False, unweighted=True)
    out = np.full(dist.shape, -1, dtype=int)
    finite = np.isfinite(dist)
    out[finite] = np.rint(dist[finite]).astype(int)
    return out


def separation_class(separation) -> np.ndarray:
    """Class names of bond separations: 1 ``"1-2"``, 2 ``"1-3"``, 3 ``"1-4"``, >= 4 ``">=1-5"``,
    -1 ``"through-space"`` (different fragments).

    Parameters
    ----------
    separation
        Integers (any shape), e.g. entries of :func:`bond_separation`.

    Raises
    ------
    ValueError
        A separation of 0 (an atom with itself) or below -1.
    """
    s = np.asarray(separation)
    if s.size and (np.any(s == 0) or np.any(s < -1)):
        raise ValueError("bond separations must be >= 1 or -1 (no path); 0 is an atom with itself")
    out = np.full(s.shape, SEPARATION_CLASSES[3], dtype="<U13")
    for k in (1, 2, 3):
        out[s == k] = SEPARATION_CLASSES[k - 1]
    out[s == -1] = SEPARATION_CLASSES[4]
    return out


def cosine_envelope(r, cutoff: float) -> np.ndarray:
    """schnetpack's ``CosineCutoff``: ``0.5 * (cos(pi r / cutoff) + 1)`` for ``r < cutoff``, 0 beyond.

    Parameters
    ----------
    r
        Distances (Angstrom), any shape.
    cutoff
        Cutoff radius (Angstrom, > 0).
    """
    if cutoff <= 0:
        raise ValueError(f"cutoff must be positive, got {cutoff}")
    r = np.asarray(r, dtype=float)
    return np.where(r < cutoff, 0.5 * (np.cos(np.pi * r / cutoff) + 1.0), 0.0)


def envelope_corrected(values, r, cutoff: float, k: int) -> np.ndarray:
    """``values / cosine_envelope(r, cutoff)**k``: relevances with ``k`` envelope factors divided out.

    Parameters
    ----------
    values, r
        Arrays of the same shape: the values and their distances (Angstrom).
    cutoff
        Cutoff radius (Angstrom).
    k
        Number of envelope factors (a non-negative int).

    Raises
    ------
    ValueError
        ``k`` not a non-negative int, shapes that differ, or any ``r >= cutoff`` (envelope 0).
    """
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 0:
        raise ValueError(f"k must be a non-negative int, got {k!r}")
    values, r = np.asarray(values, dtype=float), np.asarray(r, dtype=float)
    if values.shape != r.shape:
        raise ValueError(f"values and r must have the same shape, got {values.shape} and {r.shape}")
    if np.any(r >= cutoff):
        raise ValueError(f"distances at or beyond the cutoff ({cutoff}) have envelope 0: nothing to correct")
    return values / cosine_envelope(r, cutoff) ** k
