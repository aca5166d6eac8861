"""The attack x defense matrix: which defense wins back what against which attack."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import numpy as np
import pandas as pd

from core._validation import check_choice, check_real
from core.attacks import ATTACKS, make_attack
from core.defenses import DEFENSES, defense_from_config
from core.experiment import ExperimentConfig, derive_seeds, prepare
from core.metrics import attack_success_rate, detection_metrics, target_success_rate
from core.models import fit_clone
from core.parallel import check_n_jobs, check_scheduler, run_tasks
from core.sweeps import check_seeds

__all__ = ["run_matrix", "matrix_runs", "matrix_config", "summarize_matrix", "MATRIX_COLUMNS",
           "RUN_COLUMNS", "ASR_COLUMNS", "ASR_MATRIX_COLUMNS", "MATRIX_TRUSTED_FRACTION"]

Progress = Callable[[int, int], None]

#: trusted share used for every cell when a defense needs trusted data and the config has none
MATRIX_TRUSTED_FRACTION = 0.1

#: one row per (attack, defense, seed): what :func:`matrix_runs` returns
RUN_COLUMNS: tuple[str, ...] = (
    "attack", "defense", "seed", "n_poison", "n_test", "clean_accuracy", "poisoned_accuracy",
    "defended_accuracy", "precision", "recall", "f1", "n_flagged", "n_clean_lost", "roc_auc",
    "average_precision", "target_success_poisoned", "target_success_defended",
)
#: appended to ``RUN_COLUMNS`` when the matrix has a backdoor (``ATTACKS[a].backdoor``): each
#: model's attack success rate (NaN in the rows of the other attacks)
ASR_COLUMNS: tuple[str, ...] = (
    "attack_success_clean", "attack_success_poisoned", "attack_success_defended")

_STATS = ("clean_accuracy", "poisoned_accuracy", "defended_accuracy", "drop", "recovered", "f1",
          "precision", "recall", "roc_auc", "average_precision", "target_success_poisoned",
          "target_success_defended")

#: one row per (attack, defense): what :func:`run_matrix` returns
MATRIX_COLUMNS: tuple[str, ...] = (
    "dataset", "poison_rate", "attack", "defense", "n_seeds", "n_poison",
    *(f"{s}_{k}" for s in _STATS for k in ("mean", "std")),
)
#: appended to ``MATRIX_COLUMNS`` when the matrix has a backdoor
ASR_MATRIX_COLUMNS: tuple[str, ...] = tuple(f"{s}_{k}" for s in ASR_COLUMNS
                                            for k in ("mean", "std"))


def _names(kind: str, names: Iterable[str] | None, registry: dict) -> list[str]:
    if names is None:
        return list(registry)
    if isinstance(names, str):
        names = [names]
    out: list[str] = []
    for name in names:
        check_choice(kind, name, registry)
        if name not in out:
            out.append(name)
    if not out:
        raise ValueError(f"{kind}s is empty; expected at least one of: {', '.join(registry)}")
    return out


def _attack_rows(config: ExperimentConfig, defenses: Sequence[str]) -> list[dict]:
    """One attack on one seed, then every defense on that same poisoned set.

    Each row equals what ``run_experiment(config.replace(defense=d))`` reports
    (a test checks it); the attack and the clean and poisoned fits run once.
    """
    prep = prepare(config)
    data, X_test, y_test, trusted, model = prep.data, prep.X_test, prep.y_test, prep.trusted, \
        prep.model
    _, attack_seed, defense_seed = derive_seeds(config.seed)
    poisoned = make_attack(config.attack, config.poison_rate, **config.attack_params).poison(
        data.X_train, data.y_train, model=model, random_state=attack_seed)
    trigger, X_clean = poisoned.trigger, data.X_train
    if trigger is not None:  # a backdoor's added trigger feature: zeros on real data
        X_clean, X_test = trigger.pad(X_clean), trigger.pad(X_test)
        trusted = None if trusted is None else (trigger.pad(trusted[0]), trusted[1])
    clean_model = fit_clone(model, X_clean, data.y_train)
    clean_acc = float(clean_model.score(X_test, y_test))
    poisoned_model = fit_clone(model, poisoned.X, poisoned.y)
    poisoned_acc = float(poisoned_model.score(X_test, y_test))

    def success(m) -> float:  # NaN for untargeted attacks
        if poisoned.targets is None:
            return np.nan
        return target_success_rate(m, poisoned.targets, poisoned.target_label)

    def asr(m) -> float:  # NaN for attacks without a trigger
        if trigger is None:
            return np.nan
        return attack_success_rate(m, X_test, y_test, trigger, poisoned.source_label,
                                   poisoned.target_label)

    success_poisoned = success(poisoned_model)
    asr_clean, asr_poisoned = asr(clean_model), asr(poisoned_model)
    rows = []
    for name in defenses:
        report = defense_from_config(config.replace(defense=name)).sanitize(
            poisoned.X, poisoned.y, model=model, random_state=defense_seed,
            is_poison=poisoned.is_poison, trusted=trusted)
        defended = (fit_clone(model, poisoned.X[report.keep], report.y[report.keep])
                    if report.keep.any() else poisoned_model)
        d = detection_metrics(poisoned.is_poison, report.is_clean, score=report.score)
        rows.append({
            "attack": config.attack, "defense": name, "seed": config.seed,
            "n_poison": d.n_poison, "n_test": len(y_test), "clean_accuracy": clean_acc,
            "poisoned_accuracy": poisoned_acc,
            "defended_accuracy": float(defended.score(X_test, y_test)),
            "precision": d.precision, "recall": d.recall, "f1": d.f1,
            "n_flagged": d.n_flagged, "n_clean_lost": d.n_clean_lost,
            "roc_auc": np.nan if d.roc_auc is None else d.roc_auc,
            "average_precision": np.nan if d.average_precision is None else d.average_precision,
            "target_success_poisoned": success_poisoned,
            "target_success_defended": success(defended),
            "attack_success_clean": asr_clean, "attack_success_poisoned": asr_poisoned,
            "attack_success_defended": asr(defended),
        })
    return rows


def _attack_job(job: tuple[ExperimentConfig, list[str]]) -> list[dict]:
    """One task of :func:`matrix_runs`: ``_attack_rows(config, defenses)``."""
    config, defenses = job
    return _attack_rows(config, defenses)


def matrix_config(config: ExperimentConfig, defenses: Iterable[str]) -> ExperimentConfig:
    """``config`` as every cell of the matrix runs it: no grid, and trusted data if needed.

    If any defense needs a trusted sample (``roni``) and ``config.trusted_fraction``
    is 0, every cell uses ``MATRIX_TRUSTED_FRACTION`` (0.1, or half the test
    fraction if that is smaller), so that all cells are scored on the same test set.
    """
    changes: dict = {"grid_resolution": 0}
    if config.trusted_fraction == 0 and any(DEFENSES[d].needs_trusted for d in defenses):
        changes["trusted_fraction"] = min(MATRIX_TRUSTED_FRACTION, 0.5 * config.test_fraction)
    return config.replace(**changes)


def matrix_runs(
    config: ExperimentConfig,
    attacks: Iterable[str] | None = None,
    defenses: Iterable[str] | None = None,
    rate: float | None = None,
    seeds: int | Sequence[int] = 5,
    *,
    n_jobs: int = 1,
    scheduler: str | None = None,
    progress: Progress | None = None,
) -> pd.DataFrame:
    """Every (attack, defense, seed) run of the matrix: columns ``RUN_COLUMNS`` (and
    ``ASR_COLUMNS`` when an attack is a backdoor).

    Same parameters as :func:`run_matrix`; rows ordered by attack, defense, seed
    (in the order given). ``roc_auc`` / ``average_precision`` are NaN where undefined.
    """
    attacks = _names("attack", attacks, ATTACKS)
    defenses = _names("defense", defenses, DEFENSES)
    rate = config.poison_rate if rate is None else check_real("rate", rate, 0.0, 1.0,
                                                               high_open=True)
    seeds = check_seeds(seeds, config.seed)
    n_jobs = check_n_jobs(n_jobs)
    scheduler = check_scheduler(scheduler)
    base = matrix_config(config, defenses).replace(poison_rate=rate)
    jobs = [base.replace(attack=a, seed=s) for a in attacks for s in seeds]
    parts = run_tasks(_attack_job, [(c, defenses) for c in jobs], n_jobs=n_jobs,
                      scheduler=scheduler, progress=progress)
    rows = [row for part in parts for row in part]
    backdoor = any(ATTACKS[a].backdoor for a in attacks)
    table = pd.DataFrame(rows, columns=[*RUN_COLUMNS, *(ASR_COLUMNS if backdoor else ())])
    order = {"attack": attacks, "defense": defenses, "seed": seeds}
    keys = [table[c].map({v: i for i, v in enumerate(vals)}) for c, vals in order.items()]
    return table.iloc[np.lexsort(keys[::-1])].reset_index(drop=True)


def summarize_matrix(runs: pd.DataFrame, *, dataset: str = "", poison_rate: float = np.nan
                     ) -> pd.DataFrame:
    """Aggregate :func:`matrix_runs` rows to one row per (attack, defense): ``MATRIX_COLUMNS``
    (and ``ASR_MATRIX_COLUMNS`` when ``runs`` has the attack success columns).

    ``drop`` = clean - poisoned accuracy. ``recovered`` per seed =
    (defended - poisoned) / the mean drop over seeds, so ``recovered_mean`` is
    the share of the (mean) accuracy the attack took away that the defense won
    back: 1 = all of it, 0 = nothing, negative = the defense made it worse,
    above 1 = better than the clean model. It is NaN (``null`` in JSON) when
    the mean drop is below one test point (the attack took nothing measurable,
    so there is nothing to recover). Standard deviations are over seeds
    (``ddof=1``; 0 for a single seed); NaN scores (undefined ROC AUC) are skipped.
    """
    runs = runs.assign(drop=runs.clean_accuracy - runs.poisoned_accuracy)
    mean_drop = runs.groupby(["attack", "seed"])["drop"].first().groupby("attack").mean()
    n_test = runs.groupby("attack")["n_test"].min()
    denom = mean_drop.where(mean_drop >= 1.0 / n_test - 1e-12)
    runs = runs.assign(recovered=(runs.defended_accuracy - runs.poisoned_accuracy)
                       / runs.attack.map(denom))
    stats = [*_STATS, *(c for c in ASR_COLUMNS if c in runs.columns)]
    group = runs.groupby(["attack", "defense"], sort=False)
    out = group[stats].agg(["mean", "std"])
    out.columns = [f"{s}_{k}" for s, k in out.columns]
    for s in stats:  # one seed: std 0, not NaN; a NaN mean keeps a NaN std
        col = f"{s}_std"
        out[col] = out[col].where(out[f"{s}_mean"].isna() | out[col].notna(), 0.0)
    out = out.reset_index()
    out.insert(0, "dataset", dataset)
    out.insert(1, "poison_rate", poison_rate)
    out.insert(4, "n_seeds", group.size().to_numpy())
    out.insert(5, "n_poison", group["n_poison"].mean().to_numpy())
    asr = ASR_MATRIX_COLUMNS if ASR_COLUMNS[0] in runs.columns else ()
    return out[[*MATRIX_COLUMNS, *asr]]


def run_matrix(
    config: ExperimentConfig,
    attacks: Iterable[str] | None = None,
    defenses: Iterable[str] | None = None,
    rate: float | None = None,
    seeds: int | Sequence[int] = 5,
    *,
    n_jobs: int = 1,
    scheduler: str | None = None,
    progress: Progress | None = None,
) -> pd.DataFrame:
    """Run every attack against every defense over several seeds; one tidy row per pair.

    Each (attack, seed) is one job: the data, the clean model, the attack and
    the poisoned model are computed once and every defense sanitizes that same
    poisoned set, exactly as :func:`~core.experiment.run_experiment` would run
    ``config.replace(attack=a, defense=d, seed=s, poison_rate=rate)``.

    Parameters
    ----------
    config : ExperimentConfig
        Dataset, model and defense parameters; its attack, defense, seed and
        grid are replaced per cell. If a defense needs trusted data (``roni``)
        and ``config.trusted_fraction`` is 0, every cell -- with every defense
        -- uses a trusted fraction of 0.1 (see :func:`matrix_config`), so all
        cells share one test set.
    attacks, defenses : iterable of str, optional
        Registry names; default all (``ATTACKS``, ``DEFENSES``), in registry order.
    rate : float, optional
        Poison rate in [0, 1); default ``config.poison_rate``.
    seeds : int or sequence of int, default=5
        An int ``n`` means ``config.seed .. config.seed + n - 1``.
    n_jobs : int, default=1
        Local joblib workers (-1 = all cores); ignored when ``scheduler`` is given.
    scheduler : str, optional
        Address of a running Dask scheduler (``tcp://HOST:PORT``): the (attack,
        seed) jobs go to its workers instead of local processes, with the same
        results (see :mod:`core.parallel`).
    progress : callable(done, total), optional
        Called after each (attack, seed) job; ``total = len(attacks) * len(seeds)``.

    Returns
    -------
    DataFrame
        Columns ``MATRIX_COLUMNS``, one row per (attack, defense) in the order
        given: ``<stat>_mean`` and ``<stat>_std`` over seeds for the clean,
        poisoned and defended test accuracies, ``drop`` (clean - poisoned),
        ``recovered`` (share of the drop won back; NaN when the attack took
        less than one test point, see :func:`summarize_matrix`), and the
        detection ``f1``, ``precision``, ``recall``, ``roc_auc``, ``average_precision``;
        for targeted attacks (``targeted_injection``) ``target_success_poisoned`` and
        ``target_success_defended``, the share of the attack's targets the poisoned and
        the defended model give the attacker's label (NaN for untargeted attacks); for
        backdoors (when ``attacks`` has one) ``attack_success_clean/poisoned/defended``
        (``_mean``, ``_std``), each model's attack success rate (held-out source-class test
        points, trigger stamped, given the target label; NaN for the other attacks).
    """
    runs = matrix_runs(config, attacks, defenses, rate, seeds, n_jobs=n_jobs, scheduler=scheduler,
                       progress=progress)
    rate = config.poison_rate if rate is None else float(rate)
    return summarize_matrix(runs, dataset=config.dataset, poison_rate=rate)
