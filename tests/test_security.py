"""Crafted requests to the callback endpoint get a clear error (a 4xx, or a message in the
page), never a 500 with a traceback and never a long computation."""

import json
import time

import pytest

from core import scenario_config
from dashboard import ids
from dashboard.bench import request_body
from dashboard.state import FIELDS, controls_from_config

URL = "/_dash-update-component"
SMALL = scenario_config("label-flip-moons", n_samples=200)
TIME_LIMIT = 5.0  # seconds; a refused request does no work


@pytest.fixture(scope="module")
def client():
    from dashboard.app import app
    client = app.server.test_client()
    client.get("/")
    return client


def panels(**config_changes):
    """The main update callback's request with the config in the store replaced."""
    body = request_body(SMALL)
    body["inputs"][0]["value"]["config"].update(config_changes)
    return body


def _pattern(kind: str) -> str:
    return json.dumps({"kind": ["ALL"], "name": ["ALL"], "type": kind}, separators=(",", ":"),
                      sort_keys=True)


def sync(control, value):
    """The controls callback's request (what moving one control sends) with one value set.

    ``control`` is a fixed control's id, or ``kind.name`` for a declared parameter (sent
    as the pattern-matching input the parameter controls are)."""
    outputs = ["url.search", "config-store.data", "scenario-story.children", "scenario.value",
               *(f"{c}.value" for c in FIELDS)]
    values = {c: v for c, v in controls_from_config(SMALL).items() if c in FIELDS}
    params = []
    if "." in control:
        kind, name = control.split(".")
        pid = {"type": ids.PARAM, "kind": kind, "name": name}
        params = [{"id": pid, "property": "value", "value": value}]
        changed = json.dumps(pid, separators=(",", ":"), sort_keys=True) + ".value"
    else:
        values[control] = value
        changed = f"{control}.value"
    inputs = [{"id": "url", "property": "search", "value": "?x"},
              {"id": "scenario", "property": "value", "value": None},
              *({"id": c, "property": "value", "value": v} for c, v in values.items()),
              params, []]
    state = [[{**p, "property": "id", "value": p["id"]} for p in params], [],
             {"id": ids.CONFIG_STORE, "property": "data", "value": None}]
    return {"output": ".." + "...".join(outputs) + "..",
            "outputs": [{"id": o.split(".")[0], "property": o.split(".")[1]} for o in outputs],
            "inputs": inputs, "changedPropIds": [changed], "state": state}


def edit(body, **changes):
    body = dict(body)
    for key, value in changes.items():
        if value is DROP:
            body.pop(key, None)
        else:
            body[key] = value
    return body


DROP = object()
GOOD = request_body(SMALL)
JOB = {"id": "job-store", "property": "data"}


def raw(text):
    return {"data": text, "content_type": "application/json"}


# (name, request kwargs, expected status)
CASES = [
    # the body itself
    ("not JSON", raw("{not json"), 400),
    ("empty body", raw(""), 400),
    ("no JSON content type", {"data": json.dumps(GOOD)}, 415),
    ("JSON array", {"json": [1, 2]}, 400),
    ("JSON string", {"json": "x"}, 400),
    ("integer with 5000 digits", raw('{"output": ' + "9" * 5000 + "}"), 400),
    ("oversized body (80 MB)", raw("x" * (80 * 2**20)), 413),
    ("50,000 nested arrays", raw("[" * 50_000 + "]" * 50_000), 400),
    ("50,000 nested objects", raw('{"a":' * 50_000 + "1" + "}" * 50_000), 400),
    ("nested arrays inside a valid callback", raw(json.dumps(GOOD)[:-1] + ', "x": '
                                                  + "[" * 50_000 + "]" * 50_000 + "}"), 400),
    ("not UTF-8", {"data": b'{"output": "\xff\xfe\xfd"}', "content_type": "application/json"},
     400),
    # the callback's shape
    ("missing output", {"json": edit(GOOD, output=DROP)}, 400),
    ("missing outputs", {"json": edit(GOOD, outputs=DROP)}, 400),
    ("missing inputs", {"json": edit(GOOD, inputs=DROP)}, 400),
    ("unknown output id", {"json": edit(GOOD, output="nope.children",
                                        outputs={"id": "nope", "property": "children"})}, 400),
    ("outputs of another callback", {"json": edit(GOOD, outputs=[{"id": "graph-sweep",
                                                                  "property": "figure"}])}, 400),
    ("inputs not a list", {"json": edit(GOOD, inputs="config-store")}, 400),
    ("inputs empty", {"json": edit(GOOD, inputs=[])}, 400),
    ("input without property", {"json": edit(GOOD, inputs=[{"id": "config-store"}])}, 400),
    ("input of another component", {"json": edit(GOOD, inputs=[
        {"id": "seed", "property": "value", "value": 1}])}, 400),
    ("state null", {"json": edit(GOOD, state=None)}, 400),
    ("changedPropIds a string", {"json": edit(GOOD, changedPropIds="x")}, 400),
    ("a browser-side callback", {"json": {
        "output": "share-link.value", "outputs": {"id": "share-link", "property": "value"},
        "inputs": [{"id": "url", "property": "search", "value": ""}], "state": []}}, 400),
    ("background callback, wrong state", {"json": {
        "output": "sweep-store.data", "outputs": {"id": "sweep-store", "property": "data"},
        "inputs": [{"id": "sweep-run", "property": "n_clicks", "value": 1}], "state": []}}, 400),
    # a crafted config in the store the browser sends back
    ("store: sample size 10^9", {"json": panels(n_samples=10**9)}, 400),
    ("store: sample size beyond the UI", {"json": panels(n_samples=50_000)}, 400),
    ("store: unknown attack", {"json": panels(attack="rm -rf")}, 400),
    ("store: unknown defense", {"json": panels(defense="magic")}, 400),
    ("store: wrong type", {"json": panels(poison_rate=[0.1])}, 400),
    ("store: NaN", raw(json.dumps(panels()).replace('"poison_rate": 0.2', '"poison_rate": NaN')),
     400),
    ("store: Infinity", raw(json.dumps(panels()).replace('"seed": 0', '"seed": Infinity')), 400),
    ("store: huge number", {"json": panels(C=1e308)}, 400),
    ("store: grid the UI never asks for", {"json": panels(grid_resolution=400)}, 400),
    ("store: unknown field", {"json": panels(evil=1)}, 400),
    ("store: a server file as data", {"json": panels(dataset="csv", data="/etc/passwd",
                                                     label="root")}, 400),
    ("store: not an object", {"json": edit(GOOD, inputs=[{"id": "config-store",
                                                          "property": "data", "value": [1]}])},
     400),
    ("job: config beyond the UI", {"json": {
        "output": "bg-result.data", "outputs": {"id": "bg-result", "property": "data"},
        "inputs": [{**JOB, "value": {"config": {**SMALL.to_dict(), "n_samples": 90_000},
                                     "key": "k"}}], "state": []}}, 400),
    # a crafted control value: the page shows which control is wrong
    ("control: sample size 10^9", {"json": sync(ids.N_SAMPLES, 10**9)}, 200),
    ("control: poison rate 1e308", {"json": sync(ids.POISON_RATE, "1e308")}, 200),
    ("control: NaN", raw(json.dumps(sync(ids.POISON_RATE, 0.1)).replace(
        '"value": 0.1}', '"value": NaN}')), 200),
    ("control: -Infinity seed", raw(json.dumps(sync(ids.SEED, 12345)).replace(
        '"value": 12345}', '"value": -Infinity}')), 200),
    ("control: unknown attack", {"json": sync(ids.ATTACK, "rm -rf")}, 200),
    ("control: unknown defense", {"json": sync(ids.DEFENSE, "magic")}, 200),
    ("control: list for a number", {"json": sync("defense.k", [5])}, 200),
    ("control: parameter out of range", {"json": sync("defense.k", 10**6)}, 200),
    ("control: object for C", {"json": sync(ids.C, {"$gt": 0})}, 200),
    ("control: huge integer seed", {"json": sync(ids.SEED, 10**30)}, 200),
]


@pytest.mark.parametrize("name, kwargs, status", CASES, ids=[c[0] for c in CASES])
def test_a_crafted_request_gets_a_clear_answer(client, name, kwargs, status):
    start = time.perf_counter()
    resp = client.post(URL, **kwargs)
    elapsed = time.perf_counter() - start
    text = resp.get_data(as_text=True)
    assert resp.status_code == status, text[:300]
    assert "Traceback" not in text and 'File "' not in text
    assert elapsed < TIME_LIMIT
    if status >= 400:
        assert resp.is_json and resp.get_json()["error"]
    if name.startswith("control:"):  # the config store carries the message the alert shows
        store = json.loads(text)["response"]["config-store"]["data"]
        assert list(store) == ["error"] and "=" in store["error"]


def test_an_error_inside_a_callback_is_logged_and_shown_not_a_500(client, caplog):
    body = {"output": "graph-sweep.figure", "outputs": {"id": "graph-sweep", "property": "figure"},
            "inputs": [{"id": "sweep-store", "property": "data", "value": {"key": "no summary"}},
                       {"id": "config-store", "property": "data", "value": None}],
            "changedPropIds": ["sweep-store.data"], "state": []}
    resp = client.post(URL, json=body)
    assert resp.status_code == 200
    text = resp.get_data(as_text=True)
    assert "Traceback" not in text and "KeyError" not in text
    alert = resp.get_json()["sideUpdate"][ids.ERROR]
    assert alert["is_open"] and "failed" in alert["children"]
    assert any("callback failed" in r.message for r in caplog.records)


def test_what_the_ui_sends_still_passes(client):
    resp = client.post(URL, json=GOOD)
    assert resp.status_code == 200 and "graph-clean" in resp.get_data(as_text=True)


def test_other_routes_keep_their_own_errors(client):
    assert client.get("/no-such-page-assets/x.js").status_code in (200, 404)
    assert client.get("/_dash-component-suites/dash/nope.js").status_code == 404
    assert client.get(URL).status_code < 500  # Dash serves the page for other GETs


def test_content_security_policy_allows_only_this_server_and_dashs_inline_scripts(client):
    from dashboard.app import app
    csp = dict(d.strip().split(" ", 1) for d in
               client.get("/").headers["Content-Security-Policy"].split(";"))
    assert csp["default-src"] == "'self'" and csp["frame-ancestors"] == "'self'"
    assert csp["object-src"] == "'none'"
    scripts = csp["script-src"].split()
    # every inline script of the lab and of the story, by hash, and nothing else
    assert scripts == ["'self'", *dict.fromkeys([*app.csp_hashes(), *app.story.csp_hashes()])]
    assert "'unsafe-inline'" not in scripts and "'unsafe-eval'" not in scripts
    assert client.get("/healthz").headers["Content-Security-Policy"]


def test_debug_is_off_in_what_gunicorn_serves():
    from dashboard.app import app
    assert not app.server.debug
    assert not app._dev_tools.ui and not app._dev_tools.serve_dev_bundles


def test_uploads_on_disk_are_bounded(tmp_path, monkeypatch):
    """Distinct uploads cannot fill the disk: the least recently used are removed."""
    import os

    from dashboard.callbacks import upload
    monkeypatch.setattr(upload, "uploads_dir", lambda: str(tmp_path))
    paths = []
    for i in range(5):
        paths.append(upload.save_upload(f"a,b\n{i},{i}\n".encode() * 100))
        os.utime(paths[-1], (i, i))  # distinct ages, oldest first
    upload.save_upload(b"a,b\n0,0\n" * 100)  # the first file again: now the newest
    size = os.path.getsize(paths[0])
    upload.prune_uploads(limit=3 * size)
    assert [os.path.exists(p) for p in paths] == [True, False, False, True, True]


@pytest.mark.parametrize("mangle", ["pattern-input-not-a-list", "pattern-output-plain-id",
                                    "missing-input"])
def test_story_callback_requests_are_checked_too(client, mangle):
    """The story is a second Dash app on the same server, with a pattern-matching input."""
    from dashboard.bench import story_request_body

    body = story_request_body("?step=2&seed=0")
    if mangle == "pattern-input-not-a-list":
        body["inputs"][3] = 7
    elif mangle == "pattern-output-plain-id":
        body["outputs"][2] = {"id": "story-step", "property": "className"}
    else:
        body["inputs"].pop()
    resp = client.post("/story/_dash-update-component", json=body)
    assert resp.status_code == 400 and "Traceback" not in resp.get_data(as_text=True)
    assert client.post("/story/_dash-update-component",
                       json=story_request_body("?step=2&seed=0")).status_code == 200
