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


def _doc():
    """Two seeds of a control and a variant, three molecules, with known differences."""
    def run(variant, seed, energy, long_share, elapsed):
        return {"arch": "SchNet", "variant": variant, "seed": seed,
                "metrics": {"energy_mae_meV": float(np.mean(energy)), "forces_mae_meV_per_A": 1.0, "epochs": 3},
                "curve": {"epoch": [0, 1, 2], "elapsed_s": elapsed, "val_energy_MAE": [0.3, 0.2, 0.1]},
                "molecule_errors": {"molecule_ids": ["a", "b", "c"], "energy_meV": energy,
                                    "forces_meV_per_A": [1.0, 1.0, 1.0]},
                "pairs": {"molecule_ids": ["a", "b", "c"], "long_share": long_share}}
    runs = [run("cosine", 0, [10.0, 20.0, 30.0], [0.0, None, 0.0], [1.0, 2.0, 3.0]),
            run("cosine", 1, [12.0, 22.0, 32.0], [0.0, None, 0.0], [1.0, 2.0, 3.0]),
            run("poly", 0, [11.0, 23.0, 30.0], [0.1, None, 0.3], [2.0, 4.0, 6.0]),
            run("poly", 1, [14.0, 22.0, 35.0], [0.2, None, 0.2], [2.0, 4.0, 6.0])]
    return {"runs": {f"{r['variant']}-{r['seed']}": r for r in runs}}


def test_error_difference_is_the_paired_seed_mean_with_a_molecule_interval():
    d = poly.error_difference(_doc(), "SchNet", "poly")
    assert d["per_seed"] == pytest.approx([4 / 3, 5 / 3]) and d["mean"] == pytest.approx(1.5)
    assert d["ratio"] == pytest.approx((np.mean([11, 23, 30, 14, 22, 35])) / np.mean([10, 20, 30, 12, 22, 32]))
    # molecule means of the seed-mean difference: 1.5, 1.5, 1.5 -> no spread over molecules with seeds fixed
    assert d["mol_low"] == pytest.approx(1.5) and d["mol_high"] == pytest.approx(1.5) and d["n_molecules"] == 3
    # resampling the seeds too: single cells range from 0 to 3
    assert 0 <= d["low"] < 1.5 < d["high"] <= 3
    with pytest.raises(ValueError, match="no seed"):
        poly.error_difference(_doc(), "PaiNN", "poly")


def test_long_range_share_skips_molecules_without_far_pairs():
    s = poly.long_range_share(_doc(), "SchNet", "poly")
    assert s["n_molecules"] == 2 and s["per_seed"] == pytest.approx([0.2, 0.2]) and s["mean"] == pytest.approx(0.2)
    assert 0.15 - 1e-12 <= s["mol_low"] <= 0.2 <= s["mol_high"] <= 0.25 + 1e-12
    assert 0.1 - 1e-12 <= s["low"] <= s["mol_low"] and s["mol_high"] <= s["high"] <= 0.3 + 1e-12
    assert poly.long_range_share(_doc(), "SchNet", "cosine")["mean"] == 0.0


def test_equal_time_gives_every_variant_the_quickest_budget():
    rows = {(r["seed"], r["variant"]): r for r in poly.equal_time(_doc(), "SchNet", clock="elapsed_s")}
    assert rows[0, "cosine"]["budget_s"] == 3.0 and rows[0, "poly"]["epochs_in_budget"] == 1
    assert rows[0, "poly"]["within_budget"] == 0.3 and rows[0, "poly"]["at_end"] == 0.1
    assert rows[0, "cosine"]["within_budget"] == 0.1


@pytest.mark.slow
def test_molecule_errors_average_to_the_shipped_test_metrics():
    """Every nci-small test molecule has the same number of test frames, so the mean of the molecule means
    is the test MAE of metrics.json (for forces weighted by the molecule's atoms, as metrics.json counts atoms)."""
    from xailib.models import model_dir, model_metrics

    name = "nci-small-energy-schnet"
    errors = poly.molecule_errors(model_dir(name))
    metrics = model_metrics(name)
    assert len(errors["molecule_ids"]) == len(set(errors["molecule_ids"])) == 60
    assert np.mean(errors["energy_meV"]) == pytest.approx(metrics["energy_mae_meV"], rel=1e-5)
    forces = np.average(errors["forces_meV_per_A"], weights=errors["n_atoms"])
    assert forces == pytest.approx(metrics["forces_mae_meV_per_A"], rel=1e-5)


def test_two_level_interval_holds_the_seed_spread():
    # molecules alike within a seed, seeds far apart: the molecule-only interval would be a point
    seeds_apart = np.array([[0.0] * 20, [10.0] * 20, [20.0] * 20])
    low, high = poly.two_level_interval(seeds_apart)
    assert low < 5 and high > 15
    # seeds alike: the interval is the molecule bootstrap of the mean
    same = np.tile(np.arange(20, dtype=float), (3, 1))
    low, high = poly.two_level_interval(same)
    assert low < same.mean() < high and high - low < 6
    with pytest.raises(ValueError, match="seeds x molecules"):
        poly.two_level_interval(np.array([1.0, np.nan]))


def test_power_law_long_share_is_the_far_share_of_the_law():
    atoms = Atoms("H3", positions=[[0, 0, 0], [1.0, 0, 0], [7.0, 0, 0]])  # pairs 1, 6, 7 A
    s = poly.power_law_long_share([atoms, Atoms("H2", positions=[[0, 0, 0], [1, 0, 0]])], 1.0)
    assert s["n_structures"] == 1
    assert s["mean"] == pytest.approx((1 / 6 + 1 / 7) / (1 + 1 / 6 + 1 / 7))
    assert poly.power_law_long_share([atoms], 6.0)["mean"] < s["mean"]


def test_runs_of_one_architecture_and_unknown_ones():
    assert {a for a, _, _ in poly.all_runs(["SchNet"])} == {"SchNet"}
    assert len(poly.all_runs(["SchNet"])) == len(poly.VARIANTS) * len(poly.SEEDS)
    with pytest.raises(ValueError, match="unknown architecture"):
        poly.all_runs(["MACE"])
