"""The non-interacting dimer test (xailib.analysis.dimers): geometry, sum and mean aggregation, the split
explanation, the GFN2-xTB pair rule, and the study table."""

from __future__ import annotations

import numpy as np
import pytest
from ase.build import molecule
from lrp_models import mol, potential
from scipy.spatial.distance import cdist

from xailib.analysis.dimers import (DimerSeparationError, dimer_table, far_dimer, load_dimer_table, model_dimer,
                                    random_pairs, reference_dimer, save_dimer_table, split_relevance)


@pytest.mark.parametrize("separation,direction", [(15.0, (1, 0, 0)), (6.0, (0.3, -1.0, 0.5)), (0.9, (0, 0, 1))])
def test_far_dimer_geometry(separation, direction):
    a, b = mol("CH3CH2OH"), mol("H2CO")
    d = far_dimer(a, b, separation, direction)
    n = len(a)
    np.testing.assert_array_equal(d.numbers, np.concatenate([a.numbers, b.numbers]))
    np.testing.assert_array_equal(d.positions[:n], a.positions)  # A untouched
    shift = d.positions[n:] - b.positions  # B rigidly translated: the same shift for every atom
    np.testing.assert_allclose(shift, np.broadcast_to(shift[0], shift.shape), atol=1e-12)
    u = np.asarray(direction, float) / np.linalg.norm(direction)
    centres = d.positions[n:].mean(0) - a.positions.mean(0)  # B's centre lies on the line through A's along u
    np.testing.assert_allclose(centres - (centres @ u) * u, 0.0, atol=1e-12)
    assert cdist(d.positions[:n], d.positions[n:]).min() == pytest.approx(separation, abs=1e-9)


def test_bad_separation_named():
    a, b = mol("H2O"), mol("NH3")
    for bad in (0.0, -1.0, float("nan")):
        with pytest.raises(DimerSeparationError, match="positive"):
            far_dimer(a, b, bad)
    with pytest.raises(DimerSeparationError, match="within the model's 5.0 Angstrom cutoff"):
        model_dimer(potential("schnet", 2), a, b, separation=4.0)


def test_random_pairs_disjoint_and_seeded():
    pairs = random_pairs(60, 30, seed=0)
    flat = [i for p in pairs for i in p]
    assert len(pairs) == 30 and sorted(flat) == list(range(60))
    assert pairs == random_pairs(60, 30, seed=0) and pairs != random_pairs(60, 30, seed=1)
    with pytest.raises(ValueError, match="disjoint"):
        random_pairs(10, 6)


@pytest.mark.parametrize("arch", ["schnet", "painn"])
def test_sum_model_adds_exactly(arch):
    model, a, b = potential(arch, 2), mol("CH3CH2OH"), mol("H2CO")
    row = model_dimer(model, a, b, separation=6.0)
    assert row["mean"] == 0.0
    assert abs(row["y_a"]) > 1e-3 and abs(row["y_b"]) > 1e-3  # not vacuous
    assert row["y_ab"] == pytest.approx(row["y_a"] + row["y_b"], abs=1e-6)
    assert row["expected_ab"] == pytest.approx(row["y_a"] + row["y_b"], abs=1e-12)
    assert row["sum_ab"] == pytest.approx(row["y_ab"], abs=1e-6)
    for key in ("conservation", "between", "drift_a", "drift_b"):
        assert abs(row[key]) < 1e-9, key


@pytest.mark.parametrize("arch", ["schnet", "painn"])
def test_mean_model_gives_the_atom_weighted_average(arch):
    model, a, b = potential(arch, 2, aggregation="avg"), mol("CH3CH2OH"), mol("H2CO")
    row = model_dimer(model, a, b, separation=6.0)
    n_a, n_b = len(a), len(b)
    weighted = (n_a * row["y_a"] + n_b * row["y_b"]) / (n_a + n_b)
    assert row["mean"] == 1.0 and abs(row["y_a"] - row["y_b"]) > 1e-3  # the average differs from both
    assert row["y_ab"] == pytest.approx(weighted, abs=1e-9)
    assert row["y_ab"] != pytest.approx(row["y_a"] + row["y_b"], abs=1e-3)
    # summing the same per-atom outputs instead of averaging them
    assert row["sum_a"] == pytest.approx(n_a * row["y_a"], abs=1e-9)
    assert row["sum_ab"] == pytest.approx(n_a * row["y_a"] + n_b * row["y_b"], abs=1e-9)
    for key in ("conservation", "between", "drift_a", "drift_b"):
        assert abs(row[key]) < 1e-9, key


def test_split_relevance_sees_interaction_within_the_cutoff():
    model, a, b = potential("schnet", 2), mol("CH3CH2OH"), mol("H2CO")
    near = split_relevance(model, far_dimer(a, b, 2.0), len(a))
    far = split_relevance(model, far_dimer(a, b, 6.0), len(a))
    assert abs(near["between"]) > 1e-4  # walks across the two molecules carry relevance
    assert abs(far["between"]) < 1e-10
    for r in (near, far):
        assert r["conserved"] == pytest.approx(r["output"], abs=1e-9)  # gi conserves
    alone = split_relevance(model, a, len(a))
    assert alone["inside_b"] == 0.0 and alone["between"] == pytest.approx(0.0, abs=1e-10)
    assert near["inside_a"] + near["inside_b"] != pytest.approx(far["inside_a"] + far["inside_b"], abs=1e-4)


@pytest.mark.slow  # GFN2-xTB (tblite), under a second
def test_reference_gap_is_lowest_lumo_minus_highest_homo():
    # NH3 has the higher HOMO, N2 the lower LUMO: the pair's gap lies far below both gaps
    ref = reference_dimer(molecule("NH3"), molecule("N2"), separation=20.0)
    rule = min(ref["lumo_a"], ref["lumo_b"]) - max(ref["homo_a"], ref["homo_b"])
    assert ref["rule_gap"] == pytest.approx(rule, abs=1e-12)
    assert rule < min(ref["gap_a"], ref["gap_b"]) - 1.0  # not vacuous: below both monomer gaps
    assert ref["gap_ab"] == pytest.approx(rule, abs=1e-3)
    assert ref["energy_ab"] == pytest.approx(ref["energy_a"] + ref["energy_b"], abs=1e-3)


@pytest.mark.slow  # GFN2-xTB for three pairs
def test_table_round_trip(tmp_path):
    structures = [molecule(n) for n in ("H2O", "NH3", "CH4", "H2CO", "C2H2", "HCN")]
    models = {"sum": potential("schnet", 2), "mean": potential("schnet", 2, aggregation="avg")}
    with pytest.raises(DimerSeparationError):
        dimer_table(models, structures, list("abcdef"), n_pairs=3, separation=5.0)
    table = dimer_table(models, structures, list("abcdef"), n_pairs=3, separation=8.0, note="test")
    back = load_dimer_table(save_dimer_table(table, tmp_path / "d.npz"))
    assert back.meta["note"] == "test" and back.meta["separation_A"] == 8.0
    assert len(back.reference["a"]) == 3 and len(back.models["model"]) == 6
    rows = back.model("mean")
    np.testing.assert_allclose(rows["y_ab"], rows["expected_ab"], atol=1e-9)
    np.testing.assert_allclose(back.reference["gap_ab"], back.reference["rule_gap"], atol=0.05)
    with pytest.raises(KeyError):
        back.model("other")
