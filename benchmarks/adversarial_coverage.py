"""Benchmark: is the adversarial-validation AUC unbiased, and does its interval cover 0.5, for identical sets?

Pure-noise features shaped like the data of chapter 08: molecules (groups) of several near-identical
frames (a molecule mean plus small frame noise), set A and set B drawn from *one* distribution, with
unbalanced set sizes. For every seed :func:`xailib.transfer.adversarial_validation` runs with the
settings of the study (``DEFAULT_XGB_PARAMS``, ``n_jobs=1``, 5 grouped folds, 1000 group-bootstrap
resamples, 95 %), and the same out-of-fold scores are also scored the old way (the AUC of the scores
pooled across folds, with a group bootstrap of that pooled AUC) and with the fold-stratified AUC and
its plain fixed-score bootstrap interval (before the library widens it by sqrt(2)) for comparison. Three scenarios:

* ``frames``: A 120 molecules, B 60, 11 frames each (as the MD frames of nci-small / nci-large);
* ``atoms``: A 100 molecules, B 50, 5-30 rows each (as the atom environments of the relaxed structures);
* ``control``: :func:`xailib.transfer.random_split_control` of the ``frames`` set A (two random halves).

Prints, per scenario and estimator, the coverage of 0.5 by the interval (with its binomial standard
error), the mean AUC with its standard deviation and the standard error of the mean, and the mean
interval width; asserts nothing.

Run:  OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/adversarial_coverage.py [--seeds 50]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from xailib.transfer.adversarial import _bootstrap_auc, adversarial_validation, random_split_control

N_FEATURES = 30
LABELS = {"new": "stratified, widened (new)", "plain": "stratified, plain boot.",
          "pooled": "pooled (old)"}


def noise_set(n_mol: int, rows: tuple[int, int], rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``n_mol`` groups of ``rows[0]..rows[1]`` rows each: a group mean plus 10 % row noise."""
    sizes = rng.integers(rows[0], rows[1] + 1, n_mol)
    means = rng.normal(size=(n_mol, N_FEATURES))
    x = np.repeat(means, sizes, axis=0) + 0.1 * rng.normal(size=(sizes.sum(), N_FEATURES))
    return x, np.repeat(np.arange(n_mol), sizes)


def others(res, ga: np.ndarray, gb: np.ndarray, n_boot: int) -> dict[str, tuple[float, tuple[float, float]]]:
    """The same out-of-fold scores, scored (i) the old way: AUC pooled across folds with a group
    bootstrap of that pooled AUC (one stratum), and (ii) fold-stratified with the plain fixed-score
    bootstrap interval, before the cross-validation widening of the library."""
    y = np.r_[np.zeros(len(ga), int), np.ones(len(gb), int)]
    ua, ub = np.unique(ga, return_inverse=True)[1], np.unique(gb, return_inverse=True)[1]
    groups = np.r_[ua, ub + ua.max() + 1]
    p = np.r_[res.proba_a, res.proba_b]
    fold = np.r_[res.fold_a, res.fold_b]
    out = {}
    for name, strata, auc in (("pooled", np.zeros(len(y), int), res.pooled_auc), ("plain", fold, res.auc)):
        out[name] = (auc, _bootstrap_auc(y, p, groups, strata, n_boot, res.confidence,
                                         np.random.default_rng(res.seed)))
    return out


def run(scenario: str, seed: int, n_boot: int):
    rng = np.random.default_rng(1000 + seed)
    if scenario == "atoms":
        xa, ga = noise_set(100, (5, 30), rng)
        xb, gb = noise_set(50, (5, 30), rng)
    else:
        xa, ga = noise_set(120, (11, 11), rng)
        xb, gb = noise_set(60, (11, 11), rng)
    if scenario == "control":
        res = random_split_control(xa, groups=ga, seed=seed, n_bootstrap=n_boot)
        # the group labels of the two halves, drawn as random_split_control draws them
        g = np.unique(ga, return_inverse=True)[1]
        in_b = np.zeros(g.max() + 1, bool)
        in_b[np.random.default_rng(seed).permutation(g.max() + 1)[: (g.max() + 1) // 2]] = True
        ga_, gb_ = g[~in_b[g]], g[in_b[g]]
        assert len(ga_) == len(res.proba_a) and len(gb_) == len(res.proba_b)
        return res, others(res, ga_, gb_, n_boot)
    res = adversarial_validation(xa, xb, groups_a=ga, groups_b=gb, seed=seed, n_bootstrap=n_boot)
    return res, others(res, ga, gb, n_boot)


def summary(name: str, aucs: list[float], cis: list[tuple[float, float]]) -> str:
    a = np.array(aucs)
    ci = np.array(cis)
    cover = (ci[:, 0] <= 0.5) & (0.5 <= ci[:, 1])
    n = len(a)
    se_cov = np.sqrt(cover.mean() * (1 - cover.mean()) / n)
    return (f"  {name:<26} coverage of 0.5: {cover.sum():3d}/{n} = {cover.mean():.3f} +- {se_cov:.3f}   "
            f"AUC mean {a.mean():.4f} (sd {a.std(ddof=1):.4f}, se {a.std(ddof=1) / np.sqrt(n):.4f})   "
            f"mean CI width {np.mean(ci[:, 1] - ci[:, 0]):.3f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=50)
    ap.add_argument("--n-bootstrap", type=int, default=1000)
    ap.add_argument("--scenarios", nargs="+", default=["frames", "atoms", "control"],
                    choices=["frames", "atoms", "control"])
    args = ap.parse_args()
    import sklearn
    import xgboost

    print(f"xgboost {xgboost.__version__}, scikit-learn {sklearn.__version__}; {args.seeds} seeds, "
          f"{args.n_bootstrap} bootstrap resamples, 95 % intervals, 5 folds, {N_FEATURES} noise features")
    total = time.perf_counter()
    for scenario in args.scenarios:
        t0 = time.perf_counter()
        rows: dict[str, tuple[list, list]] = {k: ([], []) for k in LABELS}
        for seed in range(args.seeds):
            res, other = run(scenario, seed, args.n_bootstrap)
            for key, (auc, ci) in (("new", (res.auc, res.auc_ci)), *other.items()):
                rows[key][0].append(auc)
                rows[key][1].append(ci)
        print(f"{scenario} ({time.perf_counter() - t0:.0f} s):")
        for key, label in LABELS.items():
            print(summary(label, *rows[key]))
    print(f"total wall time {time.perf_counter() - total:.0f} s")


if __name__ == "__main__":
    main()
