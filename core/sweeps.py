"""Accuracy against poison rate, over several seeds, in parallel."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import pandas as pd

from core._validation import check_int, check_real
from core.attacks import ATTACKS
from core.experiment import ExperimentConfig, run_experiment
from core.parallel import check_n_jobs, check_scheduler, run_tasks

__all__ = ["run_sweep", "summarize_sweep", "SWEEP_COLUMNS", "SWEEP_ASR_COLUMNS",
           "check_rates", "check_seeds"]

SWEEP_COLUMNS: tuple[str, ...] = (
    "poison_rate", "seed", "n_poison", "clean_accuracy", "poisoned_accuracy",
    "defended_accuracy", "precision", "recall", "f1", "n_flagged", "n_clean_lost",
)
#: appended to ``SWEEP_COLUMNS`` when the attack is a backdoor: each model's attack success rate
SWEEP_ASR_COLUMNS: tuple[str, ...] = (
    "attack_success_clean", "attack_success_poisoned", "attack_success_defended")

Progress = Callable[[int, int], None]


def check_rates(rates: Iterable[float]) -> list[float]:
    rates = [check_real("rate", r, 0.0, 1.0, high_open=True) for r in rates]
    if not 1 <= len(rates) <= 200:
        raise ValueError(f"rates has {len(rates)} values; expected 1 to 200")
    return rates


def check_seeds(seeds: int | Sequence[int], first: int = 0) -> list[int]:
    """``seeds`` as a list: an int ``n`` means ``first, first + 1, ..., first + n - 1``."""
    if isinstance(seeds, Sequence):
        out = [check_int("seed", s, 0, 2**32 - 1) for s in seeds]
    else:
        n = check_int("seeds", seeds, 1, 1000)
        out = [check_int("seed", first + i, 0, 2**32 - 1) for i in range(n)]
    if not out:
        raise ValueError("seeds is empty; expected at least one seed")
    return out


def _row(config: ExperimentConfig) -> dict:
    r = run_experiment(config)
    d = r.detection
    return {
        "poison_rate": config.poison_rate, "seed": config.seed, "n_poison": r.n_poison,
        "clean_accuracy": r.clean_accuracy, "poisoned_accuracy": r.poisoned_accuracy,
        "defended_accuracy": r.defended_accuracy, "precision": d.precision, "recall": d.recall,
        "f1": d.f1, "n_flagged": d.n_flagged, "n_clean_lost": d.n_clean_lost,
        **({f"attack_success_{k}": r.attack_success[k] for k in ("clean", "poisoned", "defended")}
           if r.attack_success is not None else {}),
    }


def run_sweep(
    config: ExperimentConfig,
    rates: Iterable[float],
    seeds: int | Sequence[int] = 5,
    *,
    n_jobs: int = 1,
    scheduler: str | None = None,
    progress: Progress | None = None,
) -> pd.DataFrame:
    """Run ``config`` at every poison rate and seed.

    Parameters
    ----------
    config : ExperimentConfig
        Everything but the rate and the seed (its grid is never computed here).
    rates : iterable of float
        Poison rates in [0, 1).
    seeds : int or sequence of int, default=5
        Seeds to average over; an int ``n`` means ``config.seed .. config.seed + n - 1``.
    n_jobs : int, default=1
        Local joblib workers (-1 = all cores); ignored when ``scheduler`` is given.
    scheduler : str, optional
        Address of a running Dask scheduler (``tcp://HOST:PORT``): the runs go to
        its workers instead of local processes, with the same results (see
        :mod:`core.parallel`).
    progress : callable(done, total), optional
        Called after each finished run (in any order; the table is ordered anyway).

    Returns
    -------
    DataFrame
        One row per (rate, seed), columns ``SWEEP_COLUMNS``, ordered by rate then seed;
        for a backdoor also ``SWEEP_ASR_COLUMNS``, each model's attack success rate.
    """
    rates = check_rates(rates)
    seeds = check_seeds(seeds, config.seed)
    n_jobs = check_n_jobs(n_jobs)
    scheduler = check_scheduler(scheduler)
    configs = [config.replace(poison_rate=r, seed=s, grid_resolution=0)
               for r in rates for s in seeds]
    rows = run_tasks(_row, configs, n_jobs=n_jobs, scheduler=scheduler, progress=progress)
    asr = SWEEP_ASR_COLUMNS if ATTACKS[config.attack].backdoor else ()
    return pd.DataFrame(rows, columns=[*SWEEP_COLUMNS, *asr])


def summarize_sweep(table: pd.DataFrame) -> pd.DataFrame:
    """Mean and standard deviation of each accuracy (and attack success rate) per poison rate."""
    cols = ["clean_accuracy", "poisoned_accuracy", "defended_accuracy", "recall", "precision",
            *(c for c in SWEEP_ASR_COLUMNS if c in table.columns)]
    out = table.groupby("poison_rate")[cols].agg(["mean", "std"])
    out.columns = [f"{c}_{s}" for c, s in out.columns]
    return out.fillna(0.0).reset_index()
