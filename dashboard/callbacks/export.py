"""Downloads: the poisoned training set, the experiment as JSON, the sweep, an HTML report."""

from __future__ import annotations

import json

import pandas as pd
from dash import Dash, Input, Output, State, ctx, dcc, no_update

from core import ExperimentConfig, __version__
from core.export import experiment_document, poisoned_training_frame, to_safe_csv
from dashboard import ids
from dashboard.report import ImageExportUnavailable, html_report, png_zip
from dashboard.service import compute


def _config(store: dict | None) -> ExperimentConfig | None:
    if not store or "config" not in store:
        return None
    try:
        return ExperimentConfig.from_dict(store["config"])
    except (ValueError, TypeError):
        return None


def _stem(config: ExperimentConfig) -> str:
    return f"poisonlab-{config.dataset}-{config.attack}-{config.defense}-seed{config.seed}"


def export_file(kind: str, store: dict | None, sweep: dict | None = None,
                matrix: dict | None = None) -> dict | None:
    """The dcc.Download payload for ``kind`` (training, json, report, png, sweep, matrix).

    None when there is nothing to export (no valid settings, no sweep or matrix yet).

    Raises :class:`ImageExportUnavailable` for ``png`` when no browser can render it.
    """
    config = _config(store)
    if config is None:
        return None
    if kind == "sweep":
        if not sweep or "summary" not in sweep:
            return None
        return dcc.send_string(to_safe_csv(pd.DataFrame(sweep["summary"])),
                               f"{_stem(config)}-sweep.csv")
    if kind == "matrix":
        if not matrix or "table" not in matrix:
            return None
        return dcc.send_string(to_safe_csv(pd.DataFrame(matrix["table"])),
                               f"poisonlab-{config.dataset}-matrix.csv")
    result, _ = compute(config)
    if kind == "training":
        return dcc.send_string(to_safe_csv(poisoned_training_frame(result)),
                               f"{_stem(config)}-training-set.csv")
    if kind == "json":
        doc = experiment_document(result, version=__version__)
        return dcc.send_string(json.dumps(doc, indent=2, sort_keys=True), f"{_stem(config)}.json")
    summary = pd.DataFrame(sweep["summary"]) if sweep and "summary" in sweep else None
    if kind == "report":
        return dcc.send_string(html_report(result, summary), f"{_stem(config)}-report.html")
    if kind == "png":
        return dcc.send_bytes(png_zip(result, summary), f"{_stem(config)}-figures.zip")
    raise ValueError(f"unknown export {kind!r}")


EXPORTS = {ids.EXPORT_TRAINING: "training", ids.EXPORT_JSON: "json",
           ids.EXPORT_REPORT: "report", ids.EXPORT_PNG: "png", ids.EXPORT_SWEEP: "sweep",
           ids.EXPORT_MATRIX: "matrix"}


def on_export(button: str | None, store: dict | None, sweep: dict | None,
              matrix: dict | None = None) -> tuple:
    """(download, message) for the export button that was pressed."""
    kind = EXPORTS.get(button)
    if kind is None:
        return no_update, no_update
    try:
        payload = export_file(kind, store, sweep, matrix)
    except ImageExportUnavailable as exc:
        return no_update, str(exc)
    if payload is None:
        what = {"sweep": "run a sweep first", "matrix": "run the matrix first"}.get(
            kind, "fix the settings above first")
        return no_update, f"Nothing to export yet: {what}."
    return payload, ""


def register(app: Dash) -> None:
    @app.callback(
        Output(ids.EXPORT_FILE, "data"),
        Output(ids.EXPORT_INFO, "children"),
        *(Input(button, "n_clicks") for button in EXPORTS),
        State(ids.CONFIG_STORE, "data"),
        State(ids.SWEEP_STORE, "data"),
        State(ids.MATRIX_STORE, "data"),
        prevent_initial_call=True,
    )
    def export(*args):
        *_clicks, store, sweep, matrix = args
        return on_export(ctx.triggered_id, store, sweep, matrix)
