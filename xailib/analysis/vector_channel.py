"""How much first-order relevance PaiNN's vector channel would carry if it were not detached.

The relevance engine (:mod:`xailib.lrp.adapters`) lets relevance flow through PaiNN's scalar channel ``q``
only: the vector features ``mu`` are computed by the forward pass and held constant, so whatever the
embeddings contribute *through* ``mu`` is not in any walk; the vector terms enter the steps as constants
and are booked as bias terms. This module measures the part left out.

Under a rule (``gi`` by default) the gradient of the rule-modified model with respect to the embeddings
``h0`` splits by the chain rule into the paths that never touch ``mu`` and the paths that pass through it
at least once: ``h0 . dy/dh0 = S + V``. ``S`` (scalar part) is the engine's walk total, computed by the
engine with ``mu`` detached; the full attribution ``S + V`` is gradient x input of schnetpack's own
forward of the same rule-modified float64 model, ``mu`` live; ``V`` is their difference. Per atom
``a``, ``S_a`` and ``V_a`` are the same sums over the features of atom ``a``. For SchNet (no vector
channel) ``V`` is 0 to round-off.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from xailib.lrp import rules
from xailib.lrp.adapters import build_steps
from xailib.lrp.engine import checked_float64, input_gradient

#: Keys of :func:`vector_channel_parts` that are per-structure scalars.
SCALARS = ("output", "scalar", "vector", "scalar_abs", "vector_abs")


def _full_gradient(model64: nn.Module, inputs: dict, h0: torch.Tensor, head) -> torch.Tensor:
    """``dy/dh0`` of schnetpack's forward (vector channel live), with ``h0`` injected at the embedding."""
    rep = model64.representation
    if len(getattr(rep, "electronic_embeddings", ())):
        raise NotImplementedError("models with electronic embeddings are not supported by this measurement")
    leaf = h0.detach().clone().requires_grad_(True)
    handle = rep.embedding.register_forward_hook(lambda module, args, out: leaf)
    try:
        with torch.enable_grad():
            out = rep({k: v.detach().clone() for k, v in inputs.items()})
            y = head(out["scalar_representation"])
            return torch.autograd.grad(y, leaf)[0].detach()
    finally:
        handle.remove()


def vector_channel_parts(model: nn.Module, atoms, *, rule: str = "gi", gamma: float = 0.1,
                         composite: str = "features", target: str | None = None) -> dict:
    """Scalar- and vector-path parts of the first-order attribution ``h0 . dy/dh0`` of one structure.

    Returns
    -------
    dict
        ``output`` (model output before post-processing), ``scalar`` (``S``: the engine's walk total,
        vector channel detached), ``vector`` (``V``: the part through the vector channel), ``scalar_abs`` and
        ``vector_abs`` (``sum_a |S_a|``, ``sum_a |V_a|``), and the per-atom arrays ``scalar_atoms``,
        ``vector_atoms``. ``S + V`` is gradient x input of the full model under the rule.
    """
    model64, key, inputs, output = checked_float64(model, atoms, rule=rule, gamma=gamma, target=target,
                                                   composite=composite)
    with rules.applied(model64, rule, gamma=gamma, composite=composite):
        st = build_steps(model64, atoms, key, inputs=inputs)
        h0 = st.h0
        scalar_atoms = (h0 * input_gradient(st)).sum(dim=1).detach()
        full_atoms = (h0 * _full_gradient(model64, inputs, h0, st.head)).sum(dim=1)
    s, v = scalar_atoms.numpy(), (full_atoms - scalar_atoms).numpy()
    return {"output": float(output), "scalar": float(s.sum()), "vector": float(v.sum()),
            "scalar_abs": float(np.abs(s).sum()), "vector_abs": float(np.abs(v).sum()),
            "scalar_atoms": s, "vector_atoms": v}


def vector_channel_table(model: nn.Module, structures: Sequence, **kwargs) -> dict[str, np.ndarray]:
    """:func:`vector_channel_parts` of every structure: the per-structure scalars (:data:`SCALARS`) as arrays."""
    parts = [vector_channel_parts(model, a, **kwargs) for a in structures]
    return {k: np.array([p[k] for p in parts]) for k in SCALARS}


def vector_shares(table: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Per structure: ``net`` = ``|V| / (|S| + |V|)`` (of the structure totals), ``atoms`` =
    ``sum_a |V_a| / (sum_a |S_a| + sum_a |V_a|)`` and ``of_output`` = ``V / output`` (signed)."""
    s, v = np.abs(table["scalar"]), np.abs(table["vector"])
    return {"net": v / (s + v), "atoms": table["vector_abs"] / (table["scalar_abs"] + table["vector_abs"]),
            "of_output": table["vector"] / table["output"]}
