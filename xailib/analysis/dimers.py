"""The non-interacting dimer test: two molecules far apart, as the reference method and as the models see them.

For molecules A and B farther apart than the model cutoff, a message-passing model sees two separate
graphs. Its per-atom outputs on the dimer are those of A and B alone, so a **sum**-aggregated model
predicts ``y_A + y_B`` and a **mean**-aggregated model ``(N_A y_A + N_B y_B) / (N_A + N_B)``. The
reference values behave differently: the dimer's energy is ``E_A + E_B`` up to the long-range part of
GFN2-xTB (electrostatics and dispersion, small at 15 Angstrom), and its HOMO-LUMO gap is
``min(LUMO_A, LUMO_B) - max(HOMO_A, HOMO_B)``, which is below both gaps when the levels are staggered.

:func:`far_dimer` builds the dimer (B rigidly translated; the closest A-B distance is exactly the
requested separation), :func:`random_pairs` draws disjoint pairs, :func:`split_relevance` runs a model
once and splits its explanation into the walks inside A, inside B and between them (exactly 0 beyond the
cutoff), :func:`model_dimer` and :func:`reference_dimer` give one pair's row (:func:`free_atom_energy` turns its
energies into atomisation energies), and :func:`dimer_table`
the whole study, stored with :func:`save_dimer_table` / :func:`load_dimer_table`
(``data/orbitals/nci-small-test-dimers.npz``, ``python -m xailib study dimers``).
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from ase import Atoms

from xailib.base.errors import XailibError
from xailib.base.io import load_npz, provenance, save_npz
from xailib.base.paths import data_dir

#: The cached table of the study, relative to the data folder, and the command that writes it.
DIMER_FILE = "orbitals/nci-small-test-dimers.npz"
DIMER_COMMAND = "python -m xailib study dimers"


class DimerSeparationError(XailibError, ValueError):
    """A dimer separation that cannot give a non-interacting pair (not positive, or within the model cutoff)."""


def far_dimer(a: Atoms, b: Atoms, separation: float = 15.0, direction: Sequence[float] = (1.0, 0.0, 0.0)) -> Atoms:
    """A followed by B, B rigidly translated along ``direction`` so that the closest A-B distance is ``separation``.

    A keeps its positions; B is first centred on A's centroid across ``direction`` and then moved along it
    by the smallest shift that keeps every A-B distance at least ``separation`` (Angstrom).

    Raises
    ------
    DimerSeparationError
        When ``separation`` is not a positive finite number.
    """
    if not np.isfinite(separation) or separation <= 0:
        raise DimerSeparationError(f"separation must be a positive distance in Angstrom, got {separation}")
    u = np.asarray(direction, dtype=float)
    if u.shape != (3,) or not np.linalg.norm(u) > 0:
        raise ValueError(f"direction must be a non-zero 3-vector, got {direction}")
    u = u / np.linalg.norm(u)
    pa, pb = a.positions, b.positions - b.positions.mean(0) + a.positions.mean(0)
    delta = pb[None, :, :] - pa[:, None, :]  # (N_A, N_B, 3)
    along = delta @ u
    across2 = np.maximum((delta ** 2).sum(-1) - along ** 2, 0.0)
    near = across2 < separation ** 2  # pairs that the shift along u must separate
    shift = np.max(np.sqrt(separation ** 2 - across2[near]) - along[near]) if near.any() else 0.0
    moved = b.copy()
    moved.positions = pb + shift * u
    dimer = a.copy()
    dimer.info = {}
    dimer += moved
    return dimer


def free_atom_energy(atoms: Atoms, atomrefs: Sequence[float] | np.ndarray) -> float:
    """Sum of the free-atom energies of ``atoms`` (``atomrefs`` indexed by atomic number, e.g. the dataset's
    ``metadata(...)["atomrefs"]["energy"]``): a total energy minus this is the atomisation energy."""
    return float(np.asarray(atomrefs)[atoms.numbers].sum())


def random_pairs(n_molecules: int, n_pairs: int, seed: int = 0) -> list[tuple[int, int]]:
    """``n_pairs`` disjoint pairs of ``range(n_molecules)`` from a seeded permutation (no molecule twice)."""
    if not 0 < 2 * n_pairs <= n_molecules:
        raise ValueError(f"{n_pairs} disjoint pairs need at least {2 * n_pairs} molecules, got {n_molecules}")
    order = np.random.default_rng(seed).permutation(n_molecules)[:2 * n_pairs]
    return [(int(i), int(j)) for i, j in order.reshape(-1, 2)]


def split_relevance(model, atoms: Atoms, n_first: int, *, rule: str = "gi", gamma: float = 0.1,
                    composite: str = "features") -> dict[str, float]:
    """One pass of ``model`` on ``atoms`` whose first ``n_first`` atoms form A and the rest B.

    Returns ``output`` (the model output before post-processing), ``rule_output``, ``conserved`` (walks +
    bias terms, equal to ``rule_output``), ``inside_a`` and ``inside_b`` (relevance of the walks and bias
    suffixes that stay inside A or B: subgraph passes of :mod:`xailib.lrp.nbody`), ``between`` (``conserved
    - inside_a - inside_b``: walks that visit both), ``atom_sum_a``/``atom_sum_b`` (the head's per-atom
    outputs summed over A and B, before any division by ``N``) and ``mean`` (1.0 for mean aggregation).
    """
    from xailib.lrp.adapters import atomwise_head
    from xailib.lrp.bias import bias_atom_terms
    from xailib.lrp.engine import input_gradient, prepared
    from xailib.lrp.nbody import subgraph_relevances

    n = len(atoms)
    if not 0 < n_first <= n:
        raise ValueError(f"n_first must be in 1..{n}, got {n_first}")
    mean = atomwise_head(model, None).aggregation_mode == "avg"
    groups = [tuple(range(n_first))] + ([tuple(range(n_first, n))] if n_first < n else [])
    with prepared(model, atoms, rule=rule, gamma=gamma, target=None, composite=composite) as (st, output):
        conserved = float((st.h0 * input_gradient(st)).sum() + bias_atom_terms(st).sum())
        walks, bias = subgraph_relevances(st, groups)
        per_atom = st.atom_head(st.hs[-1]).detach().numpy() * (n if mean else 1)
        rule_output = float(st.forward())
    inside = walks + bias
    inside_b = float(inside[1]) if n_first < n else 0.0
    return {"output": float(output), "rule_output": rule_output, "conserved": conserved,
            "inside_a": float(inside[0]), "inside_b": inside_b, "between": conserved - float(inside[0]) - inside_b,
            "atom_sum_a": float(per_atom[:n_first].sum()), "atom_sum_b": float(per_atom[n_first:].sum()),
            "mean": float(mean)}


def check_separation(model, separation: float) -> None:
    """Raise :class:`DimerSeparationError` unless ``separation`` exceeds the model's cutoff."""
    from xailib.models.build import model_cutoff

    cutoff = model_cutoff(model)
    if not separation > cutoff:
        raise DimerSeparationError(
            f"a separation of {separation} Angstrom is within the model's {cutoff} Angstrom cutoff: the two molecules "
            f"interact through the model, so it is no non-interacting dimer; use a separation above {cutoff} "
            "Angstrom (e.g. 15)")


def model_dimer(model, a: Atoms, b: Atoms, separation: float = 15.0, *, rule: str = "gi",
                gamma: float = 0.1, composite: str = "features") -> dict[str, float]:
    """One model on A, B and their far dimer: predictions, per-atom output sums and the split explanation.

    Keys: ``n_a``, ``n_b``; ``y_a``, ``y_b``, ``y_ab`` (outputs before post-processing); ``sum_a``, ``sum_b``,
    ``sum_ab`` (per-atom outputs summed: what sum aggregation of the same outputs gives); ``expected_ab``
    (``y_a + y_b`` for sum aggregation, the atom-weighted mean for mean aggregation); ``conservation``
    (``rule_output - walks - bias`` on the dimer); ``between`` (relevance of walks visiting both
    molecules); ``drift_a``, ``drift_b`` (relevance inside A on the dimer minus A's own relevance, that
    scaled by ``N_A / N`` for mean aggregation); ``mean`` (1.0 for mean aggregation).

    Raises
    ------
    DimerSeparationError
        When ``separation`` does not exceed the model's cutoff.
    """
    check_separation(model, separation)
    kw = {"rule": rule, "gamma": gamma, "composite": composite}
    pa, pb = split_relevance(model, a, len(a), **kw), split_relevance(model, b, len(b), **kw)
    pab = split_relevance(model, far_dimer(a, b, separation), len(a), **kw)
    n_a, n_b = len(a), len(b)
    w_a, w_b = (n_a / (n_a + n_b), n_b / (n_a + n_b)) if pab["mean"] else (1.0, 1.0)
    return {"n_a": n_a, "n_b": n_b, "y_a": pa["output"], "y_b": pb["output"], "y_ab": pab["output"],
            "sum_a": pa["atom_sum_a"], "sum_b": pb["atom_sum_a"], "sum_ab": pab["atom_sum_a"] + pab["atom_sum_b"],
            "expected_ab": w_a * pa["output"] + w_b * pb["output"],
            "conservation": pab["rule_output"] - pab["conserved"], "between": pab["between"],
            "drift_a": pab["inside_a"] - w_a * pa["conserved"], "drift_b": pab["inside_b"] - w_b * pb["conserved"],
            "mean": pab["mean"]}


def reference_dimer(a: Atoms, b: Atoms, separation: float = 15.0) -> dict[str, float]:
    """GFN2-xTB (tblite) energy, HOMO, LUMO and gap (eV) of A, B and their far dimer, and the pair rule.

    Keys ``energy_x``, ``homo_x``, ``lumo_x``, ``gap_x`` for ``x`` in ``a``, ``b``, ``ab``; ``rule_gap`` is
    ``min(lumo_a, lumo_b) - max(homo_a, homo_b)``.
    """
    from xailib.qm.xtb import xtb_labels

    out = {}
    for key, atoms in (("a", a), ("b", b), ("ab", far_dimer(a, b, separation))):
        labels = xtb_labels(atoms)
        out.update({f"{q}_{key}": float(labels[q][0]) for q in ("energy", "homo", "lumo", "gap")})
    out["rule_gap"] = min(out["lumo_a"], out["lumo_b"]) - max(out["homo_a"], out["homo_b"])
    return out


@dataclass(frozen=True)
class DimerTable:
    """The dimer study: ``reference`` (one row per pair: ``a``, ``b`` molecule ids and :func:`reference_dimer`),
    ``models`` (one row per model and pair: ``model``, ``pair`` and :func:`model_dimer`), ``meta``."""

    reference: dict[str, np.ndarray]
    models: dict[str, np.ndarray]
    meta: dict

    def model(self, name: str) -> dict[str, np.ndarray]:
        """The rows of one model, in pair order."""
        keep = self.models["model"] == name
        if not keep.any():
            raise KeyError(f"model {name!r} is not in the dimer table; it has {sorted(set(self.models['model']))}")
        return {k: v[keep] for k, v in self.models.items()}


def _columns(rows: list[dict]) -> dict[str, np.ndarray]:
    return {k: np.array([r[k] for r in rows]) for k in rows[0]}


def dimer_table(models: Mapping[str, object], structures: Sequence[Atoms], molecules: Sequence[str], *,
                n_pairs: int = 30, seed: int = 0, separation: float = 15.0, **meta) -> DimerTable:
    """The dimer study over :func:`random_pairs` of ``structures`` for every model of ``models`` (name -> model).

    ``molecules`` names each structure; ``meta`` goes into the provenance record. Raises
    :class:`DimerSeparationError` before any work when ``separation`` is within a model's cutoff.
    """
    if len(structures) != len(molecules):
        raise ValueError(f"{len(structures)} structures but {len(molecules)} molecule ids")
    for model in models.values():
        check_separation(model, separation)
    start = time.perf_counter()
    pairs = random_pairs(len(structures), n_pairs, seed)
    reference = [{"a": molecules[i], "b": molecules[j], **reference_dimer(structures[i], structures[j], separation)}
                 for i, j in pairs]
    rows = [{"model": name, "pair": k, **model_dimer(model, structures[i], structures[j], separation)}
            for name, model in models.items() for k, (i, j) in enumerate(pairs)]
    record = provenance(wall_s=time.perf_counter() - start, packages=("numpy", "torch", "schnetpack", "ase", "tblite"),
                        n_pairs=n_pairs, seed=seed, separation_A=separation, rule="gi", **meta)
    return DimerTable(_columns(reference), _columns(rows), record)


def save_dimer_table(table: DimerTable, path: str | os.PathLike | None = None) -> Path:
    """Write ``table`` to ``path`` (default ``data/orbitals/nci-small-test-dimers.npz``)."""
    path = Path(path) if path is not None else data_dir() / DIMER_FILE
    arrays = {**{f"reference.{k}": v for k, v in table.reference.items()},
              **{f"models.{k}": v for k, v in table.models.items()}}
    return save_npz(path, arrays, table.meta)


def load_dimer_table(path: str | os.PathLike | None = None) -> DimerTable:
    """Read a table written by :func:`save_dimer_table` (default: the shipped ``nci-small`` test dimers)."""
    path = Path(path) if path is not None else data_dir() / DIMER_FILE
    arrays, meta = load_npz(path, how_to_make=DIMER_COMMAND)
    part = lambda prefix: {k.split(".", 1)[1]: v for k, v in arrays.items() if k.startswith(prefix + ".")}
    return DimerTable(part("reference"), part("models"), meta)
