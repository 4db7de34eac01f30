"""The MD-stability study of chapter 07: the model family, repeated MD runs, explanation metrics.

* :func:`train_family` trains the family of models that differ from a shipped model in one setting
  each (``configs/md-family/*.yaml``, weights to ``data/md/models/<name>/``).
* :func:`run_stability_study` runs repeated MD of each model (or of GFN2-xTB itself) from the
  relaxed first frame of ``md17-<molecule>`` and caches ``data/md/<molecule>/<name>.npz``
  (:func:`xailib.md.save_run`).
* :func:`explanation_study` computes the explanation metrics of each model on seeded test frames and
  caches them in ``data/md/<molecule>/explanations.json`` (:func:`xailib.md.save_explanations`),
  keeping the entries of models not named.

Each has a command: ``python -m xailib study md family|run|explain`` (:mod:`xailib.cli.study_md`).
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from xailib.base.errors import XailibError
from xailib.base.io import load_json, provenance
from xailib.base.paths import repo_root
from xailib.md.metrics import DECAY_WINDOW_A, SHORT_RANGE_A, config_difference, explanation_metrics
from xailib.md.simulate import bond_graph, run_md, stability
from xailib.md.store import explanations_path, load_explanations, run_path, save_explanations, save_run

#: Histogram edges (Angstrom) of all interatomic distances and of the reference bonds.
PAIR_EDGES = np.linspace(0.0, 6.0, 301)
BOND_EDGES = np.linspace(0.5, 2.5, 201)
#: Test errors copied from a model's ``metrics.json`` into its explanations entry.
TEST_KEYS = ("energy_mae_meV", "forces_mae_meV_per_A", "energy_rmse_meV", "forces_rmse_meV_per_A", "n_train",
             "n_test", "epochs", "training_wall_time_s")
FAMILY_CONFIGS = "configs/md-family"


class StudySettingsError(XailibError, ValueError):
    """A cached study file was computed with other settings than the ones asked for."""


def family_configs(names: Sequence[str] | None = None, *, config_dir: str | os.PathLike | None = None) -> list[Path]:
    """The training configs of the MD family (all of ``configs/md-family/*.yaml``, or those ``names``)."""
    folder = Path(config_dir) if config_dir is not None else repo_root() / FAMILY_CONFIGS
    if not names:
        found = sorted(folder.glob("*.yaml"))
        if not found:
            raise FileNotFoundError(f"no training configs (*.yaml) in {folder}")
        return found
    paths = [folder / f"{n}.yaml" for n in names]
    missing = [p.name for p in paths if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"no such configs in {folder}: {missing}")
    return paths


def train_family(names: Sequence[str] | None = None, *, config_dir: str | os.PathLike | None = None,
                 threads: int | None = 1) -> list[Path]:
    """Train the family's models one after another (:func:`xailib.models.train`); returns their folders.

    ``threads`` overrides each config's ``num_threads`` (``None`` keeps it). Each config states its
    wall-clock budget (``max_time_min``) and output folder (``data/md/models/<name>``).
    """
    import dataclasses

    from xailib.models import load_train_config, train

    folders = []
    for path in family_configs(names, config_dir=config_dir):
        cfg = load_train_config(path)
        if threads is not None:
            cfg = dataclasses.replace(cfg, num_threads=int(threads))
        folders.append(train(cfg, overwrite=True))
    return folders


def reference_structure(molecule: str):
    """The GFN2-xTB-relaxed first frame (row 0) of ``md17-<molecule>``, centred: the start of every run
    and the reference bond graph of :func:`xailib.md.stability`."""
    from xailib.data import frames
    from xailib.data.sampling import relax

    relaxed, _ = relax(frames(f"md17-{molecule}", indices=[0])[0])
    relaxed.center()
    return relaxed


def load_calculator(spec: str | os.PathLike) -> tuple[str, Any, dict]:
    """``"xtb"`` (tblite GFN2-xTB) or a model (folder or shipped name): ``(name, ASE calculator, meta)``."""
    if str(spec) == "xtb":
        from xailib.qm.xtb import LEVEL_OF_THEORY, ase_calculator

        return "xtb", ase_calculator(), {"model": "GFN2-xTB reference", "level": LEVEL_OF_THEORY}
    from xailib.models import calculator, load_model, model_dir

    folder = model_dir(spec)
    model = load_model(folder)
    meta = {"model": str(spec), "config": load_json(folder / "config.json"), "metrics": _metrics(folder)}
    return folder.name, calculator(model), meta


def _metrics(folder: Path) -> dict | None:
    from xailib.models import model_metrics

    try:
        return model_metrics(folder)
    except FileNotFoundError:
        return None


def _seeds(seeds: int | Sequence[int]) -> list[int]:
    return list(range(seeds)) if isinstance(seeds, int) else [int(s) for s in seeds]


def md_grid(ps: float, timestep_fs: float, record_fs: float, snapshot_fs: float) -> tuple[int, int, int]:
    """``(steps, record_every, snap_every)`` of a study run; :class:`StudySettingsError` unless ``ps`` is a whole
    number of record intervals, ``record_fs`` a whole number of steps and ``snapshot_fs`` of record intervals."""
    values = {"ps": ps, "timestep_fs": timestep_fs, "record_fs": record_fs, "snapshot_fs": snapshot_fs}
    bad = {k: v for k, v in values.items() if not (np.isfinite(float(v)) and float(v) > 0)}
    if bad:
        raise StudySettingsError(f"MD times must be finite and positive, got {bad}")
    steps = int(round(ps * 1000 / timestep_fs))
    record_every = int(round(record_fs / timestep_fs))
    snap_every = int(round(snapshot_fs / record_fs))
    if record_every < 1 or steps < 1 or steps % record_every or snap_every < 1:
        raise StudySettingsError(
            f"ps={ps:g} must be a whole number of record intervals (record_fs={record_fs:g} fs, a whole number "
            f"of {timestep_fs:g}-fs steps), and snapshot_fs={snapshot_fs:g} a whole number of record intervals")
    return steps, record_every, snap_every


def simulate_seeds(calc, reference, seeds: int | Sequence[int] = 5, *, ps: float = 10.0, timestep_fs: float = 0.5,
                   temperature_K: float = 500.0, record_fs: float = 10.0, snapshot_fs: float = 250.0,
                   progress: bool = True, desc: str = "MD") -> dict[str, Any]:
    """Langevin MD of ``calc`` from ``reference``, once per seed, each stopped at its first flagged frame.

    Returns the arrays of a run file (:func:`xailib.md.save_run`, without ``meta``) plus
    ``md_wall_time_s`` (per seed).
    """
    from tqdm.auto import tqdm

    seeds = _seeds(seeds)
    steps, record_every, snap_every = md_grid(ps, timestep_fs, record_fs, snapshot_fs)
    n_rec = steps // record_every + 1
    n_snap = (n_rec - 1) // snap_every + 1
    n = len(reference)
    bonds, _ = bond_graph(reference)
    iu = np.triu_indices(n, 1)
    nan = np.full((len(seeds), n_rec), np.nan)
    times, temps, epots = nan.copy(), nan.copy(), nan.copy()
    snaps = np.full((len(seeds), n_snap, n, 3), np.nan, dtype=np.float32)
    last = np.full((len(seeds), n, 3), np.nan, dtype=np.float32)
    pair_hist = np.zeros(len(PAIR_EDGES) - 1, dtype=np.int64)
    bond_hist = np.zeros((len(bonds), len(BOND_EDGES) - 1), dtype=np.int64)
    stable, ttf, reasons, details, walls = [], [], [], [], []
    for s, seed in enumerate(tqdm(seeds, desc=desc, disable=not progress)):
        t0 = time.perf_counter()
        res = run_md(calc, reference, steps=steps, timestep_fs=timestep_fs, temperature_K=temperature_K,
                     ensemble="nvt", seed=seed, record_every=record_every, stop_on_failure=True, progress=False)
        walls.append(round(time.perf_counter() - t0, 1))
        rep = stability(res.frames, reference, temperature_K=temperature_K, time_fs=res.time_fs)
        k = len(res.frames)
        times[s, :k], temps[s, :k], epots[s, :k] = res.time_fs, res.temperature_K, res.potential_energy
        for j in range(0, k, snap_every):
            snaps[s, j // snap_every] = res.frames[j].positions
        last[s] = res.frames[-1].positions
        pos = np.stack([f.positions for f in res.frames])
        dist = np.linalg.norm(pos[:, :, None] - pos[:, None], axis=-1)
        pair_hist += np.histogram(dist[:, iu[0], iu[1]], PAIR_EDGES)[0]
        for b, (i, j) in enumerate(bonds):
            bond_hist[b] += np.histogram(dist[:, i, j], BOND_EDGES)[0]
        stable.append(rep.stable)
        ttf.append(float(res.time_fs[-1]) if rep.stable else float(rep.failure_time_fs))
        reasons.append(rep.reason or "")
        details.append(rep.details)
    return {"seed": np.array(seeds), "stable": np.array(stable), "time_to_failure_fs": np.array(ttf),
            "reason": np.array(reasons), "details": details, "time_fs": times.astype(np.float32),
            "temperature_K": temps.astype(np.float32), "potential_energy": epots, "snapshots": snaps,
            "last_positions": last, "numbers": reference.numbers, "reference_positions": reference.positions,
            "pair_hist": pair_hist, "pair_edges": PAIR_EDGES, "bond_hist": bond_hist, "bonds": bonds,
            "bond_edges": BOND_EDGES, "md_wall_time_s": walls}


def run_stability_study(molecule: str, models: Sequence[str | os.PathLike], *, seeds: int | Sequence[int] = 5,
                        ps: float = 10.0, timestep_fs: float = 0.5, temperature_K: float = 500.0,
                        record_fs: float = 10.0, snapshot_fs: float = 250.0, root: str | os.PathLike | None = None,
                        command: str | None = None, progress: bool = True) -> list[Path]:
    """Repeated Langevin MD of each of ``models`` (folders, shipped names, or ``"xtb"``), cached per model.

    Every run starts from :func:`reference_structure`; each seed (``seeds``: a count, meaning
    ``0..seeds-1``, or a list) draws its own velocities and noise; a run stops at its first recorded
    frame (every ``record_fs``) that the monitors flag, so its length is its time to failure (runs that
    reach ``ps`` are censored). Writes ``<root>/<molecule>/<model name>.npz`` (``root`` defaults to
    ``data/md``; format in :func:`xailib.md.save_run`) after each model and returns the paths.
    Missing model folders raise ``FileNotFoundError`` and MD times that do not fit a whole number of steps
    and record intervals :class:`StudySettingsError` (:func:`md_grid`) before anything runs.
    """
    from xailib.models import model_dir

    md_grid(ps, timestep_fs, record_fs, snapshot_fs)
    for spec in models:
        if str(spec) != "xtb":
            model_dir(spec)
    reference = reference_structure(molecule)
    written = []
    for spec in models:
        t0 = time.perf_counter()
        name, calc, meta = load_calculator(spec)
        run = simulate_seeds(calc, reference, seeds, ps=ps, timestep_fs=timestep_fs, temperature_K=temperature_K,
                             record_fs=record_fs, snapshot_fs=snapshot_fs, progress=progress,
                             desc=f"{name} {molecule} {temperature_K:.0f} K")
        walls = run.pop("md_wall_time_s")
        run["meta"] = provenance(
            command, wall_s=time.perf_counter() - t0, **meta, molecule=molecule,
            ensemble="nvt (Langevin, friction 0.01/fs)", temperature_K=temperature_K, timestep_fs=timestep_fs,
            run_ps=ps, record_fs=record_fs, snapshot_fs=snapshot_fs,
            monitors="xailib.md.stability defaults: bond 0.5 Ang, collapse 0.6 Ang, temperature 5x thermostat",
            md_wall_time_s=walls)
        written.append(save_run(run_path(molecule, name, root=root), run))
    return written


def test_frames(molecule: str, n: int = 150, seed: int = 0) -> tuple[list, np.ndarray]:
    """``n`` frames of the test split of ``md17-<molecule>`` drawn with ``seed``, and their 0-based rows."""
    from xailib.data import frames, load_split

    name = f"md17-{molecule}"
    test_idx = load_split(name)["test_idx"]
    pick = np.sort(np.random.default_rng(seed).choice(test_idx, size=min(n, len(test_idx)), replace=False))
    return frames(name, indices=pick), pick


test_frames.__test__ = False  # not a pytest test


def training_config_difference(name: str, architecture: str, molecule: str, *,
                               config_dir: str | os.PathLike | None = None) -> dict | None:
    """How the training config ``configs/**/<name>.yaml`` differs from the shipped base
    ``configs/md17-<molecule>-<architecture>.yaml`` (``{}`` for the base, ``None`` if either is missing)."""
    import yaml

    root = Path(config_dir) if config_dir is not None else repo_root() / "configs"
    found = sorted(root.rglob(f"{name}.yaml"))
    base = root / f"md17-{molecule}-{architecture}.yaml"
    if not found or not base.exists():
        return None
    return config_difference(yaml.safe_load(base.read_text()), yaml.safe_load(found[0].read_text()))


def explanation_study(molecule: str, models: Sequence[str | os.PathLike], *, n_frames: int = 150, seed: int = 0,
                      rule: str = "gi", out: str | os.PathLike | None = None, command: str | None = None,
                      progress: bool = False) -> Path:
    """Explanation metrics of each of ``models`` (folders or shipped names) on the same test frames.

    The exact 1-3-body relevances (``rule``) of ``n_frames`` seeded test frames of ``md17-<molecule>``
    (:func:`test_frames`) are summarised by :func:`xailib.md.explanation_metrics`; test errors come
    from each model's ``metrics.json``. The cache ``out`` (default ``data/md/<molecule>/explanations.json``;
    format in :func:`xailib.md.save_explanations`) is rewritten after every model, and entries of models
    not named are kept, so models are added by calling again with their folders. A cache made with other
    ``molecule``, ``n_frames``, ``seed`` or ``rule`` raises :class:`StudySettingsError`. Missing model
    folders raise ``FileNotFoundError`` before anything runs; a model that cannot be loaded is skipped
    with a warning.
    """
    from xailib.base.seed import set_seed
    from xailib.models import load_model, model_dir

    folders = [model_dir(spec) for spec in models]
    out = Path(out) if out is not None else explanations_path(molecule)
    settings = {"molecule": molecule, "n_frames": n_frames, "seed": seed, "rule": rule}
    cache = load_explanations(out) if out.exists() else {"models": {}, "meta": {}}
    old = {k: cache["meta"].get(k) for k in settings if k in cache["meta"]}
    if cache["models"] and old and any(old[k] != settings[k] for k in old):
        raise StudySettingsError(f"{out} was computed with {old}, not {settings}; pass another out= path")
    set_seed(seed)
    frames, rows = test_frames(molecule, n_frames, seed)
    settings["n_frames"] = len(frames)
    for spec, folder in zip(models, folders):
        t0 = time.perf_counter()
        try:
            model = load_model(folder)
        except Exception as err:  # e.g. a model of a branch whose config keys this checkout does not know
            warnings.warn(f"skipped {spec}: cannot load it ({err})", stacklevel=2)
            continue
        entry = explanation_metrics(model, frames, rule=rule, progress=progress)
        entry["wall_time_s"] = round(time.perf_counter() - t0, 1)
        entry["folder"] = str(spec)
        entry["config"] = load_json(folder / "config.json")
        entry["differs_from_base"] = training_config_difference(folder.name, entry["config"]["architecture"],
                                                                molecule)
        test = _metrics(folder) or {}
        entry["test"] = {k: test.get(k) for k in TEST_KEYS}
        cache["models"][folder.name] = entry
        meta = provenance(command, **settings, frames_db_index=rows.tolist(), short_range_A=SHORT_RANGE_A,
                          decay_window_A=list(DECAY_WINDOW_A),
                          normalisation="per structure by total absolute relevance (except short_mean_eV)")
        save_explanations(out, cache["models"], meta)  # after every model, so a later failure loses nothing
    return out
