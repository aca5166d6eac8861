"""How well could any detector find random label flips on moons? (an analysis script)

``python scripts/flip_ceiling.py [--rate 0.1] [--groups 20]``

``make_moons`` draws each class uniformly along a half circle and adds Gaussian noise
(standard deviation = the dataset's noise), so the clean posterior ``p(class | x)`` is
known up to a one-dimensional integral, computed here on a fine grid. Under random flips
at rate ``rho`` the posterior that a training point's label was flipped is
``rho p(other | x) / (rho p(other | x) + (1 - rho) p(own | x))``: ranking the points by it
is the best a detector could do in expectation. For the bench's seeds 0-4 and for groups of
five development seeds (100, 105, ...), the same data as ``tests/bench_matrix.py``'s
section 3, it prints the precision of that ranking at the first cut that catches 90 % of
the flips, next to ``knn_sanitize``'s precision and recall at its defaults: how far the
kNN vote is from the information limit, not a defense.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

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


def one_seed(seed: int, rate: float) -> tuple[float, float, float]:
    """``(best precision at 90 % recall, knn precision, knn recall)`` for one seed."""
    cfg = ExperimentConfig(dataset="moons", attack="label_flip", poison_rate=rate, seed=seed)
    prep = prepare(cfg)
    _, attack_seed, _ = derive_seeds(seed)
    p = make_attack("label_flip", rate).poison(prep.data.X_train, prep.data.y_train,
                                               random_state=attack_seed)
    q = posterior_class1(p.X, cfg.noise)
    own = np.where(p.y == 1, q, 1 - q)
    rho = p.is_poison.mean()
    flip = rho * (1 - own) / (rho * (1 - own) + (1 - rho) * own)
    hits = np.cumsum(p.is_poison[np.argsort(-flip, kind="stable")])
    need = int(np.ceil(0.9 * p.is_poison.sum()))
    best = need / (np.searchsorted(hits, need) + 1)
    flagged = ~make_defense("knn_sanitize").sanitize(p.X, p.y).is_clean
    caught = (flagged & p.is_poison).sum()
    return best, caught / max(flagged.sum(), 1), caught / p.is_poison.sum()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rate", type=float, default=0.1)
    ap.add_argument("--groups", type=int, default=20, help="groups of 5 development seeds")
    args = ap.parse_args(argv)
    print(f"moons, random flips at rate {args.rate}; mean over each group of 5 seeds")
    print(f"{'seeds':>9}  best precision at recall 0.9  knn precision  knn recall")
    groups = [range(0, 5)] + [range(s, s + 5) for s in range(100, 100 + 5 * args.groups, 5)]
    for seeds in groups:
        best, prec, rec = np.mean([one_seed(s, args.rate) for s in seeds], axis=0)
        print(f"{seeds.start:>4}-{seeds.stop - 1:<4}  {best:28.3f}  {prec:13.3f}  {rec:10.3f}",
              flush=True)


if __name__ == "__main__":
    main()
