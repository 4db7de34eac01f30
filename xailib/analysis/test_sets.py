"""The test-set explanations: every shipped ``nci-small`` model explained on the full ``nci-small`` test split.

``python -m xailib study explain-test-sets [MODEL ...] [--rule gi] [--composite features] [--force]`` runs
:func:`explain_test_sets`. Each model's exact 1-, 2- and 3-body relevances (walks and bias terms) plus the
higher-order remainders (:func:`xailib.lrp.nbody_relevances`, via :func:`xailib.analysis.explain_dataset`)
go to ``data/relevance/<model>.npz`` (rule gi; see :func:`result_name` for other rules and composites) in
the format of :func:`xailib.analysis.save_results` (read it back with
``xailib.analysis.load_results(result_name(model, rule, composite))``). Besides the run settings and the
provenance record, the metadata holds ``model``, ``model_sha256``, ``dataset``, ``split``
(``"test_idx"``), ``molecule_ids`` (the molecule of each structure: the unit of bootstrap intervals),
``wall_s`` and ``torch_threads``. The checksums of the written files replace their lines in ``data/MANIFEST.sha256``
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
from xailib.data.store import frame_table, read_split
from xailib.data.manifest import sha256, update_manifest
from xailib.models.inventory import shipped_models

#: The dataset whose test split is explained, and the prefix of the models explained by default.
DATASET = "nci-small"


def result_name(model: str, rule: str = "gi", composite: str = "features") -> str:
    """Name of a model's test-set results: ``<model>`` for rule gi (both composites give the same terms
    under gi), ``<model>.<rule>-<composite>`` otherwise (e.g. ``nci-small-energy-schnet.gamma-reference``)."""
    return model if rule == "gi" else f"{model}.{rule}-{composite}"


def test_molecule_ids(dataset: str = DATASET, directory: str | os.PathLike | None = None) -> list[str]:
    """The molecule id of every test-split frame of ``dataset``, in the order :func:`frames` returns them."""
    from xailib.base.paths import data_dir as _data_dir

    ids = frame_table(dataset, directory)["mol_id"]
    split = read_split(_data_dir(directory) / f"{dataset}.split.npz")
    return [str(ids[i]) for i in split["test_idx"]]


def first_frames(molecule_ids: Sequence[str], per_molecule: int) -> list[int]:
    """Indices of the first ``per_molecule`` structures of each molecule (the relaxed frame comes first)."""
    seen: dict[str, int] = {}
    keep = []
    for k, mol in enumerate(molecule_ids):
        seen[mol] = seen.get(mol, 0) + 1
        if seen[mol] <= per_molecule:
            keep.append(k)
    return keep


def structure_rows(res: RelevanceResults, structures: Sequence) -> list[int]:
    """For each structure of ``res``, its index in ``structures`` (ASE atoms, e.g. ``frames(dataset,
    split="test")``), matched by identical coordinates. Raises ``KeyError`` for a structure not among them."""
    row_of = {a.positions.tobytes(): i for i, a in enumerate(structures)}
    return [row_of[res.positions[res.offsets[k]:res.offsets[k + 1]].tobytes()] for k in range(len(res))]


def explain_on_test_split(model_dir: str | os.PathLike, out: str | os.PathLike, *, dataset: str = DATASET,
                          rule: str = "gi", gamma: float = 0.1, composite: str = "features",
                          structures: Sequence | None = None, progress: bool = False,
                          stored_order: int | None = None, frames_per_molecule: int | None = None) -> RelevanceResults:
    """Explain one saved model on the test split of ``dataset`` and save the results to ``out``.

    The metadata gets the provenance record (:func:`xailib.base.io.provenance`) and ``model``,
    ``model_sha256``, ``dataset``, ``split``, ``wall_s`` and ``torch_threads``. ``structures``: the test
    frames, when the caller already has them. ``frames_per_molecule``: explain only the first frames of each
    test molecule (:func:`first_frames`; all 60 molecules stay). ``stored_order``: store terms up to this
    order (:meth:`RelevanceResults.truncated`: the rest goes to the remainders, per-structure order sums
    stay complete).
    """
    import torch

    from xailib.models import load_model

    model_dir = Path(model_dir)
    structures = frames(dataset, split="test") if structures is None else structures
    ids = test_molecule_ids(dataset)
    if frames_per_molecule is not None:
        keep = first_frames(ids, frames_per_molecule)
        structures, ids = [structures[k] for k in keep], [ids[k] for k in keep]
    start = time.perf_counter()
    results = explain_dataset(load_model(model_dir), structures, rule=rule, gamma=gamma, composite=composite,
                              progress=progress)
    wall = time.perf_counter() - start
    results.meta.update(provenance(wall_s=wall), model=model_dir.name, model_sha256=sha256(model_dir / "model.pt"),
                        dataset=dataset, split="test_idx", wall_s=round(wall, 1),
                        molecule_ids=ids if len(ids) == len(results) else None,
                        frames_per_molecule=frames_per_molecule,
                        torch_threads=torch.get_num_threads())
    if stored_order is not None:
        results = results.truncated(stored_order)
    save_results(results, out)
    return results


def explain_test_sets(models: Sequence[str] | None = None, *, rule: str = "gi", gamma: float = 0.1,
                      composite: str = "features", force: bool = False, stored_order: int | None = None,
                      frames_per_molecule: int | None = None, models_dir: str | os.PathLike | None = None,
                      directory: str | os.PathLike | None = None, progress: bool = False,
                      log: Callable[[str], None] = print) -> list[Path]:
    """Explain models on the ``nci-small`` test split; returns the result files written.

    Parameters
    ----------
    models
        Model folder names under ``models_dir`` (default: every ``nci-small-*`` model there).
    rule, gamma, composite
        LRP rule (``"gi"`` or ``"gamma"``), the gamma of the gamma rule and the composite
        (``"features"`` or ``"reference"``); the file name follows :func:`result_name`.
    stored_order, frames_per_molecule
        As in :func:`explain_on_test_split`; default everything. ``data/`` keeps full results for the primary
        (seed 0) energy models under rule gi and stores the rest to order 2 (see ``make relevance``).
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
    from xailib.lrp.composites import check_composite

    check_composite(composite)
    out_of = {n: results_path(result_name(n, rule, composite), data) for n in names}
    todo = [n for n in names if force or not out_of[n].exists()]
    for n in sorted(set(names) - set(todo)):
        log(f"{n}: {out_of[n]} exists, skipped (--force to recompute)")
    if not todo:
        return []
    torch.set_num_threads(1)
    set_seed(0)
    structures = frames(DATASET, split="test", directory=data)
    written = []
    for name in todo:
        out = out_of[name]
        results = explain_on_test_split(folder / name, out, rule=rule, gamma=gamma, composite=composite,
                                        structures=structures, progress=progress, stored_order=stored_order,
                                        frames_per_molecule=frames_per_molecule)
        written.append(out)
        wall = results.meta["wall_s"]
        log(f"{name}: {len(results)} structures, rule {rule} ({composite}), {wall:.0f} s "
            f"({wall / len(results):.3f} s/structure), {out.stat().st_size / 1e6:.2f} MB")
    update_manifest(data, written)
    return written
