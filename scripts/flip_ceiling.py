"""How well could any detector find random label flips on moons? (an analysis script)

``python scripts/flip_ceiling.py [--rate 0.1] [--groups 20]``

``make_moons`` draws each class uniformly along a half circle and adds Gaussian noise
(standard deviation = the dataset's noise), so the clean posterior ``p(class | x)`` is
known up to a one-dimensional integral, computed here on a fine grid. Under random flips
at rate ``rho`` the posterior that a training point's label was flipped is
``rho p(other | x) / (rho p(other | x) + (1 - rho) p(own | x))``: ranking the points by it
is the best a detector could do in expectation. For the bench's seeds 0-4 and for groups of
five development seeds (100, 105, ...), the same data as ``tests/bench_matrix.py``'s
section 3, it prints the precision of that ranking at the best cut that catches 90 % of
the flips, next to ``knn_sanitize``'s precision and recall at its defaults: how far the
kNN vote is from the information limit, not a defense.

Two more columns rank by what a detector can compute from the data alone, and place the
cut with the true poison mask (the most precise cut that catches 90 %), so they are
ceilings for any threshold rule on that score, not rules: ``knn_sanitize``'s own score (the share of
its voters that disagree) and a cross-fitted RBF SVM's margin against the point's label
(10 folds, ``C=1``). If these stay under 0.8, no way of choosing the cut from the data can
give precision 0.8 at 90 % recall with that estimator.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sklearn.metrics import precision_recall_curve  # noqa: E402
from sklearn.model_selection import StratifiedKFold, cross_val_predict  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.svm import SVC  # noqa: E402

from core import ExperimentConfig  # noqa: E402
from core.attacks import make_attack  # noqa: E402
from core.defenses import make_defense  # noqa: E402
from core.experiment import derive_seeds, prepare  # noqa: E402

_T = np.linspace(0.0, np.pi, 4001)
#: make_moons' two half circles: class 0 (outer) and class 1 (inner)
CURVES = (np.c_[np.cos(_T), np.sin(_T)], np.c_[1 - np.cos(_T), 1 - np.sin(_T) - 0.5])


def posterior_class1(X: np.ndarray, noise: float) -> np.ndarray:
    """``p(class 1 | x)`` for make_moons with equal class sizes and Gaussian ``noise``."""
    dens = [np.exp(-((X[:, None, :] - c[None]) ** 2).sum(-1) / (2 * noise ** 2)).mean(1)
            for c in CURVES]
    return dens[1] / (dens[0] + dens[1])


def precision_at_recall(score: np.ndarray, is_poison: np.ndarray, recall: float = 0.9) -> float:
    """The best precision of a cut ``score >= t`` that catches at least ``recall`` of the
    poison (tied scores fall on the same side, as they would for any threshold rule)."""
    precision, caught, _ = precision_recall_curve(is_poison, score)
    return float(precision[caught >= recall].max())


def svm_suspicion(X: np.ndarray, y: np.ndarray, seed: int) -> np.ndarray:
    """Cross-fitted RBF SVM margin against each point's own label (higher = more suspect)."""
    folds = StratifiedKFold(10, shuffle=True, random_state=seed)
    margin = cross_val_predict(SVC(C=1.0), StandardScaler().fit_transform(X), y, cv=folds,
                               method="decision_function")
    return np.where(y == 1, -margin, margin)


def one_seed(seed: int, rate: float) -> tuple[float, ...]:
    """``(Bayes ranking, knn score and SVM margin at 90 % recall, knn precision, knn recall)``
    for one seed; the first three are precisions at the mask-chosen cut."""
    cfg = ExperimentConfig(dataset="moons", attack="label_flip", poison_rate=rate, seed=seed)
    prep = prepare(cfg)
    _, attack_seed, _ = derive_seeds(seed)
    p = make_attack("label_flip", rate).poison(prep.data.X_train, prep.data.y_train,
                                               random_state=attack_seed)
    q = posterior_class1(p.X, cfg.noise)
    own = np.where(p.y == 1, q, 1 - q)
    rho = p.is_poison.mean()
    flip = rho * (1 - own) / (rho * (1 - own) + (1 - rho) * own)
    knn = make_defense("knn_sanitize").sanitize(p.X, p.y)
    flagged = ~knn.is_clean
    caught = (flagged & p.is_poison).sum()
    return (precision_at_recall(flip, p.is_poison), precision_at_recall(knn.score, p.is_poison),
            precision_at_recall(svm_suspicion(p.X, p.y, seed), p.is_poison),
            caught / max(flagged.sum(), 1), caught / p.is_poison.sum())


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rate", type=float, default=0.1)
    ap.add_argument("--groups", type=int, default=20, help="groups of 5 development seeds")
    args = ap.parse_args(argv)
    print(f"moons, random flips at rate {args.rate}; mean over each group of 5 seeds")
    print("precision of the best cut that catches 90 % (chosen with the mask) when ranking by")
    print(f"{'seeds':>9}  {'true posterior':>14}  {'knn score':>9}  {'SVM margin':>10}"
          f"  | knn_sanitize: precision  recall")
    groups = [range(0, 5)] + [range(s, s + 5) for s in range(100, 100 + 5 * args.groups, 5)]
    for seeds in groups:
        bayes, knn, svm, prec, rec = np.mean([one_seed(s, args.rate) for s in seeds], axis=0)
        print(f"{seeds.start:>4}-{seeds.stop - 1:<4}  {bayes:14.3f}  {knn:9.3f}  {svm:10.3f}"
              f"  | {prec:22.3f}  {rec:6.3f}", flush=True)


if __name__ == "__main__":
    main()
