"""Tests of xailib.models.training: a short real training run, metrics reproduction, configs, shipped models."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from xailib import repo_root
from xailib.cli import main
from xailib.models import learning_curve, load_model
from xailib.models.evaluation import DatasetPropertyError, errors_by_element
from xailib.models.training import TrainConfigError, evaluate, load_train_config, read_split, train

pytestmark = pytest.mark.slow  # training runs on GFN2-xTB-labelled sets

MODELS = Path(repo_root()) / "data" / "models"
SHIPPED = sorted(p for p in MODELS.glob("*") if (p / "config.json").exists()) if MODELS.exists() else []


def val_losses(folder: Path) -> list[float]:
    with open(folder / "log.csv") as fh:
        return [float(r["val_loss"]) for r in csv.DictReader(fh) if r.get("val_loss")]


@pytest.fixture(scope="module")
def trained(ethanol_db, tmp_path_factory) -> Path:
    """A tiny SchNet trained for 25 epochs through the command line."""
    tmp = tmp_path_factory.mktemp("train")
    cfg = {
        "name": "tiny-ethanol",
        "dataset": str(ethanol_db),
        "split_file": str(ethanol_db) + ".split.npz",
        "model": {"architecture": "schnet", "n_atom_basis": 16, "n_interactions": 2, "n_rbf": 12, "cutoff": 4.0},
        "batch_size": 8,
        "lr": 2e-3,
        "max_epochs": 25,
        "progress_bar": False,
    }
    path = tmp / "cfg.json"
    path.write_text(json.dumps(cfg))
    assert main(["train", "--config", str(path), "--out", str(tmp / "model")]) == 0
    return tmp / "model"


def test_training_decreases_loss_and_writes_folder(trained):
    names = {p.name for p in trained.iterdir()}
    assert {"model.pt", "config.json", "metrics.json", "train_config.json", "split.npz", "log.csv"} <= names
    losses = val_losses(trained)
    assert len(losses) == 25
    assert min(losses) < 0.5 * losses[0]
    metrics = json.loads((trained / "metrics.json").read_text())
    assert metrics["best_val_loss"] == pytest.approx(min(losses), rel=1e-5)
    assert metrics["epochs"] == 25 and metrics["n_train"] == 24 and metrics["n_test"] == 8
    assert json.loads((trained / "config.json").read_text())["elements"] == [1, 6, 8]  # read from the data
    curve = learning_curve(trained)
    np.testing.assert_allclose(curve["val_loss"], losses)
    assert list(curve["epoch"]) == list(range(25)) and len(curve["lr"]) == 25


def test_metrics_reproduced_from_saved_model(trained, ethanol_db):
    metrics = json.loads((trained / "metrics.json").read_text())
    again = evaluate(load_model(trained), ethanol_db, read_split(str(ethanol_db) + ".split.npz")["test_idx"])
    for key in ("energy_mae_meV", "forces_mae_meV_per_A"):
        assert again[key] == pytest.approx(metrics[key], rel=1e-6)


def test_evaluate_matches_independent_reference(trained, ethanol_db):
    """Errors recomputed from the ASE db and the ASE calculator, without schnetpack's loaders."""
    from ase.db import connect

    from xailib.models import calculator

    model = load_model(trained)
    test_idx = read_split(str(ethanol_db) + ".split.npz")["test_idx"]
    res = evaluate(model, ethanol_db, test_idx)
    calc = calculator(model)
    de, df = [], []
    with connect(str(ethanol_db)) as db:
        for i in test_idx:
            row = db.get(id=int(i) + 1)
            at = row.toatoms()
            at.calc = calc
            de.append(at.get_potential_energy() - float(row.data["energy"][0]))
            df.append(at.get_forces() - row.data["forces"])
    assert res["energy_mae_meV"] == pytest.approx(1000 * np.mean(np.abs(de)), rel=1e-4)
    assert res["forces_mae_meV_per_A"] == pytest.approx(1000 * np.mean(np.abs(np.concatenate(df))), rel=1e-4)
    numbers = np.concatenate([connect(str(ethanol_db)).get(id=int(i) + 1).numbers for i in test_idx])
    per_el = errors_by_element(evaluate(model, ethanol_db, test_idx, return_predictions=True)["predictions"])
    fd = np.abs(np.concatenate(df))
    for z, sym in [(1, "H"), (6, "C"), (8, "O")]:
        assert per_el[sym] == pytest.approx(1000 * fd[numbers == z].mean(), rel=1e-4)


def test_gap_model_with_mean_aggregation_and_atomref_energy(mixed_db, tmp_path):
    """Intensive gap (mean) and extensive energy with fitted per-element references both train."""
    base = {"dataset": str(mixed_db), "split_file": str(mixed_db) + ".split.npz", "batch_size": 8, "max_epochs": 3,
            "progress_bar": False}
    gap = train(dict(base, name="gap", model={"architecture": "painn", "n_atom_basis": 16, "n_interactions": 2,
                                               "targets": ["gap"], "aggregation": "mean", "forces": False}),
                out_dir=tmp_path / "gap")
    m = json.loads((gap / "metrics.json").read_text())
    assert "gap_mae_eV" in m and "energy_mae_meV" not in m
    model = load_model(gap)
    mean = model.postprocessors[1].mean
    assert 1.0 < float(mean) < 20.0  # the training mean of the xTB gap, eV

    energy = train(dict(base, name="e", model={"architecture": "schnet", "n_atom_basis": 16, "n_interactions": 2,
                                               "offset": "atomrefs"}), out_dir=tmp_path / "e")
    atomref = load_model(energy).postprocessors[1].atomref
    assert torch.all(atomref[[1, 6, 8]] < -1.0)  # fitted xTB per-element energies (eV), negative
    assert torch.all(atomref[[2, 7, 9, 17]] == 0)


def test_train_config_errors(tmp_path, ethanol_db):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\ndataset: a.db\nsplit_file: s.npz\nmodel: {}\nlearning_rate: 0.1\n")
    with pytest.raises(TrainConfigError, match=r"unknown training config keys \['learning_rate'\]"):
        load_train_config(bad)
    cfg = {"name": "x", "dataset": str(ethanol_db), "split_file": str(tmp_path / "none.npz"), "model": {}}
    with pytest.raises(TrainConfigError, match="split file .* does not exist"):
        train(cfg, out_dir=tmp_path / "x")
    cfg = {"name": "x", "dataset": str(ethanol_db), "split_file": str(ethanol_db) + ".split.npz",
           "model": {"targets": ["homo"], "forces": False}}
    with pytest.raises(DatasetPropertyError, match=r"has no properties \['homo'\]"):
        train(cfg, out_dir=tmp_path / "x")


def test_committed_configs_are_valid():
    configs = sorted((Path(repo_root()) / "configs").glob("*.yaml"))
    assert configs, "no training configs committed under configs/"
    for path in configs:
        cfg = load_train_config(path)
        assert cfg.name == path.stem


@pytest.mark.slow
@pytest.mark.parametrize("folder", SHIPPED, ids=[p.name for p in SHIPPED])
def test_shipped_model_metrics_reproduced(folder):
    """Each shipped model's test metrics follow from its weights and the shipped test split."""
    metrics = json.loads((folder / "metrics.json").read_text())
    tc = json.loads((folder / "train_config.json").read_text())
    test_idx = read_split(tc["split_file"])["test_idx"]
    assert np.array_equal(np.load(folder / "split.npz")["test_idx"], test_idx)
    again = evaluate(load_model(folder), tc["dataset"], test_idx)
    keys = [k for k in metrics if "_mae_" in k or "_rmse_" in k]
    assert keys
    for key in keys:
        assert again[key] == pytest.approx(metrics[key], rel=1e-4), key
