import subprocess
import sys

from xailib.base.info import inventory
from xailib.cli import main


def test_info_prints_versions_and_threads(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert "torch" in out and "schnetpack" in out and "cpu cores" in out


def test_help_lists_only_implemented_commands():
    out = subprocess.run([sys.executable, "-m", "xailib", "--help"], capture_output=True, text=True, check=True).stdout
    from xailib.cli import build_parser

    listed = set(build_parser()._subparsers._group_actions[0].choices)
    assert "info" in listed
    for command in listed:
        assert command in out


def test_inventory_finds_datasets_and_models(tmp_path):
    (tmp_path / "sets").mkdir()
    (tmp_path / "sets" / "a.db").write_bytes(b"")
    (tmp_path / "models" / "m1").mkdir(parents=True)
    inv = inventory(tmp_path)
    assert inv == {"datasets": ["sets/a.db"], "models": ["m1"]}
