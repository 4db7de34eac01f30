"""MD runner and stability monitors, with GFN2-xTB (tblite) as the reference potential."""

from __future__ import annotations

import numpy as np
import pytest
from ase.build import molecule

from xailib.md import bond_graph, run_md, stability

tblite_ase = pytest.importorskip("tblite.ase")


def xtb():
    return tblite_ase.TBLite(method="GFN2-xTB", verbosity=0)


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
        run_md(xtb(), ethanol, steps=1, timestep_fs=0.5, temperature_K=300, ensemble="npt")
    with pytest.raises(TypeError, match="ASE calculator or a schnetpack model"):
        run_md("not a model", ethanol, steps=1, timestep_fs=0.5, temperature_K=300)
    with pytest.raises(ValueError, match="same order"):
        stability([molecule("H2O")], ethanol)
