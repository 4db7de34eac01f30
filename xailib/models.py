"""Build, save and load schnetpack SchNet and PaiNN potentials from a small configuration.

A model is a schnetpack :class:`~schnetpack.model.NeuralNetworkPotential`:

``ElementGuard -> PairwiseDistances -> SchNet | PaiNN -> Atomwise head(s) [-> Forces]``

with schnetpack post-processing that casts to float64 and adds the offsets removed during training
(per-atom mean or fitted per-element references). Units throughout: eV and Angstrom.

A saved model is a folder with ``model.pt`` (a ``state_dict``, loaded with
``torch.load(weights_only=True)``), ``config.json`` (the :class:`ModelConfig`) and ``metrics.json``.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from ase.data import atomic_numbers, chemical_symbols

__all__ = [
    "ModelConfig",
    "ModelConfigError",
    "UnsupportedElementError",
    "UntrustedModelError",
    "ElementGuard",
    "build_model",
    "save_model",
    "load_model",
    "calculator",
    "model_cutoff",
    "model_config",
]

ARCHITECTURES = ("schnet", "painn")
AGGREGATIONS = ("sum", "mean")
OFFSETS = ("mean", "atomrefs", "none")
ENVELOPES = ("cosine", "poly")
STATE_FILE = "model.pt"
CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.json"


class ModelConfigError(ValueError):
    """A model configuration is invalid (unknown key, wrong type or value out of range)."""


class UnsupportedElementError(ValueError):
    """A structure contains an element that the model never saw in training."""


class UntrustedModelError(RuntimeError):
    """Loading this file would unpickle arbitrary Python objects; it needs ``trust=True``."""


@dataclass
class ModelConfig:
    """What :func:`build_model` needs to build a potential.

    Parameters
    ----------
    architecture
        ``"schnet"`` or ``"painn"``.
    n_atom_basis
        Feature size of the atom representation (and of SchNet's filters).
    n_interactions
        Number of interaction blocks.
    cutoff
        Cutoff radius in Angstrom (where the envelope reaches 0; also the neighbour-list radius).
    n_rbf
        Number of Gaussian radial basis functions on ``[0, cutoff]``.
    targets
        Names of the predicted properties, e.g. ``["energy"]`` or ``["gap"]``; one atomwise head each.
    aggregation
        ``"sum"`` (extensive targets such as the energy) or ``"mean"`` (intensive ones such as the gap).
    forces
        Predict forces as minus the gradient of the ``"energy"`` target (schnetpack ``Forces``).
    elements
        Atomic numbers (or symbols) in the training data; other elements raise
        :class:`UnsupportedElementError`.
    offset
        What post-processing adds back: ``"mean"`` (training mean, per atom for sum aggregation),
        ``"atomrefs"`` (per-element references fitted by linear regression on the training set;
        needs several compositions) or ``"none"``.
    envelope
        Radial envelope multiplying every filter: ``"cosine"`` (schnetpack's ``CosineCutoff`` at
        ``cutoff``, the default) or ``"poly"`` (:class:`xailib.envelopes.PolynomialEnvelope`: a
        ``(1 + (r/r0)^2)^(-n/2)`` tail switched off on ``[cutoff - envelope_width, cutoff]``).
    envelope_power, envelope_r0, envelope_width
        ``n``, ``r0`` (Angstrom) and the switch width ``w`` (Angstrom) of the ``"poly"`` envelope;
        they must stay at their defaults with ``envelope: cosine``.
    rbf_cutoff
        Upper end (Angstrom) of the Gaussian radial basis grid; ``None`` (default): ``cutoff``.
        Below ``cutoff`` the basis vanishes beyond it and the envelope alone shapes the tail.
    atomic_output
        If set (e.g. ``"atomic_energies"``), the per-atom contributions of the ``energy`` head are also
        returned under this key, one value per atom, with the energy's offset added per atom so that
        they sum to the predicted energy (to float32 round-off; see :mod:`xailib.atomic_targets`).
        ``None`` (default): no per-atom output.
    """

    architecture: str = "schnet"
    n_atom_basis: int = 64
    n_interactions: int = 3
    cutoff: float = 5.0
    n_rbf: int = 20
    targets: list[str] = field(default_factory=lambda: ["energy"])
    aggregation: str = "sum"
    forces: bool = True
    elements: list[int] = field(default_factory=lambda: [1, 6, 7, 8])
    offset: str = "mean"
    envelope: str = "cosine"
    envelope_power: float = 6.0
    envelope_r0: float = 3.0
    envelope_width: float = 1.5
    rbf_cutoff: float | None = None
    atomic_output: str | None = None

    def __post_init__(self) -> None:
        if self.architecture not in ARCHITECTURES:
            raise ModelConfigError(f"architecture must be one of {ARCHITECTURES}, got {self.architecture!r}")
        for name in ("n_atom_basis", "n_interactions", "n_rbf"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ModelConfigError(f"{name} must be a positive integer, got {value!r}")
        if isinstance(self.cutoff, bool) or not isinstance(self.cutoff, (int, float)) or not self.cutoff > 0:
            raise ModelConfigError(f"cutoff must be a positive number (Angstrom), got {self.cutoff!r}")
        self.cutoff = float(self.cutoff)
        if isinstance(self.targets, str):
            self.targets = [self.targets]
        if not self.targets or not all(isinstance(t, str) and t for t in self.targets):
            raise ModelConfigError(f"targets must be a non-empty list of property names, got {self.targets!r}")
        self.targets = list(self.targets)
        if len(set(self.targets)) != len(self.targets):
            raise ModelConfigError(f"targets must be distinct, got {self.targets!r}")
        if self.aggregation not in AGGREGATIONS:
            raise ModelConfigError(f"aggregation must be one of {AGGREGATIONS}, got {self.aggregation!r}")
        if not isinstance(self.forces, bool):
            raise ModelConfigError(f"forces must be true or false, got {self.forces!r}")
        if self.forces and "energy" not in self.targets:
            raise ModelConfigError(
                f"forces=True needs an 'energy' target (forces are -dE/dx), targets are {self.targets}; "
                "set forces: false for models of other properties"
            )
        if self.forces and self.aggregation != "sum":
            raise ModelConfigError("forces need an extensive energy: use aggregation 'sum' with forces=True")
        if self.offset not in OFFSETS:
            raise ModelConfigError(f"offset must be one of {OFFSETS}, got {self.offset!r}")
        self.elements = _atomic_numbers(self.elements)
        self._check_envelope()
        if self.atomic_output is not None:
            if not isinstance(self.atomic_output, str) or not self.atomic_output:
                raise ModelConfigError(f"atomic_output must be a property name or null, got {self.atomic_output!r}")
            if "energy" not in self.targets or self.aggregation != "sum":
                raise ModelConfigError("atomic_output needs an 'energy' target with aggregation 'sum' "
                                       f"(targets {self.targets}, aggregation {self.aggregation!r})")
            if self.atomic_output in self.targets or self.atomic_output == "forces":
                raise ModelConfigError(f"atomic_output {self.atomic_output!r} must differ from the targets and 'forces'")

    def _check_envelope(self) -> None:
        if self.envelope not in ENVELOPES:
            raise ModelConfigError(f"envelope must be one of {ENVELOPES}, got {self.envelope!r}")
        for name in ("envelope_power", "envelope_r0", "envelope_width"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise ModelConfigError(f"{name} must be a positive number, got {value!r}")
            setattr(self, name, float(value))
        if self.envelope == "cosine":
            changed = [f.name for f in dataclasses.fields(self)
                       if f.name.startswith("envelope_") and getattr(self, f.name) != f.default]
            if changed:
                raise ModelConfigError(f"{changed} only apply to envelope: poly; the cosine envelope has no such "
                                       "parameters (set envelope: poly or remove them)")
        if self.envelope == "poly" and self.envelope_width > self.cutoff:
            raise ModelConfigError(f"envelope_width ({self.envelope_width}) must not exceed cutoff ({self.cutoff})")
        if self.rbf_cutoff is not None:
            r = self.rbf_cutoff
            if isinstance(r, bool) or not isinstance(r, (int, float)) or not 0 < r <= self.cutoff:
                raise ModelConfigError(f"rbf_cutoff must be a number in (0, cutoff={self.cutoff}] Angstrom or null, "
                                       f"got {r!r}")
            self.rbf_cutoff = float(r)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "ModelConfig":
        """Validate a mapping (e.g. parsed JSON/YAML) and build a config; unknown keys are an error."""
        if isinstance(data, ModelConfig):
            return data
        if not isinstance(data, Mapping):
            raise ModelConfigError(f"a model config must be a mapping, got {type(data).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ModelConfigError(f"unknown model config keys {unknown}; allowed keys are {sorted(known)}")
        return cls(**dict(data))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict that :meth:`from_dict` turns back into an equal config."""
        return dataclasses.asdict(self)


def _atomic_numbers(elements: Sequence[int | str]) -> list[int]:
    if isinstance(elements, (str, int)) or not elements:
        raise ModelConfigError(f"elements must be a non-empty list of atomic numbers or symbols, got {elements!r}")
    out = set()
    for e in elements:
        if isinstance(e, str) and e in atomic_numbers:
            out.add(atomic_numbers[e])
        elif isinstance(e, int) and not isinstance(e, bool) and 1 <= e < len(chemical_symbols):
            out.add(int(e))
        else:
            raise ModelConfigError(f"unknown element {e!r} in elements; use atomic numbers (1-118) or symbols")
    return sorted(out)


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
        from xailib.envelopes import PolynomialEnvelope

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
        from xailib.atomic_targets import SqueezeAtomic

        outputs.append(SqueezeAtomic(cfg.atomic_output))
    if cfg.forces:
        outputs.append(spk.atomistic.Forces(energy_key="energy", force_key="forces"))
    post: list[torch.nn.Module] = [trn.CastTo64()]
    if cfg.offset != "none":
        for t in cfg.targets:
            add = trn.AddOffsets(
                t,
                add_mean=cfg.offset == "mean",
                add_atomrefs=cfg.offset == "atomrefs",
                estimate_atomref=cfg.offset == "atomrefs",
                is_extensive=cfg.aggregation == "sum",
            )
            # float64 scalar, as schnetpack's data module computes it, so saving loses no precision
            add.mean = torch.zeros((), dtype=torch.float64)
            add.atomref = torch.zeros_like(add.atomref, dtype=torch.float64)
            post.append(add)
        if cfg.atomic_output is not None:
            from xailib.atomic_targets import AtomicOffsets

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
    """Save a model as a folder: ``model.pt`` (state_dict), ``config.json``, ``metrics.json``.

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
    (folder / CONFIG_FILE).write_text(json.dumps(cfg.to_dict(), indent=2) + "\n")
    (folder / METRICS_FILE).write_text(json.dumps(dict(metrics or {}), indent=2, sort_keys=True) + "\n")
    return folder


def load_model(path: str | Path, trust: bool = False) -> "torch.nn.Module":
    """Load a model saved by :func:`save_model`, or (with ``trust=True``) a pickled schnetpack model.

    Parameters
    ----------
    path
        A folder written by :func:`save_model`, or a file: a ``state_dict`` file with a
        ``config.json`` beside it, or a pickled full model such as schnetpack's ``best_model``.
    trust
        Allow unpickling a full model. Unpickling runs code stored in the file: only for files
        from a source you trust.

    Returns
    -------
    schnetpack.model.NeuralNetworkPotential
        In evaluation mode, on the CPU.
    """
    import pickle

    import schnetpack as spk

    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"no model at {p}: give a folder written by save_model or a model file")
    if p.is_dir():
        missing = [n for n in (STATE_FILE, CONFIG_FILE) if not (p / n).exists()]
        if missing:
            raise FileNotFoundError(f"{p} is not a saved model folder: missing {missing} (see xailib.models.save_model)")
        state_file, config_file = p / STATE_FILE, p / CONFIG_FILE
    else:
        state_file, config_file = p, p.parent / CONFIG_FILE
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
            raise TypeError(f"{state_file} holds a {type(obj).__name__}, not a schnetpack NeuralNetworkPotential")
        return obj.eval()
    if not isinstance(obj, Mapping) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise TypeError(f"{state_file} does not hold a state_dict of tensors")
    if not config_file.exists():
        raise FileNotFoundError(f"{state_file} is a state_dict but there is no {CONFIG_FILE} beside it to build the model")
    model = build_model(json.loads(config_file.read_text()))
    model.load_state_dict(obj)
    return model.eval()


def calculator(model: torch.nn.Module, *, dtype: torch.dtype | None = None, device: str = "cpu"):
    """An ASE calculator for an energy model: energy in eV, forces in eV/Angstrom.

    Uses schnetpack's ``SpkCalculator`` with a matscipy neighbour list at the model's cutoff.
    Atoms of elements the model was not trained on raise :class:`UnsupportedElementError`.

    Parameters
    ----------
    model
        A schnetpack potential with ``energy`` and ``forces`` outputs.
    dtype
        Precision of the computation; default: that of the model's parameters. A different precision
        works on a copy of the model.
    """
    import schnetpack as spk
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
    return SpkCalculator(
        model,
        neighbor_list=spk.transform.MatScipyNeighborList(cutoff=model_cutoff(model)),
        energy_key="energy",
        force_key="forces",
        energy_unit="eV",
        position_unit="Ang",
        dtype=dtype,
        device=device,
    )
