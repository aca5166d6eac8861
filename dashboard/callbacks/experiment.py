"""The compute callback: config-store -> the service -> the three panels and readouts."""

from __future__ import annotations

from typing import Any

from dash import Dash, Input, Output, State, html, no_update

from core import ExperimentConfig, ExperimentResult
from dashboard import ids
from dashboard.cache import results_cache
from dashboard.figures import backdoor_examples, handled, message_figure
from dashboard.layout import backdoor_card
from dashboard.service import (
    compute,
    compute_in_background,
    runs_in_background,
    triggered_figures,
)


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
    if r.config.defense == "none":  # the baseline with nothing to score
        return html.P("No defense: the model retrains on everything.", className="text-muted")
    verb = handled(r)
    rows = [
        ("Precision", f"{d.precision:.0%}", "of flagged points are poison"),
        ("Recall", f"{d.recall:.0%}", "of the poison is flagged"),
        ("F1", f"{d.f1:.2f}", "balance of the two"),
        ("Poison caught", f"{d.n_poison_caught} / {d.n_poison}", ""),
        ("Clean points flagged", f"{d.n_clean_lost}", f"of {r.n_train}, {verb}"),
    ]
    if r.target_success is not None:
        n, want = len(r.targets), r.class_names[r.target_label]
        share = r.target_success
        rows.append(("Attacker's targets", f"{round(share['defended'] * n)} / {n}",
                     f"given {want!r} after the defense ({round(share['poisoned'] * n)} / {n} "
                     "by the poisoned model)"))
    if r.attack_success is not None:  # a backdoor: how often the trigger still works
        a, want = r.attack_success, r.class_names[r.target_label]
        rows.append(("Attack success", f"{a['defended']:.0%}",
                     f"of triggered {r.class_names[r.source_label]!r} test points given "
                     f"{want!r} after the defense ({a['poisoned']:.0%} poisoned, "
                     f"{a['clean']:.0%} clean model)"))
    if d.roc_auc is not None:
        rows.append(("ROC AUC", f"{d.roc_auc:.2f}", "how well the score ranks poison first"))
    if d.average_precision is not None:
        rows.append(("Avg. precision", f"{d.average_precision:.2f}",
                     f"chance level {d.n_poison / max(len(r.y_train), 1):.2f}"))
    return html.Table(html.Tbody([
        html.Tr([html.Th(k), html.Td(v, className="score-value"),
                 html.Td(note, className="score-note")]) for k, v, note in rows
    ]), className="scorecard-table")


def run_info(r: ExperimentResult) -> Any:
    c = r.config
    model = f"SVM ({c.kernel} kernel)" if c.model == "svm" else "logistic regression"
    added = f" + {r.n_poison} injected" if len(r.y_train) > r.n_train else ""
    changed = "" if added or not r.n_poison else f", {r.n_poison} relabelled by the attacker"
    trusted = (f" (+ {c.trusted_fraction:.0%} of the data held out as the defender's trusted "
               "sample)" if c.trusted_fraction > 0 else "")
    text = (f"{c.dataset}: {r.n_train} training points{added}{changed} · {len(r.y_test)} "
            f"held-out test points{trusted} · {model} · seed {c.seed} · computed in "
            f"{r.timings.get('total', 0.0) * 1000:.0f} ms")
    extra = [*(r.data_notes or ()), *([r.view.note] if r.view is not None and r.view.note else [])]
    if extra:
        return [text, *(part for note in extra
                        for part in (html.Br(), html.Span(note, className="view-note")))]
    return text


#: the panels' outputs, by name: what :func:`update_panels` returns
PANEL_OUTPUTS: dict[str, tuple[str, str]] = {
    "clean": (ids.GRAPH_CLEAN, "figure"), "poisoned": (ids.GRAPH_POISONED, "figure"),
    "defended": (ids.GRAPH_DEFENDED, "figure"),
    "accuracy_clean": (ids.ACCURACY_CLEAN, "children"),
    "accuracy_poisoned": (ids.ACCURACY_POISONED, "children"),
    "accuracy_defended": (ids.ACCURACY_DEFENDED, "children"),
    "scorecard": (ids.SCORECARD, "children"), "run_info": (ids.RUN_INFO, "children"),
    "error": (ids.ERROR, "children"), "error_open": (ids.ERROR, "is_open"),
    "error_color": (ids.ERROR, "color"), "job": (ids.JOB_STORE, "data"),
    "trigger_row": (ids.TRIGGER_ROW, "style"), "backdoor": (ids.BACKDOOR_CARD, "children"),
}
HIDDEN, SHOWN = {"display": "none"}, {}


def _panels(figure, *, readout: Any = "", error: str | None = None, color: str = "danger",
            job: Any = no_update) -> dict[str, Any]:
    """The same message figure in all three panels, blank readouts, and an alert."""
    return {"clean": figure, "poisoned": figure, "defended": figure,
            "accuracy_clean": readout, "accuracy_poisoned": readout,
            "accuracy_defended": readout, "scorecard": None, "run_info": "",
            "error": error, "error_open": bool(error), "error_color": color, "job": job,
            "trigger_row": HIDDEN, "backdoor": None}


def update_panels(store: dict | None, finished: dict | None = None,
                  triggered: str | None = None, trigger_on: bool = False) -> dict[str, Any]:
    """Store -> the panels' outputs, by the names of :data:`PANEL_OUTPUTS`.

    For a backdoor, ``trigger_on`` draws the panels with the trigger present, and on
    8x8 images (digits) the test-image grid is shown.

    Slow configs (:func:`runs_in_background`) are not computed here: the panels say
    so and ``job`` starts the background job; when it reports back (``finished``,
    ``triggered == ids.BG_RESULT``) and still matches the current settings, its
    result is drawn from the shared cache.
    """
    if not store:
        return _panels(message_figure("computing..."))
    if "error" in store:
        return _panels(message_figure("fix the highlighted setting"), error=store["error"])
    try:
        config = ExperimentConfig.from_dict(store["config"])
    except (ValueError, TypeError) as exc:
        return _panels(message_figure("invalid settings"), error=f"Invalid settings: {exc}")
    key = config.key()
    if triggered == ids.BG_RESULT:
        if not finished or finished.get("key") != key:
            return dict.fromkeys(PANEL_OUTPUTS, no_update)  # a job for settings the user left
        if "error" in finished:
            text = ("stopped: the server was too busy" if finished.get("busy")
                    else "stopped: too slow with these settings"
                    if finished.get("timed_out") else "the computation failed")
            return _panels(message_figure(text), error=finished["error"])
    if runs_in_background(config) and key not in results_cache():
        return _panels(message_figure("computing in the background..."), readout="…",
                       color="warning", job={"config": config.to_dict(), "key": key})
    result, figures = compute(config)
    problems = store.get("problems") or []
    alert = ("Some link parameters were ignored: " + "; ".join(problems)) if problems else ""
    clean, poisoned, defended = readouts(result)
    backdoor = result.grid_triggered is not None
    if backdoor and trigger_on:
        figures = triggered_figures(config)
    images = result.trigger_examples is not None and result.X_test.shape[1] == 64
    return {"clean": figures[0], "poisoned": figures[1], "defended": figures[2],
            "accuracy_clean": clean, "accuracy_poisoned": poisoned,
            "accuracy_defended": defended, "scorecard": scorecard(result),
            "run_info": run_info(result), "error": alert, "error_open": bool(problems),
            "error_color": "warning", "job": no_update,  # no job: nothing to start
            "trigger_row": SHOWN if backdoor else HIDDEN,
            "backdoor": backdoor_card(backdoor_examples(result)) if images else None}


def register(app: Dash) -> None:
    outputs = {name: Output(*target) for name, target in PANEL_OUTPUTS.items()}

    @app.callback(output=outputs, inputs={"store": Input(ids.CONFIG_STORE, "data"),
                                          "trigger_on": Input(ids.TRIGGER_SWITCH, "value")})
    def panels(store, trigger_on):
        return update_panels(store, trigger_on=bool(trigger_on))

    # A finished background job draws the same outputs (a separate callback, so the
    # graph has no cycle: config-store -> job-store -> bg-result -> panels).
    @app.callback(
        output={name: Output(*target, allow_duplicate=True)
                for name, target in PANEL_OUTPUTS.items() if name != "job"},
        inputs={"finished": Input(ids.BG_RESULT, "data"),
                "store": State(ids.CONFIG_STORE, "data"),
                "trigger_on": State(ids.TRIGGER_SWITCH, "value")},
        prevent_initial_call=True,
    )
    def panels_from_job(finished, store, trigger_on):
        out = update_panels(store, finished, ids.BG_RESULT, bool(trigger_on))
        out.pop("job")
        return out

    @app.callback(
        Output(ids.BG_RESULT, "data"),
        Input(ids.JOB_STORE, "data"),
        background=True,
        progress=[Output(ids.PANEL_PROGRESS, "value"), Output(ids.PANEL_PROGRESS, "label")],
        running=[(Output(ids.PANEL_PROGRESS_ROW, "style"), {}, {"display": "none"})],
        cancel=[Input(ids.PANEL_CANCEL, "n_clicks")],
        prevent_initial_call=True,
    )
    def run_job(set_progress, job):
        if not job:
            return no_update
        return compute_in_background(set_progress, job)


__all__ = ["update_panels", "readouts", "scorecard", "run_info", "register", "PANEL_OUTPUTS"]
