"""Build, save and load schnetpack SchNet and PaiNN potentials from a :class:`~xailib.models.config.ModelConfig`.

A model is a schnetpack :class:`~schnetpack.model.NeuralNetworkPotential`:

``ElementGuard -> PairwiseDistances -> SchNet | PaiNN -> Atomwise head(s) [-> Forces]``

with schnetpack post-processing that casts to float64 and adds the offsets removed during training
(per-atom mean or fitted per-element references). Units throughout: eV and Angstrom.

A saved model is a folder with ``model.pt`` (a ``state_dict``, loaded with
``torch.load(weights_only=True)``), ``model.pt.sha256`` (its checksum in ``sha256sum`` format, checked
on loading when present), ``config.json`` (the :class:`ModelConfig`) and ``metrics.json``. Files that
cannot be loaded raise a :class:`ModelFileError` (or a subclass) that says what is wrong.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from ase.data import chemical_symbols

from xailib.base.errors import UnsupportedElementError, XailibError
from xailib.base.io import load_json
from xailib.base.paths import data_dir, resolve_path
from xailib.base.structures import validate_structure
from xailib.models.config import ModelConfig, ModelConfigError
from xailib.models.files import (
    ModelChecksumError,
    ModelFileError,
    ModelMismatchError,
    ModelNotFoundError,
    check_model_file,
    mismatch_error,
    read_config,
    write_checksum,
)

__all__ = [
    "ModelConfig",
    "ModelConfigError",
    "UnsupportedElementError",
    "UntrustedModelError",
    "ModelFileError",
    "ModelChecksumError",
    "ModelMismatchError",
    "ModelNotFoundError",
    "ElementGuard",
    "build_model",
    "save_model",
    "load_model",
    "calculator",
    "model_cutoff",
    "model_config",
    "model_dir",
    "model_metrics",
    "train_settings",
]

STATE_FILE = "model.pt"
CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.json"


class UntrustedModelError(XailibError, RuntimeError):
    """Loading this file would unpickle arbitrary Python objects; it needs ``trust=True``."""


class ElementGuard(torch.nn.Module):
    """Input module that refuses atoms of elements outside the training data.

    Without it, an embedding silently returns untrained features for an unseen element.
    """

    def __init__(self, elements: Sequence[int]) -> None:
        super().__init__()
        self.register_buffer("elements", torch.tensor(sorted(elements), dtype=torch.long))

    def forward(self, inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        from schnetpack import properties

        check_elements(inputs[properties.Z], self.elements.tolist())
        return inputs


def check_elements(numbers: Any, elements: Sequence[int]) -> None:
    """Raise :class:`UnsupportedElementError` if any atomic number is not in ``elements``."""
    allowed = set(int(z) for z in elements)
    seen = set(int(z) for z in (numbers.tolist() if hasattr(numbers, "tolist") else numbers))
    bad = sorted(seen - allowed)
    if bad:
        z = bad[0]
        trained = ", ".join(chemical_symbols[e] for e in sorted(allowed))
        raise UnsupportedElementError(
            f"element {chemical_symbols[z]} (Z={z}) was not in the model's training data "
            f"(trained on {trained}); use a model trained on data that contains {chemical_symbols[z]}"
        )


def build_model(config: ModelConfig | Mapping[str, Any]) -> "torch.nn.Module":
    """Build an untrained schnetpack ``NeuralNetworkPotential`` from a config.

    Parameters
    ----------
    config
        A :class:`ModelConfig` or a mapping with its fields.

    Returns
    -------
    schnetpack.model.NeuralNetworkPotential
        In float32, with ``xailib_config`` (the config as a dict) attached.
    """
    import schnetpack as spk
    import schnetpack.transform as trn

    cfg = ModelConfig.from_dict(config)
    radial = spk.nn.GaussianRBF(n_rbf=cfg.n_rbf, cutoff=cfg.cutoff if cfg.rbf_cutoff is None else cfg.rbf_cutoff)
    if cfg.envelope == "poly":
        from xailib.models.envelopes import PolynomialEnvelope

        cutoff_fn = PolynomialEnvelope(cfg.cutoff, cfg.envelope_power, cfg.envelope_r0, cfg.envelope_width)
    else:
        cutoff_fn = spk.nn.CosineCutoff(cfg.cutoff)
    if cfg.architecture == "schnet":
        rep = spk.representation.SchNet(
            n_atom_basis=cfg.n_atom_basis,
            n_interactions=cfg.n_interactions,
            radial_basis=radial,
            cutoff_fn=cutoff_fn,
            n_filters=cfg.n_atom_basis,
        )
    else:
        rep = spk.representation.PaiNN(
            n_atom_basis=cfg.n_atom_basis,
            n_interactions=cfg.n_interactions,
            radial_basis=radial,
            cutoff_fn=cutoff_fn,
        )
    agg = "sum" if cfg.aggregation == "sum" else "avg"
    outputs: list[torch.nn.Module] = [
        spk.atomistic.Atomwise(n_in=cfg.n_atom_basis, aggregation_mode=agg, output_key=t,
                               per_atom_output_key=cfg.atomic_output if t == "energy" else None)
        for t in cfg.targets
    ]
    if cfg.atomic_output is not None:
        from xailib.models.atomic_targets import SqueezeAtomic

        outputs.append(SqueezeAtomic(cfg.atomic_output))
    if cfg.forces:
        outputs.append(spk.atomistic.Forces(energy_key="energy", force_key="forces"))
    post: list[torch.nn.Module] = [trn.CastTo64()]
    if cfg.offset != "none":
        for t in cfg.targets:
            add = trn.AddOffsets(
                t,
                add_mean=cfg.offset == "mean",
                add_atomrefs=cfg.offset in ("atomrefs", "free_atoms"),
                estimate_atomref=cfg.offset == "atomrefs",  # free_atoms: the dataset's own atomrefs
                is_extensive=cfg.aggregation == "sum",
            )
            # float64 scalar, as schnetpack's data module computes it, so saving loses no precision
            add.mean = torch.zeros((), dtype=torch.float64)
            add.atomref = torch.zeros_like(add.atomref, dtype=torch.float64)
            post.append(add)
        if cfg.atomic_output is not None:
            from xailib.models.atomic_targets import AtomicOffsets

            post.append(AtomicOffsets(cfg.atomic_output, "energy", mode=cfg.offset, sign=1))
    model = spk.model.NeuralNetworkPotential(
        representation=rep,
        input_modules=[ElementGuard(cfg.elements), spk.atomistic.PairwiseDistances()],
        output_modules=outputs,
        postprocessors=post,
    )
    model.xailib_config = cfg.to_dict()
    return model


def model_config(model: torch.nn.Module) -> ModelConfig | None:
    """The :class:`ModelConfig` a model was built from (``None`` for models built elsewhere)."""
    cfg = getattr(model, "xailib_config", None)
    return ModelConfig.from_dict(cfg) if cfg is not None else None


def model_cutoff(model: torch.nn.Module) -> float:
    """The cutoff radius (Angstrom) of a schnetpack potential's representation."""
    rep = getattr(model, "representation", None)
    cutoff = getattr(rep, "cutoff", None)
    if cutoff is None:
        raise TypeError(f"{type(model).__name__} has no representation with a cutoff; is it a schnetpack potential?")
    return float(cutoff)


def save_model(
    model: torch.nn.Module,
    path: str | Path,
    config: ModelConfig | Mapping[str, Any],
    metrics: Mapping[str, Any] | None = None,
) -> Path:
    """Save a model as a folder: ``model.pt`` (state_dict), ``model.pt.sha256``, ``config.json``, ``metrics.json``.

    The state dict is checked against a model freshly built from ``config`` before anything is
    written, so a folder never pairs weights with the wrong config.

    Returns
    -------
    Path
        The folder.
    """
    cfg = ModelConfig.from_dict(config)
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    try:
        build_model(cfg).load_state_dict(state)
    except RuntimeError as err:
        raise ModelConfigError(f"the model's weights do not fit the given config: {err}") from err
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    torch.save(state, folder / STATE_FILE)
    write_checksum(folder / STATE_FILE)
    (folder / CONFIG_FILE).write_text(json.dumps(cfg.to_dict(), indent=2) + "\n")
    (folder / METRICS_FILE).write_text(json.dumps(dict(metrics or {}), indent=2, sort_keys=True) + "\n")
    return folder


def load_model(path: str | Path, trust: bool = False) -> "torch.nn.Module":
    """Load a model saved by :func:`save_model`, or (with ``trust=True``) a pickled schnetpack model.

    Parameters
    ----------
    path
        A folder written by :func:`save_model`, or a file: a ``state_dict`` file with a
        ``config.json`` beside it, or a pickled full model such as schnetpack's ``best_model``;
        or the name of a shipped model (a folder of ``data/models/``, see :func:`model_dir`).
    trust
        Allow unpickling a full model. Unpickling runs code stored in the file: only for files
        from a source you trust.

    Returns
    -------
    schnetpack.model.NeuralNetworkPotential
        In evaluation mode, on the CPU.

    Raises
    ------
    ModelNotFoundError
        No such model, or a folder without ``model.pt``/``config.json``.
    ModelFileError
        An empty, truncated or non-PyTorch weights file; not a state dict; non-finite weights;
        ``config.json`` not valid JSON. Subclasses: :class:`ModelChecksumError` (the weights do not
        match ``model.pt.sha256``), :class:`ModelMismatchError` (the weights do not fit ``config.json``).
    ModelConfigError
        ``config.json`` is JSON but not a valid :class:`ModelConfig`.
    UntrustedModelError
        A pickled full model without ``trust=True``.
    """
    import pickle

    import schnetpack as spk

    p = model_dir(path)
    if p.is_dir():
        missing = [n for n in (STATE_FILE, CONFIG_FILE) if not (p / n).exists()]
        if missing:
            raise ModelNotFoundError(f"{p} is not a saved model folder: missing {missing} "
                                     "(see xailib.models.save_model)")
        state_file, config_file = p / STATE_FILE, p / CONFIG_FILE
    else:
        state_file, config_file = p, p.parent / CONFIG_FILE
    check_model_file(state_file)
    try:
        obj = torch.load(state_file, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        if not trust:
            raise UntrustedModelError(
                f"{state_file} is a pickled full model, and unpickling it can run arbitrary code. "
                "If you trust its source, call load_model(path, trust=True); "
                "then re-save it with save_model to get a safe state_dict folder."
            ) from err
        obj = torch.load(state_file, map_location="cpu", weights_only=False)
        if isinstance(obj, spk.task.AtomisticTask):
            obj = obj.model
        if not isinstance(obj, spk.model.NeuralNetworkPotential):
            raise ModelFileError(f"{state_file} holds a {type(obj).__name__}, not a schnetpack "
                                 "NeuralNetworkPotential")
        return obj.eval()
    except Exception as err:  # torch reports truncated or damaged archives as RuntimeError, EOFError, ...
        first = (str(err).strip().splitlines() or [""])[0][:160]
        raise ModelFileError(f"{state_file} cannot be read by torch.load ({type(err).__name__}: {first}); the file "
                             "is probably truncated or corrupt: restore it or save the model again") from err
    if not isinstance(obj, Mapping) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise ModelFileError(f"{state_file} is a PyTorch file but not a state_dict of tensors "
                             f"(it holds a {type(obj).__name__}); save models with xailib.models.save_model")
    bad = [k for k, v in obj.items() if v.is_floating_point() and not torch.isfinite(v).all()]
    if bad:
        raise ModelFileError(f"{state_file} holds NaN or infinite weights ({bad[0]}); the file is corrupt or the "
                             "training diverged")
    if not config_file.exists():
        raise ModelNotFoundError(f"{state_file} is a state_dict but there is no {CONFIG_FILE} beside it to build "
                                 "the model")
    cfg = read_config(config_file)
    model = build_model(cfg)
    try:
        model.load_state_dict(obj)
    except RuntimeError as err:
        raise mismatch_error(model.state_dict(), obj, cfg, state_file, config_file) from err
    return model.eval()


def model_dir(name_or_path: str | Path) -> Path:
    """The folder (or file) of a model: an existing path (relative to the working directory, else to the
    repository root), else the shipped ``data/models/<name>``."""
    for p in (Path(name_or_path), resolve_path(name_or_path)):
        if p.exists():
            return p
    shipped = data_dir() / "models" / str(name_or_path)
    if Path(name_or_path).name == str(name_or_path) and shipped.exists():
        return shipped
    raise ModelNotFoundError(f"no model at {p}: give a folder written by save_model, a model file, or the name "
                            f"of a shipped model in {data_dir() / 'models'}")


def model_metrics(name_or_path: str | Path) -> dict[str, Any]:
    """The ``metrics.json`` of a saved model (test errors, epochs, training wall time)."""
    return load_json(model_dir(name_or_path) / METRICS_FILE, how_to_make="python -m xailib train --config ...")


def train_settings(name_or_path: str | Path) -> dict[str, Any]:
    """The ``train_config.json`` of a model trained by :func:`xailib.models.train`."""
    return load_json(model_dir(name_or_path) / "train_config.json", how_to_make="python -m xailib train --config ...")


def calculator(model: torch.nn.Module, *, dtype: torch.dtype | None = None, device: str = "cpu"):
    """An ASE calculator for an energy model: energy in eV, forces in eV/Angstrom.

    Uses schnetpack's ``SpkCalculator`` with a matscipy neighbour list at the model's cutoff. Every
    structure is checked first (:func:`xailib.base.structures.validate_structure`): NaN or infinite
    coordinates and overlapping atoms raise :class:`MalformedStructureError`, elements the model was not
    trained on :class:`UnsupportedElementError`.

    Parameters
    ----------
    model
        A schnetpack potential with ``energy`` and ``forces`` outputs.
    dtype
        Precision of the computation; default: that of the model's parameters. A different precision
        works on a copy of the model.
    """
    import schnetpack as spk
    from ase.calculators.calculator import all_changes
    from schnetpack.interfaces import SpkCalculator

    outputs = set(getattr(model, "model_outputs", None) or [])
    if not {"energy", "forces"} <= outputs:
        raise ValueError(
            f"calculator needs a model with 'energy' and 'forces' outputs; this one predicts {sorted(outputs)}"
        )
    if dtype is None:
        dtype = next(model.parameters()).dtype
    elif dtype != next(model.parameters()).dtype:
        import copy

        model = copy.deepcopy(model)  # SpkCalculator casts in place; leave the caller's model as it is
    class CheckedCalculator(SpkCalculator):
        """schnetpack's calculator that refuses a broken structure before computing it."""

        def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
            # elements are checked by the model's ElementGuard, with the message of check_elements
            validate_structure(atoms if atoms is not None else self.atoms, method="this model", periodic=True)
            super().calculate(atoms, properties, system_changes)

    return CheckedCalculator(
        model,
        neighbor_list=spk.transform.MatScipyNeighborList(cutoff=model_cutoff(model)),
        energy_key="energy",
        force_key="forces",
        energy_unit="eV",
        position_unit="Ang",
        dtype=dtype,
        device=device,
    )
