"""Seed replicas: found by name and sorted by seed, test errors summarised across seeds, logs merged per epoch."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest

from xailib.base.paths import data_dir
from xailib.models import ModelNotFoundError, TrainingLogError, learning_curve, replicas, seed_metrics, seed_table

LOG_COLUMNS = ["epoch", "lr_schedule", "step", "train_loss", "val_energy_MAE", "val_loss"]


def fake_model(root, name, seed, energy=None, gap=None, log=None, **extra):
    """A model folder with a metrics.json (and a log.csv from ``log``: rows of LOG_COLUMNS values)."""
    folder = root / name
    folder.mkdir()
    metrics = {"seed": seed, "epochs": 10, "best_epoch": 7, "converged": seed % 2 == 0, **extra}
    if energy is not None:
        metrics["energy_mae_meV"] = energy
    if gap is not None:
        metrics["gap_mae_eV"] = gap
    (folder / "metrics.json").write_text(json.dumps(metrics))
    if log is not None:
        with open(folder / "log.csv", "w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(LOG_COLUMNS)
            writer.writerows(log)
    return folder


@pytest.fixture
def family(tmp_path):
    """Model ``m`` (seed 0) with replicas seed2 and seed1, plus look-alikes that are not its replicas."""
    fake_model(tmp_path, "m-seed2", 2, energy=130.0)
    fake_model(tmp_path, "m", 0, energy=100.0)
    fake_model(tmp_path, "m-seed1", 1, energy=160.0)
    fake_model(tmp_path, "m6", 0, energy=1.0)          # another model
    fake_model(tmp_path, "m6-seed1", 1, energy=1.0)    # its replica
    (tmp_path / "m-seed3").mkdir()                     # not trained (no metrics.json)
    return tmp_path


def test_replicas_are_the_model_and_its_seed_folders_sorted_by_seed(family):
    assert replicas("m", family) == ["m", "m-seed1", "m-seed2"]
    assert replicas("m6", family) == ["m6", "m6-seed1"]


def test_replicas_sort_by_the_seed_in_metrics_not_the_name(tmp_path):
    fake_model(tmp_path, "m", 5, energy=1.0)
    fake_model(tmp_path, "m-seed10", 10, energy=1.0)
    fake_model(tmp_path, "m-seed2", 2, energy=1.0)
    assert replicas("m", tmp_path) == ["m-seed2", "m", "m-seed10"]


def test_missing_model_and_replica_names_raise_named_errors(family):
    with pytest.raises(ModelNotFoundError, match="no trained model 'x'.*'m'"):
        replicas("x", family)
    with pytest.raises(ModelNotFoundError, match="seed replica.*'m'"):
        replicas("m-seed1", family)
    with pytest.raises(FileNotFoundError):  # the error is also a FileNotFoundError
        seed_metrics("x", models_dir=family)


def test_seed_metrics_rows_mean_and_sample_sd(family):
    s = seed_metrics("m", models_dir=family)
    assert s["keys"] == ["energy_mae_meV"] and s["n_seeds"] == 3
    assert [r["seed"] for r in s["rows"]] == [0, 1, 2]
    assert [r["energy_mae_meV"] for r in s["rows"]] == [100.0, 160.0, 130.0]
    assert [r["converged"] for r in s["rows"]] == [True, False, True]
    assert s["mean"]["energy_mae_meV"] == pytest.approx(130.0)
    assert s["sd"]["energy_mae_meV"] == pytest.approx(30.0)  # ddof = 1
    with pytest.raises(KeyError, match="gap_mae_eV"):
        seed_metrics("m", keys=["gap_mae_eV"], models_dir=family)


def test_one_seed_has_nan_sd_and_the_table_omits_it(tmp_path):
    fake_model(tmp_path, "g", 0, gap=0.25)
    s = seed_metrics("g", models_dir=tmp_path)
    assert s["keys"] == ["gap_mae_eV"] and math.isnan(s["sd"]["gap_mae_eV"])
    row = seed_table(["g"], models_dir=tmp_path).splitlines()[2]
    assert "| 0.25 | 0.25 | yes | 10 (7) |" in row


def test_seed_table_has_one_row_per_model_and_error_with_mean_and_sd(family):
    lines = seed_table(["m", "m6"], models_dir=family).splitlines()
    assert len(lines) == 4
    assert lines[2] == ("| `m` | energy MAE (meV) | 0, 1, 2 | 100.0, 160.0, 130.0 | 130.0 ± 30.0 | yes, no, yes "
                        "| 10 (7), 10 (7), 10 (7) |")
    fake_model(family, "g", 0, gap=0.5)
    lines = seed_table(["m", "g"], keys=["energy_mae_meV", "gap_mae_eV"], models_dir=family).splitlines()
    assert [ln.split(" | ")[1] for ln in lines[2:]] == ["energy MAE (meV)", "gap MAE (eV)"]
    with pytest.raises(KeyError, match="'g' has none"):
        seed_table(["g"], keys=["energy_mae_meV"], models_dir=family)


def test_learning_curve_merges_the_rows_of_one_epoch(tmp_path):
    log = [  # Lightning's CSV log: lr without epoch, training steps, then the validation row
        ["", 0.01, 0, "", "", ""],
        [0, "", 9, 4.0, "", ""],
        [0, "", 19, 2.0, "", ""],
        [0, "", 19, "", 0.5, 1.5],
        ["", 0.005, 20, "", "", ""],
        [1, "", 29, 1.0, "", ""],
        [1, "", 39, "", 0.25, 0.75],
        ["", 0.005, 40, "", "", ""],  # the third epoch started but ended before validation
        [2, "", 49, 0.5, "", ""],
    ]
    fake_model(tmp_path, "m", 0, energy=1.0, log=log)
    curve = learning_curve("m", tmp_path)
    np.testing.assert_array_equal(curve["epoch"], [0, 1])
    np.testing.assert_allclose(curve["val_loss"], [1.5, 0.75])
    np.testing.assert_allclose(curve["val_energy_MAE"], [0.5, 0.25])
    np.testing.assert_allclose(curve["train_loss"], [3.0, 1.0])
    np.testing.assert_allclose(curve["lr"], [0.01, 0.005])
    assert learning_curve(tmp_path / "m")["epoch"].tolist() == [0, 1]  # a folder works too


def test_learning_curve_keeps_the_last_values_of_a_repeated_epoch(tmp_path):
    log = [[0, "", 9, "", 1.0, 2.0], [1, "", 19, "", 0.5, 1.0], [1, "", 29, "", 0.4, 0.8]]  # resumed run
    fake_model(tmp_path, "m", 0, energy=1.0, log=log)
    curve = learning_curve("m", tmp_path)
    np.testing.assert_allclose(curve["val_loss"], [2.0, 0.8])
    assert "lr" not in curve and "train_loss" not in curve


def test_learning_curve_errors(tmp_path):
    fake_model(tmp_path, "nolog", 0, energy=1.0)
    fake_model(tmp_path, "noval", 0, energy=1.0, log=[[0, "", 9, 1.0, "", ""]])
    with pytest.raises(TrainingLogError, match="log.csv does not exist"):
        learning_curve("nolog", tmp_path)
    with pytest.raises(TrainingLogError, match="no validation rows"):
        learning_curve("noval", tmp_path)
    with pytest.raises(ModelNotFoundError):
        learning_curve("absent", tmp_path)


def test_shipped_energy_models_have_three_seeds_with_curves_matching_their_metrics():
    names = replicas("nci-small-energy-schnet")
    assert names == ["nci-small-energy-schnet", "nci-small-energy-schnet-seed1", "nci-small-energy-schnet-seed2"]
    s = seed_metrics("nci-small-energy-schnet")
    assert [r["seed"] for r in s["rows"]] == [0, 1, 2] and s["sd"]["energy_mae_meV"] > 0
    for name in names:
        metrics = json.loads((data_dir() / "models" / name / "metrics.json").read_text())
        curve = learning_curve(name)
        assert len(curve["epoch"]) == len(metrics["val_loss"])
        np.testing.assert_allclose(curve["val_loss"], metrics["val_loss"], atol=1e-6)
        assert int(curve["epoch"][np.argmin(curve["val_loss"])]) == metrics["best_epoch"]
