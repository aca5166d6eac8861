"""Controls <-> URL <-> the validated config in ``config-store``."""

from __future__ import annotations

from typing import Any

from dash import ALL, MATCH, Dash, Input, Output, State, ctx, html, no_update

from core import SCENARIOS, ExperimentConfig, scenario_config
from core.datasets import CSV, DATASETS
from core.params import carry_params
from dashboard import ids
from dashboard.layout import param_controls
from dashboard.state import (
    FIELDS,
    N_SAMPLES_RANGE,
    PARAM_KINDS,
    config_from_controls,
    controls_from_config,
    default_config,
    param_key,
    query_from_state,
    state_from_query,
)

_FIELD_IDS = list(FIELDS)
_PARAMS = {"type": ids.PARAM, "kind": ALL, "name": ALL}
_WORDS = {"type": ids.PARAM_WORD, "kind": ALL, "name": ALL}
#: the dropdown that picks each kind's algorithm
_ALGORITHMS = {ids.ATTACK: "attack", ids.DEFENSE: "defense"}
_WORD = object()  # placeholder: "this parameter's word", resolved against its declaration


def param_inputs(param_ids: list, param_vals: list, word_ids: list, word_vals: list
                 ) -> dict[str, Any]:
    """The parameter controls on the page as control values (``defense.contamination``: ...).

    A parameter whose word switch is on (contamination's "auto") takes the word.
    """
    values = {param_key(i["kind"], i["name"]): v
              for i, v in zip(param_ids or [], param_vals or [], strict=False)}
    for i, on in zip(word_ids or [], word_vals or [], strict=False):
        if on:
            values[param_key(i["kind"], i["name"])] = _WORD
    return values


def _resolve_words(values: dict[str, Any]) -> dict[str, Any]:
    """Replace :data:`_WORD` by the declared word of the selected algorithm's parameter."""
    out = dict(values)
    for key, value in values.items():
        if value is _WORD:
            kind, name = key.split(".", 1)
            cls = PARAM_KINDS[kind].get(values.get(kind, ""))
            spec = cls.param_specs().get(name) if cls else None
            if spec is not None and spec.words:
                out[key] = spec.words[0]
            else:
                out.pop(key)
    return out


def _story(scenario: str | None, config) -> Any:
    if scenario not in SCENARIOS:
        return html.Span("Custom settings.", className="text-muted")
    s = SCENARIOS[scenario]
    modified = config != scenario_config(scenario, seed=config.seed)
    return [html.Span(s.story),
            html.Span(" (settings changed from the preset)", className="text-muted")
            if modified else None]


def sync_state(search: str | None, scenario: str | None, values: dict[str, Any],
               triggered: str | None, previous: dict | None = None) -> dict[str, Any]:
    """Decide what the URL, the fixed controls and the config store become.

    ``values``: the fixed controls (id -> value) and the parameter controls on the
    page (``attack.<name>`` ...); ``previous``: the config store before this change.
    Switching the attack or defense carries over the parameters the new one also
    declares (:func:`core.params.carry_params`); the parameter controls themselves
    are redrawn from the store by :func:`render_params`. Returns a dict with keys
    ``search``, ``store``, ``story``, ``scenario`` and ``controls`` (id -> value,
    or None for "leave as is").
    """
    out: dict[str, Any] = {"controls": None, "scenario": no_update}
    problems: list[str] = []
    if triggered in (None, ids.URL):  # page load, or back/forward in the browser
        scenario, config, problems = state_from_query(search)
    elif triggered == ids.SCENARIO and scenario in SCENARIOS:
        config = scenario_config(scenario)
    else:
        raw = _resolve_words(values)
        if triggered in _ALGORITHMS:  # the algorithm changed: its old controls are stale
            raw = _carried(raw, _ALGORITHMS[triggered], previous)
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
    if triggered not in FIELDS and triggered != ids.PARAM:
        controls = controls_from_config(config)
        out["controls"] = {cid: controls[cid] for cid in FIELDS}
        out["scenario"] = scenario
    query = query_from_state(scenario, config)
    out["search"] = query if query != search else no_update
    out["store"] = {"config": config.to_dict(), "scenario": scenario, "problems": problems}
    out["story"] = _story(scenario, config)
    return out


def _carried(values: dict[str, Any], kind: str, previous: dict | None) -> dict[str, Any]:
    """``values`` with the ``kind`` parameters carried over from the previous config."""
    out = {k: v for k, v in values.items() if not k.startswith(f"{kind}.")}
    registry, new = PARAM_KINDS[kind], values.get(kind)
    if new not in registry:
        return out
    try:
        before = ExperimentConfig.from_dict((previous or {}).get("config") or {})
    except (ValueError, TypeError):
        return out
    carried = carry_params(registry.get(getattr(before, kind)),
                           getattr(before, f"{kind}_params"), registry[new])
    out.update({param_key(kind, k): v for k, v in carried.items()})
    return out


def render_params(store: dict | None, shown: dict[str, Any]) -> tuple:
    """The attack's and defense's parameter controls for the config in the store.

    ``shown`` are the parameter values on the page; a kind whose algorithm and values
    already match is left as it is (``no_update``), so moving a slider does not redraw it.
    """
    try:
        config = ExperimentConfig.from_dict((store or {})["config"])
    except (KeyError, TypeError, ValueError):
        return no_update, no_update
    out = []
    for kind in PARAM_KINDS:
        params = getattr(config, f"{kind}_params")
        spec = PARAM_KINDS[kind][getattr(config, kind)]
        on_page = {k.split(".", 1)[1]: v for k, v in _resolve_words(
            {**shown, kind: getattr(config, kind)}).items() if k.startswith(f"{kind}.")}
        same = set(on_page) == {p.name for p in spec.params} and all(
            _same(on_page[k], v) for k, v in params.items())
        out.append(no_update if same else param_controls(
            kind, getattr(config, kind), params))
    return tuple(out)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(
            a, bool) and not isinstance(b, bool):
        return float(a) == float(b)
    return a == b


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
        output={"search": Output(ids.URL, "search"), "store": Output(ids.CONFIG_STORE, "data"),
                "story": Output(ids.SCENARIO_STORY, "children"),
                "scenario": Output(ids.SCENARIO, "value"),
                "controls": {cid: Output(cid, "value") for cid in _FIELD_IDS}},
        inputs={"search": Input(ids.URL, "search"), "scenario": Input(ids.SCENARIO, "value"),
                "fixed": {cid: Input(cid, "value") for cid in _FIELD_IDS},
                "params": Input(_PARAMS, "value"), "words": Input(_WORDS, "value"),
                "param_ids": State(_PARAMS, "id"), "word_ids": State(_WORDS, "id"),
                "previous": State(ids.CONFIG_STORE, "data")},
    )
    def sync(search, scenario, fixed, params, words, param_ids, word_ids, previous):
        trigger = ctx.triggered_id
        if isinstance(trigger, dict):  # a parameter control
            trigger = ids.PARAM
        values = {**fixed, **param_inputs(param_ids, params, word_ids, words)}
        out = sync_state(search, scenario, values, trigger, previous)
        controls = out.pop("controls") or {}
        return {**out, "controls": {cid: controls.get(cid, no_update) for cid in _FIELD_IDS}}

    @app.callback(
        Output(ids.ATTACK_PARAMS, "children"),
        Output(ids.DEFENSE_PARAMS, "children"),
        Input(ids.CONFIG_STORE, "data"),
        State(_PARAMS, "value"), State(_PARAMS, "id"),
        State(_WORDS, "value"), State(_WORDS, "id"),
    )
    def params(store, values, param_ids, words, word_ids):
        return render_params(store, param_inputs(param_ids, values, word_ids, words))

    app.clientside_callback(  # a parameter's word ("auto") greys its number out
        "function(on) { return Boolean(on); }",
        Output({"type": ids.PARAM, "kind": MATCH, "name": MATCH}, "disabled"),
        Input({"type": ids.PARAM_WORD, "kind": MATCH, "name": MATCH}, "value"),
    )

    @app.callback(
        Output(ids.KERNEL, "disabled"),
        Output(ids.GAMMA, "disabled"),
        Output(ids.DEGREE, "disabled"),
        Output(ids.NOISE, "max"),
        Output(ids.NOISE, "marks"),
        Output(ids.field(ids.NOISE), "style"),
        Output(ids.N_SAMPLES, "max"),
        Output(ids.field(ids.N_SAMPLES), "style"),
        Output(ids.CSV_FIELDS, "style"),
        Input(ids.MODEL, "value"),
        Input(ids.KERNEL, "value"),
        Input(ids.DATASET, "value"),
    )
    def applicable(model, kernel, dataset):
        return applicable_controls(model, kernel, dataset)

    app.clientside_callback(  # the full link, for the copy button (href lags behind search)
        """function(search) {
            return window.location.origin + window.location.pathname + (search || '');
        }""",
        Output(ids.SHARE_LINK, "value"),
        Input(ids.URL, "search"),
    )


def applicable_controls(model, kernel, dataset) -> tuple:
    """Hide or disable what does not apply to the current choice (never ignore it silently).

    (The attack's and defense's parameters are drawn for the selected one only.)
    """
    hidden, shown = {"display": "none"}, {}
    svm = model == "svm"
    spec = DATASETS.get(dataset)
    max_noise = spec.max_noise if spec else 1.0
    marks = {0: "0", max_noise / 2: f"{max_noise / 2:g}", max_noise: f"{max_noise:g}"}
    max_n = min(N_SAMPLES_RANGE[1], spec.max_samples) if spec else N_SAMPLES_RANGE[1]
    return (
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
