"""Cached result files: ``.npz`` arrays and ``.json`` documents, each with one provenance record.

Every study writes its cache through :func:`save_npz` or :func:`save_json` and reads it back through
:func:`load_npz` or :func:`load_json`, so the provenance (:func:`provenance`: command, versions, wall
time, settings) is written one way. In an ``.npz`` it is the JSON string array ``meta``; in a ``.json``
document it is the key ``meta``. Writes go to a temporary file that replaces the target at the end, so
an interrupted run never leaves a half-written cache.
"""

from __future__ import annotations

import json
import os
import platform
import sys
from collections.abc import Iterable, Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from xailib.base.errors import XailibError

#: Packages whose versions every provenance record carries.
VERSIONED = ("numpy", "torch", "schnetpack", "ase")


class CacheFileError(XailibError, FileNotFoundError):
    """A cached result file is missing or unreadable; the message names the command that makes it."""


def package_versions(names: Iterable[str] = VERSIONED) -> dict[str, str]:
    """Installed versions of ``names`` ("not installed" where missing)."""
    out = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def provenance(command: str | None = None, *, wall_s: float | None = None, packages: Iterable[str] = VERSIONED,
               **settings: Any) -> dict[str, Any]:
    """The provenance record of a result: command line, versions, wall time and study settings.

    ``command`` defaults to the running process's command line; ``settings`` are stored as given.
    """
    if command is None:
        command = "python -m xailib " + " ".join(sys.argv[1:]) if sys.argv and sys.argv[0].endswith(
            ("__main__.py", "xailib")) else " ".join(sys.argv)
    out: dict[str, Any] = {"command": command,
                           "versions": {"python": platform.python_version(), **package_versions(packages)},
                           "omp_num_threads": os.environ.get("OMP_NUM_THREADS")}
    if wall_s is not None:
        out["wall_time_s"] = round(float(wall_s), 1)
    out.update(settings)
    return out


def _replace(tmp: Path, path: Path) -> Path:
    os.replace(tmp, path)
    return path


def save_npz(path: str | os.PathLike, arrays: Mapping[str, Any], meta: Mapping[str, Any]) -> Path:
    """Write ``arrays`` and the JSON record ``meta`` to a compressed ``.npz`` (atomically)."""
    path = Path(path)
    if path.suffix != ".npz":
        raise ValueError(f"{path}: a cached array file must end in .npz")
    if "meta" in arrays:
        raise ValueError("'meta' is reserved for the provenance record")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez_compressed(tmp, meta=json.dumps(dict(meta), sort_keys=True), **arrays)
    return _replace(tmp, path)


def load_npz(path: str | os.PathLike, *, how_to_make: str = "") -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """``(arrays, meta)`` of a file written by :func:`save_npz` (``meta`` is ``{}`` where absent)."""
    path = Path(path)
    _check_exists(path, how_to_make)
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    except (OSError, ValueError) as exc:
        raise CacheFileError(f"{path} is not a readable .npz file ({exc}){_hint(how_to_make)}") from exc
    meta = arrays.pop("meta", None)
    return arrays, (json.loads(str(meta)) if meta is not None else {})


def save_json(path: str | os.PathLike, document: Mapping[str, Any], meta: Mapping[str, Any] | None = None) -> Path:
    """Write ``document`` (plus ``meta`` under the key ``meta`` when given) as indented JSON (atomically)."""
    path = Path(path)
    doc = dict(document)
    if meta is not None:
        doc["meta"] = dict(meta)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
    return _replace(tmp, path)


def load_json(path: str | os.PathLike, *, how_to_make: str = "") -> dict[str, Any]:
    """A JSON document; a missing or broken file raises :class:`CacheFileError` naming the file."""
    path = Path(path)
    _check_exists(path, how_to_make)
    try:
        return json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CacheFileError(f"{path} is not a readable JSON file ({exc}){_hint(how_to_make)}") from exc


def _hint(how_to_make: str) -> str:
    return f"; regenerate it with `{how_to_make}`" if how_to_make else ""


def _check_exists(path: Path, how_to_make: str) -> None:
    if not path.is_file():
        raise CacheFileError(f"{path} is missing{_hint(how_to_make)}")
