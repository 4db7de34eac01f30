"""The polynomial envelope (xailib.models.envelopes) and its selection from ModelConfig."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from xailib.models import ModelConfig, ModelConfigError, build_model, load_model
from xailib.models.envelopes import PolynomialEnvelope, cosine_cutoff, local_exponent, polynomial_envelope

PARAMS = dict(cutoff=8.0, power=6.0, r0=3.0, width=1.5)
MODELS = Path(__file__).resolve().parents[2] / "data" / "models"


def value_and_derivative(env: torch.nn.Module, r) -> tuple[np.ndarray, np.ndarray]:
    d = torch.tensor(np.asarray(r, dtype=float), dtype=torch.float64, requires_grad=True)
    e = env(d)
    (g,) = torch.autograd.grad(e.sum(), d)
    return e.detach().numpy(), g.numpy()


def test_value_matches_the_formula_and_its_numpy_twin():
    env = PolynomialEnvelope(**PARAMS).double()
    r = np.linspace(0.0, 9.0, 901)
    e, _ = value_and_derivative(env, r)
    core = (1 + (r / 3.0) ** 2) ** -3.0
    inner = r <= 6.5
    np.testing.assert_allclose(e[inner], core[inner], rtol=1e-14)
    np.testing.assert_allclose(e, polynomial_envelope(r, **PARAMS), rtol=1e-13, atol=1e-300)
    assert e[0] == 1.0 and np.all(np.diff(e) <= 0)  # 1 at contact, monotone decreasing


def test_zero_at_and_beyond_the_outer_cutoff_with_zero_derivative():
    env = PolynomialEnvelope(**PARAMS).double()
    e, g = value_and_derivative(env, [8.0, 8.0 + 1e-9, 8.5, 20.0])
    assert np.all(e == 0.0) and np.all(g == 0.0)
    e, g = value_and_derivative(env, [8.0 - 1e-4])  # approached from inside: value and slope go to 0
    assert 0 < e[0] < 1e-10 and abs(g[0]) < 1e-6


@pytest.mark.parametrize("knot", [6.5, 8.0])
def test_continuous_value_and_derivative_at_the_switch_knots(knot):
    env = PolynomialEnvelope(**PARAMS).double()
    for h in (1e-4, 1e-6):
        (e_lo, e_hi), (g_lo, g_hi) = value_and_derivative(env, [knot - h, knot + h])
        scale = polynomial_envelope(6.5, **PARAMS) / 1.5  # value / length over the switch
        assert abs(e_hi - e_lo) < 3 * h * scale  # no jump in value
        assert abs(g_hi - g_lo) < 50 * h * scale / 1.5  # no jump in slope (C1): the difference is O(h)
    # the derivative is the analytic one on both sides of the knots (finite differences)
    r = np.array([1.0, 5.0, 6.4, 6.6, 7.3, 7.9])
    _, g = value_and_derivative(env, r)
    h = 1e-6
    fd = (polynomial_envelope(r + h, **PARAMS) - polynomial_envelope(r - h, **PARAMS)) / (2 * h)
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-12)


def test_gradcheck_including_the_switch():
    env = PolynomialEnvelope(**PARAMS).double()
    r = torch.tensor([0.3, 2.0, 4.0, 6.0, 6.9, 7.5, 7.99], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(env, (r,))


def test_tail_is_polynomial_with_the_stated_exponent():
    env = PolynomialEnvelope(cutoff=1000.0, power=6.0, r0=3.0, width=1.0).double()
    r = np.array([3.0, 6.0, 30.0, 300.0])
    e, g = value_and_derivative(env, r)
    slope = -g * r / e  # -d ln e / d ln r
    np.testing.assert_allclose(slope, local_exponent(r, 6.0, 3.0), rtol=1e-10)
    assert slope[0] == pytest.approx(3.0) and slope[-1] == pytest.approx(6.0, rel=1e-3)
    assert e[-1] * (300.0 / 3.0) ** 6 == pytest.approx(1.0, rel=1e-3)  # (r0/r)^n asymptotically


def test_beyond_4_angstrom_it_keeps_more_than_the_cosine_cutoff():
    r = np.array([4.5, 4.9])
    assert np.all(polynomial_envelope(r, **PARAMS) > cosine_cutoff(r, 5.0))
    assert cosine_cutoff(5.0, 5.0) == 0.0 and polynomial_envelope(5.0, **PARAMS) > 0.01


@pytest.mark.parametrize("kw, message", [
    (dict(cutoff=-1.0), "cutoff must be a positive number"),
    (dict(power=0.0), "power must be a positive number"),
    (dict(width=9.0), "must not exceed the cutoff"),
])
def test_bad_envelope_parameters_are_refused(kw, message):
    with pytest.raises(ValueError, match=message):
        PolynomialEnvelope(**{**PARAMS, **kw})


@pytest.mark.parametrize("bad, message", [
    ({"envelope": "exp"}, "envelope must be one of"),
    ({"envelope": "poly", "envelope_power": -6}, "envelope_power must be a positive number"),
    ({"envelope_r0": 2.0}, "only apply to envelope: poly"),
    ({"envelope": "poly", "envelope_width": 6.0}, "must not exceed cutoff"),
    ({"rbf_cutoff": 6.0}, r"rbf_cutoff must be a number in \(0, cutoff=5.0\]"),
])
def test_config_errors_are_clear(bad, message):
    with pytest.raises(ModelConfigError, match=message):
        ModelConfig.from_dict(bad)


def test_poly_config_builds_the_envelope_and_round_trips():
    cfg = ModelConfig.from_dict(dict(architecture="painn", envelope="poly", cutoff=8, rbf_cutoff=5, envelope_r0=2))
    assert ModelConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    rep = build_model(cfg).representation
    assert isinstance(rep.cutoff_fn, PolynomialEnvelope) and float(rep.cutoff) == 8.0
    assert float(rep.cutoff_fn.r0) == 2.0 and float(rep.radial_basis.offsets.max()) == 5.0


def test_defaults_are_todays_cosine_models():
    import schnetpack as spk

    rep = build_model(ModelConfig()).representation
    assert type(rep.cutoff_fn) is spk.nn.CosineCutoff and float(rep.cutoff) == 5.0
    assert float(rep.radial_basis.offsets.max()) == 5.0


@pytest.mark.parametrize("folder", sorted(p.parent.name for p in MODELS.glob("*/config.json")))
def test_shipped_config_files_load_unchanged(folder):
    """The config.json files written before the envelope existed still build the same models."""
    import schnetpack as spk

    path = MODELS / folder
    raw = json.loads((path / "config.json").read_text())
    cfg = ModelConfig.from_dict(raw)
    assert cfg.envelope == "cosine" and cfg.rbf_cutoff is None
    model = load_model(path)  # strict load_state_dict: same modules, same buffers
    rep = model.representation
    assert type(rep.cutoff_fn) is spk.nn.CosineCutoff and float(rep.cutoff) == raw["cutoff"]
    state = torch.load(path / "model.pt", weights_only=True)
    assert set(state) == set(model.state_dict())
    assert float(rep.radial_basis.offsets.max()) == pytest.approx(raw["cutoff"])
