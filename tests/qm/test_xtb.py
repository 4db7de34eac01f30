"""GFN2-xTB labels from xailib.qm.xtb: unit conversions, agreement with tblite's ASE calculator,
finite differences, invariances, frontier orbitals, and clear errors on bad input."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from ase.build import molecule

from xailib.qm.xtb import (
    MalformedStructureError,
    UnsupportedElementError,
    XTBSettings,
    ase_calculator,
    free_atom_energies,
    validate_atoms,
    xtb_energy,
    xtb_labels,
)

pytestmark = pytest.mark.slow  # GFN2-xTB calculations (tblite)

TIGHT = XTBSettings(accuracy=0.01)  # tighter SCF for finite differences


@pytest.fixture(scope="module")
def ethanol() -> Atoms:
    atoms = molecule("CH3CH2OH")
    atoms.rattle(0.05, seed=1)  # off-equilibrium, so forces are non-zero
    return atoms


@pytest.fixture(scope="module")
def labels(ethanol):
    return xtb_labels(ethanol)


def test_shapes_and_dtypes(labels, ethanol):
    n = len(ethanol)
    shapes = {"energy": (1,), "forces": (n, 3), "atomic_energies": (n,), "partial_charges": (n,),
              "dipole_moment": (1, 3), "homo": (1,), "lumo": (1,), "gap": (1,)}
    assert {k: v.shape for k, v in labels.items()} == shapes
    assert all(v.dtype == np.float64 and np.all(np.isfinite(v)) for v in labels.values())


def test_agrees_with_tblite_ase_calculator(labels, ethanol):
    """The interface-level labels (Hartree/Bohr converted here) equal tblite's own ASE conversion."""
    atoms = ethanol.copy()
    atoms.calc = ase_calculator()
    np.testing.assert_allclose(labels["energy"][0], atoms.get_potential_energy(), rtol=0, atol=1e-8)
    np.testing.assert_allclose(labels["forces"], atoms.get_forces(), rtol=0, atol=1e-7)
    np.testing.assert_allclose(labels["atomic_energies"], atoms.calc.results["energies"], rtol=0, atol=1e-8)
    np.testing.assert_allclose(labels["partial_charges"], atoms.get_charges(), rtol=0, atol=1e-8)
    np.testing.assert_allclose(labels["dipole_moment"][0], atoms.get_dipole_moment(), rtol=0, atol=1e-8)


def test_atomic_energies_sum_to_energy_and_charges_to_zero(labels):
    assert labels["atomic_energies"].sum() == pytest.approx(labels["energy"][0], abs=1e-8)
    assert labels["partial_charges"].sum() == pytest.approx(0.0, abs=1e-6)


def test_frontier_orbitals_by_valence_electron_count(ethanol, labels):
    """HOMO is orbital n_valence/2 (1-based) of GFN2-xTB's minimal valence basis; LUMO the next one."""
    from ase.units import Bohr, Hartree
    from tblite.interface import Calculator

    valence = {1: 1, 6: 4, 7: 5, 8: 6, 9: 7, 16: 6, 17: 7}
    n_occ = sum(valence[z] for z in ethanol.numbers) // 2
    calc = Calculator("GFN2-xTB", ethanol.numbers, ethanol.positions / Bohr)
    calc.set("verbosity", 0)
    eps = calc.singlepoint().get("orbital-energies") * Hartree
    assert labels["homo"][0] == pytest.approx(eps[n_occ - 1], abs=1e-6)
    assert labels["lumo"][0] == pytest.approx(eps[n_occ], abs=1e-6)
    assert labels["gap"][0] == pytest.approx(labels["lumo"][0] - labels["homo"][0], abs=1e-12)
    assert labels["homo"][0] < 0 < labels["gap"][0]


def test_forces_match_central_finite_differences(ethanol):
    analytic = xtb_labels(ethanol, TIGHT)["forces"]
    rng = np.random.default_rng(0)
    h = 1e-3
    for i, c in zip(rng.choice(len(ethanol), 4, replace=False), rng.integers(0, 3, 4)):
        plus, minus = ethanol.copy(), ethanol.copy()
        plus.positions[i, c] += h
        minus.positions[i, c] -= h
        fd = -(xtb_energy(plus, TIGHT) - xtb_energy(minus, TIGHT)) / (2 * h)
        assert fd == pytest.approx(analytic[i, c], abs=2e-4)


def test_rotation_translation_permutation(ethanol, labels):
    from scipy.spatial.transform import Rotation

    rot = Rotation.from_euler("xyz", [30, -50, 110], degrees=True).as_matrix()
    moved = ethanol.copy()
    moved.positions = ethanol.positions @ rot.T + np.array([1.5, -2.0, 0.7])
    perm = np.random.default_rng(3).permutation(len(ethanol))
    moved = moved[perm]
    new = xtb_labels(moved)
    assert new["energy"][0] == pytest.approx(labels["energy"][0], abs=1e-6)
    for key in ("gap", "homo", "lumo"):
        assert new[key][0] == pytest.approx(labels[key][0], abs=1e-5)
    np.testing.assert_allclose(new["forces"], (labels["forces"] @ rot.T)[perm], atol=1e-5)
    np.testing.assert_allclose(new["partial_charges"], labels["partial_charges"][perm], atol=1e-5)
    np.testing.assert_allclose(new["atomic_energies"], labels["atomic_energies"][perm], atol=1e-5)
    # neutral molecule: the dipole does not depend on the origin and rotates with the molecule
    np.testing.assert_allclose(new["dipole_moment"][0], rot @ labels["dipole_moment"][0], atol=1e-5)


def test_free_atom_energies_are_below_zero_and_ordered():
    e = free_atom_energies()
    assert set(e) == {1, 6, 7, 8, 9, 16, 17}
    assert all(v < 0 for v in e.values())
    # a bound molecule is lower in energy than its free atoms (atomisation energy > 0)
    water = molecule("H2O")
    assert xtb_energy(water) < e[8] + 2 * e[1]


@pytest.mark.parametrize("atoms, error, words", [
    (Atoms(), MalformedStructureError, "no atoms"),
    (Atoms("H2", positions=[[0, 0, 0], [0, 0, np.nan]]), MalformedStructureError, "NaN"),
    (Atoms("H2", positions=[[0, 0, 0], [0, 0, 0.1]]), MalformedStructureError, "overlapping"),
    (Atoms("U", positions=[[0, 0, 0]]), UnsupportedElementError, "Z = 1..86"),
    (Atoms("H2", positions=[[0, 0, 0], [0, 0, 0.74]], cell=[5, 5, 5], pbc=True), MalformedStructureError, "periodic"),
    (Atoms("CH3", positions=[[0, 0, 0], [1.08, 0, 0], [-0.54, 0.94, 0], [-0.54, -0.94, 0]]),
     MalformedStructureError, "open-shell"),
])
def test_bad_input_is_rejected_with_a_clear_message(atoms, error, words):
    with pytest.raises(error, match=words):
        xtb_labels(atoms)


def test_element_whitelist_and_wrong_type():
    with pytest.raises(UnsupportedElementError, match="Br"):
        validate_atoms(molecule("CH3CH2OH") + Atoms("Br", positions=[[4, 0, 0]]), elements={1, 6, 8})
    with pytest.raises(MalformedStructureError, match="ase.Atoms"):
        xtb_labels(np.zeros((3, 3)))
