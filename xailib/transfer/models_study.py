"""The six transferability models of chapter 09: training from ``configs/transfer/`` and their results.

:func:`train_transfer_models` builds the HF/STO-3G training database (:func:`~xailib.transfer.transfer_db`)
and trains each config (weights to ``data/transfer/models/<name>/``, not committed);
:func:`evaluate_transfer_models` predicts totals and atomic energies on the nci-small test molecules and
the partitioned nci-large subset, cached in ``data/transfer/results.npz`` (:func:`save_results`,
:func:`load_results`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from xailib.base.io import load_npz, provenance, save_npz
from xailib.base.paths import data_dir, resolve_path
from xailib.transfer.atomic import MODEL_NAMES, predict, reference_table, trained_scheme, transfer_db

__all__ = ["RESULTS_FILE", "TRANSFER_CONFIGS", "transfer_models_dir", "train_transfer_models",
           "evaluate_transfer_models", "save_results", "load_results"]

#: The cached result of :func:`evaluate_transfer_models`.
RESULTS_FILE = "data/transfer/results.npz"
#: Folder of the six training configs (``transfer-<arch>-<target>.yaml``).
TRANSFER_CONFIGS = "configs/transfer"
_REF_KEYS = ("ao", "mo", "xtb")
_SETS = {"small": "nci-small test molecules (relaxed structures), HF/STO-3G",
         "large": "nci-large partitioned subset (relaxed structures), HF/STO-3G"}
_HOW = "python -m xailib study transfer train, then python -m xailib study transfer eval"


def transfer_models_dir() -> Path:
    """``data/transfer/models`` (under :func:`~xailib.base.paths.data_dir`), where the trained weights go."""
    return data_dir() / "transfer" / "models"


def train_transfer_models(configs: Sequence[str | os.PathLike] | None = None, *, build_only: bool = False
                          ) -> list[Path]:
    """Build the nci-small training database when missing or stale, then train each config.

    ``configs`` default to every ``configs/transfer/*.yaml``; each model trains for at most
    ``max_time_min`` (4 min on one thread). Returns the model folders (none with ``build_only``).
    """
    from xailib.models import train

    t0 = time.perf_counter()
    print(f"training set: {transfer_db('nci-small')} ({time.perf_counter() - t0:.1f} s)", flush=True)
    if build_only:
        return []
    if configs is None:
        configs = sorted(resolve_path(TRANSFER_CONFIGS).glob("*.yaml"))
    folders = []
    for cfg in configs:
        t0 = time.perf_counter()
        folders.append(train(cfg, overwrite=True))
        print(f"trained {cfg} -> {folders[-1]} in {(time.perf_counter() - t0) / 60:.1f} min", flush=True)
    return folders


def _test_subset(ref: dict[str, np.ndarray], idx: np.ndarray) -> dict[str, np.ndarray]:
    """The molecules ``idx`` of a :func:`~xailib.transfer.reference_table` (per-atom arrays follow)."""
    off = ref["offsets"]
    atoms = np.concatenate([np.arange(off[i], off[i + 1]) for i in idx])
    return {"energy": ref["energy"][idx], "mol_id": ref["mol_id"][idx], "frame": ref["frame"][idx],
            "offsets": np.r_[0, np.cumsum(np.diff(off)[idx])].astype(np.int64),
            **{k: ref[k][atoms] for k in ("numbers", *_REF_KEYS)}}


def evaluate_transfer_models(models_dir: str | os.PathLike | None = None) -> tuple[dict[str, np.ndarray], dict]:
    """Predictions of the trained models of :data:`~xailib.transfer.MODEL_NAMES` found in ``models_dir``
    (default :func:`transfer_models_dir`) with the references: ``(arrays, meta)`` for :func:`save_results`.

    ``arrays`` holds the full predicted atomic energies ``<set>_<model>_atomic`` (eV);
    :func:`save_results` stores them as float16 differences from a reference. About 1 min on one core.
    """
    import torch

    from xailib.models import load_model, model_metrics, read_split, train_settings

    torch.set_num_threads(1)
    start = time.perf_counter()
    root = Path(models_dir) if models_dir is not None else transfer_models_dir()
    small_db, large_db = transfer_db("nci-small"), transfer_db("nci-large")
    test = read_split(str(small_db) + ".split.npz")["test_idx"]
    sets = (("small", small_db, test), ("large", large_db, None))
    arrays: dict[str, np.ndarray] = {}
    for tag, db, idx in sets:
        ref = reference_table(db)
        ref = _test_subset(ref, idx) if idx is not None else ref
        for k, v in ref.items():
            arrays[f"{tag}_{k}"] = v.astype(np.float32) if k in _REF_KEYS else v
    models = {}
    present = [n for n in MODEL_NAMES if (root / n / "config.json").exists()]
    for name in present:
        folder = root / name
        model = load_model(folder)
        for tag, db, idx in sets:
            energy, atomic = predict(model, db, idx)
            arrays[f"{tag}_{name}_energy"] = energy
            if atomic is not None:
                arrays[f"{tag}_{name}_atomic"] = atomic
        tc, metrics = train_settings(folder), model_metrics(folder)
        models[name] = {"model": tc["model"], "loss_weights": tc["loss_weights"], "lr": tc["lr"],
                        "max_time_min": tc["max_time_min"], "batch_size": tc["batch_size"],
                        "metrics": {k: metrics[k] for k in metrics if k in (
                            "epochs", "best_epoch", "training_wall_time_s", "n_train", "n_val", "n_parameters",
                            "energy_mae_meV", "energy_mae_meV_per_atom")}}
    meta = provenance(wall_s=time.perf_counter() - start, models=models, sets=_SETS, units="eV",
                      missing_models=[n for n in MODEL_NAMES if n not in present])
    return arrays, meta


def save_results(arrays: Mapping[str, Any], meta: Mapping[str, Any], path: str | os.PathLike = RESULTS_FILE) -> Path:
    """Write the transfer results (default ``data/transfer/results.npz``).

    Format (``.npz``, eV): per set (``small``: the nci-small test molecules, ``large``: the partitioned
    nci-large subset) the references of :func:`~xailib.transfer.reference_table`: per molecule
    ``<set>_energy`` (float64, HF/STO-3G minus free atoms), ``<set>_mol_id``, ``<set>_frame`` (dataset row),
    ``<set>_offsets``; per atom ``<set>_numbers`` and ``<set>_ao``, ``<set>_mo``, ``<set>_xtb`` (float32,
    relative atomic energies of each scheme). Per model ``<set>_<model>_energy`` (float64) and
    ``<set>_<model>_atomic_minus_<scheme>`` (float16: the predicted atomic energies minus the float32
    reference of the model's own scheme, MO for the total-only models). ``meta`` (JSON): ``models`` (per
    model its architecture, ``loss_weights``, ``lr``, ``max_time_min``, ``batch_size`` and training
    ``metrics``), ``missing_models``, ``sets``, ``units``, command, versions and wall time.

    ``arrays`` may hold the full predictions ``<set>_<model>_atomic`` (as from
    :func:`evaluate_transfer_models` or :func:`load_results`); they are stored as the difference.
    """
    out: dict[str, np.ndarray] = {}
    for key, value in arrays.items():
        tag, _, rest = key.partition("_")
        if rest in _REF_KEYS:
            value = np.asarray(value).astype(np.float32)
        out[key] = np.asarray(value)
    for key in [k for k in out if k.endswith("_atomic")]:
        tag, name = key[:-len("_atomic")].split("_", 1)
        own = trained_scheme(name) or "mo"  # float16 is enough for the difference from a reference
        out[f"{tag}_{name}_atomic_minus_{own}"] = (out.pop(key).astype(float) - out[f"{tag}_{own}"]).astype(np.float16)
    if "models" not in meta:
        raise ValueError("transfer results need meta['models']")
    return save_npz(resolve_path(path), out, meta)


def load_results(path: str | os.PathLike = RESULTS_FILE) -> dict:
    """The transfer results (format: :func:`save_results`) with ``meta``; the stored differences are added
    back to their references as ``<set>_<model>_atomic`` (float64)."""
    arrays, meta = load_npz(resolve_path(path), how_to_make=_HOW)
    out = {**arrays, "meta": meta}
    for key in [k for k in out if "_atomic_minus_" in k]:
        head, scheme = key.split("_atomic_minus_")
        out[f"{head}_atomic"] = out[f"{head.split('_', 1)[0]}_{scheme}"].astype(float) + out.pop(key).astype(float)
    return out
