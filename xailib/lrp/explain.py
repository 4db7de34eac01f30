"""One-call explanation of a structure (used by ``python -m xailib explain``): summary, top walks and
pairs, and saving the arrays to ``.npz`` or ``.json``."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from torch import nn

from xailib.lrp.nbody import NBodyRelevances, nbody_relevances
from xailib.lrp.walks import MAX_WALKS, WalkRelevances, walk_relevances

#: Walk tensors up to this size are computed by ``explain`` (bigger models get n-body terms only).
EXPLAIN_MAX_WALKS = 20_000_000


@dataclass
class Explanation:
    """Walks (when affordable) and n-body terms of one structure."""

    walks: WalkRelevances | None
    nbody: NBodyRelevances

    def summary(self, top: int = 10) -> str:
        """Human-readable report: output, total relevance, order sums, top walks and top pairs."""
        nb = self.nbody
        atoms = nb.atoms
        sym = atoms.get_chemical_symbols()
        name = lambda idx: "-".join(f"{sym[i]}{i}" for i in idx)  # noqa: E731
        lines = [f"structure: {atoms.get_chemical_formula()} ({len(atoms)} atoms); target {nb.target!r}; "
                 f"rule {nb.rule}" + (f" (gamma={nb.gamma:g})" if nb.rule == "gamma" else ""),
                 f"model output (before post-processing): {nb.output:+.6f}",
                 f"total relevance (sum of all walks):     {nb.total:+.6f}",
                 "relevance by order: " + ", ".join(f"{k}: {v:+.6f}" for k, v in nb.order_sums().items())]
        if self.walks is None:
            lines.append("walks: not computed (walk tensor too large; n-body terms are exact)")
        else:
            lines.append(f"top {top} walks (of {self.walks.R.size}):")
            lines += [f"  {name(w):<32s} {r:+.6f}" for w, r in self.walks.top_walks(top)]
        lines.append(f"top {top} pairs (exact 2-body terms):")
        lines += [f"  {name(p):<16s} {r:+.6f}" for p, r in nb.top(top, order=2)]
        return "\n".join(lines)

    def arrays(self) -> dict[str, np.ndarray]:
        """Everything as numpy arrays (keys: R, atom_relevances, pairs, pair_relevances, ...)."""
        nb = self.nbody
        out: dict[str, np.ndarray] = {
            "numbers": nb.atoms.numbers, "positions": nb.atoms.positions,
            "output": np.float64(nb.output), "total": np.float64(nb.total),
            "remainder": np.float64(nb.remainder), "rule": np.str_(nb.rule), "gamma": np.float64(nb.gamma),
            "target": np.str_(nb.target),
        }
        for k in range(1, nb.max_order + 1):
            terms = nb.order(k)
            out[f"sets{k}"] = np.array(list(terms), dtype=np.int64).reshape(-1, k)
            out[f"relevances{k}"] = np.array(list(terms.values()), dtype=np.float64)
        if self.walks is not None:
            out["R"] = self.walks.R
            out["atom_relevances"] = self.walks.atom_relevances()
        return out

    def save(self, path: str | Path) -> Path:
        """Write :meth:`arrays` to ``path`` (``.npz`` or ``.json``)."""
        path = Path(path)
        arrays = self.arrays()
        if path.suffix == ".npz":
            np.savez_compressed(path, **arrays)
        elif path.suffix == ".json":
            path.write_text(json.dumps({k: np.asarray(v).tolist() for k, v in arrays.items()}) + "\n")
        else:
            raise ValueError(f"unknown output format {path.suffix!r}; use a .npz or .json file name")
        return path


def explain(model: nn.Module, atoms, *, rule: str = "gi", gamma: float = 0.1, target: str | None = None,
            max_order: int = 3) -> Explanation:
    """Walk relevances (if ``N^(T+1)`` is at most :data:`EXPLAIN_MAX_WALKS`) and exact n-body terms."""
    from xailib.lrp.adapters import float64_copy

    n_steps = len(float64_copy(model).representation.interactions)
    affordable = len(atoms) ** (n_steps + 1) <= min(EXPLAIN_MAX_WALKS, MAX_WALKS)
    walks = walk_relevances(model, atoms, rule=rule, gamma=gamma, target=target) if affordable else None
    nb = nbody_relevances(model, atoms, max_order=max_order, rule=rule, gamma=gamma, target=target)
    return Explanation(walks, nb)
