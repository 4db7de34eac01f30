"""Atomic energies that add up to the SCF total energy, by an AO-based and an MO-based scheme.

See :mod:`xailib.qm.partition.scf` for the method; :mod:`~xailib.qm.partition.terms` builds the energy
matrices, :mod:`~xailib.qm.partition.ao` and :mod:`~xailib.qm.partition.mo` split them by atom.
"""

from xailib.base.errors import UnsupportedElementError
from xailib.qm.partition.mo import LocalisationError
from xailib.qm.partition.scf import (SCHEMES, AtomicEnergies, ChargeSpinError, OpenShellError,
                                     SCFNotConvergedError, UnknownBasisError, UnknownSchemeError,
                                     atomic_energies, atomic_energies_many, free_atom_energy,
                                     ground_state_unpaired, partition_scf, run_scf)
from xailib.qm.partition.terms import UnsupportedMethodError

__all__ = ["AtomicEnergies", "atomic_energies", "atomic_energies_many", "partition_scf", "run_scf",
           "free_atom_energy", "ground_state_unpaired", "UnsupportedElementError", "UnsupportedMethodError",
           "OpenShellError", "ChargeSpinError", "UnknownBasisError", "SCFNotConvergedError", "UnknownSchemeError",
           "LocalisationError", "SCHEMES"]
