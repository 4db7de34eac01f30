"""Atomic-orbital (Mulliken-type) partition of a closed-shell SCF energy into atomic energies.

Every basis function belongs to the atom it is centred on. A term ``E_X = tr(D X) =
sum_{mu nu} D_{nu mu} X_{mu nu}`` is split by giving each element ``D_{nu mu} X_{mu nu}`` to the
owner of the row index ``mu``. Because ``D`` and ``X`` are symmetric this is the same as giving half
of every off-diagonal pair ``(mu in A, nu in B)`` to ``A`` and half to ``B``:

    E_X[A] = sum_{mu in A} (D X)_{mu mu}.

This is applied to the kinetic, Coulomb (``J/2``), exchange (``-a K/4``) and exchange-correlation
(``W``, the XC energy-density matrix) terms. The nuclear attraction ``sum_B tr(D V_B)`` couples the
electrons (owned by basis functions) with the nuclei; it is shared by halves like the nuclear
repulsion: atom ``A`` gets half of the attraction of its basis-function share of the electrons to
all nuclei, ``1/2 sum_{mu in A} (D V)_{mu mu}``, plus half of the attraction of all electrons to its
own nucleus, ``1/2 tr(D V_A)``. The nuclear repulsion ``Z_A Z_B / R_AB`` goes half to each atom.
"""

from __future__ import annotations

import numpy as np

from xailib.qm.partition.terms import EnergyMatrices


def basis_owner(mol) -> np.ndarray:
    """Index of the atom that owns each (spherical) basis function, shape ``(nao,)``."""
    owner = np.empty(mol.nao_nr(), dtype=int)
    for a, (_s0, _s1, p0, p1) in enumerate(mol.aoslice_by_atom()):
        owner[p0:p1] = a
    return owner


def split_by_owner(dm: np.ndarray, x: np.ndarray, owner: np.ndarray, natm: int) -> np.ndarray:
    """``sum_{mu in A} (D X)_{mu mu}`` for each atom ``A``: the row-owner (= half/half) split."""
    per_function = np.einsum("mn,nm->m", dm, x)
    return np.bincount(owner, weights=per_function, minlength=natm)


def partition_ao(mol, mats: EnergyMatrices) -> dict[str, np.ndarray]:
    """Per-atom energy terms (Hartree) of the atomic-orbital scheme; see the module docstring.

    Returns a dict term name -> array ``(natm,)``; the sum over atoms and terms is the total energy.
    """
    owner = basis_owner(mol)
    natm = mol.natm
    dm = mats.dm
    out: dict[str, np.ndarray] = {}
    for name, x in mats.terms.items():
        if name == "nuclear_attraction":
            electron_side = split_by_owner(dm, x, owner, natm)
            nucleus_side = np.einsum("ij,aji->a", dm, mats.nuclear_attraction_by_atom)
            out[name] = 0.5 * electron_side + 0.5 * nucleus_side
        else:
            out[name] = split_by_owner(dm, x, owner, natm)
    out["nuclear_repulsion"] = 0.5 * mats.nuclear_repulsion_pairs.sum(axis=1)
    return out
