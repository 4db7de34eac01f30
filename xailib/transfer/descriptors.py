"""Rotation-, translation- and permutation-invariant descriptors of molecules and atom environments.

Bonds are ASE neighbour-list pairs closer than ``mult`` times the sum of the natural (covalent)
radii (``ase.neighborlist.natural_cutoffs``). Descriptors of two sets must use the same
``elements`` (the union of both), so that the columns line up; an atom of another element is an
error rather than a silently dropped column.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations_with_replacement

import numpy as np
from ase import Atoms
from ase.neighborlist import natural_cutoffs, neighbor_list

from xailib.base.errors import UnsupportedElementError

__all__ = ["Descriptors", "molecule_descriptors", "atom_descriptors", "intensive", "bonds", "hydrogen_partners",
           "UnsupportedElementError", "BOND_BINS", "RADIAL_BINS"]

BOND_BINS = np.round(np.arange(0.8, 2.45, 0.1), 2)  # Angstrom, bond-length histogram edges
RADIAL_BINS = np.array([0.0, 1.25, 1.75, 2.25, 2.75, 3.25, 3.75, 4.5])  # Angstrom, atom shells


@dataclass(frozen=True)
class Descriptors:
    """A descriptor table: ``X`` (rows x features), column ``names``, and row bookkeeping.

    ``groups`` is the index of the structure each row comes from (a molecule id when frames share
    one); for atom descriptors ``atom_index`` and ``numbers`` identify the atom.
    """

    X: np.ndarray
    names: list[str]
    groups: np.ndarray
    atom_index: np.ndarray | None = None
    numbers: np.ndarray | None = None


def _check_elements(atoms: Atoms, elements: Sequence[str], k: int) -> None:
    unknown = sorted(set(atoms.get_chemical_symbols()) - set(elements))
    if unknown:
        raise UnsupportedElementError(
            f"structure {k} ({atoms.get_chemical_formula()}) contains {unknown}, not in "
            f"elements={list(elements)}; pass the union of the elements of all sets")


def bonds(atoms: Atoms, mult: float = 1.2) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bonded pairs ``(i, j, d)`` with ``i < j``: distance below ``mult`` x sum of covalent radii."""
    i, j, d = neighbor_list("ijd", atoms, natural_cutoffs(atoms, mult=mult))
    keep = i < j
    return i[keep], j[keep], d[keep]


def hydrogen_partners(atoms: Atoms) -> list[str | None]:
    """For every atom: the element of the nearest non-hydrogen atom if it is an H, else ``None``.

    Used to group hydrogen atomic energies by bonding partner (H on C, N, O, ...). A molecule
    without heavy atoms (H2) gives ``None`` throughout.
    """
    heavy = np.flatnonzero(atoms.numbers > 1)
    out: list[str | None] = [None] * len(atoms)
    if len(heavy) == 0:
        return out
    sym = atoms.get_chemical_symbols()
    for i in np.flatnonzero(atoms.numbers == 1):
        j = heavy[np.argmin(np.linalg.norm(atoms.positions[heavy] - atoms.positions[i], axis=1))]
        out[i] = sym[j]
    return out


def _pair_names(elements: Sequence[str]) -> list[tuple[str, str]]:
    return list(combinations_with_replacement(elements, 2))


def molecule_descriptors(frames: Sequence[Atoms], *, elements: Sequence[str],
                         groups: Sequence[int] | None = None, bins: np.ndarray = BOND_BINS,
                         mult: float = 1.2, max_cn: int = 4) -> Descriptors:
    """One row per structure: composition, size, shape, bond-length histograms, coordination.

    Features: ``count_<El>``; ``n_atoms``, ``n_heavy``; ``radius_of_gyration`` and ``max_distance``
    (Angstrom); ``bond_<A>-<B>_<lo>-<hi>`` (number of A-B bonds with length in ``[lo, hi)``, per
    element pair, with under/overflow bins); ``n_bonds_<A>-<B>``; ``cn_mean_<El>`` and
    ``cn_<El>_<k>`` (atoms of El with k bonded neighbours, the last bin ``>= max_cn``).

    Parameters
    ----------
    frames
        Structures (molecules or MD frames).
    elements
        Element symbols that define the columns (the union over every set to be compared).
    groups
        Molecule id per frame (default: the frame index), stored in ``.groups``.
    bins, mult, max_cn
        Bond-length histogram edges (Angstrom), bond criterion and coordination cap.
    """
    elements = list(elements)
    pairs = _pair_names(elements)
    edges = np.r_[-np.inf, np.asarray(bins, float), np.inf]
    bin_labels = ([f"<{bins[0]:.2f}"] + [f"{a:.2f}-{b:.2f}" for a, b in zip(bins[:-1], bins[1:])]
                  + [f">={bins[-1]:.2f}"])
    names = [f"count_{e}" for e in elements] + ["n_atoms", "n_heavy", "radius_of_gyration",
                                                "max_distance"]
    names += [f"bond_{a}-{b}_{lab}" for a, b in pairs for lab in bin_labels]
    names += [f"n_bonds_{a}-{b}" for a, b in pairs]
    names += [f"cn_mean_{e}" for e in elements]
    names += [f"cn_{e}_{k}" + ("+" if k == max_cn else "") for e in elements for k in range(max_cn + 1)]
    pair_index = {p: n for n, p in enumerate(pairs)}
    elem_index = {e: n for n, e in enumerate(elements)}

    rows = []
    for k, atoms in enumerate(frames):
        _check_elements(atoms, elements, k)
        sym = np.array(atoms.get_chemical_symbols())
        pos = atoms.get_positions()
        count = np.array([np.sum(sym == e) for e in elements], float)
        centred = pos - pos.mean(axis=0)
        rg = float(np.sqrt((centred ** 2).sum(axis=1).mean()))
        dmax = float(np.max(np.linalg.norm(pos[:, None] - pos[None], axis=-1))) if len(atoms) > 1 else 0.0
        i, j, d = bonds(atoms, mult)
        hist = np.zeros((len(pairs), len(edges) - 1))
        for a, b, dist in zip(sym[i], sym[j], d):
            p = pair_index[tuple(sorted((a, b), key=elem_index.__getitem__))]
            hist[p, np.searchsorted(edges, dist, side="right") - 1] += 1
        cn = np.bincount(np.r_[i, j], minlength=len(atoms))
        cn_mean = np.array([cn[sym == e].mean() if np.any(sym == e) else 0.0 for e in elements])
        cn_hist = np.zeros((len(elements), max_cn + 1))
        for e, c in zip(sym, cn):
            cn_hist[elem_index[e], min(c, max_cn)] += 1
        rows.append(np.r_[count, len(atoms), np.sum(sym != "H"), rg, dmax, hist.ravel(),
                          hist.sum(axis=1), cn_mean, cn_hist.ravel()])
    g = np.arange(len(rows)) if groups is None else np.asarray(groups)
    if len(g) != len(rows):
        raise ValueError(f"groups has {len(g)} entries for {len(rows)} frames")
    return Descriptors(X=np.array(rows, float).reshape(len(rows), len(names)), names=names, groups=g)


def atom_descriptors(frames: Sequence[Atoms], *, elements: Sequence[str],
                     groups: Sequence[int] | None = None, radial_bins: np.ndarray = RADIAL_BINS,
                     mult: float = 1.2) -> Descriptors:
    """One row per atom: its element, bonded neighbours and radial shells of neighbour elements.

    Features: ``is_<El>``; ``cn`` (bonded neighbours); ``bonded_<El>`` (bonded neighbours of El);
    ``mean_bond_length`` (Angstrom, 0 without bonds); ``shell_<El>_<lo>-<hi>`` (atoms of El at a
    distance in ``[lo, hi)`` Angstrom). ``.groups`` is the molecule id of the atom's frame
    (default: frame index), ``.atom_index`` its index in the frame.
    """
    elements = list(elements)
    elem_index = {e: n for n, e in enumerate(elements)}
    rb = np.asarray(radial_bins, float)
    shells = [f"{a:.2f}-{b:.2f}" for a, b in zip(rb[:-1], rb[1:])]
    names = ([f"is_{e}" for e in elements] + ["cn"] + [f"bonded_{e}" for e in elements]
             + ["mean_bond_length"] + [f"shell_{e}_{s}" for e in elements for s in shells])
    frame_groups = np.arange(len(frames)) if groups is None else np.asarray(groups)
    if len(frame_groups) != len(frames):
        raise ValueError(f"groups has {len(frame_groups)} entries for {len(frames)} frames")
    rows, grp, idx, nums = [], [], [], []
    ne = len(elements)
    for k, atoms in enumerate(frames):
        _check_elements(atoms, elements, k)
        n = len(atoms)
        z = np.array([elem_index[s] for s in atoms.get_chemical_symbols()])
        i, j, d = bonds(atoms, mult)
        onehot = np.eye(ne)[z]
        bonded = np.zeros((n, ne))
        np.add.at(bonded, (i, z[j]), 1)
        np.add.at(bonded, (j, z[i]), 1)
        cn = bonded.sum(axis=1)
        blen = np.zeros(n)
        np.add.at(blen, i, d)
        np.add.at(blen, j, d)
        blen = np.divide(blen, cn, out=np.zeros(n), where=cn > 0)
        dist = np.linalg.norm(atoms.positions[:, None] - atoms.positions[None], axis=-1)
        shell = np.zeros((n, ne, len(shells)))
        a, b = np.nonzero((dist >= rb[0]) & (dist < rb[-1]) & ~np.eye(n, dtype=bool))
        np.add.at(shell, (a, z[b], np.searchsorted(rb, dist[a, b], side="right") - 1), 1)
        rows.append(np.c_[onehot, cn, bonded, blen, shell.reshape(n, -1)])
        grp.append(np.full(n, frame_groups[k]))
        idx.append(np.arange(n))
        nums.append(atoms.numbers)
    return Descriptors(X=np.vstack(rows), names=names, groups=np.concatenate(grp),
                       atom_index=np.concatenate(idx), numbers=np.concatenate(nums))


#: size columns of :func:`molecule_descriptors`, dropped by :func:`intensive`
SIZE_COLUMNS = ("n_atoms", "n_heavy", "radius_of_gyration", "max_distance")


def intensive(desc: Descriptors) -> Descriptors:
    """Molecule descriptors with the molecule's size taken out.

    Counts (``count_*``, ``bond_*``, ``n_bonds_*``, ``cn_<El>_<k>``) are divided by the number of
    atoms; ``cn_mean_*`` are kept; the size columns (:data:`SIZE_COLUMNS`) are dropped. Two sets
    that differ only in molecular size become indistinguishable to a classifier on these columns.
    """
    names = list(desc.names)
    if "n_atoms" not in names:
        raise ValueError("intensive() needs molecule descriptors (with an n_atoms column)")
    n = desc.X[:, names.index("n_atoms")][:, None]
    keep = [k for k, name in enumerate(names) if name not in SIZE_COLUMNS]
    per_atom = np.array([not names[k].startswith("cn_mean_") for k in keep])
    x = desc.X[:, keep].copy()
    x[:, per_atom] /= n
    return Descriptors(X=x, names=[names[k] + ("/atom" if pa else "") for k, pa in zip(keep, per_atom)],
                       groups=desc.groups)
