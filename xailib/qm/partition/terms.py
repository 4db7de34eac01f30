"""Energy-term matrices of a closed-shell SCF solution, the common input of both partition schemes.

For a converged restricted Hartree-Fock or Kohn-Sham solution with (spin-summed) density matrix
``D`` the total energy is written as a sum of traces ``tr(D X)`` plus the nuclear repulsion:

    E = tr(D T) + tr(D V) + 1/2 tr(D J[D]) - a/4 tr(D K[D]) + tr(D W) + E_nn

with ``T`` the kinetic matrix, ``V = sum_A V_A`` the nuclear attraction (``V_A`` the attraction to
nucleus ``A`` alone), ``J`` and ``K`` the Coulomb and exchange matrices built from ``D``, ``a`` the
fraction of exact exchange (1 for HF, the global hybrid fraction for DFT, 0 for pure functionals)
and ``W`` the *exchange-correlation energy-density matrix*
``W_{mu nu} = sum_g w_g eps_xc(r_g) phi_mu(r_g) phi_nu(r_g)`` on PySCF's integration grid, so that
``tr(D W) = sum_g w_g rho(r_g) eps_xc(r_g) = E_xc`` (the same quadrature PySCF uses).

Every term is then a matrix ``X`` that the atomic-orbital scheme splits by basis-function owner and
the molecular-orbital scheme splits by localised orbitals.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from xailib.base.errors import XailibError


class UnsupportedMethodError(XailibError, ValueError):
    """The electronic-structure method cannot be partitioned exactly by this module."""


@dataclass(frozen=True)
class EnergyMatrices:
    """The AO matrices whose traces with ``dm`` give the energy terms (all in Hartree).

    ``terms[name]`` is the matrix ``X`` with ``E_name = tr(dm X)``; ``nuclear_attraction_by_atom[A]``
    is ``V_A``; ``nuclear_repulsion_pairs`` is the symmetric matrix ``Z_A Z_B / R_AB`` (zero diagonal).
    """

    dm: np.ndarray
    terms: dict[str, np.ndarray]
    nuclear_attraction_by_atom: np.ndarray
    nuclear_repulsion_pairs: np.ndarray

    def term_energies(self) -> dict[str, float]:
        """Each term's total energy, ``tr(dm X)``, plus the nuclear repulsion (Hartree)."""
        out = {k: float(np.einsum("ij,ji->", self.dm, x)) for k, x in self.terms.items()}
        out["nuclear_repulsion"] = 0.5 * float(self.nuclear_repulsion_pairs.sum())
        return out

    def total(self) -> float:
        """The total energy these matrices define (Hartree)."""
        return float(sum(self.term_energies().values()))


def exact_exchange_fraction(mf) -> float:
    """Fraction of exact exchange of ``mf`` (1 for HF); raise for what cannot be split exactly.

    Range-separated hybrids, meta-GGAs and non-local correlation (VV10) are refused: their energy is
    not a sum of the traces this module builds.
    """
    xc = getattr(mf, "xc", None)
    if xc is None:  # Hartree-Fock
        return 1.0
    ni = mf._numint
    if getattr(mf, "nlc", "") or ni.libxc.is_nlc(xc):
        raise UnsupportedMethodError(
            f"functional {xc!r} has non-local (VV10) correlation, which this partition does not "
            "split; use an LDA, GGA or global-hybrid functional (e.g. 'pbe', 'b3lyp') or 'hf'")
    xctype = ni._xc_type(xc)
    if xctype not in ("LDA", "GGA", "HF"):
        raise UnsupportedMethodError(
            f"functional {xc!r} is of type {xctype}; only LDA, GGA and global hybrids are "
            "supported (meta-GGAs need the kinetic-energy density); use e.g. 'pbe' or 'b3lyp'")
    omega, _alpha, hyb = ni.rsh_and_hybrid_coeff(xc, spin=0)
    if omega != 0:
        raise UnsupportedMethodError(
            f"functional {xc!r} is range-separated (omega={omega}); use a global hybrid or a GGA")
    return float(hyb)


def xc_energy_density_matrix(mf, dm: np.ndarray) -> np.ndarray:
    """``W_{mu nu} = sum_g w_g eps_xc(r_g) phi_mu(r_g) phi_nu(r_g)`` on ``mf.grids`` (Hartree).

    ``eps_xc`` is the XC energy per electron of the density ``dm`` (LDA or GGA), so that
    ``tr(dm W)`` is the semi-local XC energy that PySCF integrates on the same grid.
    """
    from pyscf.dft import numint

    mol, ni, xc = mf.mol, mf._numint, mf.xc
    if mf.grids.coords is None:
        mf.grids.build(with_non0tab=True)
    xctype = ni._xc_type(xc)
    deriv = 0 if xctype == "LDA" else 1
    nao = mol.nao_nr()
    w_mat = np.zeros((nao, nao))
    for ao, _mask, weight, _coords in ni.block_loop(mol, mf.grids, nao, deriv):
        # dense evaluation (no screening), so that tr(dm W) is exactly sum_g w rho eps
        rho = numint.eval_rho(mol, ao, dm, xctype=xctype, hermi=1)
        exc = ni.eval_xc_eff(xc, rho, deriv=0, xctype=xctype, spin=0)[0]
        ao0 = ao if deriv == 0 else ao[0]
        w_mat += ao0.T @ (ao0 * (weight * np.ravel(exc))[:, None])
    return 0.5 * (w_mat + w_mat.T)


def nuclear_attraction_by_atom(mol) -> np.ndarray:
    """``V_A``: the attraction of an electron to nucleus ``A`` alone, shape ``(natm, nao, nao)``."""
    out = np.empty((mol.natm, mol.nao_nr(), mol.nao_nr()))
    for a in range(mol.natm):
        with mol.with_rinv_at_nucleus(a):
            out[a] = -mol.atom_charge(a) * mol.intor_symmetric("int1e_rinv")
    return out


def nuclear_repulsion_pairs(mol) -> np.ndarray:
    """Symmetric matrix ``Z_A Z_B / R_AB`` with zero diagonal (Hartree, bohr inside PySCF)."""
    z = mol.atom_charges().astype(float)
    r = mol.atom_coords()
    d = np.linalg.norm(r[:, None, :] - r[None, :, :], axis=-1)
    np.fill_diagonal(d, np.inf)
    return np.outer(z, z) / d


def energy_matrices(mf) -> EnergyMatrices:
    """Build the term matrices of a converged restricted (closed-shell) SCF object ``mf``.

    Terms: ``kinetic`` (T), ``nuclear_attraction`` (V), ``coulomb`` (J/2), ``exchange``
    (-a K/4, present when a != 0) and ``xc`` (W, DFT only); see the module docstring.
    """
    mol = mf.mol
    dm = np.asarray(mf.make_rdm1())
    if dm.ndim != 2:
        raise UnsupportedMethodError("only restricted closed-shell SCF (RHF/RKS) can be partitioned")
    hyb = exact_exchange_fraction(mf)
    v_by_atom = nuclear_attraction_by_atom(mol)
    terms = {
        "kinetic": mol.intor_symmetric("int1e_kin"),
        "nuclear_attraction": v_by_atom.sum(axis=0),
    }
    # full (non-incremental) Coulomb and exchange of the final density
    vj, vk = mf.get_jk(mol, dm, hermi=1, with_j=True, with_k=hyb != 0)
    terms["coulomb"] = 0.5 * vj
    if hyb != 0:
        terms["exchange"] = -0.25 * hyb * vk
    if getattr(mf, "xc", None) is not None and mf._numint._xc_type(mf.xc) != "HF":
        terms["xc"] = xc_energy_density_matrix(mf, dm)
    return EnergyMatrices(dm=dm, terms=terms, nuclear_attraction_by_atom=v_by_atom,
                          nuclear_repulsion_pairs=nuclear_repulsion_pairs(mol))
