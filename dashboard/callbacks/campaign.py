"""The retraining campaign: a background job (progress, cancel), a timeline and a month slider."""

from __future__ import annotations

import time
from typing import Any

from dash import Dash, Input, Output, State

from core import ExperimentConfig
from core.campaign import GATES
from dashboard import ids
from dashboard.callbacks.jobs import job_wiring
from dashboard.figures import campaign_months, campaign_timeline, message_figure
from dashboard.service import campaign_payload, sweep_key


def compute_campaign(set_progress, store: dict | None, gate: Any) -> dict:
    """Run the campaign three ways for the lab's settings; the store payload (or an error)."""
    if not store or "config" not in store:
        set_progress((0, 1, "fix the settings above first"))
        return {"error": "fix the settings above before running a campaign"}
    if gate not in GATES or gate == "none":
        allowed = ", ".join(g for g in GATES if g != "none")
        return {"error": f"gate={gate!r} is not one of: {allowed}"}
    config = ExperimentConfig.from_dict(store["config"])
    start = time.perf_counter()

    def progress(done: int, total: int) -> None:
        set_progress((done, total, f"running: month {done} / {total} "
                                   f"({time.perf_counter() - start:.1f} s)"))

    payload = campaign_payload(config, gate, progress=progress)
    v = payload["variants"]
    when = v["none"]["months_to_target"]
    text = (f"done in {time.perf_counter() - start:.1f} s. No defense: the target is "
            + (f"approved in month {when}" if when else "never approved")
            + f"; one-shot with the same {payload['one_shot']['submitted']} applications: "
            + ("approved" if payload["one_shot"]["target_approved"] else "never approved")
            + f". The gate rejected {v['gate']['rejected']} update(s).")
    set_progress((1, 1, text))
    return payload


def render_campaign(payload: dict | None, variant: str | None, store: dict | None):
    """(timeline, month-by-month contour) for the stored campaign."""
    if not payload or "variants" not in payload:
        msg = (payload or {}).get("error", "no campaign yet: press Run campaign")
        return message_figure(msg, height=300), message_figure("", height=300)
    timeline = campaign_timeline(payload)
    months = campaign_months(payload, variant if variant in payload["variants"] else "none")
    if store and "config" in store and sweep_key(
            ExperimentConfig.from_dict(store["config"])) != payload.get("lab_key"):
        timeline.add_annotation(text="settings changed since this campaign: run it again",
                                xref="paper", yref="paper", x=1, y=1.1, showarrow=False,
                                font=dict(color="#b91c1c", size=12))
    return timeline, months


def register(app: Dash) -> None:
    @app.callback(
        Output(ids.CAMPAIGN_STORE, "data"),
        Input(ids.CAMPAIGN_RUN, "n_clicks"),
        State(ids.CONFIG_STORE, "data"),
        State(ids.CAMPAIGN_GATE, "value"),
        **job_wiring(run=ids.CAMPAIGN_RUN, cancel=ids.CAMPAIGN_CANCEL,
                     progress=ids.CAMPAIGN_PROGRESS, status=ids.CAMPAIGN_STATUS),
    )
    def run_campaign_job(set_progress, _n_clicks, store, gate):
        return compute_campaign(set_progress, store, gate)

    app.callback(
        Output(ids.GRAPH_CAMPAIGN_TIMELINE, "figure"),
        Output(ids.GRAPH_CAMPAIGN_MONTHS, "figure"),
        Input(ids.CAMPAIGN_STORE, "data"),
        Input(ids.CAMPAIGN_VARIANT, "value"),
        State(ids.CONFIG_STORE, "data"),
    )(render_campaign)
