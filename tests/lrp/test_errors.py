"""Clear errors for unsupported models, outputs and inputs."""

import numpy as np
import pytest
import torch
from lrp_models import mol, potential

from xailib import lrp
from xailib.base.errors import MalformedStructureError
from xailib.lrp import walks


def test_unsupported_representation_is_named():
    import schnetpack as spk

    rep = spk.representation.SO3net(n_atom_basis=8, n_interactions=2, lmax=1,
                                    radial_basis=spk.nn.GaussianRBF(n_rbf=6, cutoff=5.0),
                                    cutoff_fn=spk.nn.CosineCutoff(5.0))
    model = spk.model.NeuralNetworkPotential(representation=rep, input_modules=[spk.atomistic.PairwiseDistances()],
                                             output_modules=[spk.atomistic.Atomwise(n_in=8)])
    with pytest.raises(lrp.UnsupportedArchitectureError, match="SO3net.*SchNet, PaiNN"):
        lrp.walk_relevances(model, mol("H2O"))


def test_plain_torch_module_is_refused():
    with pytest.raises(lrp.UnsupportedArchitectureError, match="NeuralNetworkPotential.*Sequential"):
        lrp.nbody_relevances(torch.nn.Sequential(torch.nn.Linear(3, 1)), mol("H2O"))


def test_bad_target_rule_walks_and_atoms():
    model, atoms = potential("schnet", 2), mol("H2O")
    with pytest.raises(lrp.UnsupportedOutputError, match="'dipole'.*'energy'"):
        lrp.walk_relevances(model, atoms, target="dipole")
    with pytest.raises(lrp.UnknownRuleError):
        lrp.atom_relevances(model, atoms, rule="alpha-beta")
    with pytest.raises(ValueError, match=r"shape \(K, 3\)"):
        lrp.walks_bruteforce(model, atoms, np.zeros((2, 4), dtype=int))
    with pytest.raises(IndexError, match="0..2"):
        lrp.walks_bruteforce(model, atoms, np.array([[0, 1, 3]]))
    with pytest.raises(MalformedStructureError, match="ase.Atoms"):  # was TypeError; see test_structure_checks.py
        lrp.walk_relevances(model, atoms.positions)


def test_vector_output_is_refused():
    import schnetpack as spk

    model = potential("schnet", 2)
    model.output_modules[0] = spk.atomistic.Atomwise(n_in=8, n_out=2, output_key="energy").double()
    with pytest.raises(lrp.UnsupportedOutputError, match="n_out=2"):
        lrp.walk_relevances(model, mol("H2O"))


def test_too_many_walks_points_to_nbody(monkeypatch):
    monkeypatch.setattr(walks, "MAX_WALKS", 100)
    with pytest.raises(lrp.TooManyWalksError, match="nbody_relevances"):
        lrp.walk_relevances(potential("schnet", 3), mol("CH4"))
