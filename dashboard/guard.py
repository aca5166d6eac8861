"""The callback endpoint's trust boundary: what a browser may send to ``/_dash-update-component``.

Dash trusts the request body: a body whose inputs do not match the callback, an unknown
output, or a non-JSON body makes Dash itself fail with a 500. And the ``dcc.Store``
values the browser sends back (the validated config, a background job's config) are
only as trustworthy as the browser. :func:`install` checks every callback request
before Dash sees it and answers a bad one with ``400 {"error": "..."}`` (the detail goes
to the server log, never a traceback to the client); :func:`on_callback_error` turns
an exception inside a callback into a logged error and a message in the page's alert.
"""

from __future__ import annotations

import logging
from typing import Any

from dash import set_props
from dash.exceptions import DependencyException
from flask import jsonify, request
from werkzeug.exceptions import HTTPException

from dashboard import ids
from dashboard.state import config_from_store

log = logging.getLogger("dashboard.guard")

ENDPOINT = "/_dash-update-component"

def _check_config_store(value: Any) -> None:
    if value is None:
        return
    if not isinstance(value, dict):
        raise ValueError("config-store is not an object")
    if "error" in value:
        if set(value) != {"error"} or not isinstance(value["error"], str):
            raise ValueError("config-store error entry is malformed")
        return
    if not isinstance(value.get("problems", []), list):
        raise ValueError("config-store problems is not a list")
    config_from_store(value.get("config"))


def _check_job_store(value: Any) -> None:
    if value is None:
        return
    if not isinstance(value, dict) or not isinstance(value.get("key", ""), str):
        raise ValueError("job-store is not a job")
    config_from_store(value.get("config"))


def _check_mapping(name: str):
    def check(value: Any) -> None:
        if value is not None and not isinstance(value, dict):
            raise ValueError(f"{name} is not an object")
    return check


#: stores the server wrote and the browser sends back: (id, property) -> validator
STORE_CHECKS = {
    (ids.CONFIG_STORE, "data"): _check_config_store,
    (ids.JOB_STORE, "data"): _check_job_store,
    (ids.BG_RESULT, "data"): _check_mapping(ids.BG_RESULT),
    (ids.SWEEP_STORE, "data"): _check_mapping(ids.SWEEP_STORE),
    (ids.MATRIX_STORE, "data"): _check_mapping(ids.MATRIX_STORE),
    (ids.CAMPAIGN_STORE, "data"): _check_mapping(ids.CAMPAIGN_STORE),
}


def expected_outputs(output: str) -> list[tuple[str, str]]:
    """``"..a.x...b.y.."`` or ``"a.x"`` -> [(id, property), ...] (property may carry ``@hash``)."""
    parts = output[2:-2].split("...") if output.startswith("..") else [output]
    return [tuple(p.rsplit(".", 1)) if "." in p else (p, "") for p in parts]


def _is_pattern(component_id: Any) -> bool:
    """Dash writes a pattern-matching id (``{"type": ..., "index": ALL}``) as JSON text."""
    return isinstance(component_id, str) and component_id.startswith("{")


def _pattern_items(given: Any, prop: str) -> bool:
    """A wildcard slot: one item (MATCH) or a list of items (ALL), each with a dict id."""
    items = given if isinstance(given, list) else [given]
    return all(isinstance(i, dict) and isinstance(i.get("id"), dict)
               and i.get("property") == prop for i in items)


def _items(name: str, given: Any, spec: list[dict]) -> list[dict]:
    if not isinstance(given, list) or len(given) != len(spec):
        raise ValueError(f"{name} must be a list of {len(spec)} item(s)")
    for item, want in zip(given, spec, strict=True):
        if _is_pattern(want.get("id")):
            if not _pattern_items(item, want.get("property")):
                raise ValueError(f"{name} items for {want['id']} must carry pattern ids")
            continue  # Dash matches the wildcard itself
        if not isinstance(item, dict):
            raise ValueError(f"{name} items must be objects")
        if (item.get("id"), item.get("property")) != (want["id"], want["property"]):
            raise ValueError(f"{name} item {item.get('id')!r}.{item.get('property')!r} does not "
                             f"match the callback ({want['id']}.{want['property']})")
    return given


def _output_fits(given: Any, want: tuple[str, str]) -> bool:
    if _is_pattern(want[0]):
        return _pattern_items(given, want[1])
    return isinstance(given, dict) and (given.get("id"), given.get("property")) == want


def check_callback_body(body: Any, callback_map: dict) -> None:
    """Raise ``ValueError`` (a short, client-safe sentence) unless ``body`` fits a callback."""
    if not isinstance(body, dict):
        raise ValueError("the body must be a JSON object")
    output = body.get("output")
    if not isinstance(output, str) or output not in callback_map:
        raise ValueError("unknown callback output")
    cb = callback_map[output]
    if "callback" not in cb:
        raise ValueError("that callback runs in the browser")
    outputs = body.get("outputs")
    want = expected_outputs(output)
    if len(want) == 1 and not isinstance(outputs, list):
        outputs = [outputs]
    if not cb.get("no_output"):
        if not isinstance(outputs, list) or len(outputs) != len(want) or not all(
                _output_fits(o, w) for o, w in zip(outputs, want, strict=True)):
            raise ValueError("outputs do not match the callback")
    inputs = _items("inputs", body.get("inputs"), cb["inputs"])
    state = _items("state", body.get("state", []), cb["state"])
    changed = body.get("changedPropIds", [])
    if not isinstance(changed, list) or not all(isinstance(c, str) for c in changed):
        raise ValueError("changedPropIds must be a list of strings")
    for item in (*inputs, *state):
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            continue  # a wildcard slot: no store is pattern-matched
        check = STORE_CHECKS.get((item.get("id"), item.get("property")))
        if check is not None:
            try:
                check(item.get("value"))
            except (ValueError, TypeError) as exc:
                raise ValueError(f"{item['id']}: {exc}") from None


def _refuse(status: int, message: str, detail: str | None = None):
    log.warning("refused %s %s: %s (%s)", request.method, request.path, message,
                detail or "-")
    response = jsonify({"error": message})
    response.status_code = status
    return response


def install(app) -> None:
    """Check callback requests before Dash dispatches them; JSON errors, never a traceback.

    Several Dash apps may share one server (the lab and the story): each app's callback
    endpoint is checked against that app's callbacks; the hooks are installed once.
    """
    server = app.server
    installed = "poisonlab_guard" in server.extensions
    apps = server.extensions.setdefault("poisonlab_guard", {})  # endpoint path -> Dash app
    for prefix in {app.config.requests_pathname_prefix, app.config.routes_pathname_prefix}:
        apps[prefix.rstrip("/") + ENDPOINT] = app
    if installed:
        return  # the hooks below already serve every app in ``apps``

    @server.before_request
    def check_callback_request():
        target = apps.get(request.path)
        if target is None or request.method != "POST":
            return None
        limit = server.config.get("MAX_CONTENT_LENGTH")
        if limit and (request.content_length or 0) > limit:
            return _refuse(413, "request body too large")
        if not request.is_json:
            return _refuse(415, "send the callback as application/json")
        try:
            body = request.get_json()
        except HTTPException as exc:
            return _refuse(exc.code or 400, "the body is not valid JSON", exc.description)
        except RecursionError:  # Python's parser recurses per level: [[[[...]]]] x 50,000
            return _refuse(400, "the body's JSON is nested too deeply")
        try:
            check_callback_body(body, target.callback_map)
        except ValueError as exc:
            return _refuse(400, f"bad callback request: {exc}")
        return None

    @server.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if request.path in apps:
            return _refuse(exc.code or 400, exc.name)
        return exc

    @server.errorhandler(DependencyException)
    def unknown_component_file(exc: DependencyException):
        log.warning("refused %s %s: %s", request.method, request.path, str(exc)[:200])
        return "not found", 404

    @server.errorhandler(Exception)
    def server_error(exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        response = jsonify({"error": "internal error; it has been logged"})
        response.status_code = 500
        return response


def on_callback_error(err: Exception):
    """Dash's ``on_error``: log the traceback, say so in the page, change no output."""
    log.error("callback failed", exc_info=err)
    try:
        set_props(ids.ERROR, {"children": "That action failed on the server (it has been "
                                          "logged). Try other settings or reload the page.",
                              "is_open": True, "color": "danger"})
    except Exception:  # noqa: BLE001 - never let the error path itself fail
        log.exception("could not show the error in the page")
    return None
