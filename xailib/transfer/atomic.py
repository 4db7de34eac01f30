"""Transferability data: HF atomic-energy training sets, per-element and per-functional-group errors.

The committed partition results (``data/partition/<dataset>-<method>-<basis>.npz``, written by
:func:`xailib.transfer.partition_dataset`, read by :func:`xailib.transfer.load_partition`) hold, for the relaxed structure of each molecule, the per-atom
energies of the AO and MO schemes relative to free atoms. :func:`build_transfer_db` turns one of them
into a schnetpack ``ASEAtomsData`` database (a build artifact under ``data/transfer/build/``, never
committed) with

* ``energy``: the SCF energy minus the free-atom energies (the sum of either scheme's relative
  atomic energies; both schemes give the same sum), eV;
* ``atomic_energies_ao``, ``atomic_energies_mo``: the relative atomic energies of each scheme, eV;
* ``atomic_energies_xtb``: GFN2-xTB atom-resolved energies of the same structure minus the xTB
  free-atom energies (a third scheme, for comparison), eV;

and a split file that keeps each molecule on the side of the parent dataset's split (train, val or
test molecules of ``nci-small.split.npz``); a target set without a split puts every molecule in
``test_idx``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from xailib.data.manifest import sha256
from xailib.data.store import write_split
from xailib.transfer.partition_runs import load_partition, partition_path

__all__ = ["SCHEME_KEYS", "FUNCTIONAL_GROUPS", "MODEL_NAMES", "build_transfer_db", "transfer_db",
           "reference_table", "predict", "functional_groups", "mean_abs_by", "trained_scheme", "error_tables",
           "hydrogen_energies"]

#: database key of each scheme's relative atomic energies
SCHEME_KEYS = {"ao": "atomic_energies_ao", "mo": "atomic_energies_mo", "xtb": "atomic_energies_xtb"}

#: the six models of configs/transfer/ (architecture x training target)
MODEL_NAMES = [f"transfer-{a}-{t}" for a in ("schnet", "painn") for t in ("total", "ao", "mo")]

#: SMARTS on the heavy-atom graph; a group's atoms are the matched heavy atoms and their hydrogens.
FUNCTIONAL_GROUPS = {
    "carboxylic acid": "[CX3](=O)[OX2H1]",
    "ester": "[#6][CX3](=O)[OX2H0][#6]",
    "amide": "[NX3][CX3]=[OX1]",
    "aldehyde/ketone": "[#6][CX3;!$(C(=O)[#7,#8,#16])]=O",
    "alcohol": "[CX4][OX2H]",
    "phenol": "c[OX2H]",
    "ether": "[#6;!$(C=O)][OX2H0][#6;!$(C=O)]",
    "amine": "[NX3;!$(N-C=[O,S,N]);!$(N-a);!$(N-[S,N,O]);!$([N+])]",
    "aromatic amine": "[NX3;!$(N-C=O)]-a",
    "nitrile": "C#N",
    "nitro": "[N+](=O)[O-]",
    "imine/oxime": "[CX3]=[NX2]",
    "alkene": "C=C",
    "aromatic ring": "a",
    "halide": "[F,Cl]",
    "sulfur (S-II)": "[SX2]",
    "sulfur (S-IV/VI)": "[SX3,SX4]",
}


def _xtb_atomrefs(dataset: str) -> np.ndarray:
    """GFN2-xTB free-atom energies (eV, indexed by Z) of a dataset's metadata."""
    from xailib.data import metadata

    refs = metadata(dataset)["atomrefs"]
    return np.asarray((json.loads(refs) if isinstance(refs, str) else refs)["energy"], dtype=float)


def _structures(dataset: str, rows) -> list:
    """The dataset's structures at ``rows`` (0-based), with their stored labels in ``atoms.info["labels"]``."""
    from xailib.data import frames

    return frames(dataset, indices=[int(r) for r in rows])


def _sha(path: Path) -> str:
    return sha256(Path(path))[:16]


def build_transfer_db(dataset: str, partition: str | Path, out: str | Path, *, with_split: bool = True) -> Path:
    """Write the training database (and ``<out>.split.npz``) of one partition file; see the module doc.

    Parameters
    ----------
    dataset
        The parent dataset (``"nci-small"``, ``"nci-large"``) whose structures were partitioned.
    partition
        Its partition ``.npz``.
    out
        Path of the database to write (replaced when it exists).
    with_split
        Map molecules to the parent's train/val/test split; otherwise every molecule is a test molecule.
    """
    from ase.db import connect
    from schnetpack.data import ASEAtomsData

    from xailib.base.paths import resolve_path
    from xailib.data import load_split

    part = load_partition(partition)
    if part["meta"].get("dataset") != dataset:
        raise ValueError(f"{partition} partitions {part['meta'].get('dataset')!r}, not {dataset!r}")
    xtb_ref = _xtb_atomrefs(dataset)
    off = part["offsets"]
    atoms_list, props = [], []
    for k, (frame, atoms) in enumerate(zip(part["frame"], _structures(dataset, part["frame"]))):
        labels = atoms.info.pop("labels")
        atoms.info.clear()  # only the structure goes into the training database
        sl = slice(off[k], off[k + 1])
        if not np.array_equal(atoms.numbers, part["numbers"][sl]):
            raise ValueError(f"frame {frame} of {dataset} does not match the partition file's atoms")
        ao, mo = part["ao_relative"][sl], part["mo_relative"][sl]
        if abs(ao.sum() - mo.sum()) > 1e-5:
            raise ValueError(f"frame {frame}: the AO and MO sums differ by {ao.sum() - mo.sum():.2e} eV")
        xtb = np.asarray(labels["atomic_energies"], dtype=float) - xtb_ref[atoms.numbers]
        atoms_list.append(atoms)
        props.append({"energy": np.array([ao.sum()]), "atomic_energies_ao": ao.astype(np.float64),
                      "atomic_energies_mo": mo.astype(np.float64), "atomic_energies_xtb": xtb})
    out = resolve_path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    for stale in (out, Path(str(out) + ".split.npz")):
        stale.unlink(missing_ok=True)
    units = {"energy": "eV", **{v: "eV" for v in SCHEME_KEYS.values()}}
    ds = ASEAtomsData.create(str(out), distance_unit="Ang", property_unit_dict=units)
    ds.add_systems(props, atoms_list)
    frames = np.asarray(part["frame"], dtype=np.int64)
    if with_split:
        parent = load_split(dataset)
        side = {int(f): name for name, idx in parent.items() for f in idx}
        split = {name: np.flatnonzero([side[int(f)] == name for f in frames]) for name in parent}
    else:
        split = {"train_idx": np.array([], int), "val_idx": np.array([], int), "test_idx": np.arange(len(frames))}
    write_split(Path(str(out) + ".split.npz"), split)
    db = connect(str(out))
    md = dict(db.metadata)
    md.update(dataset=dataset, partition=str(partition), partition_sha256=_sha(resolve_path(partition)),
              level=f"{part['meta']['method']}/{part['meta']['basis']}", frames=frames.tolist(),
              mol_id=[str(m) for m in part["mol_id"]],
              note="energy = SCF minus free atoms (eV); atomic_energies_<scheme> relative to free atoms (eV)")
    db.metadata = md
    return out


def transfer_db(dataset: str, *, partition: str | Path | None = None, directory: str | Path = "data/transfer/build",
                with_split: bool | None = None) -> Path:
    """The training database of a dataset's HF/STO-3G partition, built on first use (or when the
    partition file changed)."""
    from ase.db import connect

    from xailib.base.paths import resolve_path

    partition = partition or partition_path(dataset, "hf", "sto-3g")
    out = resolve_path(directory) / f"{dataset}-hf-sto-3g.db"
    if out.exists() and Path(str(out) + ".split.npz").exists():
        md = connect(str(out)).metadata
        if md.get("partition_sha256") == _sha(resolve_path(partition)):
            return out
    return build_transfer_db(dataset, partition, out, with_split=dataset == "nci-small" if with_split is None else with_split)


def functional_groups(smiles: str, n_atoms: int | None = None) -> dict[str, np.ndarray]:
    """Atoms (indices in the explicit-hydrogen order of the datasets) of each functional group present.

    Groups are matched by :data:`FUNCTIONAL_GROUPS` on the heavy-atom graph; each match's hydrogens
    are added. The datasets' atom order is RDKit's ``AddHs`` order of the same SMILES.
    """
    from rdkit import Chem

    mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        raise ValueError(f"RDKit cannot parse SMILES {smiles!r}")
    molh = Chem.AddHs(mol)
    if n_atoms is not None and molh.GetNumAtoms() != n_atoms:
        raise ValueError(f"{smiles!r} has {molh.GetNumAtoms()} atoms with hydrogens, the structure has {n_atoms}")
    out = {}
    for name, smarts in FUNCTIONAL_GROUPS.items():
        matches = mol.GetSubstructMatches(Chem.MolFromSmarts(smarts))
        atoms = {i for m in matches for i in m}
        atoms |= {n.GetIdx() for i in list(atoms) for n in molh.GetAtomWithIdx(i).GetNeighbors() if n.GetAtomicNum() == 1}
        if atoms:
            out[name] = np.array(sorted(atoms))
    return out


def mean_abs_by(errors: np.ndarray, labels: Sequence) -> dict[str, tuple[float, int]]:
    """Mean absolute error per label: ``{label: (mae, count)}``."""
    errors, labels = np.abs(np.asarray(errors, dtype=float)), np.asarray(labels, dtype=object)
    return {str(lab): (float(errors[labels == lab].mean()), int((labels == lab).sum())) for lab in dict.fromkeys(labels)}


def reference_table(db: str | Path) -> dict[str, np.ndarray]:
    """Per molecule ``energy``, ``mol_id``, ``frame``, ``offsets``; per atom ``numbers`` and each scheme's
    relative atomic energies (``ao``, ``mo``, ``xtb``), from a database of :func:`build_transfer_db`."""
    from ase.db import connect

    con = connect(str(db))
    md = con.metadata
    energy, numbers, per = [], [], {s: [] for s in SCHEME_KEYS}
    for row in con.select():
        energy.append(float(row.data["energy"][0]))
        numbers.append(row.numbers)
        for s, key in SCHEME_KEYS.items():
            per[s].append(np.asarray(row.data[key], dtype=float))
    return {"energy": np.array(energy), "mol_id": np.array(md["mol_id"]), "frame": np.array(md["frames"]),
            "offsets": np.r_[0, np.cumsum([len(n) for n in numbers])].astype(np.int64),
            "numbers": np.concatenate(numbers), **{s: np.concatenate(v) for s, v in per.items()}}


def predict(model, db: str | Path, indices: Sequence[int] | None = None, *, batch_size: int = 64
            ) -> tuple[np.ndarray, np.ndarray | None]:
    """Predicted energies (eV, one per structure) and per-atom energies (eV, concatenated; ``None`` when
    the model has no ``atomic_output``) for rows ``indices`` (default: all) of a database."""
    import torch
    from schnetpack.data import ASEAtomsData, AtomsLoader
    from schnetpack.transform import CastTo32, MatScipyNeighborList

    from xailib.models.build import model_config, model_cutoff

    key = getattr(model_config(model), "atomic_output", None)
    ds = ASEAtomsData(str(db), load_properties=[], transforms=[MatScipyNeighborList(cutoff=model_cutoff(model)),
                                                                CastTo32()])
    if indices is not None:
        ds = ds.subset([int(i) for i in indices])
    energy, atomic = [], []
    model.eval()
    for batch in AtomsLoader(ds, batch_size=batch_size, shuffle=False, num_workers=0):
        with torch.no_grad():
            out = model(batch)
        energy.append(out["energy"].double().numpy())
        if key is not None:
            atomic.append(out[key].double().numpy())
    return np.concatenate(energy), (np.concatenate(atomic) if key is not None else None)


def trained_scheme(model_name: str) -> str | None:
    """``"ao"`` or ``"mo"`` for a model trained on that scheme's atomic energies, ``None`` for totals only."""
    tail = model_name.rsplit("-", 1)[-1]
    return tail if tail in ("ao", "mo") else None


def error_tables(results: dict, smiles: dict[str, str] | None = None) -> dict[str, list[dict]]:
    """Transfer errors of every model on both sets, as lists of row dicts.

    ``"summary"``: per model and set, total-energy MAE (meV and meV/atom) and the MAE of its predicted
    atomic energies (meV) against each scheme. ``"element"``: per model, set and element, the
    atomic-energy MAE (meV) against the model's own scheme (MO for the total-only models, whose
    atomic energies are unconstrained). ``"group"`` (when ``smiles`` maps ``mol_id`` to SMILES): per
    functional group, set and model, the total-energy MAE per atom (meV/atom) of the molecules that
    contain the group, and the atomic-energy MAE (meV) of the group's atoms.
    """
    from ase.data import chemical_symbols

    models = list(results["meta"]["models"])
    out: dict[str, list[dict]] = {"summary": [], "element": [], "group": []}
    for tag in ("small", "large"):
        off, z = results[f"{tag}_offsets"], results[f"{tag}_numbers"]
        n_atoms = np.diff(off)
        ref_e = results[f"{tag}_energy"]
        groups = None
        if smiles is not None:
            groups = [functional_groups(smiles[str(m)], int(n)) for m, n in zip(results[f"{tag}_mol_id"], n_atoms)]
        for name in models:
            de = results[f"{tag}_{name}_energy"] - ref_e
            pa = results[f"{tag}_{name}_atomic"].astype(float)
            own = trained_scheme(name) or "mo"
            row = {"model": name, "set": tag, "n_molecules": len(ref_e), "energy_mae_meV": 1000 * np.mean(np.abs(de)),
                   "energy_mae_meV_per_atom": 1000 * np.mean(np.abs(de) / n_atoms)}
            for s in SCHEME_KEYS:
                row[f"atomic_mae_meV_{s}"] = 1000 * np.mean(np.abs(pa - results[f"{tag}_{s}"]))
            out["summary"].append(row)
            da = np.abs(pa - results[f"{tag}_{own}"])
            for el in np.unique(z):
                out["element"].append({"model": name, "set": tag, "element": chemical_symbols[el], "scheme": own,
                                       "n_atoms": int((z == el).sum()), "atomic_mae_meV": 1000 * da[z == el].mean()})
            if groups is not None:
                for g in FUNCTIONAL_GROUPS:
                    mols = np.array([k for k, gr in enumerate(groups) if g in gr], dtype=int)
                    if len(mols) == 0:
                        continue
                    atoms = np.concatenate([off[k] + groups[k][g] for k in mols])
                    out["group"].append({"group": g, "set": tag, "model": name, "n_molecules": len(mols),
                                         "n_atoms": len(atoms), "scheme": own,
                                         "energy_mae_meV_per_atom": 1000 * np.mean(np.abs(de[mols]) / n_atoms[mols]),
                                         "atomic_mae_meV": 1000 * da[atoms].mean()})
    return out


def hydrogen_energies(partition: str | Path = "nci-small") -> dict[str, np.ndarray]:
    """Every hydrogen of a partition file (a path, or a dataset name: its HF/STO-3G file, see
    :func:`~xailib.transfer.load_partition`) with its bonding partner and its relative atomic energy in
    each scheme (``ao``, ``mo``; ``xtb``: GFN2-xTB atom-resolved energy minus the free xTB atom), eV."""
    from xailib.transfer.descriptors import hydrogen_partners

    part = load_partition(partition)
    dataset = part["meta"]["dataset"]
    xtb_ref = _xtb_atomrefs(dataset)
    partner, ao, mo, xtb = [], [], [], []
    off = part["offsets"]
    for k, atoms in enumerate(_structures(dataset, part["frame"])):
        h = np.flatnonzero(atoms.numbers == 1)
        p = hydrogen_partners(atoms)
        partner += [p[i] for i in h]
        ao.append(part["ao_relative"][off[k]:off[k + 1]][h])
        mo.append(part["mo_relative"][off[k]:off[k + 1]][h])
        xtb.append(np.asarray(atoms.info["labels"]["atomic_energies"])[h] - xtb_ref[1])
    return {"partner": np.array(partner, dtype=object), "ao": np.concatenate(ao), "mo": np.concatenate(mo),
            "xtb": np.concatenate(xtb)}
