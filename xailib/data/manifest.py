"""Checksum manifest of ``data/`` in ``sha256sum`` format (``cd data && sha256sum -c MANIFEST.sha256``)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

from xailib.base.errors import XailibError

MANIFEST_NAME = "MANIFEST.sha256"
#: Files never listed: the manifest itself and hand-edited documentation.
EXCLUDED = {MANIFEST_NAME, "README.md", ".gitignore", ".gitattributes"}


class ManifestError(XailibError, RuntimeError):
    """The manifest is missing or a listed file is missing or changed."""


def sha256(path: Path, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def data_files(data_dir: Path) -> list[Path]:
    """Files under ``data_dir`` that the manifest covers (sorted, relative paths)."""
    data_dir = Path(data_dir)
    out = []
    for p in sorted(data_dir.rglob("*")):
        rel = p.relative_to(data_dir)
        if p.is_file() and rel.name not in EXCLUDED and not rel.name.endswith((".lock", "-journal", ".log")):
            out.append(rel)
    return out


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


def verify_manifest(data_dir: Path) -> dict[str, str]:
    """Check every listed file; returns ``{path: "OK" | "MISSING" | "CHANGED"}``.

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
    return status
