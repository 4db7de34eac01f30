"""Reading one structure from a file, with a named error for files that hold none.

``ase.io.read`` fails in many ways on a file that is not a structure file: a bare ``StopIteration``
for a Markdown file, ``ValueError`` or ``IndexError`` for a truncated one, an unknown-format error
for an unknown extension. :func:`read_structure` turns each into :class:`StructureFileError`, which
names the file and says what to give instead.
"""

from __future__ import annotations

import os
from pathlib import Path

from xailib.base.errors import XailibError

__all__ = ["StructureFileError", "read_structure"]


class StructureFileError(XailibError, ValueError):
    """A structure file is missing, empty, unreadable or holds no atoms."""


_HINT = "give a structure file that ase.io.read understands (e.g. .xyz, .extxyz, .pdb, .cif)"


def read_structure(path: str | os.PathLike, index: int | str = -1):
    """The structure at ``index`` (default: the last frame) of a file, as ``ase.Atoms``.

    Raises
    ------
    StructureFileError
        The path does not exist, is a folder, is empty, cannot be parsed by ``ase.io.read`` (the format
        is guessed from the name and the content), or holds a structure without atoms.
    """
    import ase.io

    p = Path(path)
    if not p.exists():
        raise StructureFileError(f"no structure file {p}; {_HINT}")
    if not p.is_file():
        raise StructureFileError(f"{p} is a folder, not a structure file; {_HINT}")
    if p.stat().st_size == 0:
        raise StructureFileError(f"structure file {p} is empty; {_HINT}")
    try:
        atoms = ase.io.read(str(p), index=index)
    except Exception as err:  # ase raises StopIteration, ValueError, KeyError, ... for non-structure files
        first = str(err).strip().splitlines()[0][:200] if str(err).strip() else ""
        detail = f" ({type(err).__name__}: {first})" if first else f" ({type(err).__name__})"
        raise StructureFileError(f"cannot read a structure from {p}{detail}; {_HINT}") from err
    if isinstance(atoms, list):
        raise StructureFileError(f"index {index!r} selects {len(atoms)} structures of {p}; select one frame")
    if len(atoms) == 0:
        raise StructureFileError(f"structure file {p} holds a structure with no atoms; {_HINT}")
    return atoms
