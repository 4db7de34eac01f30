"""Reference methods: GFN2-xTB labels through tblite (:mod:`xailib.qm.xtb`) and atomic-energy partitions
of HF/DFT energies through PySCF (:mod:`xailib.qm.partition`). GFN2-xTB labels are exported here
(tblite loads on the first calculation); the partition's front door is :mod:`xailib.qm.partition`, which
loads PySCF, so it is imported only when asked for."""

from xailib.base.errors import MalformedStructureError, UnsupportedElementError
from xailib.qm.xtb import XTBCalculationError, free_atom_energies, xtb_energy, xtb_labels  # tblite loads on first use

__all__ = ["UnsupportedElementError", "MalformedStructureError", "XTBCalculationError", "xtb_labels", "xtb_energy",
           "free_atom_energies"]
