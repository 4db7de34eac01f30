"""``python -m xailib study orbitals|dimers``: registered, and a dimer separation within the cutoff is a usage error."""

from __future__ import annotations

import pytest

from xailib.cli import main


def test_subcommands_are_registered(capsys):
    for name in ("orbitals", "dimers"):
        with pytest.raises(SystemExit) as exit_:
            main(["study", name, "--help"])
        assert exit_.value.code == 0
        assert "data/orbitals/" in capsys.readouterr().out


def test_separation_within_the_cutoff_is_refused_before_work(tmp_path, capsys):
    out = tmp_path / "dimers.npz"
    assert main(["study", "dimers", "--separation", "4", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "within the model's 5.0 Angstrom cutoff" in err[0]
    assert not out.exists()
