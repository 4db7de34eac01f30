"""The claims ledger (book/claims_ledger.md): every required claim has a row, verdicts come from the four
allowed ones, and every pasted number names an existing chapter and a key that chapter glues.

The glue check is static (it reads the chapters' code cells); the book build with -W is the final check.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import jupytext
import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
BOOK = ROOT / "book"
LEDGER = BOOK / "claims_ledger.md"
TEMPLATE = BOOK / "_templates" / "chapter.md"

VERDICTS = ("reproduced", "partly", "not reproduced", "not testable here")
STUDIES = ("Esders et al.", "Kjeldal and Eriksen")
COLUMNS = ["claim", "study", "chapter", "verdict", "numbers behind it", "evidence scope"]
# the claims the ledger must cover: topic -> (chapter that tests it, pattern the claim text must match)
REQUIRED = {
    "element-pair interaction strengths": ("04_elements", r"pair of elements"),
    "intensive vs extensive assembly": ("05_intensive_extensive", r"intensive.*extensive|extensive.*intensive"),
    "polynomial decay of interactions": ("06_decay_manybody", r"polynomial"),
    "many-body order vs distance": ("06_decay_manybody", r"many-body.*distance"),
    "MD instability despite accuracy": ("07_md_stability", r"test error.*dynamics"),
    "architecture suggestion": ("10_improving_architectures", r"architecture"),
    "adversarial-validation shift": ("08_adversarial_validation", r"adversarial validation.*distribution"),
    "atomic-energy targets and transfer": ("09_transferability", r"atomic energies.*transfer"),
    "AO vs MO partitioning": ("09_transferability", r"\bAO\b.*\bMO\b"),
}
# a cross-document paste: {glue:text}`NN_slug.ipynb::key:format` (the format spec is required: without it
# myst-nb splits `doc::key` at the wrong colon)
GLUE_ROLE = re.compile(r"\{glue(?::(?P<role>\w+))?\}`(?P<body>[^`]*)`")
CROSS_REF = re.compile(r"^(?P<doc>[0-9][0-9]\w*?_\w+)\.(?:ipynb|md)::(?P<key>[^:\s]+):(?P<fmt>[^:\s]+)$")
VERDICT_REF = re.compile(r"^\{glue:text\}`(?P<doc>[0-9][0-9]\w*?_\w+)\.(?:ipynb|md)::(?P<key>ledger_verdict_\w+):s`$")
# {doc}`NN_slug` or {doc}`short title <NN_slug>`
DOC_LINK = re.compile(r"^\{doc\}`(?:[^`<]+ <(?P<doc>[0-9][0-9]\w*?_\w+)>|(?P<bare>[0-9][0-9]\w*?_\w+))`$")
GLUE_CALL = re.compile(r"\bglue\(\s*(?P<f>f?)(?P<q>[\"'])(?P<key>.*?)(?P=q)", re.S)


def table_rows(text: str) -> list[dict[str, str]]:
    """The rows of every ledger table on the page, as dicts keyed by COLUMNS."""
    rows = []
    for line in text.splitlines():
        if not line.startswith("|"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells[0] == "claim" or set("".join(cells)) <= set("-: "):
            continue  # header or separator
        assert len(cells) == len(COLUMNS), f"ledger row with {len(cells)} cells, expected {len(COLUMNS)}: {line[:80]}"
        rows.append(dict(zip(COLUMNS, cells)))
    return rows


def key_pattern(template: str, is_fstring: bool) -> re.Pattern:
    """The keys a glue call can produce: a literal, or an f-string with each {...} standing for one key piece.

    Conservative: where the template starts with a placeholder (f"{tag}_auc"), a placeholder matches no
    underscore, so that such a template does not claim every key with enough underscores.
    """
    if not is_fstring:
        return re.compile(re.escape(template))
    parts = re.split(r"\{[^{}]*\}", template)
    piece = r"[^\s:`]+" if parts[0] else r"[^\s:`_]+"
    return re.compile(piece.join(re.escape(p) for p in parts))


def literal_prefix(template: str, is_fstring: bool) -> str:
    return re.split(r"\{", template, maxsplit=1)[0] if is_fstring else template


@lru_cache(maxsize=None)
def glued_keys(doc: str) -> tuple[list[tuple[str, re.Pattern]], dict[str, list[str]]]:
    """(literal prefix, pattern) of every key a chapter's code cells glue, and the string literals glued
    under literal keys."""
    cells = [c.source for c in jupytext.read(BOOK / f"{doc}.md").cells if c.cell_type == "code"]
    code = "\n".join(cells)
    patterns, literals = [], {}
    for m in GLUE_CALL.finditer(code):
        patterns.append((literal_prefix(m["key"], bool(m["f"])), key_pattern(m["key"], bool(m["f"]))))
        value = re.match(r"\s*,\s*([\"'])(.*?)\1\s*[,)]", code[m.end():])
        if not m["f"] and value:
            literals.setdefault(m["key"], []).append(value[2])
    return patterns, literals


def chapter_glues(doc: str, key: str) -> bool:
    """Whether a chapter's source glues `key`. Keys made for this page start with `ledger_`, and only a
    glue call whose key is written with that literal prefix counts for them."""
    return any(pattern.fullmatch(key) for prefix, pattern in glued_keys(doc)[0]
               if prefix.startswith("ledger_") or not key.startswith("ledger_"))


def chapter_of(row: dict[str, str]) -> str | None:
    """The chapter (NN_slug) a row's {doc} link points to, or None."""
    m = DOC_LINK.match(row["chapter"])
    return (m["doc"] or m["bare"]) if m else None


def toc_files(node) -> list[str]:
    found = []
    if isinstance(node, dict):
        for k, v in node.items():
            found += [v] if k in ("file", "root") else toc_files(v)
    elif isinstance(node, list):
        for item in node:
            found += toc_files(item)
    return found


ROWS = table_rows(LEDGER.read_text()) if LEDGER.is_file() else []
REFS = sorted({(m["role"], m["body"]) for m in GLUE_ROLE.finditer(LEDGER.read_text())}) if LEDGER.is_file() else []
CROSS = sorted({(c["doc"], c["key"]) for _, body in REFS if (c := CROSS_REF.match(body))})


def test_ledger_exists_and_has_rows():
    assert LEDGER.is_file(), "book/claims_ledger.md is missing"
    assert len(ROWS) >= len(REQUIRED), f"the ledger has {len(ROWS)} rows, fewer than the {len(REQUIRED)} required claims"


@pytest.mark.parametrize("topic", REQUIRED)
def test_required_claim_has_a_row(topic: str):
    doc, pattern = REQUIRED[topic]
    rows = [r for r in ROWS if chapter_of(r) == doc]
    assert any(re.search(pattern, r["claim"], re.I | re.S) for r in rows), (
        f"no ledger row for '{topic}': expected a claim matching /{pattern}/ with chapter {{doc}}`{doc}`")


def test_rows_are_well_formed():
    for r in ROWS:
        name = r["claim"][:50]
        assert r["study"] in STUDIES, f"{name}: study must be one of {STUDIES}, got {r['study']!r}"
        doc = chapter_of(r)
        assert doc, f"{name}: the chapter cell must be a {{doc}} link to one chapter, got {r['chapter']!r}"
        assert (BOOK / f"{doc}.md").is_file(), f"{name}: chapter {doc} does not exist"
        assert GLUE_ROLE.search(r["numbers behind it"]), f"{name}: no pasted number behind the verdict"
        assert r["evidence scope"], f"{name}: the evidence scope is empty"
    assert {r["study"] for r in ROWS} == set(STUDIES), "the ledger must cover both studies"


def test_every_verdict_is_allowed():
    for r in ROWS:
        verdict = r["verdict"].strip("*_ ")
        if verdict in VERDICTS:
            continue
        m = VERDICT_REF.match(r["verdict"])
        assert m, (f"{r['claim'][:50]}: verdict {r['verdict']!r} is neither one of {VERDICTS} nor a pasted "
                   "{glue:text}`NN_slug.ipynb::ledger_verdict_...:s`")
        assert m["doc"] == chapter_of(r), "a pasted verdict must come from the row's chapter"
        if (BOOK / f"{m['doc']}.md").is_file():  # where the chapter glues a literal verdict, it must be allowed
            for value in glued_keys(m["doc"])[1].get(m["key"], []):
                assert value in VERDICTS, f"{m['doc']} glues {m['key']} = {value!r}, not one of {VERDICTS}"


def test_glue_references_are_cross_document_with_a_format():
    assert REFS, "the ledger pastes no numbers"
    for role, body in REFS:
        assert role == "text", f"use {{glue:text}} for pasted numbers (cross-document), not {{glue:{role}}}: {body}"
        m = CROSS_REF.match(body)
        assert m, f"{body!r}: write NN_slug.ipynb::key:format (the page glues nothing itself; format is required)"
        fmt = m["fmt"]
        sample = {"s": "x"}.get(fmt[-1], 1 if fmt[-1] in "bcdoxX" else 1.0)
        format(sample, fmt)  # raises on an invalid format spec


@pytest.mark.parametrize("doc, key", CROSS, ids=[f"{d}::{k}" for d, k in CROSS])
def test_glue_reference_resolves(doc: str, key: str):
    assert (BOOK / f"{doc}.md").is_file(), f"the ledger pastes from {doc}, which is not a chapter in book/"
    assert chapter_glues(doc, key), f"book/{doc}.md does not glue {key!r}, which the claims ledger pastes"


def test_ledger_is_in_the_toc_after_the_chapters():
    entries = toc_files(yaml.safe_load((ROOT / "_toc.yml").read_text()))
    assert "book/claims_ledger.md" in entries, "book/claims_ledger.md is not listed in _toc.yml"
    chapters = [i for i, e in enumerate(entries) if re.match(r"book/[0-9][0-9]", e)]
    assert entries.index("book/claims_ledger.md") > max(chapters), "list the ledger after the last chapter"


def test_ledger_is_paired_without_outputs_and_bootstrapped():
    nb = nbformat.read(LEDGER.with_suffix(".ipynb"), as_version=4)
    md_cells = [(c.cell_type, c.source.strip()) for c in jupytext.read(LEDGER).cells]
    assert md_cells == [(c.cell_type, c.source.strip()) for c in nb.cells], "run `jupytext --sync book/claims_ledger.md`"
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), "claims_ledger.ipynb carries outputs"
    first = next(c for c in jupytext.read(LEDGER).cells if c.cell_type == "code")
    template = next(c for c in jupytext.read(TEMPLATE).cells if c.cell_type == "code")
    assert first.source == template.source and "remove-cell" in first.metadata.get("tags", [])


def test_parser_helpers():
    assert key_pattern("top3_{arch}_{rule}", True).fullmatch("top3_SchNet_gi")
    assert not key_pattern("top3_{arch}_{rule}", True).fullmatch("top4_SchNet_gi")
    assert key_pattern("ka_n0_{p}_{a}", True).fullmatch("ka_n0_pair_power_schnet")
    assert not key_pattern("n_mol", False).fullmatch("n_mols")
    assert key_pattern("{tag}_ctrl_auc", True).fullmatch("mol_ctrl_auc")
    assert not key_pattern("{k}_{arch}_{kind}", True).fullmatch("ledger_drift_SchNet_poly")
    assert CROSS_REF.match("04_elements.ipynb::top3_SchNet_gi:s")["key"] == "top3_SchNet_gi"
    assert CROSS_REF.match("03b_known_answers.md::ka_n0_pair_power_schnet:.1f")["doc"] == "03b_known_answers"
    assert not CROSS_REF.match("04_elements.ipynb::top3_SchNet_gi"), "a reference without a format must be flagged"
    row = "| **X.** a claim | Esders et al. | {doc}`04 Pairs <04_elements>` | partly | {glue:text}`04_elements.ipynb::n:d` | s |"
    parsed = table_rows(f"| {' | '.join(COLUMNS)} |\n|---|---|---|---|---|---|\n{row}\n")[0]
    assert parsed["verdict"] == "partly" and chapter_of(parsed) == "04_elements"
    assert chapter_of({"chapter": "{doc}`04_elements`"}) == "04_elements"
