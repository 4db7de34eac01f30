"""Frontier-orbital populations (xailib.qm.orbitals): sums, basis map, charges, invariances, known answers,
and the shipped table."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from ase.build import molecule
from scipy.spatial.transform import Rotation

from xailib.base.io import CacheFileError
from xailib.qm.orbitals import (FRONTIER_FILE, frontier_populations, frontier_table, load_frontier_table,
                                orbital_populations, save_frontier_table)
from xailib.qm.xtb import MalformedStructureError, xtb_labels

pytestmark = pytest.mark.slow  # GFN2-xTB calculations (tblite), about a second in all

#: GFN2-xTB basis functions per element (H: 1s; C, N, O: 2s 2p; S, Cl: 3s 3p 3d with 5 d functions).
N_BASIS = {1: 1, 6: 4, 7: 4, 8: 4, 16: 9, 17: 9}
VALENCE = {1: 1, 6: 4, 7: 5, 8: 6, 16: 6, 17: 7}


@pytest.mark.parametrize("name", ["H2O", "CH3SH", "CH3Cl", "CH3CH2OH"])
def test_every_orbital_sums_to_one_and_charges_match_tblite(name):
    atoms = molecule(name)
    pops = orbital_populations(atoms)
    n_basis = sum(N_BASIS[z] for z in atoms.numbers)
    assert pops.populations.shape == (len(atoms), n_basis)  # the basis map covers every function
    np.testing.assert_allclose(pops.populations.sum(axis=0), 1.0, atol=1e-8)
    valence = np.array([VALENCE[z] for z in atoms.numbers], dtype=float)
    np.testing.assert_allclose(valence - pops.electron_population(), pops.charges, atol=1e-8)
    labels = xtb_labels(atoms)
    assert pops.energies[pops.homo] == pytest.approx(labels["homo"][0], abs=1e-8)
    assert pops.energies[pops.homo + 1] == pytest.approx(labels["lumo"][0], abs=1e-8)


def test_h2_known_answer():
    homo, lumo = frontier_populations(molecule("H2"))
    np.testing.assert_allclose(homo, [0.5, 0.5], atol=1e-10)
    np.testing.assert_allclose(lumo, [0.5, 0.5], atol=1e-10)


def test_equivalent_atoms_get_equal_populations_degenerate_levels_averaged():
    # CH3Cl (C3v): the HOMO is a degenerate pair; only the average over the pair is the same on all three H
    atoms = molecule("CH3Cl")
    pops = orbital_populations(atoms)
    e = pops.energies
    assert abs(e[pops.homo] - e[pops.homo - 1]) < 1e-3  # not vacuous: the HOMO level is degenerate
    h = np.flatnonzero(atoms.numbers == 1)
    homo, lumo = frontier_populations(atoms)
    assert np.ptp(homo[h]) < 1e-5 and np.ptp(lumo[h]) < 1e-5
    assert np.ptp(pops.populations[h, pops.homo]) > 1e-3  # a single orbital of the pair is not symmetric
    water = frontier_populations(molecule("H2O"))
    for p in water:
        assert p[1] == pytest.approx(p[2], abs=1e-6)
        assert p.sum() == pytest.approx(1.0, abs=1e-10)


@pytest.mark.parametrize("name", ["CH3Cl", "CH3CH2OH"])
def test_rotation_and_translation_invariance(name):
    atoms = molecule(name)
    moved = atoms.copy()
    moved.positions = Rotation.random(random_state=3).apply(atoms.positions) + [1.5, -2.0, 0.7]
    for p, q in zip(frontier_populations(atoms), frontier_populations(moved)):
        np.testing.assert_allclose(p, q, atol=1e-5)


def test_permutation_equivariance():
    atoms = molecule("CH3CH2OH")
    perm = np.random.default_rng(0).permutation(len(atoms))
    for p, q in zip(frontier_populations(atoms), frontier_populations(atoms[perm])):
        np.testing.assert_allclose(p[perm], q, atol=1e-6)


def test_open_shell_refused():
    with pytest.raises(MalformedStructureError, match="open-shell"):
        frontier_populations(Atoms("CH3", positions=[[0, 0, 0], [1.08, 0, 0], [-0.54, 0.93, 0], [-0.54, -0.93, 0]]))


def test_table_round_trip(tmp_path):
    structures = [molecule("H2O"), molecule("NH3")]
    table = frontier_table(structures, ["w", "a"], dataset="test")
    path = save_frontier_table(table, tmp_path / "f.npz")
    back = load_frontier_table(path)
    assert list(back.molecules) == ["w", "a"] and back.meta["dataset"] == "test"
    np.testing.assert_array_equal(back.of("a")["numbers"], structures[1].numbers)
    np.testing.assert_allclose(back.of("w")["homo_pop"], frontier_populations(structures[0])[0], atol=1e-12)
    with pytest.raises(KeyError):
        back.of("x")
    with pytest.raises(CacheFileError, match="study orbitals"):
        load_frontier_table(tmp_path / "missing.npz")


def test_shipped_table_matches_the_dataset():
    from xailib.base.paths import data_dir
    from xailib.data import frames

    table = load_frontier_table()
    assert (data_dir() / FRONTIER_FILE).stat().st_size < 100_000
    assert len(table) == len(set(table.molecules)) == 60
    structures = frames("nci-small", indices=table.meta["rows"])
    for k, atoms in enumerate(structures):
        got = table.of(str(table.molecules[k]))
        np.testing.assert_array_equal(got["numbers"], atoms.numbers)
        assert got["homo_pop"].sum() == pytest.approx(1.0, abs=1e-8)
        assert got["lumo_pop"].sum() == pytest.approx(1.0, abs=1e-8)
        assert table.homo[k] == pytest.approx(atoms.info["labels"]["homo"][0], abs=1e-6)
        assert table.lumo[k] == pytest.approx(atoms.info["labels"]["lumo"][0], abs=1e-6)
