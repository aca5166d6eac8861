"""Creates the Dash app; ``server = app.server`` is what gunicorn serves."""

from __future__ import annotations

import os

from dash import Dash, DiskcacheManager

from dashboard import guard
from dashboard.cache import background_cache
from dashboard.callbacks import register
from dashboard.layout import MAX_UPLOAD_BYTES, build_layout

ASSETS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "assets")


def background_manager():
    """Celery (Redis) when ``REDIS_URL`` is set, else a disk cache shared by all workers."""
    redis_url = os.environ.get("REDIS_URL")
    if redis_url:
        try:
            from celery import Celery
        except ImportError as exc:
            raise RuntimeError("REDIS_URL is set but celery is not installed: "
                               "pip install 'celery[redis]'") from exc
        from dash import CeleryManager

        celery_app = Celery(__name__, broker=redis_url, backend=redis_url)
        return CeleryManager(celery_app, expire=600)
    return DiskcacheManager(background_cache(), expire=600)


def create_app() -> Dash:
    app = Dash(
        __name__,
        title="PoisonLab",
        assets_folder=ASSETS,
        background_callback_manager=background_manager(),
        on_error=guard.on_callback_error,
        meta_tags=[{"name": "viewport", "content": "width=device-width, initial-scale=1"}],
    )
    # an upload arrives base64-encoded inside JSON: 4/3 of the file plus a little
    app.server.config["MAX_CONTENT_LENGTH"] = MAX_UPLOAD_BYTES * 4 // 3 + 2**20
    app.layout = build_layout()
    register(app)
    guard.install(app)

    @app.server.route("/healthz")
    def healthz():
        return {"status": "ok"}

    @app.server.after_request
    def security_headers(response):
        """No MIME sniffing, no framing by other sites, no full URLs leaked in Referer."""
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response

    return app


app = create_app()
server = app.server
