"""The MD-stability study (xailib.md.study, xailib.md.store, ``python -m xailib study md``): the cached
files read exactly as committed, save/load round trips, resumable explanations, tiny live runs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from xailib.cli import main as cli_main
from xailib.md import (
    BOND_EDGES,
    PAIR_EDGES,
    StudySettingsError,
    bond_graph,
    explanation_study,
    family_configs,
    load_explanations,
    load_run,
    run_path,
    run_stability_study,
    save_explanations,
    save_run,
    stability,
    test_frames,
    time_to_failure,
    training_config_difference,
)

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "data" / "models" / "md17-ethanol-schnet"
MODEL2 = ROOT / "data" / "models" / "md17-ethanol-painn"
CACHED = ROOT / "data" / "md" / "ethanol"
needs_models = pytest.mark.skipif(not MODEL.exists() or not MODEL2.exists(), reason="shipped ethanol models missing")
needs_cache = pytest.mark.skipif(not (CACHED / "xtb.npz").exists() or not (CACHED / "explanations.json").exists(),
                                 reason="cached MD results missing")
needs_data = pytest.mark.skipif(not (ROOT / "data" / "md17-ethanol.db").exists(), reason="md17-ethanol missing")


def synthetic_run(seeds=2, frames=4, snaps=2, atoms=3, with_last=True) -> dict:
    rng = np.random.default_rng(0)
    run = {"seed": np.arange(seeds), "stable": np.array([True, False][:seeds]),
           "time_to_failure_fs": np.array([30.0, 20.0][:seeds]), "reason": np.array(["", "bond"][:seeds]),
           "details": [{}, {"pair": [0, 2], "length": 1.7, "reference_length": 1.1}][:seeds],
           "time_fs": rng.random((seeds, frames)).astype(np.float32),
           "temperature_K": rng.random((seeds, frames)).astype(np.float32),
           "potential_energy": rng.random((seeds, frames)),
           "snapshots": np.full((seeds, snaps, atoms, 3), np.nan, dtype=np.float32),
           "numbers": np.array([8, 1, 1]), "reference_positions": rng.random((atoms, 3)),
           "pair_hist": np.arange(300), "pair_edges": PAIR_EDGES, "bond_hist": np.ones((2, 200), dtype=np.int64),
           "bonds": np.array([[0, 1], [0, 2]]), "bond_edges": BOND_EDGES,
           "meta": {"run_ps": 0.03, "molecule": "water", "command": "test"}}
    run["snapshots"][:, 0] = 1.5
    if with_last:
        run["last_positions"] = rng.random((seeds, atoms, 3)).astype(np.float32)
    return run


def assert_runs_equal(a: dict, b: dict) -> None:
    assert set(a) == set(b)
    for k in a:
        if isinstance(a[k], np.ndarray):
            assert a[k].dtype == b[k].dtype, k
            np.testing.assert_array_equal(a[k], b[k], err_msg=k)
        else:
            assert a[k] == b[k], k


@pytest.mark.parametrize("with_last", [True, False])
def test_save_run_load_run_round_trip(tmp_path, with_last):
    run = synthetic_run(with_last=with_last)
    path = save_run(tmp_path / "water" / "m.npz", run)
    assert path == tmp_path / "water" / "m.npz" and not list(path.parent.glob("*.tmp*"))
    back = load_run(path)
    assert_runs_equal(back, run)
    assert load_run("water", "m", root=tmp_path)["meta"] == run["meta"]
    # the file holds the documented plain arrays: details as JSON strings, meta as a JSON string
    with np.load(path, allow_pickle=False) as f:
        assert json.loads(str(f["details"][1])) == run["details"][1] and json.loads(str(f["meta"]))["run_ps"] == 0.03
    s = time_to_failure(path, statistic="mean")
    assert s["ttf_ps"] == pytest.approx(0.025) and s["n_stable"] == 1 and s["reasons"] == {"bond": 1}


def test_save_run_needs_meta_and_load_run_names_the_command(tmp_path):
    run = synthetic_run()
    del run["meta"]
    with pytest.raises(ValueError, match="meta"):
        save_run(tmp_path / "m.npz", run)
    with pytest.raises(FileNotFoundError, match="study md run"):
        load_run("ethanol", "no-such-model", root=tmp_path)


@needs_cache
@pytest.mark.parametrize("name", ["xtb", "ethanol-painn-energy"])
def test_load_run_reads_the_committed_files_exactly(tmp_path, name):
    path = run_path("ethanol", name)
    with np.load(path, allow_pickle=False) as f:
        raw = {k: f[k] for k in f.files}
    run = load_run("ethanol", name)
    assert set(run) == set(raw)
    assert run["meta"] == json.loads(str(raw["meta"]))
    assert run["details"] == [json.loads(str(d)) for d in raw["details"]]
    for k in raw:
        if k not in ("meta", "details"):
            np.testing.assert_array_equal(run[k], raw[k], err_msg=k)
    # writing it back gives a file with the same arrays
    assert_runs_equal(load_run(save_run(tmp_path / "copy.npz", run)), run)


def test_save_explanations_load_explanations_round_trip(tmp_path):
    models = {"a": {"share_1": 0.5, "decay_ci": [1.0, 2.0], "test": {"n_test": 3}}, "b": {"share_1": 0.25}}
    meta = {"molecule": "ethanol", "n_frames": 3, "frames_db_index": [4, 7, 9]}
    path = save_explanations(tmp_path / "e" / "explanations.json", models, meta)
    doc = load_explanations(path)
    assert doc == {"models": models, "meta": meta}
    with pytest.raises(FileNotFoundError, match="study md explain"):
        load_explanations("no-such-molecule", root=tmp_path)


@needs_cache
def test_committed_explanations_reload_and_rewrite_byte_for_byte(tmp_path):
    committed = CACHED / "explanations.json"
    doc = load_explanations("ethanol")
    assert doc == json.loads(committed.read_text())
    assert len(doc["models"]) >= 12 and doc["meta"]["n_frames"] == 150
    copy = save_explanations(tmp_path / "explanations.json", doc["models"], doc["meta"])
    assert copy.read_text() == committed.read_text()


@needs_cache
def test_cached_xtb_reference_runs_pass_the_monitors():
    """The 10-ps GFN2-xTB reference runs are stable, and so are their snapshots re-checked here."""
    from ase import Atoms

    run = load_run("ethanol", "xtb")
    assert run["stable"].all() and len(run["stable"]) >= 5
    np.testing.assert_allclose(run["time_to_failure_fs"], run["meta"]["run_ps"] * 1000)
    reference = Atoms(numbers=run["numbers"], positions=run["reference_positions"])
    assert len(bond_graph(reference)[0]) == 8
    for seed_snaps in run["snapshots"]:
        frames = [Atoms(numbers=run["numbers"], positions=p) for p in seed_snaps if np.isfinite(p).all()]
        assert stability(frames, reference).stable


@needs_data
def test_test_frames_are_seeded_rows_of_the_test_split():
    from xailib.data import frames, load_split

    atoms, rows = test_frames("ethanol", 4, seed=0)
    again, rows2 = test_frames("ethanol", 4, seed=0)
    assert rows.tolist() == rows2.tolist() == sorted(rows.tolist()) and len(atoms) == 4
    assert set(rows.tolist()) <= set(load_split("md17-ethanol")["test_idx"].tolist())
    assert [a.info["row"] for a in atoms] == rows.tolist()
    np.testing.assert_array_equal(atoms[2].positions, frames("md17-ethanol", indices=[rows[2]])[0].positions)


@needs_cache
def test_committed_explanations_used_the_seeded_test_frames():
    meta = load_explanations("ethanol")["meta"]
    _, rows = test_frames(meta["molecule"], meta["n_frames"], seed=meta["seed"])
    assert rows.tolist() == meta["frames_db_index"]


def test_family_configs_and_their_difference_from_the_base():
    configs = family_configs()
    assert "ethanol-schnet-short" in [p.stem for p in configs]
    cfg = yaml.safe_load(configs[0].read_text())
    assert cfg["out_dir"].startswith("data/md/models/")
    assert training_config_difference("ethanol-schnet-short", "schnet", "ethanol") == {"max_time_min": [8, 1]}
    assert training_config_difference("md17-ethanol-schnet", "schnet", "ethanol") == {}
    assert training_config_difference("no-such-config", "schnet", "ethanol") is None
    with pytest.raises(FileNotFoundError, match="no-such"):
        family_configs(["no-such"])


def test_cli_reports_missing_models_and_configs_in_one_line(capsys):
    assert cli_main(["study", "md", "run", "ethanol", "/no/such/model"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: no model at /no/such/model") and "\n" not in err and "Traceback" not in err
    assert cli_main(["study", "md", "explain", "ethanol", "/no/such/model"]) == 2
    assert cli_main(["study", "md", "family", "no-such-config"]) == 2
    assert "no-such-config.yaml" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli_main(["study", "md"])  # an action is required


@needs_models
@needs_data
def test_cli_run_writes_the_documented_format(tmp_path, capsys):
    rc = cli_main(["study", "md", "run", "ethanol", str(MODEL), "--seeds", "2", "--ps", "0.02", "--record-fs", "2",
                   "--snapshot-fs", "10", "--out-dir", str(tmp_path)])
    assert rc == 0 and "stable 2/2" in capsys.readouterr().out
    d = load_run(tmp_path / "ethanol" / f"{MODEL.name}.npz")
    n_rec, n_atoms = 11, 9
    assert d["seed"].tolist() == [0, 1] and d["stable"].all() and d["details"] == [{}, {}]
    np.testing.assert_allclose(d["time_to_failure_fs"], [20.0, 20.0])
    assert d["time_fs"].shape == d["temperature_K"].shape == d["potential_energy"].shape == (2, n_rec)
    np.testing.assert_allclose(d["time_fs"][0], np.arange(n_rec) * 2.0)
    assert d["snapshots"].shape == (2, 3, n_atoms, 3)
    # the first snapshot is the reference structure (the MD starts there)
    np.testing.assert_allclose(d["snapshots"][:, 0], np.broadcast_to(d["reference_positions"], (2, n_atoms, 3)),
                               atol=1e-5)
    assert d["last_positions"].shape == (2, n_atoms, 3) and np.isfinite(d["last_positions"]).all()
    # histograms count every recorded frame: all pairs, and one row per reference bond
    assert d["pair_hist"].sum() == 2 * n_rec * n_atoms * (n_atoms - 1) // 2
    assert d["bond_hist"].shape == (len(d["bonds"]), len(d["bond_edges"]) - 1)
    assert (d["bond_hist"].sum(axis=1) == 2 * n_rec).all()
    meta = d["meta"]
    assert meta["run_ps"] == 0.02 and meta["temperature_K"] == 500.0 and meta["metrics"]["n_test"] > 0
    assert len(meta["md_wall_time_s"]) == 2 and "versions" in meta and meta["model"] == str(MODEL)
    s = time_to_failure(tmp_path / "ethanol" / f"{MODEL.name}.npz")
    assert s["ttf_ps"] == pytest.approx(0.02) and s["n_stable"] == 2 and s["reasons"] == {}


@needs_models
@needs_data
def test_stability_study_accepts_shipped_names_and_seed_lists(tmp_path):
    (path,) = run_stability_study("ethanol", ["md17-ethanol-painn"], seeds=[3], ps=0.005, record_fs=1.0,
                                  snapshot_fs=5.0, root=tmp_path, progress=False)
    assert path == tmp_path / "ethanol" / "md17-ethanol-painn.npz"
    assert load_run(path)["seed"].tolist() == [3]


@needs_models
@needs_data
def test_explanation_study_adds_models_and_keeps_others(tmp_path):
    out = tmp_path / "explanations.json"
    meta = {"molecule": "ethanol", "n_frames": 3, "seed": 0, "rule": "gi"}
    save_explanations(out, {"kept-model": {"share_1": 0.5}}, meta)
    explanation_study("ethanol", [str(MODEL)], n_frames=3, out=out)
    explanation_study("ethanol", ["md17-ethanol-painn"], n_frames=3, out=out)
    doc = load_explanations(out)
    assert set(doc["models"]) == {"kept-model", MODEL.name, MODEL2.name}
    assert doc["models"]["kept-model"] == {"share_1": 0.5}
    assert doc["meta"]["n_frames"] == 3 and len(doc["meta"]["frames_db_index"]) == 3 and "versions" in doc["meta"]
    for name in (MODEL.name, MODEL2.name):
        m = doc["models"][name]
        assert m["share_1"] + m["share_2"] + m["share_3"] + m["share_higher"] == pytest.approx(1.0)
        assert 0 <= m["short_positive_fraction"] <= 1 and m["short_count"] == 3 * 8  # 8 bonds in ethanol
        assert np.isfinite(m["decay_n"]) and m["test"]["forces_mae_meV_per_A"] > 0
        assert m["differs_from_base"] == {} and m["config"]["architecture"] in ("schnet", "painn")
    # a cache of other settings is not mixed with new entries
    with pytest.raises(StudySettingsError, match="n_frames"):
        explanation_study("ethanol", [str(MODEL)], n_frames=4, out=out)
    assert set(load_explanations(out)["models"]) == {"kept-model", MODEL.name, MODEL2.name}


@pytest.mark.slow
@needs_data
def test_cli_family_trains_a_config(tmp_path):
    cfg = yaml.safe_load((ROOT / "configs" / "md-family" / "ethanol-schnet-short.yaml").read_text())
    cfg.update(out_dir=str(tmp_path / "models" / "tiny"), n_train=20, n_val=10, max_epochs=1, max_time_min=0.5,
               dataset=str(ROOT / cfg["dataset"]), split_file=str(ROOT / cfg["split_file"]))
    cfg["model"].update(n_atom_basis=8, n_interactions=1)
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(cfg))
    assert cli_main(["study", "md", "family", "tiny", "--config-dir", str(tmp_path), "--threads", "1"]) == 0
    assert (tmp_path / "models" / "tiny" / "model.pt").exists()
