"""Known-answer tests of the dataset analyses on hand-built result sets."""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pytest

from xailib.analysis import (
    decay_profile,
    element_pair_strength,
    fit_exponential,
    fit_power_law,
    locality,
    manybody_shares,
    manybody_shares_by_distance,
    tables_from_nbody,
)

PLANTED = {(1, 6): -0.5, (6, 6): -2.0, (6, 8): -3.0, (1, 8): -1.2, (1, 1): 0.1, (8, 8): 0.4}


def planted_results(n_mol=40, seed=0, noise=0.05, exponent=None):
    """Molecules of H, C, O whose 2-body terms carry planted pair strengths (times r^-n if given)."""
    rng = np.random.default_rng(seed)
    pos, nums, terms, rems, outs = [], [], [], [], []
    for _ in range(n_mol):
        n = rng.integers(4, 8)
        z = rng.choice([1, 6, 8], size=n)
        p = rng.uniform(0, 4, size=(n, 3))
        t = {(i,): float(rng.normal()) for i in range(n)}
        for i, j in combinations(range(n), 2):
            base = PLANTED[tuple(sorted((z[i], z[j])))]
            r = np.linalg.norm(p[i] - p[j])
            scale = r ** (-exponent) if exponent else 1.0
            t[(i, j)] = base * scale * (1 + noise * rng.normal())
        for i, j, k in combinations(range(n), 3):
            t[(i, j, k)] = 0.01 * rng.normal()
        pos.append(p), nums.append(z), terms.append(t), rems.append(0.1), outs.append(sum(t.values()) + 0.1)
    return pos, nums, terms, rems, outs


def test_planted_pair_strengths_are_recovered():
    tables = tables_from_nbody(*planted_results())
    strength = element_pair_strength(tables[2], normalise=None)
    symbols = {1: "H", 6: "C", 8: "O"}
    for (a, b), value in PLANTED.items():
        entry = strength[(symbols[a], symbols[b])]
        assert entry["mean"] == pytest.approx(value, rel=0.05)
        assert entry["ci_low"] <= entry["mean"] <= entry["ci_high"]
        assert entry["ci_low"] <= value <= entry["ci_high"] or abs(entry["mean"] - value) < 0.02 * abs(value)
    counts = sum(e["count"] for e in strength.values())
    assert counts == len(tables[2].relevance)
    # the strongest pair by absolute value is C-O, as planted
    assert max(strength, key=lambda k: abs(strength[k]["mean"])) == ("C", "O")


def test_normalisation_divides_by_the_molecule_scale():
    res = planted_results(n_mol=5)
    tables = tables_from_nbody(*res)
    t2 = tables[2]
    by_out = t2.normalised("output")
    np.testing.assert_allclose(by_out * np.asarray(res[4])[t2.molecule], t2.relevance)
    by_abs = t2.normalised("total_abs")
    for mol in range(5):
        total = sum(abs(v) for v in res[2][mol].values()) + abs(res[3][mol])
        np.testing.assert_allclose(by_abs[t2.molecule == mol] * total, t2.relevance[t2.molecule == mol])


def test_planted_power_law_exponent_is_fitted():
    rng = np.random.default_rng(1)
    r = rng.uniform(1.0, 6.0, 2000)
    rel = 3.0 * r**-4.0 * np.exp(0.1 * rng.normal(size=r.size)) * rng.choice([-1, 1], r.size)
    fit = fit_power_law(r, rel, 1.5, 5.5)
    assert fit.n == pytest.approx(4.0, abs=0.05)
    assert fit.ci[0] < 4.0 < fit.ci[1]
    assert fit.amplitude == pytest.approx(3.0, rel=0.1)
    # an exponential law fits this data worse than the power law
    assert fit_exponential(r, rel, 1.5, 5.5).rmse_log > fit.rmse_log


def test_planted_exponential_is_preferred_over_power_law():
    r = np.linspace(1.0, 6.0, 500)
    rel = 2.0 * np.exp(-r / 0.7)
    exp_fit = fit_exponential(r, rel, 1.0, 6.0)
    assert exp_fit.n == pytest.approx(0.7, rel=1e-6)
    assert exp_fit.rmse_log < fit_power_law(r, rel, 1.0, 6.0).rmse_log


def test_power_law_from_dataset_decay():
    tables = tables_from_nbody(*planted_results(n_mol=60, exponent=3.0, noise=0.0))
    t2 = tables[2]
    sel = np.isin(t2.numbers[:, 0], [6]) & np.isin(t2.numbers[:, 1], [6])
    fit = fit_power_law(t2.distance[sel], t2.relevance[sel], 0.5, 6.0)
    assert fit.n == pytest.approx(3.0, abs=1e-6)


def test_fit_rejects_bad_windows():
    with pytest.raises(ValueError, match="r_min < r_max"):
        fit_power_law([1, 2, 3], [1, 1, 1], 3, 2)
    with pytest.raises(ValueError, match="need 3"):
        fit_power_law([1, 2, 3], [1, 0, 1], 0.5, 4)


def test_decay_profile_bins_and_standard_errors():
    tables = tables_from_nbody(*planted_results(n_mol=10))
    prof = decay_profile(tables[2], np.arange(0, 8, 1.0))
    assert prof["count"].sum() == len(tables[2].relevance)
    full = np.abs(tables[2].relevance)
    b = 2
    in_bin = (tables[2].distance >= 2) & (tables[2].distance < 3)
    assert prof["mean"][b] == pytest.approx(full[in_bin].mean())
    assert prof["sem"][b] == pytest.approx(full[in_bin].std(ddof=1) / np.sqrt(in_bin.sum()))
    with pytest.raises(ValueError, match="increasing"):
        decay_profile(tables[2], [3, 1])


def test_manybody_shares_add_to_one_and_match_planted_split():
    # one molecule: 1-body total |.| = 1, 2-body = 2, 3-body = 3, remainder 4 -> shares 0.1 .. 0.4
    terms = [{(0,): 1.0, (0, 1): -2.0, (0, 1, 2): 3.0}]
    pos = [np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0.0]])]
    tables = tables_from_nbody(pos, [np.array([1, 6, 8])], terms, [4.0], [6.0])
    shares = manybody_shares(tables, [4.0])
    assert shares == pytest.approx({"1-body": 0.1, "2-body": 0.2, "3-body": 0.3, "higher": 0.4})
    shares = manybody_shares(tables_from_nbody(*planted_results()), planted_results()[3])
    assert sum(shares.values()) == pytest.approx(1.0)
    by_r = manybody_shares_by_distance(tables_from_nbody(*planted_results()), np.arange(0, 8, 1.0))
    ok = np.isfinite(by_r["2-body"])
    np.testing.assert_allclose(by_r["2-body"][ok] + by_r["3-body"][ok], 1.0)


def test_three_body_distance_is_largest_pair_distance():
    pos = [np.array([[0, 0, 0], [1, 0, 0], [0, 2, 0.0]])]
    tables = tables_from_nbody(pos, [np.array([8, 1, 1])], [{(0, 1, 2): 1.0}], [0.0], [1.0])
    assert tables[3].distance[0] == pytest.approx(np.sqrt(5))
    assert tables[3].numbers.tolist() == [[1, 1, 8]]


def test_locality_known_values():
    assert locality([0, 0, 5.0], k=1) == pytest.approx({"top_k_share": 1.0, "entropy": 0.0, "normalised_entropy": 0.0})
    even = locality(np.ones(8), k=2)
    assert even["top_k_share"] == pytest.approx(0.25)
    assert even["normalised_entropy"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="zero"):
        locality([0.0, 0.0])


def test_bad_term_keys_are_rejected():
    pos = [np.zeros((2, 3))]
    with pytest.raises(ValueError, match="sorted tuple"):
        tables_from_nbody(pos, [np.array([1, 1])], [{(1, 0): 1.0}], [0.0], [1.0])
