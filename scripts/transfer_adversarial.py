"""Adversarial validation of nci-small against nci-large, and the shipped models' errors on both.

Writes ``data/transfer/adversarial.npz`` (read by book/08_adversarial_validation.md):

* ``mol_*``: molecule descriptors of every frame (:func:`xailib.descriptors.molecule_descriptors`),
  xgboost adversarial validation grouped by molecule (5 folds): ``mol_auc``, ``mol_ci``, out-of-fold
  probabilities ``mol_proba_small`` / ``mol_proba_large`` (float16), and the random-split control of
  nci-small (``mol_ctrl_auc``, ``mol_ctrl_ci``);
* ``int_*``: the same with size taken out (:func:`xailib.descriptors.intensive`);
* ``atom_*``: atom-environment descriptors of the relaxed structures (one per molecule), grouped by
  molecule: AUC, interval, control, per-atom probabilities, atomic numbers, molecule index, and an
  environment label (element and its bonded neighbours, e.g. ``C(CHHO)``) as an index into
  ``meta["env_labels"]``;
* ``err_<model>_<set>``: energy error (eV, predicted minus reference) per frame of the shipped
  ``data/models/nci-small-energy-<model>`` on the nci-small test frames and on all nci-large frames
  (float16), ``fmae_<model>_<set>`` the force MAE per frame (eV/Angstrom, float16), ``frames_small`` the
  nci-small test frames (nci-large: all frames in database order);
* ``meta`` (JSON): top features of each validation, settings, command, versions, wall time.

    OMP_NUM_THREADS=1 PYTHONPATH=. python scripts/transfer_adversarial.py     # about 5 min on one core
"""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path

import numpy as np

from xailib import repo_root, set_seed
from xailib.adversarial import adversarial_validation, atom_descriptors, molecule_descriptors, random_split_control
from xailib.datasets import db_path, frame_table, load_split
from xailib.descriptors import bonds, intensive

ELEMENTS = ["H", "C", "N", "O", "F", "S", "Cl"]
SEED = 0


def frames(name: str):
    from ase.db import connect

    with connect(str(db_path(name))) as db:
        return [row.toatoms() for row in db.select()]


def env_labels(atoms) -> list[str]:
    """Element and its bonded neighbours' elements (sorted), e.g. ``C(CHHO)``."""
    i, j, _ = bonds(atoms)
    sym = atoms.get_chemical_symbols()
    nb: list[list[str]] = [[] for _ in sym]
    for a, b in zip(i, j):
        nb[a].append(sym[b])
        nb[b].append(sym[a])
    return [f"{s}({''.join(sorted(n))})" for s, n in zip(sym, nb)]


def main() -> Path:
    import sklearn
    import xgboost
    from tqdm.auto import tqdm

    from xailib.models import load_model
    from xailib.training import evaluate

    set_seed(SEED)
    start = time.perf_counter()
    out: dict[str, np.ndarray] = {}
    meta: dict = {"elements": ELEMENTS, "seed": SEED, "folds": 5}
    tables = {n: frame_table(n) for n in ("nci-small", "nci-large")}
    fr = {n: frames(n) for n in tqdm(tables, desc="read frames")}

    # molecule level, every frame, grouped by molecule
    desc = {n: molecule_descriptors(fr[n], elements=ELEMENTS, groups=tables[n]["mol_id"]) for n in fr}
    for tag, d in (("mol", desc), ("int", {n: intensive(v) for n, v in desc.items()})):
        a, b = d["nci-small"], d["nci-large"]
        res = adversarial_validation(a.X, b.X, groups_a=a.groups, groups_b=b.groups, folds=5, seed=SEED,
                                     feature_names=a.names)
        ctrl = random_split_control(a.X, groups=a.groups, folds=5, seed=SEED)
        out.update({f"{tag}_auc": res.auc, f"{tag}_ci": np.array(res.auc_ci), f"{tag}_ctrl_auc": ctrl.auc,
                    f"{tag}_ctrl_ci": np.array(ctrl.auc_ci), f"{tag}_proba_small": res.proba_a.astype(np.float16),
                    f"{tag}_proba_large": res.proba_b.astype(np.float16)})
        meta[f"{tag}_top_features"] = res.top_features(15)
        meta[f"{tag}_n_features"] = len(a.names)
        print(f"{tag}: AUC {res.auc:.3f} {res.auc_ci}, control {ctrl.auc:.3f} {ctrl.auc_ci}", flush=True)

    # atom level, relaxed structures
    labels: dict[str, int] = {}
    ad = {}
    for n, tag in (("nci-small", "small"), ("nci-large", "large")):
        rows = np.flatnonzero(tables[n]["t_fs"] == 0.0)
        mols = [fr[n][r] for r in rows]
        ad[n] = atom_descriptors(mols, elements=ELEMENTS, groups=np.arange(len(rows)))
        env = [lab for m in mols for lab in env_labels(m)]
        out[f"atom_env_{tag}"] = np.array([labels.setdefault(e, len(labels)) for e in env], dtype=np.int16)
        out[f"atom_numbers_{tag}"] = ad[n].numbers.astype(np.int8)
        out[f"atom_mol_{tag}"] = ad[n].groups.astype(np.int16)
        out[f"atom_frames_{tag}"] = rows
    a, b = ad["nci-small"], ad["nci-large"]
    res = adversarial_validation(a.X, b.X, groups_a=a.groups, groups_b=b.groups, folds=5, seed=SEED,
                                 feature_names=a.names)
    ctrl = random_split_control(a.X, groups=a.groups, folds=5, seed=SEED)
    out.update({"atom_auc": res.auc, "atom_ci": np.array(res.auc_ci), "atom_ctrl_auc": ctrl.auc,
                "atom_ctrl_ci": np.array(ctrl.auc_ci), "atom_proba_small": res.proba_a.astype(np.float16),
                "atom_proba_large": res.proba_b.astype(np.float16)})
    meta["atom_top_features"] = res.top_features(15)
    meta["env_labels"] = list(labels)
    print(f"atom: AUC {res.auc:.3f} {res.auc_ci}, control {ctrl.auc:.3f} {ctrl.auc_ci}", flush=True)

    # errors of the shipped nci-small models
    test = load_split("nci-small")["test_idx"]
    for n, tag, idx in (("nci-small", "small", test), ("nci-large", "large", np.arange(len(fr["nci-large"])))):
        if tag == "small":  # (nci-large: every frame, in database order)
            out["frames_small"] = idx
        for arch in ("schnet", "painn"):
            t0 = time.perf_counter()
            model = load_model(Path(repo_root()) / "data" / "models" / f"nci-small-energy-{arch}")
            r = evaluate(model, db_path(n), idx, return_predictions=True)["predictions"]
            out[f"err_{arch}_{tag}"] = (r["energy"]["pred"] - r["energy"]["ref"]).astype(np.float16)
            fe = np.abs(r["forces"]["pred"] - r["forces"]["ref"]).mean(axis=1)
            split = np.cumsum(r["n_atoms"])[:-1]
            out[f"fmae_{arch}_{tag}"] = np.array([x.mean() for x in np.split(fe, split)], dtype=np.float16)
            print(f"{arch} on {n}: {len(idx)} frames in {time.perf_counter() - t0:.0f} s", flush=True)

    meta.update(command="PYTHONPATH=. python scripts/transfer_adversarial.py", wall_time_s=round(time.perf_counter() - start, 1),
                xgboost=xgboost.__version__, sklearn=sklearn.__version__, python=platform.python_version())
    path = Path(repo_root()) / "data" / "transfer" / "adversarial.npz"
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, meta=json.dumps(meta), **out)
    print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KiB) in {meta['wall_time_s']} s")
    return path


if __name__ == "__main__":
    main()
