"""Background jobs as several viewers start them at once (DiskcacheManager, real processes)."""

from core import scenario_config
from dash_http import job_body, poll_job, start_job


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
