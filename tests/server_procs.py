"""Starting and stopping the real servers some tests talk to (helpers for tests)."""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(check, timeout: float, what: str, proc=None, log=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            break
        try:
            if check():
                return
        except OSError:
            pass
        time.sleep(0.2)
    tail = open(log).read()[-3000:] if log and os.path.exists(log) else ""
    raise AssertionError(f"{what} did not come up in {timeout:.0f} s\n{tail}")


def stop(proc: subprocess.Popen) -> None:
    """SIGTERM the process group this test started, then SIGKILL what is left."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)


def start(cmd: list[str], log: str, env: dict | None = None) -> subprocess.Popen:
    """``cmd`` in its own process group (so :func:`stop` ends all of it), output to ``log``."""
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=open(log, "w"),
                            stderr=subprocess.STDOUT, start_new_session=True)


def gunicorn_cmd(port: int, *extra: str) -> list[str]:
    """The Procfile's web command (``gunicorn.conf.py``) on 127.0.0.1:``port``."""
    return [sys.executable, "-m", "gunicorn", "dashboard.app:server", "--config",
            "gunicorn.conf.py", "--bind", f"127.0.0.1:{port}", *extra]


def wait_idle(pids: list[int], timeout: float = 90, quiet: float = 0.5) -> None:
    """Wait until none of ``pids`` used CPU for ``quiet`` seconds (e.g. gunicorn workers
    done with ``post_worker_init``'s default view), or AssertionError after ``timeout``."""
    import psutil

    procs = [psutil.Process(p) for p in pids]

    def used() -> float:
        return sum(sum(p.cpu_times()[:2]) for p in procs)

    deadline = time.monotonic() + timeout
    before = used()
    while time.monotonic() < deadline:
        time.sleep(quiet)
        now = used()
        if now - before < 0.05 * quiet:
            return
        before = now
    raise AssertionError(f"the processes {pids} stayed busy for {timeout:.0f} s")


@contextmanager
def gunicorn(tmp_path, workers: int = 2, env: dict | None = None):
    """The production web server (``gunicorn.conf.py``) on a free port, without Redis;
    yields ``(base URL, worker pids, log path)`` once every worker is up and idle."""
    import psutil

    port = free_port()
    log = str(tmp_path / "gunicorn.log")
    env = {**os.environ, "WEB_CONCURRENCY": str(workers), "PYTHONPATH": ROOT,
           "DASH_CACHE_DIR": str(tmp_path / "cache"), **(env or {})}
    env.pop("REDIS_URL", None)
    proc = start(gunicorn_cmd(port), log, env)
    base = f"http://127.0.0.1:{port}"
    try:
        master = psutil.Process(proc.pid)
        wait_until(lambda: urllib.request.urlopen(base + "/healthz", timeout=5).status == 200
                   and len(master.children()) == workers, 120, "gunicorn", proc, log)
        pids = [p.pid for p in master.children()]
        wait_idle(pids)
        yield base, pids, log
    finally:
        stop(proc)
