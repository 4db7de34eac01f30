"""Molecule bootstrap, per-molecule tables and seed aggregation on synthetic results with known answers."""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pytest

from xailib.analysis import (
    RelevanceResults,
    as_pair_dict,
    common_structures,
    conservation_table,
    element_pair_strength,
    element_pair_table,
    manybody_shares,
    molecule_bootstrap,
    molecule_means,
    order_shares,
    order_table,
    pair_strengths,
    ranked,
    seed_molecule_summary,
    seed_summary,
)

ORDER_KEYS = ("1", "2", "3", "higher")


def synthetic_results(molecules, seed=0, scale=1.0, drop=None, geometry_seed=0):
    """Results of ``molecules`` = [(id, atomic numbers, n_frames)], every 1-3 body subset a term.

    Walk and bias terms, remainders and totals are consistent (walks + bias = output, rule gi).
    ``drop(structure, subset)`` removes terms (e.g. a pair missing in one frame). ``geometry_seed`` sets
    the coordinates (the same for "seeds" of one model), ``seed`` the relevances.
    """
    rng, geo = np.random.default_rng(seed), np.random.default_rng(geometry_seed)
    numbers, positions, offsets, ids = [], [], [0], []
    mol, atoms, rel, bias = [], [], [], []
    output, total, remainder, bias_total, bias_remainder = [], [], [], [], []
    k = 0
    for mol_id, z, n_frames in molecules:
        base = geo.uniform(0, 3, size=(len(z), 3))
        for _ in range(n_frames):
            pos = base + 0.05 * geo.normal(size=base.shape)
            numbers.append(np.asarray(z)), positions.append(pos), offsets.append(offsets[-1] + len(z))
            ids.append(mol_id)
            walks_sum = bias_sum = 0.0
            for order in (1, 2, 3):
                for subset in combinations(range(len(z)), order):
                    if drop is not None and drop(k, subset):
                        continue
                    r, b = scale * rng.normal(-1.0 / order, 0.5), scale * 0.1 * rng.normal()
                    mol.append(k), atoms.append(list(subset) + [-1] * (3 - order)), rel.append(r), bias.append(b)
                    walks_sum, bias_sum = walks_sum + r, bias_sum + b
            rem, brem = scale * rng.normal(0.0, 0.3), scale * 0.05 * rng.normal()
            remainder.append(rem), bias_remainder.append(brem)
            total.append(walks_sum + rem), bias_total.append(bias_sum + brem)
            output.append(total[-1] + bias_total[-1])
            k += 1
    arr = np.asarray
    return RelevanceResults(
        numbers=np.concatenate(numbers), positions=np.concatenate(positions), offsets=arr(offsets),
        term_molecule=arr(mol), term_atoms=arr(atoms).reshape(-1, 3), term_relevance=arr(rel, float),
        term_bias=arr(bias, float), output=arr(output), rule_output=arr(output), total=arr(total),
        remainder=arr(remainder), bias_total=arr(bias_total), bias_remainder=arr(bias_remainder),
        meta={"molecule_ids": ids, "rule": "gi"},
    )


MOLECULES = [("M-a", [6, 1, 1, 8], 3), ("M-b", [6, 6, 1, 1, 1], 2), ("M-c", [7, 1, 1, 1], 4), ("M-d", [8, 1, 1], 1)]


# --- molecule bootstrap --------------------------------------------------------------------------------------


def clustered(rng, n_mol=30, frames=(5, 15), spread=1.0, noise=0.1, mu=0.0):
    """Rows of molecules that share a random offset (strong within-molecule correlation)."""
    sizes = rng.integers(frames[0], frames[1] + 1, size=n_mol)
    mols = np.repeat(np.arange(n_mol), sizes)
    values = mu + spread * rng.normal(size=n_mol)[mols] + noise * rng.normal(size=len(mols))
    return values, mols


def test_correlated_rows_give_a_wider_molecule_interval_than_a_row_bootstrap():
    values, mols = clustered(np.random.default_rng(1), n_mol=30, frames=(11, 11))
    by_molecule = molecule_bootstrap(values, mols, n_boot=2000, seed=0)
    by_row = molecule_bootstrap(values, None, n_boot=2000, seed=0)
    assert by_molecule.estimate == pytest.approx(values.mean())
    assert by_molecule.n_molecules == 30 and by_row.n_molecules == len(values)
    # 11 nearly identical rows per molecule: the honest interval is about sqrt(11) = 3.3 times wider
    assert (by_molecule.high - by_molecule.low) > 2.5 * (by_row.high - by_row.low)
    assert by_molecule.low < by_molecule.estimate < by_molecule.high


def test_molecule_interval_covers_the_true_mean_at_about_the_nominal_rate():
    rng = np.random.default_rng(2024)
    mu, hits, naive_hits, reps = 0.7, 0, 0, 200
    for rep in range(reps):
        values, mols = clustered(rng, n_mol=30, noise=0.3, mu=mu)
        iv = molecule_bootstrap(values, mols, n_boot=500, seed=rep)
        hits += iv.low <= mu <= iv.high
        naive = molecule_bootstrap(values, None, n_boot=500, seed=rep)
        naive_hits += naive.low <= mu <= naive.high
    assert hits / reps >= 0.85
    assert naive_hits / reps < 0.6  # a bootstrap over rows would fail this test


def test_vectorised_mean_and_sum_agree_with_the_generic_path_and_whole_molecules_are_drawn():
    values, mols = clustered(np.random.default_rng(3), n_mol=12)
    ids = np.array([f"NCI-{m}" for m in mols])  # string ids work like integers
    fast = molecule_bootstrap(values, ids, np.mean, n_boot=300, seed=5)
    slow = molecule_bootstrap(values, ids, lambda x: float(np.mean(x)), n_boot=300, seed=5)
    assert (fast.low, fast.high) == pytest.approx((slow.low, slow.high), rel=1e-12)
    fast_sum = molecule_bootstrap(values, mols, "sum", n_boot=300, seed=5)
    slow_sum = molecule_bootstrap(values, mols, lambda x: float(np.sum(x)), n_boot=300, seed=5)
    assert (fast_sum.low, fast_sum.high) == pytest.approx((slow_sum.low, slow_sum.high), rel=1e-12)
    # molecules of 1 and 3 rows: a replicate has 2, 4 or 6 rows, never 3 or 5
    sizes = molecule_bootstrap(np.zeros(4), [0, 1, 1, 1], len, n_boot=200, seed=0, level=0.999)
    assert sizes.estimate == 4 and sizes.low >= 2 and sizes.high <= 6
    lengths = {len(x) for x in _replicates(np.zeros(4), [0, 1, 1, 1])}
    assert lengths <= {2, 4, 6} and len(lengths) == 3


def _replicates(values, mols):
    seen = []
    molecule_bootstrap(values, mols, lambda x: seen.append(x.copy()) or 0.0, n_boot=100, seed=1)
    return seen


def test_bootstrap_is_deterministic_and_checks_its_input():
    values, mols = clustered(np.random.default_rng(4))
    a, b = molecule_bootstrap(values, mols, seed=7), molecule_bootstrap(values, mols, seed=7)
    assert a == b and molecule_bootstrap(values, mols, seed=8) != a
    assert str(a).endswith("(95%, 30 molecules)") and a.as_dict()["n_molecules"] == 30
    one = molecule_bootstrap([1.0, 2.0], ["x", "x"])
    assert one.n_molecules == 1 and np.isnan(one.low) and np.isnan(one.high) and one.estimate == 1.5
    with pytest.raises(ValueError, match="finite"):
        molecule_bootstrap([1.0, np.nan], [0, 1])
    with pytest.raises(ValueError, match="shape"):
        molecule_bootstrap([1.0, 2.0], [0, 1, 2])
    with pytest.raises(ValueError, match="level"):
        molecule_bootstrap([1.0, 2.0], level=95)
    with pytest.raises(ValueError, match="statistic"):
        molecule_bootstrap([1.0, 2.0], statistic="median")
    ids, means = molecule_means([1.0, 3.0, 10.0], ["b", "b", "a"])
    assert list(ids) == ["a", "b"] and list(means) == [10.0, 2.0]


# --- per-molecule tables -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def res():
    return synthetic_results(MOLECULES, seed=0)


@pytest.mark.parametrize("part", ["combined", "walks", "bias"])
def test_order_table_sums_back_to_the_frame_averaged_totals(res, part):
    t = order_table(res, part)
    ids = np.array(res.meta["molecule_ids"])
    totals = {"combined": res.conserved_total, "walks": res.total, "bias": res.bias_total}[part]
    assert list(t["molecule"]) == ["M-a", "M-b", "M-c", "M-d"] and list(t["n_frames"]) == [3, 2, 4, 1]
    for i, m in enumerate(t["molecule"]):
        assert t["total"][i] == pytest.approx(totals[ids == m].mean(), abs=1e-12)
        assert sum(t[f"signed_{k}"][i] for k in ORDER_KEYS) == pytest.approx(t["total"][i], abs=1e-12)
        assert sum(t[f"abs_share_{k}"][i] for k in ORDER_KEYS) == pytest.approx(1.0, abs=1e-12)
        assert sum(t[f"signed_share_{k}"][i] for k in ORDER_KEYS) == pytest.approx(1.0, abs=1e-12)
    if part == "combined":
        assert np.allclose(t["total"], [res.output[ids == m].mean() for m in t["molecule"]], atol=1e-12)


def test_order_table_abs_shares_match_manybody_shares_with_one_frame_per_molecule():
    single = synthetic_results([(f"m{i}", [6, 1, 1, 8, 7][: 3 + i % 3], 1) for i in range(6)], seed=2)
    t = order_table(single)
    ref = manybody_shares(single.tables(), single.remainders("combined"))
    for k, name in zip(ORDER_KEYS, ("1-body", "2-body", "3-body", "higher")):
        assert t[f"abs_share_{k}"].mean() == pytest.approx(ref[name], abs=1e-12)


def test_element_pair_table_averages_frames_and_sums_back(res):
    t = element_pair_table(res)
    orders = order_table(res)
    for i, m in enumerate(orders["molecule"]):
        sel = t["molecule"] == m
        assert t["sum"][sel].sum() == pytest.approx(orders["signed_2"][i], abs=1e-12)
        n_atoms = {"M-a": 4, "M-b": 5, "M-c": 4, "M-d": 3}[m]
        assert t["count"][sel].sum() == pytest.approx(n_atoms * (n_atoms - 1) / 2)
    assert np.allclose(t["mean"], t["sum"] / t["count"]) and np.all(t["abs_sum"] >= np.abs(t["sum"]))
    # M-b (C2H3): C-C once, C-H six times, H-H three times per frame
    sel = t["molecule"] == "M-b"
    assert dict(zip(t["pair"][sel], t["count"][sel])) == {"H-H": 3, "H-C": 6, "C-C": 1}
    assert set(t["z1"] <= t["z2"]) == {True}


def test_a_pair_missing_in_some_frames_counts_as_zero_there():
    # molecule X has 2 frames; its N-O pair (atoms 1, 2) is dropped in the second frame (structure 1)
    res = synthetic_results([("X", [1, 7, 8], 2)], seed=5, drop=lambda k, s: k == 1 and s == (1, 2))
    t = element_pair_table(res)
    no = t["pair"] == "N-O"
    first = res.terms(0)[(1, 2)]
    assert t["count"][no][0] == 0.5 and t["sum"][no][0] == pytest.approx(first / 2)
    assert t["mean"][no][0] == pytest.approx(first)
    assert t["n_frames"][no][0] == 2


def test_element_pair_table_normalises_and_filters_like_the_nbody_tables(res):
    tables = res.tables()[2]
    ids = np.array(res.meta["molecule_ids"])
    for normalise, rmax in [("total_abs", None), ("output", 2.0), (None, 1.5)]:
        t = element_pair_table(res, normalise=normalise, max_distance=rmax)
        keep = np.ones(len(tables.relevance), bool) if rmax is None else tables.distance < rmax
        values = tables.normalised(normalise)
        for m in np.unique(ids):
            frames = np.flatnonzero(ids == m)
            ref = values[keep & np.isin(tables.molecule, frames)].sum() / len(frames)
            assert t["sum"][t["molecule"] == m].sum() == pytest.approx(ref, abs=1e-12)


def test_results_stored_to_order_two_give_the_same_tables(res):
    short = res.truncated(2)
    assert not np.any((short.term_atoms >= 0).sum(axis=1) == 3)
    full_orders, short_orders = order_table(res), order_table(short)
    for name, col in full_orders.items():
        if name != "molecule":
            np.testing.assert_allclose(short_orders[name], col, atol=1e-12, err_msg=name)
    for normalise in ("total_abs", "output", None):
        full, cut = element_pair_table(res, normalise=normalise), element_pair_table(short, normalise=normalise)
        np.testing.assert_allclose(cut["sum"], full["sum"], atol=1e-12)
    with pytest.raises(ValueError, match="order 2"):
        order_table(short, "walks")


def test_seeds_are_compared_on_their_common_frames():
    mols = [(f"m{i}", [6, 1, 1, 8], 3) for i in range(6)]
    full = synthetic_results(mols, seed=30)
    replica = synthetic_results(mols, seed=31)
    ids = replica.molecule_ids()
    first_two = [k for k in range(len(replica)) if k % 3 < 2]  # like --frames-per-molecule 2
    replica = replica.subset(first_two)
    assert set(ids[first_two]) == set(ids)
    aligned = common_structures({"s0": full, "s1": replica})
    assert len(aligned["s0"]) == len(aligned["s1"]) == 12 and aligned["s1"] is replica
    np.testing.assert_array_equal(aligned["s0"].positions, replica.positions)
    rows = {r["pair"]: r for r in pair_strengths({"s0": full, "s1": replica}, normalise=None, n_boot=100)}
    t = element_pair_table(aligned["s0"])
    assert rows[("H", "C")]["per_seed"][0] == pytest.approx(t["mean"][t["pair"] == "H-C"].mean(), abs=1e-12)
    t_all = element_pair_table(full)
    assert rows[("H", "C")]["per_seed"][0] != pytest.approx(t_all["mean"][t_all["pair"] == "H-C"].mean())
    unaligned = {r["pair"]: r for r in pair_strengths({"s0": full, "s1": replica}, normalise=None, n_boot=100,
                                                      align=False)}
    assert unaligned[("H", "C")]["per_seed"][0] == pytest.approx(t_all["mean"][t_all["pair"] == "H-C"].mean())
    shares = order_shares({"s0": full, "s1": replica}, n_boot=100)
    assert shares[1]["per_seed"][0] == pytest.approx(order_table(aligned["s0"])["abs_share_2"].mean())
    other = synthetic_results(mols, seed=30, geometry_seed=99)
    with pytest.raises(ValueError, match="share no structure"):
        common_structures([full, other])


def test_conservation_table(res):
    c = conservation_table(res)
    assert np.allclose(c["walks"] + c["bias"], c["conserved_total"])
    assert np.allclose(c["residual"], c["output"] - c["conserved_total"]) and np.max(np.abs(c["residual"])) < 1e-12
    assert list(c["molecule"][:3]) == ["M-a"] * 3 and len(c["structure"]) == len(res)


# --- seeds ---------------------------------------------------------------------------------------------------


def test_seed_summary_of_known_numbers():
    s = seed_summary([1.0, 2.0, 3.0, 6.0])
    assert s == pytest.approx({"mean": 3.0, "sd": np.sqrt(14 / 3), "min": 1.0, "max": 6.0, "n_seeds": 4})
    one = seed_summary({"seed0": 2.5})
    assert one["mean"] == 2.5 and np.isnan(one["sd"]) and one["n_seeds"] == 1
    with pytest.raises(ValueError):
        seed_summary([])


def test_flagging_at_the_molecule_threshold():
    four = [{f"m{i}": 1.0 + i for i in range(4)}]
    five = [{f"m{i}": 1.0 + i for i in range(5)}]
    assert seed_molecule_summary(four)["flagged"] and not seed_molecule_summary(five)["flagged"]
    assert not seed_molecule_summary(four, min_molecules=4)["flagged"]
    # F (bonded to C) in 4 molecules, Cl in 5: C-F is flagged and ranked out, C-Cl kept
    mols = [(f"f{i}", [6, 9, 1], 2) for i in range(4)] + [(f"c{i}", [6, 17, 1], 2) for i in range(5)]
    rows = pair_strengths([synthetic_results(mols, seed=1)], n_boot=200)
    by_pair = {r["pair"]: r for r in rows}
    assert by_pair[("C", "F")]["n_molecules"] == 4 and by_pair[("C", "F")]["flagged"]
    assert by_pair[("C", "Cl")]["n_molecules"] == 5 and not by_pair[("C", "Cl")]["flagged"]
    assert by_pair[("H", "C")]["n_molecules"] == 9
    kept = [r["pair"] for r in ranked(rows)]
    assert ("C", "Cl") in kept and ("C", "F") not in kept and ("H", "F") not in kept
    assert [r["mean"] for r in ranked(rows)] == sorted(r["mean"] for r in ranked(rows))
    assert ("C", "F") not in as_pair_dict(rows) and ("C", "F") in as_pair_dict(rows, include_flagged=True)


def test_pair_strengths_combine_seeds_and_molecules_as_documented():
    mols = [(f"m{i}", [6, 1, 1, 8][: 3 + i % 2], 1 + i % 3) for i in range(8)]
    seeds = {"s0": synthetic_results(mols, seed=10), "s1": synthetic_results(mols, seed=11),
             "s2": synthetic_results(mols, seed=12, scale=2.0)}
    rows = pair_strengths(seeds, normalise=None, n_boot=500, seed=3)
    ch = next(r for r in rows if r["pair"] == ("H", "C"))
    per_seed, per_molecule = [], []
    for res in seeds.values():
        t = element_pair_table(res)
        sel = t["pair"] == "H-C"
        per_seed.append(t["mean"][sel].mean())  # each molecule once, its frames averaged
        per_molecule.append(t["mean"][sel])
    assert ch["per_seed"] == pytest.approx(per_seed, abs=1e-12)
    assert {k: ch[k] for k in ("mean", "sd", "min", "max", "n_seeds")} == pytest.approx(seed_summary(per_seed))
    expected = molecule_bootstrap(np.mean(per_molecule, axis=0), None, n_boot=500, seed=3)
    assert (ch["low"], ch["high"]) == pytest.approx((expected.low, expected.high), abs=1e-12)
    assert ch["n_molecules"] == 8 and ch["low"] < ch["mean"] < ch["high"] and ch["n_seeds"] == 3
    assert pair_strengths(seeds, normalise=None, n_boot=500, seed=3) == rows  # deterministic
    with pytest.raises(ValueError, match="value"):
        pair_strengths(seeds, value="median")


def test_order_shares_over_seeds():
    mols = [(f"m{i}", [6, 1, 1, 8][: 3 + i % 2], 2) for i in range(6)]
    seeds = [synthetic_results(mols, seed=20), synthetic_results(mols, seed=21)]
    rows = order_shares(seeds, n_boot=300)
    assert [r["quantity"] for r in rows][:4] == [f"abs_share_{k}" for k in ORDER_KEYS] and len(rows) == 8
    for kind in ("abs", "signed"):
        assert sum(r["mean"] for r in rows if r["kind"] == kind) == pytest.approx(1.0, abs=1e-12)
    two = next(r for r in rows if r["quantity"] == "abs_share_2")
    per_seed = [order_table(s)["abs_share_2"].mean() for s in seeds]
    assert two["per_seed"] == pytest.approx(per_seed) and two["n_molecules"] == 6 and not two["flagged"]
    assert two["low"] <= two["mean"] <= two["high"]


def test_element_pair_strength_can_bootstrap_over_molecules(res):
    table = res.tables()[2]
    by_term = element_pair_strength(table, n_boot=300)
    by_molecule = element_pair_strength(table, n_boot=300, molecule_ids=res.molecule_ids())
    for pair, v in by_term.items():
        assert by_molecule[pair]["mean"] == v["mean"] and by_molecule[pair]["count"] == v["count"]
    assert by_molecule[("H", "C")]["n_molecules"] == 2 and "n_molecules" not in by_term[("H", "C")]
    with pytest.raises(ValueError, match="structures"):
        element_pair_strength(table, molecule_ids=["x"])


def test_molecule_bootstrap_rows_matches_the_value_bootstrap_and_pairs_columns():
    from xailib.analysis.stats import molecule_bootstrap, molecule_bootstrap_rows

    rng = np.random.default_rng(3)
    values, mols = rng.normal(size=120), np.repeat(np.arange(30), 4)
    by_rows = molecule_bootstrap_rows(lambda rows: float(values[rows].mean()), mols, n_boot=300, seed=5)
    by_values = molecule_bootstrap(values, mols, lambda v: float(v.mean()), n_boot=300, seed=5)
    assert (by_rows.estimate, by_rows.low, by_rows.high) == pytest.approx((by_values.estimate, by_values.low,
                                                                            by_values.high))
    paired = molecule_bootstrap_rows(lambda rows: float(np.corrcoef(values[rows], 2 * values[rows])[0, 1]), mols,
                                     n_boot=50)
    assert paired.low == pytest.approx(1.0) and paired.high == pytest.approx(1.0)
