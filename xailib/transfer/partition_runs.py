"""The dataset partition study: HF/DFT atomic energies of a dataset's relaxed structures, and their cost.

:func:`partition_dataset` runs one closed-shell SCF per molecule (PySCF) on the relaxed frame
(``t_fs == 0``) of each molecule of an NCI dataset and splits its energy by both schemes of
:mod:`xailib.qm.partition` (``ao`` and ``mo``). Molecules that cannot be partitioned (open shell, no
SCF convergence, failed localisation) are recorded with the reason, never dropped silently. The result
is cached in ``data/partition/<dataset>-<method>-<basis>.npz`` (:func:`save_partition`,
:func:`load_partition`). :func:`partition_timing` times the SCF and both schemes on NCI molecules of
increasing size, so that a dataset-wide run can be planned.

This study reads datasets, so it lives here (above :mod:`xailib.data`) and not in :mod:`xailib.qm`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from xailib.base.io import load_json, load_npz, provenance, save_json, save_npz
from xailib.base.paths import data_dir, resolve_path

__all__ = ["PARTITION_ARRAYS", "partition_path", "equilibrium_frames", "partition_dataset", "save_partition",
           "load_partition", "timing_molecules", "partition_timing", "timing_table", "save_partition_timing",
           "load_partition_timing"]

#: Arrays of a partition file and their dtypes (per molecule, then per atom).
PARTITION_ARRAYS = {"frame": np.int64, "mol_id": str, "offsets": np.int64, "scf_energy": np.float64,
                    "seconds": np.float64, "numbers": np.int16, "ao": np.float64, "mo": np.float64,
                    "ao_relative": np.float64, "mo_relative": np.float64}

_HOW = "python -m xailib study partition {dataset} --method {method} --basis {basis}"


def partition_path(dataset: str, method: str = "hf", basis: str = "sto-3g") -> Path:
    """``data/partition/<dataset>-<method>-<basis>.npz`` (under :func:`~xailib.base.paths.data_dir`)."""
    return data_dir() / "partition" / f"{dataset}-{method}-{basis}.npz"


def equilibrium_frames(dataset: str, n_molecules: int | None = None, seed: int = 0) -> np.ndarray:
    """Rows (0-based) of the relaxed frame of each molecule; a seeded, sorted subset when ``n_molecules``
    is smaller than the number of molecules (``numpy.random.default_rng(seed).choice``)."""
    from xailib.data import frame_table

    rows = np.flatnonzero(frame_table(dataset)["t_fs"] == 0.0)
    if n_molecules is not None and n_molecules < len(rows):
        rows = np.sort(np.random.default_rng(seed).choice(rows, n_molecules, replace=False))
    return rows


def partition_dataset(dataset: str, *, n_molecules: int | None = None, seed: int = 0, method: str = "hf",
                      basis: str = "sto-3g", rows: Sequence[int] | None = None, progress: bool = False,
                      cache: str | os.PathLike | None = None) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Atomic energies of both schemes for the relaxed structures of ``dataset``: ``(arrays, meta)`` in the
    format of :func:`save_partition`.

    Parameters
    ----------
    n_molecules, seed
        A seeded subset of molecules (:func:`equilibrium_frames`); default: every molecule.
    method, basis
        Level of theory (PySCF names, e.g. ``"hf"``, ``"pbe"``; ``"sto-3g"``, ``"6-31g"``).
    rows
        Explicit dataset rows to partition instead (for tests and partial runs).
    cache
        A folder for one small file per finished molecule (``<row>.npz``, skipped molecules included):
        an interrupted run given the same folder continues where it stopped. Cached molecules keep the
        wall time they took when they were computed.
    """
    import pyscf
    from ase.units import Hartree

    from xailib.data import DatasetError, frame_table, frames
    from xailib.qm.partition import (
        LocalisationError,
        OpenShellError,
        SCFNotConvergedError,
        UnsupportedElementError,
        UnsupportedMethodError,
        free_atom_energy,
        partition_scf,
        run_scf,
    )

    failures = (OpenShellError, SCFNotConvergedError, LocalisationError, UnsupportedElementError,
                UnsupportedMethodError)
    rows = equilibrium_frames(dataset, n_molecules, seed) if rows is None else np.asarray(rows, dtype=int)
    if len(rows) == 0:
        raise DatasetError(f"{dataset} has no relaxed structures (frames with t_fs == 0) to partition")
    free_atom_energy(1, method, basis)  # an unknown method or basis fails here, once, not per molecule
    mol_ids = frame_table(dataset)["mol_id"]
    keep: dict[str, list] = {k: [] for k in ("frame", "mol_id", "numbers", "ao", "mo", "ao_relative",
                                             "mo_relative", "scf_energy", "seconds")}
    skipped = []
    start = time.perf_counter()
    structures = frames(dataset, indices=rows)
    if progress:
        from tqdm.auto import tqdm

        structures = tqdm(structures, desc=f"partition {dataset} {method}/{basis}")
    cache_dir = None if cache is None else resolve_path(cache)
    if cache_dir is not None:
        cache_dir.mkdir(parents=True, exist_ok=True)
    for atoms in structures:
        row = int(atoms.info["row"])
        cached = None if cache_dir is None else cache_dir / f"{row}.npz"
        if cached is not None and cached.exists():
            one = dict(np.load(cached, allow_pickle=False))
        else:
            t0 = time.perf_counter()
            try:
                mf = run_scf(atoms, method=method, basis=basis, need_iao=True)
                parts = {s: partition_scf(mf, s, numbers=atoms.numbers) for s in ("ao", "mo")}
                one = {"seconds": time.perf_counter() - t0, "scf_energy": float(mf.e_tot) * Hartree,
                       **{s: parts[s].energies for s in ("ao", "mo")},
                       **{f"{s}_relative": parts[s].relative for s in ("ao", "mo")}}
            except failures as err:
                one = {"reason": f"{type(err).__name__}: {err}"}
            if cached is not None:
                np.savez(cached.with_suffix(".tmp.npz"), **one)
                os.replace(cached.with_suffix(".tmp.npz"), cached)
        if "reason" in one:
            skipped.append({"frame": row, "mol_id": str(mol_ids[row]), "reason": str(one["reason"])})
            continue
        keep["seconds"].append(float(one["seconds"]))
        keep["frame"].append(row)
        keep["mol_id"].append(str(mol_ids[row]))
        keep["numbers"].append(atoms.numbers)
        for s in ("ao", "mo", "ao_relative", "mo_relative"):
            keep[s].append(np.asarray(one[s], dtype=np.float64))
        keep["scf_energy"].append(float(one["scf_energy"]))
    subset = f"; seeded subset of {n_molecules} (seed {seed})" if n_molecules else ""
    meta = provenance(wall_s=time.perf_counter() - start, packages=("numpy", "pyscf", "ase"), dataset=dataset,
                      method=method, basis=basis, structures="relaxed frame (t_fs == 0) of each molecule" + subset,
                      n_requested=int(len(rows)), n_done=len(keep["frame"]), skipped=skipped, units="eV",
                      pyscf=pyscf.__version__)
    per_atom = ("numbers", "ao", "mo", "ao_relative", "mo_relative")
    arrays = {k: (np.concatenate(v) if v else np.zeros(0)) if k in per_atom else np.array(v)
              for k, v in keep.items()}
    arrays["offsets"] = np.r_[0, np.cumsum([len(n) for n in keep["numbers"]])]
    return arrays, meta


def save_partition(arrays: Mapping[str, Any], meta: Mapping[str, Any], path: str | os.PathLike | None = None) -> Path:
    """Write a partition file (default: :func:`partition_path` of ``meta``'s dataset, method and basis).

    Format (``.npz``, energies in eV): per molecule ``frame`` (int64, 0-based row of
    ``data/<dataset>.db``), ``mol_id`` (str), ``scf_energy`` (the SCF total energy) and ``seconds`` (wall
    time of the SCF and both partitions); ``offsets`` (int64, the atoms of molecule k are
    ``offsets[k]:offsets[k+1]``); per atom ``numbers`` (int16), ``ao`` and ``mo`` (atomic energies of each
    scheme, summing to ``scf_energy``) and ``ao_relative`` / ``mo_relative`` (minus the spin-polarised free
    atoms at the same level); ``meta`` (JSON: ``dataset``, ``method``, ``basis``, ``structures``,
    ``n_requested``, ``n_done``, ``skipped`` (``frame``, ``mol_id``, ``reason`` of every molecule that
    could not be partitioned), ``units``, command, versions and wall time).
    """
    missing = [k for k in PARTITION_ARRAYS if k not in arrays]
    if missing:
        raise ValueError(f"a partition file needs the arrays {missing}")
    if path is None:
        path = partition_path(meta["dataset"], meta["method"], meta["basis"])
    out = {k: np.asarray(arrays[k]).astype(t) for k, t in PARTITION_ARRAYS.items()}
    if len(out["offsets"]) != len(out["frame"]) + 1 or out["offsets"][-1] != len(out["numbers"]):
        raise ValueError("offsets must have one entry per molecule plus one and end at the number of atoms")
    return save_npz(resolve_path(path), out, meta)


def load_partition(path: str | os.PathLike = "nci-small", method: str = "hf", basis: str = "sto-3g") -> dict:
    """The arrays of a partition file (format: :func:`save_partition`) and its ``meta`` (parsed JSON).

    ``path`` is a file, or a dataset name (then the file is :func:`partition_path` of it, ``method`` and
    ``basis``).
    """
    p = Path(path)
    if p.suffix != ".npz":
        dataset = str(path)
        p = partition_path(dataset, method, basis)
    else:
        p = resolve_path(p)
        dataset = p.name.split(f"-{method}-")[0]
    arrays, meta = load_npz(p, how_to_make=_HOW.format(dataset=dataset, method=method, basis=basis))
    return {**arrays, "meta": meta}


def timing_molecules(heavy_counts: Sequence[int], elements: set[str] = frozenset({"C", "N", "O", "F", "S", "Cl"}),
                     seed: int = 7) -> list[tuple[str, Any]]:
    """``(smiles, atoms)`` of the first NCI molecule with each heavy-atom count (only ``elements``, neutral,
    an even number of electrons), embedded with RDKit ETKDG + MMFF; sorted by size."""
    from rdkit import Chem

    from xailib.data.molecules import EmbeddingError, embed, read_nci, to_atoms

    wanted = set(int(n) for n in heavy_counts)
    found: dict[int, tuple[str, Any]] = {}
    for smi, _ in read_nci():
        mol = Chem.MolFromSmiles(smi)
        if mol is None or "." in smi or Chem.GetFormalCharge(mol) != 0:
            continue
        n = mol.GetNumHeavyAtoms()
        if n not in wanted or n in found or not {a.GetSymbol() for a in mol.GetAtoms()} <= set(elements):
            continue
        try:
            atoms = to_atoms(embed(smi, seed=seed, max_attempts=1))
        except EmbeddingError:
            continue
        if int(atoms.numbers.sum()) % 2:
            continue
        found[n] = (smi, atoms)
        if len(found) == len(wanted):
            break
    return [found[n] for n in sorted(found)]


def partition_timing(heavy_counts: Sequence[int] = (6, 10, 14, 18, 22, 26, 30), *, method: str = "hf",
                     basis: str = "sto-3g", progress: bool = False) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Time the SCF and both partitions on one NCI molecule per heavy-atom count: ``(rows, meta)``.

    Each row: ``heavy``, ``atoms``, ``nao`` (basis functions), wall seconds ``scf_s``, ``ao_s``, ``mo_s``,
    CPU seconds of this process for all three ``cpu_s`` (less sensitive to other jobs sharing the machine),
    ``dev_ao`` / ``dev_mo`` (|sum of atomic energies - SCF energy|, Hartree) and ``smiles``. Free-atom
    references are computed (and cached) before timing.
    """
    from xailib.qm.partition import free_atom_energy, partition_scf, run_scf

    start = time.perf_counter()
    mols = timing_molecules(heavy_counts)
    for z in sorted({int(z) for _, a in mols for z in a.numbers}):
        free_atom_energy(z, method, basis)
    rows = []
    for smi, atoms in mols:
        c0, t0 = time.process_time(), time.perf_counter()
        mf = run_scf(atoms, method=method, basis=basis)
        t1 = time.perf_counter()
        ao = partition_scf(mf, "ao")
        t2 = time.perf_counter()
        mo = partition_scf(mf, "mo")
        t3 = time.perf_counter()
        rows.append({"heavy": int((atoms.numbers > 1).sum()), "atoms": len(atoms), "nao": int(mf.mol.nao_nr()),
                     "scf_s": t1 - t0, "ao_s": t2 - t1, "mo_s": t3 - t2, "cpu_s": time.process_time() - c0,
                     "dev_ao": float(abs(ao.energies_hartree.sum() - mf.e_tot)),
                     "dev_mo": float(abs(mo.energies_hartree.sum() - mf.e_tot)), "smiles": smi})
        if progress:
            print(timing_table(rows[-1:], header=len(rows) == 1), flush=True)
    meta = provenance(wall_s=time.perf_counter() - start, packages=("numpy", "pyscf", "rdkit"), method=method,
                      basis=basis, heavy_counts=[int(n) for n in heavy_counts], units="seconds; Hartree")
    return rows, meta


def timing_table(rows: Sequence[Mapping[str, Any]], *, header: bool = True, mean: bool = False) -> str:
    """The rows of :func:`partition_timing` as a fixed-width text table (optionally with the mean line)."""
    lines = []
    if header:
        lines.append(f"{'heavy':>5} {'atoms':>5} {'nao':>4} {'scf_s':>7} {'ao_s':>7} {'mo_s':>7} {'cpu_s':>7} "
                     f"{'|sum-E|_ao':>10} {'|sum-E|_mo':>10}  smiles")
    for r in rows:
        lines.append(f"{r['heavy']:5d} {r['atoms']:5d} {r['nao']:4d} {r['scf_s']:7.2f} {r['ao_s']:7.2f} "
                     f"{r['mo_s']:7.2f} {r['cpu_s']:7.2f} {r['dev_ao']:10.1e} {r['dev_mo']:10.1e}  {r['smiles']}")
    if mean and rows:
        m = {k: float(np.mean([r[k] for r in rows])) for k in ("scf_s", "ao_s", "mo_s", "cpu_s")}
        lines.append(f"mean per molecule: scf {m['scf_s']:.2f} s, ao {m['ao_s']:.2f} s, mo {m['mo_s']:.2f} s, "
                     f"all {m['scf_s'] + m['ao_s'] + m['mo_s']:.2f} s wall, {m['cpu_s']:.2f} s CPU "
                     f"({len(rows)} molecules)")
    return "\n".join(lines)


def save_partition_timing(rows: Sequence[Mapping[str, Any]], meta: Mapping[str, Any],
                          path: str | os.PathLike) -> Path:
    """Write a timing table as JSON: ``{"rows": [...], "meta": {...}}`` (row keys: :func:`partition_timing`)."""
    return save_json(resolve_path(path), {"rows": [dict(r) for r in rows]}, meta)


def load_partition_timing(path: str | os.PathLike) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """``(rows, meta)`` of a file written by :func:`save_partition_timing`."""
    doc = load_json(resolve_path(path), how_to_make="python -m xailib study partition-timing --out FILE")
    return doc["rows"], doc.get("meta", {})
