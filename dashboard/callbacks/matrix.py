"""The attack x defense matrix (background job) and the detection curves (on demand)."""

from __future__ import annotations

import time

import pandas as pd
from dash import Dash, Input, Output, State, no_update

from core import ExperimentConfig
from core.matrix import run_matrix
from core.metrics import detection_curves
from dashboard import ids
from dashboard.cache import results_cache
from dashboard.callbacks.jobs import job_wiring
from dashboard.figures import detection_figure, matrix_figure, message_figure
from dashboard.service import compute, dask_scheduler, runs_in_background, sweep_key

MATRIX_SEED_CHOICES = (1, 3, 5)


def parse_matrix_request(store: dict | None, seeds) -> tuple[ExperimentConfig, int]:
    if not store or "config" not in store:
        raise ValueError("fix the settings above before running the matrix")
    config = ExperimentConfig.from_dict(store["config"])
    try:
        seeds = int(seeds)
    except (TypeError, ValueError):
        raise ValueError(f"matrix seeds {seeds!r} is not a number") from None
    if seeds not in MATRIX_SEED_CHOICES:
        raise ValueError(f"matrix seeds {seeds} is not one of {MATRIX_SEED_CHOICES}")
    return config, seeds


def compute_matrix(set_progress, store, seeds) -> dict:
    """Every registered attack against every registered defense at the current rate."""
    try:
        config, n_seeds = parse_matrix_request(store, seeds)
    except ValueError as exc:
        set_progress((0, 1, str(exc)))
        return {"error": str(exc)}
    start = time.perf_counter()

    def progress(done: int, total: int) -> None:
        set_progress((done, total, f"running: {done} / {total} attack runs "
                                   f"({time.perf_counter() - start:.0f} s)"))

    set_progress((0, 1, "starting..."))
    try:
        table = run_matrix(config, rate=config.poison_rate, seeds=n_seeds, n_jobs=2,
                           scheduler=dask_scheduler(), progress=progress)
    except (ValueError, ConnectionError) as exc:  # a bad or unreachable scheduler address
        set_progress((0, 1, str(exc)))
        return {"error": str(exc)}
    set_progress((1, 1, f"done: {len(table)} attack/defense pairs × {n_seeds} seeds at "
                        f"{config.poison_rate:.0%} poison in {time.perf_counter() - start:.0f} s"))
    return {"key": matrix_key(config), "table": table.to_dict("list")}


def matrix_key(config: ExperimentConfig) -> str:
    """What a matrix depends on: everything but the attack, the defense, the seed and the grid."""
    return f"{sweep_key(config.replace(attack='label_flip', defense='none'))}@{config.poison_rate}"


def render_matrix(matrix: dict | None, store: dict | None):
    if not matrix:
        return message_figure("no matrix yet: press Run matrix", height=360)
    if "error" in matrix:
        return message_figure(matrix["error"], height=360)
    config = ExperimentConfig.from_dict(store["config"]) if store and "config" in store else None
    current = (config.attack, config.defense) if config else None
    fig = matrix_figure(pd.DataFrame(matrix["table"]), current=current)
    if config is not None and matrix_key(config) != matrix["key"]:
        fig.add_annotation(text="settings changed since this matrix: run it again",
                           xref="paper", yref="paper", x=1, y=1.0, xanchor="right",
                           yanchor="bottom", showarrow=False, font=dict(color="#b91c1c"))
    return fig


def load_cell(click: dict | None) -> tuple:
    """A click on a heatmap cell loads that attack and defense into the panels."""
    try:
        point = click["points"][0]
        return point["y"], point["x"]
    except (TypeError, KeyError, IndexError):
        return no_update, no_update


def curves_figure(store: dict | None, is_open: bool):
    if not is_open:
        return no_update
    if not store or "config" not in store:
        return message_figure("fix the settings above", height=300)
    config = ExperimentConfig.from_dict(store["config"])
    if config.defense == "none":
        return message_figure("no defense: nothing to rank", height=300)
    if runs_in_background(config) and config.key() not in results_cache():
        return message_figure("waiting for the computation...", height=300)
    r, _ = compute(config)
    if r.n_poison == 0:
        return message_figure("no poison at this rate: nothing to detect", height=300)
    return detection_figure(detection_curves(r.is_poison, r.suspicion, is_clean=r.is_clean))


def register(app: Dash) -> None:
    @app.callback(
        Output(ids.MATRIX_STORE, "data"),
        Input(ids.MATRIX_RUN, "n_clicks"),
        State(ids.CONFIG_STORE, "data"),
        State(ids.MATRIX_SEEDS, "value"),
        **job_wiring(run=ids.MATRIX_RUN, cancel=ids.MATRIX_CANCEL, progress=ids.MATRIX_PROGRESS,
                     status=ids.MATRIX_STATUS),
    )
    def run_matrix_job(set_progress, _n_clicks, store, seeds):
        return compute_matrix(set_progress, store, seeds)

    app.callback(
        Output(ids.GRAPH_MATRIX, "figure"),
        Input(ids.MATRIX_STORE, "data"),
        Input(ids.CONFIG_STORE, "data"),
    )(render_matrix)

    @app.callback(
        Output(ids.ATTACK, "value", allow_duplicate=True),
        Output(ids.DEFENSE, "value", allow_duplicate=True),
        Input(ids.GRAPH_MATRIX, "clickData"),
        prevent_initial_call=True,
    )
    def on_cell(click):
        return load_cell(click)

    @app.callback(
        Output(ids.CURVES_COLLAPSE, "is_open"),
        Input(ids.CURVES_TOGGLE, "n_clicks"),
        State(ids.CURVES_COLLAPSE, "is_open"),
        prevent_initial_call=True,
    )
    def toggle(_n, is_open):
        return not is_open

    app.callback(
        Output(ids.GRAPH_CURVES, "figure"),
        Input(ids.CONFIG_STORE, "data"),
        Input(ids.CURVES_COLLAPSE, "is_open"),
    )(curves_figure)
