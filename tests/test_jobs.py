"""Background jobs as several viewers start them at once (DiskcacheManager, real processes)."""

from dash_http import job_body, poll_job, start_job

from core import scenario_config


def test_two_viewers_starting_the_same_job_both_get_its_result(live_app):
    """Dash keys a job's result by the callback's inputs alone, and the first poll to read a
    result deletes it. Two viewers who started the same job shared one result slot: the
    second poller took the first one's result and killed its own job, and the first viewer
    polled forever (found under load by scripts/loadtest.py)."""
    config = scenario_config("seed-demo").replace(attack="gradient", seed=11)
    body = job_body({"config": config.to_dict(), "key": config.key()})
    first = start_job(live_app, body)
    second = start_job(live_app, body)
    assert poll_job(live_app, body, *second, timeout=60) == \
        {"bg-result": {"data": {"key": config.key()}}}
    assert poll_job(live_app, body, *first, timeout=20) == \
        {"bg-result": {"data": {"key": config.key()}}}


def test_jobs_start_from_a_fork_server_not_from_the_threaded_web_process(live_app):
    """A fork of the threaded web process copies locks other threads hold (a job hung for
    good inside SQLite under load); the fork server is single-threaded."""
    import multiprocess
    import psutil

    config = scenario_config("seed-demo").replace(attack="gradient", seed=12)
    body = job_body({"config": config.to_dict(), "key": config.key()})
    assert multiprocess.get_start_method() == "forkserver"
    token, handles = start_job(live_app, body)
    pid = int(handles["job"].split("~")[0])
    try:
        parent = psutil.Process(pid).ppid()
    except psutil.NoSuchProcess:  # already done: nothing left to look at
        parent = None
    assert parent != psutil.Process().pid
    assert poll_job(live_app, body, token, handles)["bg-result"]["data"] == {"key": config.key()}


def test_cancel_stops_a_running_sweep_and_its_worker_processes(live_app):
    """What the Cancel button sends: the cancel callback with the job's signed handle."""
    import psutil
    from dash_http import cancel_sweep, post, sweep_body, wait_until_running

    store = {"config": scenario_config("seed-demo").replace(n_samples=2000).to_dict(),
             "scenario": None, "problems": []}
    body = sweep_body(store, 0.4, 10)
    token, handles = start_job(live_app, body)
    job = psutil.Process(int(handles["job"].split("~")[0]))
    wait_until_running(live_app, body, token, handles)
    workers = job.children(recursive=True)
    cancel_sweep(live_app, token, handles)
    gone, alive = psutil.wait_procs([job, *workers], timeout=10)
    assert not [p for p in alive if p.status() != psutil.STATUS_ZOMBIE], alive
    out = post(live_app, body, endId=token, cacheKey=handles["cacheKey"], job=handles["job"])
    assert "response" not in out  # no result ever arrives for a cancelled job


def test_jobs_yield_the_cpu_to_viewers(live_app):
    """Jobs run at the lowest priority, so a control change does not queue behind a sweep
    (scripts/loadtest.py: main-update p95 3.8 s with jobs at the web server's priority)."""
    import os

    import psutil
    from dash_http import cancel_sweep, sweep_body, wait_until_running

    from dashboard.job_priority import job_niceness

    store = {"config": scenario_config("seed-demo").replace(n_samples=2000, seed=3).to_dict(),
             "scenario": None, "problems": []}
    body = sweep_body(store, 0.4, 10)
    token, handles = start_job(live_app, body)
    job = psutil.Process(int(handles["job"].split("~")[0]))
    try:
        wait_until_running(live_app, body, token, handles)
        assert job_niceness() == 19
        assert job.nice() == 19
        assert os.nice(0) == psutil.Process().nice() < 19  # the web server keeps its priority
    finally:
        cancel_sweep(live_app, token, handles)


def test_a_job_function_called_in_process_keeps_the_callers_priority(monkeypatch):
    import os

    import pytest

    from dashboard.job_priority import job_niceness, lower_job_priority

    before = os.nice(0)
    assert lower_job_priority() == before == os.nice(0)
    monkeypatch.setenv("POISONLAB_JOB_NICE", "5")
    assert job_niceness() == 5
    for bad in ("-1", "20", "low"):
        monkeypatch.setenv("POISONLAB_JOB_NICE", bad)
        with pytest.raises(ValueError, match="POISONLAB_JOB_NICE"):
            job_niceness()


def test_one_signing_key_for_both_apps_shared_by_every_worker(tmp_path, monkeypatch):
    import os
    import stat

    from dashboard.app import app
    from dashboard.cache import signing_secret

    # the lab and the story sign and check handles with the same key
    assert app._get_signing_secret() == app.story._get_signing_secret() == \
        app.server.secret_key.encode()
    monkeypatch.delenv("POISONLAB_SECRET_KEY", raising=False)
    monkeypatch.setenv("DASH_CACHE_DIR", str(tmp_path / "cache"))
    first = signing_secret()
    assert len(first) == 64 and signing_secret() == first  # what a second worker reads
    path = tmp_path / "cache" / "signing-secret"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    monkeypatch.setenv("POISONLAB_SECRET_KEY", "set-by-the-operator")
    assert signing_secret() == "set-by-the-operator"


def test_a_job_that_exits_while_its_result_is_collected_still_delivers_it(tmp_path,
                                                                          monkeypatch):
    import subprocess

    import diskcache
    import psutil

    from dashboard.app import JobManager

    manager = JobManager(diskcache.Cache(str(tmp_path)))
    manager.handle.set("key", {"done": 1})
    proc = subprocess.Popen(["sleep", "30"])
    try:
        def exited(self, recursive=False):  # the job exits just as Dash looks at it
            raise psutil.NoSuchProcess(self.pid)

        monkeypatch.setattr(psutil.Process, "children", exited)
        assert manager.get_result("key", proc.pid) == {"done": 1}
    finally:
        proc.kill()
        proc.wait()
