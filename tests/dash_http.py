"""Talking to a running dashboard the way Dash's renderer does (helpers for tests)."""

import json
import re
import time
import urllib.request

URL = "/_dash-update-component"


def post(base: str, body: dict, **params) -> dict:
    """POST a callback request; ``params`` go in the query (``endId``, job handles)."""
    query = "&".join(f"{k}={urllib.request.quote(v)}" for k, v in params.items())
    req = urllib.request.Request(f"{base}{URL}?{query}", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read() or b"{}")


def end_id(base: str) -> str:
    """A fresh page load's signed id (background-job handles are scoped to it)."""
    html = urllib.request.urlopen(base + "/", timeout=30).read().decode()
    config = re.search(r'<script id="_dash-config" type="application/json">(.*?)</script>',
                       html, re.S).group(1)
    return json.loads(config)["end_id"]


def start_job(base: str, body: dict) -> tuple[str, dict]:
    """Open a page and start a background callback from it: (page id, job handles)."""
    token = end_id(base)
    handles = post(base, body, endId=token)
    assert set(handles) >= {"cacheKey", "job"}, handles
    return token, handles


def poll_job(base: str, body: dict, token: str, handles: dict, timeout: float = 60,
             progress: list | None = None) -> dict:
    """Poll a started job until it answers; its response (AssertionError on timeout)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = post(base, body, endId=token, cacheKey=handles["cacheKey"], job=handles["job"])
        if "progress" in out and progress is not None:
            progress.append(out["progress"])
        if "response" in out:
            return out["response"]
        time.sleep(0.3)
    raise AssertionError(f"no result in {timeout} s")


def run_background(base: str, body: dict, timeout: float = 60) -> tuple[dict, list]:
    """What the renderer does: start the job, then poll with its handles until it answers."""
    token, handles = start_job(base, body)
    progress: list = []
    return poll_job(base, body, token, handles, timeout, progress), progress


def job_body(job: dict) -> dict:
    """The request that starts (and polls) the panels' background job for ``job``."""
    return {"output": "bg-result.data", "outputs": {"id": "bg-result", "property": "data"},
            "inputs": [{"id": "job-store", "property": "data", "value": job}], "state": [],
            "changedPropIds": ["job-store.data"]}


def sweep_body(store: dict, max_rate: float, seeds: int) -> dict:
    """The request that starts (and polls) the sweep job, as the Run sweep button sends it."""
    return {"output": "sweep-store.data", "outputs": {"id": "sweep-store", "property": "data"},
            "inputs": [{"id": "sweep-run", "property": "n_clicks", "value": 1}],
            "state": [{"id": "config-store", "property": "data", "value": store},
                      {"id": "sweep-max-rate", "property": "value", "value": max_rate},
                      {"id": "sweep-seeds", "property": "value", "value": seeds}],
            "changedPropIds": ["sweep-run.n_clicks"]}


def cancel_sweep(base: str, token: str, handles: dict) -> None:
    """What the sweep's Cancel button sends: its cancel callback with the job's handle."""
    body = {"output": "sweep-cancel.id", "outputs": {"id": "sweep-cancel", "property": "id"},
            "inputs": [{"id": "sweep-cancel", "property": "n_clicks", "value": 1}],
            "state": [], "changedPropIds": ["sweep-cancel.n_clicks"]}
    post(base, body, endId=token, cancelJob=handles["job"])


def wait_until_running(base: str, body: dict, token: str, handles: dict,
                       timeout: float = 60) -> None:
    """Poll a started sweep until its progress says its first runs are done."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = post(base, body, endId=token, cacheKey=handles["cacheKey"], job=handles["job"])
        assert "response" not in out, "the job finished before it could be cancelled"
        if out.get("progress") and "running: 0 /" not in str(out["progress"]):
            return
        time.sleep(0.3)
    raise AssertionError(f"the job did not start running in {timeout} s")


def callback_body(dep: dict, values: dict, changed: list[str]) -> dict:
    """A request for the callback ``dep`` (an entry of ``/_dash-dependencies``), as the
    renderer builds it: ``values`` maps ``"id.property"`` to a value; a pattern input
    (ALL) gets the list of ``{"id", "property", "value"}`` under its pattern's string,
    empty when not given."""
    out = dep["output"]
    parts = out[2:-2].split("...") if out.startswith("..") else [out]
    outputs = [dict(zip(("id", "property"), p.rsplit(".", 1), strict=True)) for p in parts]

    def items(specs):
        return [values.get(f"{s['id']}.{s['property']}", []) if s["id"].startswith("{")
                else {**s, "value": values.get(f"{s['id']}.{s['property']}")} for s in specs]

    return {"output": out, "outputs": outputs if out.startswith("..") else outputs[0],
            "inputs": items(dep["inputs"]), "state": items(dep.get("state", [])),
            "changedPropIds": changed}
