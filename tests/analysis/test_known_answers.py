"""The known-answer pipeline: stored terms equal an independent recomputation, truth lines up, sums hold."""

from __future__ import annotations

import shutil
from itertools import combinations

import numpy as np
import pytest
import torch
from ase.build import molecule

from xailib.analysis.decay import decay_exponent
from xailib.analysis.known_answer_stats import abs_order_shares, agreement, load_known_answer, truth
from xailib.analysis.known_answers import (
    KnownAnswerError, canonical_pairs, explain_known_answer_models, initial_model, parse_name,
)
from xailib.analysis.synthetic import energy_forces
from xailib.lrp import nbody_relevances
from xailib.models import load_model

SHIPPED = "data/models/nci-small-energy-schnet"


@pytest.fixture(scope="module")
def explained(tmp_path_factory, repo_root):
    """A shipped SchNet copied under a known-answer name, explained on two small molecules."""
    root = tmp_path_factory.mktemp("known")
    folder = root / "models" / "synthetic-pair_power_atm-schnet"
    shutil.copytree(repo_root / SHIPPED, folder, ignore=shutil.ignore_patterns("checkpoints", "snapshots"))
    structures = [molecule("CH3CH2OH"), molecule("CH3Cl")]
    explain_known_answer_models(models_directory=root / "models", out_directory=root / "results",
                                structures=structures, progress=False)
    return root, structures


def test_stored_terms_equal_direct_relevances(explained):
    root, structures = explained
    res = load_known_answer("synthetic-pair_power_atm-schnet", root / "results")
    model = load_model(root / "models" / "synthetic-pair_power_atm-schnet")
    cols = canonical_pairs(structures)
    triples = [(s, t) for s, a in enumerate(structures) for t in combinations(range(len(a)), 3)]
    for s, atoms in enumerate(structures):
        direct = nbody_relevances(model, atoms, max_order=4).combined_terms()
        rows = cols["structure"] == s
        expect = [direct.get((int(i), int(j)), 0.0) for i, j in zip(cols["i"][rows], cols["j"][rows])]
        np.testing.assert_allclose(res["gi"]["pair"][rows], expect, rtol=1e-5, atol=1e-6)
        mine = [v for (k, t), v in zip(triples, res["gi"]["triple"]) if k == s]
        np.testing.assert_allclose(mine, [direct.get(t, 0.0) for k, t in triples if k == s], rtol=1e-5, atol=1e-6)


def test_orders_add_up_to_the_output(explained):
    root, _ = explained
    res = load_known_answer("synthetic-pair_power_atm-schnet", root / "results")
    gi = res["gi"]
    np.testing.assert_allclose(gi["orders"].sum(1), gi["output"], rtol=1e-6)  # complete: 1- to 4-body
    for tag in ("gamma-features", "gamma-reference"):
        np.testing.assert_allclose(res[tag]["orders"].sum(1), res[tag]["rule_output"], rtol=1e-6)
    assert np.all(gi["orders_abs"] >= np.abs(gi["orders"]) - 1e-9)


def test_baseline_is_the_initialisation(explained, repo_root):
    root, _ = explained
    folder = root / "models" / "synthetic-pair_power_atm-schnet"
    a, b = initial_model(folder), initial_model(folder)
    trained = load_model(folder)
    pa, pb = dict(a.named_parameters()), dict(b.named_parameters())
    assert all(torch.equal(pa[k], pb[k]) for k in pa)  # deterministic: the run's seed
    assert any(not torch.equal(pa[k], p) for k, p in trained.named_parameters() if k in pa)


def test_truth_lines_up_and_adds_up():
    structures = [molecule("CH3CH2OH"), molecule("CH3SCH3")]
    t = truth("pair_power_atm", structures)
    for s, atoms in enumerate(structures):
        energy, _ = energy_forces(atoms, "pair_power_atm")
        assert t["orders"][s].sum() == pytest.approx(energy, abs=1e-10)
        assert t["pair"][t["structure"] == s].sum() == pytest.approx(t["orders"][s, 1], abs=1e-10)
    assert t["orders"][:, [0, 3]].tolist() == [[0.0, 0.0], [0.0, 0.0]]
    assert len(t["separation"]) == len(t["pair"]) and set(t["separation"]) >= {1, 2, 3}


def test_agreement_and_decay_recover_a_known_law():
    rng = np.random.default_rng(1)
    r = rng.uniform(2.5, 4.0, 600)
    mol = np.repeat(np.arange(60), 10)
    true = -50.0 * r**-6.0
    got = agreement(2.0 * true, true, mol, n_boot=50)
    assert got["pearson"].estimate == pytest.approx(1.0) and got["slope"].estimate == pytest.approx(2.0)
    fit = decay_exponent(r, true, mol, window=(2.5, 4.0), n_boot=50)
    assert fit.estimate == pytest.approx(6.0, abs=1e-9) and fit.n_molecules == 60
    shares = abs_order_shares(np.array([[0.0, 3.0, 1.0, 0.0]] * 4), n_boot=20)
    assert [s.estimate for s in shares] == pytest.approx([0.0, 0.75, 0.25, 0.0])


def test_names_and_missing_results_are_named_errors(tmp_path):
    assert parse_name("synthetic-pair_exp-painn-seed1") == {"potential": "pair_exp", "architecture": "painn", "seed": 1}
    for bad in ("synthetic-lj-schnet", "nci-small-energy-schnet", "synthetic-pair_exp-mace"):
        with pytest.raises(KnownAnswerError):
            parse_name(bad)
    with pytest.raises(KnownAnswerError, match="study synthetic explain"):
        load_known_answer("synthetic-pair_exp-schnet", tmp_path)


def test_pair_terms_of_shipped_results_match_their_tables():
    from xailib.analysis import load_results, pair_terms

    res = load_results("nci-small-energy-schnet-seed1").subset(list(range(8)))
    cols = pair_terms(res)
    table = res.tables()[2]
    np.testing.assert_allclose(np.sort(cols["value"]), np.sort(table.relevance), rtol=1e-12)
    np.testing.assert_allclose(np.sort(cols["r"]), np.sort(table.distance), rtol=1e-12)
    assert set(np.unique(cols["separation"])) <= {1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
    bonded = cols["separation"] == 1
    assert cols["r"][bonded].max() < 2.0 and cols["r"][~bonded].min() > 1.0


def test_a_renamed_result_file_is_refused(explained):
    root, _ = explained
    src = root / "results" / "synthetic-pair_power_atm-schnet.npz"
    shutil.copy(src, root / "results" / "synthetic-pair_exp-schnet.npz")
    with pytest.raises(KnownAnswerError, match="not of 'synthetic-pair_exp-schnet'"):
        load_known_answer("synthetic-pair_exp-schnet", root / "results")
