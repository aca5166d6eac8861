"""gunicorn settings (Procfile: gunicorn dashboard.app:server --config gunicorn.conf.py)."""

import os

bind = f"0.0.0.0:{os.environ.get('PORT', '8050')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
# idle keep-alive connections stay open this long; longer than a user's pause between
# actions, so a request is not sent on a connection the server is just closing
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "10"))
accesslog = "-" if os.environ.get("GUNICORN_ACCESS_LOG") == "1" else None


def post_worker_init(worker):
    """Run Dash's one-time setup before the worker takes traffic.

    Dash sets its "set up" flag before it finishes, so concurrent first requests to a
    fresh threaded worker can fail with 'dash is not a registered library' (RECIPES §2).
    """
    from werkzeug.test import Client

    Client(worker.wsgi).get("/")
    Client(worker.wsgi).get("/story/")  # the story's Dash app has the same one-time setup
    # compute the page's default view and the story's default seed once, so the first
    # visitor of each worker waits for nothing (both are memoized per worker)
    from dashboard.service import compute, preview_for, story_for
    from dashboard.state import default_config

    compute(default_config())
    preview_for(0)
    story_for(0)
    from dashboard.app import start_job_server

    start_job_server()
