"""Training with a physical target (free-atom offsets), resumable runs, seeds and weight snapshots."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from xailib.cli import main
from xailib.models import load_model
from xailib.models.training import NothingToResumeError, TrainConfigError, train

pytestmark = pytest.mark.slow  # training runs on GFN2-xTB-labelled sets

TINY = {"architecture": "schnet", "n_atom_basis": 16, "n_interactions": 2, "n_rbf": 12, "cutoff": 4.0}


@pytest.fixture(scope="module")
def free_atom_db(mixed_db, tmp_path_factory) -> Path:
    """The mixed test set with GFN2-xTB free-atom energies as its ``atomrefs`` (as the shipped datasets)."""
    from ase.db import connect

    from xailib.data.store import atomrefs

    path = tmp_path_factory.mktemp("free") / "mixed.db"
    shutil.copy(mixed_db, path)
    shutil.copy(str(mixed_db) + ".split.npz", str(path) + ".split.npz")
    with connect(str(path)) as conn:
        conn.metadata = dict(conn.metadata, atomrefs=atomrefs())
    return path


def config(db: Path, **extra) -> dict:
    return dict({"name": "tiny", "dataset": str(db), "split_file": str(db) + ".split.npz", "batch_size": 8,
                 "max_epochs": 2, "progress_bar": False, "model": dict(TINY, offset="free_atoms")}, **extra)


def val_epochs(folder: Path) -> list[int]:
    with open(folder / "log.csv") as fh:
        return [int(float(r["epoch"])) for r in csv.DictReader(fh) if r.get("val_loss")]


def test_free_atoms_model_explains_the_atomisation_energy(free_atom_db, tmp_path):
    from xailib.data.store import atomrefs, read_rows
    from xailib.lrp import nbody_relevances
    from xailib.models.build import calculator

    folder = train(config(free_atom_db, seed=3), out_dir=tmp_path / "m")
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["seed"] == 3 and "energy_mae_meV" in metrics and len(metrics["val_loss"]) == 2
    model = load_model(folder)
    refs = np.asarray(atomrefs()["energy"])
    for atoms in read_rows(free_atom_db, [0, 7, 20]):
        atoms.calc = calculator(model)
        energy = atoms.get_potential_energy()
        nb = nbody_relevances(model, atoms, max_order=3)
        # the explained output is the predicted energy minus the free-atom energies, and nothing else
        assert nb.output == pytest.approx(energy - refs[atoms.numbers].sum(), abs=1e-4)
        assert nb.conserved_total == pytest.approx(nb.output, rel=1e-9, abs=1e-9)


def test_free_atoms_needs_references_in_the_dataset(mixed_db, tmp_path):
    with pytest.raises(TrainConfigError, match="free-atom references"):
        train(config(mixed_db), out_dir=tmp_path / "m")


def test_resume_continues_from_the_last_checkpoint(free_atom_db, tmp_path):
    out = tmp_path / "m"
    cfg = config(free_atom_db, snapshot_epochs=[1, 2])
    train(cfg, out_dir=out)
    assert val_epochs(out) == [0, 1]
    first = json.loads((out / "metrics.json").read_text())
    assert first["resumed"] is False and (out / "checkpoints" / "last.ckpt").is_file()

    train(dict(cfg, max_epochs=4), out_dir=out, resume=True)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["resumed"] is True and metrics["epochs"] == 4
    assert val_epochs(out) == [0, 1, 2, 3]  # the log of the first part is kept
    assert metrics["val_loss"][:2] == pytest.approx(first["val_loss"])
    assert metrics["best_epoch"] >= 0
    for epoch in (1, 2):  # snapshots load like any model folder's weights
        load_model(out / "snapshots" / f"epoch-{epoch:04d}.pt")


def test_resume_refuses_without_a_checkpoint_and_with_overwrite(free_atom_db, tmp_path, capsys):
    with pytest.raises(NothingToResumeError, match="nothing to resume"):
        train(config(free_atom_db), out_dir=tmp_path / "empty", resume=True)
    path = tmp_path / "cfg.json"
    path.write_text(json.dumps(config(free_atom_db)))
    assert main(["train", "--config", str(path), "--out", str(tmp_path / "x"), "--resume", "--overwrite"]) == 2
    assert main(["train", "--config", str(path), "--out", str(tmp_path / "y"), "--resume"]) == 2
    assert "nothing to resume" in capsys.readouterr().err


def test_seed_option_names_the_replica(free_atom_db, tmp_path):
    path = tmp_path / "cfg.json"
    path.write_text(json.dumps(dict(config(free_atom_db), out_dir=str(tmp_path / "models" / "tiny"),
                                    max_epochs=1)))
    assert main(["train", "--config", str(path), "--seed", "2", "--out", str(tmp_path / "r")]) == 0
    assert json.loads((tmp_path / "r" / "metrics.json").read_text())["name"] == "tiny-seed2"


def test_a_killed_run_resumes_from_its_last_finished_epoch(free_atom_db, tmp_path, monkeypatch):
    """last.ckpt is written after every epoch, and the logged training time goes on counting after a resume."""
    import pytorch_lightning as pl

    from xailib.models import training

    class Killed(RuntimeError):
        pass

    def dies_in_second_epoch(*args):
        class Dies(pl.Callback):
            def on_train_epoch_start(self, trainer, pl_module):
                if trainer.current_epoch == 1:
                    raise Killed("killed")
        return Dies()

    out, cfg = tmp_path / "m", config(free_atom_db, max_epochs=3, snapshot_epochs=[9])
    with monkeypatch.context() as m:  # the snapshot callback is replaced by one that kills the run
        m.setattr(training, "snapshots", dies_in_second_epoch)
        with pytest.raises(Killed):
            train(cfg, out_dir=out)
    assert (out / "checkpoints" / "last.ckpt").is_file() and not (out / "model.pt").exists()
    train(cfg, out_dir=out, resume=True)
    assert val_epochs(out) == [0, 1, 2]
    with open(out / "log.csv") as fh:
        elapsed = [float(r["elapsed_s"]) for r in csv.DictReader(fh) if r.get("elapsed_s")]
    # one value per epoch, counting on across the two parts (a restarted clock would fall back at epoch 1)
    assert len(elapsed) == 3 and 0 < elapsed[0] < elapsed[1] < elapsed[2]
