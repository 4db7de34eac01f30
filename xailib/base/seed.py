"""Reproducible draws: one call seeds Python, NumPy and PyTorch."""

from __future__ import annotations

import os
import random


def set_seed(seed: int = 0, *, deterministic: bool = True) -> int:
    """Seed Python, NumPy and PyTorch so that later draws repeat.

    Parameters
    ----------
    seed
        The seed for every generator.
    deterministic
        Also ask PyTorch for deterministic algorithms (warn-only), so cached book
        outputs stay valid.

    Returns
    -------
    int
        The seed that was set.
    """
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    random.seed(seed)
    os.environ["PYTHONHASHSEED"] = str(seed)
    import numpy as np

    np.random.seed(seed)
    try:
        import torch
    except ImportError:  # torch is a dependency, but keep set_seed usable without it
        return seed
    torch.manual_seed(seed)
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
    return seed
