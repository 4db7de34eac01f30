"""Lightning callbacks of a training run and the convergence measure recorded in ``metrics.json``.

:func:`best_state` keeps the weights of the epoch with the lowest validation loss, :func:`snapshots`
saves the weights after chosen epochs; both keep their state in Lightning checkpoints, so a resumed run
(``python -m xailib train --resume``) continues with them. :func:`set_aside_log` and :func:`merged_log`
keep the CSV logs of all parts of a resumed run; :func:`convergence` reads the merged log.
"""

from __future__ import annotations

import copy
import csv
import json
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import torch

#: A run counts as converged when its best validation loss improved by less than this fraction over
#: the last fifth of its epochs.
CONVERGED_BELOW = 0.01
#: The last fifth must span at least this many epochs before a run can count as converged (a run of 9
#: epochs whose last epoch did not improve has not shown convergence).
MIN_TAIL_EPOCHS = 5


def best_state(monitor: str = "val_loss"):
    """A callback keeping the weights (``.state``), loss (``.best``) and epoch (``.epoch``) of the best epoch."""
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
                self.state = {k: v.detach().cpu().clone() for k, v in pl_module.model.state_dict().items()}
                self.epoch = int(trainer.current_epoch)

        def state_dict(self) -> dict[str, Any]:
            return {"best": self.best, "epoch": self.epoch, "state": self.state}

        def load_state_dict(self, state: dict[str, Any]) -> None:
            self.best, self.epoch, self.state = state["best"], state["epoch"], copy.deepcopy(state["state"])

    return BestState()


def elapsed_time():
    """A callback logging ``elapsed_s``, the training time of all parts of a run so far, after each validation.

    It reads Lightning's ``Timer`` (present when ``max_time`` is set), whose state travels in checkpoints, so
    a resumed run continues the count; the merged log then compares runs at equal wall time.
    """
    import pytorch_lightning as pl

    class ElapsedTime(pl.Callback):
        def on_validation_epoch_end(self, trainer, pl_module) -> None:
            timer = next((c for c in trainer.callbacks if type(c).__name__ == "Timer"), None)
            if trainer.sanity_checking or timer is None:
                return
            pl_module.log("elapsed_s", float(timer.time_elapsed("train")), on_step=False, on_epoch=True)

    return ElapsedTime()


def snapshots(folder: Path, epochs: Iterable[int], config: dict[str, Any]):
    """A callback writing ``folder/epoch-NNNN.pt`` (state dict) after each epoch in ``epochs`` (from 1).

    ``config.json`` (the model config) is written beside them, so each file loads with
    :func:`xailib.models.load_model`.
    """
    import pytorch_lightning as pl

    wanted = sorted(set(int(e) for e in epochs))

    class Snapshots(pl.Callback):
        def on_validation_end(self, trainer, pl_module) -> None:
            epoch = int(trainer.current_epoch) + 1
            if trainer.sanity_checking or epoch not in wanted:
                return
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "config.json").write_text(json.dumps(config, indent=2) + "\n")
            state = {k: v.detach().cpu().clone() for k, v in pl_module.model.state_dict().items()}
            torch.save(state, folder / f"epoch-{epoch:04d}.pt")

    return Snapshots()


def convergence(log_csv: Path) -> dict[str, Any]:
    """Validation-loss history of a run and whether it converged.

    Returns ``val_loss`` (one value per epoch), ``val_improvement_last_fifth`` (relative drop of the
    best validation loss over the last fifth of the epochs) and ``converged`` (that drop is below
    :data:`CONVERGED_BELOW` and the last fifth spans at least :data:`MIN_TAIL_EPOCHS` epochs); an empty
    dict when the log has no validation loss.
    """
    if not Path(log_csv).is_file():
        return {}
    with open(log_csv, newline="") as fh:
        by_epoch = {int(float(row["epoch"])): float(row["val_loss"]) for row in csv.DictReader(fh)
                    if row.get("val_loss") not in (None, "") and row.get("epoch") not in (None, "")}
    if not by_epoch:
        return {}
    losses = np.array([by_epoch[e] for e in sorted(by_epoch)])
    if len(losses) < 5:
        return {"val_loss": losses.tolist(), "converged": False, "val_improvement_last_fifth": None}
    head = int(np.ceil(0.8 * len(losses)))
    before, best = float(np.min(losses[:head])), float(np.min(losses))
    drop = (before - best) / before if before > 0 else 0.0
    return {"val_loss": [round(float(v), 6) for v in losses], "val_improvement_last_fifth": round(drop, 5),
            "converged": bool(drop < CONVERGED_BELOW and len(losses) - head >= MIN_TAIL_EPOCHS)}


def set_aside_log(log_dir: Path) -> None:
    """Rename ``log_dir/metrics.csv`` of an earlier part of a run to ``part-K.csv`` (Lightning's CSV
    logger would replace it when the run is resumed)."""
    current = Path(log_dir) / "metrics.csv"
    if current.is_file():
        k = len(list(Path(log_dir).glob("part-*.csv")))
        current.rename(Path(log_dir) / f"part-{k}.csv")


def merged_log(log_dir: Path, out: Path) -> Path | None:
    """Write the rows of all parts (``part-*.csv``, then ``metrics.csv``) to ``out``, columns united."""
    parts = sorted(Path(log_dir).glob("part-*.csv"), key=lambda p: int(p.stem.split("-")[1]))
    parts += [p for p in [Path(log_dir) / "metrics.csv"] if p.is_file()]
    if not parts:
        return None
    rows, columns = [], []
    for part in parts:
        with open(part, newline="") as fh:
            reader = csv.DictReader(fh)
            columns += [c for c in reader.fieldnames or [] if c not in columns]
            rows += list(reader)
    with open(out, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        writer.writerows({k: float32_text(v) for k, v in row.items()} for row in rows)
    return Path(out)


def float32_text(value: str | None) -> str | None:
    """A logged number as the shortest text that reads back to the same float32 (Lightning logs float32
    tensors but writes them with float64 digits); integers and empty cells stay as they are."""
    if not value or value.lstrip("-").isdigit():
        return value
    try:
        return str(np.float32(float(value)))
    except ValueError:
        return value
