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
