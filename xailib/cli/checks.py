"""Argument checks of the command line, run before any computation.

Exit statuses of ``python -m xailib`` (:func:`xailib.cli.main`):

* 0: success;
* 2: a usage error: bad arguments, found by argparse (types and ranges below) or by a command's
  explicit checks before it computes anything (:class:`UsageError`, also from :func:`usage_check`);
* 1: a failure at run time: an error of the :class:`~xailib.base.errors.XailibError` family or a
  missing or unreadable file (``OSError``) raised during the work.

Each error is one line ``error: ...`` on stderr; ``python -m xailib --debug ...`` shows the traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

from xailib.base.errors import XailibError

#: Exit status of a usage error (as argparse) and of a failure at run time.
EXIT_USAGE, EXIT_FAILURE = 2, 1


class UsageError(XailibError, ValueError):
    """A command-line argument is invalid (exit status 2); found before any computation."""


class Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` that reports a usage error as one line on stderr (exit status 2)."""

    def error(self, message: str):  # noqa: D102 (argparse API)
        self.exit(EXIT_USAGE, f"error: {self.prog}: {one_line(message)} (see {self.prog} --help)\n")


def one_line(err: object) -> str:
    """An error message on one line (newlines and runs of spaces collapsed)."""
    return " ".join(str(err).split()) or type(err).__name__


def report(err: BaseException, status: int) -> int:
    """Print ``error: <message>`` on stderr; returns ``status``."""
    print(f"error: {one_line(err)}", file=sys.stderr)
    return status


@contextlib.contextmanager
def usage_check() -> Iterator[None]:
    """Turn a library error or a missing file raised while checking arguments into a :class:`UsageError`."""
    try:
        yield
    except UsageError:
        raise
    except (XailibError, OSError) as err:
        raise UsageError(one_line(err)) from err


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    return _int(text, 1, "a positive integer")


def nonnegative_int(text: str) -> int:
    """argparse type: an integer >= 0."""
    return _int(text, 0, "an integer >= 0")


def _int(text: str, low: int, what: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}") from None
    if value < low:
        raise argparse.ArgumentTypeError(f"must be {what}, got {text}")
    return value


def positive_float(text: str) -> float:
    """argparse type: a finite number > 0."""
    value = finite_float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text}")
    return value


def nonnegative_float(text: str) -> float:
    """argparse type: a finite number >= 0 (e.g. ``--gamma``: ``inf`` would make every relevance NaN)."""
    value = finite_float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text}")
    return value


def finite_float(text: str) -> float:
    """argparse type: a finite number (no ``nan``, ``inf``)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text}")
    return value


def output_path(path: str | None, suffixes: Sequence[str], option: str, *, overwrite: bool = False) -> Path | None:
    """Check an output file name before computing: one of ``suffixes``, in an existing folder, and not an
    existing file unless ``overwrite``.

    Raises
    ------
    UsageError
        Another suffix, a missing folder, a path that is a folder, or an existing file (without ``overwrite``).
    """
    if path is None:
        return None
    p = Path(path)
    if p.is_file() and not overwrite:
        raise UsageError(f"{option} {path} exists; pass --overwrite to replace it")
    if p.is_dir():
        raise UsageError(f"{option} {path} is a folder; give a file name ending in {' or '.join(suffixes)}")
    if p.suffix.lower() not in suffixes:
        raise UsageError(f"{option} {path}: the file name must end in {' or '.join(suffixes)}")
    folder = p.parent if str(p.parent) else Path(".")
    if not folder.is_dir():
        raise UsageError(f"{option} {path}: the folder {folder} does not exist; create it first")
    return p
