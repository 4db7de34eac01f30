"""Where the frontier orbitals sit: Mulliken populations of the GFN2-xTB HOMO and LUMO on each atom (tblite).

The population of molecular orbital ``i`` on atom ``A`` is ``sum over basis functions mu of A of
C[mu, i] (S C)[mu, i]`` with the orbital coefficients ``C`` and the overlap matrix ``S`` of tblite's
result; the basis functions are mapped to atoms with the calculator's ``orbital-map`` (basis function
-> shell) and ``shell-map`` (shell -> atom). Because ``C^T S C = 1``, each orbital's populations sum to
1 (single atoms may get small negative values, as Mulliken populations can). Degenerate levels (energies
within ``degeneracy_tol``) are averaged, so the result does not depend on tblite's arbitrary choice of
orbitals inside a degenerate set and is invariant under rotations of the molecule.

:func:`frontier_table` collects HOMO and LUMO populations for many structures; :func:`save_frontier_table`
and :func:`load_frontier_table` store and read them (``data/orbitals/nci-small-test-frontier.npz``, written
by ``python -m xailib study orbitals``).
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.units import Hartree

from xailib.base.errors import MalformedStructureError
from xailib.base.io import load_npz, provenance, save_npz
from xailib.base.paths import data_dir
from xailib.qm.xtb import LEVEL_OF_THEORY, XTBCalculationError, XTBSettings, validate_atoms, xtb_calculator

#: The cached table of the study, relative to the data folder, and the command that writes it.
FRONTIER_FILE = "orbitals/nci-small-test-frontier.npz"
FRONTIER_COMMAND = "python -m xailib study orbitals"


@dataclass(frozen=True)
class OrbitalPopulations:
    """Mulliken populations of every molecular orbital of one closed-shell structure.

    Attributes
    ----------
    populations
        ``(n_atoms, n_orbitals)``: population of orbital ``i`` on each atom; every column sums to 1.
    energies
        Orbital energies (eV), ascending.
    occupations
        Orbital occupations (0..2 electrons).
    homo
        Index of the highest occupied orbital (the LUMO is ``homo + 1``).
    charges
        tblite's atomic partial charges (e), for cross-checks (``valence electrons - electron population``).
    """

    populations: np.ndarray
    energies: np.ndarray
    occupations: np.ndarray
    homo: int
    charges: np.ndarray

    def electron_population(self) -> np.ndarray:
        """Electrons per atom: ``sum_i occupation_i * population[:, i]`` (the Mulliken gross population)."""
        return self.populations @ self.occupations

    def level_population(self, index: int, degeneracy_tol: float = 1e-3) -> np.ndarray:
        """Populations of orbital ``index``, averaged over all orbitals within ``degeneracy_tol`` eV of its energy."""
        same = np.abs(self.energies - self.energies[index]) <= degeneracy_tol
        return self.populations[:, same].mean(axis=1)


def orbital_populations(atoms: Atoms, settings: XTBSettings = XTBSettings()) -> OrbitalPopulations:
    """Mulliken populations of all GFN2-xTB orbitals of one closed-shell structure (tblite single point).

    Raises
    ------
    UnsupportedElementError, MalformedStructureError
        On bad input (checked before tblite is called), including an odd electron count or ``uhf != 0``.
    XTBCalculationError
        When tblite fails.
    """
    validate_atoms(atoms)
    n_electrons = int(np.sum(atoms.numbers)) - settings.charge
    if settings.uhf != 0 or n_electrons % 2:
        raise MalformedStructureError(
            f"{atoms.get_chemical_formula()} with charge {settings.charge} and uhf {settings.uhf} is open-shell; "
            "frontier populations need a closed-shell molecule: fix the charge")
    calc = xtb_calculator(atoms, settings, save_integrals=True)
    try:
        atom_of = np.asarray(calc.get("shell-map"))[np.asarray(calc.get("orbital-map"))]
        res = calc.singlepoint()
        coeff, overlap = np.asarray(res.get("orbital-coefficients")), np.asarray(res.get("overlap-matrix"))
        energies, occ = np.asarray(res.get("orbital-energies")) * Hartree, np.asarray(res.get("orbital-occupations"))
        charges = np.asarray(res.get("charges"), dtype=float)
    except Exception as exc:  # tblite raises its own RuntimeError subclasses
        raise XTBCalculationError(f"tblite failed for {atoms.get_chemical_formula()}: {exc}") from exc
    if coeff.shape != (len(atom_of), len(atom_of)) or atom_of.max() != len(atoms) - 1:
        raise XTBCalculationError(f"basis map of {len(atom_of)} functions does not fit the coefficients "
                                  f"{coeff.shape} and {len(atoms)} atoms")
    per_function = coeff * (overlap @ coeff)  # (basis function, orbital)
    populations = np.zeros((len(atoms), coeff.shape[1]))
    np.add.at(populations, atom_of, per_function)
    n_occupied = int(np.ceil(round(float(occ.sum()), 6) / 2.0))
    if not 1 <= n_occupied < len(energies):
        raise XTBCalculationError(f"cannot define HOMO/LUMO with {occ.sum():.2f} electrons in {len(energies)} orbitals")
    return OrbitalPopulations(populations, energies, occ, n_occupied - 1, charges)


def frontier_populations(atoms: Atoms, settings: XTBSettings = XTBSettings(),
                         degeneracy_tol: float = 1e-3) -> tuple[np.ndarray, np.ndarray]:
    """``(homo_pop, lumo_pop)``: Mulliken populations of the GFN2-xTB HOMO and LUMO per atom, each summing to 1.

    A degenerate HOMO or LUMO level (orbitals within ``degeneracy_tol`` eV) is averaged over its orbitals.
    Errors as :func:`orbital_populations`.
    """
    pops = orbital_populations(atoms, settings)
    return pops.level_population(pops.homo, degeneracy_tol), pops.level_population(pops.homo + 1, degeneracy_tol)


@dataclass(frozen=True)
class FrontierTable:
    """HOMO and LUMO populations per atom of many structures (concatenated, ``offsets`` delimit them).

    ``molecules`` (an id per structure), ``numbers`` (atomic numbers, concatenated), ``homo_pop`` and
    ``lumo_pop`` (concatenated per-atom populations), ``homo`` and ``lumo`` (eV, per structure),
    ``offsets`` (``len + 1``), ``meta`` (provenance and settings).
    """

    molecules: np.ndarray
    numbers: np.ndarray
    homo_pop: np.ndarray
    lumo_pop: np.ndarray
    homo: np.ndarray
    lumo: np.ndarray
    offsets: np.ndarray
    meta: dict

    def __len__(self) -> int:
        return len(self.molecules)

    def of(self, molecule: str) -> dict[str, np.ndarray]:
        """``numbers``, ``homo_pop`` and ``lumo_pop`` of one molecule (its atoms in the stored order)."""
        hits = np.flatnonzero(self.molecules == molecule)
        if len(hits) != 1:
            raise KeyError(f"molecule {molecule!r} is not in the frontier table ({len(self)} molecules)")
        lo, hi = self.offsets[hits[0]], self.offsets[hits[0] + 1]
        return {"numbers": self.numbers[lo:hi], "homo_pop": self.homo_pop[lo:hi], "lumo_pop": self.lumo_pop[lo:hi]}


def frontier_table(structures: Sequence[Atoms], molecules: Sequence[str], settings: XTBSettings = XTBSettings(),
                   degeneracy_tol: float = 1e-3, **meta) -> FrontierTable:
    """:func:`frontier_populations` of every structure; ``meta`` (e.g. dataset, rows) goes into the record."""
    if len(structures) != len(molecules):
        raise ValueError(f"{len(structures)} structures but {len(molecules)} molecule ids")
    start = time.perf_counter()
    homo_pop, lumo_pop, homo, lumo = [], [], [], []
    for atoms in structures:
        pops = orbital_populations(atoms, settings)
        homo_pop.append(pops.level_population(pops.homo, degeneracy_tol))
        lumo_pop.append(pops.level_population(pops.homo + 1, degeneracy_tol))
        homo.append(pops.energies[pops.homo])
        lumo.append(pops.energies[pops.homo + 1])
    wall = time.perf_counter() - start
    record = provenance(wall_s=wall, packages=("numpy", "ase", "tblite"), level_of_theory=LEVEL_OF_THEORY,
                        degeneracy_tol_eV=degeneracy_tol, populations="Mulliken, C[mu,i] (S C)[mu,i] summed per atom",
                        **meta)
    return FrontierTable(np.array(molecules, dtype=str), np.concatenate([a.numbers for a in structures]),
                         np.concatenate(homo_pop), np.concatenate(lumo_pop), np.array(homo), np.array(lumo),
                         np.concatenate([[0], np.cumsum([len(a) for a in structures])]), record)


def save_frontier_table(table: FrontierTable, path: str | os.PathLike | None = None) -> Path:
    """Write ``table`` to ``path`` (default ``data/orbitals/nci-small-test-frontier.npz``)."""
    path = Path(path) if path is not None else data_dir() / FRONTIER_FILE
    arrays = {k: getattr(table, k) for k in ("molecules", "numbers", "homo_pop", "lumo_pop", "homo", "lumo", "offsets")}
    return save_npz(path, arrays, table.meta)


def load_frontier_table(path: str | os.PathLike | None = None) -> FrontierTable:
    """Read a table written by :func:`save_frontier_table` (default: the shipped ``nci-small`` test table)."""
    path = Path(path) if path is not None else data_dir() / FRONTIER_FILE
    arrays, meta = load_npz(path, how_to_make=FRONTIER_COMMAND)
    return FrontierTable(**arrays, meta=meta)
