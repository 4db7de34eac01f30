"""The Colab path, end to end: a fresh environment, the chapter's own bootstrap cell, one chapter executed.

Colab gives a Python with the scientific stack preinstalled and nothing of this repository. The test
builds that situation: a fresh virtual environment (no xailib, no repository) that sees this
environment's third-party packages through a ``.pth`` file (standing in for Colab's preinstalled
packages), and an empty working folder holding only the chapter notebook. Executing the notebook with
nbclient in that environment runs the bootstrap cell exactly as on Colab (``XAILIB_BOOTSTRAP=1``), with
the repository URL pointed at this repository by ``XAILIB_REPO_URL`` and the clone placed by
``XAILIB_HOME``: it clones the repository, installs ``xailib`` with pip and runs the chapter from the clone.
Then Binder's ``postBuild`` runs in the clone with the same environment's pip.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHAPTER = ROOT / "book" / "01_data.ipynb"

RUN = """
import sys
import nbformat
from nbclient import NotebookClient

nb = nbformat.read(sys.argv[1], as_version=4)
NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": sys.argv[2]}}).execute()
nbformat.write(nb, sys.argv[1])
"""


def _fresh_env(tmp: Path) -> Path:
    """A virtual environment without xailib that sees this environment's third-party packages."""
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    ours = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (Path(site) / "colab_preinstalled.pth").write_text("\n".join(sorted(ours)) + "\n")
    shim = venv / "bin" / "pip"  # Colab and Binder have a pip command; this environment's pip runs it
    shim.write_text(f'#!/bin/sh\nexec "{python}" -m pip "$@"\n')
    shim.chmod(0o755)
    return venv


@pytest.mark.slow
def test_bootstrap_cell_clones_installs_and_runs_a_chapter_in_a_fresh_environment(tmp_path):
    venv = _fresh_env(tmp_path)
    python = venv / "bin" / "python"
    home = tmp_path / "xailib-book"
    env = {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "HOME": str(tmp_path), "OMP_NUM_THREADS": "1",
           "MPLBACKEND": "Agg", "XAILIB_BOOTSTRAP": "1", "XAILIB_REPO_URL": ROOT.as_uri(), "XAILIB_HOME": str(home)}
    before = subprocess.run([str(python), "-c", "import xailib"], env=env, capture_output=True, text=True,
                            cwd=tmp_path)
    assert before.returncode != 0, "the fresh environment must not see xailib before the bootstrap"

    work = tmp_path / "content"
    work.mkdir()
    notebook = work / CHAPTER.name
    notebook.write_text(CHAPTER.read_text())
    run = subprocess.run([str(python), "-c", RUN, str(notebook), str(work)], env=env, capture_output=True,
                         text=True, timeout=1200, cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-4000:]

    assert (home / "data" / "nci-small.db").exists() and (home / "xailib" / "__init__.py").exists()
    where = subprocess.run([str(python), "-c", "import xailib; print(xailib.__file__)"], env=env,
                           capture_output=True, text=True, check=True, cwd=tmp_path).stdout.strip()
    assert Path(where).resolve() == (home / "xailib" / "__init__.py").resolve(), where

    import nbformat

    executed = nbformat.read(notebook, as_version=4)
    code = [c for c in executed.cells if c.cell_type == "code"]
    assert code and all(c.get("execution_count") for c in code), "every code cell ran"
    assert not any(o.get("output_type") == "error" for c in code for o in c.get("outputs", []))

    post = subprocess.run(["bash", str(ROOT / "postBuild")], env=env, cwd=home, capture_output=True, text=True,
                          timeout=600)
    assert post.returncode == 0, post.stderr[-3000:]
    assert "xailib" in subprocess.run([str(python), "-m", "pip", "show", "xailib"], env=env, capture_output=True,
                                      text=True, check=True, cwd=tmp_path).stdout
