"""Test-set errors of trained potentials and per-element errors (learning curves: xailib.models.replicas).

Units: energies in eV (errors in meV), forces in eV/Angstrom (errors in meV/Angstrom), other targets
such as the HOMO-LUMO gap in eV.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from xailib.base.errors import XailibError
from xailib.base.paths import resolve_path
from xailib.base.units import MODEL_UNITS as UNITS
from xailib.models.build import model_config, model_cutoff

__all__ = ["UNITS", "evaluate", "errors_by_element", "open_dataset", "DatasetPropertyError"]


class DatasetPropertyError(XailibError, ValueError):
    """A dataset lacks a property the model predicts or the run asks for."""


def open_dataset(path: Path, props: Sequence[str], transforms: list | None = None, units: bool = False):
    """Open an ``ASEAtomsData`` database; with ``units``, convert to eV and Angstrom on reading."""
    from schnetpack.data import ASEAtomsData

    if not Path(path).exists():
        raise FileNotFoundError(f"dataset {path} does not exist (see data/README.md for how to build it)")
    available = ASEAtomsData(str(path)).available_properties
    absent = [p for p in props if p not in available]
    if absent:
        raise DatasetPropertyError(f"dataset {path} has no properties {absent}; it has {available}")
    kwargs = {"property_units": {p: UNITS[p] for p in props if p in UNITS}, "distance_unit": "Ang"} if units else {}
    return ASEAtomsData(str(path), load_properties=list(props), transforms=transforms, **kwargs)


def evaluate(
    model: torch.nn.Module,
    dataset: str | Path,
    indices: Sequence[int],
    *,
    batch_size: int = 64,
    return_predictions: bool = False,
) -> dict[str, Any]:
    """Test-set errors of a model on frames of an ``ASEAtomsData`` database.

    Energies in meV (``energy_mae_meV``, ``energy_rmse_meV``, ``energy_mae_meV_per_atom``), forces
    in meV/Angstrom per component (``forces_mae_meV_per_A``, ``forces_rmse_meV_per_A``), other
    targets in eV (``gap_mae_eV``, ...); a model's per-atom output (``atomic_output``) in eV per atom
    (``<name>_mae_eV``) when the dataset holds that property.

    Parameters
    ----------
    return_predictions
        Also return ``predictions``: per target, arrays ``pred`` and ``ref`` (and ``n_atoms``,
        ``numbers``) for parity plots and per-element errors.
    """
    from schnetpack import properties as P
    from schnetpack.data import AtomsLoader
    from schnetpack.transform import CastTo32, CastTo64, MatScipyNeighborList

    cfg = model_config(model)
    if cfg is None:
        outs = [o for o in model.model_outputs]
        targets, with_forces = [o for o in outs if o != "forces"], "forces" in outs
    else:
        targets, with_forces = cfg.targets, cfg.forces
    props = list(targets) + (["forces"] if with_forces else [])
    atomic = cfg.atomic_output if cfg is not None else None
    if atomic is not None:
        from schnetpack.data import ASEAtomsData

        path = resolve_path(dataset)
        if path.exists() and atomic in ASEAtomsData(str(path)).available_properties:
            props.append(atomic)  # per-atom energies are scored when the dataset has them
    dtype = next(model.parameters()).dtype
    cast = CastTo64() if dtype == torch.float64 else CastTo32()
    ds = open_dataset(
        resolve_path(dataset), props, transforms=[MatScipyNeighborList(cutoff=model_cutoff(model)), cast], units=True
    )
    sub = ds.subset([int(i) for i in indices])
    loader = AtomsLoader(sub, batch_size=batch_size, shuffle=False, num_workers=0)
    pred: dict[str, list[np.ndarray]] = {p: [] for p in props}
    ref: dict[str, list[np.ndarray]] = {p: [] for p in props}
    n_atoms: list[np.ndarray] = []
    numbers: list[np.ndarray] = []
    model.eval()
    for batch in loader:
        for p in props:  # before the forward pass, which writes its outputs into the batch
            ref[p].append(batch.pop(p).detach().cpu().double().numpy())
        with torch.enable_grad():
            out = model(batch)
        for p in props:
            pred[p].append(out[p].detach().cpu().double().numpy())
        n_atoms.append(batch[P.n_atoms].cpu().numpy())
        numbers.append(batch[P.Z].cpu().numpy())
    res: dict[str, Any] = {"n_test": int(len(indices))}
    na = np.concatenate(n_atoms)
    for p in props:
        yp, yr = np.concatenate(pred[p]), np.concatenate(ref[p])
        err = (yp - yr).ravel()
        if p == "energy":
            res["energy_mae_meV"] = 1000 * float(np.mean(np.abs(err)))
            res["energy_rmse_meV"] = 1000 * float(np.sqrt(np.mean(err**2)))
            res["energy_mae_meV_per_atom"] = 1000 * float(np.mean(np.abs(err) / na))
        elif p == "forces":
            res["forces_mae_meV_per_A"] = 1000 * float(np.mean(np.abs(err)))
            res["forces_rmse_meV_per_A"] = 1000 * float(np.sqrt(np.mean(err**2)))
        else:
            unit = str(UNITS.get(p, ds.units[p])).replace("/", "_per_")
            res[f"{p}_mae_{unit}"] = float(np.mean(np.abs(err)))
            res[f"{p}_rmse_{unit}"] = float(np.sqrt(np.mean(err**2)))
    if return_predictions:
        res["predictions"] = {
            p: {"pred": np.concatenate(pred[p]), "ref": np.concatenate(ref[p])} for p in props
        }
        res["predictions"]["n_atoms"] = na
        res["predictions"]["numbers"] = np.concatenate(numbers)
    return res


def errors_by_element(predictions: dict[str, Any], target: str = "forces") -> dict[str, float]:
    """Mean absolute force error per element (meV/Angstrom), from ``evaluate(..., return_predictions=True)``.

    Parameters
    ----------
    predictions
        The ``predictions`` entry of :func:`evaluate`'s result.
    """
    from ase.data import chemical_symbols

    if target not in predictions:
        raise KeyError(f"no {target!r} in the predictions; the model predicts {sorted(set(predictions) - {'n_atoms', 'numbers'})}")
    err = np.abs(predictions[target]["pred"] - predictions[target]["ref"])
    if err.ndim != 2 or err.shape[0] != len(predictions["numbers"]):
        raise ValueError(f"{target!r} is not a per-atom property")
    z = predictions["numbers"]
    return {chemical_symbols[e]: 1000 * float(err[z == e].mean()) for e in np.unique(z)}
