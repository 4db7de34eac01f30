"""Synthetic potentials with exact n-body terms (xailib.analysis.synthetic, xailib.analysis.synthetic_data)."""

from itertools import combinations

import numpy as np
import pytest
import torch
from ase import Atoms
from ase.build import molecule

from xailib.analysis.synthetic import (
    MATCH_DISTANCE,
    POTENTIALS,
    R_OFF,
    UnknownPotentialError,
    energy_forces,
    pair_law,
    terms,
)
from xailib.analysis.synthetic_data import build_synthetic_dataset
from xailib.base.errors import UnsupportedElementError
from xailib.data.store import read_rows, write_db

MOLECULES = ("CH3CH2OH", "C6H6", "CH3SCH3", "CH3Cl")


def _expected_keys(n: int, potential: str) -> set:
    keys = set(combinations(range(n), 2))
    if potential == "pair_power_atm":
        keys |= set(combinations(range(n), 3))
    return keys


@pytest.mark.parametrize("potential", POTENTIALS)
@pytest.mark.parametrize("name", MOLECULES)
def test_terms_sum_to_energy_and_cover_all_tuples(potential, name):
    atoms = molecule(name)
    t = terms(atoms, potential)
    energy, forces = energy_forces(atoms, potential)
    assert forces.shape == (len(atoms), 3)
    assert abs(sum(t.values()) - energy) < 1e-10
    assert set(t) == _expected_keys(len(atoms), potential)
    assert all(list(k) == sorted(k) for k in t)
    d = atoms.get_all_distances()
    for (i, j), e in ((k, v) for k, v in t.items() if len(k) == 2):
        if d[i, j] >= R_OFF:
            assert e == 0.0


@pytest.mark.parametrize("potential", POTENTIALS)
@pytest.mark.parametrize("name", MOLECULES)
def test_locality(potential, name):
    rng = np.random.default_rng(1)
    atoms = molecule(name)
    before = terms(atoms, potential)
    for m in rng.choice(len(atoms), size=2, replace=False):
        moved = atoms.copy()
        moved.positions[m] += rng.normal(scale=0.05, size=3)
        after = terms(moved, potential)
        assert set(after) == set(before)
        for key, e in before.items():
            if m not in key:
                assert abs(after[key] - e) <= 1e-12
        assert any(abs(after[key] - before[key]) > 1e-12 for key in before if m in key and after[key] != 0.0)


@pytest.mark.parametrize("potential", POTENTIALS)
@pytest.mark.parametrize("name", ("CH3CH2OH", "CH3Cl"))
def test_forces_match_finite_differences(potential, name):
    atoms = molecule(name)
    atoms.positions += np.random.default_rng(2).normal(scale=0.05, size=atoms.positions.shape)
    _, forces = energy_forces(atoms, potential)
    h = 1e-5
    fd = np.zeros_like(forces)
    for a in range(len(atoms)):
        for c in range(3):
            plus, minus = atoms.copy(), atoms.copy()
            plus.positions[a, c] += h
            minus.positions[a, c] -= h
            fd[a, c] = -(energy_forces(plus, potential)[0] - energy_forces(minus, potential)[0]) / (2 * h)
    np.testing.assert_allclose(forces, fd, atol=1e-6, rtol=0)


@pytest.mark.parametrize("potential", POTENTIALS)
def test_translation_and_rotation_invariance(potential):
    atoms = molecule("CH3SCH3")
    energy, forces = energy_forces(atoms, potential)
    shifted = atoms.copy()
    shifted.positions += [1.3, -2.7, 0.4]
    assert abs(energy_forces(shifted, potential)[0] - energy) < 1e-10
    rotated = atoms.copy()
    rotated.rotate(37.0, (0.3, -1.0, 0.5), center="COM")
    e_rot, f_rot = energy_forces(rotated, potential)
    assert abs(e_rot - energy) < 1e-10
    # forces rotate with the molecule
    R = np.linalg.lstsq(atoms.positions - atoms.positions.mean(0), rotated.positions - rotated.positions.mean(0),
                        rcond=None)[0]
    np.testing.assert_allclose(forces @ R, f_rot, atol=1e-10)


@pytest.mark.parametrize("potential", POTENTIALS)
def test_switch_cuts_pairs_at_r_off(potential):
    for r in (R_OFF, R_OFF + 1e-9, R_OFF + 0.5, 8.0):
        dimer = Atoms("CO", positions=[[0, 0, 0], [r, 0, 0]])
        assert terms(dimer, potential) == {(0, 1): 0.0}
        energy, forces = energy_forces(dimer, potential)
        assert energy == 0.0
        assert np.abs(forces).max() < 1e-12  # the C2 switch has zero slope at R_OFF (up to rounding there)
    inside = Atoms("CO", positions=[[0, 0, 0], [R_OFF - 0.1, 0, 0]])
    assert terms(inside, potential)[(0, 1)] < 0.0


def test_pair_laws_agree_at_match_distance():
    for c6 in (1.451, np.sqrt(18.14 * 57.73), 52.55):
        r, c = torch.tensor([MATCH_DISTANCE], dtype=torch.float64), torch.tensor([c6], dtype=torch.float64)
        power, exp = pair_law(r, c, "pair_power"), pair_law(r, c, "pair_exp")
        assert float(power) < 0.0
        assert abs(float(power) - float(exp)) <= 1e-12 * abs(float(power))
    # and on molecules: a C-S pair at 3 A
    dimer = Atoms("CS", positions=[[0, 0, 0], [MATCH_DISTANCE, 0, 0]])
    assert terms(dimer, "pair_power")[(0, 1)] == pytest.approx(terms(dimer, "pair_exp")[(0, 1)], rel=1e-12)


def test_errors():
    with pytest.raises(UnknownPotentialError):
        terms(molecule("H2O"), "lennard_jones")
    with pytest.raises(UnknownPotentialError):
        energy_forces(molecule("H2O"), "lennard_jones")
    for potential in POTENTIALS:
        with pytest.raises(UnsupportedElementError):
            terms(molecule("SiH4"), potential)
        with pytest.raises(UnsupportedElementError):
            energy_forces(molecule("SiH4"), potential)


@pytest.mark.parametrize("potential", POTENTIALS)
def test_element_ranking(potential):
    s2 = Atoms("S2", positions=[[0, 0, 0], [3.0, 0, 0]])
    h2 = Atoms("H2", positions=[[0, 0, 0], [3.0, 0, 0]])
    e_s2, e_h2 = energy_forces(s2, potential)[0], energy_forces(h2, potential)[0]
    assert e_s2 < e_h2 < 0.0
    assert e_s2 / e_h2 == pytest.approx(57.73 / 1.451, rel=1e-12)


def test_build_synthetic_dataset(tmp_path):
    rng = np.random.default_rng(3)
    records = []
    for k, name in enumerate(("CH3CH2OH", "CH3Cl", "CH3SCH3")):
        for t in range(2):
            atoms = molecule(name)
            atoms.positions += rng.normal(scale=0.05, size=atoms.positions.shape)
            records.append({"atoms": atoms,
                            "props": {"energy": np.array([-1.0]), "forces": np.zeros((len(atoms), 3))},
                            "meta": {"mol_id": f"m{k}", "t_fs": float(t), "temperature_K": 300.0 * t}})
    write_db(tmp_path / "tiny.db", records, {"name": "tiny"}, properties=("energy", "forces"))
    for potential in POTENTIALS:
        out = build_synthetic_dataset(potential, dataset="tiny", directory=tmp_path / "out",
                                      source_directory=tmp_path, progress=False)
        assert out == tmp_path / "out" / f"tiny-{potential}.db"
        copy = read_rows(out, range(len(records)))
        with pytest.raises(KeyError):
            read_rows(out, [len(records)])
        frames = np.load(out.with_name(f"tiny-{potential}.frames.npz"))
        assert frames["mol_id"].tolist() == [r["meta"]["mol_id"] for r in records]
        for rec, atoms in zip(records, copy):
            np.testing.assert_array_equal(atoms.numbers, rec["atoms"].numbers)
            np.testing.assert_allclose(atoms.positions, rec["atoms"].positions, atol=1e-12)
            energy, forces = energy_forces(rec["atoms"], potential)
            labels = atoms.info["labels"]
            assert float(np.ravel(labels["energy"])[0]) == pytest.approx(energy, abs=1e-10)
            np.testing.assert_allclose(labels["forces"], forces, atol=1e-5)
