"""Bias terms: walks + bias terms add up to the (rule-modified) output; bias suffixes against the masked
per-suffix reference; n-body bias terms from subgraph passes against the aggregated suffixes."""

import contextlib
import itertools

import numpy as np
import pytest
import torch
from lrp_models import mol, potential, zero_biases

from xailib import lrp
from xailib.lrp import adapters, bias, rules

ARCHS = ["schnet", "painn", "schnet-poly", "painn-poly"]


def assert_all_biases_nonzero(model):
    biases = [p for name, p in model.named_parameters() if name.endswith("bias")]
    assert biases and all(bool((p != 0).all()) for p in biases)


@contextlib.contextmanager
def steps_under_rule(model, atoms, rule, gamma=0.25, composite="features"):
    """Steps and the Atomwise head module of a float64 copy of ``model`` with the rule applied."""
    m64 = adapters.float64_copy(model)
    with rules.applied(m64, rule, gamma=gamma, composite=composite):
        yield adapters.build_steps(m64, atoms), adapters.atomwise_head(m64, None)


@pytest.mark.parametrize("rule", ["gi", "gamma"])
@pytest.mark.parametrize("aggregation", ["sum", "avg"])
@pytest.mark.parametrize("arch", ARCHS)
def test_walks_plus_bias_terms_add_up_to_the_output(arch, aggregation, rule):
    t = 3 if arch.startswith("schnet") else 2  # random 3-step PaiNNs reach outputs of 1e10
    model, atoms = potential(arch, t, aggregation=aggregation), mol("CH3CH2OH")
    assert_all_biases_nonzero(model)
    res = lrp.walk_relevances(model, atoms, rule=rule, gamma=0.25)
    scale = max(1.0, abs(res.output))
    assert abs(res.bias_total) > 1e-3 * scale  # the walks alone miss a real part of the output
    assert res.conserved_total == pytest.approx(res.total + res.bias_total, abs=1e-12 * scale)
    assert res.conserved_total == pytest.approx(res.rule_output, rel=1e-10, abs=1e-12)
    assert res.residual == pytest.approx(res.output - res.rule_output, abs=1e-10 * scale)
    if rule == "gi":
        assert res.conserved_total == pytest.approx(res.output, rel=1e-10, abs=1e-12)
        assert abs(res.residual) < 1e-10 * scale
    else:
        assert abs(res.residual) > 1e-6 * scale  # the gamma rule changes the forward value
    assert [b.shape for b in res.bias] == [(len(atoms),) * (t - s + 1) for s in range(1, t + 1)]
    assert res.head_bias.shape == (len(atoms),)
    atom = res.atom_relevances()
    assert atom.sum() == pytest.approx(res.conserved_total, rel=1e-10)
    np.testing.assert_allclose(atom, lrp.atom_relevances(model, atoms, rule=rule, gamma=0.25), atol=1e-10 * scale)


@pytest.mark.parametrize("rule", ["gi", "gamma"])
@pytest.mark.parametrize("arch,t,aggregation", [("schnet", 3, "sum"), ("schnet", 2, "avg"), ("schnet", 1, "sum"),
                                                ("painn", 3, "avg"), ("painn", 2, "sum"), ("schnet", 4, "sum")])
def test_bias_suffixes_equal_the_masked_per_suffix_reference(arch, t, aggregation, rule):
    """Every bias suffix of H2O (steps before and after the meeting level), and the head constants."""
    model, atoms = potential(arch, t, aggregation=aggregation), mol("H2O")
    res = lrp.walk_relevances(model, atoms, rule=rule, gamma=0.25)
    n = len(atoms)
    largest = 0.0
    with steps_under_rule(model, atoms, rule) as (st, head):
        for step in range(1, t + 1):
            suffixes = list(itertools.product(range(n), repeat=t - step + 1))
            ref = np.array([bias.bruteforce_bias(st, step, s) for s in suffixes])
            got = np.array([res.bias[step - 1][s] for s in suffixes])
            scale = max(1.0, np.abs(ref).max())
            np.testing.assert_allclose(got, ref, rtol=0, atol=1e-10 * scale)
            largest = max(largest, np.abs(ref).max())
        # head constants from schnetpack's own output network: outnet(h_T)[a] (/ N for avg) - dy/dh_T[a] . h_T[a]
        x = st.hs[-1].clone().requires_grad_(True)
        per_atom = head.outnet(x)[:, 0] / (n if aggregation == "avg" else 1)
        (grad,) = torch.autograd.grad(per_atom.sum(), x)
        expected = (per_atom - (grad * x).sum(dim=1)).detach().numpy()
    assert largest > 1e-3  # not vacuous
    np.testing.assert_allclose(res.head_bias, expected, rtol=0, atol=1e-12 * max(1.0, np.abs(expected).max()))
    assert np.abs(expected).max() > 1e-3


@pytest.mark.parametrize("rule", ["gi", "gamma"])
@pytest.mark.parametrize("arch", ARCHS)
def test_step_constants_from_factored_jacobians_equal_those_from_a_jvp_of_the_step(arch, rule):
    """``k_t = h_t - J_t h_{t-1}`` by LinearStep.push against ``F_t(h) - dF_t(h)[h]`` by torch.func.jvp."""
    from torch.func import jvp

    model, atoms = potential(arch, 3), mol("CH3CH2OH")
    with steps_under_rule(model, atoms, rule) as (st, _):
        for fn, h, k in zip(st.steps, st.hs[:-1], st.step_constants()):
            value, linear = jvp(fn, (h,), (h,))
            torch.testing.assert_close(k, value - linear, rtol=1e-10, atol=1e-10 * float(value.abs().max()))
            assert float(k.abs().max()) > 1e-3
        with pytest.raises(ValueError, match="has 3 atoms"):
            bias.bruteforce_bias(st, 1, [0])


@pytest.mark.parametrize("max_order", [2, 3])
@pytest.mark.parametrize("rule", ["gi", "gamma"])
@pytest.mark.parametrize("arch", ["schnet", "painn"])
def test_nbody_bias_terms_from_subgraph_passes_equal_aggregated_suffixes(arch, rule, max_order):
    model, atoms = potential(arch, 3, cutoff=2.6), mol("CH3CH2OH")  # sets of 4 atoms: real remainders
    walks = lrp.walk_relevances(model, atoms, rule=rule)
    nb = lrp.nbody_relevances(model, atoms, max_order=max_order, rule=rule)
    ref = walks.nbody(max_order)
    scale = max(1.0, abs(walks.output))
    assert abs(ref.remainder) > 1e-6 * scale and len(nb.order(max_order, part="bias")) > 0
    if max_order == 2:
        assert abs(ref.bias_remainder) > 1e-6 * scale
    else:  # bias suffixes of a 3-step model visit at most 3 atoms
        assert abs(ref.bias_remainder) < 1e-12 * scale and abs(nb.bias_remainder) < 1e-10 * scale
    for key in set(nb.bias_terms) | set(ref.bias_terms):
        assert nb.bias_terms.get(key, 0.0) == pytest.approx(ref.bias_terms.get(key, 0.0), abs=1e-10 * scale)
    for key in set(nb.terms) | set(ref.terms):
        assert nb.terms.get(key, 0.0) == pytest.approx(ref.terms.get(key, 0.0), abs=1e-10 * scale)
    assert nb.bias_remainder == pytest.approx(ref.bias_remainder, abs=1e-10 * scale)
    assert nb.bias_total == pytest.approx(walks.bias_total, rel=1e-10)
    assert nb.conserved_total == pytest.approx(nb.rule_output, rel=1e-10)
    assert nb.rule_output == pytest.approx(walks.rule_output, rel=1e-12)
    combined = nb.combined_terms()
    assert combined[(0,)] == pytest.approx(nb.terms[(0,)] + nb.bias_terms[(0,)], rel=1e-14)
    assert sum(combined.values()) + nb.conserved_remainder == pytest.approx(nb.conserved_total, rel=1e-10)
    assert sum(nb.order_sums().values()) == pytest.approx(nb.conserved_total, rel=1e-10)
    assert sum(nb.order_sums("bias").values()) == pytest.approx(nb.bias_total, rel=1e-10)
    assert nb.order_sums("walks")["higher"] == nb.remainder


@pytest.mark.parametrize("aggregation", ["sum", "avg"])
@pytest.mark.parametrize("arch", ["schnet", "painn"])
def test_order_sums_up_to_t_plus_1_atoms_are_the_whole_output(arch, aggregation):
    """T = 3: walks visit at most 4 atoms, bias suffixes at most 3, so max_order 4 leaves no remainder."""
    model, atoms = potential(arch, 3, aggregation=aggregation), mol("CH3CH2OH")
    nb = lrp.nbody_relevances(model, atoms, max_order=4, rule="gi")
    scale = max(1.0, abs(nb.output))
    assert abs(nb.remainder) < 1e-10 * scale and abs(nb.conserved_remainder) < 1e-10 * scale
    assert not any(len(s) == 4 and abs(r) > 1e-10 * scale for s, r in nb.bias_terms.items())
    sums = nb.order_sums()
    assert set(sums) == {1, 2, 3, 4, "higher"}
    assert sum(sums.values()) == pytest.approx(nb.output, rel=1e-10)
    assert abs(nb.bias_total) > 1e-3 * scale


@pytest.mark.parametrize("rule", ["gi", "gamma"])
@pytest.mark.parametrize("arch", ["schnet", "schnet-poly"])
def test_schnet_without_biases_has_no_bias_terms(arch, rule):
    model, atoms = zero_biases(potential(arch, 3)), mol("CH3CH2OH")
    res = lrp.walk_relevances(model, atoms, rule=rule)
    scale = max(1.0, abs(res.output))
    assert all(np.abs(b).max() < 1e-12 * scale for b in res.bias) and np.abs(res.head_bias).max() < 1e-12 * scale
    assert res.total == pytest.approx(res.rule_output, rel=1e-12)
    nb = lrp.nbody_relevances(model, atoms, rule=rule)
    assert max(abs(v) for v in nb.bias_terms.values()) < 1e-12 * scale


@pytest.mark.parametrize("rule", ["gi", "gamma"])
def test_painn_without_biases_keeps_vector_channel_constants(rule):
    """PaiNN's detached vector channel enters the mixing like a bias: constants remain, and conserve."""
    model, atoms = zero_biases(potential("painn", 2)), mol("CH3CH2OH")
    res = lrp.walk_relevances(model, atoms, rule=rule)
    scale = max(1.0, abs(res.output))
    assert np.abs(res.head_bias).max() < 1e-12 * scale  # the head has no other constant
    assert all(np.abs(b).max() > 1e-4 * scale for b in res.bias)  # every step has one
    assert res.conserved_total == pytest.approx(res.rule_output, rel=1e-10)
    if rule == "gi":
        assert res.conserved_total == pytest.approx(res.output, rel=1e-10)
