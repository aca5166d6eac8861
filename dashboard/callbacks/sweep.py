"""The accuracy-vs-poison-rate sweep: a background callback with progress and cancel."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd
from dash import Dash, Input, Output, State

from core import ExperimentConfig, run_sweep
from core.experiment import expected_batch_seconds
from core.sweeps import summarize_sweep
from dashboard import ids
from dashboard.callbacks.jobs import job_wiring
from dashboard.figures import message_figure, sweep_figure
from dashboard.service import dask_scheduler, sweep_key

MAX_RATES = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6)
SEED_CHOICES = (1, 3, 5, 10)
N_RATES = 9
#: a sweep expected to take longer than this (s; core's estimate, on an idle 2-core server)
#: says so in its progress text
SHOW_EXPECTED_ABOVE = 5.0


def parse_sweep_request(store: dict | None, max_rate: Any, seeds: Any
                        ) -> tuple[ExperimentConfig, list[float], int]:
    """Validate what the browser sent; ``ValueError`` names the bad value."""
    if not store or "config" not in store:
        raise ValueError("fix the settings above before running a sweep")
    config = ExperimentConfig.from_dict(store["config"])
    try:
        max_rate, seeds = float(max_rate), int(seeds)
    except (TypeError, ValueError):
        raise ValueError(f"sweep settings {max_rate!r}, {seeds!r} are not numbers") from None
    if not any(np.isclose(max_rate, m) for m in MAX_RATES):
        raise ValueError(f"sweep maximum {max_rate:g} is not one of {MAX_RATES}")
    if seeds not in SEED_CHOICES:
        raise ValueError(f"sweep seeds {seeds} is not one of {SEED_CHOICES}")
    rates = [round(r, 4) for r in np.linspace(0.0, max_rate, N_RATES)]
    return config, rates, seeds


def compute_sweep(set_progress, store, max_rate, seeds) -> dict:
    """Run the sweep, reporting progress; returns the store payload."""
    try:
        config, rates, n_seeds = parse_sweep_request(store, max_rate, seeds)
    except ValueError as exc:
        set_progress((0, 1, str(exc)))
        return {"error": str(exc)}
    total = len(rates) * n_seeds
    start = time.perf_counter()
    # the runs go one after another in the job's process (n_jobs=1), at low CPU priority
    expected = expected_batch_seconds([config.replace(poison_rate=r, seed=config.seed + i)
                                       for r in rates for i in range(n_seeds)], n_jobs=1)
    of = f" of ~{expected:.0f} s expected" if expected > SHOW_EXPECTED_ABOVE else ""

    def progress(done: int, total: int) -> None:
        set_progress((done, total, f"running: {done} / {total} runs "
                                   f"({time.perf_counter() - start:.1f} s{of})"))

    set_progress((0, total, f"running: 0 / {total} runs" + (f" (~{expected:.0f} s expected)"
                                                          if of else "")))
    try:
        table = run_sweep(config, rates, n_seeds, scheduler=dask_scheduler(), progress=progress)
    except (ValueError, ConnectionError) as exc:  # a bad or unreachable scheduler address
        set_progress((0, total, str(exc)))
        return {"error": str(exc)}
    summary = summarize_sweep(table)
    elapsed = time.perf_counter() - start
    set_progress((total, total, f"done: {total} runs ({len(rates)} rates × {n_seeds} seeds, "
                                f"seeds {config.seed}–{config.seed + n_seeds - 1}) in "
                                f"{elapsed:.1f} s"))
    return {"key": sweep_key(config), "summary": summary.to_dict("list"), "seeds": n_seeds}


def render_sweep(sweep: dict | None, store: dict | None):
    if not sweep:
        return message_figure("no sweep yet: press Run sweep", height=300)
    if "error" in sweep:
        return message_figure(sweep["error"], height=300)
    config = None
    if store and "config" in store:
        config = ExperimentConfig.from_dict(store["config"])
    fig = sweep_figure(pd.DataFrame(sweep["summary"]),
                       current_rate=None if config is None else config.poison_rate, height=300)
    if config is not None and sweep_key(config) != sweep["key"]:
        fig.add_annotation(text="settings changed since this sweep: run it again",
                           xref="paper", yref="paper", x=1, y=0.02, xanchor="right",
                           showarrow=False, font=dict(color="#b91c1c", size=12),
                           bgcolor="rgba(255,255,255,0.85)")
    return fig


def register(app: Dash) -> None:
    @app.callback(
        Output(ids.SWEEP_STORE, "data"),
        Input(ids.SWEEP_RUN, "n_clicks"),
        State(ids.CONFIG_STORE, "data"),
        State(ids.SWEEP_MAX_RATE, "value"),
        State(ids.SWEEP_SEEDS, "value"),
        **job_wiring(run=ids.SWEEP_RUN, cancel=ids.SWEEP_CANCEL, progress=ids.SWEEP_PROGRESS,
                     status=ids.SWEEP_STATUS),
    )
    def run_sweep_job(set_progress, _n_clicks, store, max_rate, seeds):
        return compute_sweep(set_progress, store, max_rate, seeds)

    app.callback(
        Output(ids.GRAPH_SWEEP, "figure"),
        Input(ids.SWEEP_STORE, "data"),
        Input(ids.CONFIG_STORE, "data"),
    )(render_sweep)
