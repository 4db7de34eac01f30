"""Train schnetpack potentials through ``AtomisticTask`` and a PyTorch Lightning ``Trainer``.

A run reads a :class:`TrainConfig` (a YAML or JSON file under ``configs/``), trains on an
``ASEAtomsData`` database with fixed split indices, and writes a model folder
(:func:`xailib.models.save_model`) holding the best weights (lowest validation loss), the model
config, the training config, the split it used, the Lightning CSV log and the test metrics
(energy MAE in meV, force MAE in meV/Angstrom, other targets in their units, e.g. gap in eV).
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from xailib.base.seed import set_seed
from xailib.data.store import DatasetError, read_rows, read_split
from xailib.models.build import ModelConfig, build_model, load_model, save_model
from xailib.models.callbacks import best_state, convergence, elapsed_time, merged_log, set_aside_log, snapshots
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


#: Folder (inside the model folder) of the Lightning checkpoint ``last.ckpt`` and the CSV log of a run.
CHECKPOINTS = "checkpoints"


class NothingToResumeError(TrainConfigError):
    """``resume=True`` but the model folder holds no checkpoint of an earlier run."""


def checkpoint_path(folder: str | Path) -> Path:
    """The last checkpoint of the run writing ``folder`` (it may not exist)."""
    return Path(folder) / CHECKPOINTS / "last.ckpt"


def check_resume(folder: str | Path) -> Path:
    """The checkpoint a resumed run continues from; :class:`NothingToResumeError` when there is none."""
    ckpt = checkpoint_path(folder)
    if not ckpt.is_file():
        raise NothingToResumeError(f"nothing to resume: {ckpt} does not exist (start the run without --resume)")
    return ckpt


def target_mean(db_path: Path, indices: np.ndarray, target: str, cfg: ModelConfig) -> float:
    """Training mean of ``target`` per atom (sum aggregation) or per structure (mean aggregation), after
    subtracting the dataset's free-atom energies when ``cfg.offset == "free_atoms"``."""
    from schnetpack.data import ASEAtomsData

    refs = None
    if cfg.offset == "free_atoms":
        refs = ASEAtomsData(str(db_path)).atomrefs.get(target)
        if refs is None:
            raise TrainConfigError(f"offset free_atoms needs free-atom references of {target!r} in the dataset's "
                                   f"metadata (atomrefs); {db_path} has none")
        refs = refs.numpy()
    values = []
    for atoms in read_rows(db_path, indices):
        y = float(np.asarray(atoms.info["labels"][target]).reshape(-1)[0])
        if refs is not None:
            y -= float(refs[atoms.numbers].sum())
        values.append(y / len(atoms) if cfg.aggregation == "sum" else y)
    return float(np.mean(values))


def init_output_bias(model: torch.nn.Module, target: str, value: float) -> None:
    """Start the last bias of ``target``'s atomwise head at ``value`` (an initialisation, not an offset).

    Without an offset the network itself must produce the target's scale (e.g. about -4 eV per atom
    for GFN2-xTB atomisation energies); starting the output bias there saves the first epochs. The bias
    stays a trained parameter of the network and its relevance is counted as a bias term.
    """
    from schnetpack.atomistic import Atomwise

    head = next(m for m in model.output_modules if isinstance(m, Atomwise) and m.output_key == target)
    last = [m for m in head.outnet.modules() if isinstance(m, torch.nn.Linear)][-1]
    with torch.no_grad():
        last.bias.fill_(value)


def train(config: TrainConfig | Mapping[str, Any] | str | Path, *, out_dir: str | Path | None = None,
          overwrite: bool = False, resume: bool = False) -> Path:
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
    resume
        Continue an interrupted (or budget-limited) run from ``checkpoints/last.ckpt`` in the output
        folder: weights, optimiser, scheduler, early stopping, the best epoch so far and the elapsed
        time (``max_time_min`` is the budget of all parts together) are restored. The checkpoint is
        written after every epoch.

    Raises
    ------
    OutputExistsError
        The output folder exists and is not empty, and neither ``overwrite`` nor ``resume`` is set.
    NothingToResumeError
        ``resume`` without a checkpoint in the output folder.
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
    from pytorch_lightning.callbacks import EarlyStopping, LearningRateMonitor, ModelCheckpoint, TQDMProgressBar
    from pytorch_lightning.loggers import CSVLogger

    if isinstance(config, (str, Path)):
        config = load_train_config(config)
    tc = config if isinstance(config, TrainConfig) else TrainConfig.from_dict(config)
    folder = output_folder(tc, out_dir)
    ckpt = check_resume(folder) if resume else None
    if not resume:
        check_output_folder(folder, overwrite)
        shutil.rmtree(folder / CHECKPOINTS, ignore_errors=True)
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
    if mcfg.offset in ("free_atoms", "none"):
        for t in mcfg.targets:
            init_output_bias(model, t, target_mean(db_path, train_idx, t, mcfg))

    transforms: list[torch.nn.Module] = [trn.MatScipyNeighborList(cutoff=mcfg.cutoff)]
    if mcfg.offset != "none":
        for t in mcfg.targets:
            transforms.append(
                trn.RemoveOffsets(
                    t,
                    remove_mean=mcfg.offset == "mean",
                    remove_atomrefs=mcfg.offset in ("atomrefs", "free_atoms"),
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
    work = folder / CHECKPOINTS
    work.mkdir(parents=True, exist_ok=True)
    set_aside_log(work / "log")
    best = best_state()
    callbacks = [best, EarlyStopping(monitor="val_loss", patience=tc.early_stopping_patience),
                 LearningRateMonitor(logging_interval="epoch"), elapsed_time(),
                 # save_top_k=1 without a monitor keeps the latest epoch, so last.ckpt is written after every
                 # epoch (with save_top_k=0 it was only written when the fit ended: a killed run lost everything)
                 ModelCheckpoint(dirpath=str(work), save_last=True, save_top_k=1, every_n_epochs=1)]
    if tc.snapshot_epochs:
        callbacks.append(snapshots(folder / "snapshots", tc.snapshot_epochs, mcfg.to_dict()))
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
        enable_checkpointing=True,
        enable_progress_bar=tc.progress_bar,
        enable_model_summary=False,
        inference_mode=False,  # forces need gradients in validation and testing
        num_sanity_val_steps=0,
        log_every_n_steps=10,
    )
    start = time.perf_counter()
    # the checkpoint is this run's own file (its hyperparameters hold the model object): not weights-only
    trainer.fit(task, datamodule=dm, ckpt_path=str(ckpt) if ckpt else None, weights_only=False if ckpt else None)
    wall = time.perf_counter() - start  # of this part; the Timer callback holds the total
    if best.state is None:
        raise RuntimeError(f"training {tc.name} ended before its first validation; raise max_time_min or max_epochs")
    model.load_state_dict(best.state)
    model.eval()
    log = merged_log(work / "log", folder / "log.csv")
    timer = next((c for c in trainer.callbacks if type(c).__name__ == "Timer"), None)
    total_wall = timer.time_elapsed("train") if timer is not None else wall
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
        training_wall_time_s=round(float(total_wall), 1),
        resumed=resume,
        seed=tc.seed,
        torch_threads=tc.num_threads,
        accelerator=type(trainer.accelerator).__name__.replace("Accelerator", "").lower(),
        device=torch.cuda.get_device_name(0) if torch.cuda.is_available() and tc.accelerator != "cpu" else "cpu",
        dataset=tc.dataset,
        split_file=tc.split_file,
    )
    metrics.update(convergence(log) if log else {})
    save_model(model, folder, mcfg, metrics)
    resolved = tc.to_dict()
    resolved["model"] = mcfg.to_dict()
    (folder / "train_config.json").write_text(json.dumps(resolved, indent=2) + "\n")
    np.savez(folder / "split.npz", train_idx=train_idx, val_idx=val_idx, test_idx=split["test_idx"])
    return folder
