"""validate_structure: the shared structure check (xailib.base.structures), case by case."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from ase.build import molecule

from xailib.base.errors import MalformedStructureError, UnsupportedElementError, XailibError
from xailib.base.structures import MIN_DISTANCE, validate_structure


def water(**changes):
    atoms = molecule("H2O")
    for key, value in changes.items():
        setattr(atoms, key, value)
    return atoms


def moved(index, position):
    atoms = molecule("H2O")
    atoms.positions[index] = position
    return atoms


CASES = {
    "not an Atoms (array)": (np.zeros((3, 3)), MalformedStructureError, "expected an ase.Atoms"),
    "not an Atoms (None)": (None, MalformedStructureError, "expected an ase.Atoms"),
    "no atoms": (Atoms(), MalformedStructureError, "no atoms"),
    "nan coordinate": (moved(1, [np.nan, 0, 0]), MalformedStructureError, "NaN or infinite"),
    "inf coordinate": (moved(2, [0, -np.inf, 0]), MalformedStructureError, "NaN or infinite"),
    "periodic": (water(cell=[8, 8, 8], pbc=True), MalformedStructureError, "periodic"),
    "coincident atoms": (moved(1, molecule("H2O").positions[0]), MalformedStructureError, "overlapping"),
    "atoms closer than the minimum": (moved(1, molecule("H2O").positions[0] + [MIN_DISTANCE / 2, 0, 0]),
                                      MalformedStructureError, "overlapping"),
    "dummy element Z=0": (Atoms("X2", positions=[[0, 0, 0], [0, 0, 1]]), UnsupportedElementError, "Z = 1..118"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_structures_get_a_named_error(case):
    atoms, error, message = CASES[case]
    with pytest.raises(error, match=message) as info:
        validate_structure(atoms)
    assert isinstance(info.value, XailibError) and isinstance(info.value, ValueError)


@pytest.mark.parametrize("atoms", [molecule("H2O"), molecule("CH3CH2OH"), Atoms("He"),
                                   water(cell=[8, 8, 8], pbc=False)], ids=["water", "ethanol", "one atom", "cell"])
def test_good_structures_pass(atoms):
    validate_structure(atoms)


def test_element_set_and_max_z():
    validate_structure(molecule("CH3CH2OH"), elements={1, 6, 8})
    with pytest.raises(UnsupportedElementError, match=r"\['N'\].*H, C, O"):
        validate_structure(molecule("NH3"), elements={1, 6, 8})
    with pytest.raises(UnsupportedElementError, match="xtb covers Z = 1..86"):
        validate_structure(Atoms("U", positions=[[0, 0, 0]]), max_z=86, method="xtb")


def test_min_distance_is_an_argument():
    atoms = moved(1, molecule("H2O").positions[0] + [0.5, 0, 0])
    validate_structure(atoms)
    with pytest.raises(MalformedStructureError, match="0.500 Ang apart"):
        validate_structure(atoms, min_distance=0.6)
