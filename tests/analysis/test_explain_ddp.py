"""explain_dataset on two processes (Lightning DDP on CPU, gloo) gives exactly the one-process results."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from lrp_models import mol, potential

from xailib.analysis import explain_dataset, load_results

HERE = Path(__file__).parent


@pytest.mark.slow
def test_two_process_ddp_equals_one_process(tmp_path):
    out = tmp_path / "ddp.npz"
    env = {"OMP_NUM_THREADS": "1", "PYTHONPATH": str(HERE.parent.parent), "PATH": "/usr/bin:/bin",
           "HOME": str(tmp_path), "MASTER_ADDR": "127.0.0.1"}
    run = subprocess.run([sys.executable, str(HERE / "ddp_explain.py"), str(out)], env=env, cwd=tmp_path,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "distributed_backend=gloo" in run.stderr + run.stdout and "All distributed processes registered" in run.stderr + run.stdout
    ddp = load_results(out)
    structures = [mol(name) for name in ("H2O", "CH3CH2OH", "CH4", "NH3", "CH3OH")]
    one = explain_dataset(potential("schnet", 3), structures, progress=False)
    assert ddp.meta["n_structures"] == 5
    for key in ("numbers", "offsets", "term_molecule", "term_atoms"):
        np.testing.assert_array_equal(getattr(ddp, key), getattr(one, key))
    for key in ("output", "total", "remainder", "bias_total", "rule_output"):
        np.testing.assert_allclose(getattr(ddp, key), getattr(one, key), rtol=1e-12, atol=1e-12)
    # stored as float32 on disk
    np.testing.assert_allclose(ddp.term_relevance, one.term_relevance.astype(np.float32), rtol=0, atol=0)
