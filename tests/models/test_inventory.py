"""The shipped-models inventory: the README table is reproduced from metrics.json, chapter 02's table."""

from __future__ import annotations

import json
import shutil

from xailib.base.paths import data_dir
from xailib.cli import build_parser
from xailib.models import metrics_table, shipped_models, write_models_readme
from xailib.models.inventory import readme_text


def test_readme_text_is_the_committed_readme():
    assert readme_text() == (data_dir() / "models" / "README.md").read_text()


def test_write_models_readme_lists_every_folder_with_metrics(tmp_path):
    src = data_dir() / "models"
    for name in ("md17-ethanol-schnet", "nci-small-gap-painn"):
        (tmp_path / name).mkdir()
        for f in ("metrics.json", "config.json"):
            shutil.copy(src / name / f, tmp_path / name / f)
    (tmp_path / "untrained").mkdir()
    path = write_models_readme(tmp_path)
    rows = [ln for ln in path.read_text().splitlines() if ln.startswith("| ") and not ln.startswith("| model")]
    assert [r.split(" | ")[0].removeprefix("| ") for r in rows] == ["md17-ethanol-schnet", "nci-small-gap-painn"]
    gap = json.loads((src / "nci-small-gap-painn" / "metrics.json").read_text())["gap_mae_eV"]
    assert f"| {gap:.3f} |" in rows[1]


def test_metrics_table_has_one_row_per_model():
    names = shipped_models()
    assert "md17-ethanol-schnet" in names and names == sorted(names)
    lines = metrics_table(names).splitlines()
    assert len(lines) == len(names) + 2 and lines[2].startswith(f"| `{names[0]}` |")


def test_cli_parses_models_table():
    args = build_parser().parse_args(["study", "models-table", "--models-dir", "D"])
    assert args.models_dir == "D" and callable(args.func)
