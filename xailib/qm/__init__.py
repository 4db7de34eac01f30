"""Reference methods: GFN2-xTB labels through tblite (:mod:`xailib.qm.xtb`) and atomic-energy partitions
of HF/DFT energies through PySCF (:mod:`xailib.qm.partition`). Import the submodule you need; each loads
its quantum-chemistry package only when imported."""

from xailib.base.errors import MalformedStructureError, UnsupportedElementError
from xailib.qm.xtb import XTBCalculationError  # tblite itself loads only when a calculation runs

__all__ = ["UnsupportedElementError", "MalformedStructureError", "XTBCalculationError"]
