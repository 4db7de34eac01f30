"""Memory of an n-body computation, estimated before any work, and the guard that refuses what does not fit.

:func:`estimate_nbody_memory` counts the arrays :func:`xailib.lrp.nbody_relevances` keeps (per-step
Jacobian factors and edge filters, forward points and step constants, the transient row Jacobians, the
list of connected sets and the term dictionaries, the dense filters of the masked method) from the
model's sizes and the structure's cutoff graph, without building any of them. :func:`check_memory`
raises :class:`MemoryLimitError` when the estimate exceeds the limit (default: a share of the memory
available now) and otherwise gives the byte budget of the restricted passes' work buffers, so that the
chunked passes stay under the limit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from xailib.base.errors import XailibError

#: Share of the memory available now that a computation may use by default.
DEFAULT_SHARE = 0.8
#: Python objects per connected set (tuple key and float in the walk, bias and combined term dicts).
BYTES_PER_SET = 600
#: Work buffers of the restricted passes: at most this many bytes, at least :data:`MIN_PASS_BYTES`.
MAX_PASS_BYTES = 256 * 2**20
MIN_PASS_BYTES = 4 * 2**20


class MemoryLimitError(XailibError, MemoryError):
    """The estimated memory of a computation exceeds the limit (checked before any work)."""


def available_bytes() -> int:
    """Memory available to new allocations now (``psutil.virtual_memory().available``)."""
    import psutil

    return int(psutil.virtual_memory().available)


@dataclass
class MemoryEstimate:
    """Estimated bytes per part of an n-body computation (see :func:`estimate_nbody_memory`)."""

    parts: dict[str, int]
    n_atoms: int
    n_pairs: int
    n_sets: int

    @property
    def fixed(self) -> int:
        """Everything except the (chunked) work buffers of the restricted passes."""
        return int(sum(self.parts.values()))

    def describe(self) -> str:
        return ", ".join(f"{k} {v / 1e9:.2f} GB" for k, v in self.parts.items() if v)


def count_connected_sets(adjacency: np.ndarray, max_order: int) -> int:
    """Upper bound of the number of connected sets of 1..``max_order`` atoms, from the degrees alone:
    exact for 1 and 2 atoms; 3-atom sets counted as paths of two edges by their centre (a triangle
    three times); 4 and more atoms roughly (``sum of degree^3``)."""
    n = adjacency.shape[0]
    degree = adjacency.sum(axis=1) - 1
    count = n
    if max_order >= 2:
        count += int(degree.sum() // 2)
    if max_order >= 3:
        count += int((degree * (degree - 1) // 2).sum())
    if max_order >= 4:  # rough: a centre and three of its neighbours, or longer chains; an overestimate
        count += int((degree.astype(np.int64) ** 3).sum())
    return count


def estimate_nbody_memory(model, atoms, *, max_order: int, method: str = "restricted",
                          inputs: dict | None = None) -> MemoryEstimate:
    """Bytes an :func:`~xailib.lrp.nbody_relevances` call keeps, by part, before any of it is built.

    Uses the model's sizes (features ``d``, filter width ``F``, steps ``T``) and the structure's cutoff
    graph (``N`` atoms, ``P`` ordered neighbour pairs, the number of connected sets). Float64 throughout.
    """
    from xailib.lrp.adapters import model_inputs, representation_name

    arch = representation_name(model)
    rep = model.representation
    d = int(rep.n_atom_basis)
    f = int(rep.interactions[0].in2f.out_features) if arch == "SchNet" else d
    t = len(rep.interactions)
    from schnetpack import properties

    inputs = model_inputs(model, atoms) if inputs is None else inputs
    n = int(inputs[properties.Z].shape[0])
    pairs = int(np.unique(inputs[properties.idx_i].numpy().astype(np.int64) * n
                          + inputs[properties.idx_j].numpy()).size)
    adjacency = np.eye(n, dtype=bool)
    adjacency[inputs[properties.idx_i].numpy(), inputs[properties.idx_j].numpy()] = True
    n_sets = count_connected_sets(adjacency, max_order)
    per_atom = f * d + (d * f if arch == "SchNet" else d * d)  # Pre and Post (SchNet) or Mix (PaiNN)
    parts = {
        "Jacobian factors": 8 * t * n * per_atom,
        "edge filters": 8 * t * pairs * (f + 2),
        "forward points and constants": 8 * (2 * t + 2) * n * d,
        "row Jacobians (transient)": 8 * 4 * max(d, f) * n * max(d, f),
        "connected sets and terms": BYTES_PER_SET * n_sets,
    }
    if method == "masked":  # dense filters and their two transposes, and the masked pass buffers
        parts["dense filters"] = 8 * 3 * t * f * n * n
        parts["masked pass buffers"] = 4 * 32 * 2**20
    return MemoryEstimate(parts, n, pairs, n_sets)


def parse_limit(limit) -> int | None:
    """A memory limit in bytes from an int/float (bytes) or a string such as ``"8GB"``, ``"512 MB"``."""
    if limit is None:
        return None
    if isinstance(limit, bool):
        raise MemoryLimitError(f"memory_limit must be a number of bytes or a size such as '8GB', got {limit!r}")
    if isinstance(limit, (int, float, np.integer, np.floating)):
        value = float(limit)
    else:
        text = str(limit).strip().upper().replace(" ", "")
        units = {"TB": 1e12, "GB": 1e9, "MB": 1e6, "KB": 1e3, "B": 1.0}
        unit = next((u for u in units if text.endswith(u)), "B")
        try:
            value = float(text[: len(text) - len(unit)] if text.endswith(unit) else text) * units[unit]
        except ValueError:
            raise MemoryLimitError(f"cannot read the memory limit {limit!r}; use bytes or a size such as '8GB'") from None
    if not np.isfinite(value) or value <= 0:
        raise MemoryLimitError(f"memory_limit must be positive and finite, got {limit!r}")
    return int(value)


def check_memory(estimate: MemoryEstimate, limit=None) -> int:
    """Refuse a computation whose estimate exceeds ``limit`` (bytes or e.g. ``"8GB"``; default
    :data:`DEFAULT_SHARE` of :func:`available_bytes`); return the byte budget for the restricted
    passes' work buffers (what is left under the limit, at most :data:`MAX_PASS_BYTES`).

    Raises
    ------
    MemoryLimitError
        The fixed part of the estimate plus the smallest pass buffers does not fit under the limit.
    """
    stated = parse_limit(limit)
    cap = stated if stated is not None else int(DEFAULT_SHARE * available_bytes())
    left = cap - estimate.fixed
    if left < MIN_PASS_BYTES:
        source = "the stated limit" if stated is not None else f"{DEFAULT_SHARE:.0%} of the memory available now"
        raise MemoryLimitError(
            f"this n-body computation needs about {(estimate.fixed + MIN_PASS_BYTES) / 1e9:.2f} GB "
            f"({estimate.describe()}; {estimate.n_atoms} atoms, {estimate.n_pairs} neighbour pairs, "
            f"about {estimate.n_sets} connected sets), more than {source} ({cap / 1e9:.2f} GB). "
            "Lower max_order, explain a smaller structure, or pass a larger memory_limit")
    return int(min(MAX_PASS_BYTES, left))
