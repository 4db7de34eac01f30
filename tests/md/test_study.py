"""The MD-stability scripts on a shipped model (a few steps, a few frames) and the cached run files."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from xailib.md import bond_graph, stability
from xailib.md.metrics import time_to_failure

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "data" / "models" / "md17-ethanol-schnet"
MODEL2 = ROOT / "data" / "models" / "md17-ethanol-painn"
CACHED = ROOT / "data" / "md" / "ethanol"


def load_script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


pytestmark = pytest.mark.skipif(not MODEL.exists() or not MODEL2.exists(), reason="shipped ethanol models missing")


def test_md_stability_script_writes_the_documented_format(tmp_path):
    script = load_script("md_stability")
    script.main(["ethanol", str(MODEL), "--seeds", "2", "--ps", "0.02", "--record-fs", "2", "--snapshot-fs", "10",
                 "--out-dir", str(tmp_path)])
    path = tmp_path / "ethanol" / f"{MODEL.name}.npz"
    with np.load(path, allow_pickle=False) as f:
        d = {k: f[k] for k in f.files}
    n_rec, n_atoms = 11, 9
    assert d["seed"].tolist() == [0, 1] and d["stable"].all()
    np.testing.assert_allclose(d["time_to_failure_fs"], [20.0, 20.0])
    assert d["time_fs"].shape == d["temperature_K"].shape == d["potential_energy"].shape == (2, n_rec)
    np.testing.assert_allclose(d["time_fs"][0], np.arange(n_rec) * 2.0)
    assert d["snapshots"].shape == (2, 3, n_atoms, 3)
    # the first snapshot is the reference structure (the MD starts there)
    np.testing.assert_allclose(d["snapshots"][:, 0], np.broadcast_to(d["reference_positions"], (2, n_atoms, 3)), atol=1e-5)
    assert d["last_positions"].shape == (2, n_atoms, 3) and np.isfinite(d["last_positions"]).all()
    # histograms count every recorded frame: all pairs, and one row per reference bond
    assert d["pair_hist"].sum() == 2 * n_rec * n_atoms * (n_atoms - 1) // 2
    assert d["bond_hist"].shape == (len(d["bonds"]), len(d["bond_edges"]) - 1)
    assert (d["bond_hist"].sum(axis=1) == 2 * n_rec).all()
    meta = json.loads(str(d["meta"]))
    assert meta["run_ps"] == 0.02 and meta["temperature_K"] == 500.0 and meta["metrics"]["n_test"] > 0
    s = time_to_failure(path)
    assert s["ttf_ps"] == pytest.approx(0.02) and s["n_stable"] == 2 and s["reasons"] == {}


def test_md_explanations_script_adds_models_and_keeps_others(tmp_path):
    script = load_script("md_explanations")
    out = tmp_path / "explanations.json"
    script.main(["ethanol", str(MODEL), "--n-frames", "3", "--out", str(out)])
    script.main(["ethanol", str(MODEL2), "--n-frames", "3", "--out", str(out)])
    cache = json.loads(out.read_text())
    assert set(cache["models"]) == {MODEL.name, MODEL2.name}
    assert cache["meta"]["n_frames"] == 3 and len(cache["meta"]["frames_db_index"]) == 3
    for m in cache["models"].values():
        assert m["share_1"] + m["share_2"] + m["share_3"] + m["share_higher"] == pytest.approx(1.0)
        assert 0 <= m["short_positive_fraction"] <= 1 and m["short_count"] == 3 * 8  # 8 bonds in ethanol
        assert np.isfinite(m["decay_n"]) and m["test"]["forces_mae_meV_per_A"] > 0


@pytest.mark.skipif(not (CACHED / "xtb.npz").exists(), reason="cached xTB runs missing")
def test_cached_xtb_reference_runs_pass_the_monitors():
    """The 10-ps GFN2-xTB reference runs are stable, and so are their snapshots re-checked here."""
    from ase import Atoms

    with np.load(CACHED / "xtb.npz", allow_pickle=False) as f:
        stable, snaps, z, ref = f["stable"], f["snapshots"], f["numbers"], f["reference_positions"]
        ttf, meta = f["time_to_failure_fs"], json.loads(str(f["meta"]))
    assert stable.all() and len(stable) >= 5
    np.testing.assert_allclose(ttf, meta["run_ps"] * 1000)
    reference = Atoms(numbers=z, positions=ref)
    assert len(bond_graph(reference)[0]) == 8
    for seed_snaps in snaps:
        frames = [Atoms(numbers=z, positions=p) for p in seed_snaps if np.isfinite(p).all()]
        assert stability(frames, reference).stable
