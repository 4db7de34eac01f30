"""Composites: which layers get the rule ("features" or "reference"), against the per-walk reference."""

import numpy as np
import pytest
import torch
from lrp_models import all_walks, mol, potential

from xailib import lrp
from xailib.lrp import adapters, composites, rules

CASES = [("schnet", "H2O", 3), ("schnet", "CH3CH2OH", 2), ("painn", "H2O", 3), ("painn", "CH3CH2OH", 2),
         ("schnet-poly", "CH3CH2OH", 2)]


def test_reference_adds_the_filter_networks_with_an_activation():
    model = potential("schnet", 2)
    features = {id(m) for m in composites.rule_layers(model, "features")}
    reference = {id(m) for m in composites.rule_layers(model, "reference")}
    filters = {id(i.filter_network[0]) for i in model.representation.interactions}
    assert features.isdisjoint(filters) and reference == features | filters
    assert {id(m) for m in composites.rule_layers(model)} == features  # the default


def test_painn_filter_net_has_no_activation_so_both_composites_select_the_same_layers():
    model = potential("painn", 2)
    assert not composites.has_activation(model.representation.filter_net)
    assert [id(m) for m in composites.rule_layers(model, "reference")] == \
        [id(m) for m in composites.rule_layers(model, "features")]


@pytest.mark.parametrize("composite", composites.COMPOSITES)
@pytest.mark.parametrize("rule", ["gi", "gamma"])
@pytest.mark.parametrize("arch,name,t", CASES)
def test_fast_walks_equal_bruteforce_under_both_composites(arch, name, t, rule, composite):
    model, atoms = potential(arch, t), mol(name)
    res = lrp.walk_relevances(model, atoms, rule=rule, gamma=0.25, composite=composite)
    assert res.composite == composite
    walks = all_walks(len(atoms), t)
    ref = lrp.walks_bruteforce(model, atoms, walks, rule=rule, gamma=0.25, composite=composite)
    scale = np.abs(ref).max()
    assert scale > 1e-3
    np.testing.assert_allclose(res.R[tuple(walks.T)], ref, rtol=0, atol=1e-10 * max(1.0, scale))
    assert res.conserved_total == pytest.approx(res.rule_output, rel=1e-10)


@pytest.mark.parametrize("arch", ["schnet", "painn"])
def test_gi_gives_the_same_relevances_under_both_composites(arch):
    """gi keeps forward values, so the filters (constants of the relevance flow) do not change."""
    model, atoms = potential(arch, 2), mol("CH3CH2OH")
    a = lrp.walk_relevances(model, atoms, rule="gi", composite="features")
    b = lrp.walk_relevances(model, atoms, rule="gi", composite="reference")
    scale = np.abs(a.R).max()
    np.testing.assert_allclose(b.R, a.R, rtol=0, atol=1e-12 * scale)
    for x, y in zip(a.bias + [a.head_bias], b.bias + [b.head_bias]):
        np.testing.assert_allclose(y, x, rtol=0, atol=1e-12 * scale)
    assert b.rule_output == pytest.approx(a.output, rel=1e-12)


def test_gamma_on_schnet_differs_between_composites():
    """The gamma rule changes the filter values of SchNet's filter networks under "reference"."""
    model, atoms = potential("schnet", 2), mol("CH3CH2OH")
    a = lrp.walk_relevances(model, atoms, rule="gamma", composite="features")
    b = lrp.walk_relevances(model, atoms, rule="gamma", composite="reference")
    assert np.abs(b.R - a.R).max() > 1e-4 * np.abs(a.R).max()
    assert abs(b.rule_output - a.rule_output) > 1e-6 * abs(a.rule_output)
    nb_a = lrp.nbody_relevances(model, atoms, rule="gamma", composite="features")
    nb_b = lrp.nbody_relevances(model, atoms, rule="gamma", composite="reference")
    assert nb_a.composite == "features" and nb_b.composite == "reference"
    assert max(abs(nb_b.terms[k] - nb_a.terms[k]) for k in nb_a.order(2)) > 1e-6
    assert nb_b.conserved_total == pytest.approx(b.rule_output, rel=1e-10)
    # the reference rule output is schnetpack's own forward with the rule on every Dense layer
    m64 = adapters.float64_copy(model)
    inputs = adapters.model_inputs(m64, atoms)
    with rules.applied(m64, "gamma", gamma=0.1, composite="reference"):
        expected = adapters.model_output(m64, inputs, "energy")
    assert b.rule_output == pytest.approx(expected, rel=1e-12)


def test_gamma_on_painn_is_identical_under_both_composites():
    model, atoms = potential("painn", 2), mol("CH3CH2OH")
    a = lrp.walk_relevances(model, atoms, rule="gamma", composite="features")
    b = lrp.walk_relevances(model, atoms, rule="gamma", composite="reference")
    np.testing.assert_array_equal(a.R, b.R)
    assert a.rule_output == b.rule_output


def test_the_rule_context_restores_the_filter_network():
    model = potential("schnet", 2)
    net = model.representation.interactions[0].filter_network
    f = torch.rand(4, 6, dtype=torch.float64)
    ref = net(f)
    with rules.applied(model, "gamma", gamma=1.0, composite="reference"):
        assert not torch.allclose(net(f), ref)
    assert torch.equal(net(f), ref)


@pytest.mark.parametrize("call", [
    lambda m, a: lrp.walk_relevances(m, a, composite="zennit"),
    lambda m, a: lrp.walks_bruteforce(m, a, [[0, 0, 0]], composite="zennit"),
    lambda m, a: lrp.nbody_relevances(m, a, composite="zennit"),
    lambda m, a: lrp.atom_relevances(m, a, composite="zennit"),
    lambda m, a: lrp.explain(m, a, composite="zennit"),
    lambda m, a: rules.applied(m, "gi", composite="zennit").__enter__(),
    lambda m, a: composites.rule_layers(m, "zennit"),
])
def test_unknown_composite_is_a_named_error_before_any_work(call):
    """The composite is checked first: even a malformed structure is not looked at."""
    with pytest.raises(lrp.UnknownCompositeError, match="'zennit'.*features, reference"):
        call(potential("schnet", 2), None)
