"""The MD17-style datasets: one molecule each, GFN2-xTB Langevin MD at 500 K, labelled with GFN2-xTB."""

from __future__ import annotations

import os
import time
from dataclasses import asdict

import numpy as np

from xailib.base.paths import data_dir
from xailib.base.units import DISTANCE_UNIT
from xailib.data.molecules import element_counts, embed, geometry_adjacency, smiles_adjacency, to_atoms
from xailib.data.sampling import MDSettings, langevin, relax
from xailib.data.store import (
    SPLIT_FRACTIONS,
    DatasetError,
    derived_seed,
    label_frames,
    progress_bar,
    split_by_group,
    tblite_version,
    write_db,
    write_split,
)
from xailib.qm.xtb import LEVEL_OF_THEORY

#: MD17-style molecules (SMILES; malonaldehyde in its enol form as in MD17).
MD17_MOLECULES = {
    "ethanol": "CCO",
    "malonaldehyde": "O=CC=CO",
    "aspirin": "CC(=O)Oc1ccccc1C(=O)O",
}
MD17_MD = MDSettings(temperature_K=500.0, timestep_fs=0.5, friction_per_fs=0.01, n_warmup=2000,
                     stride=10, n_frames=5000, init_factor=2.0)


#: Labels stored for the MD17-style sets (the NCI sets store all of PROPERTY_UNITS).
MD17_PROPERTIES = ("energy", "forces")



def build_md17(molecule: str, directory: str | os.PathLike | None = None, md: MDSettings = MD17_MD,
               progress: bool = True) -> dict:
    """Build ``md17-<molecule>``: ETKDG, xTB relaxation, seeded 500 K Langevin MD, xTB labels."""
    if molecule not in MD17_MOLECULES:
        raise DatasetError(f"unknown MD17 molecule {molecule!r}; known: {sorted(MD17_MOLECULES)}")
    name = f"md17-{molecule}"
    out = data_dir(directory)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    smiles = MD17_MOLECULES[molecule]
    seed = derived_seed(name)
    mol = embed(smiles, seed, mmff=False)
    ref_graph = smiles_adjacency(mol)
    relaxed, n_opt = relax(to_atoms(mol))
    if not np.array_equal(geometry_adjacency(relaxed.numbers, relaxed.positions), ref_graph):
        raise DatasetError(f"{name}: the bond graph changed on xTB relaxation")
    traj = langevin(relaxed, md, seed=seed, progress=progress)
    changed = sum(not np.array_equal(geometry_adjacency(traj.numbers, p), ref_graph) for p in traj.positions)
    metas = [{"mol_id": name, "t_fs": t, "temperature_K": temp}
             for t, temp in zip(traj.time_fs, traj.temperature_K)]
    records = label_frames(traj.numbers, progress_bar(traj.positions, progress, f"label {name}"), metas)
    splits = split_by_group([str(i) for i in range(len(records))], seed=seed)
    write_split(out / f"{name}.split.npz", splits)
    seconds = time.perf_counter() - t0
    metadata = {
        "name": name, "level_of_theory": LEVEL_OF_THEORY, "tblite_version": tblite_version(),
        "source": f"SMILES {smiles}; RDKit ETKDGv3 embedding, GFN2-xTB BFGS relaxation (fmax 0.01 eV/Ang, "
                  f"{n_opt} steps), then GFN2-xTB Langevin MD",
        "seed": seed, "md": asdict(md), "n_molecules": 1, "smiles": {name: smiles}, "n_frames": len(records),
        "frames_with_changed_bond_graph": int(changed),
        "elements": element_counts([traj.numbers]), "distance_unit": DISTANCE_UNIT,
        "split": {"file": f"{name}.split.npz", "fractions": list(SPLIT_FRACTIONS),
                  "by": "frame (random, MD17 convention)", "sizes": {k: len(v) for k, v in splits.items()}},
        "build_seconds": round(seconds, 1), "regenerate": f"python -m xailib data build --only {name}",
    }
    write_db(out / f"{name}.db", records, metadata, properties=MD17_PROPERTIES, row_keys=())
    return metadata
