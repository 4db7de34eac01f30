"""The files of a saved model: the weights checksum, and named errors for files that cannot be loaded.

Used by :func:`xailib.models.load_model`, which checks, in order: the weights file is not empty; it
matches its checksum (``model.pt.sha256``, written by :func:`xailib.models.save_model`) when there is
one; it is a complete PyTorch file; ``config.json`` is valid JSON and a valid config; the weights fit
the model that config describes.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Mapping
from pathlib import Path

import torch

from xailib.base.errors import XailibError
from xailib.data.manifest import sha256
from xailib.models.config import ModelConfig, ModelConfigError

__all__ = ["ModelFileError", "ModelChecksumError", "ModelMismatchError", "ModelNotFoundError", "CHECKSUM_SUFFIX",
           "checksum_file", "write_checksum", "verify_checksum", "check_model_file", "read_config", "mismatch_error"]

#: Appended to the weights file's name: ``model.pt.sha256`` (``sha256sum`` format).
CHECKSUM_SUFFIX = ".sha256"
#: First bytes of a file written by ``torch.save(..., _use_new_zipfile_serialization=False)``.
_LEGACY_TORCH_MAGIC = b"\x80\x02\x8a\nl\xfc\x9cF\xf9 j\xa8P\x19"


class ModelFileError(XailibError, ValueError):
    """A model file cannot be loaded: empty, truncated, not a model file, or an unreadable ``config.json``."""


class ModelChecksumError(ModelFileError):
    """``model.pt`` does not match the checksum saved beside it (``model.pt.sha256``)."""


class ModelMismatchError(ModelFileError):
    """The weights in ``model.pt`` do not fit the model that ``config.json`` describes."""


class ModelNotFoundError(XailibError, FileNotFoundError):
    """No model at a path or name, or a model folder without ``model.pt`` or ``config.json``."""


def checksum_file(state_file: str | Path) -> Path:
    """Where the checksum of a weights file lives: ``<file>.sha256`` beside it."""
    state_file = Path(state_file)
    return state_file.with_name(state_file.name + CHECKSUM_SUFFIX)


def write_checksum(state_file: str | Path) -> Path:
    """Write the SHA-256 of a weights file to :func:`checksum_file` (``sha256sum`` format); returns its path."""
    state_file = Path(state_file)
    path = checksum_file(state_file)
    path.write_text(f"{sha256(state_file)}  {state_file.name}\n")
    return path


def verify_checksum(state_file: str | Path) -> bool:
    """Check a weights file against its :func:`checksum_file`; ``False`` when there is none.

    Raises
    ------
    ModelChecksumError
        The file's SHA-256 differs from the saved one, or the checksum file is malformed.
    """
    state_file = Path(state_file)
    path = checksum_file(state_file)
    if not path.exists():
        return False
    fields = path.read_text().split()
    if not fields or len(fields[0]) != 64 or any(c not in "0123456789abcdef" for c in fields[0].lower()):
        raise ModelChecksumError(f"{path} is not a SHA-256 checksum file; delete it or re-save the model with "
                                 "xailib.models.save_model")
    if sha256(state_file) != fields[0].lower():
        raise ModelChecksumError(
            f"{state_file} does not match its checksum in {path.name}: the weights are corrupted or were changed; "
            "restore the file (e.g. `git checkout` a shipped model), or re-save changed weights with save_model"
        )
    return True


def check_model_file(state_file: Path) -> None:
    """Refuse an empty, truncated or non-PyTorch weights file with a message saying which."""
    if state_file.stat().st_size == 0:
        raise ModelFileError(f"{state_file} is empty (0 bytes): the weights were not written completely; restore "
                             "the file or save the model again")
    verify_checksum(state_file)
    with open(state_file, "rb") as fh:
        head = fh.read(len(_LEGACY_TORCH_MAGIC))
    if head.startswith(b"PK\x03\x04"):
        if not zipfile.is_zipfile(state_file):
            raise ModelFileError(f"{state_file} is truncated or corrupt (an incomplete PyTorch archive); restore "
                                 "the file or save the model again")
        with zipfile.ZipFile(state_file) as zf:
            if any(n == "data.pkl" or n.endswith("/data.pkl") for n in zf.namelist()):
                return
    elif head == _LEGACY_TORCH_MAGIC:
        return
    raise ModelFileError(f"{state_file} is not a model file (not a PyTorch file); give a folder written by "
                         "xailib.models.save_model, its model.pt, or the name of a shipped model")


def read_config(config_file: Path) -> ModelConfig:
    """The :class:`ModelConfig` in a ``config.json``, with errors naming the file."""
    try:
        data = json.loads(config_file.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ModelFileError(f"{config_file} is not valid JSON ({err}); restore the config.json saved with the "
                             "weights") from err
    try:
        return ModelConfig.from_dict(data)
    except ModelConfigError as err:
        raise ModelConfigError(f"{config_file}: {err}") from err


def mismatch_error(expected: Mapping[str, torch.Tensor], state: Mapping[str, torch.Tensor], cfg: ModelConfig,
                   state_file: Path, config_file: Path) -> ModelMismatchError:
    """A one-line account of why ``state`` does not fit the state dict ``expected`` of a model built from ``cfg``."""
    missing, unexpected = set(expected) - set(state), set(state) - set(expected)
    shapes = [k for k in set(expected) & set(state) if expected[k].shape != state[k].shape]
    arch = ("painn" if any("interatomic_context_net" in k for k in state)
            else "schnet" if any("filter_network" in k for k in state) else None)
    which = f"; the weights are those of a {arch} model" if arch and arch != cfg.architecture else ""
    return ModelMismatchError(
        f"the weights in {state_file} do not fit the {cfg.architecture} model of {config_file} "
        f"(n_atom_basis={cfg.n_atom_basis}, n_interactions={cfg.n_interactions}): {len(missing)} missing, "
        f"{len(unexpected)} unexpected and {len(shapes)} differently shaped tensors{which}; use the config.json "
        "saved with these weights"
    )
