"""The polynomial-envelope study (chapter 10): poly models against the shipped ones.

Two stages, each a ``python -m xailib study poly`` subcommand (one torch thread)::

    # 1. relevances of the poly nci-small energy models on the full nci-small test split (rule gi),
    #    written beside their weights (gitignored): <models-dir>/<name>/relevance.npz
    python -m xailib study poly explain --models-dir data/poly/models
    # 2. the small committed summary data/poly/results.json for the 2 poly and the 2 shipped energy models
    python -m xailib study poly summarise --models-dir data/poly/models

Stage 2 (:func:`summarise`) uses the shipped relevances ``data/relevance/nci-small-energy-{schnet,painn}.npz``
and the functions and windows of chapter 06 (:mod:`xailib.analysis`: 2- and 3-body decay profiles normalised
by each molecule's total absolute relevance, power-law and exponential fits over 2.0-4.0 A with 95 %
intervals, the window scan of the 2-body exponent, many-body shares and the 3-body share by distance),
plus fits over 2.0-6.5 A and 5.0-6.5 A where the poly models have terms beyond the original 5 A cutoff.
It also collects the test errors (``metrics.json``) of the four poly and the four shipped energy models
and the MD-stability results ``data/md/ethanol/<model>.npz`` of the ethanol models (chapter 07's study).

``data/poly/results.json`` (:func:`save_results` / :func:`load_results`) is one JSON object:

``relevance``
    ``{model: summary}`` for the nci-small energy models (:func:`relevance_summary`): ``n_structures``,
    ``rule``, ``explain_wall_s``, ``n_terms`` (``{"2": int, "3": int}``), ``orders`` (``{"2": ..., "3": ...}``
    each with ``profile`` (``center``, ``mean``, ``sem`` with ``null`` for empty bins, ``count``),
    ``power`` and ``exponential`` fits (``kind``, ``n``, ``ci``, ``amplitude``, ``r2``, ``rmse_log``,
    ``count``; the fields of :class:`xailib.analysis.DecayFit`), ``max_distance``, for order 2 the window
    scan ``scan`` (``{r_max: fit}``), and ``power_<lo>-<hi>`` fits over :data:`EXTRA_WINDOWS` where the
    model has terms there), ``shares`` (``1-body``, ``2-body``, ``3-body``, ``higher``) and
    ``shares_by_distance``.
``filters``
    ``{model: [[mean |W_t(r)| on meta.filter_grid] per interaction]}`` (:func:`filter_profile`).
``metrics``
    ``{model: {energy_mae_meV, forces_mae_meV_per_A, ..., n_parameters}}`` (:data:`METRIC_KEYS`).
``md``
    ``{model: {seed, stable, time_to_failure_fs, reason, settings}}`` (:func:`md_summary`).
``missing``
    (only when something was left out) names of models or ``md/<model>`` runs not found.
``meta``
    Provenance (:func:`xailib.base.io.provenance`: ``command``, ``versions``, wall time) and the settings
    ``window``, ``r_maxes``, ``extra_windows``, ``bins``, ``filter_grid``, ``normalise``, ``rule`` and
    ``poly_config`` (envelope settings of the poly SchNet). The committed file predates the shared writer: its meta
    holds ``wall_s`` where the writer now puts ``wall_time_s``.

Measured on the shared 2-core machine, 1 thread: explain 120 s (SchNet variant) and 179 s (PaiNN
variant) for the 660 test structures (``explain_wall_s``); summarise 36 s.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from xailib.base.io import CacheFileError, load_json, provenance, save_json
from xailib.base.paths import data_dir
from xailib.md.store import load_run

POLY_NCI = {"SchNet": "nci-small-energy-schnet-poly", "PaiNN": "nci-small-energy-painn-poly"}
SHIPPED_NCI = {"SchNet": "nci-small-energy-schnet", "PaiNN": "nci-small-energy-painn"}
POLY_ETHANOL = {"SchNet": "ethanol-schnet-poly", "PaiNN": "ethanol-painn-poly"}
SHIPPED_ETHANOL = {"SchNet": "md17-ethanol-schnet", "PaiNN": "md17-ethanol-painn"}
WINDOW = (2.0, 4.0)  # chapter 06
R_MAXES = [3.0, 3.5, 4.0, 4.5, 4.9]  # chapter 06 window scan
EXTRA_WINDOWS = [(2.0, 6.5), (5.0, 6.5)]  # beyond the original cutoff, before the poly switch
BINS = np.round(np.arange(0.8, 8.01, 0.2), 10)
FILTER_GRID = np.round(np.arange(0.5, 8.51, 0.1), 10)
#: File name of a poly model's test-set relevances, inside its model folder.
RELEVANCE_FILE = "relevance.npz"
#: Where the summary lives, relative to the data folder.
RESULTS_FILE = Path("poly") / "results.json"
#: Entries of ``metrics.json`` kept in the summary.
METRIC_KEYS = ("energy_mae_meV", "forces_mae_meV_per_A", "energy_rmse_meV", "forces_rmse_meV_per_A", "epochs",
               "best_epoch", "training_wall_time_s", "torch_threads", "n_test", "n_parameters")
COMMAND = "python -m xailib study poly summarise --models-dir data/poly/models"
REQUIRED_KEYS = ("relevance", "metrics", "md", "meta")


def default_models_dir() -> Path:
    """``data/poly/models``: where ``make poly`` trains the variants (gitignored)."""
    return data_dir() / "poly" / "models"


def results_path(path: str | os.PathLike | None = None) -> Path:
    """``path``, else ``data/poly/results.json``."""
    return Path(path) if path is not None else data_dir() / RESULTS_FILE


def save_results(result: dict[str, Any], path: str | os.PathLike | None = None,
                 meta: dict[str, Any] | None = None) -> Path:
    """Write the study's summary (format in the module docstring) as indented, key-sorted JSON.

    ``meta`` replaces ``result["meta"]`` when given. Returns the path written.
    """
    missing = [k for k in REQUIRED_KEYS if k not in result and not (k == "meta" and meta is not None)]
    if missing:
        raise ValueError(f"a poly study summary needs the keys {list(REQUIRED_KEYS)}; missing {missing}")
    doc = {k: v for k, v in result.items() if k != "meta"}
    return save_json(results_path(path), doc, meta if meta is not None else result["meta"])


def load_results(path: str | os.PathLike | None = None) -> dict[str, Any]:
    """The study's summary ``data/poly/results.json`` as a dict (format in the module docstring)."""
    p = results_path(path)
    doc = load_json(p, how_to_make=COMMAND)
    missing = [k for k in REQUIRED_KEYS if k not in doc]
    if missing:
        raise CacheFileError(f"{p} is not a poly study summary (missing {missing}); regenerate it with `{COMMAND}`")
    return doc


def explain(models_dir: str | os.PathLike | None = None, names: Sequence[str] | None = None, *,
            force: bool = False, progress: bool = True, log: Callable[[str], None] = print) -> list[Path]:
    """Explain the poly nci-small models on the nci-small test split (rule gi); returns the files written.

    Each result goes to ``<models_dir>/<name>/relevance.npz`` (:func:`xailib.analysis.save_results`);
    existing files are kept unless ``force``.
    """
    import torch

    from xailib.analysis import explain_on_test_split
    from xailib.base.seed import set_seed
    from xailib.data import frames

    folder = Path(models_dir) if models_dir is not None else default_models_dir()
    names = list(names) if names else list(POLY_NCI.values())
    absent = [n for n in names if not (folder / n / "model.pt").exists()]
    if absent:
        raise FileNotFoundError(f"no trained model {absent} in {folder}; train them first (make poly)")
    torch.set_num_threads(1)
    set_seed(0)
    structures = None
    written = []
    for name in names:
        out = folder / name / RELEVANCE_FILE
        if out.exists() and not force:
            log(f"{name}: {out} exists, skipped (--force to recompute)")
            continue
        structures = structures or frames("nci-small", split="test")
        results = explain_on_test_split(folder / name, out, dataset="nci-small", rule="gi", structures=structures,
                                        progress=progress)
        written.append(out)
        log(f"{name}: {len(results)} structures, {results.meta['wall_s']:.0f} s")
    return written


def _fit_dict(fit) -> dict:
    return {"kind": fit.kind, "n": fit.n, "ci": list(fit.ci), "amplitude": fit.amplitude, "r2": fit.r2,
            "rmse_log": fit.rmse_log, "count": fit.count}


def _clean(a) -> list:
    return [None if not np.isfinite(x) else float(x) for x in np.asarray(a, dtype=float)]


def relevance_summary(path: str | os.PathLike) -> dict[str, Any]:
    """Decay profiles, fits and order shares of one model's relevance file (chapter 06 settings)."""
    from xailib.analysis import (
        decay_profile,
        fit_exponential,
        fit_power_law,
        manybody_shares,
        manybody_shares_by_distance,
    )
    from xailib.analysis import load_results as load_relevance

    res = load_relevance(path)
    tables = res.tables()
    out: dict = {"n_structures": len(res), "rule": res.meta["rule"], "explain_wall_s": res.meta.get("wall_s"),
                 "n_terms": {str(k): int(len(tables[k].relevance)) for k in (2, 3)}, "orders": {}}
    for order in (2, 3):
        t = tables[order]
        rel = t.normalised("total_abs")
        prof = decay_profile(t, BINS, normalise="total_abs")
        entry = {
            "profile": {"center": _clean(prof["center"]), "mean": _clean(prof["mean"]), "sem": _clean(prof["sem"]),
                        "count": [int(c) for c in prof["count"]]},
            "power": _fit_dict(fit_power_law(t.distance, rel, *WINDOW)),
            "exponential": _fit_dict(fit_exponential(t.distance, rel, *WINDOW)),
            "max_distance": float(t.distance.max()),
        }
        if order == 2:
            entry["scan"] = {str(rm): _fit_dict(fit_power_law(t.distance, rel, WINDOW[0], rm)) for rm in R_MAXES}
        for lo, hi in EXTRA_WINDOWS:
            if t.distance.max() >= hi - 0.5:  # only models with terms out there (not the 5 A cutoff ones)
                entry[f"power_{lo}-{hi}"] = _fit_dict(fit_power_law(t.distance, rel, lo, hi))
        out["orders"][str(order)] = entry
    out["shares"] = manybody_shares(tables, res.remainder)
    by_d = manybody_shares_by_distance(tables, BINS)
    out["shares_by_distance"] = {k: _clean(v) for k, v in by_d.items()}
    return out


def filter_profile(model: str | os.PathLike, grid: Sequence[float] = FILTER_GRID) -> list[list[float]]:
    """Mean |W_t(r)| over the features of each interaction's radial filter on ``grid``, envelope included."""
    import torch

    from xailib.models import load_model

    rep = load_model(model).representation
    d = torch.tensor(np.asarray(grid), dtype=torch.float32)
    with torch.no_grad():
        env = rep.cutoff_fn(d)[:, None]
        if hasattr(rep, "filter_net"):  # PaiNN: one network, 3 * n_atom_basis filters per interaction
            w = rep.filter_net(rep.radial_basis(d)) * env
            parts = torch.split(w, 3 * rep.n_atom_basis, dim=-1)
        else:  # SchNet: one filter network per interaction
            parts = [inter.filter_network(rep.radial_basis(d)) * env for inter in rep.interactions]
        return [p.abs().mean(-1).tolist() for p in parts]


def md_summary(path: str | os.PathLike) -> dict[str, Any]:
    """Stable seeds and times to failure of one MD-stability result file (``data/md/<molecule>/<model>.npz``)."""
    arrays = load_run(path)
    meta = arrays["meta"]
    return {"seed": arrays["seed"].tolist(), "stable": [bool(s) for s in arrays["stable"]],
            "time_to_failure_fs": arrays["time_to_failure_fs"].tolist(), "reason": [str(r) for r in arrays["reason"]],
            "settings": {k: meta.get(k) for k in ("run_ps", "temperature_K", "timestep_fs", "ensemble",
                                                  "md_wall_time_s")}}


def metrics_summary(model: str | os.PathLike) -> dict[str, Any]:
    """The entries :data:`METRIC_KEYS` of a model's ``metrics.json`` (``None`` where absent)."""
    from xailib.models import model_metrics

    m = model_metrics(model)
    return {k: m.get(k) for k in METRIC_KEYS}


def summarise(models_dir: str | os.PathLike | None = None, out: str | os.PathLike | None = None, *,
              log: Callable[[str], None] = print) -> dict[str, Any]:
    """Summarise the study into ``out`` (default ``data/poly/results.json``); returns the summary.

    Models, relevance files or MD runs that are not there are left out and listed under ``missing``.
    """
    from xailib.models import ModelConfig

    start = time.perf_counter()
    folder = Path(models_dir) if models_dir is not None else default_models_dir()
    data = data_dir()
    shipped = data / "models"
    result: dict = {"relevance": {}, "metrics": {}, "md": {}}
    for arch in ("SchNet", "PaiNN"):
        for kind, names, where in (("shipped", SHIPPED_NCI, shipped), ("poly", POLY_NCI, folder)):
            name = names[arch]
            path = data / "relevance" / f"{name}.npz" if kind == "shipped" else where / name / RELEVANCE_FILE
            log(f"{name}: {path}")
            if not path.exists():
                log(f"  missing: {path} (train and explain it first); left out")
                result.setdefault("missing", []).append(name)
                continue
            result["relevance"][name] = relevance_summary(path)
            result.setdefault("filters", {})[name] = filter_profile(where / name, FILTER_GRID)
        for names, where in ((SHIPPED_NCI, shipped), (POLY_NCI, folder), (SHIPPED_ETHANOL, shipped),
                             (POLY_ETHANOL, folder)):
            if (where / names[arch] / "metrics.json").exists():
                result["metrics"][names[arch]] = metrics_summary(where / names[arch])
            else:
                result.setdefault("missing", []).append(names[arch])
        for names in (SHIPPED_ETHANOL, POLY_ETHANOL):
            md = data / "md" / "ethanol" / f"{names[arch]}.npz"
            if md.exists():
                result["md"][names[arch]] = md_summary(md)
            else:
                log(f"no MD results {md} (run the MD-stability study first)")
                result.setdefault("missing", []).append(f"md/{names[arch]}")
    poly_cfg = ModelConfig.from_dict(load_json(folder / POLY_NCI["SchNet"] / "config.json")).to_dict()
    meta = provenance(wall_s=time.perf_counter() - start, window=list(WINDOW), r_maxes=R_MAXES,
                      extra_windows=[list(w) for w in EXTRA_WINDOWS], bins=BINS.tolist(),
                      filter_grid=FILTER_GRID.tolist(), normalise="total_abs", rule="gi",
                      poly_config={k: poly_cfg[k] for k in ("cutoff", "envelope", "envelope_power", "envelope_r0",
                                                            "envelope_width", "rbf_cutoff", "n_rbf")})
    result["meta"] = meta
    path = save_results(result, out)
    log(f"wrote {path} ({path.stat().st_size / 1e3:.0f} kB)")
    return result
