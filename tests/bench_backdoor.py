"""Benchmark of the backdoors and the defenses against them (a script, not collected by pytest).

    python tests/bench_backdoor.py [--seeds 0-4] [--jobs 2] [--skip-timing]

Prints, with the machine's load average (timings on a busy machine are not a fair measure):

1. **How few points plant a backdoor.** digits (5 vs 9) and loan; linear SVM, RBF SVM and
   logistic regression; ``backdoor`` and ``backdoor_clean_label`` at budgets 1 %, 3 %, 5 %:
   the clean and poisoned models' attack success rate (ASR: held-out source-class test
   points, trigger stamped, given the target label) and the poisoned model's change in
   clean test accuracy, mean over the seeds.
2. **What each defense wins back** at a 3 % budget: for every registered defense its
   defended ASR and the clean-accuracy cost (defended - clean model's test accuracy).
   A defense "brings ASR back" when its mean defended ASR is within 0.05 of the clean
   model's.
3. **Timing** (skipped with ``--skip-timing``): one ``run_experiment`` at the default config
   (grid 60 x 60) with each backdoor, median of 5 after a warm-up (target <= 250 ms), and
   the full matrix (every attack x every defense, rate 0.2, 5 seeds, ``n_jobs=--jobs``) per
   2-D dataset (target <= 30 s), as ``tests/bench_matrix.py`` runs it.

Seeds: report on 0-4 (the default); the attacks' and defenses' defaults were chosen on
``--seeds 100-104`` (the clean-label attack's ``selection`` and ``interpolation`` on
100-102), never on the reported ones.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pandas as pd  # noqa: E402

from core.attacks import ATTACKS  # noqa: E402
from core.datasets import DATASETS, REAL_DATASETS  # noqa: E402
from core.defenses import DEFENSES, clear_memos  # noqa: E402
from core.experiment import ExperimentConfig, run_experiment  # noqa: E402
from core.matrix import matrix_runs, run_matrix  # noqa: E402

BACKDOORS = [a for a, cls in ATTACKS.items() if cls.backdoor]
MODELS = {"svm-linear": {"model": "svm", "kernel": "linear"},
          "svm-rbf": {"model": "svm", "kernel": "rbf"},
          "logreg": {"model": "logreg"}}
DATASETS_BENCH = ("digits", "loan")
RATES = (0.01, 0.03, 0.05)
DEFENSE_RATE = 0.03
SINGLE_TARGET_S = 0.25
MATRIX_TARGET_S = 30.0


def load() -> str:
    return "load average " + " ".join(f"{v:.2f}" for v in os.getloadavg())


def seeds_arg(text: str) -> list[int]:
    if "-" in text:
        a, b = text.split("-")
        return list(range(int(a), int(b) + 1))
    return [int(s) for s in text.split(",")]


def base_config(dataset: str, model: str, seed: int) -> ExperimentConfig:
    n = DATASETS[dataset].default_samples
    return ExperimentConfig(dataset=dataset, n_samples=n, seed=seed, grid_resolution=0,
                            **MODELS[model])


def budgets(seeds: list[int], jobs: int) -> pd.DataFrame:
    rows = []
    for dataset in DATASETS_BENCH:
        for model in MODELS:
            for rate in RATES:
                runs = matrix_runs(base_config(dataset, model, seeds[0]), BACKDOORS, ["none"],
                                   rate, seeds, n_jobs=jobs)
                for attack, g in runs.groupby("attack", sort=False):
                    rows.append({
                        "dataset": dataset, "model": model, "attack": attack, "rate": rate,
                        "n_poison": g.n_poison.mean(),
                        "asr_clean": g.attack_success_clean.mean(),
                        "asr_poisoned": g.attack_success_poisoned.mean(),
                        "asr_poisoned_min": g.attack_success_poisoned.min(),
                        "acc_change_pts": 100 * (g.poisoned_accuracy - g.clean_accuracy).mean(),
                    })
    return pd.DataFrame(rows)


def defenses(seeds: list[int], jobs: int) -> pd.DataFrame:
    parts = []
    for dataset in DATASETS_BENCH:
        for model in MODELS:
            runs = matrix_runs(base_config(dataset, model, seeds[0]), BACKDOORS, list(DEFENSES),
                               DEFENSE_RATE, seeds, n_jobs=jobs)
            parts.append(runs.assign(dataset=dataset, model=model))
    return pd.concat(parts, ignore_index=True)


def defense_tables(runs: pd.DataFrame) -> None:
    runs = runs.assign(cost=100 * (runs.defended_accuracy - runs.clean_accuracy))
    for attack in BACKDOORS:
        sub = runs[runs.attack == attack]
        asr = sub.pivot_table(index="defense", columns=["dataset", "model"],
                              values="attack_success_defended", sort=False)
        cost = sub.pivot_table(index="defense", columns=["dataset", "model"], values="cost",
                               sort=False)
        clean = sub.groupby(["dataset", "model"], sort=False).attack_success_clean.mean()
        asr.loc["(clean model)"] = clean
        asr.columns = [f"{d}/{m}" for d, m in asr.columns]
        cost.columns = [f"{d}/{m}" for d, m in cost.columns]
        print(f"\n{attack} at {DEFENSE_RATE:.0%}: defended ASR (mean over seeds; last row = "
              "the clean model's ASR, the level to get back to)")
        print(asr.to_string(float_format=lambda v: f"{v:.2f}"))
        print(f"\n{attack} at {DEFENSE_RATE:.0%}: clean-accuracy cost of the defended model "
              "(defended - clean test accuracy, points)")
        print(cost.to_string(float_format=lambda v: f"{v:+.1f}"))
        back = []
        for (dataset, model), g in sub.groupby(["dataset", "model"], sort=False):
            target = g.attack_success_clean.mean() + 0.05
            by = g.groupby("defense", sort=False)
            ok = [(d, 100 * (gg.defended_accuracy - gg.clean_accuracy).mean())
                  for d, gg in by if not DEFENSES[d].is_baseline
                  and gg.attack_success_defended.mean() <= target]
            text = ", ".join(f"{d} ({c:+.1f} pts)" for d, c in ok) or "NONE"
            back.append(f"   {dataset}/{model}: {text}")
        print(f"\n{attack}: non-baseline defenses whose defended ASR is within 0.05 of the clean "
              "model's (clean-accuracy cost)")
        print("\n".join(back))


def timing(jobs: int) -> None:
    print(f"\n3. timing; {load()}")
    for attack in BACKDOORS:
        config = ExperimentConfig(attack=attack)
        run_experiment(config)
        times = []
        for _ in range(5):
            clear_memos()
            t0 = time.perf_counter()
            run_experiment(config)
            times.append(time.perf_counter() - t0)
        med = statistics.median(times)
        print(f"   one run at defaults, attack={attack}: median {1000 * med:.0f} ms, max "
              f"{1000 * max(times):.0f} ms ({'ok' if med <= SINGLE_TARGET_S else 'OVER'})")
    print(f"   full matrix, {len(ATTACKS)} attacks x {len(DEFENSES)} defenses, rate 0.2, 5 seeds, "
          f"n_jobs={jobs}:")
    for dataset in (d for d in DATASETS if d not in REAL_DATASETS):
        t0 = time.perf_counter()
        table = run_matrix(ExperimentConfig(dataset=dataset), rate=0.2, seeds=5, n_jobs=jobs)
        wall = time.perf_counter() - t0
        asr = table[table.attack.isin(BACKDOORS)]
        worst = asr.groupby("attack").attack_success_poisoned_mean.first()
        print(f"   {dataset:8s} {wall:5.1f} s ({'ok' if wall <= MATRIX_TARGET_S else 'OVER'}); "
              f"poisoned ASR {', '.join(f'{a} {v:.2f}' for a, v in worst.items())}; {load()}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=seeds_arg, default=seeds_arg("0-4"))
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--skip-timing", action="store_true")
    args = ap.parse_args(argv)
    pd.set_option("display.width", 250)
    pd.set_option("display.max_columns", 40)
    seeds = args.seeds
    print(f"PoisonLab backdoor bench; seeds {seeds[0]}..{seeds[-1]}; {load()}")
    print(f"backdoors: {', '.join(BACKDOORS)}; defenses: {', '.join(DEFENSES)}\n")
    print("1. attack success rate (ASR) and clean-accuracy change of the poisoned model, "
          "mean over seeds (asr_poisoned_min: the worst seed)")
    t0 = time.perf_counter()
    print(budgets(seeds, args.jobs).to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    print(f"\n2. every defense at a {DEFENSE_RATE:.0%} budget")
    defense_tables(defenses(seeds, args.jobs))
    print(f"\n(sections 1-2: {time.perf_counter() - t0:.0f} s)")
    if not args.skip_timing:
        timing(args.jobs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
