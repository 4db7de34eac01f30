"""Chapter 06's library: complete order sums (conserved, complete for 3 interactions, stored and loaded back),
their shares, PaiNN's vector-channel measurement (known answers) and raw per-class decay exponents."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from lrp_models import mol, potential

from xailib import lrp
from xailib.analysis import manybody_study as study
from xailib.analysis.decay_classes import class_exponents, law_comparison, pair_table, pair_values
from xailib.analysis.manybody import study_distance_shares, study_order_shares, study_vector_shares
from xailib.analysis.vector_channel import vector_channel_parts, vector_shares
from xailib.lrp.adapters import float64_copy, model_inputs, model_output


# --- order sums -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("arch", ["schnet", "painn"])
def test_order_sums_are_conserved_and_complete_for_three_interactions(arch):
    model, structures = potential(arch, 3, cutoff=2.6), [mol("CH3CH2OH"), mol("H2O")]
    part = study.explain_orders(model, structures, max_order=4, complete=True, pairs=True)
    np.testing.assert_allclose(part["orders"].sum(1), part["output"], rtol=1e-10)
    assert np.all(np.abs(part["remainder"]) < 1e-9 * np.abs(part["output"]))
    assert np.all(part["orders_abs"] >= np.abs(part["orders"]) - 1e-12)
    nb = lrp.nbody_relevances(model, structures[0], max_order=4)
    terms = nb.combined_terms()
    assert part["counts"][0].tolist() == [sum(len(s) == k for s in terms) for k in (1, 2, 3, 4)]
    assert part["counts"][0, 3] > 0 and abs(part["orders"][0, 3]) > 1e-8  # a real 4-body part
    n = len(structures[0])
    assert part["pair"][:n * (n - 1) // 2].tolist() == pytest.approx(
        [terms.get((i, j), 0.0) for i, j in zip(*np.triu_indices(n, 1))], rel=1e-6, abs=1e-7)
    # binned sums: every |2-body| term of a structure falls in one bin (all pairs lie within 0.5-12 A)
    np.testing.assert_allclose(part["dist_abs2"].sum(1), part["orders_abs"][:, 1], rtol=1e-5)


def test_rounded_pair_terms_keep_zeros_signs_and_a_relative_precision_of_a_thousandth():
    x = np.array([0.0, -1.234567e-7, 3.3, -42.0, 1e-30, 7.77e3])
    y = study.round_float32(x)
    assert y.dtype == np.float32 and y[0] == 0 and np.all(np.sign(y) == np.sign(x))
    np.testing.assert_allclose(y, x, rtol=2.0 ** (study.PAIR_BITS - 23))
    assert np.all(np.abs(y) <= np.abs(x.astype(np.float32)))  # truncation towards zero


def test_lower_order_leaves_the_net_four_body_sum_as_remainder():
    model, structures = potential("schnet", 3, cutoff=2.6), [mol("CH3CH2OH")]
    full = study.explain_orders(model, structures, max_order=4, complete=True)
    cut = study.explain_orders(model, structures, max_order=3)
    np.testing.assert_allclose(cut["orders"], full["orders"][:, :3], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(cut["remainder"], full["orders"][:, 3], rtol=1e-8, atol=1e-12)
    with pytest.raises(AssertionError, match="complete"):
        study.explain_orders(model, structures, max_order=3, complete=True)


def test_gamma_orders_add_up_to_the_rule_output_and_keep_it_when_packed():
    model, structures = potential("schnet", 3, cutoff=2.6), [mol("CH3CH2OH")]
    gi = study.explain_orders(model, structures, max_order=4, complete=True)
    gamma = study.explain_orders(model, structures, max_order=4, rule="gamma", composite="reference", complete=True)
    np.testing.assert_allclose(gamma["orders"].sum(1), gamma["rule_output"], rtol=1e-10)
    assert abs(gamma["rule_output"][0] - gamma["output"][0]) > 1e-6  # gamma changes the forward value
    arrays = study.pack({"m": {"gi": gi, "gamma-reference": gamma}}, {"m": True})
    assert "m/gamma-reference/rule_output" in arrays and "m/gi/rule_output" not in arrays
    assert "dist_abs2" not in "".join(k for k in arrays if k.startswith("m/gamma"))  # binned sums under gi only


def _fake_study(tmp_path, tamper: bool = False):
    model, structures = potential("painn", 3, cutoff=2.6), [mol("CH3CH2OH"), mol("H2O"), mol("CH4")]
    orders = {"a": 4, "b": 4, "deep": 3}
    parts = {name: {"gi": study.explain_orders(model, structures, max_order=k, complete=k == 4)}
             for name, k in orders.items()}
    arrays = study.pack(parts, {name: k == 4 for name, k in orders.items()})
    assert "a/gi/remainder" not in arrays and "deep/gi/remainder" in arrays and "a/gi/rule_output" not in arrays
    if tamper:
        arrays["a/gi/orders"] = arrays["a/gi/orders"] * 1.001
    meta = {"molecule_ids": ["m0", "m1", "m2"], "dist_edges": study.DIST_EDGES.tolist(),
            "models": {name: {"complete": k == 4, "max_order": k, "rule_sets": ["gi"]} for name, k in orders.items()}}
    return study.save_manybody(arrays, meta, tmp_path / "mb.npz"), parts


def test_save_load_round_trip_and_conservation_check(tmp_path):
    path, parts = _fake_study(tmp_path)
    loaded = study.load_manybody(path)
    assert loaded["molecules"].tolist() == ["m0", "m1", "m2"]
    for name, by_tag in parts.items():
        entry = loaded["models"][name]
        for key, value in by_tag["gi"].items():
            got = entry[key] if key in ("output", "counts") else entry["gi"][key]
            if key == "remainder" and name != "deep":
                np.testing.assert_allclose(got, value, atol=1e-9 * np.abs(by_tag["gi"]["output"]).max())
            else:
                np.testing.assert_allclose(got, value, rtol=1e-6 if key in ("orders_abs", "bias_total") else 1e-10)
    bad, _ = _fake_study(tmp_path / "bad", tamper=True)
    with pytest.raises(ValueError, match="do not add up"):
        study.load_manybody(bad)


def test_order_shares_of_complete_and_incomplete_sums(tmp_path):
    loaded = study.load_manybody(_fake_study(tmp_path)[0])
    rows = study_order_shares(loaded, ["a", "b"], n_boot=50)
    by = {(r["kind"], r["order"]): r for r in rows}
    assert sum(by[("abs", k)]["mean"] for k in (1, 2, 3, 4)) == pytest.approx(1.0)
    assert sum(by[("signed", k)]["mean"] for k in (1, 2, 3, 4)) == pytest.approx(1.0)
    assert by[("abs", 4)]["sd"] == pytest.approx(0.0, abs=1e-12)  # two identical "seeds"
    # the |net| convention can only lower the share of the highest order
    assert by[("abs_net", 4)]["mean"] <= by[("abs", 4)]["mean"] + 1e-12
    # the 3-body share of the 2- plus 3-body part leaves the 1-body terms out: never smaller than the share of all
    assert by[("abs", 3)]["mean"] <= by[("abs_of23", 3)]["mean"] <= 1
    deep = {(r["kind"], r["order"]): r for r in study_order_shares(loaded, ["deep"], n_boot=50)}
    assert sum(deep[("abs", k)]["mean"] for k in (1, 2, 3)) == pytest.approx(1.0)
    assert sum(deep[("signed", k)]["mean"] for k in (1, 2, 3, "remainder")) == pytest.approx(1.0)
    # the bound from the net remainder never exceeds the complete 4-body share of the same model
    assert deep[("net_bound", "remainder")]["mean"] <= by[("abs", 4)]["mean"] + 1e-12
    with pytest.raises(ValueError, match="mix"):
        study_order_shares(loaded, ["a", "deep"])
    d = study_distance_shares(loaded, ["a", "b"], n_boot=50)
    ok = np.isfinite(d["mean"])
    assert ok.any() and np.all((d["mean"][ok] >= 0) & (d["mean"][ok] <= 1))


def test_shipped_study_is_conserved_and_complete():
    loaded = study.load_manybody()  # re-checks orders + remainder = output for every model
    assert len(loaded["molecules"]) == 60 and set(loaded["models"]) == set(study.MODELS)
    counts = loaded["models"]["nci-small-energy-schnet"]["counts"]
    for name, (_, trained, t, max_order) in study.MODELS.items():
        entry, meta = loaded["models"][name], loaded["meta"]["models"][name]
        gi = entry["gi"]
        np.testing.assert_allclose(gi["orders"].sum(1) + gi["remainder"], entry["output"], rtol=1e-10)
        np.testing.assert_array_equal(entry["counts"], counts[:, :max_order])  # same structures and cutoff graph
        assert meta["complete"] == (t == 3) and meta["trained"] == trained
        assert ("pair" in gi) == (name in study.PAIR_TERMS)
        if t == 3:
            assert np.all(np.abs(gi["remainder"]) < 1e-8 * np.abs(entry["output"]))
        else:
            assert np.any(np.abs(gi["remainder"]) > 1e-3)  # a real higher-order part, reported as a net sum
    shares = study_vector_shares(loaded, ["nci-small-energy-painn"], n_boot=50)
    assert 0 < shares["atoms"]["mean"] < 1


# --- PaiNN's vector channel -------------------------------------------------------------------------------

def test_schnet_has_no_vector_part_and_the_scalar_part_is_the_walk_total():
    model, atoms = potential("schnet", 2), mol("CH3CH2OH")
    p = vector_channel_parts(model, atoms)
    assert p["scalar"] == pytest.approx(lrp.nbody_relevances(model, atoms, max_order=1).total, rel=1e-12)
    assert abs(p["vector"]) <= 1e-12 * abs(p["scalar"])


def test_painn_with_a_silent_vector_channel_has_a_zero_vector_part():
    model, atoms = potential("painn", 2), mol("CH3CH2OH")
    with torch.no_grad():
        for mix in model.representation.mixing:
            mix.mu_channel_mix.weight.zero_()
    p = vector_channel_parts(model, atoms)
    assert p["vector"] == 0.0 and np.all(p["vector_atoms"] == 0.0)
    assert p["scalar"] == pytest.approx(lrp.nbody_relevances(model, atoms, max_order=1).total, rel=1e-12)


def test_painn_vector_part_is_real_and_parts_add_to_the_full_attribution():
    model, atoms = potential("painn", 2), mol("CH3CH2OH")
    p = vector_channel_parts(model, atoms)
    assert p["scalar"] == pytest.approx(lrp.nbody_relevances(model, atoms, max_order=1).total, rel=1e-12)
    assert abs(p["vector"]) > 1e-3 * abs(p["scalar"])
    assert p["scalar_atoms"].sum() + p["vector_atoms"].sum() == pytest.approx(p["scalar"] + p["vector"])
    s = vector_shares({k: np.array([p[k]]) for k in ("output", "scalar", "vector", "scalar_abs", "vector_abs")})
    assert 0 < s["net"][0] < 1 and 0 < s["atoms"][0] < 1


def test_full_attribution_equals_a_finite_difference_when_the_model_is_polynomial():
    """With identity activations gi is the plain gradient, so S + V = d/de y((1 + e) h0) at e = 0."""
    import schnetpack as spk

    torch.manual_seed(3)
    rep = spk.representation.PaiNN(n_atom_basis=6, n_interactions=2, radial_basis=spk.nn.GaussianRBF(6, 5.0),
                                   cutoff_fn=spk.nn.CosineCutoff(5.0), activation=None)
    model = spk.model.NeuralNetworkPotential(representation=rep, input_modules=[spk.atomistic.PairwiseDistances()],
                                             output_modules=[spk.atomistic.Atomwise(n_in=6, activation=None)])
    with torch.no_grad():
        for prm in model.parameters():
            prm.add_(0.3 * torch.randn_like(prm))
    model = model.double()
    atoms = mol("CH3CH2OH")
    p = vector_channel_parts(model, atoms)
    eps, values = 1e-5, []
    for sign in (1, -1):
        m = float64_copy(model)
        with torch.no_grad():
            m.representation.embedding.weight.mul_(1 + sign * eps)
        values.append(model_output(m, model_inputs(m, atoms), "y"))
    fd = (values[0] - values[1]) / (2 * eps)
    assert p["scalar"] + p["vector"] == pytest.approx(fd, rel=1e-6)
    assert abs(p["vector"]) > 1e-3 * abs(p["scalar"])


# --- decay per separation class ---------------------------------------------------------------------------

def test_class_exponents_recover_a_per_class_power_law_and_a_constant_shift():
    structures = [mol(n) for n in ("CH3CH2OH", "C3H8", "CH3COOH", "C4H4O", "CH3CH2NH2", "C6H6")]
    pairs = pair_table(structures, [f"m{k}" for k in range(len(structures))])
    truth = {"1-3": 2.0, "1-4": 4.0, ">=1-5": 6.0, "1-2": 1.0}
    n = np.vectorize(truth.get)(pairs["separation_class"])
    values = pairs["r"] ** -n
    fits = class_exponents(pairs, [values, 3.0 * values], window=(1.0, 6.0), n_boot=20, min_pairs=3,
                           min_molecules=2, min_span=0.2)
    assert {"1-3", "1-4", "all"} <= set(fits)
    for c, fit in fits.items():
        if c != "all":
            assert fit["per_seed"] == pytest.approx([truth[c]] * 2) and fit["sd"] == pytest.approx(0, abs=1e-9)
    law = law_comparison(pairs, [0.5 * np.exp(-pairs["r"] / 0.7)], window=(1.0, 6.0), n_boot=20)
    assert law["rmse_exp"]["per_seed"][0] == pytest.approx(0, abs=1e-9)
    assert law["difference"]["mean"] < 0  # exp - power: the exponential fits these exactly


def test_pair_values_line_up_with_the_engine_on_shipped_results():
    from xailib.analysis import load_results
    from xailib.analysis.known_answers import test_structures
    from xailib.models import load_model

    structures = test_structures()
    values = pair_values(load_results("nci-small-energy-schnet-seed1"), structures)
    pairs = pair_table(structures, range(len(structures)))
    assert len(values) == len(pairs["r"])
    k = 1
    nb = lrp.nbody_relevances(load_model("nci-small-energy-schnet-seed1"), structures[k], max_order=2)
    terms = nb.combined_terms()
    rows = np.flatnonzero(pairs["structure"] == k)
    expected = [terms.get((int(i), int(j)), 0.0) for i, j in zip(pairs["i"][rows], pairs["j"][rows])]
    np.testing.assert_allclose(values[rows], expected, rtol=1e-4, atol=1e-6)
