"""Radial envelopes for schnetpack filters: a polynomial tail instead of a cosine cutoff.

SchNet and PaiNN multiply every learned filter by a cutoff function of the distance,
``W(r) = phi(rbf(r)) * e(r)``. schnetpack's ``CosineCutoff`` ``e(r) = (cos(pi r / r_c) + 1) / 2``
makes every learned pair interaction vanish smoothly at ``r_c`` (5 Angstrom in the shipped models),
already at 4 Angstrom it is below 0.1: the interaction decays through the cutoff, not physics.

:class:`PolynomialEnvelope` instead gives the filter a polynomial tail with a C1 switch at the end:

.. math::

    e(r) = \\left(1 + (r/r_0)^2\\right)^{-n/2}\\, s(r), \\qquad
    s(r) = \\begin{cases} 1 & r \\le r_c - w \\\\
    \\tfrac12\\left(1 + \\cos\\big(\\pi\\,(r - r_c + w)/w\\big)\\right) & r_c - w < r < r_c \\\\
    0 & r \\ge r_c \\end{cases}

The core ``(1 + (r/r_0)^2)^{-n/2}`` is 1 at ``r = 0``, decays as ``(r_0/r)^n`` for ``r >> r_0``
(``n = 6``: dispersion-like) with local log-slope ``d ln e / d ln r = -n x^2 / (1 + x^2)``,
``x = r/r_0`` (:func:`local_exponent`), and has no singularity at short range. The switch ``s`` is
continuous with a continuous derivative (``s'`` is 0 at both ends of ``[r_c - w, r_c]``), so energies
and forces stay continuous when a neighbour crosses ``r_c``; ``e`` and ``e'`` are exactly 0 from ``r_c``
on. With the Gaussian radial basis kept on ``[0, r_rbf]`` (``r_rbf < r_c``, ``ModelConfig.rbf_cutoff``),
the basis vanishes beyond ``r_rbf`` and the filter there becomes ``phi(0) e(r)``: a learned amplitude
per feature times the fixed polynomial tail. Inside the data range the filter network stays as free
as before; the envelope fixes the shape of what lies beyond it.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

__all__ = ["PolynomialEnvelope", "cosine_cutoff", "polynomial_envelope", "local_exponent"]


class PolynomialEnvelope(nn.Module):
    """``e(r) = (1 + (r/r0)^2)^(-n/2) s(r)``, ``s`` a cosine switch from 1 at ``r_c - w`` to 0 at ``r_c``.

    Usable wherever schnetpack takes ``cutoff_fn`` (it has a ``cutoff`` buffer, like ``CosineCutoff``).

    Parameters
    ----------
    cutoff
        Outer cutoff ``r_c`` in Angstrom: ``e`` and its derivative are 0 from here on (and the
        representation's neighbour lists use it).
    power
        Tail exponent ``n`` (``e ~ r^-n`` for ``r >> r0``).
    r0
        Length scale of the core in Angstrom (``e(r0) = 2^(-n/2)``).
    width
        Switch width ``w`` in Angstrom, ``0 < w <= cutoff``.
    """

    def __init__(self, cutoff: float, power: float = 6.0, r0: float = 3.0, width: float = 1.5) -> None:
        super().__init__()
        for name, value in (("cutoff", cutoff), ("power", power), ("r0", r0), ("width", width)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise ValueError(f"{name} must be a positive number, got {value!r}")
        if width > cutoff:
            raise ValueError(f"switch width {width} must not exceed the cutoff {cutoff}")
        self.register_buffer("cutoff", torch.tensor(float(cutoff)))
        self.register_buffer("power", torch.tensor(float(power)))
        self.register_buffer("r0", torch.tensor(float(r0)))
        self.register_buffer("width", torch.tensor(float(width)))

    def forward(self, d: torch.Tensor) -> torch.Tensor:
        core = (1.0 + (d / self.r0) ** 2) ** (-0.5 * self.power)
        x = ((d - (self.cutoff - self.width)) / self.width).clamp(0.0, 1.0)
        switch = 0.5 * (torch.cos(math.pi * x) + 1.0)
        return core * switch * (d < self.cutoff).to(d.dtype)

    def extra_repr(self) -> str:
        return (f"cutoff={float(self.cutoff)}, power={float(self.power)}, r0={float(self.r0)}, "
                f"width={float(self.width)}")


def polynomial_envelope(r, cutoff: float, power: float = 6.0, r0: float = 3.0, width: float = 1.5) -> np.ndarray:
    """:class:`PolynomialEnvelope` evaluated in NumPy (float64), for plots and checks."""
    r = np.asarray(r, dtype=float)
    x = np.clip((r - (cutoff - width)) / width, 0.0, 1.0)
    return (1.0 + (r / r0) ** 2) ** (-0.5 * power) * 0.5 * (np.cos(np.pi * x) + 1.0) * (r < cutoff)


def cosine_cutoff(r, cutoff: float) -> np.ndarray:
    """schnetpack's ``CosineCutoff`` in NumPy: ``(cos(pi r / r_c) + 1) / 2`` below ``r_c``, 0 beyond."""
    r = np.asarray(r, dtype=float)
    return 0.5 * (np.cos(np.pi * r / cutoff) + 1.0) * (r < cutoff)


def local_exponent(r, power: float = 6.0, r0: float = 3.0) -> np.ndarray:
    """``-d ln e / d ln r`` of the envelope's core, ``n x^2 / (1 + x^2)`` with ``x = r / r0``."""
    x2 = (np.asarray(r, dtype=float) / r0) ** 2
    return power * x2 / (1.0 + x2)
