"""Reference labels: GFN2-xTB through ``tblite`` (units in :mod:`xailib.base.units`).

Every label comes out of one ``tblite.interface.Calculator`` single point and is converted from
atomic units (Hartree, Bohr) to eV and Angstrom with ASE's CODATA constants.

Labels (keys are schnetpack property names where schnetpack has one):

================== ============ ================================================
key                 unit         meaning
================== ============ ================================================
``energy``          eV           total GFN2-xTB energy, shape ``(1,)``
``forces``          eV/Ang       minus the nuclear gradient, ``(n, 3)``
``atomic_energies`` eV           tblite's atom-resolved energies, sum = energy, ``(n,)``
``partial_charges`` e            GFN2-xTB (Mulliken-type) charges, ``(n,)``
``dipole_moment``   e*Ang        dipole vector about the origin, ``(1, 3)``
``homo``            eV           highest occupied orbital energy, ``(1,)``
``lumo``            eV           lowest unoccupied orbital energy, ``(1,)``
``gap``             eV           ``lumo - homo``, ``(1,)``
================== ============ ================================================
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from ase import Atoms
from ase.units import Bohr, Hartree

from xailib.base.errors import MalformedStructureError, UnsupportedElementError, XailibError
from xailib.base.structures import validate_structure

LEVEL_OF_THEORY = "GFN2-xTB (tblite, accuracy 1.0, electronic temperature 300 K, gas phase)"


#: GFN2-xTB is parametrised for Z = 1..86.
MAX_Z = 86

#: Unpaired electrons of the free-atom ground states used for the atom references.
_FREE_ATOM_UHF = {1: 1, 6: 2, 7: 3, 8: 2, 9: 1, 16: 2, 17: 1}


class XTBCalculationError(XailibError, RuntimeError):
    """tblite failed (for example the SCF did not converge)."""


def validate_atoms(atoms: Atoms, elements: set[int] | None = None, min_distance: float = 0.4) -> None:
    """:func:`xailib.base.structures.validate_structure` for GFN2-xTB (elements Z = 1..86)."""
    validate_structure(atoms, elements=elements, max_z=MAX_Z, min_distance=min_distance, method="GFN2-xTB")


def _frontier(eps: np.ndarray, occ: np.ndarray) -> tuple[float, float]:
    """HOMO and LUMO (eV) from restricted orbital energies (Hartree) and occupations (0..2)."""
    n_electrons = float(occ.sum())
    n_occupied = int(np.ceil(round(n_electrons, 6) / 2.0))
    if n_occupied < 1 or n_occupied >= len(eps):
        raise XTBCalculationError(
            f"cannot define HOMO/LUMO with {n_electrons:.2f} electrons in {len(eps)} orbitals"
        )
    return float(eps[n_occupied - 1] * Hartree), float(eps[n_occupied] * Hartree)


@dataclass(frozen=True)
class XTBSettings:
    """Settings of a GFN2-xTB single point."""

    method: str = "GFN2-xTB"
    charge: int = 0
    uhf: int = 0
    accuracy: float = 1.0
    electronic_temperature: float = 300.0  # Kelvin (tblite's default)
    max_iter: int = 250


def xtb_calculator(atoms: Atoms, settings: XTBSettings, *, save_integrals: bool = False):
    """A tblite ``Calculator`` for ``atoms`` with ``settings`` applied (not yet run); ``save_integrals`` keeps
    the overlap matrix in its result. tblite's errors become :class:`XTBCalculationError`."""
    from ase.units import kB
    from tblite.interface import Calculator

    try:
        calc = Calculator(settings.method, np.asarray(atoms.numbers), atoms.positions / Bohr,
                          settings.charge, settings.uhf)
        calc.set("verbosity", 0)
        calc.set("accuracy", settings.accuracy)
        calc.set("max-iter", settings.max_iter)
        calc.set("temperature", settings.electronic_temperature * kB / Hartree)
        if save_integrals:
            calc.set("save-integrals", 1)
        return calc
    except Exception as exc:  # tblite raises its own RuntimeError subclasses
        raise XTBCalculationError(
            f"tblite {settings.method} failed for {atoms.get_chemical_formula()}: {exc}") from exc


def _singlepoint(atoms: Atoms, settings: XTBSettings, elements: set[int] | None = None):
    """Validated tblite single point; returns tblite's ``Result``."""
    validate_atoms(atoms, elements)
    calc = xtb_calculator(atoms, settings)
    try:
        return calc.singlepoint()
    except Exception as exc:  # tblite raises its own RuntimeError subclasses
        raise XTBCalculationError(
            f"tblite {settings.method} failed for {atoms.get_chemical_formula()}: {exc}") from exc


def xtb_labels(atoms: Atoms, settings: XTBSettings = XTBSettings(),
               elements: set[int] | None = None) -> dict[str, np.ndarray]:
    """All GFN2-xTB labels of one closed-shell structure in eV and Angstrom (see the module table).

    Raises
    ------
    UnsupportedElementError, MalformedStructureError
        On bad input (checked before tblite is called), including open-shell settings (``uhf != 0``)
        or an odd electron count, for which HOMO and LUMO are not defined here.
    XTBCalculationError
        When tblite fails.
    """
    validate_atoms(atoms, elements)
    n_electrons = int(np.sum(atoms.numbers)) - settings.charge
    if settings.uhf != 0 or n_electrons % 2:
        raise MalformedStructureError(
            f"{atoms.get_chemical_formula()} with charge {settings.charge} and uhf {settings.uhf} is open-shell "
            f"({n_electrons} electrons in the all-electron count); xtb_labels needs a closed-shell molecule: "
            "fix the charge, or use xtb_energy for open-shell species")
    res = _singlepoint(atoms, settings, elements)
    homo, lumo = _frontier(np.asarray(res.get("orbital-energies")), np.asarray(res.get("orbital-occupations")))
    return {
        "energy": np.array([res.get("energy") * Hartree]),
        "forces": -np.asarray(res.get("gradient")) * Hartree / Bohr,
        "atomic_energies": np.asarray(res.get("energies")) * Hartree,
        "partial_charges": np.asarray(res.get("charges"), dtype=float),
        "dipole_moment": (np.asarray(res.get("dipole")) * Bohr).reshape(1, 3),
        "homo": np.array([homo]),
        "lumo": np.array([lumo]),
        "gap": np.array([lumo - homo]),
    }


def xtb_energy(atoms: Atoms, settings: XTBSettings = XTBSettings()) -> float:
    """GFN2-xTB total energy (eV) of one structure (open-shell allowed through ``settings.uhf``)."""
    return float(_singlepoint(atoms, settings).get("energy") * Hartree)


def ase_calculator(settings: XTBSettings = XTBSettings()):
    """tblite's ASE calculator with the same settings as :func:`xtb_labels` (for MD and relaxation)."""
    from tblite.ase import TBLite

    return TBLite(method=settings.method, charge=settings.charge, multiplicity=settings.uhf + 1,
                  accuracy=settings.accuracy, electronic_temperature=settings.electronic_temperature,
                  max_iterations=settings.max_iter, verbosity=0)


def free_atom_energies(numbers: list[int] = sorted(_FREE_ATOM_UHF)) -> dict[int, float]:
    """GFN2-xTB energies (eV) of isolated atoms in their high-spin ground state (schnetpack atomrefs)."""
    out = {}
    for z in numbers:
        if z not in _FREE_ATOM_UHF:
            raise UnsupportedElementError(f"no free-atom spin state tabulated for Z={z}; known: {sorted(_FREE_ATOM_UHF)}")
        atom = Atoms(numbers=[z], positions=[[0.0, 0.0, 0.0]])
        out[z] = xtb_energy(atom, XTBSettings(uhf=_FREE_ATOM_UHF[z]))
    return out
