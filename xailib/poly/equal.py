"""Chapter 10's controlled comparison: cosine cutoff against polynomial envelope under equal conditions.

SchNet and PaiNN on nci-small (atomisation energy and forces, ``configs/poly/equal/``) with three radial
treatments (:data:`VARIANTS`): the shipped cosine cutoff at 5 A; the polynomial envelope (an r^-6 tail to
8 A) with the Gaussian basis kept on [0, 5] A; the same envelope with the basis reaching 8 A. Every run uses
1500 training and 300 validation frames (the same for every variant of one seed; each seed draws its own)
and 25 epochs without early stopping, one thread, seeds 0, 1 and 2 (``scripts/train_poly_equal.sh``, resumable; weights in ``data/poly/models/``, not committed). The
training log holds the elapsed training time of every epoch (``elapsed_s``), so the runs also compare at
equal wall time.

Two stages of ``python -m xailib study poly``::

    python -m xailib study poly equal-explain   # rule gi, first frame of each test molecule, beside the weights
    python -m xailib study poly equal           # the committed summary data/poly/equal.json

``data/poly/equal.json`` (:func:`load_equal`): ``runs`` maps each run name (:func:`run_name`) to ``arch``,
``variant``, ``seed``, ``metrics`` (test errors of the best-validation weights, epochs, training time;
:data:`xailib.poly.study.METRIC_KEYS` plus ``n_train``), ``step_s`` (:func:`step_cost`), ``curve`` (per epoch:
:data:`CURVE_KEYS` and ``quiet_s``),
``pairs`` (:func:`pair_range_summary`) ``filters`` (mean |W_t(r)| per interaction on ``meta.filter_grid``,
:func:`xailib.poly.study.filter_profile`) and ``molecule_errors`` (:func:`molecule_errors`); ``missing`` lists runs not found; ``meta`` is the provenance record
with the settings.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from xailib.base.io import CacheFileError, load_json, provenance, save_json
from xailib.base.paths import data_dir

ARCHS = ("SchNet", "PaiNN")
#: Radial treatments compared: cosine cutoff; polynomial envelope with the basis on [0, 5] A; with it on [0, 8] A.
VARIANTS = ("cosine", "poly", "poly-rbf8")
SEEDS = (0, 1, 2)
#: The cosine cutoff: 2-body terms beyond it exist only with the polynomial envelope.
LONG_RANGE = 5.0
#: Bin edges of the 2-body profiles (Angstrom).
PAIR_BINS = np.round(np.arange(0.8, 8.01, 0.4), 10)
#: The tail window of the 2-body power-law fit (beyond the cosine cutoff, before the switch of the envelope).
TAIL_WINDOW = (5.0, 6.5)
#: Per-epoch entries of a run's curve; the summary adds ``quiet_s``, the training time at the quiet-machine
#: cost of a step (:func:`step_cost`), because ``elapsed_s`` was measured while other jobs shared the machine.
CURVE_KEYS = ("epoch", "elapsed_s", "val_loss", "val_energy_MAE", "val_forces_MAE")
RELEVANCE_FILE = "relevance-first-frames.npz"
EQUAL_FILE = Path("poly") / "equal.json"
COMMAND = "python -m xailib study poly equal --models-dir data/poly/models"


def run_name(arch: str, variant: str, seed: int = 0) -> str:
    """Folder name of one run, e.g. ``equal-nci-small-painn-poly-rbf8-seed1``."""
    if arch not in ARCHS or variant not in VARIANTS:
        raise ValueError(f"unknown run {arch!r} / {variant!r}; architectures {ARCHS}, variants {VARIANTS}")
    return f"equal-nci-small-{arch.lower()}-{variant}" + (f"-seed{seed}" if seed else "")


def all_runs(archs: Sequence[str] = ARCHS) -> list[tuple[str, str, int]]:
    """Every (architecture, variant, seed) of the comparison, for the architectures ``archs``."""
    unknown = set(archs) - set(ARCHS)
    if unknown:
        raise ValueError(f"unknown architecture {sorted(unknown)}; choose from {ARCHS}")
    return [(a, v, s) for a in archs for s in SEEDS for v in VARIANTS]


def run_summary(folder: str | os.PathLike) -> dict[str, Any]:
    """Test metrics and the per-epoch validation curve (with elapsed training time) of one trained run."""
    from xailib.models.replicas import learning_curve
    from xailib.poly.study import metrics_summary

    folder = Path(folder)
    metrics = metrics_summary(folder)
    metrics["n_train"] = load_json(folder / "metrics.json").get("n_train")
    curve = learning_curve(folder)
    if "elapsed_s" not in curve:
        raise CacheFileError(f"{folder}/log.csv has no elapsed_s column; it was trained before xailib logged "
                             "training time, retrain it (scripts/train_poly_equal.sh)")
    return {"metrics": metrics, "curve": {k: [float(x) for x in curve[k]] for k in CURVE_KEYS}}


def pair_range_summary(results) -> dict[str, Any]:
    """How far a model's 2-body relevance reaches (rule gi results of first frames, one per molecule).

    Per structure: ``long_share``, the share of the summed |2-body terms| carried by pairs farther apart than
    :data:`LONG_RANGE` (``None`` where no two atoms of the structure are that far apart; 0 for a cosine-cutoff
    model, whose pair terms end at its cutoff), and ``pair_share``, the summed |2-body
    terms| over the structure's total |relevance|. Also the binned profile of |2-body terms| (normalised by
    each structure's total |relevance|; ``center``, ``mean``, ``count``) and a power-law fit over
    :data:`TAIL_WINDOW` (``None`` without terms there).
    """
    from xailib.analysis import decay_profile, fit_power_law

    t2 = results.tables()[2]
    n = len(results)
    absr = np.abs(t2.relevance)
    pair_abs = np.bincount(t2.molecule, weights=absr, minlength=n)
    far = t2.distance > LONG_RANGE
    far_abs = np.bincount(t2.molecule, weights=absr * far, minlength=n)
    has_far = np.array([results.atoms(k).get_all_distances().max() > LONG_RANGE for k in range(n)])
    prof = decay_profile(t2, PAIR_BINS, normalise="total_abs")
    lo, hi = TAIL_WINDOW
    in_tail = (t2.distance >= lo) & (t2.distance <= hi)
    fit = None
    if in_tail.sum() >= 10:
        f = fit_power_law(t2.distance, t2.normalised("total_abs"), lo, hi)
        fit = {"n": f.n, "ci": list(f.ci), "r2": f.r2, "count": f.count}
    return {
        "molecule_ids": [str(m) for m in results.molecule_ids()],
        "long_share": [float(f / p) if h and p > 0 else None for f, p, h in zip(far_abs, pair_abs, has_far)],
        "pair_share": [float(p / t) for p, t in zip(pair_abs, t2.total_abs)],
        "profile": {"center": prof["center"].tolist(), "count": prof["count"].tolist(),
                    "mean": [None if not np.isfinite(x) else float(x) for x in prof["mean"]]},
        "tail_fit": fit,
    }


def molecule_errors(folder: str | os.PathLike) -> dict[str, list]:
    """Test errors of one run per test molecule (mean over its test frames): energy (meV), forces (meV/A, mean
    over the molecule's force components) and ``n_atoms``.

    The unit of the paired intervals between variants: every run is scored on the same molecules.
    """
    from xailib.analysis.test_sets import test_molecule_ids
    from xailib.data.store import read_split
    from xailib.models import load_model
    from xailib.models.evaluation import evaluate

    folder = Path(folder)
    test_idx = read_split(folder / "split.npz")["test_idx"]
    ids = np.asarray(test_molecule_ids("nci-small"))
    if len(ids) != len(test_idx):
        raise CacheFileError(f"{folder}/split.npz has {len(test_idx)} test frames, the nci-small test split "
                             f"{len(ids)}: not a run of this comparison")
    pred = evaluate(load_model(folder), "data/nci-small.db", test_idx, return_predictions=True)["predictions"]
    e_err = 1000 * np.abs(pred["energy"]["pred"] - pred["energy"]["ref"]).ravel()
    f_atom = 1000 * np.abs(pred["forces"]["pred"] - pred["forces"]["ref"]).mean(axis=1)
    frame_of_atom = np.repeat(np.arange(len(test_idx)), pred["n_atoms"])
    f_err = np.bincount(frame_of_atom, weights=f_atom) / pred["n_atoms"]
    mols = sorted(set(ids))
    return {"molecule_ids": mols, "energy_meV": [float(e_err[ids == m].mean()) for m in mols],
            "forces_meV_per_A": [float(f_err[ids == m].mean()) for m in mols],
            "n_atoms": [int(pred["n_atoms"][ids == m][0]) for m in mols]}


def step_cost(folder: str | os.PathLike, *, n_batches: int = 8, batch_size: int = 32, repeats: int = 5) -> float:
    """Seconds of one training step (forward, forces, energy + force loss, backward) of a run's model, one thread.

    The quickest of ``repeats`` passes through the same ``n_batches`` training batches (neighbour lists built
    beforehand, as the training's cached transforms do): the pass least disturbed by other work. Run it on a
    quiet machine (``study poly equal`` does, when nothing else runs): the ratio between two variants is their
    cost ratio per epoch, which the training logs' wall times, taken while other jobs ran, do not give.
    """
    import torch
    from schnetpack.data import AtomsLoader
    from schnetpack.transform import CastTo32, MatScipyNeighborList

    from xailib.data.store import read_split
    from xailib.models import load_model, model_cutoff
    from xailib.models.evaluation import open_dataset

    folder = Path(folder)
    model = load_model(folder)
    torch.set_num_threads(1)
    train_idx = read_split(folder / "split.npz")["train_idx"][: n_batches * batch_size]
    ds = open_dataset(Path(data_dir() / "nci-small.db"), ["energy", "forces"],
                      transforms=[MatScipyNeighborList(cutoff=model_cutoff(model)), CastTo32()], units=True)
    batches = list(AtomsLoader(ds.subset([int(i) for i in train_idx]), batch_size=batch_size, shuffle=False))
    model.train()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for batch in batches:
            b = {k: v.clone() for k, v in batch.items()}
            ref_e, ref_f = b.pop("energy"), b.pop("forces")
            out = model(b)
            loss = ((out["energy"] - ref_e) ** 2).mean() + ((out["forces"] - ref_f) ** 2).mean()
            loss.backward()
            model.zero_grad(set_to_none=True)
        times.append((time.perf_counter() - start) / len(batches))
    return float(np.min(times))


def step_costs(folders: Sequence[str | os.PathLike], *, rounds: int = 3, log: Callable[[str], None] = print
               ) -> list[float]:
    """:func:`step_cost` of several runs, interleaved over ``rounds`` so that a disturbance hits all of them
    alike; the quickest measurement of each run is kept."""
    best = [float("inf")] * len(folders)
    for r in range(rounds):
        for k, folder in enumerate(folders):
            best[k] = min(best[k], step_cost(folder, repeats=2))
        log(f"step costs, round {r + 1} of {rounds}: " + ", ".join(f"{b:.3f}" for b in best))
    return best


def best_within(curve: Mapping[str, Sequence[float]], seconds: float, key: str = "val_energy_MAE",
                clock: str = "elapsed_s") -> float:
    """The lowest ``key`` over the epochs that ended within ``seconds`` of training on ``clock`` (``nan`` if none)."""
    t, v = np.asarray(curve[clock], float), np.asarray(curve[key], float)
    ok = t <= seconds
    return float(np.nanmin(v[ok])) if ok.any() else float("nan")


def equal_time_budget(runs: Mapping[str, Mapping], arch: str, seed: int, clock: str = "elapsed_s") -> float:
    """The training time (on ``clock``) of the quickest variant of one architecture and seed: the budget every
    variant gets."""
    return min(r["curve"][clock][-1] for r in runs.values() if r["arch"] == arch and r["seed"] == seed)


def explain_runs(models_dir: str | os.PathLike | None = None, *, force: bool = False, archs: Sequence[str] = ARCHS,
                 log: Callable[[str], None] = print) -> list[Path]:
    """Explain every trained run on the first frame of each test molecule (rule gi); returns the files written."""
    import torch

    from xailib.analysis.test_sets import explain_on_test_split
    from xailib.base.seed import set_seed
    from xailib.data import frames
    from xailib.poly.study import default_models_dir

    folder = Path(models_dir) if models_dir is not None else default_models_dir()
    torch.set_num_threads(1)
    structures, written = None, []
    for arch, variant, seed in all_runs(archs):
        run = folder / run_name(arch, variant, seed)
        out = run / RELEVANCE_FILE
        if not (run / "model.pt").exists():
            log(f"{run.name}: not trained yet, skipped")
            continue
        if out.exists() and not force:
            log(f"{run.name}: {out.name} exists, kept")
            continue
        set_seed(0)
        structures = structures or frames("nci-small", split="test")
        res = explain_on_test_split(run, out, rule="gi", structures=structures, frames_per_molecule=1)
        written.append(out)
        log(f"{run.name}: {len(res)} structures, {res.meta['wall_s']:.0f} s")
    return written


def summarise_equal(models_dir: str | os.PathLike | None = None, out: str | os.PathLike | None = None, *,
                    archs: Sequence[str] = ARCHS,
                    log: Callable[[str], None] = print) -> dict[str, Any]:
    """Write ``data/poly/equal.json`` (or ``out``) from the trained and explained runs; returns it."""
    from xailib.analysis import load_results as load_relevance
    from xailib.poly.study import FILTER_GRID, default_models_dir, filter_profile

    start = time.perf_counter()
    folder = Path(models_dir) if models_dir is not None else default_models_dir()
    doc: dict[str, Any] = {"runs": {}}
    for arch, variant, seed in all_runs(archs):
        name = run_name(arch, variant, seed)
        run = folder / name
        if not (run / "model.pt").exists() or not (run / RELEVANCE_FILE).exists():
            log(f"{name}: not trained or not explained; left out")
            doc.setdefault("missing", []).append(name)
            continue
        entry = {"arch": arch, "variant": variant, "seed": seed, **run_summary(run)}
        entry["pairs"] = pair_range_summary(load_relevance(run / RELEVANCE_FILE))
        entry["filters"] = filter_profile(run)
        entry["molecule_errors"] = molecule_errors(run)
        doc["runs"][name] = entry
    costs = step_costs([folder / name for name in doc["runs"]])
    for (name, entry), cost in zip(doc["runs"].items(), costs):
        entry["step_s"] = cost
        tc = load_json(folder / name / "train_config.json")
        steps = int(np.ceil(entry["metrics"]["n_train"] / tc["batch_size"]))
        entry["curve"]["quiet_s"] = [(e + 1) * steps * cost for e in entry["curve"]["epoch"]]
    doc["meta"] = provenance(wall_s=time.perf_counter() - start, long_range=LONG_RANGE, pair_bins=PAIR_BINS.tolist(),
                             tail_window=list(TAIL_WINDOW), rule="gi", frames_per_molecule=1,
                             filter_grid=FILTER_GRID.tolist(),
                             configs="configs/poly/equal/", archs=list(archs))
    path = Path(out) if out is not None else data_dir() / EQUAL_FILE
    save_json(path, doc)
    log(f"wrote {path} ({path.stat().st_size / 1e3:.0f} kB)")
    return doc


def load_equal(path: str | os.PathLike | None = None) -> dict[str, Any]:
    """The committed summary ``data/poly/equal.json`` (format in the module docstring)."""
    p = Path(path) if path is not None else data_dir() / EQUAL_FILE
    doc = load_json(p, how_to_make=COMMAND)
    if "runs" not in doc or "meta" not in doc:
        raise CacheFileError(f"{p} is not the equal-conditions summary (needs runs and meta); regenerate it with "
                             f"`{COMMAND}`")
    return doc
