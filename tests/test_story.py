"""The loan-fraud story's numbers: live, consistent with the experiment, repeatable."""

import json

import numpy as np
import pytest

from core.datasets import make_loan_frame
from core.defenses import DEFENSES
from core.experiment import derive_seeds, prepare
from core.story import loan_story, story_config


@pytest.fixture(scope="module")
def story():
    return loan_story(0)


def test_story_follows_the_attack_and_the_defense(story):
    n = story.numbers
    r = story.result
    assert r.config == story_config(0).replace(defense=story.defense)
    # the attacker's targets are rejected on clean history and approved after poisoning
    assert n["clean"]["targets_approved"] == 0
    assert n["poisoned"]["targets_approved"] == round(r.target_success["poisoned"] * 5) > 0
    assert n["defended"]["targets_approved"] == round(r.target_success["defended"] * 5)
    assert n["n_fake"] == r.n_poison == round(0.15 * n["n_history"])
    assert n["accuracy_lost"] == pytest.approx(r.clean_accuracy - r.poisoned_accuracy)
    assert n["defended"]["accuracy"] == r.defended_accuracy
    assert n["defense"]["fakes_caught"] == r.detection.n_poison_caught
    assert n["defense"]["records_lost"] == r.detection.n_clean_lost
    assert 0 <= n["defense"]["good_records_lost"] <= n["defense"]["records_lost"]


def test_the_chosen_defense_is_the_matrix_best(story):
    ranking = story.ranking
    assert {row["defense"] for row in ranking} == set(DEFENSES) - {"none", "oracle"}
    keys = [(row["target_success"], -row["accuracy"], row["n_clean_lost"]) for row in ranking]
    assert keys == sorted(keys) and ranking[0]["defense"] == story.defense
    assert ranking[0]["target_success"] == story.result.target_success["defended"]


def test_money_comes_from_the_loan_amounts(story):
    n, r = story.numbers, story.result
    # the targets are rows of the generated loan table; their amounts are those rows'
    frame = make_loan_frame(500, noise=r.config.noise, random_state=derive_seeds(0)[0])
    rows = prepare(r.config).data.rows_train[r.target_index]
    assert np.array_equal(frame[["credit_score", "debt_to_income"]].to_numpy()[rows], r.targets)
    assert np.array_equal(frame.loan_amount.to_numpy()[rows], story.target_amounts)
    assert story.target_amounts.shape == (5,) and (story.target_amounts > 0).all()
    assert n["target_total"] == pytest.approx(story.target_amounts.sum())
    for stage in ("clean", "poisoned", "defended"):
        s = n[stage]
        assert s["expected_loss"] == pytest.approx(s["fraud_loss"] + s["credit_loss"])
        assert 0 <= s["fraud_loss"] <= n["target_total"]
        assert 0 <= s["default_rate"] <= 1 and 0 <= s["approval_rate"] <= 1
        assert s["n_bad_approved"] <= s["n_approved"] <= n["n_book"]
    assert n["clean"]["fraud_loss"] == 0.0
    assert n["loss_added"] == pytest.approx(n["poisoned"]["expected_loss"]
                                            - n["clean"]["expected_loss"])
    assert n["loss_added"] > 0
    # a zero loss-given-default leaves only the fraud
    no_lgd = loan_story(0, loss_given_default=0.0, n_frames=2)
    assert no_lgd.numbers["poisoned"]["credit_loss"] == 0.0
    assert no_lgd.numbers["poisoned"]["fraud_loss"] == n["poisoned"]["fraud_loss"]


def test_frames_accumulate_the_fakes(story):
    frames = story.frames
    n = story.numbers
    assert [f.n_fake for f in frames] == sorted({round(i * n["n_fake"] / 5) for i in range(6)})
    assert frames[0].targets_approved == 0 and frames[-1].targets_approved == \
        n["poisoned"]["targets_approved"]
    assert frames[0].accuracy == n["clean"]["accuracy"]
    assert frames[-1].accuracy == n["poisoned"]["accuracy"]
    grid = story.result.grid
    assert all(f.z.shape == (len(grid.y), len(grid.x)) for f in frames)
    np.testing.assert_allclose(frames[0].z, grid.clean)
    np.testing.assert_allclose(frames[-1].z, grid.poisoned)


def test_same_seed_same_story_other_seed_other_story(story):
    again = loan_story(0)
    assert json.dumps(again.to_dict(), sort_keys=True) == json.dumps(story.to_dict(),
                                                                     sort_keys=True)
    assert loan_story(1, n_frames=2).numbers != story.numbers


@pytest.mark.parametrize("kwargs, match", [
    ({"fake_rate": 0.0}, r"fake_rate=0"),
    ({"fake_rate": 0.9}, r"fake_rate=0.9"),
    ({"loss_given_default": 1.5}, r"loss_given_default=1.5"),
    ({"n_frames": 1}, r"n_frames=1"),
    ({"seed": -1}, r"seed=-1"),
])
def test_story_rejects_bad_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        loan_story(**kwargs)


def test_steps_one_to_three_do_not_depend_on_the_defense(story):
    quick = loan_story(0, defense="none")
    assert quick.ranking == [] and quick.defense == "none"
    assert quick.numbers["defense"]["fakes_caught"] == 0
    for key in ("clean", "poisoned"):
        assert quick.numbers[key] == story.numbers[key]
    assert [f.n_fake for f in quick.frames] == [f.n_fake for f in story.frames]
    for a, b in zip(quick.frames, story.frames, strict=True):
        np.testing.assert_array_equal(a.z, b.z)
    with pytest.raises(ValueError, match="defense='nope'"):
        loan_story(0, defense="nope")
