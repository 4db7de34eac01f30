"""Loading damaged or wrong model files: each case is a named error with a one-line message (issue 18)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from xailib import repo_root, set_seed
from xailib.base.errors import XailibError
from xailib.base.paths import data_dir
from xailib.models import (ModelChecksumError, ModelConfigError, ModelFileError, ModelMismatchError,
                           ModelNotFoundError, build_model, load_model, save_model)
from xailib.models.files import checksum_file, verify_checksum

CFG = dict(architecture="schnet", n_atom_basis=8, n_interactions=2, n_rbf=6, cutoff=4.0, elements=["H", "C", "O"])
SHIPPED = sorted(p.parent for p in (data_dir() / "models").glob("*/model.pt"))


@pytest.fixture()
def saved(tmp_path):
    set_seed(0)
    model = build_model(CFG)
    return model, save_model(model, tmp_path / "m", CFG)


def _truncate(folder):
    data = (folder / "model.pt").read_bytes()
    (folder / "model.pt").write_bytes(data[: len(data) // 2])


def _flip_bit(folder, offset=-200):
    data = bytearray((folder / "model.pt").read_bytes())
    data[offset] ^= 0x40
    (folder / "model.pt").write_bytes(bytes(data))


def _no_checksum(fn):
    def damage(folder):
        checksum_file(folder / "model.pt").unlink()
        fn(folder)
    return damage


def _wrong_architecture(folder):
    (folder / "config.json").write_text(json.dumps(dict(CFG, architecture="painn")))


def _other_width(folder):
    (folder / "config.json").write_text(json.dumps(dict(CFG, n_atom_basis=16)))


def _nan_weight(folder):
    state = torch.load(folder / "model.pt", weights_only=True)
    key = next(k for k, v in state.items() if v.is_floating_point() and v.numel() > 1)
    state[key][0] = float("nan")
    torch.save(state, folder / "model.pt")  # no new checksum: the file no longer matches


CASES = {
    "empty model.pt": (lambda f: (f / "model.pt").write_bytes(b""), ModelFileError, "is empty"),
    "truncated, checksum present": (_truncate, ModelChecksumError, "does not match its checksum"),
    "truncated, no checksum": (_no_checksum(_truncate), ModelFileError, "truncated or corrupt"),
    "flipped bit": (_flip_bit, ModelChecksumError, "does not match its checksum in model.pt.sha256"),
    "malformed checksum file": (lambda f: checksum_file(f / "model.pt").write_text("abc  model.pt\n"),
                                ModelChecksumError, "not a SHA-256 checksum file"),
    "NaN weights, no checksum": (_no_checksum(_nan_weight), ModelFileError, "NaN or infinite weights"),
    "config names another architecture": (_wrong_architecture, ModelMismatchError,
                                          "do not fit the painn model .* weights are those of a schnet model"),
    "config with another width": (_other_width, ModelMismatchError, "differently shaped tensors"),
    "broken config.json": (lambda f: (f / "config.json").write_text('{"architecture": "schnet",'),
                           ModelFileError, r"config.json is not valid JSON"),
    "invalid config.json": (lambda f: (f / "config.json").write_text('{"architecture": "dimenet"}'),
                            ModelConfigError, r"config.json: architecture must be one of"),
    "model.pt is a text file, no checksum": (_no_checksum(lambda f: (f / "model.pt").write_text("# hello\n")),
                                             ModelFileError, "is not a model file"),
    "model.pt missing": (lambda f: (f / "model.pt").unlink(), ModelNotFoundError, r"missing \['model.pt'\]"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_damaged_model_folder_is_a_named_one_line_error(case, saved):
    _, folder = saved
    damage, error, message = CASES[case]
    damage(folder)
    with pytest.raises(error, match=message) as info:
        load_model(folder)
    assert isinstance(info.value, XailibError) and "\n" not in str(info.value)


@pytest.mark.parametrize("path", ["README.md", "data/md17-ethanol.split.npz", "data/md17-ethanol.db",
                                  "configs/md17-ethanol-schnet.yaml"])
def test_a_file_that_is_no_model_is_named_as_such(path):
    with pytest.raises(ModelFileError, match="is not a model file") as info:
        load_model(repo_root() / path)
    assert "pickled" not in str(info.value) and "trust" not in str(info.value)


def test_state_dict_of_non_tensors_and_missing_model(tmp_path):
    torch.save({"a": [1, 2]}, tmp_path / "weights.pt")
    with pytest.raises(ModelFileError, match="not a state_dict of tensors"):
        load_model(tmp_path / "weights.pt")
    with pytest.raises(ModelNotFoundError, match="no model at"):
        load_model(tmp_path / "nothing-here")
    assert issubclass(ModelNotFoundError, FileNotFoundError)


def test_save_writes_a_checksum_that_load_verifies(saved):
    model, folder = saved
    line = (folder / "model.pt.sha256").read_text()
    assert line.endswith("  model.pt\n") and len(line.split()[0]) == 64
    assert verify_checksum(folder / "model.pt")
    loaded = load_model(folder)
    for (k, v), (k2, v2) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert k == k2 and torch.equal(v, v2)
    (folder / "model.pt.sha256").unlink()  # folders saved before checksums existed still load
    assert not verify_checksum(folder / "model.pt")
    load_model(folder)


@pytest.mark.parametrize("folder", SHIPPED, ids=[p.name for p in SHIPPED])
def test_every_shipped_model_carries_a_verified_checksum(folder):
    assert verify_checksum(folder / "model.pt")


def test_a_flipped_bit_in_a_shipped_model_is_caught(tmp_path):
    """One flipped bit in a shipped model.pt used to give an energy of -2.5e36 with no error."""
    assert SHIPPED, "no shipped models"
    copy = shutil.copytree(SHIPPED[0], tmp_path / SHIPPED[0].name)
    data = bytearray((copy / "model.pt").read_bytes())
    state = torch.load(copy / "model.pt", weights_only=True)
    key, values = next((k, v) for k, v in state.items() if v.dtype == torch.float32 and v.numel() > 10)
    flat = values.numpy().ravel()
    i = int(np.flatnonzero((np.abs(flat) > 1e-3) & (np.abs(flat) < 1))[0])
    at = bytes(data).find(flat.tobytes()[:64])
    assert at > 0
    data[at + 4 * i + 3] ^= 0x40  # the high exponent bit of one float32 weight: |w| < 1 becomes > 1e30
    (copy / "model.pt").write_bytes(bytes(data))
    with pytest.raises(ModelChecksumError, match="does not match its checksum"):
        load_model(copy)
    checksum_file(copy / "model.pt").unlink()  # without the checksum the damage loads silently
    damaged = load_model(copy).state_dict()[key].ravel()
    assert abs(float(damaged[i])) > 1e30
