"""Tests of per-atom energy outputs and targets (ModelConfig.atomic_output, xailib.models.atomic_targets)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from xailib.models import ModelConfig, ModelConfigError, build_model, load_model
from xailib.models.evaluation import DatasetPropertyError, evaluate
from xailib.models.training import TrainConfigError, read_split, train

pytestmark = pytest.mark.slow  # training runs on GFN2-xTB-labelled sets

REF = {1: -13.6, 6: -1030.0, 8: -2040.0}  # eV, made-up per-element atomic references


def atomic_target(atoms) -> np.ndarray:
    """A smooth per-atom function of the structure (element reference + neighbour term)."""
    d = atoms.get_all_distances()
    np.fill_diagonal(d, np.inf)
    z = atoms.numbers
    return np.array([REF[int(z[i])] + 0.8 * np.sum(np.exp(-d[i]) * (z / 6.0)) for i in range(len(atoms))])


@pytest.fixture(scope="module")
def atomic_db(tmp_path_factory) -> Path:
    """Rattled small molecules with per-atom targets ``atomic_energies`` and ``energy`` = their sum."""
    from ase.build import molecule
    from schnetpack.data import ASEAtomsData

    path = tmp_path_factory.mktemp("atomic") / "atomic.db"
    rng = np.random.default_rng(1)
    ds = ASEAtomsData.create(str(path), distance_unit="Ang",
                             property_unit_dict={"energy": "eV", "atomic_energies": "eV"})
    atoms_list, props = [], []
    for name in ["CH3CH2OH", "CH3OH", "H2O", "CH4", "C2H6", "CH3CHO", "HCOOH", "C2H4"]:
        for _ in range(8):
            at = molecule(name)
            at.positions += rng.normal(scale=0.08, size=at.positions.shape)
            a = atomic_target(at)
            atoms_list.append(at)
            props.append({"energy": np.array([a.sum()]), "atomic_energies": a})
    ds.add_systems(props, atoms_list)
    perm = rng.permutation(len(atoms_list))
    np.savez(str(path) + ".split.npz", train_idx=perm[:40], val_idx=perm[40:52], test_idx=perm[52:])
    return path


def config(db: Path, **kw) -> dict:
    model = {"architecture": "schnet", "n_atom_basis": 16, "n_interactions": 2, "n_rbf": 12, "cutoff": 4.0,
             "forces": False, "atomic_output": "atomic_energies", **kw.pop("model", {})}
    return {"name": "atomic", "dataset": str(db), "split_file": str(db) + ".split.npz", "model": model,
            "batch_size": 8, "lr": 3e-3, "max_epochs": 30, "progress_bar": False, **kw}


@pytest.fixture(scope="module")
def trained(atomic_db, tmp_path_factory) -> Path:
    cfg = config(atomic_db, loss_weights={"energy": 1.0, "atomic_energies": 1.0}, model={"offset": "atomrefs"})
    return train(cfg, out_dir=tmp_path_factory.mktemp("m") / "model")


def predict(model, db: Path, idx) -> list[dict]:
    from ase.db import connect
    from schnetpack.interfaces import AtomsConverter
    from schnetpack.transform import MatScipyNeighborList

    conv = AtomsConverter(neighbor_list=MatScipyNeighborList(cutoff=4.0), dtype=torch.float32)
    out = []
    with connect(str(db)) as con:
        for i in idx:
            row = con.get(id=int(i) + 1)
            res = model(conv(row.toatoms()))
            out.append({k: v.detach().double().numpy() for k, v in res.items()} | {"ref": row.data})
    return out


def test_atomic_target_learned_and_sums_to_total(trained, atomic_db):
    metrics = json.loads((trained / "metrics.json").read_text())
    model = load_model(trained)
    assert "atomic_energies" in model.model_outputs and "energy" in model.model_outputs
    test_idx = read_split(str(atomic_db) + ".split.npz")["test_idx"]
    preds = predict(model, atomic_db, test_idx)
    for p in preds:
        assert p["atomic_energies"].shape == p["ref"]["atomic_energies"].shape
        # predicted atomic energies add up to the predicted total, offsets included (float64 post-processing)
        # (to the float32 round-off of the network's own sum over atoms)
        assert p["atomic_energies"].sum() == pytest.approx(float(p["energy"][0]), abs=1e-5)
    err = np.concatenate([p["atomic_energies"] - p["ref"]["atomic_energies"] for p in preds])
    # the per-element references (~1e3 eV apart) were removed and restored per atom: errors are small
    assert np.mean(np.abs(err)) < 0.3
    assert metrics["atomic_energies_mae_eV"] == pytest.approx(np.mean(np.abs(err)), rel=1e-4)
    again = evaluate(model, atomic_db, test_idx)
    assert again["atomic_energies_mae_eV"] == pytest.approx(metrics["atomic_energies_mae_eV"], rel=1e-6)
    log = (trained / "log.csv").read_text()
    assert "val_atomic_energies_MAE" in log


def test_fitted_offset_is_shared_with_the_atoms(trained):
    model = load_model(trained)
    add_energy, add_atoms = model.postprocessors[1], model.postprocessors[2]
    assert torch.equal(add_energy.atomref.double()[:10], add_atoms.atomref[:10])
    for z, ref in REF.items():
        assert float(add_atoms.atomref[z]) == pytest.approx(ref, abs=2.0)


@pytest.mark.parametrize("offset", ["mean", "none"])
def test_untrained_atomic_output_sums_to_total(atomic_db, tmp_path, offset):
    """With weight 0 the per-atom output is not a target but still exposed, and still sums to the total."""
    folder = train(config(atomic_db, max_epochs=2, model={"offset": offset}), out_dir=tmp_path / "m")
    metrics = json.loads((folder / "metrics.json").read_text())
    assert "energy_mae_meV" in metrics
    model = load_model(folder)
    if offset == "mean":
        assert float(model.postprocessors[2].mean) == pytest.approx(float(model.postprocessors[1].mean), rel=1e-12)
        assert abs(float(model.postprocessors[2].mean)) > 100  # eV per atom
    for p in predict(model, atomic_db, [0, 9, 17]):
        # float32 round-off of the per-atom values: with offset "none" the output bias starts at the
        # training mean per atom (about -400 eV here), so the sum carries round-off of that size
        total = float(p["energy"][0])
        assert p["atomic_energies"].sum() == pytest.approx(total, abs=1e-5 + 8 * float(np.finfo(np.float32).eps) * abs(total))


def test_errors(atomic_db, tmp_path, ethanol_db):
    with pytest.raises(TrainConfigError, match=r"loss_weights name \['gap'\]"):
        train(config(atomic_db, loss_weights={"energy": 1.0, "gap": 1.0}), out_dir=tmp_path / "x")
    with pytest.raises(ModelConfigError, match="atomic_output needs an 'energy' target"):
        ModelConfig(targets=["gap"], aggregation="mean", forces=False, atomic_output="atomic_energies")
    with pytest.raises(ModelConfigError, match="must differ"):
        ModelConfig(forces=False, atomic_output="energy")
    with pytest.raises(DatasetPropertyError, match=r"has no properties \['atomic_energies'\]"):
        train(config(ethanol_db, loss_weights={"energy": 1.0, "atomic_energies": 1.0}), out_dir=tmp_path / "y")


def test_default_models_unchanged():
    """Configs without atomic_output build the same modules and state dict as before."""
    plain = build_model(ModelConfig())
    assert not any("atomic" in k for k in plain.state_dict())
    assert "atomic_output" in ModelConfig().to_dict() and ModelConfig().atomic_output is None
    cfg = ModelConfig().to_dict()
    del cfg["atomic_output"]  # a config.json written before the field existed
    assert ModelConfig.from_dict(cfg) == ModelConfig()
