"""Molecule sources and cheminformatics: the NCI set shipped with RDKit, its filter, ETKDG embedding,
and the bond-graph check of 3-D structures against their SMILES.

Bond graphs of 3-D structures come from RDKit's ``rdDetermineBonds.DetermineConnectivity`` (covalent
radii, ``covFactor`` 1.3, no Hueckel step); the reference graph is the SMILES graph with explicit
hydrogens. Both use the same atom order, so the check is an exact comparison of adjacency matrices.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
from ase import Atoms

from xailib.base.errors import XailibError

#: Elements allowed in the NCI sets (H, C, N, O, F, S, Cl).
NCI_ELEMENTS: frozenset[int] = frozenset({1, 6, 7, 8, 9, 16, 17})
NCI_FILTER_TEXT = (
    "RDKit parses the SMILES; net formal charge 0 (charge-separated groups such as nitro are kept); "
    "one fragment; no radical electrons; elements only H, C, N, O, F, S, Cl; heavy-atom count in range"
)


class MoleculeError(XailibError, ValueError):
    """A molecule that cannot be parsed, filtered or embedded."""


class EmbeddingError(MoleculeError):
    """RDKit ETKDG found no 3-D structure."""


def nci_path() -> str:
    """Path of RDKit's shipped NCI subset ``first_5K.smi`` (SMILES and NCI number per line)."""
    from rdkit import RDConfig

    path = os.path.join(RDConfig.RDDataDir, "NCI", "first_5K.smi")
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path} is missing; install an RDKit build that ships its Data folder")
    return path


@dataclass(frozen=True)
class SourceMolecule:
    """One molecule of a source file."""

    mol_id: str  # stable identifier, e.g. "NCI-1234" or "md17-ethanol"
    smiles: str  # canonical SMILES (RDKit)
    n_heavy: int


def read_nci(path: str | None = None) -> list[tuple[str, str]]:
    """``(smiles, nci_number)`` for every line of the NCI file, in file order."""
    out = []
    with open(path or nci_path()) as fh:
        for line in fh:
            parts = line.split()
            if len(parts) >= 2:
                out.append((parts[0], parts[1]))
    return out


def rejection_reason(smiles: str, min_heavy: int, max_heavy: int,
                     elements: frozenset[int] = NCI_ELEMENTS) -> str | None:
    """Why ``smiles`` fails the NCI filter (see ``NCI_FILTER_TEXT``), or ``None`` when it passes."""
    from rdkit import Chem, RDLogger

    RDLogger.DisableLog("rdApp.*")
    mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        return "unparsable SMILES"
    if Chem.GetFormalCharge(mol) != 0:
        return f"ion (net charge {Chem.GetFormalCharge(mol):+d})"
    if len(Chem.GetMolFrags(mol)) != 1:
        return "several fragments"
    if any(a.GetNumRadicalElectrons() for a in mol.GetAtoms()):
        return "radical"
    other = sorted({a.GetSymbol() for a in mol.GetAtoms() if a.GetAtomicNum() not in elements})
    if other:
        return "element " + ",".join(other)
    n = mol.GetNumHeavyAtoms()
    if not min_heavy <= n <= max_heavy:
        return f"{n} heavy atoms"
    return None


def filter_nci(min_heavy: int, max_heavy: int, path: str | None = None) -> tuple[list[SourceMolecule], dict[str, int]]:
    """NCI molecules passing the filter, deduplicated by canonical SMILES, and rejection counts."""
    from rdkit import Chem

    kept: list[SourceMolecule] = []
    seen: set[str] = set()
    reasons: dict[str, int] = {}
    for smi, nci in read_nci(path):
        why = rejection_reason(smi, min_heavy, max_heavy)
        if why is None:
            mol = Chem.MolFromSmiles(smi)
            can = Chem.MolToSmiles(mol)
            if can in seen:
                why = "duplicate"
            else:
                seen.add(can)
                kept.append(SourceMolecule(f"NCI-{nci}", can, mol.GetNumHeavyAtoms()))
                continue
        key = why.split(" (")[0] if why.startswith("ion") else ("heavy-atom count" if "heavy" in why else why)
        key = "other element" if key.startswith("element") else key
        reasons[key] = reasons.get(key, 0) + 1
    return kept, reasons


def embed(smiles: str, seed: int, max_attempts: int = 3, mmff: bool = True):
    """RDKit molecule with explicit hydrogens and one ETKDGv3 conformer (seeded).

    With ``mmff`` the conformer is pre-optimised with MMFF94 where RDKit has all parameters (this only
    shortens the later GFN2-xTB relaxation).

    Raises
    ------
    MoleculeError, EmbeddingError
    """
    from rdkit import Chem
    from rdkit.Chem import AllChem

    mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        raise MoleculeError(f"RDKit cannot parse SMILES {smiles!r}")
    mol = Chem.AddHs(mol)
    for attempt in range(max_attempts):
        params = AllChem.ETKDGv3()
        params.randomSeed = int(seed + attempt) % (2**31 - 1)
        params.useRandomCoords = attempt > 0
        if AllChem.EmbedMolecule(mol, params) == 0:
            if mmff and AllChem.MMFFHasAllMoleculeParams(mol):
                AllChem.MMFFOptimizeMolecule(mol, maxIters=2000)
            return mol
    raise EmbeddingError(f"ETKDG found no conformer for {smiles!r} in {max_attempts} attempts")


def to_atoms(mol) -> Atoms:
    """ASE atoms of the first conformer of an RDKit molecule (same atom order)."""
    conf = mol.GetConformer()
    pos = np.array(conf.GetPositions(), dtype=float)
    return Atoms(numbers=[a.GetAtomicNum() for a in mol.GetAtoms()], positions=pos)


def smiles_adjacency(mol) -> np.ndarray:
    """Adjacency matrix (0/1) of the molecular graph with explicit hydrogens."""
    from rdkit import Chem

    return np.asarray(Chem.GetAdjacencyMatrix(mol), dtype=np.int8)


def geometry_adjacency(numbers: np.ndarray, positions: np.ndarray, cov_factor: float = 1.3) -> np.ndarray:
    """Adjacency matrix from 3-D coordinates (RDKit ``DetermineConnectivity``, covalent radii)."""
    from ase.data import chemical_symbols
    from rdkit import Chem
    from rdkit.Chem import rdDetermineBonds

    lines = [str(len(numbers)), ""]
    lines += [f"{chemical_symbols[int(z)]} {x:.8f} {y:.8f} {w:.8f}" for z, (x, y, w) in zip(numbers, positions)]
    mol = Chem.MolFromXYZBlock("\n".join(lines) + "\n")
    if mol is None:
        raise MoleculeError("RDKit could not read the structure as XYZ")
    rdDetermineBonds.DetermineConnectivity(mol, useHueckel=False, covFactor=cov_factor)
    return np.asarray(Chem.GetAdjacencyMatrix(mol), dtype=np.int8)


def graph_changes(reference: np.ndarray, numbers: np.ndarray, positions: np.ndarray) -> list[tuple[int, int, str]]:
    """Bonds made (``"+"``) or broken (``"-"``) in a 3-D structure relative to ``reference``."""
    adj = geometry_adjacency(numbers, positions)
    if adj.shape != reference.shape:
        raise MoleculeError(f"structure has {adj.shape[0]} atoms, reference graph {reference.shape[0]}")
    i, j = np.nonzero(np.triu(adj != reference, 1))
    return [(int(a), int(b), "+" if adj[a, b] else "-") for a, b in zip(i, j)]


def element_counts(numbers_list: list[np.ndarray]) -> dict[str, int]:
    """Number of atoms of each element over a list of structures."""
    from ase.data import chemical_symbols

    zs, counts = np.unique(np.concatenate([np.asarray(n) for n in numbers_list]), return_counts=True)
    return {chemical_symbols[int(z)]: int(c) for z, c in zip(zs, counts)}
