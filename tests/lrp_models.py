"""Small random schnetpack models and molecules for the relevance-engine tests (float64)."""

from __future__ import annotations

import numpy as np
import torch
from ase.build import molecule


def potential(arch: str = "schnet", n_interactions: int = 2, width: int = 8, *, aggregation: str = "sum",
              cutoff: float = 5.0, seed: int = 0, bias_scale: float = 0.1, dtype=torch.float64,
              extra_heads: int = 0):
    """A random schnetpack NeuralNetworkPotential (SchNet or PaiNN) with an Atomwise ``energy`` head.

    ``arch`` ``"schnet-poly"`` / ``"painn-poly"``: the same with :class:`xailib.models.envelopes.PolynomialEnvelope`
    (``r0 = 1.5``, switch on ``[cutoff - 1, cutoff]``) instead of the cosine cutoff, and the radial basis on
    ``[0, cutoff - 1]``, as in the ``envelope: poly`` models. Weights are schnetpack's initialisation plus noise; biases (zero at initialisation) are set to
    random values of scale ``bias_scale`` so that bias handling of the rules is exercised.
    """
    import schnetpack as spk

    torch.manual_seed(seed)
    arch, poly = arch.removesuffix("-poly"), arch.endswith("-poly")
    if poly:
        from xailib.models.envelopes import PolynomialEnvelope

        switch = min(1.0, cutoff / 2)
        rbf, cut = spk.nn.GaussianRBF(n_rbf=6, cutoff=cutoff - switch), PolynomialEnvelope(cutoff, 6.0, 1.5, switch)
    else:
        rbf, cut = spk.nn.GaussianRBF(n_rbf=6, cutoff=cutoff), spk.nn.CosineCutoff(cutoff)
    if arch == "schnet":
        rep = spk.representation.SchNet(n_atom_basis=width, n_interactions=n_interactions, radial_basis=rbf,
                                        cutoff_fn=cut)
    elif arch == "painn":
        rep = spk.representation.PaiNN(n_atom_basis=width, n_interactions=n_interactions, radial_basis=rbf,
                                       cutoff_fn=cut)
    else:
        raise ValueError(arch)
    heads = [spk.atomistic.Atomwise(n_in=width, output_key="energy", aggregation_mode=aggregation)]
    heads += [spk.atomistic.Atomwise(n_in=width, output_key=f"y{k}") for k in range(extra_heads)]
    model = spk.model.NeuralNetworkPotential(representation=rep, input_modules=[spk.atomistic.PairwiseDistances()],
                                             output_modules=heads)
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.add_((bias_scale if name.endswith("bias") else 0.3) * torch.randn_like(p))
    return model.to(dtype)


def zero_biases(model):
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("bias"):
                p.zero_()
    return model


def mol(name: str):
    """An ASE G2 molecule with slightly perturbed (seeded) positions, so no symmetry hides errors."""
    atoms = molecule(name)
    rng = np.random.default_rng(1)
    atoms.positions += 0.05 * rng.standard_normal(atoms.positions.shape)
    return atoms


def all_walks(n: int, t: int) -> np.ndarray:
    return np.stack(np.meshgrid(*[np.arange(n)] * (t + 1), indexing="ij"), -1).reshape(-1, t + 1)
