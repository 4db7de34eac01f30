"""The NCI datasets: ``nci-small`` (all filtered molecules with at most 9 heavy atoms) and ``nci-large``
(a seeded sample of molecules with 10 to 20 heavy atoms).

Per molecule (seeded by its NCI number, so results do not depend on the number of workers):
ETKDGv3 embedding and MMFF94 pre-optimisation (RDKit), GFN2-xTB BFGS relaxation, then short GFN2-xTB
Langevin MD at a temperature drawn uniformly from 300-500 K; the relaxed structure and 10 MD frames are
labelled. A molecule is rejected (and logged) when any kept structure's bond graph differs from the
SMILES graph, or when embedding, relaxation or MD fail.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import pickle
import time
from dataclasses import asdict, replace
from functools import partial
from pathlib import Path

import numpy as np

from xailib.base.paths import data_dir
from xailib.base.units import DISTANCE_UNIT, PROPERTY_UNITS
from xailib.data.molecules import (
    NCI_FILTER_TEXT,
    SourceMolecule,
    element_counts,
    embed,
    filter_nci,
    graph_changes,
    smiles_adjacency,
    to_atoms,
)
from xailib.data.sampling import MDSettings, langevin, relax
from xailib.data.store import (
    SPLIT_FRACTIONS,
    DatasetError,
    derived_seed,
    label_frames,
    split_by_group,
    tblite_version,
    write_db,
    write_split,
)
from xailib.qm.xtb import LEVEL_OF_THEORY

#: Heavy-atom ranges and sample sizes (``None``: every molecule that passes the filter).
NCI_SETS = {
    "nci-small": {"min_heavy": 1, "max_heavy": 9, "sample": None},
    "nci-large": {"min_heavy": 10, "max_heavy": 20, "sample": 410},
}
#: Short MD per molecule; the temperature is drawn per molecule from ``NCI_TEMPERATURE_RANGE``.
NCI_MD = MDSettings(temperature_K=400.0, timestep_fs=1.0, friction_per_fs=0.02, n_warmup=50, stride=5,
                    n_frames=10, init_factor=2.0)
NCI_TEMPERATURE_RANGE = (300.0, 500.0)


def candidates(name: str) -> tuple[list[SourceMolecule], dict]:
    """Molecules to compute for an NCI set and a description of how they were chosen."""
    if name not in NCI_SETS:
        raise DatasetError(f"unknown NCI set {name!r}; known: {sorted(NCI_SETS)}")
    spec = NCI_SETS[name]
    kept, reasons = filter_nci(spec["min_heavy"], spec["max_heavy"])
    info = {"filter": f"{NCI_FILTER_TEXT} ({spec['min_heavy']}-{spec['max_heavy']})",
            "n_passing_filter": len(kept), "filter_rejections": reasons}
    if spec["sample"] is not None:
        seed = derived_seed(name, "sample")
        idx = np.sort(np.random.default_rng(seed).choice(len(kept), size=spec["sample"], replace=False))
        kept = [kept[i] for i in idx]
        info["sample"] = {"size": spec["sample"], "seed": seed, "how": "numpy default_rng(seed).choice without "
                          "replacement from the filtered list in file order"}
    return kept, info


def process_molecule(mol: SourceMolecule, md: MDSettings = NCI_MD) -> dict:
    """Structures and labels of one molecule, or its rejection reason (never raises for chemistry)."""
    t0 = time.perf_counter()
    seed = derived_seed(mol.mol_id)
    rng = np.random.default_rng(derived_seed(mol.mol_id, "temperature"))
    target = float(rng.uniform(*NCI_TEMPERATURE_RANGE))
    out = {"mol_id": mol.mol_id, "smiles": mol.smiles, "target_K": target, "records": [], "reason": None}
    try:
        rdmol = embed(mol.smiles, seed)
        ref = smiles_adjacency(rdmol)
        relaxed, out["opt_steps"] = relax(to_atoms(rdmol))
        if changes := graph_changes(ref, relaxed.numbers, relaxed.positions):
            out["reason"] = f"bond graph changed on relaxation: {changes}"
            return out
        traj = langevin(relaxed, replace(md, temperature_K=target), seed=seed)
        for k, pos in enumerate(traj.positions, start=1):
            if changes := graph_changes(ref, traj.numbers, pos):
                out["reason"] = f"bond graph changed in MD frame {k}: {changes}"
                return out
        positions = [relaxed.positions] + traj.positions
        metas = [{"mol_id": mol.mol_id, "t_fs": 0.0, "temperature_K": 0.0}]
        metas += [{"mol_id": mol.mol_id, "t_fs": t, "temperature_K": temp}
                  for t, temp in zip(traj.time_fs, traj.temperature_K)]
        out["records"] = label_frames(traj.numbers, positions, metas)
    except Exception as exc:  # logged as a rejection; the message names the failing step
        out["reason"] = f"{type(exc).__name__}: {exc}"
        out["records"] = []
    finally:
        out["seconds"] = time.perf_counter() - t0
    return out


def _init_worker() -> None:
    os.environ["OMP_NUM_THREADS"] = "1"
    import warnings

    warnings.filterwarnings("ignore")


def _cache_file(cache_dir: str | None, mol: SourceMolecule, suffix: str = ".pkl") -> Path | None:
    return None if cache_dir is None else Path(cache_dir) / f"{mol.mol_id}{suffix}"


def _process_cached(mol: SourceMolecule, cache_dir: str | None = None) -> dict | None:
    """:func:`process_molecule` with an optional on-disk cache shared by processes.

    A molecule is claimed with an exclusively created ``.claim`` file, so several processes can work on
    one set; returns ``None`` when another process holds the claim. Results are deterministic, so a
    cached result equals a fresh one.
    """
    path = _cache_file(cache_dir, mol)
    if path is None:
        return process_molecule(mol)
    if path.exists():
        with open(path, "rb") as fh:
            return pickle.load(fh)
    claim = _cache_file(cache_dir, mol, ".claim")
    try:
        os.close(os.open(claim, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return None
    result = process_molecule(mol)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    with open(tmp, "wb") as fh:
        pickle.dump(result, fh)
    os.replace(tmp, path)
    claim.unlink(missing_ok=True)
    return result


def compute(mols: list[SourceMolecule], workers: int = 1, progress: bool = True, desc: str = "",
            cache_dir: str | os.PathLike | None = None, wait_s: float = 5.0) -> list[dict]:
    """:func:`process_molecule` for every molecule, in input order (``workers`` processes).

    With ``cache_dir`` results are cached per molecule (resumable; several processes may share the
    folder). Molecules claimed by another process are awaited; remove stale ``*.claim`` files of
    processes that died.
    """
    from tqdm.auto import tqdm

    cache = None if cache_dir is None else str(cache_dir)
    if cache is not None:
        Path(cache).mkdir(parents=True, exist_ok=True)
    bar = tqdm(total=len(mols), desc=desc, unit="mol", disable=not progress)
    results: list[dict | None] = []
    if workers <= 1:
        for m in mols:
            results.append(_process_cached(m, cache))
            bar.update(1)
    else:
        with mp.get_context("fork").Pool(workers, initializer=_init_worker) as pool:
            for r in pool.imap(partial(_process_cached, cache_dir=cache), mols, chunksize=1):
                results.append(r)
                bar.update(1)
    bar.close()
    for k, m in enumerate(mols):
        while results[k] is None:  # claimed by another process: wait for its result
            path = _cache_file(cache, m)
            if path.exists():
                with open(path, "rb") as fh:
                    results[k] = pickle.load(fh)
            else:
                time.sleep(wait_s)
    return results


def build_nci(name: str, directory: str | os.PathLike | None = None, progress: bool = True, workers: int = 1,
              limit: int | None = None, cache_dir: str | os.PathLike | None = None) -> dict:
    """Build ``nci-small`` or ``nci-large`` (``limit``: only the first molecules, for tests;
    ``cache_dir``: resumable per-molecule cache, see :func:`compute`)."""
    out_dir = data_dir(directory)
    out_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    mols, info = candidates(name)
    if limit is not None:
        mols = mols[:limit]
    results = compute(mols, workers=workers, progress=progress, desc=name, cache_dir=cache_dir)
    ok = [r for r in results if r["reason"] is None]
    rejected = [[r["mol_id"], r["smiles"], r["reason"]] for r in results if r["reason"] is not None]
    if not ok:
        raise DatasetError(f"{name}: every molecule was rejected; first reasons: {rejected[:3]}")
    records = [rec for r in ok for rec in r["records"]]
    groups = [rec["meta"]["mol_id"] for rec in records]
    split_seed = derived_seed(name, "split")
    splits = split_by_group(groups, seed=split_seed)
    write_split(out_dir / f"{name}.split.npz", splits)
    with open(out_dir / f"{name}.rejected.tsv", "w") as fh:
        fh.write("mol_id\tsmiles\treason\n" + "".join(f"{a}\t{b}\t{c}\n" for a, b, c in rejected))
    sizes = [len(r["records"][0]["atoms"]) for r in ok]
    metadata = {
        "name": name, "level_of_theory": LEVEL_OF_THEORY, "tblite_version": tblite_version(),
        "source": "RDKit RDConfig.RDDataDir/NCI/first_5K.smi (NCI open database subset shipped with RDKit)",
        **info,
        "processing": "RDKit ETKDGv3 + MMFF94, GFN2-xTB BFGS relaxation (fmax 0.01 eV/Ang), GFN2-xTB Langevin MD; "
                      "frame 0 of each molecule is the relaxed structure",
        "seeds": "per molecule derived_seed(mol_id) for embedding and MD, derived_seed(mol_id, 'temperature') "
                 "for the MD temperature; base seed xailib.data.SEED",
        "md": {**asdict(NCI_MD), "temperature_K": list(NCI_TEMPERATURE_RANGE)},
        "n_molecules": len(ok), "n_frames": len(records), "n_rejected": len(rejected), "rejected": rejected,
        "smiles": {r["mol_id"]: r["smiles"] for r in ok},
        "md_target_K": {r["mol_id"]: round(r["target_K"], 3) for r in ok},
        "elements": element_counts([r["records"][0]["atoms"].numbers for r in ok]),
        "atoms_per_molecule": {"min": min(sizes), "max": max(sizes), "mean": float(np.mean(sizes))},
        "distance_unit": DISTANCE_UNIT,
        "split": {"file": f"{name}.split.npz", "fractions": list(SPLIT_FRACTIONS), "seed": split_seed,
                  "by": "molecule (no molecule has frames in two parts)",
                  "sizes": {k: len(v) for k, v in splits.items()}},
        "cpu_seconds": round(sum(r["seconds"] for r in results), 1), "workers": workers,
        "build_seconds": round(time.perf_counter() - t0, 1),
        "regenerate": f"python -m xailib data build --only {name}",
    }
    write_db(out_dir / f"{name}.db", records, metadata, properties=tuple(PROPERTY_UNITS), row_keys=("mol_id",))
    return metadata
