"""The error family of :mod:`xailib`: every public error derives from :class:`XailibError`.

Errors shared by several subpackages live here; the others live beside the code that raises them and
are importable from that subpackage's front door. Each also derives from the builtin it refines
(``ValueError`` for bad input, ``RuntimeError`` for a failed computation), so callers may catch either.
"""

from __future__ import annotations


class XailibError(Exception):
    """Base class of every error that :mod:`xailib` raises on purpose."""


class UnsupportedElementError(XailibError, ValueError):
    """A structure holds an element that a model, a method or a descriptor set does not support."""


class MalformedStructureError(XailibError, ValueError):
    """A structure that no calculation should see: NaN or infinite coordinates, overlapping atoms, no atoms."""
