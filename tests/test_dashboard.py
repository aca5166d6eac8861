"""Dashboard logic called as plain functions: state, callbacks, figures, layout, server."""

import json
import os

import numpy as np
import pytest
from dash import no_update

from core import ATTACKS, DEFENSES, SCENARIOS, ExperimentConfig, run_experiment, scenario_config
from dashboard import ids
from dashboard.callbacks.controls import applicable_controls, sync_state
from dashboard.callbacks.experiment import update_panels
from dashboard.callbacks.sweep import compute_sweep, parse_sweep_request, render_sweep
from dashboard.figures import PANELS, color_limit, decision_panel, sweep_figure, untyped
from dashboard.service import compute, compute_in_background, runs_in_background
from dashboard.state import (
    FIELDS,
    config_from_controls,
    controls_from_config,
    query_from_state,
    state_from_query,
)

SMALL = scenario_config("label-flip-moons", n_samples=200)


def store_of(config, scenario=None):
    return {"config": config.to_dict(), "scenario": scenario, "problems": []}


# --- state -----------------------------------------------------------------------------

@pytest.mark.parametrize("name", list(SCENARIOS))
def test_every_scenario_round_trips_through_the_url(name):
    config = scenario_config(name, seed=12)
    scenario, back, problems = state_from_query(query_from_state(name, config))
    assert (scenario, back, problems) == (name, config, [])


def test_empty_url_opens_the_default_scenario():
    scenario, config, problems = state_from_query("")
    assert scenario == "seed-demo" and config == scenario_config("seed-demo") and problems == []


def test_bad_url_values_are_reported_and_skipped():
    scenario, config, problems = state_from_query(
        "?poison-rate=2&kernel=cubic&seed=x&colour=red&dataset=moons")
    assert config.dataset == "moons"
    assert config.poison_rate == scenario_config("seed-demo").poison_rate
    text = " | ".join(problems)
    assert "poison-rate=2 is out of range" in text and "kernel='cubic' is not one of" in text
    assert "seed='x' is not a number" in text and "colour" in text


@pytest.mark.parametrize("control, value, match", [
    (ids.POISON_RATE, 0.9, r"poison-rate=0.9 is out of range; the dashboard offers 0 to 0.6"),
    (ids.POISON_RATE, float("nan"), r"poison-rate=nan is not a finite number"),
    (ids.N_SAMPLES, 10**9, r"n-samples=1e\+09 is out of range"),
    (ids.C, 3.0, r"c=3.0 is not one of the dashboard's choices"),
    (ids.ATTACK, "rm -rf", r"attack='rm -rf' is not one of"),
    (ids.SEED, None, r"seed=None is not a finite number"),
    ("defense.contamination", 0.9, r"contamination=0.9 is out of range; expected a number in "
     r"\(0, 0.5\]"),
    ("defense.k", 0, r"k=0 is out of range; expected an integer in \[1, 100\]"),
    ("defense.mode", "shred", r"mode='shred' is not one of: relabel, drop"),
])
def test_crafted_control_values_are_refused_by_name(control, value, match):
    values = controls_from_config(SMALL)
    if control == "defense.contamination":
        values[ids.DEFENSE] = "isolation_forest"
    values[control] = value
    with pytest.raises(ValueError, match=match):
        config_from_controls(values)


# --- the sync callback -----------------------------------------------------------------

def test_page_load_sets_controls_and_url_from_the_link():
    out = sync_state("?dataset=moons&seed=4", None, {}, None)
    assert out["controls"][ids.DATASET] == "moons" and out["controls"][ids.SEED] == 4
    assert out["search"].startswith("?dataset=moons") and "seed=4" in out["search"]
    assert ExperimentConfig.from_dict(out["store"]["config"]).seed == 4


def test_a_control_change_updates_store_and_url_only():
    values = controls_from_config(SMALL)
    values[ids.POISON_RATE] = 0.35
    out = sync_state("?old", "label-flip-moons", values, ids.POISON_RATE)
    assert out["controls"] is None  # the user's own edit is not written back
    assert out["store"]["config"]["poison_rate"] == 0.35
    assert "poison-rate=0.35" in out["search"]


def test_a_bad_control_value_gives_an_error_not_a_crash():
    values = controls_from_config(SMALL)
    values[ids.NOISE] = "lots"
    out = sync_state("?x", None, values, ids.NOISE)
    assert "noise='lots' is not a number" in out["store"]["error"]
    assert out["search"] is no_update


def test_picking_a_scenario_loads_its_values():
    values = controls_from_config(SMALL)
    out = sync_state("?x", "loan-fraud", values, ids.SCENARIO)
    assert out["controls"][ids.DATASET] == "loan" and out["controls"][ids.ATTACK] == "injection"
    assert out["scenario"] == "loan-fraud"


def test_a_parameter_word_switch_sets_the_word():
    from dashboard.callbacks.controls import param_inputs

    values = controls_from_config(scenario_config("seed-demo"))
    pid = {"type": ids.PARAM, "kind": "defense", "name": "contamination"}
    values.update(param_inputs([pid], [0.3], [{**pid, "type": ids.PARAM_WORD}], [True]))
    out = sync_state("?x", "seed-demo", values, ids.PARAM)
    assert out["store"]["config"]["defense_params"]["contamination"] == "auto"
    assert "defense.contamination=auto" in out["search"]
    assert out["controls"] is None  # the user's own edit is not written back
    values.update(param_inputs([pid], [0.3], [{**pid, "type": ids.PARAM_WORD}], [False]))
    out = sync_state("?x", "seed-demo", values, ids.PARAM)
    assert out["store"]["config"]["defense_params"]["contamination"] == 0.3


def test_switching_defense_carries_over_what_the_new_one_declares():
    seed_demo = scenario_config("seed-demo")  # isolation_forest, contamination 0.25
    values = controls_from_config(seed_demo)
    values[ids.DEFENSE] = "lof"
    out = sync_state("?x", "seed-demo", values, ids.DEFENSE, store_of(seed_demo))
    params = out["store"]["config"]["defense_params"]
    assert params == {"contamination": 0.25, "n_neighbors": 20}
    values = controls_from_config(seed_demo.replace(defense="knn_sanitize"))  # mode relabel
    values[ids.DEFENSE] = "trusted_knn"  # mode drop: a default is not carried over
    out = sync_state("?x", None, values, ids.DEFENSE,
                     store_of(seed_demo.replace(defense="knn_sanitize")))
    assert out["store"]["config"]["defense_params"]["mode"] == "drop"


def test_parameter_controls_are_drawn_from_the_declaration():
    from dashboard.callbacks.controls import render_params
    from dashboard.layout import param_controls

    for kind, registry in (("attack", ATTACKS), ("defense", DEFENSES)):
        for name, cls in registry.items():
            text = json.dumps(param_controls(kind, name, cls.defaults()),
                              cls=__import__("plotly").utils.PlotlyJSONEncoder)
            for spec in cls.params:
                assert json.dumps(spec.name) in text, (name, spec.name)
                assert spec.help in text
            if not cls.params:
                assert "has no parameters" in text
    store = store_of(scenario_config("seed-demo"))
    attack, defense = render_params(store, {})
    assert attack is not no_update and defense is not no_update  # nothing on the page yet
    shown = {"attack.label": 1, "attack.distance": 3.0, "attack.spread": 0.6,
             "defense.contamination": 0.25}
    assert render_params(store, shown) == (no_update, no_update)  # already showing it
    attack, defense = render_params(store, {**shown, "defense.contamination": 0.1})
    assert attack is no_update and defense is not no_update  # e.g. back in the browser


def test_inapplicable_controls_are_hidden_or_disabled():
    (kernel_off, gamma_off, degree_off, noise_max, _,
     noise_style, n_max, n_style, csv_style) = applicable_controls("logreg", "rbf", "linear")
    assert n_style == {} and csv_style == {"display": "none"}
    assert kernel_off and gamma_off and degree_off
    assert noise_max == 0.5 and noise_style == {} and n_max == 4000
    (kernel_off, gamma_off, degree_off, _, _,
     noise_style, n_max, _, _) = applicable_controls("svm", "poly", "digits")
    assert not kernel_off and not gamma_off and not degree_off
    assert noise_style == {"display": "none"} and n_max == 362


def test_switching_to_a_real_dataset_fits_sample_size_and_noise():
    values = controls_from_config(SMALL.replace(n_samples=1000))
    values[ids.DATASET] = "digits"
    out = sync_state("?x", None, values, ids.DATASET)
    assert out["controls"] == {ids.N_SAMPLES: 362, ids.NOISE: 0.0}
    assert out["store"]["config"]["dataset"] == "digits"
    assert out["store"]["config"]["n_samples"] == 362


# --- the compute callback --------------------------------------------------------------

def test_update_panels_shows_what_core_computes():
    out = update_panels(store_of(SMALL))
    r = run_experiment(SMALL)
    figs = [out[p] for p in PANELS]
    clean, poisoned, defended = (out[f"accuracy_{p}"] for p in PANELS)
    assert f"{r.clean_accuracy:.1%}" in str(clean)
    assert f"{r.poisoned_accuracy:.1%}" in str(poisoned)
    assert f"{r.defended_accuracy:.1%}" in str(defended)
    assert f"{r.detection.n_poison_caught} / {r.detection.n_poison}" in str(out["scorecard"])
    assert all(f["data"][0]["type"] == "contour" for f in figs)
    assert out["error_open"] is False  # no alert


def test_update_panels_is_memoized_by_config():
    a = compute(SMALL)
    b = compute(ExperimentConfig.from_dict(SMALL.to_dict()))
    assert a is b


def test_slow_configs_run_as_background_jobs_with_progress():
    slow = SMALL.replace(attack="gradient", poison_rate=0.1, seed=5)
    out = update_panels(store_of(slow))
    job = out["job"]
    assert job == {"config": slow.to_dict(), "key": slow.key()}
    assert "background" in out["clean"]["layout"]["annotations"][0]["text"]
    calls = []
    finished = compute_in_background(calls.append, job)
    assert finished == {"key": slow.key()}
    assert calls[-1] == (100, "100%") and len(calls) > 5
    assert [c[0] for c in calls] == sorted(c[0] for c in calls)
    out = update_panels(store_of(slow), finished, ids.BG_RESULT)
    r = run_experiment(slow)
    assert f"{r.poisoned_accuracy:.1%}" in str(out["accuracy_poisoned"]) and out["job"] is no_update
    # a job that finishes after the user moved on changes nothing
    stale = update_panels(store_of(SMALL), finished, ids.BG_RESULT)
    assert all(v is no_update for v in stale.values())


def _job_that_never_ends(monkeypatch, seed: int, time_limit: float, *, burn_cpu: bool):
    """Run a background experiment whose fit never ends; returns (its answer, seconds)."""
    import threading
    import time

    from dashboard import service

    release = threading.Event()

    def never_ends(config, *, progress=None):
        while not release.wait(0.001 if burn_cpu else 30):
            sum(i * i for i in range(20_000))  # a libsvm fit that takes minutes (CPU-bound)
        raise AssertionError("the job should have given up by now")

    monkeypatch.setattr(service, "run_experiment", never_ends)
    config = SMALL.replace(attack="gradient", seed=seed)
    start = time.perf_counter()
    try:
        finished = compute_in_background(lambda _: None, {"config": config.to_dict()},
                                         time_limit=time_limit)
    finally:
        release.set()
    assert finished["key"] == config.key() and finished["timed_out"]
    return finished, update_panels(store_of(config), finished, ids.BG_RESULT), \
        time.perf_counter() - start


def test_a_background_experiment_that_runs_too_long_stops_with_a_clear_message(monkeypatch):
    from dashboard import service as experiment

    finished, out, seconds = _job_that_never_ends(monkeypatch, 77, 0.5, burn_cpu=True)
    assert seconds < 5
    assert finished["error"].startswith("Stopped after 0.5 s of computing")
    assert "python -m core run --config" in finished["error"]
    assert out["error"] == finished["error"] and out["error_open"] is True  # in the alert
    assert "too slow" in out["clean"]["layout"]["annotations"][0]["text"]
    assert experiment.job_time_limit() == 120
    monkeypatch.setenv("POISONLAB_JOB_TIME_LIMIT", "30")
    assert experiment.job_time_limit() == 30


def test_a_background_experiment_that_only_waits_for_the_cpu_is_not_called_too_slow(
        monkeypatch):
    """Jobs run at the lowest priority: waiting for a core is not the model's fault. The
    limit counts the job's CPU; a job that waited 10x the limit is stopped as too busy."""
    from dashboard import service as experiment

    finished, out, seconds = _job_that_never_ends(monkeypatch, 78, 0.2, burn_cpu=False)
    assert experiment.BUSY_FACTOR * 0.2 <= seconds < 5
    assert finished["busy"] and "the server was too busy" in finished["error"]
    assert "too busy" in out["clean"]["layout"]["annotations"][0]["text"]


def test_fast_configs_are_not_sent_to_the_background():
    assert not runs_in_background(SMALL)
    assert runs_in_background(SMALL.replace(attack="gradient"))
    assert runs_in_background(SMALL.replace(n_samples=4000))


def test_alfa_on_larger_data_runs_in_the_background():
    """ALFA's cost grows fast with the data (~4 s at 1,500 points with a sigmoid kernel)."""
    assert not runs_in_background(SMALL.replace(attack="alfa"))  # 120 training points
    assert runs_in_background(SMALL.replace(attack="alfa", n_samples=1000))  # 600


def test_a_large_C_svm_runs_in_the_background():
    """libsvm can converge very slowly with a large C on poisoned data, even on little data
    (breast_cancer, 180 training points, C=1000: 32 s)."""
    assert runs_in_background(SMALL.replace(C=100.0))
    assert runs_in_background(SMALL.replace(C=1000.0, dataset="breast_cancer", n_samples=300,
                                            noise=0.0, kernel="linear"))
    assert not runs_in_background(SMALL.replace(C=10.0))
    assert not runs_in_background(SMALL.replace(C=1000.0, model="logreg"))
    # a linear SVM with C=10 on many features (digits: ~1.8 s), not on 2-D data
    digits = SMALL.replace(dataset="digits", n_samples=362, noise=0.0, kernel="linear")
    assert runs_in_background(digits.replace(C=10.0))
    assert not runs_in_background(digits.replace(C=1.0))
    assert not runs_in_background(SMALL.replace(C=10.0, kernel="linear"))


def test_refit_heavy_defenses_and_poly_fits_on_more_data_run_in_the_background():
    """Each declares the training points above which it refits too often (its ``cost``):
    foreground only on small data."""
    refitting = {name: cls.cost.above for name, cls in DEFENSES.items()
                 if cls.cost.above is not None and cls.cost.counts == "train"}
    assert refitting  # e.g. trusted_relabel, roni, trim
    for defense, above in refitting.items():
        trusted = 0.1 if DEFENSES[defense].needs_trusted else 0.0
        small = SMALL.replace(defense=defense, trusted_fraction=trusted)
        fits = small.replace(n_samples=int(above / (0.6 - trusted)) // 50 * 50)
        assert not runs_in_background(fits), defense
        assert runs_in_background(fits.replace(n_samples=fits.n_samples + 100)), defense
    # duti solves over every point it sees: injected ones and the trusted sample count
    duti = SMALL.replace(defense="duti", trusted_fraction=0.1, poison_rate=0.2)
    assert not runs_in_background(duti.replace(n_samples=1400))  # 700 * 1.2 + 140 = 980
    assert runs_in_background(duti.replace(n_samples=1450))  # 725 * 1.2 + 145 = 1,015
    assert not runs_in_background(duti.replace(n_samples=1500, poison_rate=0.0))  # 900
    assert runs_in_background(duti.replace(n_samples=1400, poison_rate=0.6))  # 1,260
    poly = SMALL.replace(kernel="poly", n_samples=1650)  # 990 training points
    assert not runs_in_background(poly)
    assert runs_in_background(poly.replace(n_samples=1700))  # 1,020
    assert not runs_in_background(poly.replace(n_samples=1700, model="logreg"))


def test_update_panels_reports_errors():
    out = update_panels({"error": "poison-rate=0.9 is out of range"})
    assert out["error"] == "poison-rate=0.9 is out of range" and out["error_open"] is True
    out = update_panels({"config": {**SMALL.to_dict(), "kernel": "cubic"}})
    assert "kernel='cubic'" in out["error"] and out["error_open"] is True


# --- figures ---------------------------------------------------------------------------

def test_panels_share_axes_and_color_scale_and_mark_the_points():
    r = run_experiment(scenario_config("seed-demo", grid_resolution=30))
    figs = {p: decision_panel(r, p) for p in PANELS}
    ranges = {(tuple(f.layout.xaxis.range), tuple(f.layout.yaxis.range)) for f in figs.values()}
    scales = {(f.data[0].zmin, f.data[0].zmax) for f in figs.values()}
    assert len(ranges) == 1 and len(scales) == 1
    by_name = lambda f: {t.name: t for t in f.data}  # noqa: E731
    assert "poison" not in by_name(figs["clean"])
    poison = by_name(figs["poisoned"])["poison"]
    assert len(untyped(poison.x)) == r.n_poison == 80
    assert np.allclose(untyped(poison.x), r.X_train[r.is_poison, 0], rtol=1e-6)
    assert len(untyped(by_name(figs["defended"])["flagged"].x)) == r.detection.n_flagged
    assert len(untyped(by_name(figs["defended"])["dropped"].x)) == int((~r.kept).sum())
    assert "clean boundary" in by_name(figs["poisoned"])
    z = untyped(figs["clean"].data[0].z)
    assert z.shape == (30, 30) and np.abs(z).max() <= figs["clean"].data[0].zmax


def test_sweep_figure_marks_the_current_rate():
    table = {"poison_rate": [0, 0.1], **{f"{p}_accuracy_{s}": [0.9, 0.8]
                                          for p in PANELS for s in ("mean", "std")}}
    import pandas as pd
    fig = sweep_figure(pd.DataFrame(table), current_rate=0.1)
    assert len(fig.data) == 6 and fig.layout.shapes[0].x0 == 0.1


def test_a_backdoor_sweep_draws_each_models_attack_success():
    from core.sweeps import run_sweep, summarize_sweep

    config = ExperimentConfig(dataset="moons", attack="backdoor", n_samples=200)
    summary = summarize_sweep(run_sweep(config, rates=[0.0, 0.05], seeds=1))
    fig = sweep_figure(summary)
    asr = {t.name: list(t.y) for t in fig.data if (t.name or "").startswith("attack success")}
    assert asr == {f"attack success, {p}": list(summary[f"attack_success_{p}_mean"])
                   for p in PANELS}
    assert asr["attack success, poisoned"][1] > asr["attack success, clean"][1]
    assert len(sweep_figure(summarize_sweep(run_sweep(SMALL, rates=[0.0, 0.1],
                                                      seeds=1))).data) == 6  # no backdoor


# --- sweep callbacks -------------------------------------------------------------------

def test_compute_sweep_reports_progress_and_matches_core():
    calls = []
    out = compute_sweep(calls.append, store_of(SMALL), "0.2", "1")
    assert calls[0][:2] == (0, 9) and calls[-1][0] == calls[-1][1] == 9
    assert [c[0] for c in calls[1:-1]] == list(range(1, 10))
    assert len(out["summary"]["poison_rate"]) == 9
    r = run_experiment(SMALL.replace(poison_rate=0.2))
    assert out["summary"]["poisoned_accuracy_mean"][-1] == pytest.approx(r.poisoned_accuracy)


def test_a_long_sweep_says_how_long_it_is_expected_to_take(monkeypatch):
    from core.experiment import expected_batch_seconds
    from dashboard.callbacks import sweep

    calls = []
    sweep.compute_sweep(calls.append, store_of(SMALL), "0.2", "1")
    assert "expected" not in calls[0][2]  # a quick one does not
    monkeypatch.setattr(sweep, "SHOW_EXPECTED_ABOVE", 0.0)
    calls.clear()
    sweep.compute_sweep(calls.append, store_of(SMALL), "0.2", "1")
    rates = [round(0.2 * i / 8, 4) for i in range(9)]
    want = expected_batch_seconds([SMALL.replace(poison_rate=r) for r in rates])
    assert calls[0][2] == f"running: 0 / 9 runs (~{want:.0f} s expected)"
    assert all(f"of ~{want:.0f} s expected)" in c[2] for c in calls[1:-1])


@pytest.mark.parametrize("store, max_rate, seeds, match", [
    (None, "0.2", "1", "fix the settings"),
    ({"config": SMALL.to_dict()}, "0.25", "1", "sweep maximum 0.25 is not one of"),
    ({"config": SMALL.to_dict()}, "0.2", "1000", "sweep seeds 1000 is not one of"),
    ({"config": SMALL.to_dict()}, "x", "1", "are not numbers"),
])
def test_sweep_request_is_validated(store, max_rate, seeds, match):
    with pytest.raises(ValueError, match=match):
        parse_sweep_request(store, max_rate, seeds)


def test_sweep_render_flags_a_stale_sweep():
    sweep = compute_sweep(lambda p: None, store_of(SMALL), "0.1", "1")
    fresh = render_sweep(sweep, store_of(SMALL.replace(poison_rate=0.05)))
    stale = render_sweep(sweep, store_of(SMALL.replace(kernel="linear")))
    assert not fresh.layout.annotations or all("settings changed" not in a.text
                                               for a in fresh.layout.annotations)
    assert any("settings changed" in a.text for a in stale.layout.annotations)


# --- layout and server -----------------------------------------------------------------

def _ids(component):
    found = set()
    stack = [component]
    while stack:
        c = stack.pop()
        if isinstance(c, (list, tuple)):
            stack.extend(c)
            continue
        if getattr(c, "id", None):
            found.add(c.id if isinstance(c.id, str) else json.dumps(c.id, sort_keys=True))
        children = getattr(c, "children", None)
        if children is not None and not isinstance(children, str):
            stack.append(children)
    return found


def test_layout_has_every_contract_id():
    from dashboard.layout import build_layout
    found = _ids(build_layout())
    contract = {"scenario", "dataset", "attack", "poison-rate", "defense", "attack-params",
                "defense-params", "model", "kernel", "seed", "graph-clean", "graph-poisoned",
                "graph-defended", "graph-sweep", "accuracy-clean", "accuracy-poisoned",
                "accuracy-defended"}
    assert contract <= found
    assert set(FIELDS) <= found


@pytest.fixture(scope="module")
def client():
    from dashboard.app import app
    return app.server.test_client()


def test_healthz(client):
    resp = client.get("/healthz")
    assert resp.status_code == 200 and resp.get_json() == {"status": "ok"}


def test_page_references_no_external_resource(client):
    html = client.get("/").get_data(as_text=True)
    assert "cdn." not in html and "https://" not in html
    assert "bootstrap.min.css" in html and "poisonlab.css" in html


def test_a_crafted_callback_request_gets_a_clear_error_not_a_500(client):
    from tests.dash_http import callback_body

    client.get("/")
    deps = client.get("/_dash-dependencies").get_json()
    sync = next(d for d in deps if d["output"].startswith(f"..{ids.URL}.search..."))
    values = {f"{c}.value": v for c, v in controls_from_config(SMALL).items() if c in FIELDS}
    values[f"{ids.URL}.search"] = "?x"
    values[f"{ids.POISON_RATE}.value"] = "1e308"
    body = callback_body(sync, values, [f"{ids.POISON_RATE}.value"])
    resp = client.post("/_dash-update-component", json=body)
    assert resp.status_code == 200
    store = json.loads(resp.get_data(as_text=True))["response"][ids.CONFIG_STORE]["data"]
    assert store == {"error": "poison-rate=1e+308 is out of range; the dashboard offers 0 to 0.6"}
    # a crafted parameter: refused by its declaration, by name
    pattern = json.dumps({"kind": ["ALL"], "name": ["ALL"], "type": ids.PARAM},
                         separators=(",", ":"), sort_keys=True)
    values[f"{ids.POISON_RATE}.value"] = 0.2
    values[f"{pattern}.value"] = [{"id": {"type": ids.PARAM, "kind": "defense", "name": "k"},
                                   "property": "value", "value": 10**6}]
    values[f"{pattern}.id"] = [{"id": {"type": ids.PARAM, "kind": "defense", "name": "k"},
                                "property": "id",
                                "value": {"type": ids.PARAM, "kind": "defense", "name": "k"}}]
    resp = client.post("/_dash-update-component",
                       json=callback_body(sync, values, [f"{ids.POISON_RATE}.value"]))
    store = json.loads(resp.get_data(as_text=True))["response"][ids.CONFIG_STORE]["data"]
    assert store == {"error": "k=1000000 is out of range; expected an integer in [1, 100]"}


# --- your own data ---------------------------------------------------------------------

FIXTURES = __import__("pathlib").Path(__file__).parent / "fixtures" / "csv"


def _upload(name):
    import base64
    raw = (FIXTURES / name).read_bytes()
    return "data:text/csv;base64," + base64.b64encode(raw).decode()


def test_upload_stores_the_file_and_picks_a_label():
    from dashboard.callbacks.upload import column_options, handle_upload, positive_options
    token, dataset, label, feats, positive, info, label_opts, feat_opts = handle_upload(
        _upload("good_binary.csv"), "good_binary.csv")
    assert (label_opts, feat_opts) == column_options(token)
    assert token.startswith("upload:") and dataset == "csv" and label == "approved"
    assert feats is None and positive is None and "rows" in str(info)
    labels, features = column_options(token)
    assert [o["value"] for o in labels] == ["age", "income", "score", "approved"]
    assert [o["value"] for o in features] == ["age", "income", "score"]
    assert [o["value"] for o in positive_options("approved", token)] == ["no", "yes"]
    # the same bytes give the same token (content-addressed)
    assert handle_upload(_upload("good_binary.csv"), "again.csv")[0] == token


@pytest.mark.parametrize("name, needle", [("empty.csv", "empty"),
                                          ("excel_renamed.csv", "Excel"),
                                          ("duplicate_columns.csv", "duplicate")])
def test_a_bad_upload_explains_itself_and_changes_nothing(name, needle):
    from dashboard.callbacks.upload import handle_upload
    out = handle_upload(_upload(name), name)
    assert all(v is no_update for v in (*out[:5], *out[6:]))
    assert needle.lower() in str(out[5]).lower()


def _csv_upload(n_columns: int, n_rows: int = 40) -> str:
    import base64
    header = ",".join([*(f"f{i}" for i in range(n_columns - 1)), "label"])
    rows = "\n".join(",".join([*(str((r * 7 + c) % 10) for c in range(n_columns - 1)),
                                str(r % 2)]) for r in range(n_rows))
    return "data:text/csv;base64," + base64.b64encode(f"{header}\n{rows}\n".encode()).decode()


def test_a_wide_upload_is_refused_at_once_with_the_column_limit():
    import time

    from dashboard.callbacks.upload import handle_upload
    start = time.perf_counter()
    out = handle_upload(_csv_upload(10_001, n_rows=50), "wide.csv")
    assert time.perf_counter() - start < 1.5  # was 4.5 s and 676 KB of options
    assert all(v is no_update for v in (*out[:5], *out[6:]))
    assert "wide.csv: the file has 10,001 columns, over the limit of 500; keep the label" \
        in str(out[5])
    out = handle_upload(_csv_upload(500), "at-the-limit.csv")  # searchable lists of 500
    assert len(out[6]) == 500 and len(out[7]) == 500 and "search" in str(out[5])


def test_an_upload_while_the_worker_reads_another_is_told_to_try_again(monkeypatch):
    from dashboard import service
    from dashboard.callbacks import upload
    token = upload.handle_upload(_upload("good_binary.csv"), "good_binary.csv")[0]
    monkeypatch.setattr(service, "PARSE_WAIT", 0.05)
    monkeypatch.setattr(service, "_tables", type(service._tables)())  # this worker read nothing
    with service.parse_slot():  # another request is reading an upload
        out = upload.handle_upload(_csv_upload(3), "mine.csv")
        assert all(v is no_update for v in (*out[:5], *out[6:]))
        assert "mine.csv: the server is busy reading other uploads; try again in a few " \
               "seconds." in str(out[5])
        # a callback needing a file this worker has not read keeps what the page shows
        assert upload.column_options(token) == (no_update, no_update)
        assert upload.positive_options("approved", token) is no_update
    assert upload.handle_upload(_csv_upload(3), "mine.csv")[0].startswith("upload:")
    assert [o["value"] for o in upload.column_options(token)[1]] == ["age", "income", "score"]


def test_uploaded_data_flows_through_state_and_url():
    from dashboard.callbacks.upload import handle_upload
    token = handle_upload(_upload("good_binary.csv"), "good_binary.csv")[0]
    values = controls_from_config(SMALL)
    values.update({ids.DATASET: "csv", ids.DATA: token, ids.CSV_LABEL: "approved",
                   ids.CSV_FEATURES: ["age", "score"]})
    out = sync_state("?x", None, values, ids.DATA)
    cfg = ExperimentConfig.from_dict(out["store"]["config"])
    assert cfg.dataset == "csv" and cfg.features == ("age", "score") and cfg.label == "approved"
    assert f"data={token.replace(':', '%3A')}" in out["search"]
    assert "features=age%2Cscore" in out["search"]
    scenario, back, problems = state_from_query(out["search"])
    assert back == cfg and problems == []
    r = run_experiment(cfg)
    panels = update_panels(store_of(cfg))
    assert f"{r.clean_accuracy:.1%}" in str(panels["accuracy_clean"])


@pytest.mark.parametrize("token", ["/etc/passwd", "upload:../../etc/passwd", "upload:" + "0" * 64])
def test_only_tokens_for_files_this_server_stored_are_accepted(token):
    values = controls_from_config(SMALL)
    values.update({ids.DATASET: "csv", ids.DATA: token, ids.CSV_LABEL: "approved"})
    with pytest.raises(ValueError, match="upload"):
        config_from_controls(values)


# --- matrix and detection curves ------------------------------------------------------

def test_matrix_job_reports_progress_and_renders_a_heatmap():
    from core import ATTACKS, DEFENSES
    from dashboard.callbacks.matrix import compute_matrix, load_cell, matrix_key, render_matrix
    calls = []
    cfg = SMALL.replace(n_samples=150)
    out = compute_matrix(calls.append, store_of(cfg), "1")
    assert calls[-1][0] == calls[-1][1] and "done" in calls[-1][2]
    table = out["table"]
    assert len(table["attack"]) == len(ATTACKS) * len(DEFENSES) and out["key"] == matrix_key(cfg)
    fig = render_matrix(out, store_of(cfg))
    heat = fig.data[0]
    assert heat.type == "heatmap"
    assert list(heat.y) == list(ATTACKS) and list(heat.x) == list(DEFENSES)
    assert not fig.layout.annotations
    stale = render_matrix(out, store_of(cfg.replace(poison_rate=0.3)))
    assert any("settings changed" in a.text for a in stale.layout.annotations)
    assert load_cell({"points": [{"x": "sphere", "y": "alfa"}]}) == ("alfa", "sphere")
    assert load_cell(None) == (no_update, no_update)


def test_matrix_request_is_validated():
    from dashboard.callbacks.matrix import compute_matrix
    calls = []
    assert "not one of" in compute_matrix(calls.append, store_of(SMALL), "7")["error"]
    assert "fix the settings" in compute_matrix(calls.append, None, "1")["error"]


def test_detection_curves_mark_the_operating_point():
    from dashboard.callbacks.matrix import curves_figure
    fig = curves_figure(store_of(SMALL), True)
    names = [t.name for t in fig.data]
    assert "ROC" in names and "PR" in names and "this defense's threshold" in names
    assert curves_figure(store_of(SMALL), False) is no_update
    assert "nothing to rank" in curves_figure(store_of(SMALL.replace(defense="none")), True) \
        .layout.annotations[0].text


@pytest.mark.parametrize("name", [n for n, c in DEFENSES.items() if c.needs_trusted])
def test_trusted_defenses_in_the_dashboard_get_a_trusted_sample(name):
    values = controls_from_config(SMALL)
    values[ids.DEFENSE] = name
    cfg = config_from_controls(values)
    assert cfg.trusted_fraction == 0.1
    values[ids.DEFENSE] = "sphere"
    assert config_from_controls(values).trusted_fraction == 0.0
    out = update_panels(store_of(cfg))
    assert "trusted sample" in str(out["run_info"]) and "ROC AUC" in str(out["scorecard"])


def test_the_bench_request_matches_the_compute_callback(client):
    """dashboard/bench.py posts the compute callback's request: keep it in step."""
    from dashboard.bench import request_body
    resp = client.post("/_dash-update-component", json=request_body(SMALL))
    assert resp.status_code == 200 and "graph-clean" in resp.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/", "/healthz", "/_dash-layout"])
def test_security_headers_on_every_response(client, path):
    resp = client.get(path)
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert resp.headers["Referrer-Policy"] == "same-origin"


def test_a_large_uploaded_csv_goes_to_the_background(tmp_path):
    import base64

    from dashboard.callbacks.upload import handle_upload
    rows = "\n".join(f"{i % 7},{(i * 13) % 11},{i % 2}" for i in range(4000))
    raw = f"a,b,label\n{rows}\n".encode()
    token = handle_upload("data:text/csv;base64," + base64.b64encode(raw).decode(), "big.csv")[0]
    values = controls_from_config(SMALL)
    values.update({ids.DATASET: "csv", ids.DATA: token, ids.CSV_LABEL: "label"})
    assert runs_in_background(config_from_controls(values))  # ~2,400 training rows
    token = handle_upload(_upload("good_binary.csv"), "small.csv")[0]
    values[ids.DATA] = token
    assert not runs_in_background(config_from_controls(values))


def test_a_targeted_attack_shows_its_targets_and_their_fate():
    cfg = ExperimentConfig(dataset="loan", attack="targeted_injection", poison_rate=0.15,
                           defense="trusted_knn", trusted_fraction=0.1, grid_resolution=30)
    r = run_experiment(cfg)
    for panel in PANELS:
        stars = [t for t in decision_panel(r, panel).data if t.name == "attacker's targets"]
        assert len(stars) == 1 and len(untyped(stars[0].x)) == len(r.targets) == 5
    from dashboard.callbacks.experiment import scorecard
    text = str(scorecard(r))
    n_def = round(r.target_success["defended"] * 5)
    n_poi = round(r.target_success["poisoned"] * 5)
    assert f"{n_def} / 5" in text and f"({n_poi} / 5 by the poisoned model)" in text
    plain = run_experiment(cfg.replace(attack="label_flip"))
    assert not [t for t in decision_panel(plain, "clean").data if t.name == "attacker's targets"]


def test_the_scorecard_says_what_the_defense_did_to_the_clean_points_it_flagged():
    from dashboard.callbacks.experiment import scorecard

    base = ExperimentConfig(dataset="moons", attack="targeted_flip", trusted_fraction=0.1,
                            grid_resolution=0, seed=3)
    said = {}
    for defense in ("isolation_forest", "knn_sanitize", "trusted_relabel"):
        r = run_experiment(base.replace(defense=defense))
        said[defense] = (str(scorecard(r)), r)
    assert ", dropped" in said["isolation_forest"][0]
    knn = said["knn_sanitize"][0]  # relabels and keeps every row
    assert ", relabelled" in knn and "or dropped" not in knn
    relabel = said["trusted_relabel"][1]
    assert relabel.relabels and not relabel.kept.all()  # it relabels, and drops a few
    assert ", relabelled or dropped" in said["trusted_relabel"][0]


def test_both_pages_load_the_small_plotly_bundle_of_the_same_plotly_js_version():
    """The lab and the story draw only cartesian traces, so they load plotly.js's cartesian
    bundle (1.5 MB, not 4.8 MB). Its version must be the one the plotly package ships, and
    every trace type the figures use must be in it."""
    import hashlib
    import re

    from plotly.offline import get_plotlyjs_version

    from dashboard.app import ASSETS, app
    from scripts.vendor_plotly import CDN_DEFAULT, LOCAL_DEFAULT

    path = os.path.join(ASSETS, "plotly-cartesian.min.js")
    with open(path, "rb") as f:  # npm's plotly.js-cartesian-dist-min@4.1.1, byte for byte
        bundle = f.read()        # but for scripts/vendor_plotly.py's one change
    assert bundle.count(LOCAL_DEFAULT) == 1
    assert hashlib.sha256(bundle.replace(LOCAL_DEFAULT, CDN_DEFAULT)).hexdigest() == \
        "79542150855a52c567260e3137095dbe2b744e6d702a5cabe67da246942fba7a"
    with open(path, encoding="utf-8") as f:
        head = f.read(300)
    assert re.search(r"plotly\.js \(cartesian - minified\) v(\S+)", head).group(1) == \
        get_plotlyjs_version()
    client = app.server.test_client()
    for page in ("/", "/story/"):
        assert "plotly-cartesian.min.js" in client.get(page).get_data(as_text=True)
    used = set()
    for pattern in ('type="(\\w+)"', "go\\.(\\w+)\\("):
        for name in ("figures.py", "story_figures.py"):
            with open(os.path.join(os.path.dirname(ASSETS), "dashboard", name)) as f:
                used |= {m.lower() for m in re.findall(pattern, f.read())}
    traces = used - {"figure", "frame", "rect", "line", "buttons"}  # not trace types
    assert traces and traces <= {"bar", "box", "contour", "heatmap", "histogram", "image",
                                 "pie", "scatter", "violin"}, traces


def test_a_backdoor_shows_the_trigger_switch_and_its_hidden_boundary():
    config = ExperimentConfig(dataset="moons", attack="backdoor", poison_rate=0.05)
    store = {"config": config.to_dict(), "scenario": None, "problems": []}
    off, on = update_panels(store), update_panels(store, trigger_on=True)
    assert off["trigger_row"] == {} and off["backdoor"] is None  # 2-D: no image grid
    result = run_experiment(config)
    for panel in ("clean", "poisoned", "defended"):
        names = [t.get("name") for t in on[panel]["data"]]
        assert "boundary with the trigger" in names and "boundary without the trigger" in names
        # the regions are the triggered grid's, the dashed line the trigger-free one
        assert np.allclose(untyped(on[panel]["data"][0]["z"]),
                           np.clip(getattr(result.grid_triggered, panel),
                                   -color_limit(result), color_limit(result)), atol=1e-3)
    # the poisoned model answers the trigger: its triggered boundary differs from its plain one
    assert not np.allclose(result.grid_triggered.poisoned, result.grid.poisoned)
    plain = update_panels({"config": ExperimentConfig(dataset="moons").to_dict(),
                           "scenario": None, "problems": []}, trigger_on=True)
    assert plain["trigger_row"] == {"display": "none"}  # no backdoor: no switch, plain panels
    assert "boundary with the trigger" not in [t.get("name") for t in plain["poisoned"]["data"]]


def test_a_digits_backdoor_shows_test_images_with_each_models_prediction():
    config = ExperimentConfig(dataset="digits", n_samples=362, attack="backdoor",
                              poison_rate=0.05, kernel="linear")
    out = update_panels({"config": config.to_dict(), "scenario": None, "problems": []})
    result = run_experiment(config)
    fig = out["backdoor"].children.children[-1].figure
    ex = result.trigger_examples
    notes = [a.text for a in fig.layout.annotations if ":" in a.text]
    assert len(notes) == 2 * 3 * len(ex["rows"])
    names = result.class_names
    for stage in ("clean", "poisoned", "defended"):
        for band in ("clean", "triggered"):
            want = [f"{stage}: {names[p]}" for p in ex[stage][band]]
            assert [t for t in notes if t.startswith(stage + ":")][
                (0 if band == "clean" else 1) * len(want):][:len(want)] == want
    # the poisoned model reads the patch as the target class; the clean one does not
    assert (ex["poisoned"]["triggered"] == result.target_label).mean() > \
        (ex["clean"]["triggered"] == result.target_label).mean()
    z = np.asarray(fig.data[0].z, dtype=float)
    stamped = result.trigger.stamp(result.X_test[ex["rows"][:1]])[0].reshape(8, 8)
    band_h = 13
    np.testing.assert_array_equal(z[band_h:band_h + 8, :8], stamped)


def test_a_wide_float_parameter_is_typed_not_slid():
    import dash_bootstrap_components as dbc
    from dash import dcc

    from dashboard.layout import param_controls

    def control(kind, algorithm, name):
        for field in param_controls(kind, algorithm, {}):
            found = [c for c in field.children if getattr(c, "id", None) ==
                     {"type": ids.PARAM, "kind": kind, "name": name}]
            if found:
                return found[0]
        raise AssertionError(name)

    assert isinstance(control("attack", "backdoor", "trigger_value"), dbc.Input)  # +-1e6
    assert isinstance(control("attack", "backdoor_clean_label", "interpolation"), dcc.Slider)


def test_no_asset_names_a_cdn():
    """The app must render with no internet: nothing it serves may point at a CDN (the
    browser test test_both_pages_render_with_no_internet checks the page itself)."""
    import re

    from dashboard.app import ASSETS

    cdn = re.compile(rb"https?://[\w.-]*(cdn|unpkg|jsdelivr|googleapis|cloudflare)[\w.-]*",
                     re.IGNORECASE)
    for name in sorted(os.listdir(ASSETS)):
        with open(os.path.join(ASSETS, name), "rb") as f:
            assert not cdn.findall(f.read()), name
