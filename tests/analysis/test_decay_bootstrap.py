"""Molecule-bootstrap intervals of decay fits and of the 3-body share by distance."""

from __future__ import annotations

import numpy as np
import pytest

from xailib.analysis import (
    NBodyTable,
    decay_fit_bootstrap,
    fit_exponential,
    fit_power_law,
    manybody_shares_by_distance,
    manybody_shares_by_distance_bootstrap,
)


def pair_table(n_structures=80, frames=2, terms=400, exponent=3.0, spread=0.5, order=2, seed=0):
    """Terms |R| = r^-n_m, one exponent n_m = exponent + spread * N(0,1) per molecule (shared by its frames)."""
    rng = np.random.default_rng(seed)
    n_mol = n_structures // frames
    n_of = exponent + spread * rng.normal(size=n_mol)
    molecules = np.repeat([f"M{k}" for k in range(n_mol)], frames)
    struct = np.repeat(np.arange(n_structures), terms)
    r = rng.uniform(1.5, 4.5, size=struct.size)
    rel = r ** -n_of[struct // frames] * np.exp(0.05 * rng.normal(size=r.size))
    table = NBodyTable(order=order, molecule=struct, numbers=np.ones((r.size, order), int), distance=r,
                       relevance=rel, output=np.ones(n_structures), total_abs=np.ones(n_structures))
    return table, molecules


def test_estimates_are_the_fits_and_the_interval_covers_the_planted_exponent():
    table, molecules = pair_table()
    boot = decay_fit_bootstrap(table, molecules, 2.0, 4.0, n_boot=200)
    assert boot["power"].estimate == pytest.approx(fit_power_law(table.distance, table.relevance, 2.0, 4.0).n)
    assert boot["exponential"].estimate == pytest.approx(fit_exponential(table.distance, table.relevance, 2.0, 4.0).n)
    assert boot["rmse_power"].estimate == pytest.approx(fit_power_law(table.distance, table.relevance, 2.0, 4.0).rmse_log)
    assert boot["power"].low < 3.0 < boot["power"].high
    assert boot["power"].n_molecules == 40
    assert boot["replicates"]["power"].shape == (200,)


def test_molecule_interval_is_wider_than_the_term_interval_when_molecules_differ():
    table, molecules = pair_table(spread=0.5)
    term_ci = fit_power_law(table.distance, table.relevance, 2.0, 4.0).ci
    boot = decay_fit_bootstrap(table, molecules, 2.0, 4.0, n_boot=200)["power"]
    assert boot.high - boot.low > 2.5 * (term_ci[1] - term_ci[0])


def test_same_seed_and_molecules_give_paired_replicates():
    table, molecules = pair_table()
    other, _ = pair_table(exponent=5.0, order=3, seed=1)
    a = decay_fit_bootstrap(table, molecules, 2.0, 4.0, n_boot=50, seed=3)
    b = decay_fit_bootstrap(table, molecules, 2.0, 4.0, n_boot=50, seed=3)
    np.testing.assert_array_equal(a["replicates"]["power"], b["replicates"]["power"])
    # a second table of the same molecules: the difference of exponents is bootstrapped pairwise
    c = decay_fit_bootstrap(other, molecules, 2.0, 4.0, n_boot=50, seed=3)
    diff = c["replicates"]["power"] - a["replicates"]["power"]
    assert np.all(np.isfinite(diff))
    with pytest.raises(ValueError, match="one entry per structure"):
        decay_fit_bootstrap(table, molecules[:-1], 2.0, 4.0)


def test_shares_by_distance_interval_matches_the_point_estimate():
    rng = np.random.default_rng(0)
    n_struct, bins = 30, np.arange(1.0, 6.01, 1.0)
    tables = {}
    for order, weight in ((2, 1.0), (3, 3.0)):
        m = 600
        struct = rng.integers(0, n_struct, size=m)
        tables[order] = NBodyTable(order=order, molecule=struct, numbers=np.ones((m, order), int),
                                   distance=rng.uniform(1.0, 6.0, size=m), relevance=weight * rng.choice([-1, 1], m),
                                   output=np.ones(n_struct), total_abs=np.ones(n_struct))
    molecules = np.repeat(np.arange(15), 2)
    boot = manybody_shares_by_distance_bootstrap(tables, bins, molecules, n_boot=300)
    point = manybody_shares_by_distance(tables, bins)
    np.testing.assert_allclose(boot["3-body"], point["3-body"])
    assert np.all(boot["low"] <= boot["3-body"]) and np.all(boot["3-body"] <= boot["high"])
    assert np.all(boot["n_molecules"] <= 15) and np.all(boot["n_molecules"] > 0)
    # 3-body terms weigh 3, 2-body terms 1, about equally many of each: the share is near 3/4
    assert np.all(np.abs(boot["3-body"] - 0.75) < 0.1)
