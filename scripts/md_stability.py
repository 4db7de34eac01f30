"""Repeated 500 K MD of trained models (or of GFN2-xTB itself), cached under data/md/<molecule>/.

For one MD17-style molecule, every run starts from its GFN2-xTB-relaxed structure (the first frame of
``data/md17-<molecule>.db`` relaxed with :func:`xailib.sampling.relax`), which is also the reference
bond graph of :func:`xailib.md.stability`. Each seed draws its own Maxwell-Boltzmann velocities and
Langevin noise; a run stops at its first recorded frame that the monitors flag, so its length is its
time to failure (runs that reach the end are censored at the run length).

    OMP_NUM_THREADS=1 PYTHONPATH=. python scripts/md_stability.py ethanol data/models/md17-ethanol-schnet
    OMP_NUM_THREADS=1 PYTHONPATH=. python scripts/md_stability.py ethanol xtb --seeds 3

Output ``data/md/<molecule>/<model name>.npz`` (``xtb`` for the reference):
``seed``, ``stable``, ``time_to_failure_fs`` (run length where stable), ``reason`` ('' where stable),
``details`` (JSON per seed); per seed and recorded frame (every ``--record-fs``, NaN after a failure)
``time_fs``, ``temperature_K``, ``potential_energy`` (eV); ``snapshots`` (positions every
``--snapshot-fs``, NaN-padded); ``last_positions`` (per seed, the last recorded frame: the failing one
where a run failed); ``numbers``, ``reference_positions``; distance histograms over all
recorded frames of all seeds: ``pair_hist`` (all pairs, edges ``pair_edges``) and ``bond_hist`` (one
row per reference bond ``bonds``, edges ``bond_edges``); ``meta`` (JSON: settings, model metrics and
config, wall time, versions, command).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

PAIR_EDGES = np.linspace(0.0, 6.0, 301)
BOND_EDGES = np.linspace(0.5, 2.5, 201)


def reference_structure(molecule: str):
    """The GFN2-xTB-relaxed first frame of ``md17-<molecule>`` (positions centred)."""
    from ase.db import connect

    from xailib.datasets import db_path
    from xailib.sampling import relax

    atoms = connect(str(db_path(f"md17-{molecule}"))).get_atoms(id=1)
    relaxed, _ = relax(atoms)
    relaxed.center()
    return relaxed


def load_calculator(spec: str):
    """``xtb`` (tblite GFN2-xTB) or a model folder; returns (name, calculator, meta)."""
    if spec == "xtb":
        from xailib.reference import LEVEL_OF_THEORY, ase_calculator

        return "xtb", ase_calculator(), {"model": "GFN2-xTB reference", "level": LEVEL_OF_THEORY}
    from xailib.models import calculator, load_model

    folder = Path(spec)
    model = load_model(folder)
    metrics_file = folder / "metrics.json"
    meta = {"model": str(folder), "config": json.loads((folder / "config.json").read_text()),
            "metrics": json.loads(metrics_file.read_text()) if metrics_file.exists() else None}
    return folder.name, calculator(model), meta


def run(molecule: str, spec: str, *, seeds: list[int], ps: float, timestep_fs: float, temperature_K: float,
        record_fs: float, snapshot_fs: float, out_dir: Path) -> Path:
    from tqdm.auto import tqdm

    from xailib.md import bond_graph, run_md, stability

    ref = reference_structure(molecule)
    name, calc, meta = load_calculator(spec)
    steps = int(round(ps * 1000 / timestep_fs))
    record_every = int(round(record_fs / timestep_fs))
    n_rec = steps // record_every + 1
    snap_every = int(round(snapshot_fs / record_fs))
    n_snap = (n_rec - 1) // snap_every + 1
    bonds, _ = bond_graph(ref)
    iu = np.triu_indices(len(ref), 1)
    nan = np.full((len(seeds), n_rec), np.nan)
    times, temps, epots = nan.copy(), nan.copy(), nan.copy()
    snaps = np.full((len(seeds), n_snap, len(ref), 3), np.nan, dtype=np.float32)
    last = np.full((len(seeds), len(ref), 3), np.nan, dtype=np.float32)
    pair_hist = np.zeros(len(PAIR_EDGES) - 1, dtype=np.int64)
    bond_hist = np.zeros((len(bonds), len(BOND_EDGES) - 1), dtype=np.int64)
    stable, ttf, reasons, details, walls = [], [], [], [], []
    for s, seed in enumerate(tqdm(seeds, desc=f"{name} {molecule} {temperature_K:.0f} K")):
        t0 = time.perf_counter()
        res = run_md(calc, ref, steps=steps, timestep_fs=timestep_fs, temperature_K=temperature_K,
                     ensemble="nvt", seed=seed, record_every=record_every, stop_on_failure=True, progress=False)
        walls.append(time.perf_counter() - t0)
        rep = stability(res.frames, ref, temperature_K=temperature_K, time_fs=res.time_fs)
        k = len(res.frames)
        times[s, :k], temps[s, :k], epots[s, :k] = res.time_fs, res.temperature_K, res.potential_energy
        for j in range(0, k, snap_every):
            snaps[s, j // snap_every] = res.frames[j].positions
        last[s] = res.frames[-1].positions
        pos = np.stack([f.positions for f in res.frames])
        dist = np.linalg.norm(pos[:, :, None] - pos[:, None], axis=-1)
        pair_hist += np.histogram(dist[:, iu[0], iu[1]], PAIR_EDGES)[0]
        for b, (i, j) in enumerate(bonds):
            bond_hist[b] += np.histogram(dist[:, i, j], BOND_EDGES)[0]
        stable.append(rep.stable)
        ttf.append(float(res.time_fs[-1]) if rep.stable else float(rep.failure_time_fs))
        reasons.append(rep.reason or "")
        details.append(rep.details)
    meta.update(
        molecule=molecule, ensemble="nvt (Langevin, friction 0.01/fs)", temperature_K=temperature_K,
        timestep_fs=timestep_fs, run_ps=ps, record_fs=record_fs, snapshot_fs=snapshot_fs,
        monitors="xailib.md.stability defaults: bond 0.5 Ang, collapse 0.6 Ang, temperature 5x thermostat",
        md_wall_time_s=[round(w, 1) for w in walls], python=platform.python_version(),
        command="OMP_NUM_THREADS=1 PYTHONPATH=. python scripts/md_stability.py " + " ".join(sys.argv[1:]),
    )
    out = out_dir / molecule / f"{name}.npz"
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        out, seed=np.array(seeds), stable=np.array(stable), time_to_failure_fs=np.array(ttf),
        reason=np.array(reasons), details=np.array([json.dumps(d) for d in details]),
        time_fs=times.astype(np.float32), temperature_K=temps.astype(np.float32),
        potential_energy=epots, snapshots=snaps, last_positions=last, numbers=ref.numbers, reference_positions=ref.positions,
        pair_hist=pair_hist, pair_edges=PAIR_EDGES, bond_hist=bond_hist, bonds=bonds, bond_edges=BOND_EDGES,
        meta=json.dumps(meta),
    )
    print(f"{name}: stable {sum(stable)}/{len(seeds)}, time to failure (fs) {ttf} -> {out}")
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("molecule", help="an MD17-style dataset: ethanol, malonaldehyde or aspirin")
    ap.add_argument("models", nargs="+", help="model folders, or 'xtb' for the GFN2-xTB reference")
    ap.add_argument("--seeds", type=int, default=5, help="seeds 0..N-1")
    ap.add_argument("--ps", type=float, default=10.0)
    ap.add_argument("--timestep", type=float, default=0.5, help="fs")
    ap.add_argument("--temperature", type=float, default=500.0, help="K")
    ap.add_argument("--record-fs", type=float, default=10.0)
    ap.add_argument("--snapshot-fs", type=float, default=250.0)
    ap.add_argument("--out-dir", default="data/md")
    args = ap.parse_args(argv)
    for spec in args.models:
        run(args.molecule, spec, seeds=list(range(args.seeds)), ps=args.ps, timestep_fs=args.timestep,
            temperature_K=args.temperature, record_fs=args.record_fs, snapshot_fs=args.snapshot_fs,
            out_dir=Path(args.out_dir))


if __name__ == "__main__":
    main()
