"""Tests of xailib.models: build, save/load, symmetry, forces, guards."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from ase import Atoms
from ase.build import molecule

from xailib import set_seed
from xailib.models import (
    ModelConfig,
    ModelConfigError,
    UnsupportedElementError,
    UntrustedModelError,
    build_model,
    calculator,
    load_model,
    save_model,
)

ARCHS = ["schnet", "painn", "schnet-poly", "painn-poly"]  # -poly: envelope poly (xailib.models.envelopes)
POLY = dict(envelope="poly", envelope_r0=1.5, envelope_width=1.0, rbf_cutoff=3.0)  # switch on [3, 4] A


def tiny(arch: str, **kw) -> torch.nn.Module:
    set_seed(0)
    arch, poly = arch.removesuffix("-poly"), arch.endswith("-poly")
    cfg = dict(architecture=arch, n_atom_basis=16, n_interactions=2, n_rbf=12, cutoff=4.0, elements=["H", "C", "O"])
    cfg.update(POLY if poly else {})
    cfg.update(kw)
    model = build_model(cfg)
    for pp in model.postprocessors:  # non-trivial offsets, as after training
        if hasattr(pp, "mean"):
            pp.mean = torch.tensor(-3.7)
    return model


def energy_forces(model: torch.nn.Module, atoms: Atoms) -> tuple[float, np.ndarray]:
    at = atoms.copy()
    at.calc = calculator(model)
    return at.get_potential_energy(), at.get_forces()


def random_rotation(rng: np.random.Generator) -> np.ndarray:
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q @ np.diag(np.sign(np.diag(r)))
    return q if np.linalg.det(q) > 0 else -q


@pytest.mark.parametrize("arch", ARCHS)
def test_save_load_round_trip_identical(arch, tmp_path):
    model = tiny(arch)
    atoms = molecule("CH3CH2OH")
    e0, f0 = energy_forces(model, atoms)
    folder = save_model(model, tmp_path / "m", model.xailib_config, {"energy_mae_meV": 1.5})
    assert {p.name for p in folder.iterdir()} == {"model.pt", "model.pt.sha256", "config.json", "metrics.json"}
    assert json.loads((folder / "metrics.json").read_text()) == {"energy_mae_meV": 1.5}
    loaded = load_model(folder)
    e1, f1 = energy_forces(loaded, atoms)
    assert e1 == e0 and np.array_equal(f1, f0)
    assert abs(e0 - (-3.7 * len(atoms))) < 50  # the saved offset is part of the prediction
    for (k, v), (k2, v2) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert k == k2 and torch.equal(v, v2)


@pytest.mark.parametrize("arch", ARCHS)
def test_energy_invariant_forces_equivariant(arch):
    model = tiny(arch).double()
    rng = np.random.default_rng(1)
    atoms = molecule("CH3CH2OH")
    atoms.positions += rng.normal(scale=0.05, size=atoms.positions.shape)
    e0, f0 = energy_forces(model, atoms)
    for _ in range(3):
        rot, shift = random_rotation(rng), rng.normal(scale=3.0, size=3)
        moved = atoms.copy()
        moved.positions = atoms.positions @ rot.T + shift
        e1, f1 = energy_forces(model, moved)
        assert abs(e1 - e0) < 1e-10
        np.testing.assert_allclose(f1, f0 @ rot.T, atol=1e-10)
    assert np.abs(f0).max() > 1e-3  # the check is not vacuous


@pytest.mark.parametrize("arch", ARCHS)
def test_forces_are_minus_energy_gradient(arch):
    model = tiny(arch).double()
    rng = np.random.default_rng(2)
    atoms = molecule("CH3CHO")
    atoms.positions += rng.normal(scale=0.05, size=atoms.positions.shape)
    _, forces = energy_forces(model, atoms)
    h = 1e-5
    fd = np.zeros_like(forces)
    for i in range(len(atoms)):
        for k in range(3):
            plus, minus = atoms.copy(), atoms.copy()
            plus.positions[i, k] += h
            minus.positions[i, k] -= h
            fd[i, k] = -(energy_forces(model, plus)[0] - energy_forces(model, minus)[0]) / (2 * h)
    np.testing.assert_allclose(forces, fd, atol=1e-7)


def test_calculator_precision_leaves_model_unchanged():
    model = tiny("schnet")
    atoms = molecule("CH3OH")
    atoms.calc = calculator(model, dtype=torch.float64)
    e64 = atoms.get_potential_energy()
    assert next(model.parameters()).dtype == torch.float32
    assert e64 == pytest.approx(energy_forces(model, atoms)[0], abs=1e-4)


def test_unseen_element_raises_clear_error():
    model = tiny("schnet")
    atoms = Atoms("CH3Br", positions=[[0, 0, 0], [0.6, 0.6, 0.6], [-0.6, -0.6, 0.6], [0.6, -0.6, -0.6], [-1.1, 1.1, -1.1]])
    with pytest.raises(UnsupportedElementError, match=r"element Br \(Z=35\) was not in the model's training data"):
        energy_forces(model, atoms)


def test_trust_guard(tmp_path):
    model = tiny("painn")
    path = tmp_path / "best_model"
    torch.save(model, path)  # how schnetpack stores its best_model: a pickled module
    with pytest.raises(UntrustedModelError, match="trust=True"):
        load_model(path)
    trusted = load_model(path, trust=True)
    atoms = molecule("CH3OH")
    assert energy_forces(trusted, atoms)[0] == energy_forces(model, atoms)[0]


def test_state_dict_file_needs_config_beside_it(tmp_path):
    model = tiny("schnet")
    torch.save(model.state_dict(), tmp_path / "weights.pt")
    with pytest.raises(FileNotFoundError, match="config.json"):
        load_model(tmp_path / "weights.pt")


def test_mean_aggregation_is_intensive_sum_is_extensive():
    """Two copies of a molecule far beyond the cutoff: the mean stays, the sum doubles."""
    gap = tiny("painn", targets=["gap"], aggregation="mean", forces=False).double()
    energy = tiny("schnet").double()
    single = molecule("CH3CH2OH")
    far = single.copy()
    far.positions += [50.0, 0, 0]
    double = single + far
    from schnetpack.interfaces import AtomsConverter
    from schnetpack.transform import MatScipyNeighborList

    conv = AtomsConverter(MatScipyNeighborList(cutoff=4.0), dtype=torch.float64)
    g1, g2 = gap(conv(single))["gap"].item(), gap(conv(double))["gap"].item()
    assert g2 == pytest.approx(g1, abs=1e-10)
    e1, e2 = energy(conv(single))["energy"].item(), energy(conv(double))["energy"].item()
    assert e2 == pytest.approx(2 * e1, abs=1e-9)
    with pytest.raises(ValueError, match="'energy' and 'forces'"):
        calculator(gap)


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"architecture": "dimenet"}, "architecture must be one of"),
        ({"n_interactions": 0}, "n_interactions must be a positive integer"),
        ({"cutoff": -1}, "cutoff must be a positive number"),
        ({"aggregation": "max"}, "aggregation must be one of"),
        ({"targets": ["gap"]}, "forces=True needs an 'energy' target"),
        ({"elements": ["Xx"]}, "unknown element"),
        ({"n_features": 64}, "unknown model config keys"),
    ],
)
def test_config_errors_are_clear(bad, message):
    with pytest.raises(ModelConfigError, match=message):
        ModelConfig.from_dict(bad)


def test_config_round_trip_and_element_symbols():
    cfg = ModelConfig.from_dict({"architecture": "painn", "elements": ["O", "H", 6, "C"]})
    assert cfg.elements == [1, 6, 8]
    assert ModelConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg


def test_save_refuses_weights_that_do_not_fit_config(tmp_path):
    model = tiny("schnet")
    wrong = dict(model.xailib_config, n_atom_basis=32)
    with pytest.raises(ModelConfigError, match="do not fit"):
        save_model(model, tmp_path / "m", wrong)


@pytest.mark.parametrize("breaking, error", [
    (lambda a: a.positions.__setitem__(0, np.nan), "NaN or infinite"),
    (lambda a: a.positions.__setitem__(1, a.positions[0]), "overlapping atoms"),
])
def test_calculator_refuses_broken_structures(breaking, error):
    """A NaN coordinate or two coincident atoms used to give a finite energy; now a named error."""
    from xailib.base.errors import MalformedStructureError

    config = ModelConfig(architecture="schnet", n_atom_basis=8, n_interactions=1, elements=[1, 6, 8])
    atoms = molecule("CH3CH2OH")
    atoms.calc = calculator(build_model(config))
    assert np.isfinite(atoms.get_potential_energy())
    breaking(atoms)
    with pytest.raises(MalformedStructureError, match=error):
        atoms.get_potential_energy()
