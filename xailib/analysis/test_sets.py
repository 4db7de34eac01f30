"""The test-set explanations: every shipped ``nci-small`` model explained on the full ``nci-small`` test split.

``python -m xailib study explain-test-sets [MODEL ...] [--rule gi] [--force]`` runs
:func:`explain_test_sets`. Each model's exact 1-, 2- and 3-body relevances plus the higher-order remainder
(:func:`xailib.lrp.nbody_relevances`, via :func:`xailib.analysis.explain_dataset`) go to
``data/relevance/<model>.npz`` in the format of :func:`xailib.analysis.save_results` (read it back with
:func:`load_test_set_results` or :func:`xailib.analysis.load_results`). Besides the run settings, the
metadata holds ``model``, ``model_sha256``, ``dataset``, ``split`` (``"test_idx"``), ``wall_s`` and
``torch_threads``. The checksums of the written files replace their lines in ``data/MANIFEST.sha256``
(:func:`xailib.data.manifest.update_manifest`); all other lines are kept as they are.

Measured on the shared 2-core machine with one thread: 2-3 minutes per model for the 660 test structures.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from xailib.analysis.runs import RelevanceResults, explain_dataset, load_results, save_results
from xailib.base.io import CacheFileError
from xailib.base.paths import data_dir
from xailib.data.manifest import sha256, update_manifest

#: The dataset whose test split is explained, and the prefix of the models explained by default.
DATASET = "nci-small"
#: How to regenerate the files (named in error messages).
COMMAND = "python -m xailib study explain-test-sets"


def shipped_models(dataset: str = DATASET, models_dir: str | os.PathLike | None = None) -> list[str]:
    """Names of the model folders ``<dataset>-*`` (with a ``model.pt``) under ``models_dir`` (default data/models)."""
    folder = Path(models_dir) if models_dir is not None else data_dir() / "models"
    return sorted(p.name for p in folder.glob(f"{dataset}-*") if (p / "model.pt").exists())


def relevance_path(name: str, directory: str | os.PathLike | None = None) -> Path:
    """``data/relevance/<name>.npz``: where the test-set relevances of model ``name`` are cached."""
    return data_dir(directory) / "relevance" / f"{name}.npz"


def load_test_set_results(name: str, directory: str | os.PathLike | None = None) -> RelevanceResults:
    """The cached test-set relevances of a shipped model (raises :class:`CacheFileError` when missing)."""
    path = relevance_path(name, directory)
    if not path.is_file():
        raise CacheFileError(f"{path} is missing; regenerate it with `{COMMAND} {name}`")
    return load_results(path)


def explain_test_sets(models: Sequence[str] | None = None, *, rule: str = "gi", gamma: float = 0.1,
                      force: bool = False, models_dir: str | os.PathLike | None = None,
                      directory: str | os.PathLike | None = None, progress: bool = False,
                      log: Callable[[str], None] = print) -> list[Path]:
    """Explain models on the ``nci-small`` test split; returns the result files written.

    Parameters
    ----------
    models
        Model folder names under ``models_dir`` (default: :func:`shipped_models`).
    rule, gamma
        LRP rule (``"gi"`` or ``"gamma"``) and the gamma of the gamma rule.
    force
        Recompute models whose result file exists (otherwise they are skipped).
    models_dir
        Where the model folders are (default ``data/models``); results always go to ``data/relevance``.
    directory
        The data folder (default :func:`xailib.base.paths.data_dir`).
    """
    import torch

    from xailib.base.seed import set_seed
    from xailib.data import frames
    from xailib.models import load_model

    if rule not in ("gi", "gamma"):
        raise ValueError(f"unknown rule {rule!r}; use 'gi' or 'gamma'")
    data = data_dir(directory)
    folder = Path(models_dir) if models_dir is not None else data / "models"
    names = list(models) if models else shipped_models(DATASET, folder)
    missing = [n for n in names if not (folder / n / "model.pt").exists()]
    if missing:
        raise FileNotFoundError(f"no model folder with model.pt for {missing} in {folder}; "
                                f"available: {shipped_models(DATASET, folder)}")
    todo = [n for n in names if force or not relevance_path(n, data).exists()]
    for n in sorted(set(names) - set(todo)):
        log(f"{n}: {relevance_path(n, data)} exists, skipped (--force to recompute)")
    if not todo:
        return []
    torch.set_num_threads(1)
    set_seed(0)
    structures = frames(DATASET, split="test", directory=data)
    written = []
    for name in todo:
        out = relevance_path(name, data)
        model = load_model(folder / name)
        start = time.perf_counter()
        results = explain_dataset(model, structures, rule=rule, gamma=gamma, progress=progress)
        wall = time.perf_counter() - start
        results.meta.update(model=name, model_sha256=sha256(folder / name / "model.pt"), dataset=DATASET,
                            split="test_idx", wall_s=round(wall, 1), torch_threads=torch.get_num_threads())
        save_results(results, out)
        written.append(out)
        log(f"{name}: {len(results)} structures, rule {rule}, {wall:.0f} s "
            f"({wall / len(results):.3f} s/structure), {out.stat().st_size / 1e6:.2f} MB")
    update_manifest(data, written)
    return written
