import os
import shutil
import tempfile
import threading

import pytest
from werkzeug.serving import make_server

# one OpenMP thread, as dashboard/__init__.py sets for the app: the live app forks
# background jobs from a threaded server (set here, before any test imports scikit-learn)
os.environ.setdefault("OMP_NUM_THREADS", "1")
# every test run gets its own background-job and results caches
os.environ.setdefault("DASH_CACHE_DIR", tempfile.mkdtemp(prefix="poisonlab-test-cache-"))

CHROMIUM = shutil.which("chromium") and "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]


#: latency tests run first, before earlier tests' servers, pools and browsers share the CPU
FIRST = ("test_wide_uploads.py",)


def pytest_collection_modifyitems(config, items):
    """Latency tests first; without Debian's chromium, browser tests skip locally (in CI,
    CI=true, they must run)."""
    items.sort(key=lambda item: item.path.name not in FIRST)  # stable: the rest keep order
    if CHROMIUM and os.path.exists(CHROMIUM) or os.environ.get("CI") == "true":
        return
    skip = pytest.mark.skip(reason="needs Debian's chromium: apt-get install chromium")
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": "/usr/bin/chromium",
            "args": CHROMIUM_ARGS, "headless": True}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1280, "height": 800}}


@pytest.fixture(scope="session")
def live_app(tmp_path_factory):
    """The real dashboard app, served by werkzeug in a thread on 127.0.0.1 (random port)."""
    from dashboard.app import app

    app.server.test_client().get("/")  # Dash's one-time setup before concurrent requests
    srv = make_server("127.0.0.1", 0, app.server, threaded=True)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_port}"
    srv.shutdown()
