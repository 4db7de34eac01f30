"""Molecular-orbital partition: localised occupied orbitals shared among atoms by IAO populations.

The doubly occupied orbitals of a closed-shell SCF solution are localised by Pipek-Mezey with
intrinsic-atomic-orbital (IAO) populations (``pyscf.lo.PM`` with ``pop_method = "iao"``), a unitary
rotation that leaves the density ``D = 2 sum_i |i><i|`` unchanged. The electronic energy is then a
sum of orbital contributions,

    e_i = 2 T_ii + 2 V_ii + J_ii - a/2 K_ii + 2 W_ii,

with ``X_ii = c_i^T X c_i`` for the AO matrices of :mod:`xailib.qm.partition.terms` (``J``, ``K`` built
from the full density, ``W`` the XC energy-density matrix). Written with two-electron integrals,
``J_ii - K_ii/2 = sum_j [2 (ii|jj) - (ij|ji)]``: the interaction of every pair ``i != j`` is split
half to each orbital, and ``sum_i e_i`` is exactly the electronic energy. Each ``e_i`` (and each of
its terms) is shared among atoms by the orbital's IAO populations ``w_iA`` (``sum_A w_iA = 1``,
symmetrically orthogonalised IAOs), with one exception: the electron-nucleus attraction is a pair
interaction between electrons and nuclei and is shared by halves, as in the atomic-orbital scheme:
atom ``A`` gets ``1/2 sum_i w_iA (2 V_ii)`` (its share of the electrons attracted by all nuclei) plus
``1/2 tr(D V_A)`` (all electrons attracted by its nucleus). This is the convention of the
``decodense`` program used in the transferability study (Kjeldal & Eriksen), and it makes the two
schemes differ only in how the electrons are assigned. The nuclear repulsion is shared by halves.
"""

from __future__ import annotations

import numpy as np

from xailib.base.errors import XailibError
from xailib.qm.partition.terms import EnergyMatrices


class LocalisationError(XailibError, RuntimeError):
    """The Pipek-Mezey localisation did not reach a stable maximum."""


def localise_occupied(mf, *, conv_tol: float = 1e-12, max_restarts: int = 4) -> np.ndarray:
    """Pipek-Mezey (IAO populations) localised occupied orbitals of ``mf``, shape ``(nao, nocc)``.

    The optimisation is restarted from the result of PySCF's Jacobi-sweep stability check until the
    maximum is stable, so that saddle points are not returned.
    """
    from pyscf import lo

    occ = mf.mo_coeff[:, mf.mo_occ > 0]
    pm = lo.PM(mf.mol, occ, pop_method="iao")
    pm.conv_tol = conv_tol
    pm.conv_tol_grad = 1e-7
    pm.verbose = 0
    loc = pm.kernel()
    for _ in range(max_restarts):
        loc2, stable = pm.stability_jacobi(return_status=True)
        if stable:
            return loc
        loc = pm.kernel(loc2)
    raise LocalisationError(
        f"Pipek-Mezey localisation was still unstable after {max_restarts} restarts; "
        "check the geometry (near-degenerate bonding) or use the 'ao' scheme")


def iao_populations(mol, orbitals: np.ndarray, occupied: np.ndarray) -> np.ndarray:
    """IAO populations ``w[i, A]`` of ``orbitals`` (columns), with IAOs built from ``occupied``.

    Uses symmetrically orthogonalised IAOs (``pyscf.lo.iao`` + ``vec_lowdin``, MINAO reference);
    rows sum to 1 for orbitals inside the occupied space.
    """
    from pyscf.lo import iao, orth

    s = mol.intor_symmetric("int1e_ovlp")
    c_iao = orth.vec_lowdin(iao.iao(mol, occupied), s)
    coeff = c_iao.T @ s @ orbitals  # (n_iao, norb): orbitals in the orthonormal IAO basis
    pmol = iao.reference_mol(mol)
    pops = np.zeros((orbitals.shape[1], mol.natm))
    for a, (_s0, _s1, p0, p1) in enumerate(pmol.aoslice_by_atom()):
        pops[:, a] = (coeff[p0:p1] ** 2).sum(axis=0)
    return pops


def orbital_contributions(orbitals: np.ndarray, mats: EnergyMatrices) -> dict[str, np.ndarray]:
    """Per-orbital terms ``e_i`` (Hartree) of doubly occupied ``orbitals`` (see module docstring)."""
    out = {}
    for name, x in mats.terms.items():
        diag = np.einsum("mi,mn,ni->i", orbitals, x, orbitals)
        # tr(D X) = 2 sum_i X_ii for D = 2 C C^T
        out[name] = 2.0 * diag
    return out


def partition_mo(mf, mats: EnergyMatrices, *, pop_tol: float = 1e-8
                 ) -> tuple[dict[str, np.ndarray], np.ndarray, dict[str, np.ndarray]]:
    """Per-atom energy terms (Hartree) of the molecular-orbital scheme.

    Returns
    -------
    terms
        Term name -> ``(natm,)`` array; the sum over atoms and terms is the total energy.
    populations
        IAO populations ``(nocc, natm)`` of the localised orbitals (rows sum to 1).
    orbital_terms
        Term name -> ``(nocc,)`` per-orbital contributions ``e_i``.
    """
    mol = mf.mol
    occ = mf.mo_coeff[:, mf.mo_occ > 0]
    loc = localise_occupied(mf)
    pops = iao_populations(mol, loc, occ)
    row_sums = pops.sum(axis=1)
    if np.max(np.abs(row_sums - 1.0)) > pop_tol:
        raise LocalisationError(
            f"IAO populations of the localised orbitals sum to {row_sums.min():.10f}.."
            f"{row_sums.max():.10f}, not 1; the IAO construction failed for this molecule/basis")
    pops = pops / row_sums[:, None]  # remove round-off so that the split is exact
    orb_terms = orbital_contributions(loc, mats)
    terms = {name: pops.T @ e_i for name, e_i in orb_terms.items()}
    # electron-nucleus attraction: half by the orbitals' populations, half to the attracting nucleus
    nucleus_side = np.einsum("ij,aji->a", mats.dm, mats.nuclear_attraction_by_atom)
    terms["nuclear_attraction"] = 0.5 * terms["nuclear_attraction"] + 0.5 * nucleus_side
    terms["nuclear_repulsion"] = 0.5 * mats.nuclear_repulsion_pairs.sum(axis=1)
    return terms, pops, orb_terms
