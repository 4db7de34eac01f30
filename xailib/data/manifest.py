"""Checksum manifest of ``data/`` in ``sha256sum`` format (``cd data && sha256sum -c MANIFEST.sha256``).

The manifest lists every file under ``data/`` (the datasets, the shipped models with their checksum
files, and the cached results of the studies: MD, partition, poly, relevance, transfer) except:

* the manifest itself and hand-edited or generated documentation (``README.md``, ``.gitignore``,
  ``.gitattributes``);
* transient files of a running build or database (``*.lock``, ``*-journal``, ``*.log``);
* the folders in :data:`EXCLUDED_DIRS`: the weights of the trained variant models of chapters 07-10
  (``md/models``, ``poly/models``, ``transfer/models``) and of the known-answer chapter 03b
  (``synthetic/models``), and the training databases of chapters 09 and 03b (``transfer/build``,
  ``synthetic/build``). They are not committed (``.gitignore``: they would push ``data/`` past its size
  budget), each machine retrains or rebuilds them (``make md``, ``make poly``, ``make transfer``, ``make synthetic``), and
  the results computed from them are cached beside them and listed;
* ``checkpoints/`` folders of training runs (``data/models/<name>/checkpoints``, for ``train --resume``).

:func:`verify_manifest` checks every listed file and also reports files that the manifest should list
but does not (``UNLISTED``); files in the excluded folders are reported as ``EXCLUDED`` (not a failure).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

from xailib.base.errors import XailibError

MANIFEST_NAME = "MANIFEST.sha256"
#: Files never listed: the manifest itself and hand-edited documentation.
EXCLUDED = {MANIFEST_NAME, "README.md", ".gitignore", ".gitattributes"}
#: Name endings of transient files (locks, SQLite journals, logs of a running build), never listed.
EXCLUDED_SUFFIXES = (".lock", "-journal", ".log")
#: Folders (relative to ``data/``) never listed: uncommitted model weights and training databases (see above).
EXCLUDED_DIRS = ("md/models", "poly/models", "transfer/models", "transfer/build", "synthetic/models", "synthetic/build")
#: States of :func:`verify_manifest` that are not a failure.
GOOD_STATES = ("OK", "EXCLUDED")


class ManifestError(XailibError, RuntimeError):
    """The manifest is missing or a listed file is missing or changed."""


def sha256(path: Path, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def is_excluded(rel: str | Path) -> bool:
    """Whether a path relative to ``data/`` is outside the manifest (:data:`EXCLUDED`, :data:`EXCLUDED_DIRS`)."""
    rel = Path(rel)
    if rel.name in EXCLUDED or rel.name.endswith(EXCLUDED_SUFFIXES):
        return True
    posix = rel.as_posix()
    if "checkpoints" in rel.parts[:-1]:  # Lightning checkpoints of a training run (resumable, not committed)
        return True
    return any(posix == d or posix.startswith(d + "/") for d in EXCLUDED_DIRS)


def _all_files(data_dir: Path) -> list[Path]:
    return sorted(p.relative_to(data_dir) for p in data_dir.rglob("*") if p.is_file())


def data_files(data_dir: Path) -> list[Path]:
    """Files under ``data_dir`` that the manifest covers (sorted, relative paths)."""
    return [rel for rel in _all_files(Path(data_dir)) if not is_excluded(rel)]


def write_manifest(data_dir: Path) -> Path:
    """Write ``data_dir/MANIFEST.sha256`` over :func:`data_files`; returns its path."""
    data_dir = Path(data_dir)
    lines = [f"{sha256(data_dir / rel)}  {rel.as_posix()}" for rel in data_files(data_dir)]
    path = data_dir / MANIFEST_NAME
    path.write_text("\n".join(lines) + "\n")
    return path


def update_manifest(data: str | Path, files: Sequence[str | Path]) -> Path:
    """Replace or append the manifest lines of ``files`` (paths under ``data``), keeping every other line.

    Lines are in ``sha256sum`` format (as :func:`write_manifest`); the new lines go to the end in
    sorted order. A missing manifest is created with just these lines.
    """
    data = Path(data)
    path = data / MANIFEST_NAME
    rels = {Path(f).resolve().relative_to(data.resolve()).as_posix(): Path(f) for f in files}
    old = path.read_text().splitlines() if path.exists() else []
    lines = [ln for ln in old if ln.strip() and ln.split(maxsplit=1)[1].lstrip("*") not in rels]
    lines += [f"{sha256(f)}  {rel}" for rel, f in sorted(rels.items())]
    path.write_text("\n".join(lines) + "\n")
    return path


def verify_manifest(data_dir: Path, unlisted: bool = True) -> dict[str, str]:
    """Check every listed file, and find files the manifest does not list.

    Returns ``{path: state}`` with state ``"OK"``, ``"MISSING"`` or ``"CHANGED"`` for the listed files
    and, with ``unlisted``, ``"UNLISTED"`` for a file under ``data_dir`` that the manifest should cover
    (:func:`data_files`) but does not list, and ``"EXCLUDED"`` for an unlisted file in
    :data:`EXCLUDED_DIRS` (not a failure; see :data:`GOOD_STATES`). Documentation and transient files
    are not reported.

    Raises
    ------
    ManifestError
        When the manifest does not exist.
    """
    data_dir = Path(data_dir)
    path = data_dir / MANIFEST_NAME
    if not path.exists():
        raise ManifestError(f"{path} does not exist; run `python -m xailib data build` (or `make data`)")
    status = {}
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        digest, rel = line.split(maxsplit=1)
        rel = rel.lstrip("*")
        f = data_dir / rel
        status[rel] = "MISSING" if not f.exists() else ("OK" if sha256(f) == digest else "CHANGED")
    if unlisted:
        for rel in _all_files(data_dir):
            name = rel.as_posix()
            if name in status or rel.name in EXCLUDED or rel.name.endswith(EXCLUDED_SUFFIXES):
                continue
            status[name] = "EXCLUDED" if is_excluded(rel) else "UNLISTED"
    return status
