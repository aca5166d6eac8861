"""The compute callback: config-store -> core.run_experiment -> the three panels and readouts."""

from __future__ import annotations

import json
import os
import threading
import time
from functools import lru_cache
from typing import Any

from dash import Dash, Input, Output, State, html, no_update

from core import ExperimentConfig, ExperimentResult, run_experiment
from core.data_io import CSVLimits
from core.datasets import CSV, DATASETS
from dashboard import ids
from dashboard.cache import results_cache
from dashboard.callbacks.upload import upload_table
from dashboard.figures import PANELS, decision_panel_spec, handled, message_figure

CACHE_SIZE = 48  # per worker process; each entry is one result with its three figures
#: attacks that optimize for a while; they run as background jobs with progress
SLOW_ATTACKS = frozenset({"gradient"})
SLOW_TRAINING_POINTS = 1500
#: attacks whose cost grows fast with the data: background above this many training points
#: (ALFA, sigmoid kernel, 2-core machine: 420 points ~0.6 s, 1,500 points ~4 s)
SLOW_ATTACK_ABOVE = {"alfa": 400}
#: defenses that refit the model many times, and the polynomial kernel, whose fits grow
#: fastest with the data: background above this many training points (2-core machine,
#: alone: trusted_relabel (and trusted_reject, the same work) at 625 points 0.5-0.8 s, roni
#: and trim at 1,200 points 0.4-0.9 s, poly at 1,500 points 0.4-0.6 s; 2-5x that with 20
#: viewers on the same worker)
SLOW_DEFENSE_ABOVE = {"trusted_relabel": 600, "trusted_reject": 600, "roni": 1000, "trim": 1000}
#: defenses that solve a dense system over every point they see -- the poisoned training set,
#: injected points included, and the trusted sample -- in O(n^3): background above this many
#: (duti, 2-core machine, quiet: 1,050 / 1,400 / 2,100 points 0.3 / 0.5 / 1.5 s; a load test
#: on a host running 2.4x slower measured 3.5 s for 1,500 points)
SLOW_SOLVE_ABOVE = {"duti": 1000}
SLOW_KERNEL_ABOVE = {"poly": 1000}
#: an SVM with C this large can converge very slowly on poisoned (overlapping) data, at any
#: size: breast_cancer, 180 training points, linear kernel: C=10 0.3 s, C=100 1.9 s,
#: C=1000 32 s; moons, 1,500 points, poly kernel, C=1000: 30 s (2-core machine, shared)
SLOW_C = 100.0
#: ... and a linear SVM with C >= 10 on data with more than 2 features (digits: 1.8 s;
#: breast_cancer after RONI, 60% injected: 5.8 s)
SLOW_C_LINEAR_HIGH_DIM = 10.0


def runs_in_background(config: ExperimentConfig) -> bool:
    """Configs that may take over ~1 s run as background jobs (progress bar, cancellable)."""
    n_rows = config.n_samples
    if config.dataset == CSV:  # n_samples does not apply: the file (capped) decides
        n_rows = min(len(upload_table(config.data)[0]), CSVLimits().max_train_rows)
    n_train = n_rows * (1 - config.test_fraction - config.trusted_fraction)
    # at most: an injecting attack adds poison_rate * n_train points, a flipping one none
    n_seen = n_train * (1 + config.poison_rate) + n_rows * config.trusted_fraction
    return (config.attack in SLOW_ATTACKS or n_train > SLOW_TRAINING_POINTS
            or n_seen > SLOW_SOLVE_ABOVE.get(config.defense, float("inf"))
            or n_train > SLOW_ATTACK_ABOVE.get(config.attack, SLOW_TRAINING_POINTS)
            or n_train > SLOW_DEFENSE_ABOVE.get(config.defense, SLOW_TRAINING_POINTS)
            or (config.model == "svm"
                and n_train > SLOW_KERNEL_ABOVE.get(config.kernel, SLOW_TRAINING_POINTS))
            or (config.model == "svm" and config.C >= SLOW_C)
            or (config.model == "svm" and config.kernel == "linear"
                and config.C >= SLOW_C_LINEAR_HIGH_DIM and _n_features(config) != 2))


def _n_features(config: ExperimentConfig) -> int | None:
    """Features the model sees (None: an uploaded file, all numeric columns)."""
    if config.dataset == CSV:
        return len(config.features) if config.features else None
    return len(DATASETS[config.dataset].feature_names)


@lru_cache(maxsize=CACHE_SIZE)
def _cached(config_key: str) -> tuple[ExperimentResult, tuple[dict, ...]]:
    config = ExperimentConfig.from_dict(json.loads(config_key))
    result = results_cache().get(config_key) if runs_in_background(config) else None
    if result is None:
        result = run_experiment(config)
    figures = tuple(decision_panel_spec(result, p) for p in PANELS)
    return result, figures


def compute(config: ExperimentConfig) -> tuple[ExperimentResult, tuple[dict, ...]]:
    """Run (or recall) the experiment and its three figures; memoized by the config."""
    return _cached(config.key())


#: a job that has waited this many times its CPU limit for the CPU is stopped as well
BUSY_FACTOR = 10


def job_time_limit() -> float:
    """CPU seconds a background experiment may use (``POISONLAB_JOB_TIME_LIMIT``, default 120)."""
    try:
        return max(1.0, float(os.environ.get("POISONLAB_JOB_TIME_LIMIT", "120")))
    except ValueError:
        return 120.0


def _cpu_seconds(thread: threading.Thread) -> float:
    """CPU time ``thread`` has used (Linux: its own clock; elsewhere the whole process's)."""
    try:
        return time.clock_gettime(time.pthread_getcpuclockid(thread.ident))
    except (AttributeError, OSError):
        return time.process_time()


def compute_in_background(set_progress, job: dict | None, *,
                          time_limit: float | None = None) -> dict:
    """Background job: run the experiment with progress, leave the result in the shared cache.

    Some in-range settings make libsvm converge for many minutes (a polynomial kernel of
    degree 5 with gamma 50 and C 1000 ran over 7 min). The fit runs in a daemon thread
    (libsvm releases the GIL) and the job answers with a clear message once it has used
    ``time_limit`` seconds of CPU, instead of holding a core and the viewer indefinitely;
    the job's process then exits, ending the fit. The limit counts CPU, not waiting: jobs
    run at the lowest priority (``dashboard.job_priority``), so on a busy server a job may
    wait a long time for a core without being slow itself. One that has waited
    ``BUSY_FACTOR`` times the limit in all is stopped too, with a message that says so.
    """
    if not job or "config" not in job:
        return {"error": "no job"}
    try:
        config = ExperimentConfig.from_dict(job["config"])
    except (ValueError, TypeError) as exc:
        return {"key": job.get("key"), "error": str(exc)}
    key = config.key()
    if key not in results_cache():
        limit = job_time_limit() if time_limit is None else time_limit
        outcome: dict[str, Any] = {}

        def run() -> None:
            try:
                outcome["result"] = run_experiment(
                    config, progress=lambda done, total: set_progress((done, f"{done}%")))
            except Exception as exc:  # noqa: BLE001 -- reported to the viewer below
                outcome["error"] = exc

        wall0 = time.monotonic()
        worker = threading.Thread(target=run, name="experiment", daemon=True)
        worker.start()
        cpu0 = _cpu_seconds(worker)
        while True:
            worker.join(min(0.25, limit))
            if not worker.is_alive():
                break
            if _cpu_seconds(worker) - cpu0 > limit:
                return {"key": key, "timed_out": True, "error": (
                    f"Stopped after {limit:g} s of computing: the model does not converge in "
                    "time with these settings (large C, gamma or degree on overlapping data). "
                    "Try smaller values, or run it without a time limit: python -m core run "
                    "--config FILE.json (Export → Experiment (JSON)).")}
            if time.monotonic() - wall0 > BUSY_FACTOR * limit:
                return {"key": key, "timed_out": True, "busy": True, "error": (
                    f"Stopped after {BUSY_FACTOR * limit / 60:.3g} min: the server was too busy "
                    "to finish this in time (background jobs wait for the viewers' pages). "
                    "Try again later, or run it yourself: python -m core run --config "
                    "FILE.json (Export → Experiment (JSON)).")}
        if "error" in outcome:
            raise outcome["error"]
        results_cache().set(key, outcome["result"])
    set_progress((100, "100%"))
    return {"key": key}


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


N_OUTPUTS = 12


def update_panels(store: dict | None, finished: dict | None = None,
                  triggered: str | None = None) -> tuple:
    """Store -> (3 figures, 3 readouts, scorecard, run info, alert text/open/color, job).

    Slow configs (:func:`runs_in_background`) are not computed here: the panels say
    so and ``job`` starts the background job; when it reports back (``finished``,
    ``triggered == "bg-result"``) and still matches the current settings, its result
    is drawn from the shared cache.
    """
    if not store:
        blank = message_figure("computing...")
        return (blank, blank, blank, "", "", "", None, "", None, False, "danger", no_update)
    if "error" in store:
        fig = message_figure("fix the highlighted setting")
        return (fig, fig, fig, "", "", "", None, "", store["error"], True, "danger", no_update)
    try:
        config = ExperimentConfig.from_dict(store["config"])
    except (ValueError, TypeError) as exc:
        fig = message_figure("invalid settings")
        return (fig, fig, fig, "", "", "", None, "", f"Invalid settings: {exc}", True, "danger",
                no_update)
    key = config.key()
    if triggered == "bg-result":
        if not finished or finished.get("key") != key:
            return (no_update,) * N_OUTPUTS  # a job for settings the user has left
        if "error" in finished:
            fig = message_figure("stopped: the server was too busy" if finished.get("busy")
                                 else "stopped: too slow with these settings"
                                 if finished.get("timed_out") else "the computation failed")
            return (fig, fig, fig, "", "", "", None, "", finished["error"], True, "danger",
                    no_update)
    if runs_in_background(config) and key not in results_cache():
        fig = message_figure("computing in the background...")
        return (fig, fig, fig, "…", "…", "…", None, "", "", False, "warning",
                {"config": config.to_dict(), "key": key})
    result, figures = compute(config)
    problems = store.get("problems") or []
    alert = ("Some link parameters were ignored: " + "; ".join(problems)) if problems else ""
    return (*figures, *readouts(result), scorecard(result), run_info(result), alert,
            bool(problems), "warning", no_update)  # no job: nothing to start


PANEL_OUTPUTS = (
    (ids.GRAPH_CLEAN, "figure"), (ids.GRAPH_POISONED, "figure"), (ids.GRAPH_DEFENDED, "figure"),
    (ids.ACCURACY_CLEAN, "children"), (ids.ACCURACY_POISONED, "children"),
    (ids.ACCURACY_DEFENDED, "children"), (ids.SCORECARD, "children"), (ids.RUN_INFO, "children"),
    (ids.ERROR, "children"), (ids.ERROR, "is_open"), (ids.ERROR, "color"), ("job-store", "data"),
)


def register(app: Dash) -> None:
    @app.callback(
        *(Output(component, prop) for component, prop in PANEL_OUTPUTS),
        Input("config-store", "data"),
    )
    def panels(store):
        return update_panels(store)

    # A finished background job draws the same outputs (a separate callback, so the
    # graph has no cycle: config-store -> job-store -> bg-result -> panels).
    @app.callback(
        *(Output(component, prop, allow_duplicate=True) for component, prop in PANEL_OUTPUTS),
        Input("bg-result", "data"),
        State("config-store", "data"),
        prevent_initial_call=True,
    )
    def panels_from_job(finished, store):
        return (*update_panels(store, finished, "bg-result")[:-1], no_update)

    @app.callback(
        Output("bg-result", "data"),
        Input("job-store", "data"),
        background=True,
        progress=[Output(ids.PANEL_PROGRESS, "value"), Output(ids.PANEL_PROGRESS, "label")],
        running=[(Output(f"{ids.PANEL_PROGRESS}-row", "style"), {}, {"display": "none"})],
        cancel=[Input(ids.PANEL_CANCEL, "n_clicks")],
        prevent_initial_call=True,
    )
    def run_job(set_progress, job):
        if not job:
            return no_update
        return compute_in_background(set_progress, job)


__all__ = ["compute", "compute_in_background", "runs_in_background", "update_panels",
           "readouts", "scorecard", "register"]
