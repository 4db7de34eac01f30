"""Where things live: the repository root, the data folder and paths given relative to the root."""

from __future__ import annotations

import os
from pathlib import Path


def repo_root() -> Path:
    """The repository root (the folder holding ``data/`` and ``book/``)."""
    return Path(__file__).resolve().parent.parent.parent


def data_dir(path: str | os.PathLike | None = None) -> Path:
    """The data folder: ``path``, else ``$XAILIB_DATA_DIR``, else the repository's ``data/``."""
    if path is None:
        path = os.environ.get("XAILIB_DATA_DIR") or repo_root() / "data"
    return Path(path)


def resolve_path(path: str | os.PathLike) -> Path:
    """``path`` as given when absolute; a relative path is taken from the repository root.

    Paths that start with ``data/`` are taken from :func:`data_dir`, so ``$XAILIB_DATA_DIR`` moves them.
    """
    p = Path(path)
    if p.is_absolute():
        return p
    if p.parts and p.parts[0] == "data":
        return data_dir().joinpath(*p.parts[1:])
    return repo_root() / p
