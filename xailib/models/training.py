"""Train schnetpack potentials through ``AtomisticTask`` and a PyTorch Lightning ``Trainer``.

A run reads a :class:`TrainConfig` (a YAML or JSON file under ``configs/``), trains on an
``ASEAtomsData`` database with fixed split indices, and writes a model folder
(:func:`xailib.models.save_model`) holding the best weights (lowest validation loss), the model
config, the training config, the split it used, the Lightning CSV log and the test metrics
(energy MAE in meV, force MAE in meV/Angstrom, other targets in their units, e.g. gap in eV).
"""

from __future__ import annotations

import copy
import json
import math
import shutil
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from xailib.base.seed import set_seed
from xailib.data.store import DatasetError, read_rows, read_split
from xailib.models.build import ModelConfig, build_model, load_model, save_model
from xailib.models.evaluation import UNITS, evaluate, open_dataset
from xailib.models.train_config import (OutputExistsError, TrainConfig, TrainConfigError, check_dataset,
                                        check_output_folder, load_train_config, output_folder)

__all__ = ["TrainConfig", "TrainConfigError", "OutputExistsError", "check_output_folder", "check_dataset",
           "load_train_config", "train", "evaluate", "read_split"]


def _properties(cfg: ModelConfig, weights: Mapping[str, float] | None = None) -> list[str]:
    props = list(cfg.targets) + (["forces"] if cfg.forces else [])
    if cfg.atomic_output is not None and float((weights or {}).get(cfg.atomic_output, 0.0)) > 0:
        props.append(cfg.atomic_output)
    return props


def _elements(path: Path, indices: np.ndarray) -> list[int]:
    return sorted({int(z) for atoms in read_rows(path, indices) for z in atoms.numbers})


class _MemoryCache(torch.utils.data.Dataset):
    """Keeps each transformed sample (neighbour list, offsets removed) after its first use.

    The transforms are deterministic, so the cache changes nothing but the time per epoch, which
    on small molecules is otherwise dominated by the neighbour list and database reads.
    """

    def __init__(self, dataset) -> None:
        self.dataset = dataset
        self.cache: dict[int, dict[str, torch.Tensor]] = {}

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, idx: int) -> dict[str, torch.Tensor]:
        if idx not in self.cache:
            self.cache[idx] = self.dataset[idx]
        return dict(self.cache[idx])

    def __getattr__(self, name: str):
        if name in ("dataset", "cache"):
            raise AttributeError(name)
        return getattr(self.dataset, name)


def _caching_datamodule(**kwargs):
    """A schnetpack ``AtomsDataModule`` whose datasets are wrapped in :class:`_MemoryCache` after set-up."""
    import schnetpack as spk

    class CachingAtomsDataModule(spk.data.AtomsDataModule):
        def setup(self, stage: str | None = None) -> None:
            super().setup(stage)  # statistics for the offsets are computed here, on the raw data
            if not isinstance(self._train_dataset, _MemoryCache):
                self._train_dataset = _MemoryCache(self._train_dataset)
                self._val_dataset = _MemoryCache(self._val_dataset)
                self._test_dataset = _MemoryCache(self._test_dataset)
                self._train_dataloader = self._val_dataloader = self._test_dataloader = None

    return CachingAtomsDataModule(**kwargs)


class _BestState:
    """Lightning callback keeping the weights of the epoch with the lowest validation loss."""

    def __new__(cls, monitor: str = "val_loss"):
        import pytorch_lightning as pl

        class BestState(pl.Callback):
            def __init__(self) -> None:
                self.monitor, self.best, self.state, self.epoch = monitor, math.inf, None, -1

            def on_validation_end(self, trainer, pl_module) -> None:
                if trainer.sanity_checking:
                    return
                value = trainer.callback_metrics.get(self.monitor)
                if value is not None and float(value) < self.best:
                    self.best = float(value)
                    self.state = copy.deepcopy(pl_module.model.state_dict())
                    self.epoch = int(trainer.current_epoch)

        return BestState()


def train(config: TrainConfig | Mapping[str, Any] | str | Path, *, out_dir: str | Path | None = None,
          overwrite: bool = False) -> Path:
    """Train a model and write its folder (weights, configs, split, log, test metrics).

    Parameters
    ----------
    config
        A :class:`TrainConfig`, a mapping of its fields, or the path of a YAML/JSON config file.
    out_dir
        Overrides ``config.out_dir``.
    overwrite
        Replace the model in an existing, non-empty output folder. Without it such a folder is an
        error, checked before anything is computed (the default output of a shipped config is the
        shipped model's folder).

    Raises
    ------
    OutputExistsError
        The output folder exists and is not empty, and ``overwrite`` is false.
    TrainConfigError
        An invalid config, or a missing dataset or split file (never created).

    Returns
    -------
    Path
        The model folder, loadable with :func:`xailib.models.load_model`.
    """
    import pytorch_lightning as pl
    import schnetpack as spk
    import schnetpack.transform as trn
    import torchmetrics
    from pytorch_lightning.callbacks import EarlyStopping, LearningRateMonitor, TQDMProgressBar
    from pytorch_lightning.loggers import CSVLogger

    if isinstance(config, (str, Path)):
        config = load_train_config(config)
    tc = config if isinstance(config, TrainConfig) else TrainConfig.from_dict(config)
    folder = check_output_folder(output_folder(tc, out_dir), overwrite)
    db_path = check_dataset(tc)
    try:
        split = read_split(tc.split_file)
    except DatasetError as err:
        raise TrainConfigError(f"{err} (training config {tc.name!r}, key split_file)") from err
    set_seed(tc.seed)
    torch.set_num_threads(tc.num_threads)
    rng = np.random.default_rng(tc.seed)
    train_idx, val_idx = split["train_idx"], split["val_idx"]
    if tc.n_train is not None and tc.n_train < len(train_idx):
        train_idx = np.sort(rng.choice(train_idx, tc.n_train, replace=False))
    if tc.n_val is not None and tc.n_val < len(val_idx):
        val_idx = np.sort(rng.choice(val_idx, tc.n_val, replace=False))

    model_dict = dict(tc.model)
    if model_dict.get("elements") is None:
        model_dict["elements"] = _elements(db_path, train_idx)
    mcfg = ModelConfig.from_dict(model_dict)
    atomic = mcfg.atomic_output
    props = _properties(mcfg, tc.loss_weights)
    open_dataset(db_path, props)  # fail early with a clear message
    model = build_model(mcfg)

    transforms: list[torch.nn.Module] = [trn.MatScipyNeighborList(cutoff=mcfg.cutoff)]
    if mcfg.offset != "none":
        for t in mcfg.targets:
            transforms.append(
                trn.RemoveOffsets(
                    t,
                    remove_mean=mcfg.offset == "mean",
                    remove_atomrefs=mcfg.offset == "atomrefs",
                    estimate_atomref=mcfg.offset == "atomrefs",
                    is_extensive=mcfg.aggregation == "sum",
                )
            )
    if atomic in props and mcfg.offset != "none":
        from xailib.models.atomic_targets import AtomicOffsets

        transforms.append(AtomicOffsets(atomic, "energy", mode=mcfg.offset, sign=-1))
    transforms.append(trn.CastTo32())
    dm = _caching_datamodule(
        datapath=str(db_path),
        batch_size=tc.batch_size,
        split_file=None,
        load_properties=props,
        transforms=transforms,
        num_workers=0,
        property_units={p: UNITS.get(p, "eV" if p == atomic else None) for p in props
                        if p in UNITS or p == atomic},
        distance_unit="Ang",
        pin_memory=False,
    )
    dm.train_idx, dm.val_idx, dm.test_idx = train_idx.tolist(), val_idx.tolist(), split["test_idx"].tolist()

    weights = dict(tc.loss_weights or ({"energy": 0.05, "forces": 0.95} if mcfg.forces else {t: 1.0 for t in props}))
    unknown = sorted(set(weights) - set(props) - {atomic})
    if unknown:
        raise TrainConfigError(f"loss_weights name {unknown}, which the model does not predict ({props})")
    outputs = [
        spk.task.ModelOutput(
            name=p,
            loss_fn=torch.nn.MSELoss(),
            loss_weight=float(weights.get(p, 0.0)),
            metrics={"MAE": torchmetrics.MeanAbsoluteError(), "RMSE": torchmetrics.MeanSquaredError(squared=False)},
        )
        for p in props
    ]
    task = spk.task.AtomisticTask(
        model=model,
        outputs=outputs,
        optimizer_cls=torch.optim.AdamW,
        optimizer_args={"lr": tc.lr},
        scheduler_cls=torch.optim.lr_scheduler.ReduceLROnPlateau,
        scheduler_args={"factor": tc.lr_factor, "patience": tc.lr_patience, "min_lr": tc.min_lr},
        scheduler_monitor="val_loss",
    )
    work = Path(tempfile.mkdtemp(prefix=f"xailib-train-{tc.name}-"))
    best = _BestState()
    callbacks = [best, EarlyStopping(monitor="val_loss", patience=tc.early_stopping_patience),
                 LearningRateMonitor(logging_interval="epoch")]
    if tc.progress_bar:
        callbacks.append(TQDMProgressBar(refresh_rate=20))
    trainer = pl.Trainer(
        accelerator=tc.accelerator,
        devices=tc.devices,
        strategy=tc.strategy,
        max_epochs=tc.max_epochs,
        max_time={"minutes": tc.max_time_min},
        logger=CSVLogger(save_dir=str(work), name="log", version=""),
        callbacks=callbacks,
        enable_checkpointing=False,
        enable_progress_bar=tc.progress_bar,
        enable_model_summary=False,
        inference_mode=False,  # forces need gradients in validation and testing
        num_sanity_val_steps=0,
        log_every_n_steps=10,
    )
    start = time.perf_counter()
    trainer.fit(task, datamodule=dm)
    wall = time.perf_counter() - start
    if best.state is None:
        raise RuntimeError(f"training {tc.name} ended before its first validation; raise max_time_min or max_epochs")
    model.load_state_dict(best.state)
    model.eval()
    # evaluate exactly what is shipped: save, reload, then compute the test metrics
    save_model(model, folder, mcfg)
    model = load_model(folder)
    metrics = evaluate(model, db_path, split["test_idx"], batch_size=tc.eval_batch_size)
    metrics.update(
        name=tc.name,
        architecture=mcfg.architecture,
        n_interactions=mcfg.n_interactions,
        n_parameters=int(sum(p.numel() for p in model.parameters())),
        n_train=len(train_idx),
        n_val=len(val_idx),
        epochs=int(trainer.current_epoch),
        best_epoch=best.epoch,
        best_val_loss=best.best,
        training_wall_time_s=round(wall, 1),
        torch_threads=tc.num_threads,
        accelerator=tc.accelerator,
        dataset=tc.dataset,
        split_file=tc.split_file,
    )
    save_model(model, folder, mcfg, metrics)
    resolved = tc.to_dict()
    resolved["model"] = mcfg.to_dict()
    (folder / "train_config.json").write_text(json.dumps(resolved, indent=2) + "\n")
    np.savez(folder / "split.npz", train_idx=train_idx, val_idx=val_idx, test_idx=split["test_idx"])
    log = work / "log" / "metrics.csv"
    if log.exists():
        shutil.copy(log, folder / "log.csv")
    shutil.rmtree(work, ignore_errors=True)
    return folder
