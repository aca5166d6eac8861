"""The compute callback: config-store -> core.run_experiment -> the three panels and readouts."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from dash import Dash, Input, Output, html

from core import ExperimentConfig, ExperimentResult, run_experiment
from dashboard import ids
from dashboard.figures import PANELS, decision_panel_spec, message_figure

CACHE_SIZE = 48  # per worker process; each entry is one result with its three figures


@lru_cache(maxsize=CACHE_SIZE)
def _cached(config_key: str) -> tuple[ExperimentResult, tuple[dict, ...]]:
    result = run_experiment(ExperimentConfig.from_dict(json.loads(config_key)))
    figures = tuple(decision_panel_spec(result, p) for p in PANELS)
    return result, figures


def compute(config: ExperimentConfig) -> tuple[ExperimentResult, tuple[dict, ...]]:
    """Run (or recall) the experiment and its three figures; memoized by the config."""
    return _cached(config.key())


def _pts(delta: float) -> str:
    return f"{100 * delta:+.1f} pts".replace("-", "\u2212")


def readouts(r: ExperimentResult) -> tuple[Any, Any, Any]:
    lost = r.poisoned_accuracy - r.clean_accuracy
    won = r.defended_accuracy - r.poisoned_accuracy
    return (
        [html.B(f"{r.clean_accuracy:.1%}"), html.Span(" test accuracy", className="delta")],
        [html.B(f"{r.poisoned_accuracy:.1%}"),
         html.Span(f" {_pts(lost)}", className="delta delta-bad" if lost < 0 else "delta")],
        [html.B(f"{r.defended_accuracy:.1%}"),
         html.Span(f" {_pts(won)} recovered" if won >= 0 else f" {_pts(won)}",
                   className="delta delta-good" if won > 0 else "delta")],
    )


def scorecard(r: ExperimentResult) -> Any:
    d = r.detection
    if r.config.defense == "none":
        return html.P("No defense: the model retrains on everything.", className="text-muted")
    verb = "relabelled" if r.relabels else "dropped"
    rows = [
        ("Precision", f"{d.precision:.0%}", "of flagged points are poison"),
        ("Recall", f"{d.recall:.0%}", "of the poison is flagged"),
        ("F1", f"{d.f1:.2f}", "balance of the two"),
        ("Poison caught", f"{d.n_poison_caught} / {d.n_poison}", ""),
        (f"Clean points {verb}", f"{d.n_clean_lost}", f"of {r.n_train}"),
    ]
    return html.Table(html.Tbody([
        html.Tr([html.Th(k), html.Td(v, className="score-value"),
                 html.Td(note, className="score-note")]) for k, v, note in rows
    ]), className="scorecard-table")


def run_info(r: ExperimentResult) -> Any:
    c = r.config
    model = f"SVM ({c.kernel} kernel)" if c.model == "svm" else "logistic regression"
    added = f" + {r.n_poison} injected" if len(r.y_train) > r.n_train else ""
    changed = "" if added or not r.n_poison else f", {r.n_poison} relabelled by the attacker"
    text = (f"{c.dataset}: {r.n_train} training points{added}{changed} · {len(r.y_test)} "
            f"held-out test points · {model} · seed {c.seed} · computed in "
            f"{r.timings.get('total', 0.0) * 1000:.0f} ms")
    if r.view is not None and r.view.note:
        return [text, html.Br(), html.Span(r.view.note, className="view-note")]
    return text


def update_panels(store: dict | None) -> tuple:
    """Store -> (3 figures, 3 readouts, scorecard, run info, alert text, alert open, color)."""
    if not store:
        blank = message_figure("computing...")
        return (blank, blank, blank, "", "", "", None, "", None, False, "danger")
    if "error" in store:
        fig = message_figure("fix the highlighted setting")
        return (fig, fig, fig, "", "", "", None, "", store["error"], True, "danger")
    try:
        config = ExperimentConfig.from_dict(store["config"])
    except (ValueError, TypeError) as exc:
        fig = message_figure("invalid settings")
        return (fig, fig, fig, "", "", "", None, "", f"Invalid settings: {exc}", True, "danger")
    result, figures = compute(config)
    problems = store.get("problems") or []
    alert = ("Some link parameters were ignored: " + "; ".join(problems)) if problems else ""
    return (*figures, *readouts(result), scorecard(result), run_info(result), alert,
            bool(problems), "warning")


def register(app: Dash) -> None:
    app.callback(
        Output(ids.GRAPH_CLEAN, "figure"),
        Output(ids.GRAPH_POISONED, "figure"),
        Output(ids.GRAPH_DEFENDED, "figure"),
        Output(ids.ACCURACY_CLEAN, "children"),
        Output(ids.ACCURACY_POISONED, "children"),
        Output(ids.ACCURACY_DEFENDED, "children"),
        Output(ids.SCORECARD, "children"),
        Output(ids.RUN_INFO, "children"),
        Output(ids.ERROR, "children"),
        Output(ids.ERROR, "is_open"),
        Output(ids.ERROR, "color"),
        Input("config-store", "data"),
    )(update_panels)


__all__ = ["compute", "update_panels", "readouts", "scorecard", "register"]
