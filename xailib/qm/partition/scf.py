"""Atomic energies from PySCF by two partitioning schemes that add up to the SCF total energy.

``atomic_energies(atoms, scheme, method=..., basis=...)`` runs a closed-shell SCF (restricted HF, or
restricted Kohn-Sham with an LDA/GGA/global-hybrid functional) on an ASE ``Atoms`` and splits its
total energy into one energy per atom:

- ``"ao"``: every basis function belongs to its atom; each energy term is split Mulliken-style by
  basis-function owner, the electron-nucleus attraction and nuclear repulsion by halves
  (:mod:`xailib.qm.partition.ao`).
- ``"mo"``: Pipek-Mezey/IAO localised occupied orbitals; each orbital's energy contribution is
  shared among atoms by its IAO populations, except that the electron-nucleus attraction and the
  nuclear repulsion are shared by halves as in the AO scheme (:mod:`xailib.qm.partition.mo`).

Both sum to the SCF total energy (to round-off, far below 1e-8 Hartree), for HF and for LDA, GGA and
global-hybrid functionals (the XC energy is split through its energy density on PySCF's grid);
meta-GGAs, range-separated hybrids and VV10 are refused. HF atomic energies are invariant under
rotation to the localisation tolerance (~1e-8 Hartree); DFT ones only to the rotational variance
of the integration grid itself (~1e-6..1e-5 Hartree at PySCF's default grid level). Energies relative to free
atoms subtract, for each atom, the energy of the isolated atom of its element computed at the same
method and basis, spin-polarised (UHF/UKS) in its Hund's-rule ground-state multiplicity, with the
lowest solution found by PySCF's internal stability analysis; they are cached per
(element, method, basis). Only closed-shell molecules of main-group elements are handled: an odd
electron count, ``spin`` other than 0, non-zero ``initial_magmoms`` or a single atom whose ground state
has unpaired electrons (C, N, O, ...) raise :class:`OpenShellError`. The total ``charge`` is an
argument (default 0, neutral); ``initial_charges`` on the ``Atoms`` are not used per atom, and where
any is non-zero their sum must equal ``charge`` (:class:`ChargeSpinError` otherwise), so that a charged structure is never run as
a neutral one by accident. Even-electron molecules are taken to be closed-shell singlets (a triplet
such as O2 is not detected; pass ``spin=2`` and it is refused). An unknown basis name raises
:class:`UnknownBasisError`; a known basis that lacks an element, :class:`UnsupportedElementError`.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from ase import Atoms
from ase.data import chemical_symbols
from ase.units import Hartree

from xailib.base.errors import UnsupportedElementError, XailibError
from xailib.qm.partition.checks import (ChargeSpinError, OpenShellError, UnknownBasisError, check_charge_spin,
                                        check_elements, ground_state_unpaired)
from xailib.qm.partition.terms import UnsupportedMethodError, energy_matrices

__all__ = [
    "AtomicEnergies", "atomic_energies", "atomic_energies_many", "partition_scf", "run_scf",
    "free_atom_energy", "ground_state_unpaired",
    "UnsupportedElementError", "UnsupportedMethodError", "OpenShellError", "ChargeSpinError",
    "UnknownBasisError", "SCFNotConvergedError", "UnknownSchemeError", "SCHEMES",
]

SCHEMES = ("ao", "mo")
_SCF_CONV_TOL = 1e-10
_SCF_MAX_CYCLE = 200


class SCFNotConvergedError(XailibError, RuntimeError):
    """The SCF did not converge, so its energy cannot be partitioned."""


class UnknownSchemeError(XailibError, ValueError):
    """The partition scheme is not one of :data:`SCHEMES`."""


@dataclass(frozen=True)
class AtomicEnergies:
    """Per-atom energies of one molecule by one scheme.

    Hartree arrays are authoritative; the eV properties convert with ``ase.units.Hartree``.
    ``terms_hartree`` holds each energy term per atom (kinetic, nuclear_attraction, coulomb,
    exchange and/or xc, nuclear_repulsion); summed over terms they give ``energies_hartree``.
    For the MO scheme ``populations`` are the IAO populations (orbitals x atoms) of the localised
    orbitals and ``orbital_energies_hartree`` their energy contributions.
    """

    scheme: str
    method: str
    basis: str
    numbers: np.ndarray
    energies_hartree: np.ndarray
    scf_energy_hartree: float
    free_atom_hartree: np.ndarray
    terms_hartree: dict[str, np.ndarray]
    populations: np.ndarray | None = None
    orbital_energies_hartree: np.ndarray | None = field(default=None)

    @property
    def energies(self) -> np.ndarray:
        """Per-atom energies (eV); they sum to :attr:`total`."""
        return self.energies_hartree * Hartree

    @property
    def total(self) -> float:
        """Total energy (eV): the sum of the atomic energies (equal to the SCF energy)."""
        return float(self.energies_hartree.sum()) * Hartree

    @property
    def relative(self) -> np.ndarray:
        """Per-atom energies minus the free-atom energy of each atom's element (eV)."""
        return (self.energies_hartree - self.free_atom_hartree) * Hartree

    @property
    def free_atoms(self) -> np.ndarray:
        """Free-atom reference energy of each atom's element (eV)."""
        return self.free_atom_hartree * Hartree

    @property
    def terms(self) -> dict[str, np.ndarray]:
        """Per-atom energy terms (eV)."""
        return {k: v * Hartree for k, v in self.terms_hartree.items()}

    def as_dict(self) -> dict[str, object]:
        """Plain-data view (eV) for tables and JSON."""
        return {"scheme": self.scheme, "method": self.method, "basis": self.basis,
                "numbers": self.numbers.tolist(), "energies_eV": self.energies.tolist(),
                "relative_eV": self.relative.tolist(), "total_eV": self.total,
                "free_atoms_eV": self.free_atoms.tolist()}


# ----------------------------------------------------------------------------- elements

# ----------------------------------------------------------------------------- SCF

def _normalise_method(method: str) -> str:
    if not isinstance(method, str) or not method.strip():
        raise UnsupportedMethodError(f"method must be 'hf' or a functional name, got {method!r}")
    return method.strip().lower()


def _build_mf(mol, method: str, *, unrestricted: bool):
    from pyscf import dft, scf

    if method == "hf":
        return scf.UHF(mol) if unrestricted else scf.RHF(mol)
    mf = dft.UKS(mol) if unrestricted else dft.RKS(mol)
    try:
        mf.xc = method
        mf._numint._xc_type(method)
    except (KeyError, ValueError, NotImplementedError) as err:
        raise UnsupportedMethodError(
            f"unknown method {method!r}: use 'hf' or a libxc functional such as 'pbe', 'b3lyp'"
        ) from err
    return mf


def _converge(mf, what: str):
    mf.conv_tol = _SCF_CONV_TOL
    mf.max_cycle = _SCF_MAX_CYCLE
    mf.verbose = 0
    mf.kernel()
    if not mf.converged:  # second-order solver as a fallback
        mf = mf.newton()
        mf.kernel(mf.mo_coeff, mf.mo_occ)
    if not mf.converged:
        raise SCFNotConvergedError(
            f"SCF for {what} did not converge to {_SCF_CONV_TOL:g} Hartree in {_SCF_MAX_CYCLE} DIIS "
            "cycles plus a second-order (Newton) run; check the geometry or leave the molecule out")
    return mf


def run_scf(atoms: Atoms, *, method: str = "hf", basis: str = "sto-3g", need_iao: bool = True,
            charge: int = 0, spin: int = 0):
    """Converged closed-shell PySCF SCF object (RHF, or RKS for a functional) for ``atoms``.

    ``charge`` is the total charge (default 0); ``spin`` (2S) must be 0. Raises
    :class:`UnknownBasisError`, :class:`UnsupportedElementError`, :class:`ChargeSpinError`,
    :class:`OpenShellError`, :class:`UnsupportedMethodError` or :class:`SCFNotConvergedError` with the
    reason (see :func:`check_charge_spin`).
    """
    from pyscf import gto

    if not isinstance(atoms, Atoms) or len(atoms) == 0:
        raise TypeError("atoms must be a non-empty ase.Atoms")
    if atoms.pbc.any():
        raise ValueError("periodic structures are not supported: pass a molecule with pbc=False")
    method = _normalise_method(method)
    numbers = atoms.get_atomic_numbers()
    check_elements(numbers, basis, need_iao=need_iao)
    check_charge_spin(atoms, charge, spin)
    mol = gto.M(atom=[(chemical_symbols[int(z)], tuple(p)) for z, p in
                      zip(numbers, atoms.get_positions())],
                basis=basis, unit="Angstrom", charge=int(charge), spin=0, verbose=0)
    mf = _build_mf(mol, method, unrestricted=False)
    return _converge(mf, atoms.get_chemical_formula())


@functools.lru_cache(maxsize=None)
def free_atom_energy(z: int, method: str = "hf", basis: str = "sto-3g") -> float:
    """Energy (Hartree) of the isolated neutral atom ``z``: spin-polarised ground state.

    UHF (or UKS) with the Hund's-rule multiplicity; PySCF's internal stability analysis is used to
    leave saddle points (up to three second-order restarts, each kept only if lower). Cached per (element, method, basis).
    """
    from pyscf import gto
    from pyscf.lib.exceptions import LinearDependencyError

    method = _normalise_method(method)
    check_elements(np.array([z]), basis, need_iao=False)
    mol = gto.M(atom=[(chemical_symbols[z], (0.0, 0.0, 0.0))], basis=basis,
                spin=ground_state_unpaired(z), charge=0, verbose=0)
    mf = _converge(_build_mf(mol, method, unrestricted=True), f"the free {chemical_symbols[z]} atom")
    nmo = mol.nao_nr()
    n_rotations = sum(int(n) * (nmo - int(n)) for n in mol.nelec)
    for _ in range(3 if n_rotations else 0):  # a single orbital (H/sto-3g) has nothing to rotate
        try:
            mo_internal, _mo_external, stable, _ = mf.stability(return_status=True)
        except LinearDependencyError:  # PySCF's Davidson cannot start in a tiny rotation space
            break  # (F/sto-3g: one virtual orbital); the converged solution is kept
        if stable:
            break
        # follow the unstable direction with the second-order solver; keep it only if lower
        trial = _build_mf(mol, method, unrestricted=True).newton()
        trial.conv_tol, trial.verbose, trial.max_cycle = _SCF_CONV_TOL, 0, 100
        trial.kernel(mo_internal, mf.mo_occ)
        if not (trial.converged and trial.e_tot < mf.e_tot - 1e-9):
            break
        mf = trial
    return float(mf.e_tot)


# ----------------------------------------------------------------------------- partition

def partition_scf(mf, scheme: str, *, numbers: np.ndarray | None = None) -> AtomicEnergies:
    """Partition a converged restricted SCF object (from :func:`run_scf`) by ``scheme``.

    Use this to run both schemes on one SCF solution.
    """
    from xailib.qm.partition.ao import partition_ao
    from xailib.qm.partition.mo import partition_mo

    if scheme not in SCHEMES:
        raise UnknownSchemeError(f"unknown scheme {scheme!r}; choose one of {SCHEMES}")
    if not getattr(mf, "converged", False):
        raise SCFNotConvergedError("the SCF object is not converged; run run_scf() first")
    mol = mf.mol
    if numbers is None:
        numbers = np.array([int(mol.atom_charge(a)) for a in range(mol.natm)])
    method = "hf" if getattr(mf, "xc", None) is None else str(mf.xc).lower()
    mats = energy_matrices(mf)
    pops = orb = None
    if scheme == "ao":
        terms = partition_ao(mol, mats)
    else:
        terms, pops, orb_terms = partition_mo(mf, mats)
        orb = sum(orb_terms.values())
    energies = sum(terms.values())
    free = np.array([free_atom_energy(int(z), method, mol.basis) for z in numbers])
    return AtomicEnergies(scheme=scheme, method=method, basis=str(mol.basis),
                          numbers=np.asarray(numbers), energies_hartree=energies,
                          scf_energy_hartree=float(mf.e_tot), free_atom_hartree=free,
                          terms_hartree=terms, populations=pops, orbital_energies_hartree=orb)


def atomic_energies(atoms: Atoms, scheme: str, *, method: str = "hf", basis: str = "sto-3g",
                    charge: int = 0, spin: int = 0) -> AtomicEnergies:
    """Per-atom energies (eV) of ``atoms`` by the ``"ao"`` or ``"mo"`` scheme.

    Parameters
    ----------
    atoms
        A closed-shell molecule (positions in Angstrom).
    scheme
        ``"ao"`` (basis-function owner, Mulliken-type) or ``"mo"`` (Pipek-Mezey/IAO orbitals).
    method
        ``"hf"`` or an LDA/GGA/global-hybrid functional understood by libxc (``"pbe"``, ``"b3lyp"``).
    basis
        A PySCF basis name (:class:`UnknownBasisError` otherwise).
    charge, spin
        Total charge (non-zero ``initial_charges`` on ``atoms`` must sum to it) and 2S, which must be 0:
        open shells raise :class:`OpenShellError` (see :func:`check_charge_spin`).

    Returns
    -------
    AtomicEnergies
        ``.energies`` (eV per atom), ``.total`` (eV), ``.relative`` (eV, minus free atoms), terms.
    """
    if scheme not in SCHEMES:
        raise UnknownSchemeError(f"unknown scheme {scheme!r}; choose one of {SCHEMES}")
    mf = run_scf(atoms, method=method, basis=basis, need_iao=scheme == "mo", charge=charge, spin=spin)
    return partition_scf(mf, scheme, numbers=atoms.get_atomic_numbers())



PartitionError = (UnsupportedElementError, OpenShellError, ChargeSpinError, SCFNotConvergedError,
                  UnsupportedMethodError)


def atomic_energies_many(frames: Sequence[Atoms], *, schemes: Sequence[str] = SCHEMES,
                         method: str = "hf", basis: str = "sto-3g", progress: bool = True,
                         charge: int = 0, spin: int = 0) -> tuple[list[dict[str, AtomicEnergies] | None], list[tuple[int, str]]]:
    """Partition many molecules, one SCF each for all ``schemes``; failures are recorded, not hidden.

    Returns
    -------
    results
        Per frame a dict scheme -> :class:`AtomicEnergies`, or ``None`` where the frame was skipped.
    skipped
        ``(index, reason)`` for every skipped frame (unsupported element, open shell, no SCF
        convergence, failed localisation), to be reported with the dataset. An unknown basis or
        method is raised at once.

    ``charge`` and ``spin`` apply to every frame (:func:`run_scf`).
    """
    from tqdm.auto import tqdm

    from xailib.qm.partition.mo import LocalisationError

    for scheme in schemes:
        if scheme not in SCHEMES:
            raise UnknownSchemeError(f"unknown scheme {scheme!r}; choose one of {SCHEMES}")
    results: list[dict[str, AtomicEnergies] | None] = []
    skipped: list[tuple[int, str]] = []
    for k, atoms in enumerate(tqdm(frames, desc=f"partition {method}/{basis}", disable=not progress)):
        try:
            mf = run_scf(atoms, method=method, basis=basis, need_iao="mo" in schemes, charge=charge,
                         spin=spin)
            results.append({s: partition_scf(mf, s, numbers=atoms.get_atomic_numbers())
                            for s in schemes})
        except (*PartitionError, LocalisationError) as err:
            results.append(None)
            skipped.append((k, f"{type(err).__name__}: {err}"))
    return results, skipped
