"""The book's datasets: source molecules, xTB sampling, builders, the registry and read access.

Read a dataset with :func:`frames` (structures, optionally one split), :func:`frame_table` (per-frame
``mol_id``, MD time and temperature), :func:`load_split` and :func:`load` (schnetpack ``ASEAtomsData``).
Rows are 0-based everywhere.
"""

from xailib.base.paths import data_dir
from xailib.data.manifest import ManifestError, verify_manifest, write_manifest
from xailib.data.molecules import EmbeddingError, MoleculeError, embed, to_atoms
from xailib.data.sampling import SamplingError
from xailib.data.stats import heavy_atom_counts, label_arrays, summary
from xailib.data.store import (DatasetError, SEED, SPLIT_FRACTIONS, db_path, derived_seed, frame_table, frames,
                               load, load_split, metadata)

__all__ = ["embed", "to_atoms", "DatasetError", "ManifestError", "MoleculeError", "EmbeddingError", "SamplingError", "verify_manifest",
           "write_manifest", "SEED", "SPLIT_FRACTIONS", "data_dir", "db_path", "derived_seed", "frame_table",
           "frames", "load", "load_split", "metadata", "summary", "label_arrays", "heavy_atom_counts", "DATASETS",
           "build"]


def __getattr__(name: str):
    # the registry imports every builder (RDKit, tblite); load it only when asked for
    if name in ("DATASETS", "build"):
        from xailib.data import registry

        return getattr(registry, name)
    raise AttributeError(f"module 'xailib.data' has no attribute {name!r}")
