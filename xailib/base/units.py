"""Units used throughout: eV, Angstrom, elementary charge (ASE's conventions)."""

from __future__ import annotations

#: Units of every label in the datasets (GFN2-xTB labels; see :mod:`xailib.qm.xtb`).
PROPERTY_UNITS: dict[str, str] = {
    "energy": "eV",
    "forces": "eV/Ang",
    "atomic_energies": "eV",
    "partial_charges": "e",
    "dipole_moment": "e*Ang",
    "homo": "eV",
    "lumo": "eV",
    "gap": "eV",
}
DISTANCE_UNIT = "Ang"

#: Units every model works in; datasets are converted to these on reading.
MODEL_UNITS: dict[str, str] = {"energy": "eV", "forces": "eV/Ang", "gap": "eV", "homo": "eV", "lumo": "eV"}
