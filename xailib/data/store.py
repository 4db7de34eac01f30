"""The book's datasets: GFN2-xTB-labelled MD17-style trajectories and NCI molecule sets.

Every dataset is a schnetpack ``ASEAtomsData`` database ``data/<name>.db`` (properties and units in
:data:`xailib.base.units.PROPERTY_UNITS`, provenance in the database metadata, one key-value record per
frame of the NCI sets: ``mol_id``), a per-frame table ``data/<name>.frames.npz`` (``mol_id``, ``t_fs``:
MD time, 0 for a relaxed structure; ``temperature_K``: instantaneous MD temperature, 0 for a relaxed
structure) and a fixed split
``data/<name>.split.npz`` in schnetpack's format (``train_idx``, ``val_idx``, ``test_idx``).
The NCI builders live in :mod:`xailib.data.nci`; this module holds the shared pieces and the MD17 sets.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from ase import Atoms

from xailib.base.errors import XailibError
from xailib.base.paths import data_dir, resolve_path
from xailib.base.units import DISTANCE_UNIT, PROPERTY_UNITS
from xailib.qm.xtb import free_atom_energies, xtb_labels

#: Base seed of every dataset (per-molecule seeds derive from it and the molecule id).
SEED = 20241017
SPLIT_FRACTIONS = (0.8, 0.1, 0.1)

class DatasetError(XailibError, RuntimeError):
    """A dataset that is missing, malformed or cannot be built."""


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


def read_split(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """``train_idx``, ``val_idx``, ``test_idx`` (0-based rows) of a split ``.npz`` file (schnetpack's format)."""
    p = resolve_path(path)
    if not p.exists():
        raise DatasetError(f"split file {p} does not exist")
    with np.load(p) as s:
        missing = [k for k in ("train_idx", "val_idx", "test_idx") if k not in s]
        if missing:
            raise DatasetError(f"split file {p} lacks {missing} (has {list(s.keys())})")
        return {k: np.asarray(s[k], dtype=np.int64) for k in ("train_idx", "val_idx", "test_idx")}


def load_split(name: str, directory: str | os.PathLike | None = None) -> dict[str, np.ndarray]:
    """``{"train_idx", "val_idx", "test_idx"}`` of a dataset."""
    path = data_dir(directory) / f"{name}.split.npz"
    if not path.exists():
        raise DatasetError(f"{path} is missing; run `python -m xailib data build --only {name}`")
    return read_split(path)


def read_rows(db: str | os.PathLike, rows: Sequence[int]) -> list[Atoms]:
    """Structures at 0-based ``rows`` of an ASE database (any schnetpack ``ASEAtomsData`` file).

    Each carries its stored labels in ``atoms.info["labels"]`` and its row in ``atoms.info["row"]``.
    This is the one place where :mod:`xailib` turns 0-based rows into the database's 1-based ids.
    """
    from ase.db import connect

    out = []
    with connect(str(db), use_lock_file=False) as conn:
        for r in rows:
            row = conn.get(id=int(r) + 1)
            atoms = row.toatoms()
            atoms.info["row"] = int(r)
            atoms.info["labels"] = dict(row.data)
            out.append(atoms)
    return out


def db_path(name: str, directory: str | os.PathLike | None = None) -> Path:
    """Path of a dataset's database; raises :class:`DatasetError` when it has not been built."""
    path = data_dir(directory) / f"{name}.db"
    if not path.exists():
        found = sorted(p.stem for p in path.parent.glob("*.db"))
        raise DatasetError(f"dataset {name!r} not found at {path}; found there: {found}; "
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


def progress_bar(items, progress: bool, desc: str):
    if not progress:
        return items
    from tqdm.auto import tqdm

    return tqdm(items, desc=desc, unit="frame")


def frames(name: str, split: str | None = None, *, indices: Sequence[int] | None = None,
           directory: str | os.PathLike | None = None) -> list[Atoms]:
    """Structures of a dataset as ``ase.Atoms``, in database row order.

    Parameters
    ----------
    name
        Dataset name (``nci-small``, ``md17-ethanol``, ...).
    split
        ``"train"``, ``"val"`` or ``"test"``: the frames of that part of the shipped split; ``None``: all.
    indices
        Row indices (0-based, as in ``split.npz`` and ``frames.npz``); with ``split``, positions within it.

    Each structure carries its labels in ``atoms.info["labels"]`` (eV, Angstrom) and its row in
    ``atoms.info["row"]``. Rows are 0-based everywhere in :mod:`xailib`; the ASE database's 1-based ids
    are handled here only.
    """
    return read_rows(db_path(name, directory), _rows(name, split, indices, directory))


def _rows(name: str, split: str | None, indices: Sequence[int] | None,
          directory: str | os.PathLike | None) -> np.ndarray:
    if split is None:
        if indices is None:
            with np.load(db_path(name, directory).with_name(f"{name}.frames.npz")) as f:
                return np.arange(len(f["mol_id"]))
        return np.asarray(indices, dtype=int)
    key = f"{split}_idx"
    parts = load_split(name, directory)
    if key not in parts:
        raise DatasetError(f"unknown split {split!r}; use 'train', 'val', 'test' or None")
    rows = parts[key]
    return rows if indices is None else rows[np.asarray(indices, dtype=int)]


def metadata(name: str, directory: str | os.PathLike | None = None) -> dict:
    """The provenance record of a dataset (its database metadata: source, level of theory, MD, split, seeds)."""
    from ase.db import connect

    with connect(str(db_path(name, directory))) as db:
        return dict(db.metadata)
