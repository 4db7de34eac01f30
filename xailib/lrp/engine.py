"""Shared machinery of the relevance engine: the rule-modified float64 model and batched JVPs/VJPs.

:func:`prepared` gives the model's steps under a rule; :func:`push_rows` and :func:`pull_rows` apply
a step's Jacobian to many one-row tangents at once (chunked to :data:`CHUNK_BYTES`);
:func:`head_gradient` and :func:`input_gradient` are ``dy/dh_T`` and ``dy/dh0``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import nn
from torch.func import vjp

from xailib.lrp import rules
from xailib.lrp.adapters import (ModelSteps, atomwise_head, build_steps, check_structure, float64_copy, model_inputs,
                                 model_output, representation_name)
from xailib.lrp.linear import LinearStep

#: Bytes of tangents processed per batched JVP/VJP call.
CHUNK_BYTES = 32 * 2**20


@contextlib.contextmanager
def prepared(model: nn.Module, atoms, *, rule: str, gamma: float,
             target: str | None) -> Iterator[tuple[ModelSteps, float]]:
    """Float64 copy of ``model`` under ``rule``; yields its steps for ``atoms`` and the plain output.

    Everything is checked before any work: the rule, the architecture and the structure
    (:func:`xailib.lrp.adapters.check_structure`: ``MalformedStructureError``, ``UnsupportedElementError``).
    """
    rules.check_rule(rule, gamma)
    representation_name(model)
    check_structure(model, atoms)
    model64 = float64_copy(model)
    key = atomwise_head(model64, target).output_key
    inputs = model_inputs(model64, atoms)
    output = model_output(model64, inputs, key)
    with rules.applied(model64, rule, gamma=gamma):
        yield build_steps(model64, atoms, key, inputs=inputs), output


def _chunk(n_atoms: int, width: int) -> int:
    return max(1, CHUNK_BYTES // (8 * n_atoms * width))


def _batched_rows(fn, n_atoms: int, vectors: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    """Apply ``fn(vectors, rows)`` for one-row tangents in chunks; all-zero vectors are skipped (exact 0)."""
    width = vectors.shape[1]
    out = torch.zeros((vectors.shape[0], n_atoms, width), dtype=vectors.dtype)
    live = torch.nonzero(vectors.ne(0).any(dim=1)).flatten()
    size = _chunk(n_atoms, width)
    for s in range(0, live.numel(), size):
        idx = live[s:s + size]
        out[idx] = fn(vectors[idx], rows[idx])
    return out


def push_rows(lin: LinearStep, n_atoms: int, vectors: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    """Batched JVPs: tangent ``m`` is zero except row ``rows[m] = vectors[m]``; returns ``(M, N, d)``."""
    return _batched_rows(lin.push_rows, n_atoms, vectors, rows)


def pull_rows(lin: LinearStep, n_atoms: int, vectors: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    """Batched VJPs: cotangent ``m`` is zero except row ``rows[m] = vectors[m]``; returns ``(M, N, d)``."""
    return _batched_rows(lin.pull_rows, n_atoms, vectors, rows)


def head_gradient(st: ModelSteps) -> torch.Tensor:
    """``g = dy/dh_T`` at the forward point (rule-modified), shape ``(N, d)``."""
    return vjp(st.head, st.hs[-1])[1](torch.ones((), dtype=st.h0.dtype))[0]


def input_gradient(st: ModelSteps) -> torch.Tensor:
    """``dy/dh0`` of the rule-modified model, shape ``(N, d)``."""
    return vjp(st.forward, st.h0)[1](torch.ones((), dtype=st.h0.dtype))[0]
