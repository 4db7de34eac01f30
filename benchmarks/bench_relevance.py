"""Benchmark: fast exact walk relevances and n-body terms against the brute-force reference.

Aspirin (21 atoms; RDKit ETKDG conformer from SMILES with a fixed seed). Models are schnetpack SchNet
potentials with *random* weights (timing does not depend on training): 3 interactions x 128 features
for all walks (N^4 = 194,481 walks), 6 interactions x 128 features for exact 1-, 2-, 3-body terms.
The brute force (one masked forward + backward pass per walk, the published reference) is timed on a
seeded random sample of walks and scaled to all walks. Prints times and ratios; asserts nothing.

Run:  OMP_NUM_THREADS=2 OMP_WAIT_POLICY=PASSIVE PYTHONPATH=. python benchmarks/bench_relevance.py [--threads 2]
On a machine shared with other busy processes, OpenMP's default spin-waiting makes every small
multi-threaded operation stall (we measured 40x slower calls); ``OMP_WAIT_POLICY=PASSIVE`` avoids it.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

import xailib
from xailib import lrp

ASPIRIN = "CC(=O)Oc1ccccc1C(=O)O"


def aspirin(seed: int = 7):
    """Aspirin as ase.Atoms from an RDKit ETKDG conformer (fixed seed)."""
    from ase import Atoms
    from rdkit import Chem
    from rdkit.Chem import AllChem

    mol = Chem.AddHs(Chem.MolFromSmiles(ASPIRIN))
    params = AllChem.ETKDGv3()
    params.randomSeed = seed
    if AllChem.EmbedMolecule(mol, params) != 0:
        raise RuntimeError("ETKDG embedding of aspirin failed")
    pos = mol.GetConformer().GetPositions()
    return Atoms(numbers=[a.GetAtomicNum() for a in mol.GetAtoms()], positions=pos)


def schnet(n_interactions: int, n_features: int = 128, cutoff: float = 5.0, forces: bool = False):
    """A random-weight schnetpack SchNet potential with an Atomwise energy head (and forces if asked)."""
    import schnetpack as spk

    rep = spk.representation.SchNet(
        n_atom_basis=n_features, n_interactions=n_interactions,
        radial_basis=spk.nn.GaussianRBF(n_rbf=20, cutoff=cutoff), cutoff_fn=spk.nn.CosineCutoff(cutoff))
    return spk.model.NeuralNetworkPotential(
        representation=rep, input_modules=[spk.atomistic.PairwiseDistances()],
        output_modules=[spk.atomistic.Atomwise(n_in=n_features, output_key="energy")]
        + ([spk.atomistic.Forces(energy_key="energy", force_key="forces")] if forces else []))


def timed(fn, repeat: int = 1):
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--sample", type=int, default=300, help="brute-force walks to time")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    xailib.set_seed(0)
    atoms = aspirin()
    n = len(atoms)
    print(f"aspirin: {n} atoms; torch {torch.__version__}, {torch.get_num_threads()} threads; random weights")

    model3 = schnet(3)
    t_fast, walks = timed(lambda: lrp.walk_relevances(model3, atoms, rule="gi"), repeat=3)
    n_walks = walks.R.size
    edges = int(walks.adjacency.sum() - n)
    print(f"SchNet T=3, 128 features: {n_walks} walks ({edges} directed edges in the 5 A cutoff graph)")
    print(f"  fast all walks (gi):        {t_fast:8.3f} s (everything: copy, neighbour list, forward, "
          "Jacobians, contraction; best of 3)")
    print(f"  sum of walks {walks.R.sum():+.12f}, gradient x input {walks.total:+.12f}, "
          f"output {walks.output:+.12f}")

    rng = np.random.default_rng(0)
    sample = rng.integers(0, n, size=(args.sample, 4))
    t_bf, bf = timed(lambda: lrp.walks_bruteforce(model3, atoms, sample, rule="gi"))
    per_walk = t_bf / args.sample
    err = np.abs(bf - walks.R[tuple(sample.T)]).max()
    t_all = per_walk * n_walks
    print(f"  brute force: {args.sample} sampled walks in {t_bf:.3f} s = {1e3 * per_walk:.3f} ms/walk; "
          f"max |fast - brute| on them {err:.2e}")
    print(f"  brute force scaled to all walks: {t_all:10.1f} s ({t_all / 3600:.2f} h)")
    print(f"  speed-up all walks: {t_all / t_fast:10.0f}x   (target >= 2000x)")

    t_fast_g, _ = timed(lambda: lrp.walk_relevances(model3, atoms, rule="gamma"), repeat=3)
    print(f"  fast all walks (gamma):     {t_fast_g:8.3f} s")

    model6 = schnet(6)
    for order in (2, 3):
        t_nb, nb = timed(lambda: lrp.nbody_relevances(model6, atoms, max_order=order, rule="gi"))
        sums = nb.order_sums()
        shares = ", ".join(f"{k}: {v:+.4f}" for k, v in sums.items())
        print(f"SchNet T=6, 128 features: exact 1..{order}-body ({len(nb.terms)} connected sets) "
              f"in {t_nb:6.3f} s (target <= 10 s); order sums {shares}; total {nb.total:+.4f}")
    sample6 = rng.integers(0, n, size=(max(20, args.sample // 5), 7))
    t_bf6, _ = timed(lambda: lrp.walks_bruteforce(model6, atoms, sample6, rule="gi"))
    per_walk6, walks6 = t_bf6 / len(sample6), n ** 7
    t_all6 = per_walk6 * walks6
    print(f"  brute force T=6: {1e3 * per_walk6:.3f} ms/walk on {len(sample6)} sampled walks; all {walks6:.2e} "
          f"walks (needed to aggregate n-body terms from walks): {t_all6:.3e} s ({t_all6 / 86400 / 365:.1f} years)")
    print(f"  speed-up exact 1..3-body vs brute-force walks: {t_all6 / t_nb:.2e}x")


if __name__ == "__main__":
    main()
