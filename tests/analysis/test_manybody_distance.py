"""The 3-body share by distance (chapter 06) on known answers, and the shipped study against chapter 04's pair terms."""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pytest
from lrp_models import mol

from xailib.analysis.manybody import (binned_abs, known_answer_distance_shares, known_answer_share, share3_by_distance,
                                      triple_longest_sides)
from xailib.analysis.manybody_study import DIST_EDGES

EDGES = DIST_EDGES.tolist()


def test_share_equals_a_direct_per_bin_computation():
    rng = np.random.default_rng(1)
    n_mol, edges = 7, [0.5, 1.5, 2.5, 3.5, 5.0]
    r2, v2, m2 = rng.uniform(0.2, 5.5, 300), rng.normal(size=300), rng.integers(0, n_mol, 300)
    r3, v3, m3 = rng.uniform(0.2, 5.5, 500), rng.normal(size=500), rng.integers(0, n_mol, 500)
    a2, a3 = binned_abs(r2, v2, m2, edges, n_mol), binned_abs(r3, v3, m3, edges, n_mol)
    assert a2.shape == (n_mol, len(edges) - 1)
    np.testing.assert_allclose(a2[3, 1], np.abs(v2[(m2 == 3) & (r2 >= 1.5) & (r2 < 2.5)]).sum())
    share = share3_by_distance(a2, a3)
    for b, (lo, hi) in enumerate(zip(edges[:-1], edges[1:])):
        s2 = np.abs(v2[(r2 >= lo) & (r2 < hi)]).sum()
        s3 = np.abs(v3[(r3 >= lo) & (r3 < hi)]).sum()
        assert share[b] == pytest.approx(s3 / (s2 + s3))
    # seeds stack on a leading axis; an empty bin is nan, not an error
    both = share3_by_distance(np.stack([a2, 2 * a2]), np.stack([a3, a3]))
    assert both.shape == (2, len(edges) - 1) and np.all(both[1] <= both[0])
    empty = share3_by_distance(np.zeros((2, 3)), np.zeros((2, 3)))
    assert np.all(np.isnan(empty))
    with pytest.raises(ValueError, match="one shape"):
        share3_by_distance(a2, a3[:, :2])


def test_triple_longest_sides_in_canonical_order():
    atoms = mol("CH3CH2OH")
    d = atoms.get_all_distances()
    expected = [max(d[i, j], d[j, k], d[i, k]) for i, j, k in combinations(range(len(atoms)), 3)]
    np.testing.assert_allclose(triple_longest_sides([atoms, atoms]), expected * 2)


def test_known_answer_curves_zero_for_a_pair_potential_and_shares_in_unit_interval():
    pair = known_answer_distance_shares("pair_power", edges=EDGES, n_boot=20)
    ok = np.isfinite(pair["mean"])
    assert ok.sum() >= 3 and np.all(pair["mean"][ok] == 0)  # the truth of a pair potential has no 3-body terms
    atm = known_answer_distance_shares("pair_power_atm", edges=EDGES, n_boot=20)
    learned = known_answer_distance_shares("pair_power_atm", "schnet", edges=EDGES, n_boot=20)
    for d in (atm, learned):
        ok = np.isfinite(d["mean"])
        assert np.all((d["mean"][ok] >= 0) & (d["mean"][ok] <= 1))
        assert np.all(d["min"][ok] <= d["mean"][ok]) and np.all(d["mean"][ok] <= d["max"][ok])
    assert atm["per_seed"].shape[0] == 1 and learned["per_seed"].shape[0] >= 2
    assert np.nanmax(atm["mean"]) > 0.5  # a real 3-body term
    with pytest.raises(KeyError, match="no stored 3-body"):
        known_answer_distance_shares("pair_power", "schnet", edges=EDGES, n_boot=20)


def test_known_answer_share_of_two_plus_three_body():
    total = known_answer_share("pair_power", "schnet", 3)
    of23 = known_answer_share("pair_power", "schnet", 3, among=(2, 3))
    assert 0 < total["mean"] < of23["mean"] < 1  # leaving the 1-body part out raises the share


def test_shipped_study_two_body_sums_equal_chapter_04_pair_terms():
    from xailib.analysis import load_results
    from xailib.analysis.decay_classes import pair_table, pair_values
    from xailib.analysis.known_answers import test_structures
    from xailib.analysis.manybody_study import MODELS, load_manybody

    study, structures = load_manybody(), test_structures()
    pairs = pair_table(structures, range(len(structures)))
    for name, (folder, trained, _, _) in MODELS.items():
        if not trained:
            continue
        values = pair_values(load_results(name), structures)  # chapter 04's stored test-set relevances
        gi = study["models"][name]["gi"]
        n = len(structures)
        np.testing.assert_allclose(np.bincount(pairs["structure"], weights=values, minlength=n), gi["orders"][:, 1],
                                   rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(np.bincount(pairs["structure"], weights=np.abs(values), minlength=n),
                                   gi["orders_abs"][:, 1], rtol=1e-5, atol=1e-5)


def test_known_answer_order_exponents_see_the_faster_three_body_decay_of_the_truth():
    from xailib.analysis.decay_classes import known_answer_order_exponents

    (truth,) = known_answer_order_exponents("pair_power_atm", window=(2.5, 4.0))
    assert truth["n2"] > 5 and truth["difference"] > 1  # Axilrod-Teller falls faster than r^-6 pairs
    learned = known_answer_order_exponents("pair_power_atm", "painn", window=(2.5, 4.0))
    assert len(learned) >= 2 and all(np.isfinite(r["difference"]) for r in learned)
    with pytest.raises(KeyError, match="no 3-body"):
        known_answer_order_exponents("pair_power", window=(2.5, 4.0))
