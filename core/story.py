"""The loan-fraud story: a self-retraining loan model poisoned month by month, in business numbers.

Everything a presenter shows is computed here, live, from one ``seed``, on the
``loan-campaign`` scenario of :mod:`core.campaign` (a linear SVM retrained every
month on the bank's own decided applications):

1. **The model** -- the month-0 model, trained on clean history: accuracy on
   the bank's book of new applications, approval rate, expected loss.
2. **The attack** -- a fraud ring wants one high-value application approved
   that the model denies. Every month it submits a few applications just inside
   today's approval region, a little closer to its target; today's model
   approves them, they join the training log labelled "approved", and the next
   model's boundary moves towards them (``campaign.grids``, one per month).
3. **The damage** -- the month the target is approved, the money lost, and how
   little the accuracy moved; the same poison submitted at once (the one-shot
   baseline) for comparison.
4. **The defense** -- the update gate that, on this very seed, best holds the
   line (the target stays denied, then the fewest clean updates rejected); what
   it costs: the clean updates it rejects on the same months with no attacker.
5. **What to do.**

Money. Loss is the campaign's loss model: an approved target is lost in full (the
fraudster never repays); an approved application that would have gone bad loses
``loss_given_default`` of its amount (0.45 by default: the Basel II foundation-IRB
LGD for senior unsecured exposures). These are stated assumptions, not data.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

from core._validation import check_choice, check_int, check_real
from core.campaign import (
    CAMPAIGN_SCENARIOS,
    GATES,
    CampaignConfig,
    CampaignResult,
    Month,
    run_campaign,
)

__all__ = ["LoanStory", "loan_story", "story_config", "CURRENCY", "STORY_SCENARIO"]

CURRENCY = "$"
#: the campaign the story tells
STORY_SCENARIO = "loan-campaign"


def story_config(seed: int = 0, *, months: int = 12, attack_rate: float = 0.1,
                 loss_given_default: float = 0.45, grid_resolution: int = 60) -> CampaignConfig:
    """The campaign behind the story: the ``loan-campaign`` scenario for ``seed``."""
    return CAMPAIGN_SCENARIOS[STORY_SCENARIO].replace(
        seed=seed, months=months, attack_rate=attack_rate,
        loss_given_default=loss_given_default, grid_resolution=grid_resolution)


def _stage(m: Month, target_amount: float) -> dict[str, Any]:
    """The numbers of the model running after month ``m``."""
    fraud = target_amount if m.target_approved else 0.0
    return {"month": m.month, "accuracy": m.accuracy, "approval_rate": m.approval_rate,
            "target_approved": m.target_approved, "expected_loss": m.expected_loss,
            "fraud_loss": fraud, "credit_loss": m.expected_loss - fraud,
            "good_denied": m.good_denied, "boundary_moved": m.boundary_moved}


def _gate_row(name: str, attacked: CampaignResult, quiet: CampaignResult) -> dict[str, Any]:
    last = attacked.months[-1]
    rejected = [m for m in attacked.months if m.month > 0 and not m.deployed]
    return {"gate": name, "summary": GATES[name].summary,
            "params": dict(attacked.config.gate_params),
            "months_to_target": attacked.months_to_target,
            "months_approved": sum(m.target_approved for m in attacked.months),
            "target_approved": last.target_approved,
            "rejected": len(rejected), "rejected_clean": quiet.rejected_updates,
            "first_rejected": rejected[0].month if rejected else None,
            "first_verdict": rejected[0].verdict if rejected else "",
            "accuracy": last.accuracy, "good_denied": last.good_denied,
            "expected_loss": last.expected_loss}


def _gate_key(row: dict[str, Any], order: int) -> tuple:
    """Best first: the target denied in more months, fewer clean updates rejected, accuracy."""
    return (row["months_approved"], row["rejected_clean"], -row["accuracy"], order)


@dataclass(frozen=True, eq=False)
class LoanStory:
    """All the story's numbers and pictures for one seed (see the module docstring).

    ``campaign``: the attack with no defense and no gate (its ``grids`` are the
    months the page animates); ``quiet``: the same months with no attacker (what
    retraining alone does); ``gated`` / ``gated_quiet``: the chosen gate with and
    without the attacker (``None`` when the story was computed without step 4).
    """

    campaign: CampaignResult
    quiet: CampaignResult
    gated: CampaignResult | None
    gated_quiet: CampaignResult | None
    ranking: list[dict[str, Any]]  # one row per gate, best first
    numbers: dict[str, Any]
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def config(self) -> CampaignConfig:
        return self.campaign.config

    @property
    def seed(self) -> int:
        return self.config.seed

    @property
    def gate(self) -> str:
        return self.gated.config.gate if self.gated is not None else "none"

    @property
    def loss_given_default(self) -> float:
        return float(self.config.knobs["loss_given_default"])

    def to_dict(self) -> dict[str, Any]:
        """The numbers, JSON-ready and identical run after run."""
        return {"seed": self.seed, "gate": self.gate, "currency": CURRENCY,
                "loss_given_default": self.loss_given_default,
                "numbers": self.numbers, "ranking": self.ranking,
                "months": {name: [asdict(m) for m in r.months]
                           for name, r in (("campaign", self.campaign), ("quiet", self.quiet),
                                           ("gated", self.gated),
                                           ("gated_quiet", self.gated_quiet))
                           if r is not None},
                "config": self.config.to_dict()}


def loan_story(seed: int = 0, *, months: int = 12, attack_rate: float = 0.1,
               loss_given_default: float = 0.45, grid_resolution: int = 60,
               gate: str | None = None) -> LoanStory:
    """Compute the whole story for ``seed``; same arguments, same story.

    Parameters
    ----------
    seed : int
        Drives the applications, the attacker and the target.
    months : int, default=12
        Months of retraining, 1 to 36.
    attack_rate : float, default=0.1
        The fraud ring's applications per month, as a share of the month's 100
        genuine ones, in (0, 0.5].
    loss_given_default : float, default=0.45
        Share of a bad loan's amount the bank loses, in [0, 1].
    grid_resolution : int, default=60
        Decision-function grid per axis (10 to 200).
    gate : str, optional
        None (the story): run every update gate against this seed's campaign and
        tell the best. A gate's name: tell that one and skip the ranking. ``"none"``:
        steps 1-3 only (they do not depend on the gate), fastest.
    """
    t0 = time.perf_counter()
    check_real("attack_rate", attack_rate, 0.0, 0.5, low_open=True)
    check_real("loss_given_default", loss_given_default, 0.0, 1.0)
    check_int("months", months, 1, 36)
    check_int("grid_resolution", grid_resolution, 10, 200)
    config = story_config(seed, months=months, attack_rate=attack_rate,
                          loss_given_default=loss_given_default,
                          grid_resolution=grid_resolution)
    if gate is not None:
        check_choice("gate", gate, GATES)
    timings: dict[str, float] = {}

    campaign = run_campaign(config)
    quiet = run_campaign(config.replace(grid_resolution=0), attack=False, one_shot=False)
    timings["campaign"] = time.perf_counter() - t0

    candidates = [g for g in GATES if g != "none"] if gate is None else \
        ([gate] if gate != "none" else [])
    runs = {g: (run_campaign(config.replace(gate=g), one_shot=False),
                run_campaign(config.replace(gate=g, grid_resolution=0), attack=False,
                             one_shot=False)) for g in candidates}
    ranking = sorted((_gate_row(g, *runs[g]) for g in candidates),
                     key=lambda row: _gate_key(row, candidates.index(row["gate"])))
    gated, gated_quiet = runs[ranking[0]["gate"]] if ranking else (None, None)
    if gate is not None:
        ranking = []  # told, not chosen
    timings["gates"] = time.perf_counter() - t0 - timings["campaign"]

    amount = campaign.target_amount
    reached = campaign.months_to_target
    at = campaign.months[reached if reached is not None else -1]
    view = campaign.view
    target_xy = view.project(campaign.target[None])[0]
    numbers: dict[str, Any] = {
        "months": months, "batch": config.knobs["batch"],
        "n_history": config.knobs["n_history"], "n_book": config.knobs["n_book"],
        "n_reference": config.knobs["n_reference"], "n_holdout": config.knobs["n_holdout"],
        "per_month": int(round(attack_rate * config.knobs["batch"])),
        "n_attacker": campaign.months[-1].n_attacker_total,
        "n_log": campaign.months[-1].n_log,
        "month_reached": reached,
        "n_attacker_reached": at.n_attacker_total, "n_log_reached": at.n_log,
        "target": {"amount": amount, "x": float(target_xy[0]), "y": float(target_xy[1]),
                   "axes": list(view.axis_names)},
        "clean": _stage(campaign.months[0], amount),
        "poisoned": _stage(campaign.months[-1], amount),
        "reached": _stage(at, amount),
        "quiet": _stage(quiet.months[-1], amount),
        "one_shot": dict(campaign.one_shot),
    }
    numbers["accuracy_lost"] = numbers["quiet"]["accuracy"] - numbers["poisoned"]["accuracy"]
    numbers["loss_added"] = numbers["poisoned"]["expected_loss"] - \
        numbers["quiet"]["expected_loss"]
    if gated is not None:
        row = _gate_row(gated.config.gate, gated, gated_quiet)
        numbers["defended"] = _stage(gated.months[-1], amount)
        numbers["gate"] = {**row, "n_candidates": len(candidates) if gate is None else 1}
        numbers["loss_avoided"] = numbers["poisoned"]["expected_loss"] - \
            numbers["defended"]["expected_loss"]
    timings["total"] = time.perf_counter() - t0
    return LoanStory(campaign, quiet, gated, gated_quiet, ranking, numbers, timings)
