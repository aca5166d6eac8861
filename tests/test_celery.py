"""Background callbacks through a real Celery worker and Redis, as deployed with REDIS_URL.

Starts ``redis-server`` (Debian's) on a free 127.0.0.1 port, a Celery worker
(``celery -A dashboard.app:celery_app worker``) and the dashboard under gunicorn with
the production config, each as a subprocess with ``REDIS_URL`` set. The worker gets a
different ``DASH_CACHE_DIR`` from the web process, as on Heroku or Render where they
share no disk. Then it drives the sweep and a slow experiment the way the browser does:
the first POST starts the job, polls with the signed handles until the result arrives.
Skipped locally without ``redis-server``; under CI=true it must run.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request

import pytest
from dash_http import (
    cancel_sweep,
    job_body,
    post,
    run_background,
    start_job,
    sweep_body,
    wait_until_running,
)
from server_procs import free_port, stop, wait_until

from core import run_sweep, scenario_config
from core.sweeps import summarize_sweep

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG = scenario_config("label-flip-moons", n_samples=200)
STORE = {"config": CONFIG.to_dict(), "scenario": None, "problems": []}

if shutil.which("redis-server") is None:
    if os.environ.get("CI") == "true":
        pytest.fail("CI needs Debian's redis-server (.ci/run installs it)", pytrace=False)
    pytest.skip("needs redis-server: apt-get install redis-server", allow_module_level=True)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """redis-server + Celery worker + gunicorn; yields (base URL, worker log path)."""
    tmp = tmp_path_factory.mktemp("celery")
    procs: list[subprocess.Popen] = []

    def start(name, cmd, env=None):
        log = tmp / f"{name}.log"
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=open(log, "w"),
                                stderr=subprocess.STDOUT, start_new_session=True)
        procs.append(proc)
        return proc, str(log)

    try:
        redis_port = free_port()
        redis_proc, redis_log = start("redis", [
            "redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--daemonize", "no"])
        wait_until(lambda: "Ready to accept connections" in open(redis_log).read(), 20,
                   "redis-server", redis_proc, redis_log)
        base_env = {**os.environ, "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
                    "POISONLAB_SECRET_KEY": "test-secret", "PYTHONPATH": ROOT}
        worker_dir, web_dir = tmp / "worker-cache", tmp / "web-cache"
        worker, worker_log = start("worker", [
            sys.executable, "-m", "celery", "-A", "dashboard.app:celery_app", "worker",
            "--pool=prefork", "--concurrency=1", "--loglevel=INFO", "--without-gossip",
            "--without-mingle", "--without-heartbeat"],
            {**base_env, "DASH_CACHE_DIR": str(worker_dir)})
        port = free_port()
        web, web_log = start("gunicorn", [
            sys.executable, "-m", "gunicorn", "dashboard.app:server", "--config",
            "gunicorn.conf.py", "--bind", f"127.0.0.1:{port}", "--workers", "1"],
            {**base_env, "DASH_CACHE_DIR": str(web_dir)})
        base = f"http://127.0.0.1:{port}"
        wait_until(lambda: " ready." in open(worker_log).read(), 90, "celery worker",
                   worker, worker_log)
        wait_until(lambda: urllib.request.urlopen(base + "/healthz", timeout=5).status == 200,
                   90, "gunicorn", web, web_log)
        yield base, worker_log
    finally:
        for proc in reversed(procs):
            stop(proc)


def test_a_sweep_runs_on_the_celery_worker(stack):
    base, worker_log = stack
    response, progress = run_background(base, sweep_body(STORE, 0.2, 1))
    sweep = response["sweep-store"]["data"]
    # the same numbers core computes, drawn as the sweep figure (3 bands + 3 means)
    rates = [round(0.2 * i / 8, 4) for i in range(9)]
    expected = summarize_sweep(run_sweep(CONFIG, rates, 1)).to_dict("list")
    assert sweep["seeds"] == 1 and sweep["summary"].keys() == expected.keys()
    for column, values in expected.items():
        assert sweep["summary"][column] == pytest.approx(values), column
    from dashboard.callbacks.sweep import render_sweep
    fig = render_sweep(sweep, STORE)
    assert len(fig.data) == 6 and list(fig.data[-1].x) == pytest.approx(rates)
    log = open(worker_log).read()
    assert re.search(r"Task background_callback_\w+\[[-\w]+\] succeeded", log), log[-2000:]
    # the pool process that ran it has yielded the CPU (dashboard.app.LowPriorityJobs)
    import psutil

    celery = {p.pid: p for p in psutil.process_iter(["cmdline", "ppid"])
              if "dashboard.app:celery_app" in " ".join(p.info["cmdline"] or [])}
    pool = [p for p in celery.values() if p.info["ppid"] in celery]
    assert len(pool) == 1 and pool[0].nice() == 19  # --concurrency=1: it ran the sweep
    assert {p.nice() for p in celery.values() if p not in pool} == {psutil.Process().nice()}


def test_a_slow_experiment_result_reaches_the_web_process_through_redis(stack):
    """The worker has its own cache dir: the result must travel through Redis."""
    base, _ = stack
    config = CONFIG.replace(attack="gradient", poison_rate=0.1, kernel="linear", n_samples=150)
    response, _ = run_background(base, job_body({"config": config.to_dict(),
                                                 "key": config.key()}))
    finished = response["bg-result"]["data"]
    assert finished == {"key": config.key()}
    # the callback that draws a finished job (its outputs carry allow_duplicate's @hash)
    key = next(k for k in _callback_keys(base) if k.startswith("..graph-clean.figure@"))
    outputs = [dict(zip(("id", "property"), o.rsplit(".", 1), strict=True))
               for o in key[2:-2].split("...")]
    draw = {"output": key, "outputs": outputs,
            "inputs": [{"id": "bg-result", "property": "data", "value": finished}],
            "state": [{"id": "config-store", "property": "data",
                       "value": {"config": config.to_dict(), "scenario": None,
                                 "problems": []}},
                      {"id": "trigger-switch", "property": "value", "value": False}],
            "changedPropIds": ["bg-result.data"]}
    out = post(base, draw)["response"]
    assert len(out["graph-poisoned"]["figure"]["data"]) >= 3
    assert "%" in json.dumps(out["accuracy-poisoned"]["children"])


def _callback_keys(base: str):
    deps = json.loads(urllib.request.urlopen(base + "/_dash-dependencies", timeout=30).read())
    return [d["output"] for d in deps]


def test_cancel_terminates_the_task_on_the_celery_worker(stack):
    """The worker runs the prefork pool, as the Procfile's does: Cancel revokes the task
    and terminates the process running it."""
    base, worker_log = stack
    store = {"config": CONFIG.replace(n_samples=2000).to_dict(), "scenario": None,
             "problems": []}
    body = sweep_body(store, 0.4, 10)
    token, handles = start_job(base, body)
    task = handles["job"].split("~")[0]
    wait_until_running(base, body, token, handles)
    cancel_sweep(base, token, handles)
    wait_until(lambda: f"Terminating {task}" in open(worker_log).read(), 20,
               "the worker terminating the task")
    time.sleep(1)
    out = post(base, body, endId=token, cacheKey=handles["cacheKey"], job=handles["job"])
    assert "response" not in out
    assert not re.search(rf"Task \S+\[{task}\] succeeded", open(worker_log).read())
