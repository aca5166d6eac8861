"""Large sweeps and the CLI's time estimate (a benchmark script, not collected by pytest).

    python tests/bench_sweep.py [--kernels linear,rbf] [--jobs 2] [--liblinear]
    python tests/bench_sweep.py --calibrate

1. **The 10,000-point sweep** (issue 20, item 5): ``python -m core sweep --dataset moons
   --n-samples 16667 --attack label_flip --defense knn_sanitize --kernel K --rates
   0,0.05,...,0.5 --seeds 5 --jobs 2`` (11 rates x 5 seeds = 55 runs, 10,000 training
   points each), run as a subprocess per kernel: wall and CPU seconds, the host's load,
   and the estimate the CLI prints before it (:func:`core.experiment.expected_batch_seconds`).
   Target for the linear kernel: <= 30 s on 2 cores.
2. ``--liblinear``: what a different solver would buy at that size -- one fit and scoring
   of the poisoned 10,000-point training set (rate 0.3, seed 0) with the victim
   (``SVC(kernel="linear")``, libsvm) against ``LinearSVC(loss="hinge")`` (liblinear),
   with both test accuracies. Not a model PoisonLab offers (see docs/benchmarks.md).
3. ``--calibrate``: single runs at two sizes per victim kernel, attack and defense whose
   cost grows with the data: each stage's measured seconds beside the estimate's parts,
   which is where the constants in ``core.models.FIT_SECONDS`` and the ``Cost(seconds=,
   power=)`` hints come from.

Timings on a shared machine are noisy: the load average is printed with them.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core import ExperimentConfig, run_experiment  # noqa: E402
from core.experiment import estimate_run, expected_batch_seconds  # noqa: E402

RATES = [round(0.05 * i, 2) for i in range(11)]
SEEDS = 5
N_SAMPLES = 16667  # 10,000 training points at test_fraction 0.4
LINEAR_TARGET_S = 30.0


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min) {five:.2f} (5 min) on {os.cpu_count()} CPUs"


def sweep_config(kernel: str) -> ExperimentConfig:
    return ExperimentConfig(dataset="moons", n_samples=N_SAMPLES, attack="label_flip",
                            defense="knn_sanitize", kernel=kernel)


def sweep(kernel: str, jobs: int) -> dict:
    cmd = [sys.executable, "-m", "core", "sweep", "--dataset", "moons", "--n-samples",
           str(N_SAMPLES), "--attack", "label_flip", "--defense", "knn_sanitize", "--kernel",
           kernel, "--rates", ",".join(f"{r:g}" for r in RATES), "--seeds", str(SEEDS),
           "--jobs", str(jobs), "--json", "--quiet"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    rows = json.loads(out.stdout)
    base = sweep_config(kernel)
    estimate = expected_batch_seconds([base.replace(poison_rate=r) for r in RATES
                                       for _ in range(SEEDS)], n_jobs=jobs)
    return {"kernel": kernel, "command": " ".join(["python", *cmd[1:-2]]), "wall": wall,
            "cpu": (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime),
            "runs": len(rows), "estimate": estimate}


def liblinear() -> None:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC, LinearSVC

    r = run_experiment(sweep_config("linear").replace(poison_rate=0.3, grid_resolution=0))
    print(f"\none fit + scoring, poisoned training set of {len(r.y_train):,} points "
          f"(moons, label flips at 0.3, seed 0), {len(r.y_test):,} test points; {load()}")
    for name, clf in (("SVC(kernel='linear')  libsvm", SVC(kernel="linear")),
                      ("LinearSVC(loss='hinge') liblinear",
                       LinearSVC(loss="hinge", dual=True, max_iter=10_000))):
        t0 = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            model = make_pipeline(StandardScaler(), clf).fit(r.X_train, r.y_train)
        t1 = time.perf_counter()
        accuracy = model.score(r.X_test, r.y_test)
        t2 = time.perf_counter()
        print(f"  {name:<36} fit {t1 - t0:6.3f} s  score {t2 - t1:6.3f} s  "
              f"test accuracy {accuracy:.4f}"
              + ("  (did not converge)" if any(issubclass(w.category, ConvergenceWarning)
                                               for w in caught) else ""))


#: (label, config): two sizes of each thing whose cost grows with the data
CALIBRATION = [
    *((f"{k} n={n}", ExperimentConfig(dataset="moons", n_samples=n, kernel=k, model=m,
                                      grid_resolution=0))
      for k, m in (("linear", "svm"), ("rbf", "svm"), ("poly", "svm"), ("rbf", "logreg"))
      for n in (1667, 8333)),
    *((f"alfa n={n}", ExperimentConfig(dataset="moons", n_samples=n, attack="alfa",
                                       grid_resolution=0)) for n in (1667, 3333)),
    *((f"gradient n={n}", ExperimentConfig(dataset="moons", n_samples=n, attack="gradient",
                                           grid_resolution=0)) for n in (500, 1000)),
    *((f"{d} n={n}", ExperimentConfig(dataset="moons", n_samples=n, defense=d,
                                      trusted_fraction=0.1, grid_resolution=0))
      for d in ("roni", "trim", "duti", "trusted_relabel", "trusted_reject")
      for n in (1667, 3333)),
]


def calibrate() -> None:
    print(f"single runs, seconds by stage, measured | estimated ({load()})")
    print(f"{'config':<24}{'fits':>7}{'attack':>8}{'defense':>9}{'total':>8} |"
          f"{'fits':>7}{'attack':>8}{'defense':>9}{'total':>8}")
    for label, config in CALIBRATION:
        t = run_experiment(config).timings
        fits = sum(t.get(k, 0.0) for k in ("fit_clean", "fit_poisoned", "fit_defended",
                                           "score"))
        e = estimate_run(config)
        parts = list(e.parts.values())
        print(f"{label:<24}{fits:>7.2f}{t['attack']:>8.2f}{t['defense']:>9.2f}"
              f"{t['total']:>8.2f} |{parts[0]:>7.2f}{parts[1]:>8.2f}{parts[2]:>9.2f}"
              f"{e.seconds:>8.2f}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python tests/bench_sweep.py")
    parser.add_argument("--kernels", default="linear,rbf")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--liblinear", action="store_true")
    parser.add_argument("--calibrate", action="store_true")
    args = parser.parse_args(argv)
    if args.calibrate:
        calibrate()
        return 0
    print(f"sweep of {len(RATES)} rates x {SEEDS} seeds at 10,000 training points "
          f"(moons, label flips, knn_sanitize); {load()}")
    ok = True
    for kernel in filter(None, args.kernels.split(",")):  # --kernels "": none
        r = sweep(kernel, args.jobs)
        print(f"  {r['command']}")
        print(f"    {kernel:<7} {r['runs']} runs  wall {r['wall']:6.1f} s  CPU {r['cpu']:6.1f} s"
              f"  (estimate printed before it: ~{r['estimate']:.0f} s); {load()}")
        if kernel == "linear":
            ok = r["wall"] <= LINEAR_TARGET_S
            print(f"    {'PASS' if ok else 'FAIL'}  linear sweep <= {LINEAR_TARGET_S:g} s")
    if args.liblinear:
        liblinear()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
