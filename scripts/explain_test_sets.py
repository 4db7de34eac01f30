"""Explain every shipped nci-small model on the full nci-small test split; write data/relevance/<model>.npz.

Usage (one torch thread, from the repository root)::

    OMP_NUM_THREADS=1 python scripts/explain_test_sets.py [MODEL ...] [--rule gi] [--force]

Without model names, every ``data/models/nci-small-*`` folder is explained (models whose results file
exists are skipped unless ``--force``). Relevances are exact 1-, 2- and 3-body terms plus the
higher-order remainder (:func:`xailib.lrp.nbody_relevances`) under the chosen LRP rule (default ``gi``,
gradient x input), computed by :func:`xailib.analysis.explain_dataset` (a Lightning predict loop).
The wall time and the thread count are stored in each file's metadata; the checksums of the written
files are put into ``data/MANIFEST.sha256`` (other lines are kept as they are).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DATASET = "nci-small"


def test_structures(name: str = DATASET) -> list:
    """The test split of a shipped dataset as ``ase.Atoms`` (database row order of ``test_idx``)."""
    from ase.db import connect

    from xailib.datasets import db_path, load_split

    idx = load_split(name)["test_idx"]
    with connect(str(db_path(name))) as db:
        return [db.get_atoms(id=int(i) + 1) for i in idx]


def update_manifest(data: Path, files: list[Path]) -> None:
    """Replace or append the manifest lines of ``files`` (paths under ``data``), keeping all others."""
    from xailib.manifest import MANIFEST_NAME, sha256

    path = data / MANIFEST_NAME
    rels = {f.relative_to(data).as_posix(): f for f in files}
    lines = [ln for ln in path.read_text().splitlines() if ln.strip() and ln.split(maxsplit=1)[1] not in rels]
    lines += [f"{sha256(f)}  {rel}" for rel, f in sorted(rels.items())]
    path.write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", help="model folder names under data/models (default: all nci-small-*)")
    parser.add_argument("--rule", default="gi", choices=["gi", "gamma"])
    parser.add_argument("--gamma", type=float, default=0.1)
    parser.add_argument("--force", action="store_true", help="recompute existing results")
    parser.add_argument("--models-dir", type=Path, default=None,
                        help="where the model folders are (default data/models); results always go to data/relevance")
    args = parser.parse_args(argv)

    import torch

    import xailib
    from xailib.analysis import explain_dataset, save_results
    from xailib.manifest import sha256
    from xailib.models import load_model

    torch.set_num_threads(1)
    xailib.set_seed(0)
    data = ROOT / "data"
    models_dir = args.models_dir or data / "models"
    names = args.models or sorted(p.name for p in models_dir.glob(f"{DATASET}-*") if (p / "model.pt").exists())
    structures = test_structures()
    written = []
    for name in names:
        out = data / "relevance" / f"{name}.npz"
        if out.exists() and not args.force:
            print(f"{name}: {out.relative_to(ROOT)} exists, skipped (--force to recompute)", flush=True)
            continue
        model = load_model(models_dir / name)
        start = time.perf_counter()
        results = explain_dataset(model, structures, rule=args.rule, gamma=args.gamma, progress=False)
        wall = time.perf_counter() - start
        results.meta.update(model=name, model_sha256=sha256(models_dir / name / "model.pt"), dataset=DATASET,
                            split="test_idx", wall_s=round(wall, 1), torch_threads=torch.get_num_threads())
        save_results(results, out)
        written.append(out)
        print(f"{name}: {len(results)} structures, rule {args.rule}, {wall:.0f} s "
              f"({wall / len(results):.3f} s/structure), {out.stat().st_size / 1e6:.2f} MB", flush=True)
    if written:
        update_manifest(data, written)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
