"""Eight concurrent worst-case uploads against the real production server (issue 21, item 1).

Starts gunicorn with ``gunicorn.conf.py`` (2 workers x 4 threads, as deployed) on a free
127.0.0.1 port and sends, from 8 threads at once, the costliest file the CSV limits
accept (``scripts/loadtest.py``'s ``widest_upload``: ``max_columns`` text columns,
``max_cells`` values, 50 MB; 67 MB as the browser sends it). Meanwhile it keeps probing
``/healthz`` and the default view's main update (the callback POST the page makes after
its controls sync), and requires every probe sent while an upload was still unanswered
to answer in at most ``LATENCY_BAR`` seconds. "While": probing starts as the 8 uploads
are released together and a probe counts if it was sent before the *last* upload's answer
arrived, i.e. while the server was still receiving, decoding or reading at least one of
them; the test fails if fewer than ``MIN_PROBES`` probes of each kind fall in that window
(so it cannot pass by probing too late), and also if any upload is refused for anything
but "busy, try again" (one big body per worker: the others are told to retry at once).
Without the gate (:func:`dashboard.callbacks.upload.gate_large_bodies`) the main update
took 1.3-1.8 s here; with it the worst probe was 0.2-0.5 s (2-core machine).
"""

import gc
import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
import requests
from dash_http import URL, callback_body
from server_procs import ROOT, gunicorn

sys.path.insert(0, str(Path(ROOT) / "scripts"))
from loadtest import BUSY, Callbacks, upload, upload_request, widest_upload  # noqa: E402

from core.data_io import CSVLimits  # noqa: E402

UPLOADS = 8
LATENCY_BAR = 1.0  # seconds, issue 21
MIN_PROBES = 3  # of each kind, while uploads are in flight
PROBE_GAP = 0.05  # seconds between two probe rounds


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with gunicorn(tmp_path_factory.mktemp("wide")) as (base, pids, log):
        yield base, log


def main_update_body(base: str) -> dict:
    """The default view's main update, as the page sends it after the controls sync."""
    deps = json.loads(urllib.request.urlopen(base + "/_dash-dependencies", timeout=30).read())
    sync = next(d for d in deps if d["output"].lstrip(".").startswith("url.search"))
    out = requests.post(base + URL, json=callback_body(sync, {"url.search": ""}, []),
                        timeout=30).json()["response"]
    store = out["config-store"]["data"]
    panels = next(d for d in deps if d["output"].startswith("..graph-clean.figure...")
                  and d["inputs"][0]["id"] == "config-store")
    return callback_body(panels, {"config-store.data": store}, ["config-store.data"])


def probe(session: requests.Session, method: str, url: str, **kw) -> float:
    start = time.perf_counter()
    resp = session.request(method, url, timeout=30, **kw)
    elapsed = time.perf_counter() - start
    assert resp.status_code == 200, resp.text[:200]
    return elapsed


def burst(base: str) -> dict:
    """The client side: 8 widest uploads at once, probes until the last one is answered.

    Returns the uploads' outcomes and the latencies of the probes sent while an upload
    was unanswered. Run in a process of its own (see the test), so that nothing left in
    the test process (a Dask client's event loop, a big heap to collect) delays the
    probes on this side of the socket.
    """
    limits = CSVLimits()
    contents = widest_upload(limits)
    assert len(contents) > 0.9 * limits.max_bytes * 4 / 3  # as big as an accepted file gets
    cbs = Callbacks(requests.get(base + "/_dash-dependencies", timeout=30).json())
    main_body = main_update_body(base)
    probes = requests.Session()
    health = lambda: probe(probes, "GET", base + "/healthz")  # noqa: E731
    view = lambda: probe(probes, "POST", base + URL, json=main_body)  # noqa: E731
    idle = [health(), view()]  # both answer, and the view is the default one (memoized)
    # encoded once, up front: 67 MB of JSON encoding in these threads would hold this
    # process's GIL and delay the probes here, not on the server (8 users, one file)
    body = upload_request(cbs, contents, "wide.csv")
    del contents
    gc.collect()
    gc.freeze()  # nothing this process made so far is scanned again by the collector
    sent = threading.Barrier(UPLOADS + 1)
    outcomes: list[list] = []
    answered: list[float] = []
    lock = threading.Lock()

    def one_upload() -> None:
        session = requests.Session()
        sent.wait()  # all at once
        outcome = upload(session, base, body, timeout=120)
        with lock:
            outcomes.append(list(outcome))
            answered.append(time.monotonic())

    threads = [threading.Thread(target=one_upload, daemon=True) for _ in range(UPLOADS)]
    for t in threads:
        t.start()
    sent.wait()
    start = time.monotonic()
    seen: dict[str, list[tuple[float, float]]] = {"healthz": [], "main update": []}
    while any(t.is_alive() for t in threads):
        for kind, call in (("healthz", health), ("main update", view)):
            at = time.monotonic()
            seen[kind].append((at, call()))
        time.sleep(PROBE_GAP)
    for t in threads:
        t.join(timeout=5)
    last = max(answered)
    # probes sent while an upload was unanswered: the window this test is about
    return {"idle": idle, "outcomes": outcomes, "seconds": last - start,
            "during": {k: [s for at, s in v if at < last] for k, v in seen.items()}}


ATTEMPTS = 3  # bursts: the bar must hold in every probe of one of them


def run_burst(base: str) -> dict:
    """:func:`burst` in a fresh process: its result."""
    proc = subprocess.run([sys.executable, __file__, base], capture_output=True, text=True,
                          timeout=300, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": os.pathsep.join(
                              [ROOT, str(Path(ROOT) / "tests")])})
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


def test_eight_widest_uploads_leave_healthz_and_the_default_view_answering(server):
    """Every probe during the burst within the bar, in one of ``ATTEMPTS`` bursts: another
    program on a 2-core host can take the CPU during one (a probe of 1.8 s was seen with
    two other test suites running; 1.0-1.3 s once late in a full suite, hence the test runs
    first, see conftest.py). A real regression fails them all: without the gate the main
    update took 1.3-1.8 s in every burst, on a quiet host."""
    base, log = server
    reports = []
    for _ in range(ATTEMPTS):
        out = run_burst(base)
        assert max(out["idle"]) < LATENCY_BAR
        outcomes = out["outcomes"]
        assert len(outcomes) == UPLOADS
        kinds = [o for o, _, _ in outcomes]
        assert "error" not in kinds, [o for o in outcomes if o[0] == "error"]
        assert kinds.count("accepted") >= 1 and set(kinds) <= {"accepted", "busy"}
        assert all(BUSY in detail for o, _, detail in outcomes if o == "busy")
        during = out["during"]
        report = {k: (len(v), round(max(v, default=0), 3)) for k, v in during.items()}
        reports.append(report)
        print(f"\nuploads {sorted(kinds)} answered within {out['seconds']:.1f} s; "
              f"probes during them (count, worst s): {report}; load {os.getloadavg()[0]:.2f}")
        for kind, latencies in during.items():  # too few probes: the test itself is wrong
            assert len(latencies) >= MIN_PROBES, (kind, report, out["seconds"])
        if all(max(v) <= LATENCY_BAR for v in during.values()):
            break
    else:
        raise AssertionError(f"a probe over {LATENCY_BAR} s in every burst: {reports}")
    assert "Traceback" not in Path(log).read_text()


def test_a_large_body_is_answered_busy_unparsed_while_another_is_read(monkeypatch):
    """In-process: the gate says "busy" to a second big body without parsing it (this one
    is not even JSON), lets one through to the guard when the slot is free, and frees the
    slot after each request."""
    from dashboard import service
    from dashboard.app import app

    monkeypatch.setattr(service, "LARGE_BODY", 1000)
    monkeypatch.setattr("dashboard.callbacks.upload.LARGE_BODY", 1000)
    client = app.server.test_client()
    junk = b"[" * 5000  # too big, and not JSON: parsing it would be a 400
    assert service.take_large_body_slot()  # another upload is being read
    try:
        resp = client.post(URL, data=junk, content_type="application/json")
        assert resp.status_code == 200
        info = resp.get_json()["response"]["upload-info"]["children"]
        assert BUSY in json.dumps(info) and info["props"]["className"] == "upload-error"
    finally:
        service.release_large_body_slot()
    for _ in range(2):  # the slot is free: the body reaches the guard, and is freed again
        resp = client.post(URL, data=junk, content_type="application/json")
        assert resp.status_code == 400 and "nested too deeply" in resp.get_json()["error"]
    small = client.post(URL, data=b"[" * 500, content_type="application/json")
    assert small.status_code == 400  # small bodies never wait for the slot


if __name__ == "__main__":  # the client side of the first test, in a fresh process
    print(json.dumps(burst(sys.argv[1])))
