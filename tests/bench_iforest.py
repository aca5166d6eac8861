"""Benchmark: the Isolation Forest behind ``isolation_forest`` and ``label_aware_iforest``.

A script run by hand, not a pytest test. It compares the forest PoisonLab uses (``isotree``'s
C++ ``IsolationForest(ndim=1)``, :func:`core.defenses.outliers.forest_normality`) with
scikit-learn's ``IsolationForest`` -- the same algorithm (Liu et al. 2008: 100 trees, 256-point
subsamples, depth limit log2(256)) -- swapped in for the comparison only:

1. **Speed.** Fit + score at the defaults on the seed-demo training set (300 clean + 80
   injected 2-D points): ``isolation_forest`` (one forest of 100 trees) and
   ``label_aware_iforest`` (50 trees per class), memo cleared before each run, median of
   ``--repeats``. Target: <= 15 ms each.
2. **Detection quality.** ``run_matrix`` of every attack x both forest defenses at poison rate
   0.2 over ``--seeds`` seeds, default sizes, on every 2-D dataset, once per forest: mean F1,
   ROC AUC and share of the drop recovered, side by side, with the seed std of the isotree
   column (differences well inside it are seed noise).
3. **seed-demo.** The scenario's clean / poisoned / defended accuracy and F1 per forest, mean
   over the same seeds.

    python tests/bench_iforest.py [--seeds 5] [--repeats 15] [--datasets blobs,moons]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from sklearn.ensemble import IsolationForest  # noqa: E402

from core import ExperimentConfig, run_experiment, run_matrix  # noqa: E402
from core.attacks import make_attack  # noqa: E402
from core.defenses import clear_memos, make_defense, outliers  # noqa: E402
from core.experiment import derive_seeds, prepare  # noqa: E402
from core.scenarios import scenario_config  # noqa: E402

ISOTREE = outliers.forest_normality
TWO_D = ("blobs", "moons", "circles", "linear", "loan")
FORESTS = ("isolation_forest", "label_aware_iforest")


def sklearn_normality(X, *, n_estimators=100, random_state=None):
    """scikit-learn's forest in the same role (what PoisonLab used before isotree)."""
    return IsolationForest(n_estimators=n_estimators,
                           random_state=random_state).fit(X).score_samples(X)


ENGINES = {"isotree": ISOTREE, "sklearn": sklearn_normality}


def use(engine: str) -> None:
    outliers.forest_normality = ENGINES[engine]
    clear_memos()


def cpu_line() -> str:
    one, five, _ = os.getloadavg()
    return f"CPU: {os.cpu_count()} CPUs, load average {one:.2f} (1 min) {five:.2f} (5 min)"


def speed(repeats: int) -> None:
    cfg = scenario_config("seed-demo")
    prep = prepare(cfg)
    d = prep.data
    p = make_attack(cfg.attack, cfg.poison_rate).poison(d.X_train, d.y_train, model=prep.model,
                                                        random_state=derive_seeds(cfg.seed)[1])
    print(f"1. fit + score at the defaults, {len(p.y)} points x {p.X.shape[1]} features, "
          f"median of {repeats} (target <= 15 ms)")
    for engine in ENGINES:
        use(engine)
        for name in FORESTS:
            times = []
            for _ in range(repeats):
                clear_memos()
                t = time.perf_counter()
                make_defense(name).sanitize(p.X, p.y, random_state=7)
                times.append(time.perf_counter() - t)
            print(f"   {engine:8s} {name:20s} {1e3 * statistics.median(times):7.1f} ms  "
                  f"(min {1e3 * min(times):.1f}, max {1e3 * max(times):.1f})")
    use("isotree")


def quality(datasets, seeds: int) -> None:
    print(f"\n2. attack x forest matrix, rate 0.2, seeds 0-{seeds - 1}: "
          "sklearn | isotree (isotree's seed std)")
    frames = {}
    for engine in ENGINES:
        use(engine)
        parts = [run_matrix(ExperimentConfig(dataset=ds), defenses=FORESTS, rate=0.2,
                            seeds=seeds) for ds in datasets]
        frames[engine] = pd.concat(parts, ignore_index=True)
    use("isotree")
    a, b = frames["sklearn"], frames["isotree"]
    rows = []
    for i in range(len(a)):
        r = {"dataset": a.dataset[i], "attack": a.attack[i], "defense": a.defense[i]}
        for m in ("f1", "roc_auc", "recovered"):
            r[m] = (f"{a[m + '_mean'][i]:.2f} | {b[m + '_mean'][i]:.2f} "
                    f"({b[m + '_std'][i]:.2f})")
        rows.append(r)
    with pd.option_context("display.width", 200, "display.max_rows", 500):
        print(pd.DataFrame(rows).to_string(index=False))
    print("\n   mean over all cells (sklearn | isotree), and the mean |difference| / seed std:")
    for m in ("f1", "roc_auc", "recovered"):
        x, y, s = a[m + "_mean"], b[m + "_mean"], b[m + "_std"]
        ok = s > 0
        z = (np.abs(x - y)[ok] / s[ok]).mean()
        print(f"   {m:10s} {np.nanmean(x):.3f} | {np.nanmean(y):.3f}   "
              f"mean |diff| {np.nanmean(np.abs(x - y)):.3f}, in seed stds {z:.2f}")


def seed_demo(seeds: int) -> None:
    print(f"\n3. seed-demo scenario, mean over seeds 0-{seeds - 1}")
    for engine in ENGINES:
        use(engine)
        rs = [run_experiment(scenario_config("seed-demo", seed=s, grid_resolution=0))
              for s in range(seeds)]
        acc = {k: np.mean([getattr(r, k + "_accuracy") for r in rs])
               for k in ("clean", "poisoned", "defended")}
        f1 = np.mean([r.detection.f1 for r in rs])
        auc = np.mean([r.detection.roc_auc for r in rs])
        print(f"   {engine:8s} clean {acc['clean']:.3f} poisoned {acc['poisoned']:.3f}"
              f" defended {acc['defended']:.3f}  F1 {f1:.3f}  ROC AUC {auc:.3f}  "
              f"(seed 0: defended {rs[0].defended_accuracy:.3f}, F1 {rs[0].detection.f1:.3f})")
    use("isotree")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--datasets", default=",".join(TWO_D))
    args = ap.parse_args()
    print(cpu_line())
    speed(args.repeats)
    seed_demo(args.seeds)
    quality(args.datasets.split(","), args.seeds)
    print(cpu_line())


if __name__ == "__main__":
    main()
