"""Creates the Dash app; ``server = app.server`` is what gunicorn serves.

Background callbacks (sweeps, the matrix, slow experiments) run in a Celery worker when
``REDIS_URL`` is set (``celery -A dashboard.app:celery_app worker``, which imports this
module and so registers the same callbacks as tasks), else in processes the web worker
starts, with their state in a disk cache shared by all gunicorn workers.
"""

from __future__ import annotations

import os
import secrets

from dash import Dash, DiskcacheManager

from dashboard import guard
from dashboard.cache import (
    JOB_EXPIRE,
    background_cache,
    redis_tls_cert_reqs,
    redis_url,
    signing_secret,
)
from dashboard.callbacks import register
from dashboard.callbacks.story import create_story_app
from dashboard.job_priority import job_niceness, lower_job_priority
from dashboard.layout import MAX_UPLOAD_BYTES, build_layout

ASSETS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "assets")


def make_celery(url: str):
    """The Celery app: Redis as broker and result backend, JSON only (no pickle)."""
    from celery import Celery

    celery = Celery("poisonlab", broker=url, backend=url)
    celery.conf.update(
        task_serializer="json", result_serializer="json", accept_content=["json"],
        result_expires=JOB_EXPIRE,               # finished jobs do not pile up in Redis
        worker_prefetch_multiplier=1,            # long jobs: take one at a time
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
    )
    cert_reqs = redis_tls_cert_reqs(url)
    if cert_reqs is not None and "ssl_cert_reqs" not in url:  # rediss:// (Heroku: TLS)
        celery.conf.update(broker_use_ssl={"ssl_cert_reqs": cert_reqs},
                           redis_backend_use_ssl={"ssl_cert_reqs": cert_reqs})
    return celery


class OwnResultSlots:
    """Each started job gets its own result key.

    Dash derives a job's key from the callback's inputs alone, and the first poll that
    reads a result deletes it and ends that poller's job. Two viewers who started the same
    job (the same scenario at a sales event) shared one slot: the second poller took the
    first one's result and killed its own job, and the first viewer waited forever (found
    by ``scripts/loadtest.py``; ``tests/test_jobs.py``). Nothing reuses results by this
    key (no ``cache_by``); finished experiments are shared through ``results_cache``.
    """

    def build_cache_key(self, fn, args, cache_args_to_ignore, triggered):
        inputs = super().build_cache_key(fn, args, cache_args_to_ignore, triggered)
        return inputs + secrets.token_hex(16)


class LowPriorityJobs:
    """Every background job lowers its own CPU priority before it runs the callback
    (``dashboard.job_priority``), so the viewers' requests never queue behind it."""

    def make_job_fn(self, fn, progress, key=None):
        def at_low_priority(*args, **kwargs):  # no functools.wraps: dill could not pickle it
            lower_job_priority()
            return fn(*args, **kwargs)

        return super().make_job_fn(at_low_priority, progress, key)


class JobManager(OwnResultSlots, LowPriorityJobs, DiskcacheManager):
    """Dash's DiskcacheManager: one result slot per started job, jobs at low priority, and
    no lost results."""

    def terminate_job(self, job):
        """Dash's, without its race: when a finished job's process exited between Dash's
        ``pid_exists`` and its ``children()``, psutil raised NoSuchProcess inside
        ``get_result`` after the result had been taken from the cache, so the viewer never
        got it (every unfinished job in the load test's gunicorn logs)."""
        import psutil

        try:
            super().terminate_job(job)
        except psutil.NoSuchProcess:
            pass  # it has already exited: nothing left to stop


def background_manager(celery_app=None):
    """Celery when given its app, else a disk cache shared by all workers."""
    if celery_app is not None:
        from dash import CeleryManager

        class CeleryJobManager(OwnResultSlots, LowPriorityJobs, CeleryManager):
            """Dash's CeleryManager, one result slot per started job, at low priority."""

        return CeleryJobManager(celery_app, expire=JOB_EXPIRE)
    start_jobs_from_a_fork_server()
    return JobManager(background_cache(), expire=JOB_EXPIRE)


def start_jobs_from_a_fork_server() -> None:
    """Make DiskcacheManager's job processes start from a fork server, not by forking the
    threaded web process.

    A fork copies whatever locks the web process's other threads hold at that instant.
    Under load a job was forked while another thread was inside SQLite (the job cache),
    and the job hung for good at its first progress update (seen with py-spy in
    ``scripts/loadtest.py``: 0 CPU, waiting in diskcache's ``BEGIN IMMEDIATE``). The fork
    server is a single-threaded process that has imported ``core`` and the callbacks, so a
    job still starts in milliseconds. Dash starts jobs with ``multiprocess`` (dill), whose
    default start method this sets.
    """
    import multiprocess

    if multiprocess.get_start_method(allow_none=True) != "forkserver":
        multiprocess.set_start_method("forkserver", force=True)
        multiprocess.set_forkserver_preload(["dashboard.app"])


def start_job_server() -> None:
    """Start the jobs' fork server now rather than at the first viewer's job (it imports
    the app, a few seconds); a no-op with Celery."""
    import multiprocess

    if multiprocess.get_start_method(allow_none=True) == "forkserver":
        from multiprocess import forkserver

        forkserver.ensure_running()


def content_security_policy(*apps: Dash) -> str:
    """The page's CSP; call after every (clientside) callback is registered.

    Scripts: this server's files and Dash's inline scripts (the renderer start-up and
    clientside callbacks), allowed by hash, so no 'unsafe-inline' for scripts. Styles
    need 'unsafe-inline': plotly.js and the React components set inline styles.
    Images: data: and blob: (plotly's modebar icons, PNG download).
    """
    directives = {
        "default-src": ["'self'"],
        "script-src": ["'self'", *dict.fromkeys(h for a in apps for h in a.csp_hashes())],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:", "blob:"],
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "worker-src": ["'self'", "blob:"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'self'"],
    }
    return "; ".join(f"{name} {' '.join(values)}" for name, values in directives.items())


def create_app(celery_app=None) -> Dash:
    """The app; background callbacks go to ``celery_app`` when given (see the module doc)."""
    job_niceness()  # a bad POISONLAB_JOB_NICE stops the server at start, not in a job
    app = Dash(
        __name__,
        title="PoisonLab",
        assets_folder=ASSETS,
        background_callback_manager=background_manager(celery_app),
        on_error=guard.on_callback_error,
        meta_tags=[{"name": "viewport", "content": "width=device-width, initial-scale=1"}],
    )
    # signs background-job handles; one key for the lab and the story (see signing_secret)
    app.server.secret_key = signing_secret()
    # an upload arrives base64-encoded inside JSON: 4/3 of the file plus a little
    app.server.config["MAX_CONTENT_LENGTH"] = MAX_UPLOAD_BYTES * 4 // 3 + 2**20
    app.layout = build_layout()
    register(app)
    guard.install(app)
    app.story = create_story_app(app.server, ASSETS)  # /story/, the guided walkthrough
    guard.install(app.story)

    @app.server.route("/healthz")
    def healthz():
        return {"status": "ok"}

    csp = content_security_policy(app, app.story)

    @app.server.after_request
    def security_headers(response):
        """No MIME sniffing, no framing by other sites, no full URLs leaked in Referer,
        and scripts only from this server (plus Dash's own inline scripts, by hash)."""
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("Content-Security-Policy", csp)
        return response

    return app


#: the Celery app when REDIS_URL is set (``celery -A dashboard.app:celery_app worker``), else None
celery_app = make_celery(redis_url()) if redis_url() else None
app = create_app(celery_app)
server = app.server
