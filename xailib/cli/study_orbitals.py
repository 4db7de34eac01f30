"""Study subcommands of chapter 05: ``study orbitals`` (frontier populations) and ``study dimers`` (far dimers).

Both use the relaxed structure (first frame) of each ``nci-small`` test molecule and write to
``data/orbitals/`` (:mod:`xailib.qm.orbitals`, :mod:`xailib.analysis.dimers`), then update the lines of
the written file in ``data/MANIFEST.sha256``.
"""

from __future__ import annotations

import argparse

from xailib.cli.checks import positive_float, positive_int

#: Models of the dimer study: these and their seed replicas (``-seedN``).
DIMER_MODELS = ("nci-small-energy-schnet", "nci-small-energy-painn", "nci-small-gap-schnet", "nci-small-gap-painn")


def register(ssub: argparse._SubParsersAction) -> None:
    """Register ``study orbitals`` and ``study dimers``."""
    p = ssub.add_parser("orbitals", help="GFN2-xTB HOMO/LUMO Mulliken populations per atom of the nci-small test "
                                         "molecules (data/orbitals/nci-small-test-frontier.npz)")
    p.add_argument("--out", default=None, help="output file (default data/orbitals/nci-small-test-frontier.npz)")
    p.set_defaults(func=_orbitals)
    d = ssub.add_parser("dimers", help="non-interacting dimers of nci-small test molecules: GFN2-xTB and every seed "
                                       "of the energy and gap models (data/orbitals/nci-small-test-dimers.npz)")
    d.add_argument("--pairs", type=positive_int, default=30, help="disjoint random pairs (default 30)")
    d.add_argument("--seed", type=int, default=0, help="seed of the pairs (default 0)")
    d.add_argument("--separation", type=positive_float, default=15.0,
                   help="closest distance between the two molecules in Angstrom (default 15)")
    d.add_argument("--out", default=None, help="output file (default data/orbitals/nci-small-test-dimers.npz)")
    d.set_defaults(func=_dimers)


def _test_molecules():
    """Relaxed structure, molecule id and dataset row of each nci-small test molecule (test-split order)."""
    from xailib.analysis.test_sets import DATASET, first_frames, test_molecule_ids
    from xailib.data import frames, load_split

    ids = test_molecule_ids(DATASET)
    keep = first_frames(ids, 1)
    test, rows = frames(DATASET, split="test"), load_split(DATASET)["test_idx"]
    return [test[k] for k in keep], [ids[k] for k in keep], [int(rows[k]) for k in keep]


def _finish(path) -> int:
    from xailib.base.paths import data_dir
    from xailib.data.manifest import update_manifest

    data = data_dir()
    if path.resolve().is_relative_to(data.resolve()):
        update_manifest(data, [path])
    print(f"wrote {path} ({path.stat().st_size / 1e3:.1f} kB)")
    return 0


def _orbitals(args: argparse.Namespace) -> int:
    import os

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from xailib.qm.orbitals import frontier_table, save_frontier_table

    structures, ids, rows = _test_molecules()
    table = frontier_table(structures, ids, dataset="nci-small", split="test_idx", frame="first (relaxed)",
                           rows=rows)
    return _finish(save_frontier_table(table, args.out))


def _dimers(args: argparse.Namespace) -> int:
    import os

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch

    from xailib.analysis.dimers import check_separation, dimer_table, save_dimer_table
    from xailib.base.seed import set_seed
    from xailib.cli.checks import usage_check
    from xailib.models import load_model, replicas

    torch.set_num_threads(1)
    set_seed(0)
    models = {name: load_model(name) for base in DIMER_MODELS for name in replicas(base)}
    with usage_check():  # before any work: the molecules must not see each other through any model
        for model in models.values():
            check_separation(model, args.separation)
    structures, ids, rows = _test_molecules()
    table = dimer_table(models, structures, ids, n_pairs=args.pairs, seed=args.seed, separation=args.separation,
                        dataset="nci-small", split="test_idx", frame="first (relaxed)")
    return _finish(save_dimer_table(table, args.out))
