"""Predictions of the six transferability models on nci-small test molecules and the nci-large subset.

Writes ``data/transfer/results.npz``: per set (``small``: the nci-small test molecules, ``large``:
the partitioned nci-large subset) the references of :func:`xailib.transfer.reference_table`
(``<set>_energy``, ``<set>_numbers``, ``<set>_offsets``, ``<set>_mol_id``, ``<set>_ao`` ...) and per model
``<set>_<model>_energy`` (float64, eV) and ``<set>_<model>_atomic_minus_<scheme>`` (float16, eV: the
predicted atomic energies minus the reference of the model's scheme, MO for the total-only models;
:func:`xailib.transfer.load_results` adds them back as ``<set>_<model>_atomic``); ``meta`` (JSON):
models with their configs, loss weights and training metrics, the command, versions and wall time.
Tables are computed from it by :func:`xailib.transfer.error_tables`.

    OMP_NUM_THREADS=1 PYTHONPATH=. python scripts/transfer_eval.py     # about 1 min on one core
"""

from __future__ import annotations

import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

from xailib import repo_root
from xailib.models import load_model
from xailib.training import read_split
from xailib.transfer import MODEL_NAMES, predict, reference_table, trained_scheme, transfer_db


def main() -> Path:
    import schnetpack
    import torch

    torch.set_num_threads(1)
    start = time.perf_counter()
    root = Path(repo_root())
    small_db, large_db = transfer_db("nci-small"), transfer_db("nci-large")
    test = read_split(str(small_db) + ".split.npz")["test_idx"]
    arrays: dict[str, np.ndarray] = {}
    for tag, db, idx in (("small", small_db, test), ("large", large_db, None)):
        ref = reference_table(db)
        if idx is not None:  # keep the test molecules only
            off = ref["offsets"]
            atoms = np.concatenate([np.arange(off[i], off[i + 1]) for i in idx])
            ref = {"energy": ref["energy"][idx], "mol_id": ref["mol_id"][idx], "frame": ref["frame"][idx],
                   "offsets": np.r_[0, np.cumsum(np.diff(off)[idx])].astype(np.int64),
                   **{k: ref[k][atoms] for k in ("numbers", "ao", "mo", "xtb")}}
        for k, v in ref.items():
            arrays[f"{tag}_{k}"] = v.astype(np.float32) if k in ("ao", "mo", "xtb") else v
    models = {}
    present = [n for n in MODEL_NAMES if (root / "data" / "transfer" / "models" / n / "config.json").exists()]
    for name in present:
        folder = root / "data" / "transfer" / "models" / name
        model = load_model(folder)
        for tag, db, idx in (("small", small_db, test), ("large", large_db, None)):
            e, a = predict(model, db, idx)
            arrays[f"{tag}_{name}_energy"] = e
            own = trained_scheme(name) or "mo"  # stored as the difference from a reference (float16 is enough)
            arrays[f"{tag}_{name}_atomic_minus_{own}"] = (a - arrays[f"{tag}_{own}"]).astype(np.float16)
        tc = json.loads((folder / "train_config.json").read_text())
        metrics = json.loads((folder / "metrics.json").read_text())
        models[name] = {"model": tc["model"], "loss_weights": tc["loss_weights"], "lr": tc["lr"],
                        "max_time_min": tc["max_time_min"], "batch_size": tc["batch_size"],
                        "metrics": {k: metrics[k] for k in metrics if k in (
                            "epochs", "best_epoch", "training_wall_time_s", "n_train", "n_val", "n_parameters",
                            "energy_mae_meV", "energy_mae_meV_per_atom")}}
    meta = {"models": models, "missing_models": [n for n in MODEL_NAMES if n not in present], "sets": {"small": "nci-small test molecules (relaxed structures), HF/STO-3G",
                                        "large": "nci-large partitioned subset (relaxed structures), HF/STO-3G"},
            "units": "eV", "command": "PYTHONPATH=. python scripts/transfer_eval.py",
            "wall_time_s": round(time.perf_counter() - start, 1), "schnetpack": schnetpack.__version__,
            "torch": torch.__version__, "python": platform.python_version(), "argv": sys.argv[1:]}
    out = root / "data" / "transfer" / "results.npz"
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, meta=json.dumps(meta), **arrays)
    print(f"wrote {out} ({out.stat().st_size / 1024:.0f} KiB) in {meta['wall_time_s']} s")
    return out


if __name__ == "__main__":
    main()
