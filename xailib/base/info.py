"""Environment report: package versions, threads, and the shipped data and model inventory."""

from __future__ import annotations

import os
import platform
from pathlib import Path

from xailib.base.io import package_versions
from xailib.base.paths import data_dir as default_data_dir

KEY_PACKAGES = (
    "xailib", "torch", "schnetpack", "pytorch-lightning", "ase", "numpy", "rdkit", "tblite", "pyscf",
    "scikit-learn", "xgboost", "matplotlib", "jupyter-book", "myst-nb", "py3Dmol",
)


def cpu_threads() -> dict[str, int | None]:
    """CPU cores visible to this process and the thread count PyTorch will use."""
    try:
        import torch

        torch_threads = torch.get_num_threads()
    except ImportError:
        torch_threads = None
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"cpu_cores": cores, "torch_threads": torch_threads}


def inventory(data_dir: Path) -> dict[str, list[str]]:
    """Datasets (``*.db``) and models (folders of ``data/models``) found under ``data_dir``."""
    data_dir = Path(data_dir)
    datasets = sorted(p.relative_to(data_dir).as_posix() for p in data_dir.rglob("*.db"))
    models_dir = data_dir / "models"
    models = sorted(p.name for p in models_dir.iterdir() if p.is_dir()) if models_dir.is_dir() else []
    return {"datasets": datasets, "models": models}


def report(data_dir: Path | None = None) -> str:
    """The text printed by ``python -m xailib info``."""
    data_dir = default_data_dir(data_dir)
    lines = [f"python {platform.python_version()} on {platform.system()} {platform.machine()}"]
    width = max(map(len, KEY_PACKAGES))
    lines += [f"{name:<{width}}  {version}" for name, version in package_versions(KEY_PACKAGES).items()]
    threads = cpu_threads()
    lines.append(f"cpu cores {threads['cpu_cores']}, torch threads {threads['torch_threads']}")
    inv = inventory(data_dir)
    lines.append(f"datasets in {data_dir}: " + (", ".join(inv["datasets"]) or "none yet"))
    lines.append(f"models in {data_dir / 'models'}: " + (", ".join(inv["models"]) or "none yet"))
    return "\n".join(lines)
