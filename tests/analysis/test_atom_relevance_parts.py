"""atom_relevance_parts: walk and bias parts of the atom relevances from one pass, against atom_relevances."""

import numpy as np
import pytest
from lrp_models import mol, potential

from xailib import lrp
from xailib.analysis import atom_relevance_parts


@pytest.mark.parametrize("rule,composite", [("gi", "features"), ("gamma", "features"), ("gamma", "reference")])
@pytest.mark.parametrize("arch,aggregation", [("schnet", "sum"), ("painn", "avg")])
def test_parts_equal_atom_relevances_with_and_without_bias(arch, aggregation, rule, composite):
    model, atoms = potential(arch, 2, aggregation=aggregation), mol("CH3CH2OH")
    parts = atom_relevance_parts(model, atoms, rule=rule, gamma=0.25, composite=composite)
    options = {"rule": rule, "gamma": 0.25, "composite": composite}
    walks = lrp.atom_relevances(model, atoms, bias=False, **options)
    full = lrp.atom_relevances(model, atoms, **options)
    scale = max(1.0, np.abs(full).max())
    assert parts["walks"].shape == parts["bias"].shape == (len(atoms),)
    assert np.abs(parts["bias"]).max() > 1e-6 * scale  # not vacuous: bias terms carry relevance
    np.testing.assert_allclose(parts["walks"], walks, rtol=0, atol=1e-10 * scale)
    np.testing.assert_allclose(parts["walks"] + parts["bias"], full, rtol=0, atol=1e-10 * scale)
    if rule == "gi":  # the parts add up to the model output
        res = lrp.walk_relevances(model, atoms, rule=rule)
        assert (parts["walks"] + parts["bias"]).sum() == pytest.approx(res.output, rel=1e-10, abs=1e-10)
