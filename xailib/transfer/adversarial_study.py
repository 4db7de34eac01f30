"""The adversarial-validation study of chapter 08: nci-small against nci-large, and the shipped models' errors.

:func:`adversarial_study` validates the two NCI sets with three kinds of descriptors (molecule, size-free
molecule, atom environment; :mod:`xailib.transfer.descriptors`) and evaluates the shipped
``nci-small-energy-<arch>`` models on both sets; the result is cached in ``data/transfer/adversarial.npz``
(:func:`save_adversarial`, :func:`load_adversarial`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from xailib.base.io import load_npz, provenance, save_npz
from xailib.base.paths import resolve_path
from xailib.transfer.adversarial import adversarial_validation, random_split_control
from xailib.transfer.descriptors import atom_descriptors, bonds, intensive, molecule_descriptors
from xailib.transfer.partition_runs import equilibrium_frames

__all__ = ["ADVERSARIAL_FILE", "ADVERSARIAL_ELEMENTS", "env_labels", "adversarial_study", "save_adversarial",
           "load_adversarial"]

#: The cached result of :func:`adversarial_study`.
ADVERSARIAL_FILE = "data/transfer/adversarial.npz"
#: Elements of the descriptors (every element of the NCI sets).
ADVERSARIAL_ELEMENTS = ["H", "C", "N", "O", "F", "S", "Cl"]
_SETS = (("nci-small", "small"), ("nci-large", "large"))
_HOW = "python -m xailib study transfer adversarial"


def env_labels(atoms) -> list[str]:
    """Element and its bonded neighbours' elements (sorted) of every atom, e.g. ``C(CHHO)``."""
    i, j, _ = bonds(atoms)
    sym = atoms.get_chemical_symbols()
    nb: list[list[str]] = [[] for _ in sym]
    for a, b in zip(i, j):
        nb[a].append(sym[b])
        nb[b].append(sym[a])
    return [f"{s}({''.join(sorted(n))})" for s, n in zip(sym, nb)]


def _validate(a, b, tag: str, folds: int, seed: int, out: dict, meta: dict) -> None:
    res = adversarial_validation(a.X, b.X, groups_a=a.groups, groups_b=b.groups, folds=folds, seed=seed,
                                 feature_names=a.names)
    ctrl = random_split_control(a.X, groups=a.groups, folds=folds, seed=seed)
    out.update({f"{tag}_auc": res.auc, f"{tag}_ci": np.array(res.auc_ci), f"{tag}_ctrl_auc": ctrl.auc,
                f"{tag}_ctrl_ci": np.array(ctrl.auc_ci), f"{tag}_proba_small": res.proba_a.astype(np.float16),
                f"{tag}_proba_large": res.proba_b.astype(np.float16)})
    meta[f"{tag}_top_features"] = res.top_features(15)
    print(f"{tag}: AUC {res.auc:.3f} {res.auc_ci}, control {ctrl.auc:.3f} {ctrl.auc_ci}", flush=True)


def adversarial_study(*, seed: int = 0, folds: int = 5, elements: Sequence[str] = ADVERSARIAL_ELEMENTS,
                      archs: Sequence[str] = ("schnet", "painn")) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Adversarial validation of nci-small (A) against nci-large (B) and the shipped models' errors on both.

    Returns ``(arrays, meta)`` in the format of :func:`save_adversarial`. About 5 min on one core.
    """
    import sklearn
    import xgboost

    from xailib.base.seed import set_seed
    from xailib.data import db_path, frame_table, frames, load_split
    from xailib.models import evaluate, load_model

    set_seed(seed)
    start = time.perf_counter()
    out: dict[str, np.ndarray] = {}
    meta: dict[str, Any] = {}
    tables = {n: frame_table(n) for n, _ in _SETS}
    fr = {n: frames(n) for n, _ in _SETS}

    # molecule level, every frame, grouped by molecule; then without the size columns
    desc = {n: molecule_descriptors(fr[n], elements=elements, groups=tables[n]["mol_id"]) for n in fr}
    for tag, d in (("mol", desc), ("int", {n: intensive(v) for n, v in desc.items()})):
        _validate(d["nci-small"], d["nci-large"], tag, folds, seed, out, meta)
        meta[f"{tag}_n_features"] = len(d["nci-small"].names)

    # atom level, relaxed structures (one per molecule), grouped by molecule
    labels: dict[str, int] = {}
    ad = {}
    for n, tag in _SETS:
        rows = equilibrium_frames(n)
        mols = [fr[n][r] for r in rows]
        ad[n] = atom_descriptors(mols, elements=elements, groups=np.arange(len(rows)))
        env = [lab for m in mols for lab in env_labels(m)]
        out[f"atom_env_{tag}"] = np.array([labels.setdefault(e, len(labels)) for e in env], dtype=np.int16)
        out[f"atom_numbers_{tag}"] = ad[n].numbers.astype(np.int8)
        out[f"atom_mol_{tag}"] = ad[n].groups.astype(np.int16)
        out[f"atom_frames_{tag}"] = rows
    _validate(ad["nci-small"], ad["nci-large"], "atom", folds, seed, out, meta)
    meta["env_labels"] = list(labels)

    # errors of the shipped nci-small models: nci-small test frames, every nci-large frame (database order)
    test = load_split("nci-small")["test_idx"]
    out["frames_small"] = test
    for n, tag, idx in (("nci-small", "small", test), ("nci-large", "large", np.arange(len(fr["nci-large"])))):
        for arch in archs:
            t0 = time.perf_counter()
            model = load_model(f"nci-small-energy-{arch}")
            r = evaluate(model, db_path(n), idx, return_predictions=True)["predictions"]
            out[f"err_{arch}_{tag}"] = (r["energy"]["pred"] - r["energy"]["ref"]).astype(np.float16)
            fe = np.abs(r["forces"]["pred"] - r["forces"]["ref"]).mean(axis=1)
            split = np.cumsum(r["n_atoms"])[:-1]
            out[f"fmae_{arch}_{tag}"] = np.array([x.mean() for x in np.split(fe, split)], dtype=np.float16)
            print(f"{arch} on {n}: {len(idx)} frames in {time.perf_counter() - t0:.0f} s", flush=True)

    meta = provenance(wall_s=time.perf_counter() - start, packages=("numpy", "xgboost", "scikit-learn", "torch",
                                                                    "schnetpack"),
                      elements=list(elements), seed=seed, folds=folds, xgboost=xgboost.__version__,
                      sklearn=sklearn.__version__, **meta)
    return out, meta


def save_adversarial(arrays: Mapping[str, Any], meta: Mapping[str, Any],
                     path: str | os.PathLike = ADVERSARIAL_FILE) -> Path:
    """Write the adversarial-validation cache (default ``data/transfer/adversarial.npz``).

    Format (``.npz``), for ``tag`` in ``mol`` (molecule descriptors of every frame,
    :func:`~xailib.transfer.molecule_descriptors`), ``int`` (the same with size taken out,
    :func:`~xailib.transfer.intensive`) and ``atom`` (atom-environment descriptors of the relaxed
    structures, one per molecule): ``<tag>_auc`` (out-of-fold ROC-AUC stratified by test fold, xgboost,
    5 folds grouped by molecule; :func:`~xailib.transfer.adversarial_validation`), ``<tag>_ci`` (group
    bootstrap 95 % interval, widened for cross-validation), ``<tag>_ctrl_auc`` / ``<tag>_ctrl_ci`` (random-split
    control of nci-small), out-of-fold probabilities ``<tag>_proba_small`` / ``<tag>_proba_large``
    (float16; per frame, or per atom for ``atom``). Atom level also: ``atom_numbers_<set>`` (int8),
    ``atom_mol_<set>`` (int16, molecule index), ``atom_frames_<set>`` (rows of the relaxed frames),
    ``atom_env_<set>`` (int16, element and bonded neighbours such as ``C(CHHO)`` as an index into
    ``meta["env_labels"]``). Errors of the shipped ``nci-small-energy-<arch>`` models: ``err_<arch>_<set>``
    (float16, eV, predicted minus reference energy per frame) and ``fmae_<arch>_<set>`` (float16,
    eV/Angstrom, force MAE per frame) on the nci-small test frames ``frames_small`` and on every
    nci-large frame in database order. ``meta`` (JSON): ``<tag>_top_features`` (name, mean gain),
    ``<tag>_n_features``, ``env_labels``, ``elements``, ``seed``, ``folds``, ``xgboost``, ``sklearn``,
    command, versions and wall time.
    """
    for key in ("mol_auc", "int_auc", "atom_auc", "frames_small"):
        if key not in arrays:
            raise ValueError(f"an adversarial-validation cache needs the array {key!r}")
    if "env_labels" not in meta:
        raise ValueError("an adversarial-validation cache needs meta['env_labels']")
    return save_npz(resolve_path(path), dict(arrays), meta)


def load_adversarial(path: str | os.PathLike = ADVERSARIAL_FILE) -> dict:
    """The arrays of the adversarial-validation cache (format: :func:`save_adversarial`) and its ``meta``."""
    arrays, meta = load_npz(resolve_path(path), how_to_make=_HOW)
    return {**arrays, "meta": meta}
