"""MD with a shipped schnetpack model through xailib.models.calculator."""

from __future__ import annotations

import numpy as np
import pytest
from ase.db import connect

from xailib import repo_root
from xailib.md import run_md, stability

MODEL = repo_root() / "data" / "models" / "md17-ethanol-painn"
DB = repo_root() / "data" / "md17-ethanol.db"


@pytest.mark.skipif(not MODEL.exists() or not DB.exists(), reason="shipped ethanol model or data missing")
def test_shipped_model_conserves_energy_in_nve():
    from xailib.models import load_model

    model = load_model(MODEL)
    with connect(str(DB)) as db:
        atoms = db.get(1).toatoms()
    run = run_md(model, atoms, steps=200, timestep_fs=0.25, temperature_K=300, ensemble="nve", seed=0,
                 progress=False)
    drift = np.abs(run.total_energy - run.total_energy[0]).max() / len(atoms)
    # 50 fs of NVE with a smooth learned potential: total energy stays within 1 meV per atom
    assert drift < 1e-3, f"NVE drift {drift:.2e} eV/atom"
    assert run.kinetic_energy[1:].std() > 0  # the molecule actually moves
    assert stability(run.frames, atoms, total_energy=run.total_energy).stable
