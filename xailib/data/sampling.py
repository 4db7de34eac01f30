"""Geometry sampling on the GFN2-xTB surface: relaxation with an ASE optimiser and seeded Langevin MD."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from ase import Atoms, units

from xailib.base.errors import XailibError
from xailib.qm.xtb import XTBSettings, ase_calculator


class SamplingError(XailibError, RuntimeError):
    """Relaxation did not converge or MD blew up."""


def relax(atoms: Atoms, fmax: float = 0.01, max_steps: int = 1000,
          settings: XTBSettings = XTBSettings()) -> tuple[Atoms, int]:
    """Relax ``atoms`` with GFN2-xTB and ASE's BFGS until the largest force is below ``fmax`` eV/Ang.

    Returns
    -------
    (relaxed copy, optimiser steps)

    Raises
    ------
    SamplingError
        When BFGS does not converge in ``max_steps``.
    """
    from ase.optimize import BFGS

    work = atoms.copy()
    work.calc = ase_calculator(settings)
    opt = BFGS(work, logfile=None)
    converged = opt.run(fmax=fmax, steps=max_steps)
    if not converged:
        fm = np.linalg.norm(work.get_forces(), axis=1).max()
        raise SamplingError(f"BFGS did not reach fmax={fmax} eV/Ang in {max_steps} steps (max force {fm:.3f})")
    out = Atoms(numbers=work.numbers, positions=work.positions.copy())
    return out, int(opt.get_number_of_steps())


@dataclass(frozen=True)
class MDSettings:
    """Seeded Langevin MD: ``n_warmup`` steps, then ``n_frames`` frames ``stride`` steps apart.

    Initial velocities are Maxwell-Boltzmann at ``init_factor * temperature`` (2 by default: starting
    at a minimum, equipartition moves half of the kinetic energy into the potential within ~100 fs).
    """

    temperature_K: float = 500.0
    timestep_fs: float = 0.5
    friction_per_fs: float = 0.01
    n_warmup: int = 2000
    stride: int = 10
    n_frames: int = 5000
    init_factor: float = 2.0

    @property
    def total_steps(self) -> int:
        return self.n_warmup + self.stride * self.n_frames


@dataclass
class Trajectory:
    """Saved MD frames: positions (Ang), simulation time (fs) and instantaneous temperature (K)."""

    numbers: np.ndarray
    positions: list[np.ndarray]
    time_fs: list[float]
    temperature_K: list[float]


def langevin(atoms: Atoms, md: MDSettings, seed: int, settings: XTBSettings = XTBSettings(),
             progress: bool = False) -> Trajectory:
    """Run seeded GFN2-xTB Langevin MD (ASE ``Langevin`` with ``FixCom``) and keep frames.

    The random stream (initial velocities and Langevin noise) is ``numpy.random.default_rng(seed)``.
    """
    from ase.constraints import FixCom
    from ase.md.langevin import Langevin
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution, Stationary, ZeroRotation

    if md.stride < 1 or md.n_frames < 1 or md.n_warmup < 0:
        raise ValueError(f"stride and n_frames must be >= 1 and n_warmup >= 0, got {md}")
    rng = np.random.default_rng(seed)
    work = Atoms(numbers=atoms.numbers, positions=atoms.positions.copy())
    work.calc = ase_calculator(settings)
    MaxwellBoltzmannDistribution(work, temperature_K=md.init_factor * md.temperature_K, rng=rng)
    Stationary(work)
    ZeroRotation(work)
    work.set_constraint(FixCom())
    dyn = Langevin(work, md.timestep_fs * units.fs, temperature_K=md.temperature_K,
                   friction=md.friction_per_fs / units.fs, fixcm=False, rng=rng, logfile=None)
    traj = Trajectory(np.asarray(work.numbers), [], [], [])
    if md.n_warmup:
        dyn.run(md.n_warmup)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=md.n_frames, desc=f"MD {work.get_chemical_formula()} {md.temperature_K:.0f} K", unit="frame")
    for _ in range(md.n_frames):
        dyn.run(md.stride)
        pos = work.positions.copy()
        if not np.all(np.isfinite(pos)):
            raise SamplingError(f"MD of {work.get_chemical_formula()} produced non-finite positions")
        traj.positions.append(pos)
        traj.time_fs.append(dyn.nsteps * md.timestep_fs)
        traj.temperature_K.append(float(work.get_temperature()))
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    return traj
