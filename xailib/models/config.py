"""The configuration of a SchNet or PaiNN potential (:class:`ModelConfig`), validated on construction."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ase.data import atomic_numbers, chemical_symbols

from xailib.base.errors import XailibError

ARCHITECTURES = ("schnet", "painn")
AGGREGATIONS = ("sum", "mean")
OFFSETS = ("free_atoms", "mean", "atomrefs", "none")
ENVELOPES = ("cosine", "poly")


class ModelConfigError(XailibError, ValueError):
    """A model configuration is invalid (unknown key, wrong type or value out of range)."""



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
        What post-processing adds back: ``"free_atoms"`` (the dataset's free-atom energies, its
        ``atomrefs`` metadata, e.g. GFN2-xTB: the network then predicts the atomisation energy, a
        physical quantity, and that is what relevances explain), ``"mean"`` (training mean, per atom
        for sum aggregation), ``"atomrefs"`` (per-element references fitted by linear regression on
        the training set; needs several compositions; the network's output is then a regression
        residual) or ``"none"``.
    envelope
        Radial envelope multiplying every filter: ``"cosine"`` (schnetpack's ``CosineCutoff`` at
        ``cutoff``, the default) or ``"poly"`` (:class:`xailib.models.envelopes.PolynomialEnvelope`: a
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
        they sum to the predicted energy (to float32 round-off; see :mod:`xailib.models.atomic_targets`).
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
