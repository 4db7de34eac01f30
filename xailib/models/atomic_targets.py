"""Per-atom energy outputs and targets: the pieces that let a potential learn atomic energies.

A model built with ``ModelConfig(atomic_output="atomic_energies_mo", ...)`` stores the per-atom
contributions of its ``energy`` head under that key, squeezed to one value per atom. The energy's
offset (training mean per atom, or fitted per-element references) is handled per atom in exactly the
same way as for the total:

* training data: :class:`AtomicOffsets` with ``sign=-1`` removes from each reference atomic energy
  the same per-atom offset that ``RemoveOffsets`` removes (``n_atoms`` times) from the total;
* model output: :class:`AtomicOffsets` with ``sign=+1`` adds it back after ``AddOffsets`` adds it to
  the total, so the predicted atomic energies always sum to the predicted energy.

Both read the offset statistics from the data module's cache (``get_stats`` / ``get_atomrefs`` of
the energy), so they use the numbers the energy's own offset transforms use.
"""

from __future__ import annotations

import torch
from schnetpack.transform.base import Transform

__all__ = ["AtomicOffsets", "SqueezeAtomic"]


class SqueezeAtomic(torch.nn.Module):
    """Output module: ``inputs[key]`` of shape ``(n_atoms, 1)`` becomes ``(n_atoms,)``, like the reference."""

    def __init__(self, key: str) -> None:
        super().__init__()
        self.key = key

    def forward(self, inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        inputs[self.key] = inputs[self.key].squeeze(-1)
        return inputs


class AtomicOffsets(Transform):
    """Add (``sign=+1``) or remove (``sign=-1``) the energy's per-atom offset to/from a per-atom property.

    Parameters
    ----------
    key
        The per-atom property (e.g. ``"atomic_energies_mo"``).
    energy_key
        The total whose offset statistics are used.
    mode
        ``"mean"`` (the energy's mean per atom), ``"atomrefs"`` (its fitted per-element references) or
        ``"free_atoms"`` (the dataset's free-atom references, its ``atomrefs`` metadata).
    sign
        ``+1`` as a post-processor of the model, ``-1`` as a pre-processor of the training data.
    """

    is_preprocessor: bool = True
    is_postprocessor: bool = True

    def __init__(self, key: str, energy_key: str = "energy", mode: str = "mean", sign: int = 1,
                 zmax: int = 100) -> None:
        super().__init__()
        if mode not in ("mean", "atomrefs", "free_atoms"):
            raise ValueError(f"mode must be 'mean', 'atomrefs' or 'free_atoms', got {mode!r}")
        if sign not in (1, -1):
            raise ValueError(f"sign must be +1 or -1, got {sign!r}")
        self.key, self.energy_key, self.mode, self.sign = key, energy_key, mode, sign
        self.register_buffer("mean", torch.zeros((), dtype=torch.float64))
        self.register_buffer("atomref", torch.zeros(zmax, dtype=torch.float64))

    def datamodule(self, _datamodule) -> None:
        if self.mode == "mean":
            self.mean = _datamodule.get_stats(self.energy_key, True, False)[0].detach().to(torch.float64)
        elif self.mode == "atomrefs":
            refs = _datamodule.get_atomrefs(property=self.energy_key, is_extensive=True)
            self.atomref = refs[self.energy_key].detach().to(torch.float64)
        else:
            self.atomref = _datamodule.train_dataset.atomrefs[self.energy_key].detach().to(torch.float64)

    def forward(self, inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        from schnetpack import properties

        y = inputs[self.key]
        offset = self.mean if self.mode == "mean" else self.atomref[inputs[properties.Z]]
        inputs[self.key] = y + self.sign * offset.to(y.dtype)
        return inputs
