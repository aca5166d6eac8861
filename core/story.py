"""The loan-fraud story: a targeted poisoning attack on a loan-approval model, in business numbers.

Everything a presenter shows is computed here, live, from one ``seed``:

1. **The model** -- the bank's approval model trained on clean history: test
   accuracy, approval rate and the default rate among approved applications.
2. **The attack** -- fraudsters submit fake applications, all marked
   approved, crafted (:class:`~core.attacks.TargetedInjection`) so that the
   retrained model approves the fraudsters' own target applications. The
   boundary is refitted as the fakes accumulate (``frames``).
3. **The damage** -- the share of the targets approved, the money at stake,
   the accuracy lost.
4. **The defense** -- the defense that, in the attack x defense matrix for
   this very run, best denies the targets again (fewest targets approved,
   then highest accuracy, then fewest good records lost); what it caught and
   what it cost.

Money. The ``loan`` data is synthetic (see :func:`~core.datasets.make_loan_frame`)
and carries a requested ``loan_amount`` per application. A target that is
approved is a fraud loss of its full amount (the fraudster never repays). In
the bank's book of held-out applications, a ``deny``-labelled application is
one the bank's own rule says is not creditworthy; approving it costs
``loss_given_default`` times its amount (0.45 by default: the Basel II
foundation-IRB LGD for senior unsecured exposures). These are stated
assumptions, not data; change them with the parameters.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from core._validation import check_choice, check_int, check_real
from core.datasets import LOAN_VIEW, make_loan_frame
from core.defenses import DEFENSES
from core.experiment import (
    ExperimentConfig,
    ExperimentResult,
    decision_grid,
    derive_seeds,
    prepare,
    run_experiment,
)
from core.matrix import matrix_runs
from core.models import fit_clone

__all__ = ["LoanStory", "StoryFrame", "loan_story", "story_config", "STORY_ATTACK", "CURRENCY"]

STORY_ATTACK = "targeted_injection"
CURRENCY = "$"


def story_config(seed: int = 0, *, n_applications: int = 500, fake_rate: float = 0.15,
                 grid_resolution: int = 60) -> ExperimentConfig:
    """The experiment behind the story: ``loan`` data, RBF SVM, targeted injection.

    ``fake_rate`` is fake applications per genuine one in the retraining set; 10% of
    the applications are a trusted, hand-checked sample the defenses may use.
    """
    return ExperimentConfig(
        dataset="loan", n_samples=n_applications, test_fraction=0.4, trusted_fraction=0.1,
        attack=STORY_ATTACK, poison_rate=fake_rate, defense="none", model="svm", kernel="rbf",
        seed=seed, grid_resolution=grid_resolution)


@dataclass(frozen=True, eq=False)
class StoryFrame:
    """The model retrained with the first ``n_fake`` fake applications."""

    n_fake: int
    z: np.ndarray  # decision function on the story's grid (positive = approve)
    approved: np.ndarray  # per target: does this model approve it?
    accuracy: float

    @property
    def targets_approved(self) -> int:
        return int(self.approved.sum())


@dataclass(frozen=True, eq=False)
class LoanStory:
    """All the story's numbers and pictures for one seed (see the module docstring)."""

    result: ExperimentResult  # the run with the chosen defense
    frames: tuple[StoryFrame, ...]
    ranking: list[dict[str, Any]]  # one row per candidate defense, best first
    numbers: dict[str, Any]
    target_amounts: np.ndarray
    target_approved: dict[str, np.ndarray]  # per stage (clean, poisoned, defended), per target
    loss_given_default: float
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def seed(self) -> int:
        return self.result.config.seed

    @property
    def defense(self) -> str:
        return self.result.config.defense

    def to_dict(self) -> dict[str, Any]:
        """The numbers, JSON-ready and identical run after run."""
        return {"seed": self.seed, "defense": self.defense, "currency": CURRENCY,
                "loss_given_default": self.loss_given_default,
                "numbers": self.numbers, "ranking": self.ranking,
                "frames": [{"n_fake": f.n_fake, "targets_approved": f.targets_approved,
                            "accuracy": f.accuracy} for f in self.frames],
                "targets": [{"credit_score": float(x[0]), "debt_to_income": float(x[1]),
                             "loan_amount": float(a),
                             **{f"approved_{k}": bool(v[i]) for k, v in
                                self.target_approved.items()}}
                            for i, (x, a) in enumerate(zip(self.result.targets,
                                                           self.target_amounts, strict=True))],
                "config": self.result.config.to_dict()}


def _book(model, X: np.ndarray, y: np.ndarray, amounts: np.ndarray, lgd: float) -> dict:
    """What a model does to the bank's book of applications ``X`` (true labels ``y``)."""
    approved = model.predict(X) == 1
    bad = approved & (y == 0)
    return {
        "accuracy": float(np.mean(model.predict(X) == y)),
        "approval_rate": float(approved.mean()),
        "default_rate": float(bad.sum() / approved.sum()) if approved.any() else 0.0,
        "n_approved": int(approved.sum()),
        "n_bad_approved": int(bad.sum()),
        "credit_loss": float(lgd * amounts[bad].sum()),
    }


def _rank(config: ExperimentConfig) -> list[dict[str, Any]]:
    """Every real defense against the story's attack on this seed, best first."""
    candidates = [d for d, cls in DEFENSES.items() if not cls.is_baseline]
    runs = matrix_runs(config.replace(grid_resolution=0), [STORY_ATTACK], candidates,
                       seeds=[config.seed])
    order = {d: i for i, d in enumerate(candidates)}
    rows = [{"defense": r.defense, "summary": DEFENSES[r.defense].summary,
             "target_success": float(r.target_success_defended),
             "accuracy": float(r.defended_accuracy), "recall": float(r.recall),
             "precision": float(r.precision), "n_clean_lost": int(r.n_clean_lost)}
            for r in runs.itertuples()]
    rows.sort(key=lambda r: (r["target_success"], -r["accuracy"], r["n_clean_lost"],
                             order[r["defense"]]))
    return rows


def loan_story(seed: int = 0, *, n_applications: int = 500, fake_rate: float = 0.15,
               loss_given_default: float = 0.45, n_frames: int = 6,
               grid_resolution: int = 60, defense: str | None = None) -> LoanStory:
    """Compute the whole story for ``seed``; same arguments, same story.

    Parameters
    ----------
    seed : int
        Drives the data, the attack and the defenses.
    n_applications : int, default=500
        Applications generated: 60% are the training history, 10% the trusted
        sample, 30% the held-out book the numbers are measured on.
    fake_rate : float, default=0.15
        Fake applications per genuine training application, in (0, 0.5].
    loss_given_default : float, default=0.45
        Share of a bad loan's amount the bank loses, in [0, 1].
    n_frames : int, default=6
        Snapshots of the boundary as the fakes accumulate (first = no fakes).
    grid_resolution : int, default=60
        Decision-function grid per axis.
    defense : str, optional
        None (the story): rank every real defense on this run and use the best. A
        registry name: use that one and skip the ranking (``ranking`` is then empty);
        steps 1-3 do not depend on it, so ``defense="none"`` computes them fastest.
    """
    import time

    t0 = time.perf_counter()
    fake_rate = check_real("fake_rate", fake_rate, 0.0, 0.5, low_open=True)
    lgd = check_real("loss_given_default", loss_given_default, 0.0, 1.0)
    n_frames = check_int("n_frames", n_frames, 2, 20)
    config = story_config(seed, n_applications=n_applications, fake_rate=fake_rate,
                          grid_resolution=check_int("grid_resolution", grid_resolution, 10, 200))
    timings: dict[str, float] = {}

    if defense is None:
        ranking = _rank(config)
        chosen = ranking[0]["defense"]
    else:
        ranking, chosen = [], check_choice("defense", defense, DEFENSES)
    timings["rank"] = time.perf_counter() - t0
    result = run_experiment(config.replace(defense=chosen))
    timings["run"] = time.perf_counter() - t0 - timings["rank"]

    # the loan amounts: regenerate the table the dataset was drawn from, check it lines up
    prep = prepare(config)
    frame = make_loan_frame(config.n_samples, noise=config.noise,
                            random_state=derive_seeds(config.seed)[0])
    view = frame[list(LOAN_VIEW)].to_numpy(dtype=float)
    if not (np.array_equal(view[prep.data.rows_train], result.X_clean)
            and np.array_equal(view[prep.rows_test], result.X_test)):
        raise RuntimeError("loan amounts do not line up with the generated data")
    amounts = frame["loan_amount"].to_numpy(dtype=float)
    book_amounts = amounts[prep.rows_test]
    target_amounts = amounts[prep.data.rows_train][result.target_index]

    model = prep.model
    X_clean, y_clean = result.X_clean, result.y_clean
    fakes = result.X_train[result.is_poison]
    fake_label = result.target_label
    clean_model = fit_clone(model, X_clean, y_clean)
    poisoned_model = fit_clone(model, result.X_train, result.y_train)
    defended_model = (fit_clone(model, result.X_train[result.kept], result.y_defended[result.kept])
                      if result.kept.any() else poisoned_model)

    grid = result.grid
    frames = []
    for k in np.unique(np.linspace(0, len(fakes), n_frames).round().astype(int)):
        m = clean_model if k == 0 else fit_clone(
            model, np.vstack([X_clean, fakes[:k]]),
            np.concatenate([y_clean, np.full(k, fake_label, dtype=y_clean.dtype)]))
        bounds = np.array([[grid.x[0], grid.y[0]], [grid.x[-1], grid.y[-1]]])
        _, _, z = decision_grid((m,), bounds, len(grid.x))
        frames.append(StoryFrame(int(k), z, m.predict(result.targets) == fake_label,
                                 float(m.score(result.X_test, result.y_test))))
    timings["frames"] = time.perf_counter() - t0 - timings["rank"] - timings["run"]

    numbers: dict[str, Any] = {
        "n_history": len(y_clean), "n_book": len(result.y_test), "n_fake": len(fakes),
        "n_trusted": int(prep.trusted[1].size) if prep.trusted is not None else 0,
        "n_targets": len(result.targets), "target_total": float(target_amounts.sum()),
        "target_mean": float(target_amounts.mean()),
    }
    target_approved = {}
    for stage, m in (("clean", clean_model), ("poisoned", poisoned_model),
                     ("defended", defended_model)):
        book = _book(m, result.X_test, result.y_test, book_amounts, lgd)
        approved = target_approved[stage] = m.predict(result.targets) == fake_label
        book["targets_approved"] = int(approved.sum())
        book["fraud_loss"] = float(target_amounts[approved].sum())
        book["expected_loss"] = book["fraud_loss"] + book["credit_loss"]
        numbers[stage] = book
    flagged = ~result.is_clean
    numbers["defense"] = {
        "name": result.config.defense,
        "summary": DEFENSES[result.config.defense].summary,
        "relabels": result.relabels,
        "fakes_caught": int((flagged & result.is_poison).sum()),
        "good_records_lost": int((flagged & ~result.is_poison & (result.y_train == 1)).sum()),
        "records_lost": int((flagged & ~result.is_poison).sum()),
        "n_candidates": len(ranking),
    }
    numbers["accuracy_lost"] = numbers["clean"]["accuracy"] - numbers["poisoned"]["accuracy"]
    numbers["loss_added"] = numbers["poisoned"]["expected_loss"] - numbers["clean"]["expected_loss"]
    numbers["loss_avoided"] = numbers["poisoned"]["expected_loss"] - \
        numbers["defended"]["expected_loss"]
    timings["total"] = time.perf_counter() - t0
    return LoanStory(result, tuple(frames), ranking, numbers, target_amounts, target_approved, lgd,
                     timings)
