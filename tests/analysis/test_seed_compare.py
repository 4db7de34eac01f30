"""Paired differences, spreads, slopes and per-seed array summaries (xailib.analysis.seed_compare): known
answers on constructed inputs, and equality with the inline code chapter 05 used before."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import stats

from xailib.analysis import molecule_bootstrap, seed_summary
from xailib.analysis.seed_compare import (
    molecule_seed_means,
    paired_difference,
    regression_slope,
    restrict_molecules,
    seed_array_summary,
    slope_interval,
    slope_summary,
    spread_summary,
)

MOLS = [f"NCI-{i}" for i in range(12)]


def _per_seed(base, shifts):
    return [{m: base[i] + s for i, m in enumerate(MOLS)} for s in shifts]


def test_paired_difference_of_shifted_seeds():
    base = np.random.default_rng(0).normal(size=len(MOLS))
    a, b = _per_seed(base, [0.0, 1.0]), _per_seed(base, [0.0, 10.0, 20.0])
    ci, pairs = paired_difference(a, b)
    # seed means differ by 0.5 - 10 on every molecule: a constant difference, so a zero-width interval
    assert ci.estimate == pytest.approx(-9.5) and ci.low == pytest.approx(-9.5) and ci.high == pytest.approx(-9.5)
    assert ci.n_molecules == len(MOLS)
    # one mean difference per pairing, in the order of itertools.product(a, b)
    np.testing.assert_allclose(pairs, [0.0, -10.0, -20.0, 1.0, -9.0, -19.0])


def test_paired_difference_restricted_to_kept_molecules():
    a = [{m: float(i) for i, m in enumerate(MOLS)}]
    b = [{m: 0.0 for m in MOLS}]
    keep = {"NCI-1", "NCI-3", "NCI-not-there"}
    ci, pairs = paired_difference(a, b, keep)
    assert ci.estimate == pytest.approx(2.0) and ci.n_molecules == 2
    assert pairs == [pytest.approx(2.0)]
    with pytest.raises(ValueError):
        paired_difference(a, b, {"NCI-not-there"})


def test_paired_difference_equals_chapter_05_inline_code():
    rng = np.random.default_rng(1)
    g = [{m: rng.normal() for m in MOLS} for _ in range(2)]
    e = [{m: rng.normal() for m in MOLS} for _ in range(3)]
    keep = set(MOLS[::2])
    for k in (None, keep):  # the chapter's gap_minus_energy, verbatim
        mols = sorted(set(g[0]) if k is None else set(g[0]) & set(k))
        seed_mean = lambda per_seed: np.mean([[d[m] for m in mols] for d in per_seed], axis=0)  # noqa: E731
        ci_old = molecule_bootstrap(seed_mean(g) - seed_mean(e))
        pairs_old = [np.mean([gs[m] - es[m] for m in mols]) for gs, es in itertools.product(g, e)]
        ci, pairs = paired_difference(g, e, k)
        assert ci == ci_old and pairs == pairs_old


def test_molecule_seed_means_and_restrict():
    per_seed = [{"b": 1.0, "a": 2.0}, {"a": 4.0, "b": 3.0}]
    np.testing.assert_array_equal(molecule_seed_means(per_seed), [3.0, 2.0])  # sorted: a, b
    np.testing.assert_array_equal(molecule_seed_means(per_seed, ["b"]), [2.0])
    assert restrict_molecules(per_seed, {"a"}) == [{"a": 2.0}, {"a": 4.0}]


def test_seed_array_summary_known_means_and_chapter_code():
    rows = np.arange(10.0)
    per_seed = [rows, rows + 2.0, rows + 4.0]
    s = seed_array_summary(per_seed)
    assert (s["mean"], s["sd"], s["min"], s["max"], s["n_seeds"]) == (pytest.approx(6.5), pytest.approx(2.0), 4.5, 8.5, 3)
    assert s["low"] < 6.5 < s["high"]
    rng = np.random.default_rng(2)
    per_seed = [rng.random(15) for _ in range(3)]
    old = {**seed_summary([e.mean() for e in per_seed]),  # the chapter's err_summary, verbatim
           **{k: getattr(molecule_bootstrap(np.mean(per_seed, axis=0)), k) for k in ("low", "high")}}
    assert seed_array_summary(per_seed) == old


def test_spread_summary_known_sds_and_chapter_code():
    y = np.array([1.0, 3.0, 5.0, 7.0])
    s = spread_summary([y, 2 * y, y + 100.0], n_boot=200)  # np.std: sqrt(5), 2 sqrt(5), sqrt(5)
    assert s["mean"] == pytest.approx(4 * np.sqrt(5) / 3) and s["max"] == pytest.approx(2 * np.sqrt(5))
    assert s["n_seeds"] == 3 and s["low"] <= s["high"]
    rng = np.random.default_rng(3)
    ys = [rng.normal(size=20) for _ in range(2)]
    boot = molecule_bootstrap(np.arange(len(ys[0])), None,  # the chapter's inline code, verbatim
                              lambda i: np.mean([np.std(y[i.astype(int)]) for y in ys]), n_boot=300)
    old = {**seed_summary([np.std(y) for y in ys]), "low": boot.low, "high": boot.high}
    assert spread_summary(ys, n_boot=300) == old


def test_slopes_known_lines_and_chapter_code():
    x = np.arange(5.0, 25.0)
    ci = slope_interval(x, 2 * x + 1, n_boot=200)
    assert (ci.estimate, ci.low, ci.high) == (pytest.approx(2.0), pytest.approx(2.0), pytest.approx(2.0))
    s = slope_summary(x, [x, 2 * x, 3 * x + 7], n_boot=200)
    assert (s["mean"], s["min"], s["max"]) == (pytest.approx(2.0), pytest.approx(1.0), pytest.approx(3.0))
    assert s["low"] == pytest.approx(2.0) and s["high"] == pytest.approx(2.0)
    rng = np.random.default_rng(4)
    ys = [0.1 * x + rng.normal(size=len(x)) for _ in range(3)]
    y = np.mean(ys, axis=0)
    slope_of = lambda a, b: stats.linregress(a, b).slope  # noqa: E731  the chapter's inline code, verbatim
    boot = molecule_bootstrap(np.arange(len(x)), None, lambda i: slope_of(x[i.astype(int)], y[i.astype(int)]),
                              n_boot=300)
    assert slope_summary(x, ys, n_boot=300) == {**seed_summary([slope_of(x, yy) for yy in ys]), "low": boot.low,
                                                "high": boot.high}
    assert slope_interval(x, y, n_boot=300) == boot
    assert regression_slope(x, y) == slope_of(x, y)
