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
from xailib.lrp.composites import check_composite
from xailib.lrp.linear import LinearStep

#: Bytes of tangents processed per batched JVP/VJP call.
CHUNK_BYTES = 32 * 2**20


@contextlib.contextmanager
def prepared(model: nn.Module, atoms, *, rule: str, gamma: float, target: str | None,
             composite: str = "features", check=None) -> Iterator[tuple[ModelSteps, float]]:
    """Float64 copy of ``model`` under ``rule``; yields its steps for ``atoms`` and the plain output.

    The steps (filters and, for PaiNN, the vector channel included) are built inside the rule context,
    so ``composite`` (:mod:`xailib.lrp.composites`) decides whether the edge filter networks run the
    rule-modified forward. Everything is checked before any work: the rule, the composite, the
    architecture and the structure (:func:`xailib.lrp.adapters.check_structure`:
    ``MalformedStructureError``, ``UnsupportedElementError``), then ``check(model64, inputs)`` if given
    (e.g. the memory guard), before the steps are built.
    """
    model64, key, inputs, output = checked_float64(model, atoms, rule=rule, gamma=gamma, target=target,
                                                   composite=composite)
    if check is not None:
        check(model64, inputs)
    with rules.applied(model64, rule, gamma=gamma, composite=composite):
        yield build_steps(model64, atoms, key, inputs=inputs), output


def checked_float64(model: nn.Module, atoms, *, rule: str, gamma: float, target: str | None,
                    composite: str = "features") -> tuple[nn.Module, str, dict[str, torch.Tensor], float]:
    """Check the rule, composite, architecture and structure before any work; then the float64 copy of
    ``model``, the explained head's output key, the model inputs for ``atoms`` and the plain output."""
    rules.check_rule(rule, gamma)
    check_composite(composite)
    representation_name(model)
    check_structure(model, atoms)
    model64 = float64_copy(model)
    key = atomwise_head(model64, target).output_key
    inputs = model_inputs(model64, atoms)
    return model64, key, inputs, model_output(model64, inputs, key)


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
    return st.head_gradient()


def input_gradient(st: ModelSteps) -> torch.Tensor:
    """``dy/dh0`` of the rule-modified model, shape ``(N, d)``."""
    return vjp(st.forward, st.h0)[1](torch.ones((), dtype=st.h0.dtype))[0]


def keep_row_gradient(h: torch.Tensor, atom: int) -> torch.Tensor:
    """``h`` with the gradient flowing only through row ``atom`` (all other rows detached)."""
    keep = torch.zeros(h.shape[0], dtype=torch.bool)
    keep[atom] = True
    return torch.where(keep[:, None], h, h.detach())


def push_prefixes(st: ModelSteps, vectors: torch.Tensor, start: int, stop: int) -> torch.Tensor:
    """Push walk-prefix vectors at level ``start`` through steps ``start+1..stop``.

    Row ``p`` of ``vectors`` (``(M, d)``) is a one-row tangent at atom ``p % N`` (the prefix's last atom,
    least significant). Returns ``(M * N^(stop-start), d)``, each step appending its atom as the new
    least significant index.
    """
    n, d = st.n_atoms, st.h0.shape[1]
    for t in range(start + 1, stop + 1):
        last = torch.arange(vectors.shape[0]) % n
        vectors = push_rows(st.linear[t - 1], n, vectors, last).reshape(-1, d)
    return vectors


def pull_suffixes(st: ModelSteps, stop: int) -> dict[int, torch.Tensor]:
    """Walk-suffix cotangents at levels ``T, T-1, ..., stop``, pulled back from ``g = dy/dh_T``.

    Level ``t`` is ``(N^(T-t+1), d)``: row ``(w_t, ..., w_T)`` (``w_t`` most significant) is the vector
    ``J_{t+1}[w_t->w_{t+1}] ... J_T[w_{T-1}->w_T] g[w_T]`` at atom ``w_t``.
    """
    n, d, t_max = st.n_atoms, st.h0.shape[1], st.n_steps
    suffix = head_gradient(st)
    levels = {t_max: suffix}
    for t in range(t_max, stop, -1):
        m = suffix.shape[0]
        first = torch.arange(m) // (m // n)
        suffix = pull_rows(st.linear[t - 1], n, suffix, first).transpose(0, 1).reshape(-1, d)
        levels[t - 1] = suffix
    return levels
