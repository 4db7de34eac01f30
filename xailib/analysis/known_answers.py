"""Known answers: relevances of models trained on synthetic potentials, stored beside the exact terms.

The models ``synthetic-<potential>-<architecture>[-seed<N>]`` (``configs/synthetic/``, trained by
``make synthetic`` into ``data/synthetic/models/``, not committed) are explained on the first (relaxed)
frame of each of the 60 ``nci-small`` test molecules, under three rule sets (:data:`RULE_SETS`); the
same architectures at their random initialisation (``synthetic-init-<architecture>[-seed<N>]``: the
initial weights of the ``pair_power`` runs) are the baseline. ``data/synthetic/results/<model>.npz``
(committed) holds, per rule set, the learned term of every atom pair (and, under gi for ``pair_power_atm``,
every triple) in a
canonical order (:func:`canonical_pairs`), the order sums and the explained output, so the exact terms
(:mod:`xailib.analysis.synthetic`, recomputed in milliseconds) line up with them index by index.
A 3-interaction network's terms stop at 4 atoms, so gi with ``max_order = 4`` is complete (no remainder);
under gamma the order-4 column is the walk remainder (the net 4-body sum).
"""

from __future__ import annotations

import json
import os
import re
from itertools import combinations
from pathlib import Path

import numpy as np
from ase import Atoms

from xailib.analysis.synthetic import POTENTIALS
from xailib.analysis.test_sets import first_frames, test_molecule_ids
from xailib.base.errors import XailibError
from xailib.base.paths import data_dir
from xailib.data import frames
from xailib.data.store import progress_bar, read_split

#: Rule sets: tag -> (rule, composite, max_order).
RULE_SETS = {"gi": ("gi", "features", 4), "gamma-features": ("gamma", "features", 3),
             "gamma-reference": ("gamma", "reference", 3)}
#: The baseline models (random initialisation) are explained under these rule sets only.
INIT_RULE_SETS = ("gi",)
DATASET = "nci-small"
_NAME = re.compile(r"^synthetic-(?P<potential>[a-z_]+)-(?P<architecture>schnet|painn)(?:-seed(?P<seed>\d+))?$")


class KnownAnswerError(XailibError, ValueError):
    """A model name or result that is not part of the known-answer study."""


def models_dir(directory: str | os.PathLike | None = None) -> Path:
    return Path(directory) if directory is not None else data_dir() / "synthetic" / "models"


def results_dir(directory: str | os.PathLike | None = None) -> Path:
    return Path(directory) if directory is not None else data_dir() / "synthetic" / "results"


def parse_name(name: str) -> dict:
    """``{"potential", "architecture", "seed"}`` of a known-answer model name (``potential`` is ``init`` for
    the random-initialisation baselines)."""
    m = _NAME.match(name)
    if m is None or m["potential"] not in (*POTENTIALS, "init"):
        raise KnownAnswerError(f"{name!r} is not a known-answer model name (synthetic-<potential>-<schnet|painn>"
                               f"[-seed<N>], potential one of {', '.join(POTENTIALS)} or init)")
    return {"potential": m["potential"], "architecture": m["architecture"], "seed": int(m["seed"] or 0)}


def trained_models(directory: str | os.PathLike | None = None) -> list[str]:
    """Names of the trained known-answer models (folders with ``model.pt``), sorted."""
    folder = models_dir(directory)
    return sorted(p.name for p in folder.glob("synthetic-*") if (p / "model.pt").exists() and _NAME.match(p.name))


def check_explainable(names: list[str], directory: str | os.PathLike | None = None) -> None:
    """Raise :class:`KnownAnswerError` unless every name is a known-answer model that can be explained now
    (a trained folder; for a baseline, the ``pair_power`` run of its architecture and seed)."""
    for name in names:
        info = parse_name(name)
        source = name.replace("synthetic-init-", "synthetic-pair_power-") if info["potential"] == "init" else name
        if not (models_dir(directory) / source / "model.pt").exists():
            raise KnownAnswerError(f"{name} needs the trained model {models_dir(directory) / source}; train it "
                                   "first (make synthetic)")


def init_name(trained: str) -> str:
    """The baseline of a trained model: its architecture and seed at random initialisation."""
    info = parse_name(trained)
    return f"synthetic-init-{info['architecture']}" + (f"-seed{info['seed']}" if info["seed"] else "")


def initial_model(trained_folder: str | os.PathLike, dataset: str | os.PathLike | None = None):
    """The model of a trained folder as it was before training: same seed, same build, same output bias start
    (the training mean of ``dataset``, default the run's own training database)."""
    from xailib.base.seed import set_seed
    from xailib.models.build import build_model
    from xailib.models.config import ModelConfig
    from xailib.models.training import init_output_bias, target_mean

    folder = Path(trained_folder)
    cfg = ModelConfig.from_dict(json.loads((folder / "config.json").read_text()))
    tc = json.loads((folder / "train_config.json").read_text())
    set_seed(int(tc["seed"]))
    model = build_model(cfg)
    if cfg.offset in ("free_atoms", "none"):
        from xailib.base.paths import resolve_path

        train_idx = read_split(resolve_path(tc["split_file"]))["train_idx"]
        for t in cfg.targets:
            db = Path(dataset) if dataset is not None else resolve_path(tc["dataset"])
            init_output_bias(model, t, target_mean(db, train_idx, t, cfg))
    return model.eval()


def test_structures(dataset: str = DATASET) -> list[Atoms]:
    """The first (relaxed) frame of each test molecule, in test-split order."""
    return frames(dataset, "test", indices=first_frames(test_molecule_ids(dataset), 1))


def canonical_pairs(structures: list[Atoms]) -> dict[str, np.ndarray]:
    """Every atom pair ``i < j`` of every structure, in the order the results store them.

    Returns ``structure``, ``i``, ``j``, ``z`` (sorted atomic numbers, shape ``(P, 2)``) and ``r`` (Angstrom).
    """
    cols: dict[str, list] = {"structure": [], "i": [], "j": [], "z": [], "r": []}
    for k, atoms in enumerate(structures):
        i, j = np.triu_indices(len(atoms), 1)
        d = atoms.get_all_distances()[i, j]
        cols["structure"].append(np.full(len(i), k))
        cols["i"].append(i)
        cols["j"].append(j)
        cols["z"].append(np.sort(np.stack([atoms.numbers[i], atoms.numbers[j]], 1), 1))
        cols["r"].append(d)
    return {k: np.concatenate(v) for k, v in cols.items()}


def canonical_triples(structures: list[Atoms]) -> list[tuple[int, int, int, int]]:
    """``(structure, i, j, k)`` of every atom triple ``i < j < k``, in stored order."""
    return [(s, *t) for s, atoms in enumerate(structures) for t in combinations(range(len(atoms)), 3)]


def _explain_one(model, structures: list[Atoms], rule: str, composite: str, max_order: int, triples: bool,
                 desc: str, progress: bool) -> dict[str, np.ndarray]:
    from xailib.lrp import nbody_relevances

    pair, triple, orders, orders_abs, scalars = [], [], [], [], {k: [] for k in ("output", "rule_output", "total",
                                                                                "bias_total")}
    for atoms in progress_bar(structures, progress, desc):
        res = nbody_relevances(model, atoms, max_order=max_order, rule=rule, composite=composite)
        terms = res.combined_terms()
        i, j = np.triu_indices(len(atoms), 1)
        pair.append([terms.get((a, b), 0.0) for a, b in zip(i, j)])
        if triples:
            triple.append([terms.get(t, 0.0) for t in combinations(range(len(atoms)), 3)])
        signed, absolute = np.zeros(4), np.zeros(4)
        for key, value in terms.items():
            signed[len(key) - 1] += value
            absolute[len(key) - 1] += abs(value)
        if max_order < 4:  # the walk and bias remainders are the net 4-body sum of a 3-interaction model
            signed[3] = res.remainder + res.bias_remainder
            absolute[3] = abs(signed[3])
        orders.append(signed)
        orders_abs.append(absolute)
        for k, v in (("output", res.output), ("rule_output", res.rule_output), ("total", res.total),
                     ("bias_total", res.bias_total)):
            scalars[k].append(v)
    out = {"pair": np.concatenate(pair).astype(np.float32), "orders": np.array(orders),
           "orders_abs": np.array(orders_abs), **{k: np.array(v) for k, v in scalars.items()}}
    if triples:
        out["triple"] = np.concatenate(triple).astype(np.float32)
    return out


def explain_known_answer_models(names: list[str] | None = None, *, force: bool = False, progress: bool = True,
                                models_directory: str | os.PathLike | None = None,
                                out_directory: str | os.PathLike | None = None,
                                structures: list[Atoms] | None = None) -> list[Path]:
    """Explain trained known-answer models and their random-initialisation baselines; write their results.

    ``names`` default to every trained model (:func:`trained_models`) plus the baselines of their
    architectures and seeds; a baseline name (``synthetic-init-...``) is built from the matching
    ``pair_power`` run. Existing result files are kept unless ``force``. ``structures`` default to
    :func:`test_structures` (give others only for tests). Returns the written paths.
    """
    from xailib.models import load_model

    trained = trained_models(models_directory)
    if names is None:
        names = trained + sorted({init_name(n) for n in trained if parse_name(n)["potential"] == "pair_power"})
    check_explainable(names, models_directory)
    infos = {n: parse_name(n) for n in names}
    out_dir = results_dir(out_directory)
    out_dir.mkdir(parents=True, exist_ok=True)
    structures = test_structures() if structures is None else structures
    written = []
    for name, info in infos.items():
        path = out_dir / f"{name}.npz"
        if path.exists() and not force:
            continue
        if info["potential"] == "init":
            source = name.replace("synthetic-init-", "synthetic-pair_power-")
            folder = models_dir(models_directory) / source
            from xailib.analysis.synthetic_data import ensure_synthetic_dataset

            model, tags = initial_model(folder, ensure_synthetic_dataset("pair_power", progress=False)), INIT_RULE_SETS
        else:
            folder = models_dir(models_directory) / name
            model, tags = load_model(folder), tuple(RULE_SETS)
        arrays = {}
        for tag in tags:
            rule, composite, max_order = RULE_SETS[tag]
            part = _explain_one(model, structures, rule, composite, max_order, triples=tag == "gi" and info["potential"] == "pair_power_atm",
                                desc=f"{name} {tag}", progress=progress)
            arrays.update({f"{tag}/{k}": v for k, v in part.items()})
        metrics = json.loads((folder / "metrics.json").read_text()) if info["potential"] != "init" else {}
        meta = {**info, "name": name, "trained": info["potential"] != "init", "dataset": DATASET,
                "rows": [int(a.info.get("row", -1)) for a in structures], "rule_sets": {t: RULE_SETS[t] for t in tags},
                "metrics": {k: metrics.get(k) for k in ("energy_mae_meV", "forces_mae_meV_per_A", "epochs",
                                                         "best_epoch", "converged", "device", "training_wall_time_s")}}
        tmp = path.with_name(path.stem + ".tmp.npz")
        np.savez_compressed(tmp, meta=np.array(json.dumps(meta)), **arrays)
        os.replace(tmp, path)
        written.append(path)
    return written
