"""Downloads: the poisoned training set, the experiment as JSON, the sweep, an HTML report."""

from __future__ import annotations

import json

import pandas as pd
from dash import Dash, Input, Output, State, dcc, no_update

from core import ExperimentConfig, __version__
from core.export import experiment_document, poisoned_training_frame, to_safe_csv
from dashboard import ids
from dashboard.callbacks.experiment import compute
from dashboard.report import html_report


def _config(store: dict | None) -> ExperimentConfig | None:
    if not store or "config" not in store:
        return None
    try:
        return ExperimentConfig.from_dict(store["config"])
    except (ValueError, TypeError):
        return None


def _stem(config: ExperimentConfig) -> str:
    return f"poisonlab-{config.dataset}-{config.attack}-{config.defense}-seed{config.seed}"


def export_file(kind: str, store: dict | None, sweep: dict | None = None) -> dict | None:
    """The dcc.Download payload for ``kind`` (training, json, report, sweep), or None."""
    config = _config(store)
    if config is None:
        return None
    if kind == "sweep":
        if not sweep or "summary" not in sweep:
            return None
        return dcc.send_string(to_safe_csv(pd.DataFrame(sweep["summary"])),
                               f"{_stem(config)}-sweep.csv")
    result, _ = compute(config)
    if kind == "training":
        return dcc.send_string(to_safe_csv(poisoned_training_frame(result)),
                               f"{_stem(config)}-training-set.csv")
    if kind == "json":
        doc = experiment_document(result, version=__version__)
        return dcc.send_string(json.dumps(doc, indent=2, sort_keys=True), f"{_stem(config)}.json")
    if kind == "report":
        summary = pd.DataFrame(sweep["summary"]) if sweep and "summary" in sweep else None
        return dcc.send_string(html_report(result, summary), f"{_stem(config)}-report.html")
    raise ValueError(f"unknown export {kind!r}")


def register(app: Dash) -> None:
    for kind, button in (("training", ids.EXPORT_TRAINING), ("json", ids.EXPORT_JSON),
                         ("report", ids.EXPORT_REPORT), ("sweep", ids.EXPORT_SWEEP)):
        def download(_n, store, sweep, kind=kind):
            return export_file(kind, store, sweep) or no_update

        app.callback(
            Output(f"{button}-file", "data"),
            Input(button, "n_clicks"),
            State("config-store", "data"),
            State(ids.SWEEP_STORE, "data"),
            prevent_initial_call=True,
        )(download)
