"""MD runner and stability monitors, with GFN2-xTB (tblite) as the reference potential."""

from __future__ import annotations

import math

import numpy as np
import pytest
from ase import Atoms
from ase.build import molecule
from ase.calculators.calculator import Calculator, all_changes
from ase.calculators.singlepoint import SinglePointCalculator

from xailib.base.errors import MalformedStructureError, XailibError
from xailib.md import MDSettingsError, bond_graph, run_md, stability
from xailib.md.study import StudySettingsError, md_grid


def xtb():
    tblite_ase = pytest.importorskip("tblite.ase")
    return tblite_ase.TBLite(method="GFN2-xTB", verbosity=0)


class Harmonic(Calculator):
    """Atoms tied to their starting positions by springs (k eV/A^2): cheap, smooth, stable MD.

    ``bad_from``: from that call on (call 0 is step 0, call j is step j) the ``bad`` quantity is replaced
    by ``bad_value``; ``refuse_from``: from that call on the calculator raises MalformedStructureError.
    """

    implemented_properties = ["energy", "forces"]

    def __init__(self, reference, k=10.0, bad=None, bad_value=math.nan, bad_from=None, refuse_from=None):
        super().__init__()
        self.x0, self.k = reference.positions.copy(), k
        self.bad, self.bad_value, self.bad_from, self.refuse_from = bad, bad_value, bad_from, refuse_from
        self.calls = 0

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        call, self.calls = self.calls, self.calls + 1
        if self.refuse_from is not None and call >= self.refuse_from:
            raise MalformedStructureError("two atoms are 0.100 Ang apart (< 0.4 Ang): overlapping atoms")
        d = self.atoms.positions - self.x0
        energy, forces = 0.5 * self.k * float((d ** 2).sum()), -self.k * d
        if self.bad_from is not None and call >= self.bad_from:
            if self.bad == "energy":
                energy = self.bad_value
            else:
                forces = forces.copy()
                forces[1] = self.bad_value
        self.results = {"energy": energy, "forces": forces}


class Forbidden(Calculator):
    implemented_properties = ["energy", "forces"]

    def calculate(self, *args, **kwargs):
        raise AssertionError("the calculator was called before the settings were checked")


@pytest.fixture(scope="module")
def ethanol():
    return molecule("CH3CH2OH")


@pytest.fixture(scope="module")
def xtb_run(ethanol):
    return run_md(xtb(), ethanol, steps=200, timestep_fs=0.5, temperature_K=500, ensemble="nvt", seed=3,
                  record_every=10, progress=False)


def test_xtb_reference_trajectory_is_stable(xtb_run, ethanol):
    assert len(xtb_run.frames) == 21
    np.testing.assert_allclose(xtb_run.time_fs, np.arange(21) * 5.0)
    report = stability(xtb_run.frames, ethanol, temperature_K=500, time_fs=xtb_run.time_fs)
    assert report.stable, report
    assert 0 < xtb_run.temperature_K[1:].mean() < 1500


def test_exploding_trajectory_is_flagged_at_the_right_frame(ethanol):
    # uniform expansion: bonds stretch by (s - 1) * length; the 1.43 A C-O bond passes 0.5 A at s > 1.35
    frames = []
    for s in np.linspace(1.0, 2.0, 21):
        f = ethanol.copy()
        f.positions = ethanol.positions * s
        frames.append(f)
    report = stability(frames, ethanol, time_fs=np.arange(21) * 1.0)
    assert not report.stable and report.reason == "bond"
    pairs, lengths = bond_graph(ethanol)
    first = next(k for k, s in enumerate(np.linspace(1.0, 2.0, 21)) if ((s - 1) * lengths).max() > 0.5)
    assert report.failure_frame == first
    assert report.failure_time_fs == float(first)


def test_collapse_and_temperature_are_flagged(ethanol):
    squeezed = ethanol.copy()
    # move an H onto its own carbon's neighbour without breaking bond tolerance logic: put two H together
    h = [a.index for a in ethanol if a.symbol == "H"]
    pos = squeezed.positions
    pos[h[1]] = pos[h[0]] + [0.3, 0, 0]
    squeezed.positions = pos
    rep = stability([ethanol, squeezed], ethanol, bond_tolerance=10.0)
    assert rep.reason == "collapse" and rep.failure_frame == 1 and set(rep.details["pair"]) == {h[0], h[1]}
    hot = ethanol.copy()
    hot.set_momenta(np.full((len(hot), 3), 5.0))
    rep = stability([hot], ethanol, temperature_K=300)
    assert rep.reason == "temperature" and rep.details["temperature_K"] > 1500


def test_nve_conserves_energy_with_xtb(ethanol):
    run = run_md(xtb(), ethanol, steps=100, timestep_fs=0.25, temperature_K=300, ensemble="nve", seed=1,
                 progress=False)
    drift = np.abs(run.total_energy - run.total_energy[0]).max() / len(ethanol)
    assert drift < 2e-3, f"NVE drift {drift:.2e} eV/atom"
    assert stability(run.frames, ethanol, total_energy=run.total_energy).stable
    # a planted drift is reported as such
    fake = run.total_energy + np.linspace(0, 1.0, len(run.total_energy))
    rep = stability(run.frames, ethanol, total_energy=fake, drift_tolerance_eV=0.05)
    assert rep.reason == "drift"


def test_runs_repeat_with_the_seed_and_differ_across_seeds(ethanol):
    a = run_md(xtb(), ethanol, steps=20, timestep_fs=0.5, temperature_K=500, seed=5, progress=False)
    b = run_md(xtb(), ethanol, steps=20, timestep_fs=0.5, temperature_K=500, seed=5, progress=False)
    c = run_md(xtb(), ethanol, steps=20, timestep_fs=0.5, temperature_K=500, seed=6, progress=False)
    np.testing.assert_array_equal(a.frames[-1].positions, b.frames[-1].positions)
    assert not np.allclose(a.frames[-1].positions, c.frames[-1].positions)
    assert ethanol.calc is None  # the input structure is not modified


def test_bad_input_is_rejected(ethanol):
    with pytest.raises(ValueError, match="ensemble"):
        run_md(Forbidden(), ethanol, steps=1, timestep_fs=0.5, temperature_K=300, ensemble="npt")
    with pytest.raises(TypeError, match="ASE calculator or a schnetpack model"):
        run_md("not a model", ethanol, steps=1, timestep_fs=0.5, temperature_K=300)
    with pytest.raises(ValueError, match="same order"):
        stability([molecule("H2O")], ethanol)


# --- issue 18: invalid settings and structures are errors before any step ---

GOOD = dict(steps=4, timestep_fs=0.5, temperature_K=300.0)
BAD_SETTINGS = {
    "timestep nan": dict(timestep_fs=math.nan),
    "timestep inf": dict(timestep_fs=math.inf),
    "timestep 0": dict(timestep_fs=0.0),
    "timestep negative": dict(timestep_fs=-0.5),
    "timestep a string": dict(timestep_fs="0.5"),
    "temperature nan": dict(temperature_K=math.nan),
    "temperature inf": dict(temperature_K=math.inf),
    "temperature 0": dict(temperature_K=0.0),
    "temperature negative": dict(temperature_K=-300.0),
    "steps 0": dict(steps=0),
    "steps negative": dict(steps=-4),
    "steps float": dict(steps=4.0),
    "steps bool": dict(steps=True),
    "steps nan": dict(steps=math.nan),
    "record_every 0": dict(record_every=0),
    "record_every float": dict(record_every=1.5),
    "record_every > steps": dict(steps=5, record_every=10),
    "steps not a multiple of record_every": dict(steps=7, record_every=3),
    "ensemble npt": dict(ensemble="npt"),
    "ensemble upper case": dict(ensemble="NVT"),
    "friction nan": dict(friction_per_fs=math.nan),
    "friction negative": dict(friction_per_fs=-0.01),
    "seed negative": dict(seed=-1),
    "seed float": dict(seed=1.5),
}


@pytest.mark.parametrize("case", list(BAD_SETTINGS))
def test_invalid_settings_are_named_errors_before_any_step(ethanol, case):
    settings = {**GOOD, **BAD_SETTINGS[case]}
    with pytest.raises(MDSettingsError) as info:
        run_md(Forbidden(), ethanol, progress=False, **settings)
    assert isinstance(info.value, XailibError) and isinstance(info.value, ValueError)
    name = next(iter(BAD_SETTINGS[case]))
    assert name.split("_")[0] in str(info.value)


def test_steps_not_a_multiple_of_record_every_names_the_alternatives(ethanol):
    with pytest.raises(MDSettingsError, match=r"use steps=9 or 6"):
        run_md(Forbidden(), ethanol, steps=7, timestep_fs=0.5, temperature_K=300, record_every=3)
    with pytest.raises(MDSettingsError, match=r"use steps=10$"):
        run_md(Forbidden(), ethanol, steps=5, timestep_fs=0.5, temperature_K=300, record_every=10)


def _moved(atoms, index, position):
    atoms = atoms.copy()
    atoms.positions[index] = position
    return atoms


BAD_STRUCTURES = {
    "nan coordinates": lambda a: _moved(a, 1, [math.nan, 0, 0]),
    "inf coordinates": lambda a: _moved(a, 2, [0, math.inf, 0]),
    "coincident atoms": lambda a: _moved(a, 1, a.positions[0]),
    "no atoms": lambda a: Atoms(),
    "periodic": lambda a: Atoms(a.numbers, a.positions, cell=[10, 10, 10], pbc=True),
    "not an Atoms": lambda a: a.positions,
}


@pytest.mark.parametrize("case", list(BAD_STRUCTURES))
def test_invalid_start_structures_are_refused_before_any_step(ethanol, case):
    with pytest.raises(MalformedStructureError):
        run_md(Forbidden(), BAD_STRUCTURES[case](ethanol), progress=False, **GOOD)


# --- record_every: frames at steps 0, r, 2r, ..., steps; exactly `steps` steps are run ---

@pytest.mark.parametrize("ensemble", ["nvt", "nve"])
@pytest.mark.parametrize("steps, record_every, recorded", [
    (1, 1, [0, 1]), (4, 1, [0, 1, 2, 3, 4]), (6, 3, [0, 3, 6]), (5, 5, [0, 5]), (20, 10, [0, 10, 20]),
])
def test_frames_are_recorded_at_multiples_of_record_every_up_to_steps(ethanol, ensemble, steps, record_every,
                                                                       recorded):
    calc = Harmonic(ethanol)
    run = run_md(calc, ethanol, steps=steps, timestep_fs=0.5, temperature_K=300, ensemble=ensemble,
                 record_every=record_every, progress=False)
    np.testing.assert_allclose(run.time_fs, np.array(recorded) * 0.5)
    assert len(run.frames) == len(run.potential_energy) == len(run.temperature_K) == len(recorded)
    assert calc.calls == steps + 1  # one force call at the start and one per step: `steps` steps ran
    assert not run.stopped_early and run.failure is None
    # a frame carries its own energy and forces; the first is the start structure
    np.testing.assert_array_equal(run.frames[0].positions, ethanol.positions)
    for frame, energy in zip(run.frames, run.potential_energy):
        assert frame.get_potential_energy() == energy and frame.get_forces().shape == (len(ethanol), 3)
    # recording less often does not change the dynamics
    every = run_md(Harmonic(ethanol), ethanol, steps=steps, timestep_fs=0.5, temperature_K=300, ensemble=ensemble,
                   progress=False)
    np.testing.assert_array_equal(every.frames[-1].positions, run.frames[-1].positions)
    assert stability(run.frames, ethanol, temperature_K=300, time_fs=run.time_fs).stable


# --- non-finite values are failures at the step where they appear ---

NONFINITE = {
    "nan forces": ("forces", math.nan, {"forces", "velocities"}),
    "inf forces": ("forces", math.inf, {"forces", "velocities"}),
    "nan energy": ("energy", math.nan, {"energy"}),
    "inf energy": ("energy", -math.inf, {"energy"}),
}


@pytest.mark.parametrize("stop_on_failure", [True, False])
@pytest.mark.parametrize("ensemble", ["nvt", "nve"])
@pytest.mark.parametrize("case", list(NONFINITE))
def test_a_nonfinite_value_ends_the_run_at_its_step(ethanol, case, ensemble, stop_on_failure):
    quantity, value, named = NONFINITE[case]
    calc = Harmonic(ethanol, bad=quantity, bad_value=value, bad_from=7)
    run = run_md(calc, ethanol, steps=20, timestep_fs=0.5, temperature_K=300, ensemble=ensemble, record_every=5,
                 stop_on_failure=stop_on_failure, progress=False)
    np.testing.assert_allclose(run.time_fs, [0.0, 2.5, 3.5])  # steps 0, 5 and the failing step 7
    assert run.stopped_early and run.failure.startswith("non-finite") and "step 7 (3.5 fs)" in run.failure
    assert calc.calls == 8  # no step after the failure
    assert set(run.failure.removeprefix("non-finite ").split(" at ")[0].split(", ")) == named
    rep = stability(run.frames, ethanol, temperature_K=300, time_fs=run.time_fs)
    assert not rep.stable and rep.reason == "non-finite" and rep.failure_frame == 2 and rep.failure_time_fs == 3.5
    assert set(rep.details["values"]) == named


def test_nonfinite_energy_at_the_start_is_frame_0(ethanol):
    run = run_md(Harmonic(ethanol, bad="energy", bad_from=0), ethanol, progress=False, **GOOD)
    assert run.stopped_early and "step 0" in run.failure and len(run.frames) == 1
    assert stability(run.frames, ethanol).failure_frame == 0


def test_a_calculator_that_refuses_a_structure_mid_run_ends_it(ethanol):
    calc = Harmonic(ethanol, refuse_from=3)
    run = run_md(calc, ethanol, steps=10, timestep_fs=0.5, temperature_K=300, record_every=2, progress=False)
    np.testing.assert_allclose(run.time_fs, [0.0, 1.0, 1.5])
    assert run.stopped_early and "refused the structure at step 3" in run.failure
    assert math.isnan(run.potential_energy[-1])


@pytest.mark.parametrize("where", ["positions", "momenta", "energy", "forces", "total_energy"])
@pytest.mark.parametrize("value", [math.nan, math.inf])
def test_stability_calls_nonfinite_frames_unstable(ethanol, where, value):
    frames = []
    for k in range(4):
        f = ethanol.copy()
        f.set_momenta(np.full((len(f), 3), 0.01))
        f.calc = SinglePointCalculator(f, energy=-1.0, forces=np.zeros((len(f), 3)))
        frames.append(f)
    total = np.zeros(4)
    bad = frames[2]
    if where == "positions":
        bad.positions[3, 1] = value
    elif where == "momenta":
        p = bad.get_momenta()
        p[0, 0] = value
        bad.set_momenta(p)
    elif where == "energy":
        bad.calc.results["energy"] = value
    elif where == "forces":
        bad.calc.results["forces"][4, 2] = value
    else:
        total[2] = value
    rep = stability(frames, ethanol, time_fs=np.arange(4) * 10.0, total_energy=total)
    assert not rep.stable and rep.reason == "non-finite" and rep.failure_frame == 2 and rep.failure_time_fs == 20.0
    assert rep.details["values"] == [{"momenta": "velocities"}.get(where, where)]


def test_a_live_calculator_on_frames_is_not_read(ethanol):
    # only run_md's recorded (single-point) results are trusted; a live calculator may hold stale results
    f = ethanol.copy()
    f.calc = Harmonic(ethanol)
    f.calc.results = {"energy": math.nan}
    assert stability([f], ethanol).stable


@pytest.mark.parametrize("kwargs, error", [
    (dict(frames=[]), MDSettingsError),
    (dict(bond_tolerance=math.nan), MDSettingsError),
    (dict(min_distance=-0.6), MDSettingsError),
    (dict(temperature_K=math.inf), MDSettingsError),
    (dict(max_temperature_K=0.0), MDSettingsError),
    (dict(drift_tolerance_eV=math.nan), MDSettingsError),
    (dict(total_energy=np.zeros(3)), MDSettingsError),
    (dict(time_fs=np.zeros(1)), MDSettingsError),
    (dict(reference="nan"), MalformedStructureError),
    (dict(reference="periodic"), MalformedStructureError),
    (dict(frames=["not a frame", "b"]), MalformedStructureError),
])
def test_stability_refuses_invalid_settings(ethanol, kwargs, error):
    kwargs = dict(kwargs)
    frames = kwargs.pop("frames", [ethanol, ethanol])
    reference = {"nan": lambda: _moved(ethanol, 0, [math.nan, 0, 0]),
                 "periodic": lambda: Atoms(ethanol.numbers, ethanol.positions, cell=[10, 10, 10], pbc=True),
                 None: lambda: ethanol}[kwargs.pop("reference", None)]()
    with pytest.raises(error):
        stability(frames, reference, **kwargs)


# --- the MD-stability study's grid (xailib.md.study.md_grid): whole numbers of steps and record intervals ---

def test_study_grid_keeps_the_committed_settings_and_refuses_ragged_ones():
    assert md_grid(10.0, 0.5, 10.0, 250.0) == (20000, 20, 25)  # the committed runs (data/md/)
    assert md_grid(0.02, 0.5, 2.0, 10.0) == (40, 4, 5)
    for args in [(10.0, 0.5, 3.0, 250.0), (0.001, 0.5, 2.0, 10.0), (10.0, 0.5, 0.1, 250.0), (10.0, 0.5, 10.0, 1.0),
                 (math.nan, 0.5, 10.0, 250.0), (10.0, 0.0, 10.0, 250.0)]:
        with pytest.raises(StudySettingsError):
            md_grid(*args)
