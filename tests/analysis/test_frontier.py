"""Relevance against frontier populations (xailib.analysis.frontier): frontier atoms, Spearman with its
within-element null, the share and its baselines, on constructed cases with known answers."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import spearmanr

from xailib.analysis.frontier import frontier_agreement, frontier_atoms, frontier_informative


def test_frontier_atoms_fewest_that_carry_half():
    assert list(frontier_atoms([0.1, 0.6, 0.2, 0.1])) == [1]
    assert list(frontier_atoms([0.3, 0.1, 0.35, 0.25])) == [0, 2]
    assert list(frontier_atoms([0.25, 0.25, 0.25, 0.25])) == [0, 1]
    assert list(frontier_atoms([0.25, 0.25, 0.25, 0.25], half=1.0)) == [0, 1, 2, 3]
    with pytest.raises(ValueError):
        frontier_atoms([0.0, 0.0])
    with pytest.raises(ValueError):
        frontier_atoms([1.0, 1.0], half=0.0)


def test_spearman_equals_scipy_and_sign_is_ignored():
    rng = np.random.default_rng(0)
    r, f = rng.standard_normal(12), rng.random(12)
    z = np.array([6] * 6 + [1] * 6)
    out = frontier_agreement(r, f, z)
    assert out["spearman"] == pytest.approx(spearmanr(np.abs(r), f)[0], abs=1e-12)
    assert frontier_agreement(-r, f, z)["spearman"] == pytest.approx(out["spearman"], abs=1e-12)
    assert out["n_atoms"] == 12


def test_element_null_keeps_the_element_part():
    # relevance and population both large on heavy atoms only: all of the correlation is explained by elements
    z = np.array([8, 6, 6, 1, 1, 1, 1, 1])
    f = np.array([0.3, 0.25, 0.25, 0.04, 0.04, 0.04, 0.04, 0.04])
    r = np.array([2.0, 2.0, 2.0, 0.1, 0.1, 0.1, 0.1, 0.1])
    out = frontier_agreement(r, f, z)
    assert out["spearman"] > 0.6
    assert out["spearman_element"] == pytest.approx(out["spearman"], abs=0.05)
    assert out["share_element"] == pytest.approx(out["share"], abs=1e-12)


def test_share_and_baselines():
    z = np.array([6, 6, 6, 6, 1, 1])
    f = np.array([0.6, 0.1, 0.1, 0.1, 0.05, 0.05])  # the frontier atom is atom 0
    r = np.array([5.0, 1.0, 1.0, 1.0, 1.0, 1.0])
    out = frontier_agreement(r, f, z)
    assert out["n_frontier"] == 1
    assert out["share"] == pytest.approx(0.5)
    assert out["share_even"] == pytest.approx(1 / 6)
    assert out["share_element"] == pytest.approx(8.0 / 10.0 / 4)  # carbon relevance spread over 4 carbons
    assert out["spearman"] > out["spearman_element"]  # relevance singles out the frontier carbon


def test_deterministic_and_bad_input():
    rng = np.random.default_rng(1)
    r, f, z = rng.random(9), rng.random(9), np.array([6, 6, 6, 7, 8, 1, 1, 1, 1])
    assert frontier_agreement(r, f, z) == frontier_agreement(r, f, z)
    with pytest.raises(ValueError, match="equal"):
        frontier_agreement(r, f[:-1], z)
    with pytest.raises(ValueError, match="zero"):
        frontier_agreement(np.zeros(9), f, z)


def test_informative_molecules():
    # frontier atom: the only O; every element wholly inside (O) or wholly outside (C, H): not informative
    z = np.array([8, 6, 6, 1, 1])
    f = np.array([0.7, 0.1, 0.1, 0.05, 0.05])
    assert not frontier_informative(f, z)
    # one of two carbons is a frontier atom: informative
    f2 = np.array([0.1, 0.6, 0.1, 0.1, 0.1])
    assert frontier_informative(f2, z)
    with pytest.raises(ValueError, match="shape"):
        frontier_informative(f[:-1], z)


def test_uninformative_share_equals_element_null_for_any_relevance():
    rng = np.random.default_rng(2)
    z = np.array([8, 7, 6, 6, 6, 1, 1, 1])
    f = np.array([0.3, 0.25, 0.1, 0.1, 0.1, 0.05, 0.05, 0.05])  # frontier atoms: O and N, each alone of its element
    for _ in range(20):
        out = frontier_agreement(rng.random(8), f, z)
        assert not out["informative"]
        assert out["share"] == pytest.approx(out["share_element"], abs=1e-12)
    # make a carbon a frontier atom: now the share can differ from its null, and does for uneven carbons
    f_c = np.array([0.3, 0.05, 0.3, 0.1, 0.1, 0.05, 0.05, 0.05])
    out = frontier_agreement(np.array([1.0, 1.0, 3.0, 0.5, 0.5, 0.2, 0.2, 0.2]), f_c, z)
    assert out["informative"] and frontier_informative(f_c, z)
    assert out["share"] > out["share_element"]
