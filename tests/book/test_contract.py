"""The book's contract: toc entries exist, chapters are paired, in sync, without outputs, bootstrapped."""

from __future__ import annotations

import re
from pathlib import Path

import jupytext
import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
BOOK = ROOT / "book"
CHAPTERS = sorted(BOOK.glob("[0-9][0-9]*_*.md"))  # 03b: an interlude keeps later numbers
TEMPLATE = BOOK / "_templates" / "chapter.md"


def toc_files(node) -> list[str]:
    """Every `file:` entry of a _toc.yml node, depth first."""
    found = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("file", "root"):
                found.append(value)
            else:
                found += toc_files(value)
    elif isinstance(node, list):
        for item in node:
            found += toc_files(item)
    return found


def code_sources(path: Path) -> list[str]:
    return [c.source for c in jupytext.read(path).cells if c.cell_type == "code"]


def test_toc_entries_exist_and_carry_extension():
    entries = toc_files(yaml.safe_load((ROOT / "_toc.yml").read_text()))
    assert entries, "_toc.yml lists no pages"
    for entry in entries:
        assert Path(entry).suffix in (".md", ".ipynb"), f"{entry}: write toc entries with their extension"
        assert (ROOT / entry).is_file(), f"_toc.yml lists {entry}, which does not exist"


def test_every_chapter_is_in_the_toc():
    entries = set(toc_files(yaml.safe_load((ROOT / "_toc.yml").read_text())))
    for chapter in CHAPTERS:
        assert chapter.relative_to(ROOT).as_posix() in entries, f"{chapter.name} is not listed in _toc.yml"


def test_toc_helper_finds_nested_entries():
    toc = {"root": "a.md", "parts": [{"chapters": [{"file": "b.md", "sections": [{"file": "c.md"}]}]}]}
    assert toc_files(toc) == ["a.md", "b.md", "c.md"]


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.name)
def test_chapter_is_paired_in_sync_and_without_outputs(chapter: Path):
    ipynb = chapter.with_suffix(".ipynb")
    assert ipynb.is_file(), f"{chapter.name} has no paired {ipynb.name}: run `jupytext --sync {chapter}`"
    md_cells = [(c.cell_type, c.source.strip()) for c in jupytext.read(chapter).cells]
    nb = nbformat.read(ipynb, as_version=4)
    nb_cells = [(c.cell_type, c.source.strip()) for c in nb.cells]
    assert md_cells == nb_cells, f"{ipynb.name} is out of sync with {chapter.name}: run `jupytext --sync`"
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert not cell.get("outputs"), f"{ipynb.name} carries outputs; strip them"
            assert cell.get("execution_count") is None, f"{ipynb.name} carries execution counts"


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.name)
def test_chapter_bootstraps_colab_and_imports_xailib(chapter: Path):
    template_bootstrap = code_sources(TEMPLATE)[0]
    cells = jupytext.read(chapter).cells
    first_code = next(c for c in cells if c.cell_type == "code")
    assert first_code.source == template_bootstrap, f"{chapter.name}: first code cell must be the template's bootstrap"
    assert "remove-cell" in first_code.metadata.get("tags", []), f"{chapter.name}: bootstrap cell must be hidden"
    code = "\n".join(code_sources(chapter))
    assert re.search(r"^\s*(import xailib|from xailib)", code, re.M), f"{chapter.name} does not import xailib"
    assert "set_seed(" in code, f"{chapter.name} does not call xailib.set_seed"
    headings = re.findall(r"^## (\w+)", chapter.read_text(), re.M)
    for section in ("Theory", "Practice", "Discussion", "Exercises"):
        assert section in headings, f"{chapter.name} lacks a '## {section}' section"


def test_bootstrap_points_at_the_configured_repository():
    url = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]
    bootstrap = code_sources(TEMPLATE)[0]
    assert f'os.environ.get("XAILIB_REPO_URL", "{url}")' in bootstrap, \
        "the template's REPO_URL differs from _config.yml repository.url"


def test_config_matches_design():
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert config["execute"]["execute_notebooks"] == "cache"
    assert 0 < config["execute"]["timeout"] <= 900
    assert config["only_build_toc_files"] is True
    assert config["sphinx"]["config"]["nb_execution_raise_on_error"] is True
    assert config["repository"]["branch"] == "main"
    assert config["launch_buttons"]["binderhub_url"] and config["launch_buttons"]["colab_url"]
    for bib in config["bibtex_bibfiles"]:
        assert (ROOT / bib).is_file()


def test_bibliography_has_the_required_entries():
    bib = (BOOK / "references.bib").read_text()
    keys = set(re.findall(r"@\w+\{([^,]+),", bib))
    required = {
        "esders2025analyzing", "kjeldal2024transferability", "schutt2018schnet", "schutt2021painn",
        "schutt2023schnetpack", "bach2015lrp", "schnake2022gnnlrp", "bannwarth2019gfn2", "sun2020pyscf",
        "chen2016xgboost", "knizia2013iao", "mulliken1955population",
    }
    assert required <= keys, f"missing bibliography entries: {sorted(required - keys)}"
    assert "2410.13833" in bib and "2409.17575" in bib


def test_environment_yml_describes_the_locked_stack():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    pinned = {line.split("==")[0].lower(): line for line in pip_section if "==" in line}
    lock = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==")
            lock[name.lower()] = version.split("+")[0]
    for name in ("torch", "jupyter-book", "myst-nb", "ase", "rdkit", "tblite", "pyscf", "xgboost",
                 "scikit-learn", "pytorch-lightning", "py3dmol", "matplotlib"):
        assert name in pinned, f"environment.yml does not pin {name}"
        assert pinned[name].split("==")[1] == lock[name], f"environment.yml pins {pinned[name]}, lock has {lock[name]}"
    assert any("schnetpack==2.2.0" in line for line in pip_section)
