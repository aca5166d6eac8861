"""Load test of the production config (a benchmark script, not collected by pytest).

``python scripts/loadtest.py [--users 20] [--duration 60] [--workers 2]``

Starts gunicorn with ``gunicorn.conf.py`` on a free 127.0.0.1 port (``--workers``
workers, the config's threads), then runs ``--users`` simulated users for
``--duration`` seconds. Each user opens the page the way the browser does (index, its
scripts and styles the first time, layout, dependencies, then the page-load callbacks:
controls sync, the main update, control visibility) and then, with a think time of
``--think`` seconds between actions, changes one control at a time (poison rate,
defense, attack, dataset, kernel, C, seed, sample size or scenario) or reloads the page
from its current link. A control change is two requests, as in the browser: the
controls callback (which validates and writes ``config-store``), then the main update
(``config-store`` -> three panels), fed with the store the server just returned. Request
bodies are built from ``/_dash-dependencies``, so they have Dash's real shape.

``--wide-users`` more users (default 1) keep uploading the costliest file the CSV limits
accept (10,000 rows x 500 text columns, 50 MB), each then asking for its columns as the
page does; a "busy, try again" answer is counted, not an error.

Before the server starts it measures the bench's CPU reference (``dashboard.bench``: the
lab's default view, cold), printed first and again beside the main update's p95, so a
busy or slow host can be told from a regression. Meanwhile each gunicorn worker's RSS is
sampled every second (psutil). Prints latency
percentiles per request kind, errors, and RSS per worker at start / middle / end, and
exits 1 if a bar fails: any error, p95 of the main update above ``--p95`` seconds, or a
worker whose RSS grows over the second half of the run by more than ``--rss-growth``
MB (its memo and caches are bounded, so after the first half it should be flat).

Every value the controls offer can come up. Configs the app runs as background jobs
(optimizing attacks, large samples) make the main update answer at once with a job,
which the user then starts and polls every second, as the browser does; those jobs are
timed separately ("background view"), the bar is on the main update. Traffic goes to
127.0.0.1 only; the run stops by itself.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict

import psutil
import requests

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from core import ATTACKS, DATASETS, DEFENSES, SCENARIOS  # noqa: E402
from core.data_io import CSVLimits  # noqa: E402
from dashboard import ids  # noqa: E402
from dashboard.state import C_VALUES, N_SAMPLES_RANGE  # noqa: E402

UPDATE = "/_dash-update-component"


def sample_size(r: random.Random, values: dict) -> int:
    """A sample size the slider offers for the current dataset (its max follows the data)."""
    lo, hi, step = N_SAMPLES_RANGE
    spec = DATASETS.get(values.get(f"{ids.DATASET}.value"))
    return r.randrange(lo, min(hi, spec.max_samples if spec else hi) + 1, step)


#: (control, weight, new value from (rng, current values))
MOVES = [
    (ids.POISON_RATE, 30, lambda r, v: round(r.randrange(0, 61) / 100, 2)),
    (ids.DEFENSE, 15, lambda r, v: r.choice(list(DEFENSES))),
    (ids.ATTACK, 10, lambda r, v: r.choice(list(ATTACKS))),
    (ids.SEED, 10, lambda r, v: r.randrange(0, 1000)),
    (ids.DATASET, 10, lambda r, v: r.choice(list(DATASETS))),
    (ids.KERNEL, 10, lambda r, v: r.choice(["linear", "rbf", "poly", "sigmoid"])),
    (ids.C, 5, lambda r, v: r.choice(C_VALUES)),
    (ids.N_SAMPLES, 5, sample_size),
    (ids.SCENARIO, 5, lambda r, v: r.choice(list(SCENARIOS))),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, max(0, round(q / 100 * len(values) + 0.5) - 1))]


class Callbacks:
    """Request bodies in Dash's shape, from the app's own dependency list."""

    def __init__(self, deps: list[dict]):
        self.by_first_output = {}
        for dep in deps:
            first = dep["output"].lstrip(".").split("...")[0]
            self.by_first_output.setdefault(first, dep)
        self.sync = self.by_first_output["url.search"]
        self.panels = next(d for d in deps if d["output"].startswith("..graph-clean.figure...")
                           and d["inputs"][0]["id"] == "config-store")
        self.visibility = self.by_first_output["kernel.disabled"]
        self.run_job = self.by_first_output["bg-result.data"]
        self.draw_job = next(d for d in deps if d["output"].startswith("..graph-clean.figure@"))
        self.upload = next(d for d in deps if d["inputs"][0]["id"] == ids.UPLOAD)
        self.columns = next(d for d in deps if d["inputs"][0]["id"] == ids.DATA)

    def upload_body(self, contents: str, filename: str) -> dict:
        return self.body(self.upload, {f"{ids.UPLOAD}.contents": contents,
                                       f"{ids.UPLOAD}.filename": filename},
                         [f"{ids.UPLOAD}.contents"])

    def columns_body(self, token: str) -> dict:
        return self.body(self.columns, {f"{ids.DATA}.value": token}, [f"{ids.DATA}.value"])

    @staticmethod
    def body(dep: dict, values: dict[str, object], changed: list[str]) -> dict:
        out = dep["output"]
        parts = out[2:-2].split("...") if out.startswith("..") else [out]
        outputs = [dict(zip(("id", "property"), p.rsplit(".", 1), strict=True)) for p in parts]
        def items(specs):  # a pattern input (ALL) gets its list of items, empty if not given
            return [values.get(f"{s['id']}.{s['property']}", []) if s["id"].startswith("{")
                    else {**s, "value": values.get(f"{s['id']}.{s['property']}")}
                    for s in specs]
        return {"output": out, "outputs": outputs if out.startswith("..") else outputs[0],
                "inputs": items(dep["inputs"]), "state": items(dep.get("state", [])),
                "changedPropIds": changed}


class User(threading.Thread):
    def __init__(self, n: int, base: str, cbs: Callbacks, deadline: float, think: tuple,
                 record, slowest):
        super().__init__(daemon=True, name=f"user-{n}")
        self.slowest = slowest
        self.base, self.cbs, self.deadline, self.think = base, cbs, deadline, think
        self.record = record
        self.session = requests.Session()
        self.rng = random.Random(n)
        self.assets_loaded = False
        self.search = ""            # the page's link (what a reload opens)
        self.values: dict[str, object] = {}   # "id.prop" -> current value
        self.store = None
        self.end_id = ""            # the page's signed id, for background-job handles

    # one timed request
    def call(self, kind: str, method: str, path: str, **kw):
        start = time.perf_counter()
        try:
            resp = self.session.request(method, self.base + path, timeout=60, **kw)
            elapsed = time.perf_counter() - start
            ok = resp.status_code in (200, 204)  # 204: nothing to update (Dash)
            self.record(kind, elapsed, None if ok else f"HTTP {resp.status_code}: "
                                                      f"{resp.text[:120]}")
            return resp if ok else None
        except requests.RequestException as exc:
            self.record(kind, time.perf_counter() - start, f"{type(exc).__name__}: {exc}")
            return None

    def apply_sync(self, resp) -> bool:
        out = resp.json()["response"]
        store = out["config-store"]["data"]
        if "error" in store:
            self.record("sync", 0.0, f"settings refused: {store['error']}")
            return False
        self.store = store
        for cid, props in out.items():
            for prop, value in props.items():
                self.values[f"{cid}.{prop}"] = value
        self.values["config-store.data"] = store
        if "url" in out:
            self.search = out["url"]["search"]
        return True

    def main_update(self) -> dict | None:
        """The main update; returns the background job it asks for (a slow config), if any."""
        body = Callbacks.body(self.cbs.panels, self.values, ["config-store.data"])
        start = time.perf_counter()
        resp = self.call("main update", "POST", UPDATE, json=body)
        self.slowest((time.perf_counter() - start, self.store.get("config", {})))  # main update
        if resp is None:
            return None
        out = resp.json()["response"]
        if "graph-clean" not in out:
            self.record("main update", 0.0, "no panels in the response")
        return out.get("job-store", {}).get("data")

    def background_job(self, job: dict) -> None:
        """What the renderer does: start the job, poll every second, then draw its result."""
        start = time.perf_counter()
        body = Callbacks.body(self.cbs.run_job, {"job-store.data": job}, ["job-store.data"])
        resp = self.call("job start", "POST", f"{UPDATE}?endId={self.end_id}", json=body)
        if resp is None:
            return
        handles = resp.json()
        query = f"?endId={self.end_id}&cacheKey={handles['cacheKey']}&job={handles['job']}"
        finished = None
        while time.monotonic() < self.deadline + 60:
            time.sleep(1.0)  # the renderer's default polling interval
            resp = self.call("job poll", "POST", UPDATE + query, json=body)
            if resp is None:
                return
            if resp.status_code == 200 and "response" in resp.json():
                finished = resp.json()["response"]["bg-result"]["data"]
                break
        if finished is None:
            c = job.get("config", {})
            self.record("job poll", 0.0, f"background job did not finish in "
                        f"{time.perf_counter() - start:.0f} s: {c.get('dataset')} "
                        f"n={c.get('n_samples')} {c.get('attack')} {c.get('defense')} "
                        f"{c.get('model')}/{c.get('kernel')} C={c.get('C')}")
            # the whole config, to re-run it: python -m core run --config FILE
            print(f"unfinished job's config: {json.dumps(c, sort_keys=True)}", flush=True)
            return
        values = {"bg-result.data": finished, "config-store.data": self.store}
        self.call("job draw", "POST", UPDATE,
                  json=Callbacks.body(self.cbs.draw_job, values, ["bg-result.data"]))
        elapsed = time.perf_counter() - start
        self.record("background view (start to drawn)", elapsed, None)
        self.slowest((elapsed, {**job.get("config", {}), "background": True}))

    def visibility(self, changed: list[str]) -> None:
        self.call("visibility", "POST", UPDATE,
                  json=Callbacks.body(self.cbs.visibility, self.values, changed))

    def page_load(self) -> None:
        start = time.perf_counter()
        index = self.call("index", "GET", "/" + self.search)
        if index is None:
            return
        found = re.search(r'"end_id":\s*"([^"]+)"', index.text)
        self.end_id = found.group(1) if found else ""
        if not self.assets_loaded:  # a first visit fetches every script and stylesheet
            for url in re.findall(r'(?:src|href)="(/[^"]+\.(?:js|css))"', index.text):
                self.call("static", "GET", url)
            self.assets_loaded = True
        self.call("layout", "GET", "/_dash-layout")
        self.call("dependencies", "GET", "/_dash-dependencies")
        self.values = {"url.search": self.search}
        body = Callbacks.body(self.cbs.sync, self.values, [])
        resp = self.call("sync", "POST", UPDATE, json=body)
        job = None
        if resp is not None and self.apply_sync(resp):
            job = self.main_update()
            self.visibility([])
        self.record("page load (all)", time.perf_counter() - start, None)
        if job:  # a slow config: the page starts the background job and waits for it
            self.background_job(job)

    def change_control(self) -> None:
        control, _, new = self.rng.choices(MOVES, weights=[m[1] for m in MOVES])[0]
        key = f"{control}.value"
        self.values[key] = new(self.rng, self.values)
        start = time.perf_counter()
        resp = self.call("sync", "POST", UPDATE,
                         json=Callbacks.body(self.cbs.sync, self.values, [key]))
        job = None
        if resp is not None and self.apply_sync(resp):
            job = self.main_update()
            if control in (ids.DEFENSE, ids.KERNEL, ids.DATASET):
                self.visibility([key])
        self.record("control change (sync + main)", time.perf_counter() - start, None)
        if job:
            self.background_job(job)

    def run(self) -> None:
        self.page_load()
        while time.monotonic() < self.deadline:
            time.sleep(self.rng.uniform(*self.think))
            if time.monotonic() >= self.deadline:
                break
            if self.rng.random() < 0.1 or self.store is None:
                self.page_load()
            else:
                self.change_control()


def widest_upload(limits: CSVLimits | None = None) -> str:
    """The costliest file the limits accept, as the browser sends it (a base64 data URL).

    ``max_columns`` columns, ``max_cells`` values, each value text (stripped and tried as
    a number: the slowest kind to read) and as long as ``max_bytes`` allows: 10,000 rows x
    500 columns of 9 letters, 50 MB, 67 MB as a request.
    """
    import base64

    import numpy as np

    limits = limits or CSVLimits()
    n_rows = limits.max_cells // limits.max_columns
    width = limits.max_bytes // limits.max_cells - 1  # letters per value, plus its comma
    header = ",".join([*(f"f{i}" for i in range(limits.max_columns - 1)), "label"]) + "\n"
    assert width >= 1 and len(header) + n_rows * limits.max_columns * (width + 1) \
        <= limits.max_bytes
    rs = np.random.RandomState(0)
    cells = rs.randint(ord("a"), ord("z") + 1, (n_rows, limits.max_columns, width + 1))
    cells = cells.astype(np.uint8)
    cells[:, :, -1] = ord(",")
    cells[:, -1, :] = ord(" ")  # the label: "0" or "1", padded with spaces (stripped)
    cells[:, -1, 0] = rs.randint(0, 2, n_rows) + ord("0")
    cells[:, -1, -1] = ord("\n")
    data = header.encode() + cells.tobytes()
    return "data:text/csv;base64," + base64.b64encode(data).decode()


#: what an upload refused because the worker is reading another one says (any other
#: refusal is an error here: the file is within the limits)
BUSY = "the server is busy reading other uploads"


def upload_request(cbs: Callbacks, contents: str, filename: str) -> bytes:
    """The upload callback's request body, encoded once: encoding 67 MB of JSON holds the
    GIL for a while, which in a thread of the load generator would delay its other users."""
    return json.dumps(cbs.upload_body(contents, filename)).encode()


def upload(session, base: str, body: bytes, timeout: float = 60) -> tuple[str, float, str]:
    """One upload as the browser sends it (``body`` from :func:`upload_request`):
    (outcome, seconds, detail).

    outcome is ``accepted`` (detail: the upload's token), ``busy`` or ``error``.
    """
    start = time.perf_counter()
    try:
        resp = session.post(base + UPDATE, data=body, timeout=timeout,
                            headers={"Content-Type": "application/json"})
    except requests.RequestException as exc:
        return "error", time.perf_counter() - start, f"{type(exc).__name__}: {exc}"
    elapsed = time.perf_counter() - start
    if resp.status_code != 200:
        return "error", elapsed, f"HTTP {resp.status_code}: {resp.text[:120]}"
    out = resp.json()["response"]
    info = json.dumps(out.get(ids.UPLOAD_INFO, {}))
    token = out.get(ids.DATA, {}).get("value")
    if token:
        n_options = len(out[ids.CSV_FEATURES]["options"])
        if n_options > CSVLimits().max_columns or len(resp.content) > 2**20:
            return "error", elapsed, f"{n_options} options, {len(resp.content):,} bytes"
        return "accepted", elapsed, token
    if BUSY in info:
        return "busy", elapsed, info
    return "error", elapsed, f"refused: {info[:200]}"


class WideUploader(threading.Thread):
    """A user who uploads the widest accepted file, again and again (``--wide-users``).

    After an accepted upload it asks for the file's columns, as the page does (which
    another worker may have to read first). A "busy, try again" answer is expected while
    the worker reads another upload; it is counted, not an error.
    """

    def __init__(self, n: int, base: str, cbs: Callbacks, deadline: float, think: tuple,
                 record, contents: str):
        super().__init__(daemon=True, name=f"wide-uploader-{n}")
        self.base, self.cbs, self.deadline, self.think = base, cbs, deadline, think
        self.record, self.body = record, upload_request(cbs, contents, "wide.csv")
        self.session = requests.Session()
        self.rng = random.Random(1000 + n)

    def run(self) -> None:
        while time.monotonic() < self.deadline:
            outcome, seconds, detail = upload(self.session, self.base, self.body)
            if outcome == "error":
                self.record("wide upload", seconds, detail)
            else:
                self.record(f"wide upload ({outcome})", seconds, None)
            if outcome == "accepted":
                start = time.perf_counter()
                try:
                    resp = self.session.post(self.base + UPDATE, timeout=60,
                                             json=self.cbs.columns_body(detail))
                    error = None if resp.status_code in (200, 204) else \
                        f"HTTP {resp.status_code}: {resp.text[:120]}"
                except requests.RequestException as exc:
                    error = f"{type(exc).__name__}: {exc}"
                self.record("wide upload's columns", time.perf_counter() - start, error)
            time.sleep(self.rng.uniform(*self.think))


def busy_seconds(proc: psutil.Process) -> float:
    t = proc.cpu_times()
    return t.user + t.system + t.children_user + t.children_system


def cpu_split(worker: list[int]) -> dict[str, float]:
    """CPU seconds used so far: the gunicorn workers, this load generator, everything else."""
    total = psutil.cpu_times()
    busy = total.user + total.nice + total.system + getattr(total, "irq", 0) \
        + getattr(total, "softirq", 0) + getattr(total, "steal", 0)
    server = 0.0
    for pid in worker:  # with their jobs' fork server (which reaps the jobs) and live jobs
        proc = psutil.Process(pid)
        for p in (proc, *proc.children(recursive=True)):
            try:
                server += busy_seconds(p)
            except psutil.NoSuchProcess:
                pass
    client = busy_seconds(psutil.Process())
    return {"server workers and their jobs": server, "load generator": client,
            "other processes": busy - server - client}


def worker_pids(master: psutil.Process) -> list[int]:
    return sorted(p.pid for p in master.children() if "gunicorn" in " ".join(p.cmdline()))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python scripts/loadtest.py")
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--think", type=float, nargs=2, default=(1.0, 3.0),
                        metavar=("MIN", "MAX"), help="seconds between a user's actions")
    parser.add_argument("--p95", type=float, default=1.0, help="bar for the main update, s")
    parser.add_argument("--wide-users", type=int, default=1,
                        help="users who keep uploading the widest accepted CSV (50 MB)")
    parser.add_argument("--rss-growth", type=float, default=48.0,
                        help="bar: MB a worker may grow over the second half of the run")
    args = parser.parse_args(argv)
    if not 1 <= args.users <= 200 or not 1 <= args.duration <= 900:
        parser.error("--users must be 1..200 and --duration 1..900 s")
    if not 0 <= args.wide_users <= 20:
        parser.error(f"--wide-users {args.wide_users} is out of range; expected 0..20")
    contents = widest_upload() if args.wide_users else ""

    from dashboard.bench import cpu_reference_line, cpu_reference_ms

    reference = cpu_reference_ms()  # before the server starts: the host's speed alone
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    cache = tempfile.mkdtemp(prefix="poisonlab-load-")
    env = {**os.environ, "WEB_CONCURRENCY": str(args.workers), "DASH_CACHE_DIR": cache,
           "PYTHONPATH": ROOT}
    env.pop("REDIS_URL", None)
    cmd = [sys.executable, "-m", "gunicorn", "dashboard.app:server", "--config",
           "gunicorn.conf.py", "--bind", f"127.0.0.1:{port}"]
    log = open(os.path.join(cache, "gunicorn.log"), "w")
    server = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                              start_new_session=True)
    try:
        master = psutil.Process(server.pid)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if (requests.get(base + "/healthz", timeout=5).ok
                        and len(worker_pids(master)) == args.workers):
                    break
            except requests.RequestException:
                pass
            if server.poll() is not None:
                raise SystemExit(f"gunicorn exited: see {log.name}")
            time.sleep(0.5)
        else:
            raise SystemExit("gunicorn did not come up in 120 s")
        time.sleep(3)  # let post_worker_init's default view finish on every worker
        pids = worker_pids(master)
        cbs = Callbacks(requests.get(base + "/_dash-dependencies", timeout=30).json())

        lock = threading.Lock()
        latencies: dict[str, list[float]] = defaultdict(list)
        errors: list[str] = []

        def record(kind, seconds, error):
            with lock:
                if error:
                    errors.append(f"{kind}: {error}")
                elif seconds:
                    latencies[kind].append(seconds)

        slow: list[tuple[float, dict]] = []

        def slowest(item):
            with lock:
                slow.append(item)

        rss: dict[int, list[tuple[float, float]]] = {pid: [] for pid in pids}
        stop = threading.Event()

        def sample():
            t0 = time.monotonic()
            while not stop.is_set():
                for pid in pids:
                    try:
                        rss[pid].append((time.monotonic() - t0,
                                         psutil.Process(pid).memory_info().rss / 2**20))
                    except psutil.NoSuchProcess:
                        errors.append(f"worker {pid} died")
                stop.wait(1.0)

        load_before = os.getloadavg()
        cpu_before, cpu_t0 = cpu_split(pids), time.monotonic()
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        time.sleep(1.1)
        start = time.monotonic()
        users = [User(n, base, cbs, start + args.duration, tuple(args.think), record, slowest)
                 for n in range(args.users)]
        users += [WideUploader(n, base, cbs, start + args.duration, tuple(args.think), record,
                               contents) for n in range(args.wide_users)]
        for user in users:  # ramp up over ~2 s
            user.start()
            time.sleep(2.0 / args.users)
        for user in users:
            user.join(timeout=args.duration + 120)
        elapsed = time.monotonic() - start
        time.sleep(1.1)
        stop.set()
        sampler.join()
        load_after = os.getloadavg()
        cpu_after, cpu_t1 = cpu_split(pids), time.monotonic()
        alive = [u.name for u in users if u.is_alive()]
        if alive:
            errors.append(f"users still waiting at the end: {alive}")
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)

    # report
    print(f"gunicorn {' '.join(cmd[3:])}, {args.workers} workers x "
          f"{os.environ.get('GUNICORN_THREADS', '4')} threads; {args.users} users for "
          f"{elapsed:.0f} s, think {args.think[0]:g}-{args.think[1]:g} s; "
          f"{psutil.cpu_count()} cores")
    print(cpu_reference_line(reference))
    print(f"load average before {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}"
          f", after {load_after[0]:.2f} {load_after[1]:.2f} {load_after[2]:.2f}")
    used = {k: cpu_after[k] - cpu_before[k] for k in cpu_after}
    cores = psutil.cpu_count() * (cpu_t1 - cpu_t0)
    print("CPU over the run, share of all cores: " + ", ".join(
        f"{k} {100 * v / cores:.0f}%" for k, v in used.items())
        + f" (idle {100 * max(0.0, 1 - sum(used.values()) / cores):.0f}%)")
    print(f"\n{'request':<32}{'count':>7}{'req/s':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}"
          f"{'max ms':>9}")
    for kind in ("main update", "sync", "visibility", "control change (sync + main)",
                 "index", "layout", "dependencies", "static", "page load (all)",
                 "job start", "job poll", "job draw", "background view (start to drawn)",
                 "wide upload (accepted)", "wide upload (busy)", "wide upload's columns"):
        v = latencies.get(kind, [])
        if v:
            print(f"{kind:<32}{len(v):>7}{len(v) / elapsed:>8.1f}"
                  + "".join(f"{1000 * percentile(v, q):>9.0f}" for q in (50, 95, 99))
                  + f"{1000 * max(v):>9.0f}")
    jobs = [item for item in slow if item[1].get("background")]
    slow = [item for item in slow if not item[1].get("background")]
    for title, items in (("slowest main updates", slow),
                         ("slowest background views (not a bar)", jobs)):
        print(f"\n{title}:")
        for seconds, c in sorted(items, key=lambda s: -s[0])[:5]:
            print(f"  {seconds:6.2f} s  {c.get('dataset')} n={c.get('n_samples')} "
                  f"{c.get('attack')}@{c.get('poison_rate')} {c.get('defense')} "
                  f"{c.get('model')}/{c.get('kernel')} C={c.get('C')} seed={c.get('seed')}")
    by_defense: dict[str, list[float]] = defaultdict(list)
    for seconds, c in slow:
        by_defense[str(c.get("defense"))].append(seconds)
    print("\nmain update by the config's defense (where the tail comes from):")
    for defense, v in sorted(by_defense.items(), key=lambda kv: -percentile(kv[1], 95)):
        print(f"  {defense:<22}{len(v):>5} updates   p50 {1000 * percentile(v, 50):>6.0f} ms"
              f"   p95 {1000 * percentile(v, 95):>6.0f} ms")
    print(f"\nerrors: {len(errors)}")
    for e in errors[:10]:
        print("  ", e)

    print(f"\n{'worker RSS (MB)':<20}{'start':>8}{'25%':>8}{'middle':>8}{'75%':>8}{'end':>8}"
          f"{'2nd-half growth':>17}")
    growth_fail = []
    for pid, series in rss.items():
        if not series:
            continue
        def at(frac, series=series):
            t_end = series[-1][0]
            return min(series, key=lambda s: abs(s[0] - frac * t_end))[1]
        marks = [at(f) for f in (0, 0.25, 0.5, 0.75, 1.0)]
        growth = marks[4] - marks[2]
        if growth > args.rss_growth:
            growth_fail.append(pid)
        print(f"pid {pid:<16}" + "".join(f"{m:>8.0f}" for m in marks) + f"{growth:>+15.0f} MB")

    p95 = percentile(latencies.get("main update", []), 95)
    bars = [("zero errors", not errors),
            (f"main update p95 {1000 * p95:.0f} ms <= {1000 * args.p95:.0f} ms", p95 <= args.p95),
            (f"worker RSS growth over the 2nd half <= {args.rss_growth:g} MB", not growth_fail)]
    print()
    for name, ok in bars:
        print(f"{'PASS' if ok else 'FAIL'}  {name}")
        if name.startswith("main update p95"):  # how fast the host was, beside the bar
            print(f"      {cpu_reference_line(reference)}")
    return 0 if all(ok for _, ok in bars) else 1


if __name__ == "__main__":
    sys.exit(main())
