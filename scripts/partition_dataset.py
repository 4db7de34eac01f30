"""Atomic energies (AO and MO schemes) of a dataset's equilibrium structures, written to data/partition/.

One SCF per molecule (PySCF, closed shell) partitioned by both schemes of :mod:`xailib.partition`.
Equilibrium structures are the relaxed frames (``t_fs == 0``) of an NCI dataset. Molecules that
cannot be partitioned (open shell, no SCF convergence, failed localisation) are recorded with the
reason, never dropped silently.

    OMP_NUM_THREADS=1 PYTHONPATH=. python scripts/partition_dataset.py nci-small
    OMP_NUM_THREADS=1 PYTHONPATH=. python scripts/partition_dataset.py nci-large --n-molecules 120 --seed 0

Output ``data/partition/<dataset>-<method>-<basis>.npz``: per molecule ``frame`` (database row),
``mol_id``, ``offsets`` (atoms of molecule k are ``offsets[k]:offsets[k+1]``), per atom ``numbers``,
``ao``/``mo`` atomic energies and ``ao_relative``/``mo_relative`` (minus free atoms), all in eV,
per molecule ``scf_energy`` (eV) and ``seconds`` (SCF + both partitions, wall), and ``meta`` (JSON:
level, versions, command, skipped molecules with reasons).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np


def equilibrium_frames(name: str, n_molecules: int | None, seed: int) -> np.ndarray:
    """Database rows of the relaxed frame of each molecule (a seeded subset if ``n_molecules``)."""
    from xailib.datasets import frame_table

    table = frame_table(name)
    rows = np.flatnonzero(table["t_fs"] == 0.0)
    if n_molecules is not None and n_molecules < len(rows):
        rows = np.sort(np.random.default_rng(seed).choice(rows, n_molecules, replace=False))
    return rows


def main(argv: list[str] | None = None) -> Path:
    import pyscf
    from ase.units import Hartree
    from ase.db import connect
    from tqdm.auto import tqdm

    from xailib.datasets import db_path, frame_table
    from xailib.partition import PartitionError, partition_scf, run_scf
    from xailib.partition_mo import LocalisationError

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dataset")
    ap.add_argument("--method", default="hf")
    ap.add_argument("--basis", default="sto-3g")
    ap.add_argument("--n-molecules", type=int, default=None, help="a seeded subset of molecules")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)

    rows = equilibrium_frames(args.dataset, args.n_molecules, args.seed)
    mol_ids = frame_table(args.dataset)["mol_id"]
    db = connect(str(db_path(args.dataset)))
    keep_rows, keep_ids, numbers, ao, mo, ao_rel, mo_rel, scf, secs, skipped = ([] for _ in range(10))
    start = time.perf_counter()
    for row in tqdm(rows, desc=f"partition {args.dataset} {args.method}/{args.basis}"):
        atoms = db.get_atoms(id=int(row) + 1)
        t0 = time.perf_counter()
        try:
            mf = run_scf(atoms, method=args.method, basis=args.basis, need_iao=True)
            parts = {s: partition_scf(mf, s, numbers=atoms.numbers) for s in ("ao", "mo")}
        except (*PartitionError, LocalisationError) as err:
            skipped.append({"frame": int(row), "mol_id": str(mol_ids[row]),
                            "reason": f"{type(err).__name__}: {err}"})
            continue
        secs.append(time.perf_counter() - t0)
        keep_rows.append(int(row))
        keep_ids.append(str(mol_ids[row]))
        numbers.append(atoms.numbers)
        ao.append(parts["ao"].energies)
        mo.append(parts["mo"].energies)
        ao_rel.append(parts["ao"].relative)
        mo_rel.append(parts["mo"].relative)
        scf.append(float(mf.e_tot) * Hartree)
    wall = time.perf_counter() - start
    meta = {
        "dataset": args.dataset, "method": args.method, "basis": args.basis,
        "structures": "relaxed frame (t_fs == 0) of each molecule"
                      + (f"; seeded subset of {args.n_molecules} (seed {args.seed})" if args.n_molecules else ""),
        "n_requested": int(len(rows)), "n_done": len(keep_rows), "skipped": skipped,
        "wall_time_s": round(wall, 1), "omp_num_threads": os.environ.get("OMP_NUM_THREADS", "unset"),
        "pyscf": pyscf.__version__, "python": platform.python_version(),
        "command": "OMP_NUM_THREADS=1 PYTHONPATH=. python scripts/partition_dataset.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "units": "eV",
    }
    out = Path(args.out or f"data/partition/{args.dataset}-{args.method}-{args.basis}.npz")
    out.parent.mkdir(parents=True, exist_ok=True)
    cat = np.concatenate
    np.savez_compressed(
        out, frame=np.array(keep_rows), mol_id=np.array(keep_ids),
        offsets=np.concatenate([[0], np.cumsum([len(n) for n in numbers])]).astype(np.int64),
        numbers=cat(numbers).astype(np.int16), ao=cat(ao), mo=cat(mo), ao_relative=cat(ao_rel),
        mo_relative=cat(mo_rel), scf_energy=np.array(scf), seconds=np.array(secs), meta=json.dumps(meta),
    )
    print(f"wrote {out}: {len(keep_rows)} molecules, {len(skipped)} skipped, {wall / 60:.1f} min")
    return out


if __name__ == "__main__":
    main()
