"""Chapter 10's controlled comparison (xailib.poly.equal): run names, curves, equal-time budgets, pair reach."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest
from ase import Atoms

from tests.lrp_models import potential
from xailib import poly
from xailib.analysis import explain_dataset
from xailib.base.io import CacheFileError


def test_runs_are_named_once_each():
    names = [poly.run_name(*r) for r in poly.all_runs()]
    assert len(names) == len(set(names)) == len(poly.ARCHS) * len(poly.VARIANTS) * len(poly.SEEDS)
    assert poly.run_name("PaiNN", "poly-rbf8", 1) == "equal-nci-small-painn-poly-rbf8-seed1"
    assert poly.run_name("SchNet", "cosine") == "equal-nci-small-schnet-cosine"
    with pytest.raises(ValueError, match="unknown run"):
        poly.run_name("MACE", "poly")


CURVE = {"elapsed_s": [10.0, 20.0, 30.0], "val_energy_MAE": [3.0, 1.0, 2.0]}


@pytest.mark.parametrize("seconds, best", [(15, 3.0), (25, 1.0), (30, 1.0), (100, 1.0)])
def test_best_within_takes_the_lowest_value_reached_in_time(seconds, best):
    assert poly.best_within(CURVE, seconds) == best


def test_best_within_is_nan_before_the_first_validation():
    assert math.isnan(poly.best_within(CURVE, 5))


def test_equal_time_budget_is_the_quickest_variant_of_that_arch_and_seed():
    runs = {"a": {"arch": "SchNet", "seed": 0, "curve": {"elapsed_s": [1, 50]}},
            "b": {"arch": "SchNet", "seed": 0, "curve": {"elapsed_s": [2, 30]}},
            "c": {"arch": "SchNet", "seed": 1, "curve": {"elapsed_s": [2, 10]}},
            "d": {"arch": "PaiNN", "seed": 0, "curve": {"elapsed_s": [2, 5]}}}
    assert poly.equal_time_budget(runs, "SchNet", 0) == 30
    assert poly.equal_time_budget(runs, "SchNet", 1) == 10


def _run_folder(tmp_path, elapsed=True):
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "metrics.json").write_text(json.dumps({"energy_mae_meV": 100.0, "epochs": 2, "n_train": 1500}))
    cols = (["elapsed_s"] if elapsed else []) + ["epoch", "step", "train_loss", "val_loss", "val_energy_MAE",
                                                 "val_forces_MAE"]
    rows = [{"epoch": 0, "step": 9, "train_loss": 1.0}, {"epoch": 0, "step": 9, "val_loss": 0.5,
            "val_energy_MAE": 0.3, "val_forces_MAE": 0.2, "elapsed_s": 11.5},
            {"epoch": 1, "step": 19, "train_loss": 0.8}, {"epoch": 1, "step": 19, "val_loss": 0.4,
            "val_energy_MAE": 0.25, "val_forces_MAE": 0.15, "elapsed_s": 22.0}]
    with open(folder / "log.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=cols, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    return folder


def test_run_summary_reads_metrics_and_the_timed_curve(tmp_path):
    s = poly.run_summary(_run_folder(tmp_path))
    assert s["metrics"]["energy_mae_meV"] == 100.0 and s["metrics"]["n_train"] == 1500
    assert s["curve"] == {"epoch": [0.0, 1.0], "elapsed_s": [11.5, 22.0], "val_loss": [0.5, 0.4],
                          "val_energy_MAE": [0.3, 0.25], "val_forces_MAE": [0.2, 0.15]}


def test_a_log_without_training_time_is_refused(tmp_path):
    with pytest.raises(CacheFileError, match="elapsed_s"):
        poly.run_summary(_run_folder(tmp_path, elapsed=False))


def _chain(n=8, spacing=1.1):
    """A straight H chain: pairs up to (n-1) * spacing apart."""
    return Atoms("H" * n, positions=[[spacing * k, 0.3 * (k % 2), 0.0] for k in range(n)])


@pytest.mark.parametrize("arch, far_terms", [("schnet-poly", True), ("schnet", False)])
def test_pair_reach_matches_the_terms(arch, far_terms):
    model = potential(arch, n_interactions=2, width=8, cutoff=8.0 if far_terms else 5.0)
    structures = [_chain(8), _chain(3)]
    res = explain_dataset(model, structures, max_order=2, progress=False)
    s = poly.pair_range_summary(res)
    for k, atoms in enumerate(structures):
        d = atoms.get_all_distances()
        pairs = {t: v for t, v in res.terms(k).items() if len(t) == 2}
        far = sum(abs(v) for (i, j), v in pairs.items() if d[i, j] > poly.LONG_RANGE)
        total = sum(abs(v) for v in pairs.values())
        if d.max() > poly.LONG_RANGE:
            assert s["long_share"][k] == pytest.approx(far / total, rel=1e-12)
            assert (s["long_share"][k] > 0) == far_terms
        else:
            assert s["long_share"][k] is None
        total_abs = res.order_abs[k].sum() + abs(res.beyond()[k])  # orders stored plus the remainder
        assert s["pair_share"][k] == pytest.approx(total / total_abs, rel=1e-9)
    assert sum(s["profile"]["count"]) == sum(len([t for t in res.terms(k) if len(t) == 2]) for k in range(2))
    assert np.isfinite([m for m in s["profile"]["mean"] if m is not None]).all()
