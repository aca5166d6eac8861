"""Your own data: a CSV upload, then its label / feature / positive-class columns."""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from typing import Any

from dash import Dash, Input, Output, State, html, no_update

from core.data_io import CSVLimits, DataError, numeric_columns, read_csv_table
from core.datasets import CSV
from dashboard import ids
from dashboard.service import (
    BUSY,
    LARGE_BODY,
    SEARCH_HINT_ABOVE,
    UploadBusy,
    parse_slot,
    release_large_body_slot,
    remember_table,
    take_large_body_slot,
    upload_table,
)
from dashboard.state import upload_path, upload_token, uploads_dir

LABEL_GUESSES = ("label", "target", "class", "y", "outcome", "approved", "default", "fraud")


UPLOADS_SIZE_LIMIT = 2**30  # bytes of uploads kept on disk; the least recently used go first


def save_upload(data: bytes) -> str:
    """Store the bytes under their SHA-256 (same file, same token); return the path."""
    os.makedirs(uploads_dir(), exist_ok=True)
    path = os.path.join(uploads_dir(), f"{hashlib.sha256(data).hexdigest()}.csv")
    if not os.path.exists(path):
        tmp = f"{path}.{os.getpid()}.part"
        with open(tmp, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)  # atomic: other workers never see half a file
    else:
        os.utime(path)  # uploaded again: recently used
    prune_uploads(keep=path)
    return path


def prune_uploads(limit: int = UPLOADS_SIZE_LIMIT, keep: str | None = None) -> None:
    """Remove the least recently uploaded files until the folder holds at most ``limit`` bytes.

    Without it every distinct upload (up to 50 MB each) would stay on disk for good. A
    link to a removed upload opens with "upload it again".
    """
    entries = []
    for entry in os.scandir(uploads_dir()):
        if entry.name.endswith(".csv") and entry.path != keep:
            try:
                st = entry.stat()
            except FileNotFoundError:
                continue
            entries.append((st.st_mtime, st.st_size, entry.path))
    total = sum(size for _, size, _ in entries)
    if keep and os.path.exists(keep):
        total += os.path.getsize(keep)
    for _, size, path in sorted(entries):  # oldest first
        if total <= limit:
            break
        try:
            os.remove(path)
        except FileNotFoundError:
            pass
        total -= size


def guess_label(columns: list[str]) -> str:
    for name in columns:
        if name.strip().lower() in LABEL_GUESSES:
            return name
    return columns[-1]


def handle_upload(contents: str | None, filename: str | None) -> tuple:
    """(data token, dataset, label, features, positive, info, label options, feature options).

    The options travel with the values: a dropdown drops a value it has no option for.
    """
    keep = (no_update,) * 5
    if not contents:
        return (*keep, no_update, no_update, no_update)
    name = filename or "the file"
    try:
        with parse_slot():  # never wait: a waiting upload would hold a request thread too
            path, (frame, notes) = _read_upload(contents)
    except (UploadBusy, DataError) as exc:
        return (*keep, _problem(f"{name}: {exc}."), no_update, no_update)
    columns = [str(c) for c in frame.columns]
    search = " (type in a list to search it)" if len(columns) > SEARCH_HINT_ABOVE else ""
    info = [html.B(name), f": {len(frame):,} rows, {len(columns)} columns. "
            f"Pick the label column below{search}.", *(html.Div(n) for n in notes)]
    token = upload_token(path)
    return (token, CSV, guess_label(columns), None, None, html.Div(info, className="upload-ok"),
            *column_options(token))


def _read_upload(contents: str) -> tuple[str, tuple]:
    """Decode, read and store an upload: (its path, (frame, notes)), or ``DataError``."""
    try:
        _, payload = contents.split(",", 1)
        raw = base64.b64decode(payload, validate=True)
    except (ValueError, binascii.Error):
        raise DataError("the upload arrived damaged; try again") from None
    del payload
    if len(raw) > CSVLimits().max_bytes:
        raise DataError(f"the file is over the {CSVLimits().max_bytes // 2**20} MB limit")
    table = read_csv_table(raw)
    path = save_upload(raw)
    return path, remember_table(path, table)  # the callbacks that follow find it read


def _problem(text: str) -> Any:
    return html.Div(text, className="upload-error")


def column_options(token: str | None) -> tuple[list, list]:
    """Label options (every column) and feature options (numeric columns) for an upload."""
    try:
        frame, _ = upload_table(upload_path(token))
    except UploadBusy:
        return no_update, no_update  # keep what the upload's own answer gave
    except (ValueError, DataError):
        return [], []
    columns = [str(c) for c in frame.columns]
    return ([{"label": c, "value": c} for c in columns],
            [{"label": c, "value": c} for c in numeric_columns(frame)])


def positive_options(label: str | None, token: str | None) -> list:
    try:
        frame, _ = upload_table(upload_path(token))
    except UploadBusy:
        return no_update
    except (ValueError, DataError):
        return []
    if label not in frame.columns:
        return []
    values = sorted({str(v) for v in frame[label].dropna().unique()})[:50]
    return [{"label": v, "value": v} for v in values]


DISCARD_CHUNK = 2**20  # bytes read at a time from a body answered "busy" unparsed


def busy_answer() -> dict:
    """The upload callback's answer "busy, try again", as Dash would send it (only the
    upload's note changes; the other outputs are left as they are)."""
    return {"multi": True, "response": {ids.UPLOAD_INFO: {
        "children": _problem(f"The upload: {BUSY}.").to_plotly_json()}}}


def gate_large_bodies(app: Dash) -> None:
    """At most :data:`dashboard.service.LARGE_BODY_SLOTS` big callback bodies per worker
    are read and parsed at once; a further one is answered "busy" before its JSON is
    parsed, so a burst of big uploads leaves the request threads free for the page.

    Its body is still read (and dropped) so the connection stays usable for the
    browser's next request; that costs a few milliseconds of C-level reads, against
    the second or more of parsing and decoding that waiting for a slot would hold.
    Installed before the guard's checks (:mod:`dashboard.guard`), which parse the body.
    """
    from flask import g, jsonify, request

    server = app.server
    endpoint = app.config.requests_pathname_prefix.rstrip("/") + "/_dash-update-component"

    @server.before_request
    def admit_large_body():
        if request.path != endpoint or request.method != "POST" \
                or (request.content_length or 0) <= LARGE_BODY:
            return None
        limit = server.config.get("MAX_CONTENT_LENGTH")
        if limit and request.content_length > limit:
            return None  # the guard refuses it, unread
        if take_large_body_slot():
            g.poisonlab_large_body = True
            return None
        while request.stream.read(DISCARD_CHUNK):
            pass
        return jsonify(busy_answer())

    @server.teardown_request
    def release_large_body(_exc=None):
        if g.pop("poisonlab_large_body", False):
            release_large_body_slot()


def register(app: Dash) -> None:
    gate_large_bodies(app)
    @app.callback(
        Output(ids.DATA, "value", allow_duplicate=True),
        Output(ids.DATASET, "value", allow_duplicate=True),
        Output(ids.CSV_LABEL, "value", allow_duplicate=True),
        Output(ids.CSV_FEATURES, "value", allow_duplicate=True),
        Output(ids.CSV_POSITIVE, "value", allow_duplicate=True),
        Output(ids.UPLOAD_INFO, "children"),
        Output(ids.CSV_LABEL, "options", allow_duplicate=True),
        Output(ids.CSV_FEATURES, "options", allow_duplicate=True),
        Input(ids.UPLOAD, "contents"),
        State(ids.UPLOAD, "filename"),
        prevent_initial_call=True,
    )
    def on_upload(contents, filename):
        return handle_upload(contents, filename)

    @app.callback(
        Output(ids.CSV_LABEL, "options"),
        Output(ids.CSV_FEATURES, "options"),
        Input(ids.DATA, "value"),
    )
    def on_data(token):
        return column_options(token)

    @app.callback(
        Output(ids.CSV_POSITIVE, "options"),
        Input(ids.CSV_LABEL, "value"),
        State(ids.DATA, "value"),
    )
    def on_label(label, token):
        return positive_options(label, token)
