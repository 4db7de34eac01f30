"""LRP rules: the gamma formula against an independent numpy implementation, gi, reversibility."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from lrp_models import mol, potential

from xailib.lrp import adapters, rules


def numpy_gamma(W, b, x, y, g):
    """The gamma rule of xailib.lrp.rules (module docstring), written out per unit with numpy: value and Jacobian of the modified forward."""
    out_dim, in_dim = W.shape
    value, jac = np.zeros(out_dim), np.zeros((out_dim, in_dim))
    for k in range(out_dim):
        wp, wn = np.maximum(W[k], 0), np.minimum(W[k], 0)
        if y[k] > 1e-6:
            a_pos, a_neg, bb = W[k] + g * wp, W[k] + g * wn, b[k] + g * max(b[k], 0)
            num = sum(a_pos[i] * x[i] if x[i] > 0 else a_neg[i] * x[i] for i in range(in_dim)) + bb
            den = max(num - bb, bb)
            dn = np.where(x > 0, a_pos, np.where(x < 0, a_neg, 0.0))
        elif y[k] < -1e-6:
            a_pos, a_neg, bb = W[k] + g * wn, W[k] + g * wp, b[k] + g * min(b[k], 0)
            num = sum(a_pos[i] * x[i] if x[i] > 0 else a_neg[i] * x[i] for i in range(in_dim)) + bb
            den = min(num - bb, bb)
            dn = np.where(x > 0, a_pos, np.where(x < 0, a_neg, 0.0))
        else:
            continue
        if den != 0:
            value[k], jac[k] = num * y[k] / den, dn * y[k] / den
    return value, jac


@pytest.mark.parametrize("activation", ["silu", "ssp"])
def test_gamma_rule_matches_an_independent_numpy_implementation(activation):
    from schnetpack.nn import Dense
    from schnetpack.nn.activations import shifted_softplus

    torch.manual_seed(0)
    act = F.silu if activation == "silu" else shifted_softplus
    layer = Dense(7, 5, activation=act).double()
    with torch.no_grad():
        layer.bias.copy_(torch.tensor([0.3, -0.4, 0.0, 0.8, -0.05], dtype=torch.float64))
    x = torch.randn(7, dtype=torch.float64)
    x[2] = 0.0
    y = layer(x).detach().numpy()
    assert (y > 1e-6).any() and (y < -1e-6).any()  # both branches of the rule are exercised
    with rules.applied(layer, "gamma", gamma=0.3, layers=[layer]):
        value = layer(x).detach().numpy()
        jac = torch.autograd.functional.jacobian(layer, x).numpy()
    ref_value, ref_jac = numpy_gamma(layer.weight.detach().numpy(), layer.bias.detach().numpy(), x.numpy(), y, 0.3)
    np.testing.assert_allclose(value, ref_value, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(jac, ref_jac, rtol=1e-12, atol=1e-14)
    assert not np.allclose(value, y)  # the gamma forward value differs from y where biases act


def test_gi_rule_keeps_the_value_and_scales_the_gradient():
    from schnetpack.nn import Dense

    torch.manual_seed(1)
    layer = Dense(6, 4, activation=F.silu).double()
    with torch.no_grad():
        layer.bias.normal_()
    x = torch.randn(6, dtype=torch.float64)
    z = (layer.weight @ x + layer.bias).detach()
    y = layer(x).detach()
    with rules.applied(layer, "gi", layers=[layer]):
        value = layer(x).detach()
        jac = torch.autograd.functional.jacobian(layer, x)
    torch.testing.assert_close(value, y, rtol=1e-14, atol=1e-15)
    torch.testing.assert_close(jac, (y / z)[:, None] * layer.weight.detach(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("arch", ["schnet", "painn", "schnet-poly", "painn-poly"])
@pytest.mark.parametrize("rule", ["gi", "gamma"])
def test_rule_context_leaves_outputs_and_parameters_bit_identical(arch, rule):
    model = potential(arch, 2)
    inputs = adapters.model_inputs(model, mol("CH3CH2OH"))
    params = {k: v.clone() for k, v in model.state_dict().items()}
    before = model({k: v.clone() for k, v in inputs.items()})["energy"].detach().clone()
    with rules.applied(model, rule, gamma=0.5):
        during = model({k: v.clone() for k, v in inputs.items()})["energy"].detach().clone()
    after = model({k: v.clone() for k, v in inputs.items()})["energy"].detach()
    assert torch.equal(before, after)
    assert all(torch.equal(params[k], v) for k, v in model.state_dict().items())
    assert not any("forward" in m.__dict__ for m in model.modules())
    if rule == "gamma":
        assert not torch.equal(before, during)  # the rule was really active


def test_rule_is_removed_after_an_error_and_nesting_is_refused():
    model = potential("schnet", 2)
    with pytest.raises(RuntimeError, match="boom"):
        with rules.applied(model, "gamma"):
            raise RuntimeError("boom")
    assert not any("forward" in m.__dict__ for m in model.modules())
    with rules.applied(model, "gi"):
        with pytest.raises(rules.RuleAlreadyAppliedError):
            with rules.applied(model, "gamma"):
                pass
    with pytest.raises(rules.UnknownRuleError, match="gi, gamma"):
        with rules.applied(model, "epsilon"):
            pass


@pytest.mark.parametrize("arch", ["schnet", "painn"])
def test_rules_modify_atom_feature_layers_but_not_filter_networks(arch):
    model = potential(arch, 2)
    chosen = {id(m) for m in rules.rule_layers(model)}
    rep = model.representation
    if arch == "schnet":
        expected = [i.f2out[0] for i in rep.interactions]
        edge = [i.filter_network[0] for i in rep.interactions]
    else:
        expected = [i.interatomic_context_net[0] for i in rep.interactions]
        expected += [m.intraatomic_context_net[0] for m in rep.mixing]
        edge = [rep.filter_net]
    expected += [model.output_modules[0].outnet[0]]
    assert chosen == {id(m) for m in expected}
    assert not chosen & {id(m) for m in edge}
    # the filter network keeps its ordinary forward inside a gamma context
    if arch == "schnet":
        f = torch.randn(4, 6, dtype=torch.float64)
        net = rep.interactions[0].filter_network
        ref = net(f)
        with rules.applied(model, "gamma", gamma=1.0):
            assert torch.equal(net(f), ref)
