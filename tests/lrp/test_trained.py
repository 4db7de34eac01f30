"""Models as they come from training: forces, post-processing offsets, float32, shipped models."""

from pathlib import Path

import numpy as np
import pytest
import torch
from lrp_models import mol, potential

from xailib import lrp
from xailib.lrp import adapters

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted(p.parent for p in (ROOT / "data" / "models").glob("*/config.json"))


def test_output_is_explained_before_postprocessing_with_forces_and_offsets():
    import schnetpack as spk
    import schnetpack.transform as trn

    model = potential("schnet", 2)
    offsets = trn.AddOffsets("energy", add_mean=True, add_atomrefs=False)
    offsets.mean = torch.tensor(-42.5, dtype=torch.float64)
    model = spk.model.NeuralNetworkPotential(
        representation=model.representation, input_modules=[spk.atomistic.PairwiseDistances()],
        output_modules=[model.output_modules[0], spk.atomistic.Forces(energy_key="energy", force_key="forces")],
        postprocessors=[trn.CastTo64(), offsets]).double()
    atoms = mol("CH3CH2OH")
    res = lrp.walk_relevances(model, atoms)
    m64 = adapters.float64_copy(model)
    full = float(m64(adapters.model_inputs(m64, atoms))["energy"].detach()[0])
    assert full == pytest.approx(res.output - 42.5 * len(atoms), rel=1e-12)  # extensive mean offset
    assert res.R.sum() == pytest.approx(res.total, rel=1e-12)


@pytest.mark.parametrize("shared", [False, True])
def test_shared_weights_and_filters(shared):
    import schnetpack as spk

    width = 8
    rep = spk.representation.PaiNN(n_atom_basis=width, n_interactions=2, radial_basis=spk.nn.GaussianRBF(6, 5.0),
                                   cutoff_fn=spk.nn.CosineCutoff(5.0), shared_interactions=shared,
                                   shared_filters=shared)
    model = spk.model.NeuralNetworkPotential(representation=rep, input_modules=[spk.atomistic.PairwiseDistances()],
                                             output_modules=[spk.atomistic.Atomwise(n_in=width)]).double()
    atoms = mol("H2O")
    res = lrp.walk_relevances(model, atoms, rule="gamma")
    walks = np.argwhere(np.ones(res.R.shape, dtype=bool))
    np.testing.assert_allclose(res.R[tuple(walks.T)], lrp.walks_bruteforce(model, atoms, walks, rule="gamma"),
                               atol=1e-10)


@pytest.mark.skipif(not SHIPPED, reason="no shipped models in data/models (they come from the models issue)")
@pytest.mark.parametrize("folder", [pytest.param(p, id=p.name, marks=[pytest.mark.slow] if "schnet6" in p.name else [])
                                    for p in SHIPPED])  # the 6-interaction model takes ~40 s
def test_shipped_models_fast_equals_bruteforce_and_conserves(folder):
    from xailib.models import load_model

    model = load_model(folder)
    atoms = mol("CH3CH2OH")
    elements = set(getattr(model, "xailib_config", {}).get("elements", atoms.numbers))
    if not set(atoms.numbers) <= elements:
        pytest.skip(f"{folder.name} is not trained on C, H, O")
    res = lrp.walk_relevances(model, atoms, rule="gamma")
    walks = np.random.default_rng(0).integers(0, len(atoms), size=(40, res.R.ndim))
    ref = lrp.walks_bruteforce(model, atoms, walks, rule="gamma")
    np.testing.assert_allclose(res.R[tuple(walks.T)], ref, atol=1e-10 * max(1.0, np.abs(ref).max()))
    assert res.R.sum() == pytest.approx(res.total, rel=1e-10)
    nb = lrp.nbody_relevances(model, atoms, rule="gamma")
    agg = res.nbody(3)
    assert nb.terms == pytest.approx(agg.terms, abs=1e-10)


NCI_MODELS = ["nci-small-energy-schnet", "nci-small-energy-painn", "nci-small-gap-schnet", "nci-small-gap-painn"]


@pytest.mark.skipif(not all((ROOT / "data" / "models" / m / "config.json").exists() for m in NCI_MODELS)
                    or not (ROOT / "data" / "nci-small.db").exists(), reason="shipped nci-small models or data missing")
@pytest.mark.parametrize("name", NCI_MODELS)
def test_shipped_models_walks_plus_bias_conserve_the_output(name):
    """On a molecule of the test split: walks + bias terms = output (gi), = rule output (gamma)."""
    from xailib.data import frames
    from xailib.models import load_model

    model, atoms = load_model(name), frames("nci-small", "test", indices=[22])[0]  # C6H11NO2, 20 atoms
    gi = lrp.walk_relevances(model, atoms, rule="gi")
    assert abs(gi.bias_total) > 1e-3 * abs(gi.output)  # the biases matter in a trained model
    assert gi.conserved_total == pytest.approx(gi.output, rel=1e-10)
    gamma = lrp.walk_relevances(model, atoms, rule="gamma", composite="reference")
    assert gamma.conserved_total == pytest.approx(gamma.rule_output, rel=1e-10)
    nb = lrp.nbody_relevances(model, atoms, rule="gi", max_order=2)
    assert nb.bias_total == pytest.approx(gi.bias_total, rel=1e-10)
    assert sum(nb.order_sums().values()) == pytest.approx(gi.output, rel=1e-10)
