"""Training configurations (:class:`TrainConfig`, read from ``configs/*.yaml``) and the checks a run makes
before it computes anything: the output folder (never overwritten without ``overwrite=True``) and the
dataset file (reported when missing, never created).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xailib.base.errors import XailibError
from xailib.base.paths import resolve_path

__all__ = ["TrainConfig", "TrainConfigError", "OutputExistsError", "load_train_config", "check_output_folder",
           "check_dataset", "output_folder"]


class TrainConfigError(XailibError, ValueError):
    """A training configuration is invalid or points at missing data."""


class OutputExistsError(XailibError, FileExistsError):
    """The output folder of a training run exists and is not empty (pass ``overwrite=True`` to replace it)."""


def check_output_folder(folder: str | Path, overwrite: bool = False) -> Path:
    """Refuse a training output that is a file, or an existing non-empty folder unless ``overwrite``.

    Raises
    ------
    OutputExistsError
        ``folder`` is a file, or a non-empty folder and ``overwrite`` is false.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise OutputExistsError(f"the training output {folder} is a file, not a folder; choose another --out")
    if not overwrite and folder.is_dir() and any(folder.iterdir()):
        raise OutputExistsError(f"the training output folder {folder} exists and is not empty; choose another "
                                "output (--out) or pass --overwrite (overwrite=True) to replace the model in it")
    return folder


def check_dataset(tc: "TrainConfig") -> Path:
    """The resolved database path of a training config; a missing file is an error (never created)."""
    path = resolve_path(tc.dataset)
    if not path.is_file():
        raise TrainConfigError(f"dataset {path} does not exist (training config {tc.name!r}, key dataset); check "
                               "the path, or build the datasets with `make data` (see data/README.md)")
    return path


@dataclass
class TrainConfig:
    """A training run.

    Parameters
    ----------
    name
        Model name; the default output folder is ``data/models/<name>``.
    dataset
        Path of the ``ASEAtomsData`` database (relative paths are relative to the repository root).
    split_file
        ``.npz`` with ``train_idx``, ``val_idx``, ``test_idx`` (indices into the database).
    model
        The :class:`~xailib.models.ModelConfig` fields. ``elements`` may be left out: it is then read
        from the training split.
    n_train, n_val
        Use only this many frames of the training / validation split (a seeded random subset);
        ``None`` uses all.
    loss_weights
        Weight per output in the loss (MSE each); default: energy 0.05 and forces 0.95 for force
        models, 1 for every other target. A model's per-atom output (``ModelConfig.atomic_output``)
        is a training target only when it is given a positive weight here (MSE per atom, against the
        dataset's per-atom property of that name).
    max_time_min
        Wall-clock budget of the fit in minutes (Lightning ``max_time``).
    accelerator, devices, strategy
        Passed to the Lightning ``Trainer`` unchanged; ``accelerator: auto`` (the default) trains on a
        GPU when one is available and on the CPU otherwise.
    snapshot_epochs
        Epochs (counted from 1) after which the weights are also saved to ``snapshots/epoch-NNNN.pt``
        in the model folder (loadable with :func:`xailib.models.load_model`), to compare explanations
        across training. Default: none.
    """

    name: str
    dataset: str
    split_file: str
    model: dict[str, Any]
    out_dir: str | None = None
    n_train: int | None = None
    n_val: int | None = None
    batch_size: int = 32
    lr: float = 5e-4
    lr_factor: float = 0.5
    lr_patience: int = 10
    min_lr: float = 1e-6
    early_stopping_patience: int = 30
    max_epochs: int = 10000
    max_time_min: float = 10.0
    loss_weights: dict[str, float] | None = None
    seed: int = 0
    num_threads: int = 1
    accelerator: str = "auto"
    devices: int | str | list[int] = 1
    strategy: str = "auto"
    progress_bar: bool = True
    eval_batch_size: int = 64
    snapshot_epochs: list[int] | None = None

    def __post_init__(self) -> None:
        for name in ("name", "dataset", "split_file"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name):
                raise TrainConfigError(f"{name} must be a non-empty string, got {getattr(self, name)!r}")
        if not isinstance(self.model, Mapping):
            raise TrainConfigError(f"model must be a mapping of ModelConfig fields, got {self.model!r}")
        self.model = dict(self.model)
        for name in ("n_train", "n_val"):
            v = getattr(self, name)
            if v is not None and (not isinstance(v, int) or v < 1):
                raise TrainConfigError(f"{name} must be a positive integer or null, got {v!r}")
        for name in ("batch_size", "lr_patience", "early_stopping_patience", "max_epochs", "num_threads"):
            v = getattr(self, name)
            if not isinstance(v, int) or v < 1:
                raise TrainConfigError(f"{name} must be a positive integer, got {v!r}")
        for name in ("lr", "lr_factor", "min_lr", "max_time_min"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or not v > 0:
                raise TrainConfigError(f"{name} must be a positive number, got {v!r}")
        if self.snapshot_epochs is not None:
            if isinstance(self.snapshot_epochs, (str, int)) or not all(
                    isinstance(e, int) and not isinstance(e, bool) and e >= 1 for e in self.snapshot_epochs):
                raise TrainConfigError(f"snapshot_epochs must be a list of epochs >= 1, got {self.snapshot_epochs!r}")
            self.snapshot_epochs = sorted(set(self.snapshot_epochs))
        if self.loss_weights is not None and not isinstance(self.loss_weights, Mapping):
            raise TrainConfigError(f"loss_weights must map output names to weights, got {self.loss_weights!r}")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "TrainConfig":
        """Validate a mapping; unknown keys are an error naming the allowed ones."""
        if not isinstance(data, Mapping):
            raise TrainConfigError(f"a training config must be a mapping, got {type(data).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise TrainConfigError(f"unknown training config keys {unknown}; allowed keys are {sorted(known)}")
        missing = [f.name for f in dataclasses.fields(cls) if f.name not in data and f.default is dataclasses.MISSING
                   and f.default_factory is dataclasses.MISSING]
        if missing:
            raise TrainConfigError(f"training config lacks required keys {missing}")
        return cls(**dict(data))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def load_train_config(path: str | Path) -> TrainConfig:
    """Read a training config from a ``.yaml``/``.yml`` or ``.json`` file."""
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"no training config at {p} (see configs/ for examples)")
    if p.suffix not in (".yaml", ".yml", ".json"):
        raise TrainConfigError(f"{p}: a training config must be .yaml, .yml or .json")
    text = p.read_text()
    if p.suffix in (".yaml", ".yml"):
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as err:
            raise TrainConfigError(f"{p} is not valid YAML: {' '.join(str(err).split())}") from err
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise TrainConfigError(f"{p} is not valid JSON: {err}") from err
    try:
        return TrainConfig.from_dict(data)
    except TrainConfigError as err:
        raise TrainConfigError(f"{p}: {err}") from err


def output_folder(tc: TrainConfig, out_dir: str | Path | None = None) -> Path:
    """Where a run writes its model: ``out_dir``, else the config's ``out_dir``, else ``data/models/<name>``."""
    return Path(out_dir) if out_dir is not None else resolve_path(tc.out_dir or f"data/models/{tc.name}")


def seed_replica(tc: TrainConfig, seed: int) -> TrainConfig:
    """The config of the replica ``<name>-seed<N>`` of a run (itself for its own seed): a config's ``out_dir``
    gets the same suffix, so replicas never share a folder."""
    if seed == tc.seed:
        return tc
    out_dir = f"{tc.out_dir.rstrip('/')}-seed{seed}" if tc.out_dir else None
    return dataclasses.replace(tc, name=f"{tc.name}-seed{seed}", seed=seed, out_dir=out_dir)
