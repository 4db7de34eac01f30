"""Per-molecule helpers moved out of chapters 04-06: locality metrics and molecule_locality, frontier
populations, structure matching, free-atom energies, per-molecule means and sizes, per-seed rankings."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from lrp_models import mol, potential

from xailib.analysis import atom_relevance_parts, locality
from xailib.analysis.dimers import free_atom_energy
from xailib.analysis.frontier import ORBITALS, orbital_population
from xailib.analysis.locality import locality_metrics, molecule_locality
from xailib.analysis.seeds import seed_rankings
from xailib.analysis.stats import molecule_sizes, per_molecule
from xailib.analysis.test_sets import structure_rows


class _Results:
    """The parts of RelevanceResults the helpers read: concatenated positions, offsets, molecule ids."""

    def __init__(self, structures, ids):
        self.positions = np.concatenate([a.positions for a in structures])
        self.offsets = np.concatenate([[0], np.cumsum([len(a) for a in structures])])
        self._ids = np.array(ids)

    def __len__(self):
        return len(self.offsets) - 1

    def molecule_ids(self):
        return self._ids


def test_locality_metrics_hand_made():
    even = locality_metrics(np.ones(6))
    assert even["top_k_share"] == pytest.approx(0.5) and even["top3_excess"] == pytest.approx(0.0)
    one = locality_metrics([0.0, 2.0, 0.0, 0.0])
    assert one["top_k_share"] == pytest.approx(1.0) and one["top3_excess"] == pytest.approx(0.25)
    signs = locality_metrics([-2.0, 1.0, 1.0, 0.0, 0.0], k=1)  # |R| counts: 2 of 4 on the top atom
    assert signs["top_k_share"] == pytest.approx(0.5) and signs["top1_excess"] == pytest.approx(0.5 - 1 / 5)
    assert {k: v for k, v in signs.items() if k != "top1_excess"} == locality([-2.0, 1.0, 1.0, 0.0, 0.0], k=1)


def test_molecule_locality_matches_atom_relevance_parts():
    model, structures, mols = potential("schnet", 2), [mol("CH3CH2OH"), mol("H2O")], ["NCI-1", "NCI-2"]
    rules = {"gi": "features", "gamma": "reference"}
    parts = {(r, m): atom_relevance_parts(model, a, rule=r, composite=c)
             for r, c in rules.items() for a, m in zip(structures, mols)}
    exact = {r: [(parts[r, m]["walks"] + parts[r, m]["bias"]).sum() for m in mols] for r in rules}
    values, rels, dev = molecule_locality(model, structures, mols, rules, check=exact)
    assert dev == pytest.approx(0.0, abs=1e-12)
    assert set(values) == {(r, f, q) for r in rules for f in ("complete", "walks")
                           for q in ("top_k_share", "entropy", "normalised_entropy", "top3_excess")}
    for (r, m), p in parts.items():
        np.testing.assert_allclose(rels[r, "walks", m], p["walks"], rtol=0, atol=1e-12)
        np.testing.assert_allclose(rels[r, "complete", m], p["walks"] + p["bias"], rtol=0, atol=1e-12)
        for form in ("complete", "walks"):
            for q, v in locality_metrics(rels[r, form, m]).items():
                assert values[r, form, q][m] == pytest.approx(v, abs=1e-12)
    shifted = {r: [v + 0.5 for v in exact[r]] for r in rules}  # a wrong total is reported
    assert molecule_locality(model, structures, mols, {"gi": "features"}, check=shifted).max_sum_deviation == \
        pytest.approx(0.5, abs=1e-9)
    with pytest.raises(ValueError):
        molecule_locality(model, structures, mols[:1], rules)


def test_orbital_population():
    entry = {"homo_pop": np.array([0.5, 0.5, 0.0]), "lumo_pop": np.array([0.0, 0.2, 0.8])}
    np.testing.assert_allclose(orbital_population(entry, "frontier"), [0.25, 0.35, 0.4])
    np.testing.assert_array_equal(orbital_population(entry, "HOMO"), entry["homo_pop"])
    np.testing.assert_array_equal(orbital_population(entry, "LUMO"), entry["lumo_pop"])
    assert ORBITALS == ("frontier", "HOMO", "LUMO")
    with pytest.raises(ValueError):
        orbital_population(entry, "SOMO")


def test_structure_rows_match_by_coordinates():
    frames = [mol("H2O"), mol("CH4"), mol("NH3")]
    moved = mol("CH4")
    moved.positions[0, 0] += 1e-3
    res = _Results([frames[2], frames[0], frames[2]], ["a", "b", "a"])
    assert structure_rows(res, frames) == [2, 0, 2]
    with pytest.raises(KeyError):
        structure_rows(_Results([moved], ["c"]), frames)


def test_free_atom_energy():
    refs = np.zeros(10)
    refs[1], refs[8] = -13.6, -2000.0
    assert free_atom_energy(Atoms("H2O"), refs) == pytest.approx(2 * -13.6 - 2000.0)
    assert isinstance(free_atom_energy(Atoms("H2O"), list(refs)), float)


def test_per_molecule_means_and_sizes():
    structures = [Atoms("H2O"), Atoms("H2O"), Atoms("CH4"), Atoms("NH3"), Atoms("NH3")]
    res = _Results(structures, ["w", "w", "m", "a", "a"])
    out = per_molecule([1.0, 3.0, 5.0, 2.0, 4.0], res)
    assert out == {"a": pytest.approx(3.0), "m": pytest.approx(5.0), "w": pytest.approx(2.0)}
    np.testing.assert_array_equal(molecule_sizes(res), [4.0, 5.0, 3.0])  # sorted ids: a, m, w


def test_seed_rankings_per_seed_order_and_ties():
    rows = [{"pair": ("H", "C"), "per_seed": (-1.0, -3.0), "n_seeds": 2},
            {"pair": ("C", "C"), "per_seed": (-2.0, -3.0), "n_seeds": 2},
            {"pair": ("H", "H"), "per_seed": (0.5, -4.0), "n_seeds": 2}]
    first = seed_rankings(rows, 1)
    assert [top[0]["pair"] for top in first] == [("C", "C"), ("H", "H")]
    assert [[r["pair"] for r in top] for top in seed_rankings(rows)] == [
        [("C", "C"), ("H", "C"), ("H", "H")], [("H", "H"), ("H", "C"), ("C", "C")]]  # tie: order of rows
    # chapter 04's previous inline code
    assert [top[0] for top in first] == [min(rows, key=lambda r: r["per_seed"][s]) for s in range(2)]
    assert seed_rankings([], 3) == []
