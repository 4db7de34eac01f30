"""Foundations every other subpackage may use: paths, cached-file I/O with provenance, errors, units, seed, info, structure checks.

Imports only the standard library, NumPy and ASE; nothing here imports another part of :mod:`xailib`.
"""

from xailib.base.errors import MalformedStructureError, UnsupportedElementError, XailibError
from xailib.base.io import CacheFileError, load_json, load_npz, provenance, save_json, save_npz
from xailib.base.paths import data_dir, repo_root, resolve_path
from xailib.base.structure_files import StructureFileError, read_structure
from xailib.base.structures import validate_structure
from xailib.base.units import DISTANCE_UNIT, MODEL_UNITS, PROPERTY_UNITS

__all__ = ["StructureFileError", "read_structure", "XailibError", "UnsupportedElementError", "MalformedStructureError", "CacheFileError", "save_npz",
           "load_npz", "save_json", "load_json", "provenance", "repo_root", "data_dir", "resolve_path",
           "DISTANCE_UNIT", "PROPERTY_UNITS", "MODEL_UNITS", "validate_structure"]
