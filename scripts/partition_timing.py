"""Time the atomic-energy partitions on a few NCI molecules of increasing size.

For each molecule (RDKit ETKDG + MMFF geometry from an NCI SMILES) it times the SCF, the AO scheme
and the MO scheme separately, checks that both sum to the SCF energy, and prints a table, so that a
dataset-wide run can be planned. Free-atom references are computed (and cached) before timing.

    OMP_NUM_THREADS=1 PYTHONPATH=. python scripts/partition_timing.py [--method hf --basis sto-3g]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
from ase import Atoms


def nci_molecules(heavy_counts: list[int], elements: set[str]) -> list[tuple[str, Atoms]]:
    """The first NCI molecule with each heavy-atom count (given elements, neutral, even electrons)."""
    from rdkit import Chem

    from xailib.molecules import EmbeddingError, embed, read_nci, to_atoms

    wanted = list(heavy_counts)
    found: dict[int, tuple[str, Atoms]] = {}
    for smi, _ in read_nci():
        mol = Chem.MolFromSmiles(smi)
        if mol is None or "." in smi or Chem.GetFormalCharge(mol) != 0:
            continue
        n = mol.GetNumHeavyAtoms()
        if n not in wanted or n in found or not {a.GetSymbol() for a in mol.GetAtoms()} <= elements:
            continue
        try:
            atoms = to_atoms(embed(smi, seed=7, max_attempts=1))
        except EmbeddingError:
            continue
        if int(atoms.numbers.sum()) % 2:
            continue
        found[n] = (smi, atoms)
        if len(found) == len(wanted):
            break
    return [found[n] for n in sorted(found)]


def main() -> None:
    from xailib.partition import free_atom_energy, partition_scf, run_scf

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--method", default="hf")
    ap.add_argument("--basis", default="sto-3g")
    ap.add_argument("--heavy", type=int, nargs="+", default=[6, 10, 14, 18, 22, 26, 30])
    args = ap.parse_args()

    mols = nci_molecules(args.heavy, {"C", "N", "O", "F", "S", "Cl"})
    for z in sorted({int(z) for _, a in mols for z in a.numbers}):
        free_atom_energy(z, args.method, args.basis)
    print(f"method={args.method} basis={args.basis} OMP_NUM_THREADS="
          f"{os.environ.get('OMP_NUM_THREADS', 'unset')}")
    print("wall-clock seconds per step, and CPU seconds of this process for all three (cpu_s),")
    print("which is less sensitive to other jobs sharing the machine")
    print(f"{'heavy':>5} {'atoms':>5} {'nao':>4} {'scf_s':>7} {'ao_s':>7} {'mo_s':>7} {'cpu_s':>7} "
          f"{'|sum-E|_ao':>10} {'|sum-E|_mo':>10}  smiles")
    totals = np.zeros(4)
    for smi, atoms in mols:
        c0 = time.process_time()
        t0 = time.perf_counter()
        mf = run_scf(atoms, method=args.method, basis=args.basis)
        t1 = time.perf_counter()
        ao = partition_scf(mf, "ao")
        t2 = time.perf_counter()
        mo = partition_scf(mf, "mo")
        t3 = time.perf_counter()
        times = np.array([t1 - t0, t2 - t1, t3 - t2, time.process_time() - c0])
        totals += times
        print(f"{int((atoms.numbers > 1).sum()):5d} {len(atoms):5d} {mf.mol.nao_nr():4d} "
              f"{times[0]:7.2f} {times[1]:7.2f} {times[2]:7.2f} {times[3]:7.2f} "
              f"{abs(ao.energies_hartree.sum() - mf.e_tot):10.1e} "
              f"{abs(mo.energies_hartree.sum() - mf.e_tot):10.1e}  {smi}", flush=True)
    n = len(mols)
    print(f"mean per molecule: scf {totals[0] / n:.2f} s, ao {totals[1] / n:.2f} s, "
          f"mo {totals[2] / n:.2f} s, all {totals[:3].sum() / n:.2f} s wall, "
          f"{totals[3] / n:.2f} s CPU ({n} molecules)")


if __name__ == "__main__":
    main()
