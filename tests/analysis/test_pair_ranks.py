"""Rank correlation of element-pair strengths with a reference: known answers on synthetic results."""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pytest
from scipy import stats

from xailib.analysis import RelevanceResults, pair_rank_correlation, pair_strengths

#: True 2-body value of each element pair (atomic numbers, ascending) in the synthetic results.
TRUE = {(1, 1): 0.3, (1, 6): -1.0, (1, 8): -0.6, (6, 6): -2.0, (6, 8): -1.5, (8, 8): 0.1, (6, 17): -0.8,
        (1, 17): 0.2, (8, 17): 0.05, (17, 17): 0.4}


def pair_results(molecules, seed=0, noise=0.05, shift=None):
    """One frame per molecule ``(id, atomic numbers)``; every pair has a 2-body term ``TRUE[pair] + noise``
    (plus ``shift[pair]`` if given), no other terms; output = sum of the terms (walks only, rule gi)."""
    rng = np.random.default_rng(seed)
    numbers, positions, offsets, ids, mol, atoms, rel = [], [], [0], [], [], [], []
    for k, (mol_id, z) in enumerate(molecules):
        numbers.append(np.asarray(z)), positions.append(np.arange(3 * len(z), dtype=float).reshape(-1, 3))
        offsets.append(offsets[-1] + len(z)), ids.append(mol_id)
        for i, j in combinations(range(len(z)), 2):
            key = tuple(sorted((z[i], z[j])))
            mol.append(k), atoms.append([i, j, -1])
            rel.append(TRUE[key] + (shift or {}).get(key, 0.0) + noise * rng.normal())
    rel = np.asarray(rel)
    total = np.bincount(mol, weights=rel, minlength=len(molecules))
    zeros = np.zeros(len(molecules))
    return RelevanceResults(
        numbers=np.concatenate(numbers), positions=np.concatenate(positions), offsets=np.asarray(offsets),
        term_molecule=np.asarray(mol), term_atoms=np.asarray(atoms), term_relevance=rel, term_bias=np.zeros_like(rel),
        output=total, rule_output=total, total=total, remainder=zeros, bias_total=zeros, bias_remainder=zeros,
        meta={"molecule_ids": ids, "rule": "gi", "max_order": 3},
    )


MOLS = [(f"m{i}", [6, 1, 1, 8, 8, 6][: 3 + i % 4]) for i in range(20)] + [("x0", [6, 17, 1]), ("x1", [6, 17, 8])]


def test_a_reference_with_the_true_order_gives_one_and_the_reverse_minus_one():
    seeds = [pair_results(MOLS, seed=s) for s in range(3)]
    r = pair_rank_correlation(seeds, TRUE, normalise=None, n_boot=300)
    assert r["pairs"] == [("H", "H"), ("H", "C"), ("H", "O"), ("C", "C"), ("C", "O"), ("O", "O")]
    assert r["n_pairs"] == 6 and r["n_molecules"] == 22 and r["n_seeds"] == 3
    assert r["per_seed"] == pytest.approx((1.0, 1.0, 1.0)) and r["pooled"] == pytest.approx(1.0)
    assert r["low"] == pytest.approx(1.0) and r["high"] == pytest.approx(1.0)
    rev = pair_rank_correlation(seeds, {("C", "H") if k == (1, 6) else k: -v for k, v in TRUE.items()},
                                normalise=None, n_boot=300)
    assert rev["mean"] == pytest.approx(-1.0) and rev["max"] == pytest.approx(-1.0)


def test_per_seed_rho_is_spearman_of_the_pair_strengths_and_rare_pairs_are_left_out():
    seeds = {f"s{s}": pair_results(MOLS, seed=s, noise=0.8) for s in range(3)}
    ref = {("H", "H"): 1.0, ("C", "H"): 3.0, ("H", "O"): 2.0, ("C", "C"): 5.0, ("C", "O"): 4.0, ("C", "Cl"): 0.0,
           ("O", "O"): 6.0}
    r = pair_rank_correlation(seeds, ref, n_boot=500, seed=2)
    assert ("C", "Cl") not in r["pairs"] and r["n_pairs"] == 6  # C-Cl in 2 molecules: flagged
    rows = {row["pair"]: row for row in pair_strengths(seeds, n_boot=10)}
    for s in range(3):
        x = [rows[p]["per_seed"][s] for p in r["pairs"]]
        y = [ref.get(p, ref.get(p[::-1])) for p in r["pairs"]]
        assert r["per_seed"][s] == pytest.approx(stats.spearmanr(x, y)[0], abs=1e-12)
    pooled = stats.spearmanr([rows[p]["mean"] for p in r["pairs"]], [ref.get(p, ref.get(p[::-1])) for p in r["pairs"]])[0]
    assert r["pooled"] == pytest.approx(pooled, abs=1e-12)
    assert -1 <= r["low"] <= r["pooled"] <= r["high"] <= 1 and r["high"] - r["low"] > 0
    assert pair_rank_correlation(seeds, ref, n_boot=500, seed=2) == r  # deterministic
    assert pair_rank_correlation(seeds, ref, n_boot=500, seed=2, min_molecules=2)["n_pairs"] == 7


def test_against_other_results_seeds_are_paired_and_molecules_drawn_jointly():
    a = [pair_results(MOLS, seed=s, noise=0.3) for s in range(2)]
    same = pair_rank_correlation(a, a, normalise=None, n_boot=200)
    assert same["per_seed"] == pytest.approx((1.0, 1.0)) and same["low"] == pytest.approx(1.0)
    swapped = [pair_results(MOLS, seed=s + 5, noise=0.3, shift={(6, 6): 3.0}) for s in range(2)]  # C-C to the top
    r = pair_rank_correlation(a, swapped, normalise=None, n_boot=200)
    assert r["n_pairs"] == 6 and r["mean"] < 0.6 and r["n_seeds"] == 2
    with pytest.raises(ValueError, match="seeds"):
        pair_rank_correlation(a, a[:1])
    with pytest.raises(ValueError, match="pairs to compare"):
        pair_rank_correlation(a, {("C", "H"): 1.0, ("C", "C"): 2.0})
    with pytest.raises(ValueError, match="value"):
        pair_rank_correlation(a, a, value="median")
