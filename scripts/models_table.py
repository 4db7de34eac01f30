"""Write data/models/README.md: the shipped models with their test errors and training times.

Run after scripts/train_all.sh:  python scripts/models_table.py
Every number comes from the models' metrics.json files (written by xailib.training.train).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

HEADER = """# Shipped models

Trained by `scripts/train_all.sh` (one `configs/<name>.yaml` each, `python -m xailib train --config ...`)
on the GFN2-xTB datasets in `data/` with their fixed splits, on a shared 2-core CPU with one torch
thread. Each folder holds `model.pt` (state_dict; load with `xailib.models.load_model(folder)`),
`config.json` (model), `train_config.json` (training run), `split.npz` (indices used: the training and
validation subsets and the shipped test split), `log.csv` (Lightning CSV log) and `metrics.json`.
Errors are on the full shipped test split: energy MAE in meV per molecule, force MAE in meV/Angstrom
per component, gap MAE in eV. The best epoch (lowest validation loss) is shipped.

"""


def fmt(x: float | None, digits: int = 1) -> str:
    return "" if x is None else f"{x:.{digits}f}"


def table(models_dir: Path) -> str:
    rows = ["| model | dataset | arch | T | features | params | n_train | energy MAE (meV) | force MAE (meV/Å) "
            "| gap MAE (eV) | epochs (best) | training time (min) |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for folder in sorted(p for p in models_dir.iterdir() if (p / "metrics.json").exists()):
        m = json.loads((folder / "metrics.json").read_text())
        c = json.loads((folder / "config.json").read_text())
        rows.append(
            f"| {folder.name} | {Path(m['dataset']).stem} | {c['architecture']} | {c['n_interactions']} "
            f"| {c['n_atom_basis']} | {m['n_parameters']} | {m['n_train']} | {fmt(m.get('energy_mae_meV'))} "
            f"| {fmt(m.get('forces_mae_meV_per_A'))} | {fmt(m.get('gap_mae_eV'), 3)} "
            f"| {m['epochs']} ({m['best_epoch']}) | {fmt(m['training_wall_time_s'] / 60)} |"
        )
    return "\n".join(rows) + "\n"


def main() -> int:
    models_dir = ROOT / "data" / "models"
    text = HEADER + table(models_dir)
    (models_dir / "README.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
