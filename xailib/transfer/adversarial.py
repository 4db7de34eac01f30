"""Adversarial validation: can a classifier tell two sets of molecules (or atom environments) apart?

An xgboost ``XGBClassifier`` is trained to separate set A (label 0) from set B (label 1) under
grouped, stratified k-fold cross-validation (scikit-learn ``StratifiedGroupKFold``: all frames of one
molecule stay in one fold). The AUC is **stratified by fold**: the probability that a member of B
scores higher than a member of A *of the same test fold* (ties count one half), i.e. the per-fold
ROC-AUCs averaged with weights ``n_A * n_B`` of each fold. It is near 0.5 when the sets come from one
distribution and near 1 when B lies outside A (extrapolation). The AUC of the pooled out-of-fold
scores (:attr:`AdversarialResult.pooled_auc`) is kept for reference only: each fold model has its own
calibration, and a fold whose training data hold fewer B than average scores its (then more numerous)
B members lower, so for identical distributions the pooled AUC is biased *below* 0.5 (0.41 in one
unbalanced case). The confidence interval is a percentile bootstrap of the stratified AUC that
resamples whole groups (molecules) within each set and test fold, keeping the out-of-fold scores
fixed; for identical distributions its coverage of 0.5 is measured by
``benchmarks/adversarial_coverage.py``. Descriptors live in :mod:`xailib.transfer.descriptors`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from xailib.base.errors import XailibError
from xailib.transfer.descriptors import Descriptors, atom_descriptors, molecule_descriptors

__all__ = ["AdversarialResult", "AdversarialInputError", "adversarial_validation",
           "random_split_control", "molecule_descriptors", "atom_descriptors", "Descriptors",
           "DEFAULT_XGB_PARAMS"]

DEFAULT_XGB_PARAMS: dict[str, object] = {
    "n_estimators": 200, "max_depth": 4, "learning_rate": 0.1, "subsample": 0.8,
    "colsample_bytree": 0.8, "tree_method": "hist", "n_jobs": 1, "importance_type": "gain",
    "eval_metric": "logloss",
}


class AdversarialInputError(XailibError, ValueError):
    """Bad input to adversarial validation (shapes, NaNs, too few samples or groups)."""


@dataclass(frozen=True)
class AdversarialResult:
    """Out-of-fold adversarial validation of set A (label 0) against set B (label 1).

    Attributes
    ----------
    auc, auc_ci
        Fold-stratified out-of-fold ROC-AUC (per-fold AUCs weighted by ``n_A * n_B``) and its group
        bootstrap confidence interval ``(low, high)``.
    proba_a, proba_b
        Out-of-fold probability of "belongs to B" for every sample of A and of B.
    fold_a, fold_b
        The test fold of every sample.
    fold_aucs
        ROC-AUC within each test fold (nan where a fold holds one class only).
    importances
        Mean gain importance of each feature over the fold models (normalised to sum 1).
    pooled_auc
        ROC-AUC of all out-of-fold scores pooled across folds: for reference only, biased below 0.5
        for identical distributions (see the module docstring).
    """

    auc: float
    auc_ci: tuple[float, float]
    proba_a: np.ndarray
    proba_b: np.ndarray
    fold_a: np.ndarray
    fold_b: np.ndarray
    fold_aucs: np.ndarray
    importances: np.ndarray
    feature_names: list[str] | None
    confidence: float
    folds: int
    seed: int
    pooled_auc: float = float("nan")

    def top_features(self, k: int = 10) -> list[tuple[str, float]]:
        """The ``k`` most important features as ``(name, importance)``, largest first."""
        names = self.feature_names or [f"f{i}" for i in range(len(self.importances))]
        order = np.argsort(-self.importances, kind="stable")[:k]
        return [(names[i], float(self.importances[i])) for i in order]


def _as_matrix(x, name: str) -> np.ndarray:
    x = np.asarray(x, dtype=float)
    if x.ndim != 2:
        raise AdversarialInputError(f"{name} must be a 2-D array (samples x features), got shape "
                                    f"{x.shape}; use descriptors(...).X")
    if x.shape[0] == 0:
        raise AdversarialInputError(f"{name} has no samples")
    bad = ~np.isfinite(x)
    if bad.any():
        rows = np.flatnonzero(bad.any(axis=1))[:5].tolist()
        raise AdversarialInputError(f"{name} has NaN/inf values (rows {rows}...); drop or impute "
                                    "those samples first")
    return x


def _group_codes(groups, n: int, name: str) -> np.ndarray:
    if groups is None:
        return np.arange(n)
    g = np.asarray(groups)
    if g.shape != (n,):
        raise AdversarialInputError(f"{name} must have one entry per sample ({n}), got shape {g.shape}")
    return np.unique(g, return_inverse=True)[1]


def _stratified_auc_stats(y: np.ndarray, p: np.ndarray, groups: np.ndarray, strata: np.ndarray,
                          counts: np.ndarray) -> np.ndarray:
    """Fold-stratified AUC for each row of group weights ``counts`` (resamples x groups).

    Within each stratum (test fold) every pair (a in A, b in B) counts ``w_a * w_b`` (the weights of
    their groups), 1 if ``p_b > p_a``, 1/2 on a tie; the AUC is the weighted share of such pairs summed
    over strata. ``counts`` of ones gives the point estimate.
    """
    num = np.zeros(len(counts))
    den = np.zeros(len(counts))
    for k in np.unique(strata):
        sel = strata == k
        values, uid = np.unique(p[sel], return_inverse=True)
        w = {}
        for c in (0, 1):
            m = y[sel] == c
            local, gid = np.unique(groups[sel][m], return_inverse=True)
            hist = np.zeros((len(local), len(values)))  # samples of each group at each distinct score
            np.add.at(hist, (gid, uid[m]), 1.0)
            w[c] = counts[:, local] @ hist  # (resamples x distinct scores)
        below = np.cumsum(w[0], axis=1) - 0.5 * w[0]  # A weight strictly below, plus half the ties
        num += (w[1] * below).sum(axis=1)
        den += w[0].sum(axis=1) * w[1].sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return num / den


def _bootstrap_auc(y: np.ndarray, p: np.ndarray, groups: np.ndarray, strata: np.ndarray, n_boot: int,
                   confidence: float, rng: np.random.Generator) -> tuple[float, float]:
    """Percentile interval of the stratified AUC, resampling groups with replacement per (stratum, class)."""
    n_groups = int(groups.max()) + 1
    counts = np.zeros((n_boot, n_groups))
    rows = np.arange(n_boot)[:, None]
    for k in np.unique(strata):
        for c in (0, 1):
            ids = np.unique(groups[(strata == k) & (y == c)])
            if len(ids) == 0:  # a test fold with one set only contributes no pairs
                continue
            draws = rng.choice(ids, size=(n_boot, len(ids)))
            np.add.at(counts, (np.broadcast_to(rows, draws.shape), draws), 1.0)
    stats = _stratified_auc_stats(y, p, groups, strata, counts)
    stats = stats[np.isfinite(stats)]
    alpha = (1.0 - confidence) / 2
    lo, hi = np.quantile(stats, [alpha, 1 - alpha])
    return float(lo), float(hi)


#: Variance factor between the cross-validated AUC and the fixed-score bootstrap (see :func:`_widen`).
CV_VARIANCE_FACTOR = 2.0


def _widen(auc: float, ci: tuple[float, float], factor: float = CV_VARIANCE_FACTOR) -> tuple[float, float]:
    """Scale the bootstrap interval about ``auc`` by ``sqrt(factor)`` (clipped to [0, 1]).

    The bootstrap keeps the out-of-fold scores fixed, so it sees the sampling of the *test* groups
    only. In cross-validation every pair of groups in different folds enters twice, through the model
    trained on one and the test scores of the other, with the same sign: chance differences between
    the two finite sets are learned by every fold model and show up in every test fold. For identical
    distributions this doubles the variance of the AUC relative to what the fixed-score bootstrap sees
    (measured by ``benchmarks/adversarial_coverage.py``); the interval is widened accordingly.
    """
    s = np.sqrt(factor)
    return float(max(0.0, auc - s * (auc - ci[0]))), float(min(1.0, auc + s * (ci[1] - auc)))


def adversarial_validation(X_a, X_b, *, groups_a=None, groups_b=None, folds: int = 5,
                           seed: int = 0, n_bootstrap: int = 1000, confidence: float = 0.95,
                           feature_names: Sequence[str] | None = None,
                           xgb_params: dict[str, object] | None = None) -> AdversarialResult:
    """Train xgboost to tell ``X_a`` from ``X_b``; fold-stratified out-of-fold ROC-AUC with a bootstrap interval.

    Parameters
    ----------
    X_a, X_b
        Descriptor matrices (samples x features) with the same columns.
    groups_a, groups_b
        Group label per sample (e.g. molecule id): samples of one group never share train and test.
        Groups of A and of B are kept distinct even when their labels coincide. ``None``: every
        sample is its own group.
    folds
        Number of ``StratifiedGroupKFold`` folds (shuffled with ``seed``).
    seed
        Seeds the folds, the classifier and the bootstrap.
    n_bootstrap, confidence
        Group bootstrap resamples (groups drawn with replacement within each set and test fold) and
        the interval's nominal coverage.
    feature_names
        Column names, for :meth:`AdversarialResult.top_features`.
    xgb_params
        Overrides of :data:`DEFAULT_XGB_PARAMS`.
    """
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedGroupKFold
    from xgboost import XGBClassifier

    xa, xb = _as_matrix(X_a, "X_a"), _as_matrix(X_b, "X_b")
    if xa.shape[1] != xb.shape[1]:
        raise AdversarialInputError(
            f"X_a has {xa.shape[1]} features but X_b has {xb.shape[1]}; compute both with the same "
            "descriptor settings (same `elements`)")
    if feature_names is not None and len(feature_names) != xa.shape[1]:
        raise AdversarialInputError(f"{len(feature_names)} feature names for {xa.shape[1]} columns")
    if not isinstance(folds, int) or folds < 2:
        raise AdversarialInputError(f"folds must be an integer >= 2, got {folds!r}")
    if not 0 < confidence < 1:
        raise AdversarialInputError(f"confidence must lie in (0, 1), got {confidence}")
    if not isinstance(n_bootstrap, int) or n_bootstrap < 10:
        raise AdversarialInputError(f"n_bootstrap must be an integer >= 10, got {n_bootstrap!r}")
    ga = _group_codes(groups_a, len(xa), "groups_a")
    gb = _group_codes(groups_b, len(xb), "groups_b")
    for name, g in (("A", ga), ("B", gb)):
        if g.max() + 1 < folds:
            raise AdversarialInputError(
                f"set {name} has {g.max() + 1} groups, fewer than folds={folds}; every fold needs "
                "test groups of both sets: lower `folds` or add molecules")
    x = np.vstack([xa, xb])
    y = np.r_[np.zeros(len(xa), int), np.ones(len(xb), int)]
    groups = np.r_[ga, gb + ga.max() + 1]

    params = {**DEFAULT_XGB_PARAMS, "random_state": seed, **(xgb_params or {})}
    cv = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    proba = np.full(len(y), np.nan)
    fold_of = np.full(len(y), -1)
    fold_aucs = np.full(folds, np.nan)
    importances = np.zeros(x.shape[1])
    for k, (train, test) in enumerate(cv.split(x, y, groups)):
        if len(np.unique(y[train])) < 2:
            raise AdversarialInputError(
                f"fold {k} trains on one set only; use fewer folds or more groups")
        clf = XGBClassifier(**params)
        clf.fit(x[train], y[train])
        proba[test] = clf.predict_proba(x[test])[:, 1]
        fold_of[test] = k
        if len(np.unique(y[test])) == 2:
            fold_aucs[k] = roc_auc_score(y[test], proba[test])
        imp = np.asarray(clf.feature_importances_, dtype=float)
        importances += imp / imp.sum() if imp.sum() > 0 else imp
    auc = float(_stratified_auc_stats(y, proba, groups, fold_of, np.ones((1, groups.max() + 1)))[0])
    pooled = float(roc_auc_score(y, proba))
    ci = _widen(auc, _bootstrap_auc(y, proba, groups, fold_of, n_bootstrap, confidence,
                                    np.random.default_rng(seed)))
    na = len(xa)
    return AdversarialResult(
        auc=auc, auc_ci=ci, proba_a=proba[:na], proba_b=proba[na:], fold_a=fold_of[:na],
        fold_b=fold_of[na:], fold_aucs=fold_aucs, importances=importances / folds,
        feature_names=list(feature_names) if feature_names is not None else None,
        confidence=confidence, folds=folds, seed=seed, pooled_auc=pooled)


def random_split_control(X, *, groups=None, folds: int = 5, seed: int = 0,
                         **kwargs) -> AdversarialResult:
    """The control: split one set at random into two halves (by group) and validate them.

    The AUC should be compatible with 0.5 (its interval covers 0.5 about as often as its nominal
    confidence for identical sets); a clearly larger value means leakage (e.g. frames of one
    molecule in both train and test) or a classifier that overfits. ``kwargs`` go to
    :func:`adversarial_validation`.
    """
    x = _as_matrix(X, "X")
    g = _group_codes(groups, len(x), "groups")
    n_groups = int(g.max()) + 1
    if n_groups < 2 * folds:
        raise AdversarialInputError(f"{n_groups} groups cannot make two halves of >= {folds} groups "
                                    "each; lower `folds` or add molecules")
    rng = np.random.default_rng(seed)
    in_b = np.zeros(n_groups, bool)
    in_b[rng.permutation(n_groups)[: n_groups // 2]] = True
    mask = in_b[g]
    return adversarial_validation(x[~mask], x[mask], groups_a=g[~mask], groups_b=g[mask],
                                  folds=folds, seed=seed, **kwargs)
