"""The loan-fraud story's numbers: the campaign's, live, consistent and repeatable."""

import json

import numpy as np
import pytest

from core.campaign import GATES, run_campaign
from core.story import loan_story, story_config


@pytest.fixture(scope="module")
def story():
    return loan_story(1)


def test_the_story_is_the_loan_campaign(story):
    c, n = story.campaign, story.numbers
    assert c.config == story_config(1)
    assert c.config.gate == "none" and c.config.defense == "none"
    again = run_campaign(story_config(1))
    assert [m.accuracy for m in again.months] == [m.accuracy for m in c.months]
    # the month the target is first approved, and what the log held then
    assert n["month_reached"] == c.months_to_target is not None
    at = c.months[n["month_reached"]]
    assert (n["n_attacker_reached"], n["n_log_reached"]) == (at.n_attacker_total, at.n_log)
    assert n["clean"]["target_approved"] is False and n["reached"]["target_approved"] is True
    assert n["per_month"] == round(0.1 * n["batch"])
    assert 0 < n["n_attacker"] <= n["per_month"] * n["months"]
    # the damage is measured against the same months of retraining without the ring
    q = story.quiet
    assert q.months[-1].n_attacker_total == 0 and len(q.months) == len(c.months)
    assert n["accuracy_lost"] == pytest.approx(q.months[-1].accuracy - c.months[-1].accuracy)
    assert n["loss_added"] == pytest.approx(c.months[-1].expected_loss
                                            - q.months[-1].expected_loss)
    assert n["one_shot"] == c.one_shot and n["one_shot"]["submitted"] == n["n_attacker"]


def test_money_splits_into_the_target_and_bad_loans(story):
    n, amount = story.numbers, story.campaign.target_amount
    assert n["target"]["amount"] == amount > 0
    for stage in ("clean", "poisoned", "reached", "quiet", "defended"):
        s = n[stage]
        assert s["expected_loss"] == pytest.approx(s["fraud_loss"] + s["credit_loss"])
        assert s["fraud_loss"] == (amount if s["target_approved"] else 0.0)
        assert s["credit_loss"] >= 0
    no_lgd = loan_story(1, loss_given_default=0.0, gate="none")
    assert no_lgd.numbers["poisoned"]["credit_loss"] == 0.0
    assert no_lgd.numbers["poisoned"]["fraud_loss"] == n["poisoned"]["fraud_loss"]


def test_the_gate_told_is_the_best_of_the_gates(story):
    ranking = story.ranking
    assert [r["gate"] for r in ranking] != [] and \
        {r["gate"] for r in ranking} == set(GATES) - {"none"}
    keys = [(r["months_approved"], r["rejected_clean"], -r["accuracy"]) for r in ranking]
    assert keys == sorted(keys) and ranking[0]["gate"] == story.gate
    g, gated = story.numbers["gate"], story.gated
    assert gated.config == story_config(1).replace(gate=story.gate)
    assert g["rejected"] == gated.rejected_updates
    assert g["rejected_clean"] == story.gated_quiet.rejected_updates
    assert story.gated_quiet.months[-1].n_attacker_total == 0
    assert g["months_to_target"] == gated.months_to_target
    assert story.numbers["loss_avoided"] == pytest.approx(
        story.numbers["poisoned"]["expected_loss"] - gated.months[-1].expected_loss)
    if g["rejected"]:
        first = next(m for m in gated.months if m.month and not m.deployed)
        assert (g["first_rejected"], g["first_verdict"]) == (first.month, first.verdict)


def test_same_seed_same_story_other_seed_other_story(story):
    again = loan_story(1)
    assert json.dumps(again.to_dict(), sort_keys=True) == json.dumps(story.to_dict(),
                                                                     sort_keys=True)
    assert loan_story(2, gate="none").numbers != loan_story(1, gate="none").numbers


@pytest.mark.parametrize("kwargs, match", [
    ({"attack_rate": 0.0}, r"attack_rate=0"),
    ({"attack_rate": 0.9}, r"attack_rate=0.9"),
    ({"loss_given_default": 1.5}, r"loss_given_default=1.5"),
    ({"months": 0}, r"months=0"),
    ({"seed": -1}, r"seed=-1"),
    ({"gate": "moat"}, r"gate='moat'"),
])
def test_story_rejects_bad_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        loan_story(**kwargs)


def test_steps_one_to_three_do_not_depend_on_the_gate(story):
    quick = loan_story(1, gate="none")
    assert quick.ranking == [] and quick.gated is None and quick.gate == "none"
    assert "gate" not in quick.numbers and "defended" not in quick.numbers
    for key in ("clean", "poisoned", "reached", "quiet", "one_shot", "month_reached"):
        assert quick.numbers[key] == story.numbers[key]
    np.testing.assert_array_equal(quick.campaign.grids, story.campaign.grids)
    told = loan_story(1, gate="accuracy")
    assert told.ranking == [] and told.gate == "accuracy"
    assert told.numbers["gate"]["n_candidates"] == 1


@pytest.mark.parametrize("seed", [0, 1])
def test_the_gate_step_says_whether_it_held(seed):
    """Seed 0: no gate at its defaults stops the campaign; seed 1: the best one does."""
    from dashboard.story_layout import step_text
    from tests.test_story_page import text_of

    s = loan_story(seed)
    best = s.numbers["gate"]
    assert (best["months_to_target"] is None) == any(r["months_to_target"] is None
                                                      for r in s.ranking)
    text = text_of(step_text(s, 4))
    if best["months_to_target"] is None:
        assert "does not hold" not in text and "denying the target" in text
    else:
        assert "does not hold" in text
        assert f"the target is approved in month {best['months_to_target']}" in text
