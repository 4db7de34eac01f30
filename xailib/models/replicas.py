"""Seed replicas of a trained model: their folders, test errors across seeds and learning curves.

A model ``<name>`` trained again with another seed (``python -m xailib train --config ... --seed N``) lives
beside it as ``<name>-seedN``: same data, split and settings, another initialisation and batch order.
:func:`replicas` finds them, :func:`seed_metrics` collects their test errors with the mean and the sample
standard deviation across seeds, :func:`seed_table` renders that for a chapter, and :func:`learning_curve`
reads one model's per-epoch validation (and training) loss from its ``log.csv``.
"""

from __future__ import annotations

import csv
import math
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from xailib.base.errors import XailibError
from xailib.base.io import load_json
from xailib.models.build import METRICS_FILE, model_dir
from xailib.models.files import ModelNotFoundError
from xailib.models.inventory import models_folder

__all__ = ["ERROR_KEYS", "TrainingLogError", "learning_curve", "replicas", "seed_metrics", "seed_table"]

#: Test-error keys of ``metrics.json`` that :func:`seed_metrics` reports by default (those a model has).
ERROR_KEYS = ("energy_mae_meV", "forces_mae_meV_per_A", "gap_mae_eV")
#: Column titles of :func:`seed_table`.
KEY_TITLES = {"energy_mae_meV": "energy MAE (meV)", "forces_mae_meV_per_A": "force MAE (meV/Å)",
              "gap_mae_eV": "gap MAE (eV)"}
#: Per-seed bookkeeping copied from ``metrics.json`` into each row of :func:`seed_metrics`.
INFO_KEYS = ("epochs", "best_epoch", "converged", "val_improvement_last_fifth", "training_wall_time_s", "device")

LOG_FILE = "log.csv"
_SEED_SUFFIX = re.compile(r"^(?P<base>.+)-seed(?P<seed>\d+)$")


class TrainingLogError(XailibError, ValueError):
    """A model folder has no usable training log (``log.csv`` missing or without validation rows)."""


def _seed_of(folder: Path) -> int:
    """The seed in a model's ``metrics.json``; else the ``-seedN`` suffix of its name; else 0."""
    seed = load_json(folder / METRICS_FILE).get("seed")
    if seed is not None:
        return int(seed)
    match = _SEED_SUFFIX.match(folder.name)
    return int(match["seed"]) if match else 0


def replicas(name: str, models_dir: str | os.PathLike | None = None) -> list[str]:
    """The model ``name`` and its seed replicas ``<name>-seedN`` in ``models_dir`` (default ``data/models``),
    sorted by seed (from each ``metrics.json``).

    Only trained folders (with a ``metrics.json``) count; ``<name>6`` or ``<name>-seed1x`` are other models.

    Raises
    ------
    ModelNotFoundError
        ``name`` is not a trained model in ``models_dir``, or ``name`` is itself a replica (``...-seedN``).
    """
    folder = models_folder(models_dir)
    match = _SEED_SUFFIX.match(name)
    if match:
        raise ModelNotFoundError(f"{name!r} is a seed replica; ask for the replicas of {match['base']!r}")
    if not (folder / name / METRICS_FILE).is_file():
        known = sorted(p.parent.name for p in folder.glob(f"*/{METRICS_FILE}")) if folder.is_dir() else []
        known = [k for k in known if not _SEED_SUFFIX.match(k)]
        raise ModelNotFoundError(f"no trained model {name!r} in {folder} (no {name}/{METRICS_FILE}); "
                                 f"trained models there: {known or 'none'}")
    names = [name] + [p.parent.name for p in folder.glob(f"{name}-seed*/{METRICS_FILE}")
                      if (m := _SEED_SUFFIX.match(p.parent.name)) and m["base"] == name]
    return sorted(names, key=lambda n: (_seed_of(folder / n), n))


def seed_metrics(name: str, keys: Sequence[str] | None = None,
                 models_dir: str | os.PathLike | None = None) -> dict[str, Any]:
    """Test errors of a model and its seed replicas, one row per seed, with mean and sd across seeds.

    Parameters
    ----------
    name
        The model (seed replicas are found by :func:`replicas`).
    keys
        ``metrics.json`` keys to summarise; default: those of :data:`ERROR_KEYS` the model has.

    Returns
    -------
    dict
        ``name``; ``keys``; ``rows`` (per seed: ``model``, ``seed``, the ``keys`` and the bookkeeping of
        :data:`INFO_KEYS` the metrics hold); ``mean`` and ``sd`` (``{key: value}``; ``sd`` is the sample
        standard deviation, ddof = 1, ``nan`` for one seed); ``n_seeds``.

    Raises
    ------
    ModelNotFoundError
        See :func:`replicas`.
    KeyError
        A replica's ``metrics.json`` lacks one of ``keys``.
    """
    folder = models_folder(models_dir)
    names = replicas(name, folder)
    metrics = [load_json(folder / n / METRICS_FILE) for n in names]
    keys = [k for k in ERROR_KEYS if k in metrics[0]] if keys is None else list(keys)
    rows = []
    for n, m in zip(names, metrics):
        absent = [k for k in keys if k not in m]
        if absent:
            raise KeyError(f"{folder / n / METRICS_FILE} has no {absent}; it has {sorted(m)}")
        rows.append({"model": n, "seed": _seed_of(folder / n), **{k: m[k] for k in keys},
                     **{k: m[k] for k in INFO_KEYS if k in m}})
    values = {k: np.array([float(r[k]) for r in rows]) for k in keys}
    return {"name": name, "keys": keys, "rows": rows, "n_seeds": len(rows),
            "mean": {k: float(v.mean()) for k, v in values.items()},
            "sd": {k: float(v.std(ddof=1)) if len(v) > 1 else math.nan for k, v in values.items()}}


def _yes_no(value: Any) -> str:
    return {True: "yes", False: "no"}.get(value, "?")


def seed_table(names: Sequence[str], keys: Sequence[str] | None = None, *, digits: int | None = None,
               models_dir: str | os.PathLike | None = None) -> str:
    """A Markdown table of test errors across seeds: per model and error, the value of each seed, mean ± sd
    (sample sd), and each seed's convergence flag and epochs (best epoch, from 0).

    ``keys`` are the errors reported, each for the models that have it (default: each model's first key of
    :data:`ERROR_KEYS`, i.e. the energy for energy models and the gap for gap models); ``digits`` default
    to 1 for meV, 2 for eV.

    Raises
    ------
    KeyError
        A model has none of ``keys``.
    """
    lines = ["| model | test error | seeds | per seed | mean ± sd | converged | epochs (best) |",
             "|---|---|---|---|---|---|---|"]
    folder = models_folder(models_dir)
    for name in names:
        have = load_json(folder / replicas(name, folder)[0] / METRICS_FILE)
        wanted = [k for k in ERROR_KEYS if k in have][:1] if keys is None else [k for k in keys if k in have]
        if not wanted:
            raise KeyError(f"model {name!r} has none of the errors {list(keys or ERROR_KEYS)}")
        s = seed_metrics(name, wanted, folder)
        seeds = ", ".join(str(r["seed"]) for r in s["rows"])
        converged = ", ".join(_yes_no(r.get("converged")) for r in s["rows"])
        epochs = ", ".join(f"{r.get('epochs', '?')} ({r.get('best_epoch', '?')})" for r in s["rows"])
        for k in wanted:
            d = digits if digits is not None else (2 if k.endswith("_eV") else 1)
            per_seed = ", ".join(f"{r[k]:.{d}f}" for r in s["rows"])
            sd = "" if math.isnan(s["sd"][k]) else f" ± {s['sd'][k]:.{d}f}"
            lines.append(f"| `{name}` | {KEY_TITLES.get(k, k)} | {seeds} | {per_seed} | {s['mean'][k]:.{d}f}{sd} "
                         f"| {converged} | {epochs} |")
    return "\n".join(lines)


def _float(text: str | None) -> float | None:
    return float(text) if text not in (None, "") else None


def learning_curve(name: str | os.PathLike, models_dir: str | os.PathLike | None = None) -> dict[str, np.ndarray]:
    """Per-epoch losses of a trained model from its ``log.csv`` (Lightning's CSV log).

    Lightning writes training steps, validation and learning rate on separate rows; this merges the rows
    of one epoch. A resumed run's merged log may repeat an epoch: its last values count.

    Parameters
    ----------
    name
        A model name or folder (see :func:`xailib.models.model_dir`); with ``models_dir``, the name of a
        folder in it.

    Returns
    -------
    dict
        Arrays of equal length, one entry per validated epoch in order: ``epoch``, ``val_loss`` and every
        other ``val_*`` column (eV, eV/Angstrom; ``nan`` where an epoch lacks it), ``elapsed_s`` (training time
        of all parts of the run at the end of the epoch's validation) when logged, ``train_loss`` (mean of
        the epoch's logged training steps) and ``lr`` (learning rate at the start of the epoch) when logged.

    Raises
    ------
    ModelNotFoundError
        No such model.
    TrainingLogError
        No ``log.csv``, or one without validation rows.
    """
    folder = models_folder(models_dir) / str(name) if models_dir is not None else model_dir(name)
    if not folder.is_dir():
        raise ModelNotFoundError(f"no model folder {folder}")
    path = folder / LOG_FILE
    if not path.is_file():
        raise TrainingLogError(f"{path} does not exist; the model was not trained by xailib.models.train "
                               "(or its log was not shipped)")
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    val: dict[int, dict[str, float]] = {}
    train: dict[int, list[float]] = {}
    lr: dict[int, float] = {}
    pending_lr = None  # the learning rate is logged without an epoch, just before the epoch's first step
    for row in rows:
        epoch = _float(row.get("epoch"))
        if epoch is None:
            pending_lr = _float(row.get("lr_schedule")) if row.get("lr_schedule") else pending_lr
            continue
        e = int(epoch)
        if pending_lr is not None:
            lr[e], pending_lr = pending_lr, None
        if (loss := _float(row.get("train_loss"))) is not None:
            train.setdefault(e, []).append(loss)
        if _float(row.get("val_loss")) is not None:
            val[e] = {k: float(v) for k, v in row.items()
                      if k and (k.startswith("val_") or k == "elapsed_s") and v not in (None, "")}
    if not val:
        raise TrainingLogError(f"{path} holds no validation rows (column val_loss); did training reach "
                               "the end of its first epoch?")
    epochs = sorted(val)
    columns = ["val_loss"] + sorted({k for v in val.values() for k in v} - {"val_loss"})
    out = {"epoch": np.array(epochs, dtype=int)}
    out.update({c: np.array([val[e].get(c, np.nan) for e in epochs]) for c in columns})
    if train:
        out["train_loss"] = np.array([np.mean(train[e]) if e in train else np.nan for e in epochs])
    if lr:
        out["lr"] = np.array([lr.get(e, np.nan) for e in epochs])
    return out
