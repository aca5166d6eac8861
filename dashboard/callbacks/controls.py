"""Controls <-> URL <-> the validated config in ``config-store``."""

from __future__ import annotations

from typing import Any

from dash import Dash, Input, Output, ctx, html, no_update

from core import DEFENSES, SCENARIOS, scenario_config
from core.datasets import CSV, DATASETS
from dashboard import ids
from dashboard.state import (
    FIELDS,
    N_SAMPLES_RANGE,
    config_from_controls,
    controls_from_config,
    default_config,
    query_from_state,
    state_from_query,
)

CONFIG_STORE = "config-store"
_FIELD_IDS = list(FIELDS)


def _story(scenario: str | None, config) -> Any:
    if scenario not in SCENARIOS:
        return html.Span("Custom settings.", className="text-muted")
    s = SCENARIOS[scenario]
    modified = config != scenario_config(scenario, seed=config.seed)
    return [html.Span(s.story),
            html.Span(" (settings changed from the preset)", className="text-muted")
            if modified else None]


def sync_state(search: str | None, scenario: str | None, values: dict[str, Any],
               auto: bool, triggered: str | None) -> dict[str, Any]:
    """Decide what the URL, the controls and the config store become.

    Returns a dict with keys ``search``, ``store``, ``story``, ``scenario``,
    ``controls`` (id -> value, or None for "leave as is") and ``auto``.
    """
    out: dict[str, Any] = {"controls": None, "auto": no_update, "scenario": no_update}
    problems: list[str] = []
    if triggered in (None, ids.URL):  # page load, or back/forward in the browser
        scenario, config, problems = state_from_query(search)
    elif triggered == ids.SCENARIO and scenario in SCENARIOS:
        config = scenario_config(scenario)
    else:
        raw = dict(values)
        raw[ids.CONTAMINATION] = "auto" if auto else raw.get(ids.CONTAMINATION)
        fitted = {}
        if triggered == ids.DATASET and raw.get(ids.DATASET) in DATASETS:
            fitted = fit_to_dataset(raw)
            raw.update(fitted)
        try:
            config = config_from_controls(raw, default_config(scenario) if scenario else None)
        except ValueError as exc:
            return {**out, "search": no_update, "story": no_update,
                    "store": {"error": str(exc)}}
        if fitted:  # write the adjusted sample size / noise back to their controls
            out["controls"] = fitted
    if triggered != ids.CONTAMINATION_AUTO and triggered not in FIELDS:
        controls = controls_from_config(config)
        out["auto"] = controls[ids.CONTAMINATION] == "auto"
        if out["auto"]:
            controls[ids.CONTAMINATION] = no_update  # keep the slider where it is
        out["controls"] = controls
        out["scenario"] = scenario
    query = query_from_state(scenario, config)
    out["search"] = query if query != search else no_update
    out["store"] = {"config": config.to_dict(), "scenario": scenario, "problems": problems}
    out["story"] = _story(scenario, config)
    return out


def fit_to_dataset(values: dict[str, Any]) -> dict[str, Any]:
    """Sample size and noise that the newly chosen dataset accepts (real data: no noise)."""
    spec = DATASETS[values[ids.DATASET]]
    n = values.get(ids.N_SAMPLES)
    noise = values.get(ids.NOISE)
    out: dict[str, Any] = {}
    if not isinstance(n, (int, float)) or n > spec.max_samples:
        out[ids.N_SAMPLES] = min(spec.default_samples, spec.max_samples)
    if not isinstance(noise, (int, float)) or noise > spec.max_noise:
        out[ids.NOISE] = spec.default_noise
    return out


def register(app: Dash) -> None:
    @app.callback(
        Output(ids.URL, "search"),
        Output(CONFIG_STORE, "data"),
        Output(ids.SCENARIO_STORY, "children"),
        Output(ids.SCENARIO, "value"),
        Output(ids.CONTAMINATION_AUTO, "value"),
        *(Output(cid, "value") for cid in _FIELD_IDS),
        Input(ids.URL, "search"),
        Input(ids.SCENARIO, "value"),
        Input(ids.CONTAMINATION_AUTO, "value"),
        *(Input(cid, "value") for cid in _FIELD_IDS),
    )
    def sync(search, scenario, auto, *values):
        out = sync_state(search, scenario, dict(zip(_FIELD_IDS, values, strict=False)), bool(auto),
                         ctx.triggered_id)
        controls = out["controls"] or {}
        return (out["search"], out["store"], out["story"], out["scenario"], out["auto"],
                *(controls.get(cid, no_update) for cid in _FIELD_IDS))

    @app.callback(
        Output(f"{ids.CONTAMINATION}-field", "style"),
        Output("knn-fields", "style"),
        Output(ids.CONTAMINATION, "disabled"),
        Output(ids.KERNEL, "disabled"),
        Output(ids.GAMMA, "disabled"),
        Output(ids.DEGREE, "disabled"),
        Output(ids.NOISE, "max"),
        Output(ids.NOISE, "marks"),
        Output(f"{ids.NOISE}-field", "style"),
        Output(ids.N_SAMPLES, "max"),
        Output(f"{ids.N_SAMPLES}-field", "style"),
        Output("csv-fields", "style"),
        Input(ids.DEFENSE, "value"),
        Input(ids.MODEL, "value"),
        Input(ids.KERNEL, "value"),
        Input(ids.CONTAMINATION_AUTO, "value"),
        Input(ids.DATASET, "value"),
    )
    def applicable(defense, model, kernel, auto, dataset):
        return applicable_controls(defense, model, kernel, auto, dataset)

    app.clientside_callback(  # the full link, for the copy button (href lags behind search)
        """function(search) {
            return window.location.origin + window.location.pathname + (search || '');
        }""",
        Output(ids.SHARE_LINK, "value"),
        Input(ids.URL, "search"),
    )


def applicable_controls(defense, model, kernel, auto, dataset) -> tuple:
    """Hide or disable what does not apply to the current choice (never ignore it silently)."""
    hidden, shown = {"display": "none"}, {}
    svm = model == "svm"
    spec = DATASETS.get(dataset)
    max_noise = spec.max_noise if spec else 1.0
    marks = {0: "0", max_noise / 2: f"{max_noise / 2:g}", max_noise: f"{max_noise:g}"}
    max_n = min(N_SAMPLES_RANGE[1], spec.max_samples) if spec else N_SAMPLES_RANGE[1]
    params = DEFENSES[defense].config_params if defense in DEFENSES else {}
    return (
        shown if "contamination" in params else hidden,
        shown if "knn_k" in params else hidden,
        bool(auto),
        not svm,
        not svm or kernel == "linear",
        not svm or kernel != "poly",
        max_noise,
        marks,
        shown if max_noise > 0 and dataset != CSV else hidden,
        max_n,
        hidden if dataset == CSV else shown,
        shown if dataset == CSV else hidden,
    )
