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


def content_security_policy(app: Dash) -> str:
    """The page's CSP; call after every (clientside) callback is registered.

    Scripts: this server's files and Dash's inline scripts (the renderer start-up and
    clientside callbacks), allowed by hash, so no 'unsafe-inline' for scripts. Styles
    need 'unsafe-inline': plotly.js and the React components set inline styles.
    Images: data: and blob: (plotly's modebar icons, PNG download).
    """
    directives = {
        "default-src": ["'self'"],
        "script-src": ["'self'", *app.csp_hashes()],
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

    csp = content_security_policy(app)

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


app = create_app()
server = app.server
