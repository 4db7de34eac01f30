"""Teaching material in every chapter: self-checks with hidden answers and a hidden solution per exercise.

The source is checked here; tests/book/test_build.py checks that the built HTML shows them as toggles and
that the solution cells ran (the build executes every cell; a failing cell fails it).
"""

from __future__ import annotations

import re
from pathlib import Path

import jupytext
import pytest

ROOT = Path(__file__).resolve().parents[2]
CHAPTERS = sorted((ROOT / "book").glob("[0-9][0-9]*_*.md"))

SELF_CHECK = re.compile(r"^:::\{admonition\} Self-check (\d+): .+\n:class: dropdown self-check$", re.M)
SOLUTION = re.compile(r"^:::\{admonition\} Solution to exercise (\d+)\n:class: dropdown solution$", re.M)


def teaching_parts(chapter: Path) -> dict:
    """Self-check numbers, exercise numbers, solution numbers and solution code cells of a chapter."""
    text = chapter.read_text()
    exercises = text.split("\n## Exercises\n", 1)[1].split("\n### Solutions\n", 1)[0]
    cells = jupytext.read(chapter).cells
    solutions_at = next(k for k, c in enumerate(cells) if c.cell_type == "markdown" and "### Solutions" in c.source)
    code = [(k, c) for k, c in enumerate(cells) if c.cell_type == "code" and "solution" in c.metadata.get("tags", [])]
    return {
        "self_checks": [int(n) for n in SELF_CHECK.findall(text)],
        "exercises": [int(n) for n in re.findall(r"^(\d+)\. ", exercises, re.M)],
        "solutions": [int(n) for n in SOLUTION.findall(text)],
        "code": code,
        "solutions_at": solutions_at,
        "order": (text.index("\n## Self-check\n"), text.index("\n## Exercises\n"), text.index("\n### Solutions\n")),
    }


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.name)
def test_chapter_has_self_checks_and_a_solution_for_every_exercise(chapter: Path):
    parts = teaching_parts(chapter)
    assert 2 <= len(parts["self_checks"]) <= 4, f"{chapter.name}: 2-4 self-check questions"
    assert parts["self_checks"] == list(range(1, len(parts["self_checks"]) + 1))
    assert parts["exercises"] == list(range(1, len(parts["exercises"]) + 1)) and parts["exercises"]
    assert parts["solutions"] == parts["exercises"], f"{chapter.name}: one solution per exercise, in order"
    self_check, exercises, solutions = parts["order"]
    assert self_check < exercises < solutions


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.name)
def test_solution_code_cells_are_hidden_and_belong_to_an_exercise(chapter: Path):
    parts = teaching_parts(chapter)
    for k, cell in parts["code"]:
        tags = cell.metadata.get("tags", [])
        assert "hide-cell" in tags, f"{chapter.name}: solution cell {k} is not hidden behind a toggle"
        assert not {"skip-execution", "raises-exception"} & set(tags), f"{chapter.name}: solution cell {k} must run"
        assert k > parts["solutions_at"], f"{chapter.name}: solution cell {k} comes before ### Solutions"
        number = re.match(r"# Solution to exercise (\d+)", cell.source)
        assert number and int(number.group(1)) in parts["exercises"], f"{chapter.name}: cell {k} names no exercise"
        assert not re.search(r"^\s*(def|class) ", cell.source, re.M), f"{chapter.name}: chapters define no functions"
