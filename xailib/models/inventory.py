"""The shipped models in ``data/models/``: their list, tables of their test errors, test-split predictions.

:func:`write_models_readme` writes ``data/models/README.md`` (``python -m xailib study models-table``,
run by ``make models`` after training); :func:`metrics_table` is the shorter table of chapter 02 and
:func:`predict_test_split` a shipped model's predictions on its test split. Every number comes from the
models' ``metrics.json`` and ``config.json`` files (written by :func:`xailib.models.train`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from xailib.base.io import load_json
from xailib.base.paths import data_dir
from xailib.models.build import CONFIG_FILE, METRICS_FILE, model_dir, model_metrics, train_settings

README_NAME = "README.md"

README_HEADER = """# Shipped models

Trained by `python -m xailib train --config configs/<name>.yaml [--seed N]` (`scripts/train_all.sh` runs
them all) on the GFN2-xTB datasets in `data/` with their fixed splits. The md17 models ran on a 2-core CPU
shared with other jobs (wall times are upper bounds for a quiet machine). The nci-small models and their
seed replicas (`<name>-seedN`: same data, split and settings, another seed) ran all at once on one H200
GPU with CUDA MPS, 7 minutes each (`--max-time-min 7`); energy models explain the atomisation energy
(`offset: free_atoms`), gap models the gap itself (`offset: none`). `converged` (metrics.json) means the
best validation loss improved by less than 1 % over the last fifth of the epochs; runs continue with
`train --resume` from `checkpoints/last.ckpt` (not committed). Each folder holds `model.pt` (state_dict; load with `xailib.models.load_model(folder)`),
`model.pt.sha256` (its checksum, checked on loading), `config.json` (model), `train_config.json` (training run), `split.npz` (indices used: the training and
validation subsets and the shipped test split), `log.csv` (Lightning CSV log) and `metrics.json`.
Errors are on the full shipped test split: energy MAE in meV per molecule, force MAE in meV/Angstrom
per component, gap MAE in eV. The best epoch (lowest validation loss) is shipped.

"""


def models_folder(models_dir: str | os.PathLike | None = None) -> Path:
    """``models_dir``, else ``data/models`` (see :func:`xailib.base.paths.data_dir`)."""
    return Path(models_dir) if models_dir is not None else data_dir() / "models"


def shipped_models(models_dir: str | os.PathLike | None = None, *, prefix: str = "") -> list[str]:
    """Sorted names of the trained model folders (those with a ``metrics.json``) under ``models_dir``
    whose names start with ``prefix``."""
    folder = models_folder(models_dir)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} is not a folder of models; train them with `make models`")
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(prefix) and (p / METRICS_FILE).exists())


def _fmt(x: float | None, digits: int = 1) -> str:
    return "" if x is None else f"{x:.{digits}f}"


def _converged(m: dict) -> str:
    return {True: "yes", False: "no"}.get(m.get("converged"), "")


def _device(m: dict) -> str:
    device = m.get("device")
    return device if device and device != "cpu" else f"CPU, {m.get('torch_threads', '?')} thread(s)"


def readme_table(models_dir: str | os.PathLike | None = None) -> str:
    """The Markdown table of ``data/models/README.md``: one row per model folder with a ``metrics.json``."""
    folder = models_folder(models_dir)
    rows = ["| model | dataset | arch | T | features | params | n_train | energy MAE (meV) | force MAE (meV/Å) "
            "| gap MAE (eV) | epochs (best, from 0) | converged | training time (min) | device |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for name in shipped_models(folder):
        m = load_json(folder / name / METRICS_FILE)
        c = load_json(folder / name / CONFIG_FILE)
        rows.append(
            f"| {name} | {Path(m['dataset']).stem} | {c['architecture']} | {c['n_interactions']} "
            f"| {c['n_atom_basis']} | {m['n_parameters']} | {m['n_train']} | {_fmt(m.get('energy_mae_meV'))} "
            f"| {_fmt(m.get('forces_mae_meV_per_A'))} | {_fmt(m.get('gap_mae_eV'), 3)} "
            f"| {m['epochs']} ({m['best_epoch']}) | {_converged(m)} | {_fmt(m['training_wall_time_s'] / 60)} "
            f"| {_device(m)} |"
        )
    return "\n".join(rows) + "\n"


def readme_text(models_dir: str | os.PathLike | None = None) -> str:
    """The full text of ``data/models/README.md``: :data:`README_HEADER` and :func:`readme_table`."""
    return README_HEADER + readme_table(models_dir)


def write_models_readme(models_dir: str | os.PathLike | None = None) -> Path:
    """Write ``<models_dir>/README.md`` (default ``data/models/README.md``); returns its path."""
    path = models_folder(models_dir) / README_NAME
    path.write_text(readme_text(models_dir))
    return path


def _cell(m: Mapping[str, Any], key: str, digits: int) -> str:
    return f"{m[key]:.{digits}f}" if key in m else ""


def metrics_table(names: Sequence[str] | None = None) -> str:
    """Chapter 02's Markdown table: architecture, depth, training frames, test errors and training time.

    ``names`` are shipped model names or model folders (default: every shipped model).
    """
    rows = ["| model | arch. | T | train frames | energy MAE (meV) | force MAE (meV/Å) | gap MAE (eV) | time (min) |",
            "|---|---|---|---|---|---|---|---|"]
    for name in shipped_models() if names is None else names:
        m = model_metrics(name)
        c = load_json(model_dir(name) / CONFIG_FILE)
        rows.append(f"| `{Path(name).name}` | {c['architecture']} | {c['n_interactions']} | {m['n_train']} "
                    f"| {_cell(m, 'energy_mae_meV', 1)} | {_cell(m, 'forces_mae_meV_per_A', 1)} "
                    f"| {_cell(m, 'gap_mae_eV', 3)} | {m['training_wall_time_s'] / 60:.1f} |")
    return "\n".join(rows)


def predict_test_split(name: str | os.PathLike) -> dict[str, Any]:
    """Predictions of a trained model on the test split it was evaluated on.

    Returns the ``predictions`` of :func:`xailib.models.evaluate` (per property ``pred`` and ``ref``,
    plus ``n_atoms`` and ``numbers``), for the dataset and split file in the model's ``train_config.json``.
    """
    from xailib.models.build import load_model
    from xailib.models.evaluation import evaluate
    from xailib.models.training import read_split

    tc = train_settings(name)
    test_idx = read_split(tc["split_file"])["test_idx"]
    return evaluate(load_model(name), tc["dataset"], test_idx, return_predictions=True)["predictions"]
