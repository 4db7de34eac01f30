"""The book's datasets: GFN2-xTB-labelled MD17-style trajectories and NCI molecule sets.

Every dataset is a schnetpack ``ASEAtomsData`` database ``data/<name>.db`` (properties and units in
:data:`xailib.reference.PROPERTY_UNITS`, provenance in the database metadata, one key-value record per
frame of the NCI sets: ``mol_id``), a per-frame table ``data/<name>.frames.npz`` (``mol_id``, ``t_fs``:
MD time, 0 for a relaxed structure; ``temperature_K``: instantaneous MD temperature, 0 for a relaxed
structure) and a fixed split
``data/<name>.split.npz`` in schnetpack's format (``train_idx``, ``val_idx``, ``test_idx``).
The NCI builders live in :mod:`xailib.nci`; this module holds the shared pieces and the MD17 sets.
"""

from __future__ import annotations

import os
import time
import zlib
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import numpy as np
from ase import Atoms

from xailib.molecules import embed, geometry_adjacency, smiles_adjacency, to_atoms, element_counts
from xailib.reference import (DISTANCE_UNIT, LEVEL_OF_THEORY, PROPERTY_UNITS, free_atom_energies,
                              xtb_labels)
from xailib.sampling import MDSettings, langevin, relax

#: Base seed of every dataset (per-molecule seeds derive from it and the molecule id).
SEED = 20241017
SPLIT_FRACTIONS = (0.8, 0.1, 0.1)

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


class DatasetError(RuntimeError):
    """A dataset that is missing, malformed or cannot be built."""


def data_dir(path: str | os.PathLike | None = None) -> Path:
    """The data folder: ``path``, else ``$XAILIB_DATA_DIR``, else the repository's ``data/``."""
    from xailib import repo_root

    if path is None:
        path = os.environ.get("XAILIB_DATA_DIR") or Path(repo_root()) / "data"
    return Path(path)


def derived_seed(*keys: object) -> int:
    """A seed in ``[0, 2**31 - 1)`` determined by :data:`SEED` and ``keys`` (strings or ints)."""
    entropy = [SEED] + [zlib.crc32(str(k).encode()) for k in keys]
    return int(np.random.SeedSequence(entropy).generate_state(1, dtype=np.uint32)[0] % (2**31 - 1))


def tblite_version() -> str:
    import importlib.metadata as md

    return md.version("tblite")


def label_frames(numbers: np.ndarray, positions: Sequence[np.ndarray], metas: Sequence[dict]) -> list[dict]:
    """GFN2-xTB labels for every frame: records ``{"atoms", "props", "meta"}`` ready for the database."""
    records = []
    for pos, meta in zip(positions, metas):
        atoms = Atoms(numbers=numbers, positions=pos)
        records.append({"atoms": atoms, "props": xtb_labels(atoms), "meta": meta})
    return records


def atomrefs() -> dict[str, list[float]]:
    """schnetpack atom references: GFN2-xTB free-atom energies (eV) for ``energy``, indexed by Z."""
    ref = [0.0] * 100
    for z, e in free_atom_energies().items():
        ref[z] = e
    return {"energy": ref}


def write_db(path: Path, records: list[dict], metadata: dict, properties: Sequence[str] = tuple(PROPERTY_UNITS),
             row_keys: Sequence[str] = ("mol_id",)):
    """Create ``path`` (replacing an old file) as schnetpack ``ASEAtomsData`` holding ``records``.

    Only ``properties`` are stored; ``row_keys`` of each record's ``meta`` become ASE-db key-value pairs;
    the full per-frame table goes to ``<name>.frames.npz`` next to the database.
    """
    from schnetpack.data import ASEAtomsData

    path = Path(path)
    tmp = path.with_name(path.stem + ".tmp.db")
    tmp.unlink(missing_ok=True)
    units = {k: PROPERTY_UNITS[k] for k in properties}
    ds = ASEAtomsData.create(str(tmp), distance_unit=DISTANCE_UNIT, property_unit_dict=units, atomrefs=atomrefs())
    ds.add_systems([_compact({k: r["props"][k] for k in properties}) for r in records], [r["atoms"] for r in records],
                   [_plain({k: r["meta"][k] for k in row_keys}) for r in records])
    ds.update_metadata(**_plain({**metadata, "units": units}))
    os.replace(tmp, path)
    np.savez_compressed(path.with_name(path.stem + ".frames.npz"),
             mol_id=np.array([r["meta"]["mol_id"] for r in records]),
             t_fs=np.array([r["meta"]["t_fs"] for r in records], dtype=float),
             temperature_K=np.array([r["meta"]["temperature_K"] for r in records], dtype=float))
    return ASEAtomsData(str(path))


#: Per-atom labels stored in float32 (to keep ``data/`` small); molecular labels stay float64.
FLOAT32_PROPERTIES = ("forces", "atomic_energies", "partial_charges")


def _compact(props: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {k: (np.asarray(v, dtype=np.float32) if k in FLOAT32_PROPERTIES else np.asarray(v, dtype=np.float64))
            for k, v in props.items()}


def _plain(obj):
    """Convert numpy scalars and containers to JSON-able Python objects."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return obj


def split_by_group(groups: Sequence[str], fractions: Sequence[float] = SPLIT_FRACTIONS,
                   seed: int = SEED) -> dict[str, np.ndarray]:
    """Seeded train/val/test frame indices such that no group (molecule) has frames in two parts.

    Groups are shuffled with ``numpy.random.default_rng(seed)`` and cut by ``fractions`` of the
    number of groups; each group's frames go to its part.
    """
    if len(fractions) != 3 or abs(sum(fractions) - 1) > 1e-9 or min(fractions) < 0:
        raise ValueError(f"fractions must be three non-negative numbers summing to 1, got {fractions}")
    groups = np.asarray(groups)
    unique = np.unique(groups)
    order = np.random.default_rng(seed).permutation(len(unique))
    n_train = int(round(fractions[0] * len(unique)))
    n_val = int(round(fractions[1] * len(unique)))
    parts = {"train_idx": unique[order[:n_train]], "val_idx": unique[order[n_train:n_train + n_val]],
             "test_idx": unique[order[n_train + n_val:]]}
    return {k: np.flatnonzero(np.isin(groups, v)) for k, v in parts.items()}


def write_split(path: Path, splits: dict[str, np.ndarray]) -> None:
    """Store a split in schnetpack's ``split.npz`` format."""
    np.savez(path, **{k: np.asarray(v, dtype=np.int64) for k, v in splits.items()})


def load_split(name: str, directory: str | os.PathLike | None = None) -> dict[str, np.ndarray]:
    """``{"train_idx", "val_idx", "test_idx"}`` of a dataset."""
    path = data_dir(directory) / f"{name}.split.npz"
    if not path.exists():
        raise DatasetError(f"{path} is missing; run `python -m xailib data build --only {name}`")
    with np.load(path) as f:
        return {k: f[k] for k in ("train_idx", "val_idx", "test_idx")}


def db_path(name: str, directory: str | os.PathLike | None = None) -> Path:
    """Path of a dataset's database; raises :class:`DatasetError` when it has not been built."""
    path = data_dir(directory) / f"{name}.db"
    if not path.exists():
        raise DatasetError(f"dataset {name!r} not found at {path}; known: {sorted(DATASETS)}; "
                           f"run `python -m xailib data build --only {name}`")
    return path


def load(name: str, directory: str | os.PathLike | None = None, **kwargs):
    """The dataset as schnetpack ``ASEAtomsData`` (``kwargs`` go to its constructor)."""
    from schnetpack.data import ASEAtomsData

    return ASEAtomsData(str(db_path(name, directory)), **kwargs)


def frame_table(name: str, directory: str | os.PathLike | None = None) -> dict[str, np.ndarray]:
    """Per-frame table (``mol_id``, ``t_fs``, ``temperature_K``) in database row order."""
    path = db_path(name, directory).with_name(f"{name}.frames.npz")
    if not path.exists():
        raise DatasetError(f"{path} is missing; run `python -m xailib data build --only {name}`")
    with np.load(path) as f:
        return {k: f[k] for k in ("mol_id", "t_fs", "temperature_K")}


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
    records = label_frames(traj.numbers, _bar(traj.positions, progress, f"label {name}"), metas)
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


def _bar(items, progress: bool, desc: str):
    if not progress:
        return items
    from tqdm.auto import tqdm

    return tqdm(items, desc=desc, unit="frame")


def _md17_builder(molecule: str):
    return lambda directory=None, progress=True, workers=1, cache_dir=None: build_md17(molecule, directory,
                                                                                       progress=progress)


def _nci_builder(name: str):
    def run(directory=None, progress=True, workers=1, cache_dir=None):
        from xailib.nci import build_nci

        cache = None if cache_dir is None else Path(cache_dir) / name
        return build_nci(name, directory, progress=progress, workers=workers, cache_dir=cache)

    return run


#: Every dataset and its builder, in build order.
DATASETS = {f"md17-{m}": _md17_builder(m) for m in MD17_MOLECULES}
DATASETS.update({"nci-small": _nci_builder("nci-small"), "nci-large": _nci_builder("nci-large")})


def build(names: Sequence[str] | None = None, directory: str | os.PathLike | None = None,
          progress: bool = True, workers: int = 1, cache_dir: str | os.PathLike | None = None) -> dict[str, dict]:
    """Build the named datasets (default all), then rewrite ``MANIFEST.sha256`` and the README table.

    ``cache_dir`` keeps per-molecule results of the NCI sets (resumable builds, see :func:`xailib.nci.compute`).
    """
    from xailib.manifest import write_manifest

    names = list(names) if names else list(DATASETS)
    unknown = [n for n in names if n not in DATASETS]
    if unknown:
        raise DatasetError(f"unknown dataset(s) {unknown}; known: {list(DATASETS)}")
    out = {n: DATASETS[n](directory, progress, workers, cache_dir) for n in names}
    write_manifest(data_dir(directory))
    from xailib.provenance import write_readme

    write_readme(directory)
    return out
