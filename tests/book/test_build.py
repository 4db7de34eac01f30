"""Building the book is part of the test suite: warnings and failing cells fail it."""

from __future__ import annotations

import re
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


@pytest.fixture(scope="module")
def built() -> Path:
    """Build the book once for this module; the HTML folder."""
    result = build(ROOT)
    log = result.stdout[-6000:] + result.stderr[-6000:]
    assert result.returncode == 0, f"jupyter-book build failed:\n{log}"
    return ROOT / "_build" / "html"


@pytest.mark.book
def test_book_builds_with_warnings_as_errors(built):
    html = built
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


@pytest.mark.book
def test_built_chapters_show_self_checks_and_solutions_as_toggles(built):
    """Every self-check and solution admonition is a togglebutton dropdown and every solution cell a hidden
    cell (a toggle) in the HTML of every chapter; the build executed them (a failing cell fails it)."""
    from test_teaching import CHAPTERS, teaching_parts

    for chapter in CHAPTERS:
        page = (built / "book" / chapter.with_suffix(".html").name).read_text()
        parts = teaching_parts(chapter)
        assert "togglebutton" in page, f"{chapter.name}: the toggle script is missing"
        assert page.count('<div class="dropdown self-check admonition">') == len(parts["self_checks"]), chapter.name
        assert page.count('<div class="dropdown solution admonition">') == len(parts["solutions"]), chapter.name
        cells = [c for c in re.findall(r'<div class="cell ([^"]*)"', page) if "tag_solution" in c.split()]
        assert len(cells) == len(parts["code"]) and all("tag_hide-cell" in c.split() for c in cells), chapter.name
        assert page.count('<details class="admonition hide above-input">') >= len(parts["code"]), chapter.name


def table_rows(page: str) -> list[list[str]]:
    """The cells of every HTML table row as text."""
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", page, re.S)
    return [[re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", r, re.S)] for r in rows]


@pytest.mark.book
def test_workshop_page_lists_every_chapter_with_its_execution_time(built):
    from test_teaching import CHAPTERS

    page = (built / "book" / "workshop.html").read_text()
    rows = {r[0]: r for r in table_rows(page) if r}
    header = rows["Document"]
    column = header.index("Run Time (s)")
    for chapter in CHAPTERS:
        row = rows.get(f"book/{chapter.stem}")
        assert row, f"{chapter.stem} is missing from the execution table"
        assert float(row[column]) > 0, f"{chapter.stem}: no measured run time"
    assert "Half-day plan" in page and "Full-day plan" in page and "claims_ledger.html" in page


@pytest.mark.book
@pytest.mark.parametrize("page", ["03_relevance_theory.html", "04_elements.html"])
def test_relevance_views_come_with_a_static_fallback(built, page):
    """Chapters 03 and 04 show an interactive py3Dmol relevance view, and before it the same pairs as a
    static matplotlib figure, which the HTML always shows (no JavaScript or network needed)."""
    text = (built / "book" / page).read_text()
    viewer = text.find('<div id="3dmolviewer_')
    assert viewer > 0, f"{page}: no py3Dmol view"
    assert "addCylinder" in text[viewer:], f"{page}: the view draws no relevance cylinders"
    figure = text.rfind('<img alt="../_images/', 0, viewer)
    assert figure > 0 and viewer - figure < 20_000, f"{page}: no static figure right before the view"
