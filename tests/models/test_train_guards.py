"""Training never overwrites a model and never creates a missing dataset (issue 18); checked before training."""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import pytest

from xailib import repo_root
from xailib.base.errors import XailibError
from xailib.cli import main
from xailib.models import OutputExistsError, TrainConfigError, load_train_config, train
from xailib.models.files import verify_checksum
from xailib.models.train_config import check_output_folder

ROOT = Path(repo_root())
SHIPPED_CONFIG = ROOT / "configs" / "md17-ethanol-schnet.yaml"
SHIPPED_FOLDER = ROOT / "data" / "models" / "md17-ethanol-schnet"


def config(tmp_path, **kw) -> dict:
    cfg = {"name": "guard", "dataset": "data/md17-ethanol.db", "split_file": "data/md17-ethanol.split.npz",
           "model": {"architecture": "schnet", "n_atom_basis": 8, "n_interactions": 1}, "max_epochs": 1,
           "progress_bar": False}
    cfg.update(kw)
    return cfg


def test_default_output_of_a_shipped_config_is_refused():
    """``train --config configs/md17-ethanol-schnet.yaml`` used to overwrite the shipped model silently."""
    before = (SHIPPED_FOLDER / "model.pt").stat().st_mtime_ns
    with pytest.raises(OutputExistsError, match=r"md17-ethanol-schnet exists and is not empty.*--overwrite"):
        train(SHIPPED_CONFIG)
    assert (SHIPPED_FOLDER / "model.pt").stat().st_mtime_ns == before and verify_checksum(SHIPPED_FOLDER / "model.pt")


@pytest.mark.parametrize("setup", ["non-empty folder", "a file"])
def test_existing_output_is_refused_before_training(setup, tmp_path):
    out = tmp_path / "out"
    if setup == "a file":
        out.write_text("x")
    else:
        out.mkdir()
        (out / "model.pt").write_text("keep me")
    with pytest.raises(OutputExistsError) as info:
        train(config(tmp_path), out_dir=out)
    assert isinstance(info.value, (XailibError, FileExistsError)) and str(out) in str(info.value)
    assert (out / "model.pt" if setup != "a file" else out).read_text() in ("keep me", "x")


def test_check_output_folder_allows_new_empty_or_overwrite(tmp_path):
    assert check_output_folder(tmp_path / "new") == tmp_path / "new"
    (tmp_path / "empty").mkdir()
    assert check_output_folder(tmp_path / "empty") == tmp_path / "empty"
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "a").write_text("a")
    assert check_output_folder(tmp_path / "full", overwrite=True) == tmp_path / "full"
    with pytest.raises(OutputExistsError):
        check_output_folder(tmp_path / "full")


@pytest.mark.parametrize("dataset", ["data/md17-ethanl.db", "TMPDIR/sub/typo.db"])
def test_a_dataset_typo_is_reported_and_never_created(dataset, tmp_path):
    dataset = dataset.replace("TMPDIR", str(tmp_path))
    with pytest.raises(TrainConfigError, match=r"dataset .*(md17-ethanl|typo)\.db does not exist .*key dataset"):
        train(config(tmp_path, dataset=dataset), out_dir=tmp_path / "out")
    path = Path(dataset) if Path(dataset).is_absolute() else ROOT / dataset
    assert not path.exists() and not (tmp_path / "out").exists()


@pytest.mark.parametrize("case, argv, message", [
    ("shipped folder", ["--config", str(SHIPPED_CONFIG)], "exists and is not empty"),
    ("dataset typo", ["--config", "CFG", "--out", "OUT"], "md17-ethanl.db does not exist"),
    ("missing config", ["--config", "no/such.yaml"], "no training config at no/such.yaml"),
    ("broken yaml", ["--config", "BROKEN"], "is not valid YAML"),
    ("negative time", ["--config", str(SHIPPED_CONFIG), "--max-time-min", "-1"], "--max-time-min: must be"),
    ("zero threads", ["--config", str(SHIPPED_CONFIG), "--threads", "0"], "--threads: must be a positive"),
])
def test_train_cli_usage_errors_exit_2_in_one_line(case, argv, message, tmp_path, capsys):
    cfg = tmp_path / "typo.json"
    cfg.write_text(json.dumps(config(tmp_path, dataset="data/md17-ethanl.db")))
    (tmp_path / "broken.yaml").write_text("name: [unclosed\n")
    argv = [a.replace("CFG", str(cfg)).replace("OUT", str(tmp_path / "out"))
            .replace("BROKEN", str(tmp_path / "broken.yaml")) for a in argv]
    if case in ("negative time", "zero threads"):
        with pytest.raises(SystemExit) as info:
            main(["train", *argv])
        assert info.value.code == 2
    else:
        assert main(["train", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and message in err and "\n" not in err and "Traceback" not in err
    assert not (ROOT / "data" / "md17-ethanl.db").exists()


def test_train_cli_has_overwrite_flag():
    from xailib.cli import build_parser

    args = build_parser().parse_args(["train", "--config", "c.yaml", "--overwrite"])
    assert args.overwrite is True
    assert build_parser().parse_args(["train", "--config", "c.yaml"]).overwrite is False


def test_deliberate_retraining_passes_overwrite():
    """The callers that retrain on purpose say so: the MD family, the transfer models, make models/poly."""
    from xailib.md import study as md_study
    from xailib.transfer import models_study

    assert "train(cfg, overwrite=True)" in inspect.getsource(md_study.train_family)
    assert "train(cfg, overwrite=True)" in inspect.getsource(models_study.train_transfer_models)
    assert "--overwrite" in (ROOT / "scripts" / "train_all.sh").read_text()
    poly = [ln for ln in (ROOT / "Makefile").read_text().splitlines() if "xailib train" in ln]
    assert poly and all("--overwrite" in ln for ln in poly)


def test_shipped_configs_still_load():
    assert load_train_config(SHIPPED_CONFIG).name == "md17-ethanol-schnet"
