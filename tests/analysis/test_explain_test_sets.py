"""The test-set explanation study: manifest lines replaced or appended, never lost; test split rows; CLI."""

from __future__ import annotations

import numpy as np
import pytest

from xailib.analysis import explain_test_sets, load_results, results_path, test_sets
from xailib.base.io import CacheFileError
from xailib.cli import build_parser
from xailib.data.manifest import sha256, update_manifest, verify_manifest
from xailib.models import shipped_models


def test_update_manifest_replaces_changed_lines_and_keeps_others(tmp_path):
    (tmp_path / "a.db").write_text("a")
    (tmp_path / "relevance").mkdir()
    new = tmp_path / "relevance" / "m.npz"
    new.write_text("old")
    (tmp_path / "MANIFEST.sha256").write_text(f"{sha256(tmp_path / 'a.db')}  a.db\n{sha256(new)}  relevance/m.npz\n")
    new.write_text("new content")
    assert verify_manifest(tmp_path)["relevance/m.npz"] == "CHANGED"
    update_manifest(tmp_path, [new])
    assert verify_manifest(tmp_path) == {"a.db": "OK", "relevance/m.npz": "OK"}
    other = tmp_path / "relevance" / "n.npz"
    other.write_text("x")
    update_manifest(tmp_path, [other])
    assert verify_manifest(tmp_path) == {"a.db": "OK", "relevance/m.npz": "OK", "relevance/n.npz": "OK"}
    lines = (tmp_path / "MANIFEST.sha256").read_text().splitlines()
    assert lines[0] == f"{sha256(tmp_path / 'a.db')}  a.db" and len(lines) == 3


def test_explain_test_sets_writes_results_and_manifest_then_skips(tmp_path, monkeypatch):
    from lrp_models import mol

    from xailib.base.seed import set_seed
    from xailib.models import build_model, save_model

    set_seed(0)
    models = tmp_path / "models"
    config = {"architecture": "schnet", "n_interactions": 2, "n_atom_basis": 8, "n_rbf": 6, "forces": False,
              "elements": [1, 6, 7, 8]}
    save_model(build_model(config), models / "nci-small-tiny", config)
    data = tmp_path / "data"
    data.mkdir()
    (data / "x.db").write_text("x")
    (data / "MANIFEST.sha256").write_text(f"{sha256(data / 'x.db')}  x.db\n")
    structures = [mol("H2O"), mol("CH3OH")]
    monkeypatch.setattr(test_sets, "frames", lambda name, split=None, directory=None: structures)
    assert shipped_models(models, prefix="nci-small-") == ["nci-small-tiny"]
    written = explain_test_sets(models_dir=models, directory=data, log=lambda s: None)
    assert written == [results_path("nci-small-tiny", data)]
    res = load_results(results_path("nci-small-tiny", data))
    assert len(res) == 2 and res.meta["model"] == "nci-small-tiny" and res.meta["split"] == "test_idx"
    assert res.meta["model_sha256"] == sha256(models / "nci-small-tiny" / "model.pt")
    assert verify_manifest(data) == {"x.db": "OK", "relevance/nci-small-tiny.npz": "OK"}
    assert explain_test_sets(models_dir=models, directory=data, log=lambda s: None) == []  # exists: skipped
    with pytest.raises(FileNotFoundError, match="nci-small-nope"):
        explain_test_sets(["nci-small-nope"], models_dir=models, directory=data)


def test_committed_relevances_load_through_the_library():
    res = load_results("nci-small-energy-schnet")
    assert res.meta["model"] == "nci-small-energy-schnet" and res.meta["rule"] == "gi"
    assert len(res) == res.meta["n_structures"]
    np.testing.assert_array_equal(res.output, load_results("data/relevance/nci-small-energy-schnet.npz").output)
    with pytest.raises(CacheFileError, match="explain-test-sets"):
        load_results("no-such-model")


def test_test_split_frames_are_the_split_rows_schnetpack_reads():
    from xailib.data import frames, load, load_split

    atoms = frames("nci-small", split="test")
    idx = load_split("nci-small")["test_idx"]
    data = load("nci-small")  # schnetpack's index -> row mapping is the reference
    assert len(atoms) == len(idx)
    for k in (0, len(idx) // 2, len(idx) - 1):
        ref = data[int(idx[k])]
        np.testing.assert_array_equal(atoms[k].numbers, ref["_atomic_numbers"].numpy())
        np.testing.assert_allclose(atoms[k].positions, ref["_positions"].numpy(), atol=1e-5)


def test_cli_parses_study_commands():
    parser = build_parser()
    args = parser.parse_args(["study", "explain-test-sets", "nci-small-energy-schnet", "--rule", "gamma", "--force"])
    assert args.models == ["nci-small-energy-schnet"] and args.rule == "gamma" and args.force
    assert callable(args.func)
    args = parser.parse_args(["study", "explain-test-sets"])
    assert args.models == [] and args.rule == "gi" and not args.force
    with pytest.raises(SystemExit):
        parser.parse_args(["study", "explain-test-sets", "--rule", "lrp-eps"])
    assert callable(parser.parse_args(["study", "models-table"]).func)


def test_cli_unknown_model_is_a_one_line_error(capsys):
    from xailib.cli import main

    assert main(["study", "explain-test-sets", "nci-small-nope"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: no model folder") and "\n" not in err
