"""Synthetic potentials whose n-body decomposition is known exactly: the explainer's known answers.

Three potentials on any molecule of the elements H, C, N, O, F, S, Cl (:data:`POTENTIALS`):

``pair_power``
    ``E_ij = -C6_ij / (r^6 + a^6) * s(r)``: a damped dispersion-like pair energy with an ``r^-6`` tail.
``pair_exp``
    ``E_ij = -A_ij exp(-r / lambda) * s(r)`` with ``A_ij`` chosen so that both pair potentials agree at
    3 Angstrom (where both have a log-log slope of about -6): same size, different law.
``pair_power_atm``
    ``pair_power`` plus an Axilrod-Teller triple-dipole term
    ``E_ijk = k9 C9_ijk (1 + 3 cos a cos b cos c) / (d_ij d_jk d_ik)^3 * s(r_ij) s(r_jk) s(r_ik)``
    with damped distances ``d^3 = sqrt(r^6 + a^6)`` and ``C9_ijk = sqrt(C6_ij C6_jk C6_ik)``.

``C6_ij = sqrt(C6_i C6_j)`` uses per-element coefficients with the magnitudes of Grimme's D2 set
(:data:`C6`, eV Angstrom^6), so the true element-pair ranking is known. ``s(r)`` is 1 below
:data:`R_ON` and falls smoothly (quintic smoothstep) to 0 at :data:`R_OFF`, before the models' 5 Angstrom
cutoff, so a decay fit inside ``[~2, R_ON]`` sees the pure law. There are no 1-body terms: every energy is
a sum of 2-body (and, for ``pair_power_atm``, 3-body) terms, returned by :func:`terms`.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from ase import Atoms
from ase.data import atomic_numbers

from xailib.base.errors import XailibError
from xailib.base.structures import validate_structure

#: Names of the synthetic potentials.
POTENTIALS = ("pair_power", "pair_exp", "pair_power_atm")

#: Per-element dispersion coefficients (eV Angstrom^6), magnitudes of Grimme's D2 C6 (J nm^6 mol^-1 x 10.364).
C6 = {"H": 1.451, "C": 18.14, "N": 12.75, "O": 7.255, "F": 7.773, "S": 57.73, "Cl": 52.55}
#: Short-range damping length ``a`` (Angstrom): the pair energy is a plateau below it and ``r^-6`` beyond ~2 A.
DAMPING = 1.2
#: Decay length of ``pair_exp`` (Angstrom): its log-log slope at 3 A is -3/0.5 = -6, like ``pair_power``.
EXP_LENGTH = 0.5
#: Distance where both pair laws are equal (Angstrom).
MATCH_DISTANCE = 3.0
#: Scale of the Axilrod-Teller term (dimensionless); about a quarter of the summed |terms| on nci-small is 3-body.
ATM_SCALE = 1.5
#: Smooth switch ``s(r)``: 1 below ``R_ON``, 0 from ``R_OFF`` on (Angstrom).
R_ON, R_OFF = 4.0, 4.5

_ELEMENTS = {atomic_numbers[s]: c for s, c in C6.items()}


class UnknownPotentialError(XailibError, ValueError):
    """A potential name that is not in :data:`POTENTIALS`."""


def _check(atoms: Atoms, potential: str) -> None:
    if potential not in POTENTIALS:
        raise UnknownPotentialError(f"unknown potential {potential!r}; choose one of {', '.join(POTENTIALS)}")
    validate_structure(atoms, elements=set(_ELEMENTS), method="the synthetic potentials")


def switch(r: torch.Tensor) -> torch.Tensor:
    """``s(r)``: 1 for ``r <= R_ON``, 0 for ``r >= R_OFF``, a quintic smoothstep (C2) between."""
    x = ((r - R_ON) / (R_OFF - R_ON)).clamp(0.0, 1.0)
    return 1.0 - x**3 * (10.0 - 15.0 * x + 6.0 * x**2)


def pair_law(r: torch.Tensor, c6: torch.Tensor, potential: str) -> torch.Tensor:
    """Pair energy (eV) at distance ``r`` for pair coefficients ``c6`` (the switch included)."""
    if potential == "pair_exp":
        amplitude = c6 * math.exp(MATCH_DISTANCE / EXP_LENGTH) / (MATCH_DISTANCE**6 + DAMPING**6)
        law = -amplitude * torch.exp(-r / EXP_LENGTH)
    else:
        law = -c6 / (r**6 + DAMPING**6)
    return law * switch(r)


def _pair_and_triple_energies(numbers: np.ndarray, pos: torch.Tensor, potential: str):
    n = len(numbers)
    c6 = torch.tensor([_ELEMENTS[int(z)] for z in numbers], dtype=pos.dtype)
    i, j = np.triu_indices(n, 1)
    rij = torch.linalg.norm(pos[i] - pos[j], dim=1)
    pair = pair_law(rij, torch.sqrt(c6[i] * c6[j]), potential)
    if potential != "pair_power_atm" or n < 3:
        return (i, j), pair, None, None
    a, b, c = (np.asarray(x) for x in zip(*[(p, q, s) for p in range(n) for q in range(p + 1, n)
                                              for s in range(q + 1, n)]))
    vab, vbc, vac = pos[b] - pos[a], pos[c] - pos[b], pos[c] - pos[a]
    rab, rbc, rac = (torch.linalg.norm(v, dim=1) for v in (vab, vbc, vac))
    cos_a = (vab * vac).sum(1) / (rab * rac)
    cos_b = (-vab * vbc).sum(1) / (rab * rbc)
    cos_c = (vac * vbc).sum(1) / (rac * rbc)
    d3 = [torch.sqrt(r**6 + DAMPING**6) for r in (rab, rbc, rac)]
    c9 = torch.sqrt(torch.sqrt(c6[a] * c6[b]) * torch.sqrt(c6[b] * c6[c]) * torch.sqrt(c6[a] * c6[c]))
    triple = (ATM_SCALE * c9 * (1.0 + 3.0 * cos_a * cos_b * cos_c) / (d3[0] * d3[1] * d3[2])
              * switch(rab) * switch(rbc) * switch(rac))
    return (i, j), pair, (a, b, c), triple


def terms(atoms: Atoms, potential: str) -> dict[tuple[int, ...], float]:
    """Exact n-body terms ``{sorted atom-index tuple: energy (eV)}`` of ``potential`` on ``atoms``.

    Every pair (and, for ``pair_power_atm``, every triple) appears, zeros included beyond the switch;
    there are no 1-body terms. The values add up to :func:`energy_forces`' energy.
    """
    _check(atoms, potential)
    pos = torch.tensor(atoms.positions, dtype=torch.float64)
    (i, j), pair, triples, triple = _pair_and_triple_energies(atoms.numbers, pos, potential)
    out = {(int(p), int(q)): float(e) for p, q, e in zip(i, j, pair)}
    if triples is not None:
        out.update({(int(p), int(q), int(s)): float(e) for p, q, s, e in zip(*triples, triple)})
    return out


def energy_forces(atoms: Atoms, potential: str) -> tuple[float, np.ndarray]:
    """Total energy (eV) and forces (eV/Angstrom, ``-dE/dR`` by autograd in float64) of ``potential``."""
    _check(atoms, potential)
    pos = torch.tensor(atoms.positions, dtype=torch.float64, requires_grad=True)
    _, pair, _, triple = _pair_and_triple_energies(atoms.numbers, pos, potential)
    energy = pair.sum() + (triple.sum() if triple is not None else 0.0)
    (grad,) = torch.autograd.grad(energy, pos)
    return float(energy.detach()), -grad.numpy()
