"""The test-set explanations: every shipped ``nci-small`` model explained on the full ``nci-small`` test split.

``python -m xailib study explain-test-sets [MODEL ...] [--rule gi] [--force]`` runs
:func:`explain_test_sets`. Each model's exact 1-, 2- and 3-body relevances plus the higher-order remainder
(:func:`xailib.lrp.nbody_relevances`, via :func:`xailib.analysis.explain_dataset`) go to
``data/relevance/<model>.npz`` in the format of :func:`xailib.analysis.save_results` (read it back with
``xailib.analysis.load_results(model_name)``). Besides the run settings and the provenance record, the
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

from xailib.analysis.runs import RelevanceResults, explain_dataset, results_path, save_results
from xailib.base.io import provenance
from xailib.base.paths import data_dir
from xailib.base.seed import set_seed
from xailib.data import frames
from xailib.data.manifest import sha256, update_manifest
from xailib.models.inventory import shipped_models

#: The dataset whose test split is explained, and the prefix of the models explained by default.
DATASET = "nci-small"


def explain_on_test_split(model_dir: str | os.PathLike, out: str | os.PathLike, *, dataset: str = DATASET,
                          rule: str = "gi", gamma: float = 0.1, structures: Sequence | None = None,
                          progress: bool = False) -> RelevanceResults:
    """Explain one saved model on the test split of ``dataset`` and save the results to ``out``.

    The metadata gets the provenance record (:func:`xailib.base.io.provenance`) and ``model``,
    ``model_sha256``, ``dataset``, ``split``, ``wall_s`` and ``torch_threads``. ``structures``: the test
    frames, when the caller already has them.
    """
    import torch

    from xailib.models import load_model

    model_dir = Path(model_dir)
    structures = frames(dataset, split="test") if structures is None else structures
    start = time.perf_counter()
    results = explain_dataset(load_model(model_dir), structures, rule=rule, gamma=gamma, progress=progress)
    wall = time.perf_counter() - start
    results.meta.update(provenance(wall_s=wall), model=model_dir.name, model_sha256=sha256(model_dir / "model.pt"),
                        dataset=dataset, split="test_idx", wall_s=round(wall, 1),
                        torch_threads=torch.get_num_threads())
    save_results(results, out)
    return results


def explain_test_sets(models: Sequence[str] | None = None, *, rule: str = "gi", gamma: float = 0.1,
                      force: bool = False, models_dir: str | os.PathLike | None = None,
                      directory: str | os.PathLike | None = None, progress: bool = False,
                      log: Callable[[str], None] = print) -> list[Path]:
    """Explain models on the ``nci-small`` test split; returns the result files written.

    Parameters
    ----------
    models
        Model folder names under ``models_dir`` (default: every ``nci-small-*`` model there).
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

    if rule not in ("gi", "gamma"):
        raise ValueError(f"unknown rule {rule!r}; use 'gi' or 'gamma'")
    data = data_dir(directory)
    folder = Path(models_dir) if models_dir is not None else data / "models"
    available = shipped_models(folder, prefix=f"{DATASET}-")
    names = list(models) if models else available
    missing = [n for n in names if not (folder / n / "model.pt").exists()]
    if missing:
        raise FileNotFoundError(f"no model folder with model.pt for {missing} in {folder}; available: {available}")
    todo = [n for n in names if force or not results_path(n, data).exists()]
    for n in sorted(set(names) - set(todo)):
        log(f"{n}: {results_path(n, data)} exists, skipped (--force to recompute)")
    if not todo:
        return []
    torch.set_num_threads(1)
    set_seed(0)
    structures = frames(DATASET, split="test", directory=data)
    written = []
    for name in todo:
        out = results_path(name, data)
        results = explain_on_test_split(folder / name, out, rule=rule, gamma=gamma, structures=structures,
                                        progress=progress)
        written.append(out)
        wall = results.meta["wall_s"]
        log(f"{name}: {len(results)} structures, rule {rule}, {wall:.0f} s "
            f"({wall / len(results):.3f} s/structure), {out.stat().st_size / 1e6:.2f} MB")
    update_manifest(data, written)
    return written
