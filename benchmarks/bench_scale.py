"""Benchmark: exact n-body terms at scale (aspirin and alanine peptides), as multiples of one forward+backward pass.

Molecules: aspirin (21 atoms) and the alanine peptides Ala4, Ala8, Ala16 (43, 83, 163 atoms), each an RDKit
ETKDG conformer with a fixed seed. Models: random-weight schnetpack SchNet potentials, 128 features,
5 A cutoff, T = 3 and 6 interactions (timing does not depend on training). For each molecule, T and
order (2 = 1..2-body, 3 = 1..3-body, rule ``gi``) it prints the time of ``xailib.lrp.nbody_relevances``
with the restricted passes (the default) and, unless skipped, with the masked full passes (the
reference, the method before restricted passes), each as a ratio to one forward+backward pass of the
same model on the same molecule (energy and forces, float32, as in training and MD), the largest
difference between the two methods' terms, and the peak resident memory of the computation (every case
runs in a fresh process; the peak minus the memory after loading the model). Asserts nothing.

Run:  OMP_WAIT_POLICY=PASSIVE PYTHONPATH=. python benchmarks/bench_scale.py [--threads 2]
      [--molecules aspirin Ala4 Ala8 Ala16] [--reference-max-atoms 83]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import sys
import time

from bench_relevance import schnet  # noqa: E402  (benchmarks/ is the script's folder)

SMILES = {"aspirin": "CC(=O)Oc1ccccc1C(=O)O"}
PEPTIDES = {"Ala4": "AAAA", "Ala8": "A" * 8, "Ala16": "A" * 16}


def molecule(name: str, seed: int = 7):
    """``ase.Atoms`` of ``name`` (aspirin or an alanine peptide): RDKit ETKDG conformer, fixed seed."""
    from ase import Atoms
    from rdkit import Chem
    from rdkit.Chem import AllChem

    mol = Chem.MolFromSequence(PEPTIDES[name]) if name in PEPTIDES else Chem.MolFromSmiles(SMILES[name])
    mol = Chem.AddHs(mol)
    params = AllChem.ETKDGv3()
    params.randomSeed = seed
    if AllChem.EmbedMolecule(mol, params) != 0:
        raise RuntimeError(f"ETKDG embedding of {name} failed")
    return Atoms(numbers=[a.GetAtomicNum() for a in mol.GetAtoms()], positions=mol.GetConformer().GetPositions())


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def pass_time(model, atoms, repeat: int = 30) -> float:
    """Best time of one forward+backward pass (energy and forces) of ``model`` on ``atoms``."""
    import torch
    from schnetpack.interfaces import AtomsConverter
    from schnetpack.transform import ASENeighborList

    converter = AtomsConverter(neighbor_list=ASENeighborList(cutoff=5.0), dtype=torch.float32)
    inputs = converter(atoms)
    best = float("inf")
    for _ in range(3):  # warm-up
        model({k: v.clone() for k, v in inputs.items()})["forces"].sum().item()
    for _ in range(repeat):
        batch = {k: v.clone() for k, v in inputs.items()}
        t0 = time.perf_counter()
        model(batch)["forces"].sum().item()
        best = min(best, time.perf_counter() - t0)
    return best


def _case(name: str, t: int, order: int, method: str, threads: int, queue) -> None:
    import torch

    import xailib
    from xailib import lrp

    torch.set_num_threads(threads)
    xailib.set_seed(0)
    atoms, model = molecule(name), schnet(t, forces=True)
    t_pass = pass_time(model, atoms)
    base = _rss_mb()
    t0 = time.perf_counter()
    nb = lrp.nbody_relevances(model, atoms, max_order=order, rule="gi", method=method)
    seconds = time.perf_counter() - t0
    queue.put({"seconds": seconds, "pass": t_pass, "peak_mb": _rss_mb() - base, "terms": nb.terms,
               "conservation": abs(nb.conserved_total - nb.rule_output), "n_atoms": len(atoms)})


def run_case(*args) -> dict:
    """One case in a fresh process (so that its peak memory is its own)."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_case, args=(*args, queue))
    proc.start()
    out = queue.get()
    proc.join()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--molecules", nargs="+", default=["aspirin", "Ala4", "Ala8", "Ala16"])
    parser.add_argument("--interactions", nargs="+", type=int, default=[3, 6])
    parser.add_argument("--orders", nargs="+", type=int, default=[2, 3])
    parser.add_argument("--reference-max-atoms", type=int, default=200,
                        help="time the masked reference only up to this many atoms (it is slow)")
    args = parser.parse_args()
    import torch

    print(f"torch {torch.__version__}, {args.threads} threads; random-weight SchNet, 128 features, 5 A cutoff; "
          f"rule gi, float64 engine; times in s and in forward+backward passes (float32, energy+forces)")
    gpu = torch.cuda.is_available()
    print("GPU: " + (torch.cuda.get_device_name(0) + " (the engine runs on the CPU; no GPU column)" if gpu
                     else "none available"))
    header = (f"{'molecule':9s} {'atoms':>5s} {'T':>2s} {'order':>5s} {'sets':>7s} {'pass ms':>8s} "
              f"{'restricted s':>12s} {'passes':>7s} {'peak MB':>8s} {'masked s':>9s} {'passes':>7s} "
              f"{'peak MB':>8s} {'speed-up':>8s} {'max |diff|':>10s}")
    print(header)
    for name in args.molecules:
        for t in args.interactions:
            for order in args.orders:
                new = run_case(name, t, order, "restricted", args.threads)
                line = (f"{name:9s} {new['n_atoms']:5d} {t:2d} {order:5d} {len(new['terms']):7d} "
                        f"{1e3 * new['pass']:8.1f} {new['seconds']:12.2f} {new['seconds'] / new['pass']:7.0f} "
                        f"{new['peak_mb']:8.0f}")
                if new["n_atoms"] <= args.reference_max_atoms:
                    ref = run_case(name, t, order, "masked", args.threads)
                    diff = max(abs(new["terms"][k] - ref["terms"][k]) for k in ref["terms"])
                    line += (f" {ref['seconds']:9.2f} {ref['seconds'] / ref['pass']:7.0f} {ref['peak_mb']:8.0f} "
                             f"{ref['seconds'] / new['seconds']:7.1f}x {diff:10.1e}")
                print(line, flush=True)
    sys.exit(0)


if __name__ == "__main__":
    main()
