"""The retraining campaign and its update gates (core/campaign.py)."""

import io
import json

import numpy as np
import pytest

from core.campaign import (
    CAMPAIGN_SCENARIOS,
    GATES,
    CampaignConfig,
    GateInput,
    run_campaign,
)
from core.cli import main

SMALL = CampaignConfig(knobs={"months": 4, "n_history": 150, "batch": 60, "n_book": 200,
                              "n_reference": 150, "n_holdout": 100, "grid_resolution": 10})


def test_same_config_same_campaign_bit_for_bit():
    a, b = run_campaign(SMALL), run_campaign(CampaignConfig.from_dict(SMALL.to_dict()))
    assert json.dumps(a.summary(), sort_keys=True) == json.dumps(b.summary(), sort_keys=True)
    np.testing.assert_array_equal(a.grids, b.grids)
    other = run_campaign(SMALL.replace(seed=1))
    assert other.summary()["months"] != a.summary()["months"]


def test_a_longer_campaign_extends_a_shorter_one():
    short, long = run_campaign(SMALL), run_campaign(SMALL.replace(months=6))
    assert long.months[:5] == short.months
    assert len(long.months) == 7 and long.grids.shape == (7, 10, 10)


def test_the_month_rows_add_up():
    r = run_campaign(SMALL)
    assert [m.month for m in r.months] == list(range(5))
    assert r.months[0].n_attacker == 0 and r.months[0].boundary_moved == 0.0
    totals = np.cumsum([m.n_attacker for m in r.months])
    assert [m.n_attacker_total for m in r.months] == list(totals)
    assert all(0 < m.n_attacker <= round(0.1 * 60) for m in r.months[1:])
    assert len(r.attacker_points) == totals[-1] == len(r.attacker_month)
    assert all(0.0 <= m.accuracy <= 1.0 and 0.0 <= m.approval_rate <= 1.0 for m in r.months)
    # without the attacker, nobody adds applications and the target stays denied
    clean = run_campaign(SMALL, attack=False)
    assert all(m.n_attacker == 0 and not m.target_approved for m in clean.months)
    assert clean.one_shot == {}
    # the one-shot baseline submits the whole campaign's poison in month 1
    assert r.one_shot["submitted"] == r.months[-1].n_attacker_total


def test_the_attackers_applications_are_approved_when_they_enter_the_log():
    r = run_campaign(SMALL.replace(grid_resolution=0))
    assert r.grids is None
    # each month's applications sit inside the approval region of the model deployed then;
    # the clean model denies the target, and its loss counts only once it is approved
    assert not r.months[0].target_approved
    assert r.target_amount > 0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_oracle_defense_removes_every_attacker_application(seed):
    r = run_campaign(SMALL.replace(seed=seed, defense="oracle", months=6), one_shot=False)
    assert not any(m.target_approved for m in r.months)
    assert [m.n_flagged for m in r.months[1:]] == [m.n_attacker_total for m in r.months[1:]]


def test_a_window_keeps_only_recent_months():
    r = run_campaign(SMALL.replace(window=1), one_shot=False)
    assert all(m.n_log == 60 + m.n_attacker for m in r.months[1:])
    full = run_campaign(SMALL, one_shot=False)
    assert full.months[-1].n_log == 150 + 4 * 60 + full.months[-1].n_attacker_total


def inputs(chal_acc, champ_acc, first_acc, chal, champ, first):
    return GateInput(chal_acc, champ_acc, first_acc, np.array(chal, bool), np.array(champ, bool),
                     np.array(first, bool))


def test_the_accuracy_gate_compares_with_the_anchor_it_is_told():
    gate = GATES["accuracy"](delta=0.02)
    ok, why = gate.decide(inputs(0.85, 0.86, 0.90, [1], [1], [1]))
    assert not ok and "0.050 below the first model's 0.900" in why
    ok, _ = GATES["accuracy"](delta=0.02, against="deployed").decide(
        inputs(0.85, 0.86, 0.90, [1], [1], [1]))
    assert ok  # one small step against the running model: the boiling frog passes
    assert gate.decide(inputs(0.89, 0.80, 0.90, [1], [1], [1]))[0]


def test_the_shift_gate_counts_changed_decisions_or_the_rate():
    first = [1, 1, 0, 0]
    gate = GATES["shift"](tau=0.25)
    assert gate.decide(inputs(1, 1, 1, [1, 1, 1, 0], first, first))[0]  # 1 of 4 changed
    ok, why = gate.decide(inputs(1, 1, 1, [1, 1, 1, 1], first, first))
    assert not ok and "50.0% of the reference decisions changed" in why
    rate = GATES["shift"](tau=0.25, measure="rate")
    assert rate.decide(inputs(1, 1, 1, [0, 0, 1, 1], first, first))[0]  # same rate, all moved


def test_the_champion_challenger_gate_wants_the_challenger_at_least_as_good():
    gate = GATES["champion_challenger"](margin=0.0)
    assert not gate.decide(inputs(0.85, 0.86, 0.9, [1], [1], [1]))[0]
    assert gate.decide(inputs(0.86, 0.86, 0.9, [1], [1], [1]))[0]


def test_a_gate_that_rejects_keeps_the_running_model():
    r = run_campaign(SMALL.replace(gate="shift", gate_params={"tau": 0.0}), one_shot=False)
    rejected = [m for m in r.months[1:] if not m.deployed]
    assert rejected and "tau 0" in rejected[0].verdict
    first = r.months[0]
    for m in r.months[1:]:  # nothing deployed that changes a reference decision
        assert m.boundary_moved == 0.0 and m.target_approved == first.target_approved


@pytest.mark.parametrize("changes, match", [
    ({"knobs": {"months": 0}}, r"months=0 is out of range; expected an integer in \[1, 36\]"),
    ({"knobs": {"monthz": 3}}, r"campaign has no parameter 'monthz'; its parameters: months"),
    ({"gate": "wall"}, r"gate='wall' is not one of: none, accuracy, shift"),
    ({"gate": "shift", "gate_params": {"tau": 2}}, r"tau=2 is out of range"),
    ({"defense": "lof", "defense_params": {"k": 3}}, r"lof has no parameter 'k'"),
    ({"dataset": "digits"}, r"dataset='digits' is not one of: loan"),
    ({"knobs": {"attack_rate": 0.9}}, r"attack_rate=0.9 is out of range"),
])
def test_bad_campaign_configs_name_the_value(changes, match):
    with pytest.raises(ValueError, match=match):
        CampaignConfig(**changes)


def test_from_dict_refuses_unknown_fields():
    with pytest.raises(ValueError, match=r"unknown campaign config field\(s\): colour"):
        CampaignConfig.from_dict({"colour": 1})


def cli(*args):
    out = io.StringIO()
    return main(list(args), out=out), out.getvalue()


def test_the_cli_runs_a_campaign_with_declared_flags(capsys):
    status, out = cli("campaign", "--months", "3", "--batch", "50", "--gate", "shift",
                      "--gate-param", "tau=0.5", "--json")
    assert status == 0
    summary = json.loads(out)
    assert len(summary["months"]) == 4 and summary["config"]["gate_params"]["tau"] == 0.5
    assert summary["config"]["knobs"]["batch"] == 50
    status, out = cli("campaign", "--months", "2", "--no-attack", "--csv", "-")
    assert status == 0 and out.splitlines()[0].startswith("seed,defense,gate,month")
    status, out = cli("campaign", "--months", "2")
    assert status == 0 and "target ($" in out and "one-shot baseline" in out
    for args, needle in ((["--gate", "wall"], "gate='wall' is not one of"),
                         (["--months", "99"], "months=99 is out of range"),
                         (["--gate-param", "tau=0.1"], "none has no parameter 'tau'"),
                         (["--scenario", "nope"], "scenario='nope' is not one of: loan-campaign")):
        status, _ = cli("campaign", *args)
        err = capsys.readouterr().err
        assert status == 2 and needle in err and len(err.strip().splitlines()) == 1


def test_the_named_campaigns_are_valid_configs():
    for name, config in CAMPAIGN_SCENARIOS.items():
        assert CampaignConfig.from_dict(config.to_dict()) == config, name


def test_the_dashboard_draws_the_campaign_three_ways():
    from core import scenario_config
    from dashboard.callbacks.campaign import compute_campaign, render_campaign

    store = {"config": scenario_config("loan-fraud").to_dict(), "scenario": None,
             "problems": []}
    calls = []
    payload = compute_campaign(calls.append, store, "shift")
    assert set(payload["variants"]) == {"none", "defense", "gate"}
    assert calls[-1][0] == calls[-1][1] and "one-shot" in calls[-1][2]
    assert json.loads(json.dumps(payload)) == payload  # fits a dcc.Store
    timeline, months = render_campaign(payload, "gate", store)
    gated = payload["variants"]["gate"]["months"]
    assert len(months.frames) == 13
    # the slider marks the months whose update the gate rejected, as core decided them
    assert [s.label for s in months.layout.sliders[0].steps] == [
        f"{m['month']}" + ("" if m["deployed"] else " ✗") for m in gated]
    assert any(not m["deployed"] for m in gated)
    # the regions are the deployed model's decision, one flat color each side
    for frame, grid in zip(months.frames, payload["variants"]["gate"]["grids"], strict=True):
        assert set(np.unique(frame.data[0].z)) <= {-1, 0, 1}
        np.testing.assert_array_equal(frame.data[0].z, np.sign(grid))
    names = {t.name for t in timeline.data}
    assert {"no defense", "update gate: shift"} <= names
    assert compute_campaign(calls.append, store, "wall") == {
        "error": "gate='wall' is not one of: accuracy, shift, champion_challenger"}
