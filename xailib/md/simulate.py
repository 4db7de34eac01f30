"""Molecular dynamics of trained models through ASE, and stability monitors.

``run_md`` runs NVT (Langevin) or NVE (velocity Verlet) dynamics with any ASE calculator or a
schnetpack model (wrapped by :func:`xailib.models.calculator`); ``stability`` decides whether and when
a trajectory failed, and why.

Stability criteria (all thresholds are arguments, defaults stated here):

* **bond** -- a bond of the reference bond graph (covalent radii times 1.2, ``ase.neighborlist``)
  departs from its reference length by more than ``bond_tolerance`` = 0.5 Angstrom;
* **collapse** -- any pair of atoms closer than ``min_distance`` = 0.6 Angstrom;
* **temperature** -- the instantaneous temperature exceeds ``max_temperature_K`` (default: five
  times the thermostat temperature, or 3000 K);
* **drift** -- in NVE runs, the total energy departs from its initial value by more than
  ``drift_tolerance_eV`` = 0.05 eV per atom.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from ase import Atoms, units
from ase.calculators.calculator import Calculator
from ase.constraints import FixCom
from ase.md.langevin import Langevin
from ase.md.velocitydistribution import Stationary, ZeroRotation, thermalize_momenta
from ase.md.verlet import VelocityVerlet
from ase.neighborlist import natural_cutoffs, neighbor_list
from tqdm.auto import tqdm

ENSEMBLES = ("nvt", "nve")


@dataclass
class MDResult:
    """Frames and energies of an MD run (eV, fs, K); arrays have one entry per recorded frame."""

    frames: list[Atoms]
    time_fs: np.ndarray
    potential_energy: np.ndarray
    kinetic_energy: np.ndarray
    temperature_K: np.ndarray
    ensemble: str
    seed: int
    stopped_early: bool = False

    @property
    def total_energy(self) -> np.ndarray:
        return self.potential_energy + self.kinetic_energy


@dataclass
class StabilityReport:
    """Whether a trajectory stayed physical; if not, when it failed and why."""

    stable: bool
    failure_frame: int | None = None
    failure_time_fs: float | None = None
    reason: str | None = None
    details: dict = field(default_factory=dict)


def _as_calculator(model_or_calculator) -> Calculator:
    if isinstance(model_or_calculator, Calculator):
        return model_or_calculator
    import torch

    if isinstance(model_or_calculator, torch.nn.Module):
        from xailib.models.build import calculator

        return calculator(model_or_calculator)
    raise TypeError(
        f"run_md needs an ASE calculator or a schnetpack model, got {type(model_or_calculator).__name__}"
    )


def run_md(
    model_or_calculator,
    atoms: Atoms,
    *,
    steps: int,
    timestep_fs: float,
    temperature_K: float,
    ensemble: str = "nvt",
    seed: int = 0,
    friction_per_fs: float = 0.01,
    record_every: int = 1,
    stop_on_failure: bool = False,
    progress: bool = True,
) -> MDResult:
    """Run seeded MD of ``atoms`` (not modified) and record frames.

    Velocities are drawn from a Maxwell-Boltzmann distribution at ``temperature_K`` with the seed,
    without centre-of-mass motion or rotation. ``nvt`` uses ASE's Langevin thermostat (friction
    ``friction_per_fs``, the same seed, centre of mass fixed by ``FixCom``); ``nve`` uses velocity Verlet. With ``stop_on_failure`` the run
    ends at the first recorded frame that :func:`stability` flags.
    """
    if ensemble not in ENSEMBLES:
        raise ValueError(f"ensemble must be one of {ENSEMBLES}, got {ensemble!r}")
    if steps < 1 or record_every < 1 or timestep_fs <= 0 or temperature_K < 0:
        raise ValueError("steps and record_every must be >= 1, timestep_fs > 0 and temperature_K >= 0")
    if len(atoms) == 0:
        raise ValueError("cannot run MD on an empty structure")
    system = atoms.copy()
    system.calc = _as_calculator(model_or_calculator)
    rng = np.random.default_rng(seed)
    thermalize_momenta(system, temperature_K, rng=rng)
    Stationary(system)
    ZeroRotation(system)
    dt = timestep_fs * units.fs
    if ensemble == "nvt":
        system.set_constraint(FixCom())  # ASE's recommended way to keep the centre of mass fixed
        dyn = Langevin(system, dt, temperature_K=temperature_K, friction=friction_per_fs / units.fs,
                       fixcm=False, rng=rng)
    else:
        dyn = VelocityVerlet(system, dt)

    frames, times, epot, ekin, temps = [], [], [], [], []

    def record() -> None:
        frame = system.copy()
        frame.calc = None
        frames.append(frame)
        times.append(dyn.nsteps * timestep_fs)
        epot.append(system.get_potential_energy())
        ekin.append(system.get_kinetic_energy())
        temps.append(system.get_temperature())

    record()
    stopped = False
    with tqdm(total=steps, desc=f"MD {ensemble} {temperature_K:.0f} K", disable=not progress, leave=False) as bar:
        for _ in range(steps // record_every):
            dyn.run(record_every)
            bar.update(record_every)
            record()
            if stop_on_failure and not stability([frames[-1]], atoms, temperature_K=temperature_K).stable:
                stopped = True
                break
    return MDResult(frames, np.array(times), np.array(epot), np.array(ekin), np.array(temps), ensemble, seed, stopped)


def bond_graph(atoms: Atoms, *, scale: float = 1.2) -> tuple[np.ndarray, np.ndarray]:
    """Bonded pairs ``(i, j)`` with ``i < j`` (covalent radii times ``scale``) and their lengths."""
    i, j, d = neighbor_list("ijd", atoms, natural_cutoffs(atoms, mult=scale))
    keep = i < j
    return np.stack([i[keep], j[keep]], axis=1), d[keep]


def stability(
    frames: list[Atoms],
    reference_atoms: Atoms,
    *,
    bond_tolerance: float = 0.5,
    min_distance: float = 0.6,
    temperature_K: float | None = None,
    max_temperature_K: float | None = None,
    total_energy: np.ndarray | None = None,
    drift_tolerance_eV: float = 0.05,
    time_fs: np.ndarray | None = None,
) -> StabilityReport:
    """Check a trajectory against the criteria in the module docstring; report the first failure.

    Parameters
    ----------
    frames
        The trajectory (e.g. ``MDResult.frames``).
    reference_atoms
        The structure whose bond graph and bond lengths define "intact".
    temperature_K, max_temperature_K
        The thermostat temperature (for the default ceiling of five times it) or the ceiling itself.
    total_energy
        Total energies per frame of an NVE run, to check the drift.
    time_fs
        Times per frame, to report the failure time.
    """
    if not frames:
        raise ValueError("stability needs at least one frame")
    ref_numbers = reference_atoms.get_atomic_numbers()
    pairs, ref_len = bond_graph(reference_atoms)
    if len(pairs) == 0 and len(reference_atoms) > 1:
        raise ValueError("the reference structure has no bonds; is it a sensible molecule (Angstrom units)?")
    ceiling = max_temperature_K if max_temperature_K is not None else (
        5.0 * temperature_K if temperature_K else 3000.0)
    n = len(reference_atoms)
    iu = np.triu_indices(n, 1)
    e0 = None if total_energy is None else float(total_energy[0])
    for k, frame in enumerate(frames):
        if not np.array_equal(frame.get_atomic_numbers(), ref_numbers):
            raise ValueError(f"frame {k} does not have the reference's atoms in the same order")
        pos = frame.get_positions()
        lengths = np.linalg.norm(pos[pairs[:, 0]] - pos[pairs[:, 1]], axis=1)
        dev = np.abs(lengths - ref_len)
        reason, details = None, {}
        if len(dev) and dev.max() > bond_tolerance:
            b = int(dev.argmax())
            reason = "bond"
            details = {"pair": tuple(int(x) for x in pairs[b]), "length": float(lengths[b]),
                       "reference_length": float(ref_len[b])}
        else:
            dist = np.linalg.norm(pos[:, None] - pos[None], axis=-1)[iu]
            if len(dist) and dist.min() < min_distance:
                m = int(dist.argmin())
                reason, details = "collapse", {"pair": (int(iu[0][m]), int(iu[1][m])), "distance": float(dist[m])}
            elif frame.get_momenta().any() and frame.get_temperature() > ceiling:
                reason, details = "temperature", {"temperature_K": float(frame.get_temperature()), "ceiling_K": ceiling}
            elif e0 is not None and abs(total_energy[k] - e0) / n > drift_tolerance_eV:
                reason, details = "drift", {"drift_eV_per_atom": float(abs(total_energy[k] - e0) / n)}
        if reason:
            t = None if time_fs is None else float(time_fs[k])
            return StabilityReport(False, k, t, reason, details)
    return StabilityReport(True)
