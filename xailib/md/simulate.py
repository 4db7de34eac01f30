"""Molecular dynamics of trained models through ASE, and stability monitors.

``run_md`` runs NVT (Langevin) or NVE (velocity Verlet) dynamics with any ASE calculator or a
schnetpack model (wrapped by :func:`xailib.models.calculator`); ``stability`` decides whether and when
a trajectory failed, and why.

Stability criteria (all thresholds are arguments, defaults stated here):

* **non-finite** -- a NaN or infinite value in the positions, velocities, or (frames recorded by
  :func:`run_md`) the potential energy or forces of a frame, or in the given total energies;
* **bond** -- a bond of the reference bond graph (covalent radii times 1.2, ``ase.neighborlist``)
  departs from its reference length by more than ``bond_tolerance`` = 0.5 Angstrom;
* **collapse** -- any pair of atoms closer than ``min_distance`` = 0.6 Angstrom;
* **temperature** -- the instantaneous temperature exceeds ``max_temperature_K`` (default: five
  times the thermostat temperature, or 3000 K);
* **drift** -- in NVE runs, the total energy departs from its initial value by more than
  ``drift_tolerance_eV`` = 0.05 eV per atom.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field

import numpy as np
from ase import Atoms, units
from ase.calculators.calculator import Calculator
from ase.calculators.singlepoint import SinglePointCalculator
from ase.constraints import FixCom
from ase.md.langevin import Langevin
from ase.md.velocitydistribution import Stationary, ZeroRotation, thermalize_momenta
from ase.md.verlet import VelocityVerlet
from ase.neighborlist import natural_cutoffs, neighbor_list
from tqdm.auto import tqdm

from xailib.base.errors import MalformedStructureError, XailibError
from xailib.base.structures import validate_structure

ENSEMBLES = ("nvt", "nve")


class MDSettingsError(XailibError, ValueError):
    """Invalid MD or stability settings (time step, temperature, steps, ``record_every``, ensemble, thresholds)."""


@dataclass
class MDResult:
    """Frames and energies of an MD run (eV, fs, K); arrays have one entry per recorded frame.

    Each frame carries its potential energy and forces (an ASE ``SinglePointCalculator``).
    ``stopped_early`` is True when the run ended before ``steps``; ``failure`` then says why (a non-finite
    value and where it appeared, a structure the calculator refused, or the :func:`stability` reason
    that ``stop_on_failure`` acted on).
    """

    frames: list[Atoms]
    time_fs: np.ndarray
    potential_energy: np.ndarray
    kinetic_energy: np.ndarray
    temperature_K: np.ndarray
    ensemble: str
    seed: int
    stopped_early: bool = False
    failure: str | None = None

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


def _check_positive(name: str, value, *, integer: bool = False, zero_ok: bool = False) -> None:
    kind = "non-negative" if zero_ok else "positive"
    if integer:
        whole = isinstance(value, numbers.Integral) and not isinstance(value, bool)
        if not whole or value < 0 or (value == 0 and not zero_ok):
            raise MDSettingsError(f"{name} must be a {kind} integer, got {value!r}")
        return
    x = float(value) if isinstance(value, numbers.Real) else math.nan
    if isinstance(value, bool) or not math.isfinite(x) or x < 0 or (x == 0 and not zero_ok):
        raise MDSettingsError(f"{name} must be a finite {kind} number, got {value!r}")


def _check_md_settings(steps, timestep_fs, temperature_K, ensemble, seed, friction_per_fs, record_every) -> None:
    if ensemble not in ENSEMBLES:
        raise MDSettingsError(f"ensemble must be one of {ENSEMBLES}, got {ensemble!r}")
    _check_positive("steps", steps, integer=True)
    _check_positive("record_every", record_every, integer=True)
    _check_positive("timestep_fs", timestep_fs)
    _check_positive("temperature_K", temperature_K)
    _check_positive("friction_per_fs", friction_per_fs, zero_ok=True)
    _check_positive("seed", seed, integer=True, zero_ok=True)
    if steps % record_every:
        below, above = steps - steps % record_every, steps - steps % record_every + record_every
        raise MDSettingsError(
            f"steps ({steps}) must be a multiple of record_every ({record_every}): frames are recorded at steps "
            f"0, {record_every}, {2 * record_every}, ... up to steps; use steps={above}"
            + (f" or {below}" if below else ""))


def nonfinite_values(atoms: Atoms, *, results: bool = True) -> list[str]:
    """Which of positions, velocities, energy and forces of ``atoms`` hold NaN or inf (energy and forces:
    those in its calculator's results, if any and if ``results``)."""
    bad = [name for name, values in (("positions", atoms.positions), ("velocities", atoms.get_momenta()))
           if not np.all(np.isfinite(values))]
    results = (getattr(atoms.calc, "results", None) or {}) if results else {}
    for key in ("energy", "forces"):
        if results.get(key) is not None and not np.all(np.isfinite(np.asarray(results[key], dtype=float))):
            bad.append(key)
    return bad


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
    """Run seeded MD of ``atoms`` (not modified) for ``steps`` steps and record frames.

    Velocities are drawn from a Maxwell-Boltzmann distribution at ``temperature_K`` with the seed,
    without centre-of-mass motion or rotation. ``nvt`` uses ASE's Langevin thermostat (friction
    ``friction_per_fs``, the same seed, centre of mass fixed by ``FixCom``); ``nve`` uses velocity Verlet.

    Frames are recorded at steps ``0, record_every, 2 * record_every, ..., steps`` (times
    ``step * timestep_fs``), i.e. ``steps // record_every + 1`` frames for a complete run; ``steps``
    must be a multiple of ``record_every``. Each frame carries its potential energy and forces.

    Every step is checked for non-finite values (positions, velocities, energy, forces): the first one
    ends the run, whatever ``stop_on_failure`` says (nothing after it is meaningful). The frame of that
    step is recorded as the last one (even between record steps), ``stopped_early`` is True and
    ``failure`` names the values; :func:`stability` flags that frame as ``"non-finite"``. A calculator
    that refuses a structure mid-run (``MalformedStructureError``, e.g. atoms on top of each other) ends
    the run the same way. With ``stop_on_failure`` the run also ends at the first recorded frame after
    step 0 that :func:`stability` flags.

    Raises
    ------
    MDSettingsError
        Before any step: an unknown ensemble; a NaN, infinite or non-positive ``timestep_fs`` or
        ``temperature_K``; ``steps`` or ``record_every`` not a positive integer, or ``steps`` not a
        multiple of ``record_every``; a negative or non-finite friction; a seed that is not an integer >= 0.
    MalformedStructureError, UnsupportedElementError
        Before any step: ``atoms`` is not a computable isolated molecule
        (:func:`xailib.base.structures.validate_structure`: no atoms, NaN/inf coordinates, periodic,
        overlapping atoms).
    TypeError
        ``model_or_calculator`` is neither an ASE calculator nor a schnetpack model.
    """
    _check_md_settings(steps, timestep_fs, temperature_K, ensemble, seed, friction_per_fs, record_every)
    validate_structure(atoms, method="run_md")
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

    def record(step: int, refused: bool = False) -> None:
        frame = system.copy()
        frame.calc = None
        energy = math.nan if refused else system.get_potential_energy()
        if not refused:
            frame.calc = SinglePointCalculator(frame, energy=energy, forces=system.get_forces())
        frames.append(frame)
        times.append(step * timestep_fs)
        epot.append(energy)
        ekin.append(system.get_kinetic_energy())
        temps.append(system.get_temperature())

    failure = None
    with (tqdm(total=steps, desc=f"MD {ensemble} {temperature_K:.0f} K", disable=not progress, leave=False) as bar,
          np.errstate(invalid="ignore", over="ignore")):  # a non-finite value is reported as the failure below
        try:
            for _ in dyn.irun(steps):  # yields after the start and after each step
                step = dyn.nsteps
                bad = nonfinite_values(system)
                if bad:
                    record(step)
                    failure = f"non-finite {', '.join(bad)} at step {step} ({step * timestep_fs:g} fs)"
                    break
                if step % record_every == 0:
                    record(step)
                    if step and stop_on_failure:
                        report = stability([frames[-1]], atoms, temperature_K=temperature_K)
                        if not report.stable:
                            failure = f"{report.reason} at step {step} ({step * timestep_fs:g} fs)"
                            break
                if step:
                    bar.update(1)
        except MalformedStructureError as err:  # raised by the calculator inside a step
            step = dyn.nsteps + 1
            record(step, refused=True)
            failure = f"the calculator refused the structure at step {step} ({step * timestep_fs:g} fs): {err}"
    return MDResult(frames, np.array(times), np.array(epot), np.array(ekin), np.array(temps), ensemble, seed,
                    failure is not None, failure)


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

    A frame with a NaN or infinite value (positions, velocities, the energy and forces of a frame recorded by
    :func:`run_md`, or its entry of ``total_energy``) fails with reason ``"non-finite"`` and
    ``details["values"]`` naming them.

    Raises
    ------
    MDSettingsError
        No frames; a threshold that is NaN, infinite or not positive; ``total_energy`` or ``time_fs`` of
        another length than ``frames``.
    MalformedStructureError
        The reference is not a computable isolated molecule (:func:`xailib.base.structures.validate_structure`),
        a frame is not an ``ase.Atoms``.
    ValueError
        A frame's atoms differ from the reference's; the reference has no bonds.
    """
    if not frames:
        raise MDSettingsError("stability needs at least one frame")
    for name, value in (("bond_tolerance", bond_tolerance), ("min_distance", min_distance),
                        ("drift_tolerance_eV", drift_tolerance_eV), ("temperature_K", temperature_K),
                        ("max_temperature_K", max_temperature_K)):
        if value is not None:
            _check_positive(name, value)
    for name, values in (("total_energy", total_energy), ("time_fs", time_fs)):
        if values is not None and len(values) != len(frames):
            raise MDSettingsError(f"{name} has {len(values)} entries for {len(frames)} frames")
    validate_structure(reference_atoms, method="stability")
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
        if not isinstance(frame, Atoms):
            raise MalformedStructureError(f"frame {k} is a {type(frame).__name__}, not an ase.Atoms")
        if not np.array_equal(frame.get_atomic_numbers(), ref_numbers):
            raise ValueError(f"frame {k} does not have the reference's atoms in the same order")
        # energy and forces only from run_md's recorded frames: a live calculator's results may be stale
        bad = nonfinite_values(frame, results=isinstance(frame.calc, SinglePointCalculator))
        if total_energy is not None and not np.isfinite(total_energy[k]):
            bad.append("total_energy")
        pos = frame.get_positions()
        lengths = np.linalg.norm(pos[pairs[:, 0]] - pos[pairs[:, 1]], axis=1)
        dev = np.abs(lengths - ref_len)
        reason, details = None, {}
        if bad:
            reason, details = "non-finite", {"values": bad}
        elif len(dev) and dev.max() > bond_tolerance:
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
