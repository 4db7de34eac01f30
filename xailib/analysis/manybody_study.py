"""Complete many-body order sums of the ``nci-small`` energy models: the cached study of chapter 06.

``python -m xailib study manybody`` runs :func:`compute_manybody` and writes ``data/manybody/nci-small-energy.npz``
(:func:`save_manybody`; read it with :func:`load_manybody`). Structures: the first (relaxed) frame of each of
the 60 ``nci-small`` test molecules (:func:`xailib.analysis.known_answers.test_structures`). Models
(:data:`MODELS`): the three seeds of the 3-interaction SchNet and PaiNN energy models, their untrained
baselines (``<seed name>.init``, one per seed: :func:`~xailib.analysis.known_answers.initial_model`, same seed,
build and output-bias start) and the two seeds of the 6-interaction SchNet.

Per model, rule set and molecule the file holds the exact n-body terms (walks + bias, :func:`xailib.lrp.nbody_relevances`)
summed per order: ``orders`` (signed), ``orders_abs`` (sum of |terms|) and ``counts`` (number of terms),
plus ``remainder`` (the net relevance of sets larger than the computed order), ``rule_output`` and
``bias_total``; per model the ``output`` (what is left out to save space, and restored by the loader: :func:`pack`). A walk of a 3-interaction model visits at most 4 atoms, so
orders 1-4 are complete there (the remainder is round-off, checked); for the 6-interaction SchNet orders 1-3
are computed and the remainder is a *net* sum of orders 4-7, not a sum of |terms|. Under rule gi also:
``dist_abs2`` / ``dist_abs3`` (summed |2-body| per pair-distance bin, |3-body| per bin of the largest pair
distance, :data:`DIST_EDGES`, float32), for PaiNN the vector-channel parts
(:mod:`xailib.analysis.vector_channel`), and for the seed-0 untrained baselines (:data:`PAIR_TERMS`) every
pair's 2-body term (``pair``, float32, :func:`~xailib.analysis.known_answers.canonical_pairs` order; the trained
models' pair terms are in ``data/relevance``; rounded to a relative 0.1 %, :func:`round_float32`). Conservation (orders + remainder = rule output, and = output
under gi) is asserted while the file is built.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from itertools import combinations
from pathlib import Path

import numpy as np

from xailib.base.io import load_npz, provenance, save_npz
from xailib.base.paths import data_dir

BASE = {"schnet": "nci-small-energy-schnet", "painn": "nci-small-energy-painn"}
#: Model entries: name -> (model folder, trained?, interactions, computed order).
MODELS = {
    **{f"{BASE[a]}{s}": (f"{BASE[a]}{s}", True, 3, 4) for a in BASE for s in ("", "-seed1", "-seed2")},
    **{f"{BASE[a]}{s}.init": (f"{BASE[a]}{s}", False, 3, 4) for a in BASE for s in ("", "-seed1", "-seed2")},
    **{f"nci-small-energy-schnet6{s}": (f"nci-small-energy-schnet6{s}", True, 6, 3) for s in ("", "-seed1")},
}
#: Entries that also store every pair's 2-body term (``pair``): the seed-0 initialisations only (the data budget;
#: the trained models' pair terms are in ``data/relevance``).
PAIR_TERMS = frozenset(f"{BASE[a]}.init" for a in BASE)
#: Rule sets: tag -> (rule, composite). gi always; gamma (reference composite) on request, for the trained
#: 3-interaction models only (the shipped file has gi only: the data budget).
RULE_SETS = {"gi": ("gi", "features"), "gamma-reference": ("gamma", "reference")}
#: Distance-bin edges (Angstrom) of ``dist_abs2`` / ``dist_abs3``; the last bin holds the 3-body terms beyond the cutoff.
DIST_EDGES = np.array([0.5, 1.5, 2.5, 3.5, 4.5, 5.0, 12.0])
#: Largest accepted |orders + remainder - rule output| relative to max(1, |output|).
TOLERANCE = 1e-8
#: Mantissa bits cleared in the stored pair terms (:func:`round_float32`: relative error below 0.1 %).
PAIR_BITS = 13
PATH = "manybody/nci-small-energy.npz"
HOW_TO_MAKE = "python -m xailib study manybody"


def manybody_path(directory: str | os.PathLike | None = None) -> Path:
    """``data/manybody/nci-small-energy.npz`` (or under ``directory``)."""
    return data_dir(directory) / PATH


def rule_sets_for(name: str, gamma: bool = False) -> tuple[str, ...]:
    """Rule-set tags computed for a model entry (``gamma``: add gamma for the trained 3-interaction models)."""
    _, trained, t, _ = MODELS[name]
    return tuple(RULE_SETS) if gamma and trained and t == 3 else ("gi",)


def _binned(terms: dict, distances: np.ndarray, order: int) -> np.ndarray:
    out = np.zeros(len(DIST_EDGES) - 1)
    for s, value in terms.items():
        if len(s) == order:
            r = max(distances[i, j] for i, j in combinations(s, 2))
            b = np.searchsorted(DIST_EDGES, r, side="right") - 1
            if 0 <= b < len(out):
                out[b] += abs(value)
    return out


def explain_orders(model, structures: Sequence, *, max_order: int, rule: str = "gi", composite: str = "features",
                   complete: bool = False, pairs: bool = False, progress: bool = False) -> dict[str, np.ndarray]:
    """Per-order sums of the exact n-body terms of every structure (module docstring), conservation asserted
    (``complete``: also that the remainder is round-off, as for ``max_order`` = interactions + 1).

    ``pairs``: also every pair's 2-body term in canonical order (``pair``). Under gi also ``dist_abs2``/``dist_abs3``.
    """
    from xailib.data.store import progress_bar
    from xailib.lrp import nbody_relevances

    cols: dict[str, list] = {k: [] for k in ("orders", "orders_abs", "counts", "remainder", "rule_output",
                                             "bias_total", "output", "dist_abs2", "dist_abs3", "pair")}
    for atoms in progress_bar(structures, progress, f"{rule} order {max_order}"):
        nb = nbody_relevances(model, atoms, max_order=max_order, rule=rule, composite=composite)
        terms = nb.combined_terms()
        signed, absolute, count = np.zeros(max_order), np.zeros(max_order), np.zeros(max_order, dtype=np.int32)
        for s, value in terms.items():
            signed[len(s) - 1] += value
            absolute[len(s) - 1] += abs(value)
            count[len(s) - 1] += 1
        remainder = nb.conserved_remainder
        scale = max(1.0, abs(nb.output))
        if abs(signed.sum() + remainder - nb.rule_output) > TOLERANCE * scale:
            raise AssertionError(f"orders + remainder != rule output for {atoms.get_chemical_formula()}")
        if rule == "gi" and abs(nb.rule_output - nb.output) > TOLERANCE * scale:
            raise AssertionError(f"gi rule output != output for {atoms.get_chemical_formula()}")
        if complete and abs(remainder) > TOLERANCE * scale:
            raise AssertionError(f"a remainder of {remainder:.3g} where orders 1-{max_order} are complete")
        for key, value in (("orders", signed), ("orders_abs", absolute), ("counts", count), ("remainder", remainder),
                           ("rule_output", nb.rule_output), ("bias_total", nb.bias_total), ("output", nb.output)):
            cols[key].append(value)
        if rule == "gi":
            d = atoms.get_all_distances()
            cols["dist_abs2"].append(_binned(terms, d, 2))
            cols["dist_abs3"].append(_binned(terms, d, 3))
        if pairs:
            i, j = np.triu_indices(len(atoms), 1)
            cols["pair"].append([terms.get((a, b), 0.0) for a, b in zip(i, j)])
    out = {k: np.array(v) for k, v in cols.items() if v and k not in ("dist_abs2", "dist_abs3", "pair")}
    if cols["dist_abs2"]:
        out["dist_abs2"] = np.array(cols["dist_abs2"], dtype=np.float32)
        out["dist_abs3"] = np.array(cols["dist_abs3"], dtype=np.float32)
    if pairs:
        out["pair"] = np.concatenate(cols["pair"]).astype(np.float32)
    return out


def _load(name: str, models_dir: str | os.PathLike | None):
    from xailib.analysis.known_answers import initial_model
    from xailib.models import load_model, model_dir

    folder, trained, _, _ = MODELS[name]
    path = Path(models_dir) / folder if models_dir is not None else model_dir(folder)
    return (load_model(path) if trained else initial_model(path)), path


def compute_manybody(names: Sequence[str] | None = None, *, structures: Sequence | None = None,
                     models_dir: str | os.PathLike | None = None, gamma: bool = False,
                     progress: bool = True) -> tuple[dict, dict]:
    """``(arrays, meta)`` of the study (module docstring) for the entries ``names`` (default all :data:`MODELS`)
    on ``structures`` (default the first frame of each test molecule; others only for tests); ``gamma``:
    add the gamma rule set (:func:`rule_sets_for`)."""
    from xailib.analysis.known_answers import test_structures
    from xailib.analysis.test_sets import test_molecule_ids
    from xailib.analysis.vector_channel import vector_channel_table
    from xailib.data.manifest import sha256

    names = list(MODELS) if names is None else list(names)
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        raise KeyError(f"unknown model entries {unknown}; choose from {', '.join(MODELS)}")
    if structures is None:
        structures = test_structures()
        molecule_ids = list(dict.fromkeys(test_molecule_ids()))
    else:
        molecule_ids = [str(k) for k in range(len(structures))]
    start, parts, extra, models_meta = time.perf_counter(), {}, {}, {}
    for name in names:
        model, path = _load(name, models_dir)
        _, trained, t, max_order = MODELS[name]
        t0 = time.perf_counter()
        parts[name] = {tag: explain_orders(model, structures, max_order=max_order, rule=RULE_SETS[tag][0],
                                           composite=RULE_SETS[tag][1], complete=max_order == t + 1,
                                           pairs=tag == "gi" and name in PAIR_TERMS, progress=progress)
                       for tag in rule_sets_for(name, gamma)}
        if "painn" in name:
            vc = vector_channel_table(model, structures)
            extra.update({f"{name}/gi/vector_{k}": vc[k] for k in ("scalar", "vector", "scalar_abs", "vector_abs")})
        models_meta[name] = {"folder": path.name, "trained": trained, "n_interactions": t, "max_order": max_order,
                             "complete": max_order == t + 1, "rule_sets": list(rule_sets_for(name, gamma)),
                             "weights": "trained" if trained else "initial (same seed, build and output-bias start)",
                             "model_sha256": sha256(path / "model.pt") if trained else None,
                             "wall_s": round(time.perf_counter() - t0, 1)}
    arrays = {**pack(parts, {n: m["complete"] for n, m in models_meta.items()}), **extra}
    meta = provenance(wall_s=time.perf_counter() - start, dataset="nci-small", frames="first frame of each test molecule",
                      molecule_ids=molecule_ids, rows=[int(a.info.get("row", -1)) for a in structures],
                      models=models_meta, rule_sets={k: list(v) for k, v in RULE_SETS.items()},
                      dist_edges=DIST_EDGES.tolist(), tolerance=TOLERANCE)
    return arrays, meta


def round_float32(values: np.ndarray, bits: int = PAIR_BITS) -> np.ndarray:
    """``values`` as float32 with the lowest ``bits`` mantissa bits cleared (relative error below
    ``2 ** (bits - 23)``): they compress about a third better. Zeros, signs and the exponent range are kept."""
    x = np.ascontiguousarray(values, dtype=np.float32)
    mask = np.uint32((0xFFFFFFFF << bits) & 0xFFFFFFFF)
    return (x.view(np.uint32) & mask).view(np.float32)


def pack(parts: dict[str, dict[str, dict]], complete: dict[str, bool]) -> dict[str, np.ndarray]:
    """The stored arrays of ``{name: {tag: explain_orders(...)}}`` (the data budget): per model ``output``; per
    tag the rest, without gi ``rule_output`` (= ``output``, checked when built), without the remainder where the
    orders are ``complete`` (round-off, checked), ``orders_abs`` and ``bias_total`` as float32 (for shares; ``orders``
    stays float64 so that conservation can be re-checked), ``pair`` rounded by :func:`round_float32`; ``counts``
    once (every model sees the same cutoff graph: checked)."""
    arrays, counts = {}, []
    for name, by_tag in parts.items():
        for tag, part in by_tag.items():
            part = dict(part)
            output, count = part.pop("output"), part.pop("counts")
            if tag == "gi":
                arrays[f"{name}/output"] = output
                counts.append(count)
                part.pop("rule_output")
            if complete[name]:
                part.pop("remainder")
            part["orders_abs"] = part["orders_abs"].astype(np.float32)
            part["bias_total"] = part["bias_total"].astype(np.float32)
            if "pair" in part:
                part["pair"] = round_float32(part["pair"])
            arrays.update({f"{name}/{tag}/{k}": v for k, v in part.items()})
    widest = max(counts, key=lambda c: c.shape[1])
    if any(not np.array_equal(c, widest[:, :c.shape[1]]) for c in counts):
        raise AssertionError("the models see different cutoff graphs: their term counts differ")
    arrays["counts"] = widest.astype(np.int32)
    return arrays


def save_manybody(arrays: dict, meta: dict, path: str | os.PathLike | None = None) -> Path:
    """Write the study (:func:`compute_manybody`) to ``path`` (default :func:`manybody_path`)."""
    return save_npz(manybody_path() if path is None else path, arrays, meta)


def load_manybody(path: str | os.PathLike | None = None) -> dict:
    """The study as ``{"meta", "molecules", "edges", "models": {name: {"output", "counts", tag: {key: array}}}}``.

    Restores what is not stored (:func:`_compact`): gi ``rule_output`` = ``output`` and a zero ``remainder`` where
    the orders are complete. Re-checks conservation: per model and rule set, orders + remainder = rule output to
    :data:`TOLERANCE`.
    """
    arrays, meta = load_npz(manybody_path() if path is None else path, how_to_make=HOW_TO_MAKE)
    models: dict = {}
    counts = arrays.pop("counts")
    for key, value in arrays.items():
        parts = key.split("/")
        node = models.setdefault(parts[0], {})
        for p in parts[1:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = value
    for name, entry in models.items():
        scale = np.maximum(1.0, np.abs(entry["output"]))
        info = meta["models"][name]
        entry["counts"] = counts[:, :info["max_order"]]
        entry["gi"].setdefault("rule_output", entry["output"])
        for tag in info["rule_sets"]:
            e = entry[tag]
            if info["complete"]:
                e.setdefault("remainder", np.zeros(len(entry["output"])))
            if np.any(np.abs(e["orders"].sum(1) + e["remainder"] - e["rule_output"]) > TOLERANCE * scale):
                raise ValueError(f"{name} {tag}: stored orders do not add up to the rule output")
    return {"meta": meta, "molecules": np.asarray(meta["molecule_ids"]), "edges": np.asarray(meta["dist_edges"]),
            "models": models}
