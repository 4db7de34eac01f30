"""Explanation metrics, time-to-failure summaries and rank correlations of xailib.md.metrics."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats

from xailib.analysis import tables_from_nbody
from xailib.md.metrics import (
    config_difference,
    describe_difference,
    metrics_from_tables,
    spearman_ci,
    time_to_failure,
)


def synthetic_tables(n_mol=4, exponent=3.0, seed=0):
    """Rotated copies of a random 6-atom 'molecule' whose 2-body terms are -r^-exponent, 1-body 0.5,
    3-body 0.01 and remainder -0.2 (the same total per molecule, so normalising keeps the power law)."""
    from scipy.spatial.transform import Rotation

    rng = np.random.default_rng(seed)
    base = rng.uniform(0, 2.5, size=(6, 3))
    base[1] = base[0] + [1.1, 0, 0]  # one short (bonded) pair
    positions, numbers, terms, rem = [], [], [], []
    for k in range(n_mol):
        pos = Rotation.random(random_state=k).apply(base) + rng.normal(size=3)
        t = {(i,): 0.5 for i in range(6)}
        for i in range(6):
            for j in range(i + 1, 6):
                t[(i, j)] = -np.linalg.norm(pos[i] - pos[j]) ** -exponent
        t[(0, 1, 2)] = 0.01
        positions.append(pos)
        numbers.append(np.array([6, 1, 1, 1, 8, 1]))
        terms.append(t)
        rem.append(-0.2)
    return tables_from_nbody(positions, numbers, terms, rem, [1.0] * n_mol), rem, positions, terms


def test_metrics_recover_a_planted_power_law_and_exact_shares():
    tables, rem, positions, terms = synthetic_tables(exponent=3.0)
    m = metrics_from_tables(tables, rem, short_range=1.6, window=(1.6, 3.5))
    assert m["decay_n"] == pytest.approx(3.0, abs=1e-9) and m["decay_r2"] == pytest.approx(1.0)
    assert m["share_1"] + m["share_2"] + m["share_3"] + m["share_higher"] == pytest.approx(1.0, abs=1e-12)
    # exact shares of molecule 0 recomputed by hand, averaged over molecules
    shares = []
    for t, r in zip(terms, rem):
        total = sum(abs(v) for v in t.values()) + abs(r)
        shares.append(sum(abs(v) for k, v in t.items() if len(k) == 2) / total)
    assert m["share_2"] == pytest.approx(np.mean(shares), rel=1e-12)
    # short-range pairs: all negative here
    assert m["short_positive_fraction"] == 0.0 and m["short_mean"] < 0 and m["short_abs"] == -m["short_mean"]
    assert m["short_count"] % 4 == 0 and m["short_count"] >= 4  # the planted bond, in each copy


def test_metrics_distinguish_steeper_decay():
    slow = metrics_from_tables(*synthetic_tables(exponent=1.0)[:2], window=(1.6, 3.5))
    fast = metrics_from_tables(*synthetic_tables(exponent=6.0)[:2], window=(1.6, 3.5))
    assert fast["decay_n"] > slow["decay_n"] + 3


def test_metrics_need_short_pairs():
    tables, rem, *_ = synthetic_tables()
    with pytest.raises(ValueError, match="closer than 0.1"):
        metrics_from_tables(tables, rem, short_range=0.1)


def test_spearman_matches_scipy_and_ci_covers_estimate():
    rng = np.random.default_rng(1)
    x = rng.normal(size=12)
    y = x + rng.normal(scale=0.7, size=12)
    y[3] = y[4]  # a tie
    r = spearman_ci(x, y, n_boot=1000, seed=0)
    ref = stats.spearmanr(x, y)
    assert r.rho == pytest.approx(ref.statistic, abs=1e-12)
    assert r.p_value == pytest.approx(ref.pvalue, abs=1e-12)
    assert r.ci_low <= r.rho <= r.ci_high and -1 <= r.ci_low < r.ci_high <= 1
    assert r.n == 12 and r.n_boot_used == 1000
    # seeded: same numbers again
    assert spearman_ci(x, y, n_boot=1000, seed=0) == r


def test_spearman_of_a_monotone_relation_is_one_with_a_degenerate_ci():
    x = np.arange(8.0)
    r = spearman_ci(x, np.exp(x), n_boot=500, seed=3)
    assert r.rho == pytest.approx(1.0) and r.ci_low == pytest.approx(1.0) and r.ci_high == pytest.approx(1.0)
    r = spearman_ci(x, -x**3, n_boot=500, seed=3)
    assert r.rho == pytest.approx(-1.0) and r.ci_high == pytest.approx(-1.0)


def test_spearman_rejects_bad_input():
    with pytest.raises(ValueError, match="same length"):
        spearman_ci([1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match="at least 3"):
        spearman_ci([1, 2], [1, 2])
    with pytest.raises(ValueError, match="constant"):
        spearman_ci([1, 2, 3], [5, 5, 5])
    with pytest.raises(ValueError, match="finite"):
        spearman_ci([1, 2, np.nan], [1, 2, 3])


def test_time_to_failure_counts_censored_runs_with_their_length(tmp_path):
    path = tmp_path / "m.npz"
    np.savez(path, time_to_failure_fs=np.array([10000.0, 1500.0, 10000.0, 400.0, 2500.0]),
             stable=np.array([True, False, True, False, False]),
             reason=np.array(["", "bond", "", "collapse", "bond"]), meta=json.dumps({"run_ps": 10.0}))
    s = time_to_failure(path)
    assert s["ttf_ps"] == pytest.approx(2.5) and s["n_stable"] == 2 and s["n_seeds"] == 5
    assert s["reasons"] == {"bond": 2, "collapse": 1}
    assert time_to_failure(path, statistic="mean")["ttf_ps"] == pytest.approx(24.4 / 5)
    with pytest.raises(ValueError, match="median"):
        time_to_failure(path, statistic="max")


def test_config_difference_lists_changed_nested_settings_only():
    base = {"name": "a", "model": {"cutoff": 5.0, "n_rbf": 20}, "n_train": 1000, "loss_weights": {"forces": 0.95}}
    variant = {"name": "b", "out_dir": "x", "model": {"cutoff": 3.0, "n_rbf": 20}, "n_train": 1000,
               "loss_weights": {"forces": 0.0}, "extra": 1}
    diff = config_difference(base, variant)
    assert diff == {"extra": [None, 1], "loss_weights.forces": [0.95, 0.0], "model.cutoff": [5.0, 3.0]}
    assert describe_difference(diff) == "extra None -> 1; loss_weights.forces 0.95 -> 0.0; model.cutoff 5.0 -> 3.0"
    assert describe_difference(config_difference(base, base)) == "(base)"


def test_family_table_joins_runs_and_explanations(tmp_path):
    from xailib.md.metrics import METRICS, correlations, family_table

    entries = {}
    for k, name in enumerate(["m-a", "m-b", "m-c", "m-d"]):
        np.savez(tmp_path / f"{name}.npz", time_to_failure_fs=np.array([1000.0 * (k + 1)] * 3),
                 stable=np.zeros(3, bool), reason=np.array(["bond"] * 3), meta=json.dumps({"run_ps": 10.0}))
        entries[name] = {"config": {"architecture": "schnet"}, "differs_from_base": {"n_train": [1000, 10 ** k]},
                         "test": {"energy_mae_meV": 10.0 - k, "forces_mae_meV_per_A": 5.0 * k},
                         "decay_ci": [1.0, 2.0], **{m: float(k) for m in METRICS}}
    np.savez(tmp_path / "xtb.npz", x=np.zeros(1))
    (tmp_path / "explanations.json").write_text(json.dumps({"models": entries}))
    rows = family_table(tmp_path)
    assert [r["name"] for r in rows] == ["m-a", "m-b", "m-c", "m-d"]
    assert rows[2]["ttf_ps"] == 3.0 and rows[2]["differs"] == "n_train 1000 -> 100" and rows[0]["reasons"] == {"bond": 3}
    corr = correlations(rows, ["energy_mae_meV", "decay_n"], n_boot=200)
    assert corr["energy_mae_meV"].rho == pytest.approx(-1.0) and corr["decay_n"].rho == pytest.approx(1.0)
    for r in rows:
        r["const"] = 1.0
    assert np.isnan(correlations(rows, ["const"], n_boot=10)["const"].rho)


def test_histogram_w1_is_the_shift_between_shifted_distributions():
    from scipy.stats import wasserstein_distance

    from xailib.md.metrics import histogram_w1

    edges = np.linspace(0.0, 3.0, 301)
    rng = np.random.default_rng(0)
    x, y = rng.normal(1.2, 0.05, 5000), rng.normal(1.5, 0.1, 3000)
    ha, hb = np.histogram(x, edges)[0], np.histogram(y, edges)[0]
    w = histogram_w1(ha, hb, edges)
    assert w == pytest.approx(wasserstein_distance(x, y), abs=0.01)  # within a bin width
    assert histogram_w1(ha, ha, edges) == 0.0
    with pytest.raises(ValueError, match="empty"):
        histogram_w1(np.zeros(300), hb, edges)
