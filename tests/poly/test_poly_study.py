"""The polynomial-envelope study: results.json save/load, summaries reproduce the committed file, CLI."""

from __future__ import annotations

import json

import pytest

from xailib import poly
from xailib.base.io import CacheFileError
from xailib.base.paths import data_dir
from xailib.cli import build_parser, main


@pytest.fixture(scope="module")
def committed():
    return poly.load_results()


def test_committed_results_load_as_they_are(committed):
    assert set(committed) >= {"relevance", "metrics", "md", "meta", "filters"}
    assert sorted(committed["relevance"]) == sorted([*poly.POLY_NCI.values(), *poly.SHIPPED_NCI.values()])
    assert committed["meta"]["window"] == list(poly.WINDOW)
    assert committed["meta"]["filter_grid"] == poly.FILTER_GRID.tolist()
    assert committed["meta"]["bins"] == poly.BINS.tolist()
    assert committed == json.loads((data_dir() / "poly" / "results.json").read_text())


def test_saver_writes_the_committed_format_byte_for_byte(committed, tmp_path):
    out = poly.save_results(committed, tmp_path / "results.json")
    assert out.read_text() == (data_dir() / "poly" / "results.json").read_text()


def test_round_trip_of_a_small_summary(tmp_path):
    doc = {"relevance": {"m": {"shares": {"2-body": 0.5}, "orders": {"2": {"profile": {"mean": [None, 1.5]}}}}},
           "metrics": {"m": {"energy_mae_meV": 1.25, "epochs": 3}}, "md": {}, "missing": ["md/m"]}
    meta = {"command": "test", "window": [2.0, 4.0]}
    path = poly.save_results(doc, tmp_path / "r.json", meta=meta)
    assert poly.load_results(path) == {**doc, "meta": meta}
    text = path.read_text()
    assert text.endswith("}\n") and text == json.dumps({**doc, "meta": meta}, indent=1, sort_keys=True) + "\n"
    with pytest.raises(ValueError, match="meta"):
        poly.save_results({"relevance": {}, "metrics": {}, "md": {}}, tmp_path / "x.json")


def test_bad_or_missing_files_name_the_command(tmp_path):
    with pytest.raises(CacheFileError, match="study poly summarise"):
        poly.load_results(tmp_path / "absent.json")
    (tmp_path / "other.json").write_text('{"a": 1}')
    with pytest.raises(CacheFileError, match="missing"):
        poly.load_results(tmp_path / "other.json")


def test_filter_metrics_and_md_summaries_reproduce_the_committed_entries(committed):
    name = poly.SHIPPED_NCI["SchNet"]
    assert poly.filter_profile(name) == committed["filters"][name]
    assert poly.metrics_summary(name) == committed["metrics"][name]
    eth = poly.SHIPPED_ETHANOL["SchNet"]
    assert poly.md_summary(data_dir() / "md" / "ethanol" / f"{eth}.npz") == committed["md"][eth]


@pytest.mark.slow
def test_relevance_summary_reproduces_the_committed_entry(committed):
    name = poly.SHIPPED_NCI["SchNet"]
    summary = poly.relevance_summary(data_dir() / "relevance" / f"{name}.npz")
    assert json.loads(json.dumps(summary)) == committed["relevance"][name]


def test_cli_parses_poly_stages(tmp_path, capsys):
    parser = build_parser()
    args = parser.parse_args(["study", "poly", "explain", "--models-dir", "DIR", "--force"])
    assert (args.stage, args.models_dir, args.force, args.names) == ("explain", "DIR", True, [])
    args = parser.parse_args(["study", "poly", "summarise", "--models-dir", "DIR", "--out", "o.json"])
    assert (args.stage, args.out) == ("summarise", "o.json")
    with pytest.raises(SystemExit):
        parser.parse_args(["study", "poly", "train"])
    capsys.readouterr()
    assert main(["study", "poly", "summarise", "some-model"]) == 2
    assert main(["study", "poly", "explain", "--models-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(line.startswith("error: ") for line in err)
