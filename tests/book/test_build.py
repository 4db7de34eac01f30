"""Building the book is part of the test suite: warnings and failing cells fail it."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
JUPYTER_BOOK = Path(sys.executable).parent / "jupyter-book"


def build(source: Path) -> subprocess.CompletedProcess:
    cmd = [str(JUPYTER_BOOK), "build", str(source), "-W", "--keep-going"]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=source)


@pytest.mark.book
def test_book_builds_with_warnings_as_errors():
    result = build(ROOT)
    log = result.stdout[-6000:] + result.stderr[-6000:]
    assert result.returncode == 0, f"jupyter-book build failed:\n{log}"
    html = ROOT / "_build" / "html"
    assert "book/intro.html" in (html / "index.html").read_text(), "index.html does not lead to the intro"
    assert "Explaining atomistic neural networks" in (html / "book" / "intro.html").read_text()
    status = (html / "book" / "status.html").read_text()
    assert "Status of this build" in status and "torch" in status


@pytest.mark.book
def test_a_raising_cell_fails_the_build(tmp_path):
    """The configuration makes a failing cell fail the build (checked on a one-page copy)."""
    shutil.copy(ROOT / "_config.yml", tmp_path / "_config.yml")
    (tmp_path / "book").mkdir()
    (tmp_path / "book" / "references.bib").write_text((ROOT / "book" / "references.bib").read_text())
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: book/intro.md\nchapters:\n  - file: book/broken.md\n")
    (tmp_path / "book" / "intro.md").write_text("# Intro\n\nA one-page book.\n")
    header = (ROOT / "book" / "status.md").read_text().split("\n---\n")[0] + "\n---\n\n"
    (tmp_path / "book" / "broken.md").write_text(
        header + "# Broken\n\n```{code-cell} ipython3\nraise RuntimeError('deliberate failure')\n```\n"
    )
    result = build(tmp_path)
    assert result.returncode != 0, "a raising cell did not fail the build"
    assert "deliberate failure" in result.stdout + result.stderr
