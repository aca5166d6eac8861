"""The page: a controls card on the left, the three panels and the sweep on the right."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import dcc, html

from core import ATTACKS, DATASETS, DEFENSES, KERNELS, MODELS, SCENARIOS
from core.data_io import CSVLimits
from core.datasets import CSV
from core.params import Param
from dashboard import ids
from dashboard.figures import PANEL_COLORS, message_figure
from dashboard.state import (
    C_VALUES,
    DEFAULT_SCENARIO,
    DEGREE_VALUES,
    GAMMA_VALUES,
    N_SAMPLES_RANGE,
    PARAM_KINDS,
    POISON_RATE_RANGE,
    SEED_RANGE,
    controls_from_config,
    default_config,
    param_values,
)

MAX_UPLOAD_BYTES = CSVLimits().max_bytes

GRAPH_CONFIG = {"displaylogo": False, "responsive": True,
                "modeBarButtonsToRemove": ["lasso2d", "select2d", "autoScale2d"],
                "toImageButtonOptions": {"format": "png", "scale": 2}}

PANEL_TITLES = {"clean": "Clean model", "poisoned": "Poisoned model", "defended": "Defended model"}
PANEL_IDS = {
    "clean": (ids.GRAPH_CLEAN, ids.ACCURACY_CLEAN),
    "poisoned": (ids.GRAPH_POISONED, ids.ACCURACY_POISONED),
    "defended": (ids.GRAPH_DEFENDED, ids.ACCURACY_DEFENDED),
}


def _options(names) -> list[dict]:
    return [{"label": n.replace("_", " "), "value": n} for n in names]


def _field(label: str, control, *, hint: str | None = None, wrapper_id: str | None = None):
    children = [dbc.Label(label, className="control-label"), control]
    if hint:
        children.append(html.Div(hint, className="control-hint"))
    return html.Div(children, className="control", id=wrapper_id or ids.field(control.id))


def _slider(cid: str, lo: float, hi: float, step: float, value, *, marks: dict, pct=False):
    return dcc.Slider(id=cid, min=lo, max=hi, step=step, value=value, marks=marks,
                      updatemode="mouseup",
                      tooltip={"placement": "bottom", "always_visible": False,
                               **({"transform": "percent"} if pct else {})})


#: a numeric parameter with at most this many steps is a slider, else a number box
MAX_SLIDER_STEPS = 200


def param_id(kind: str, name: str, *, word: bool = False) -> dict:
    """The pattern id of a declared parameter's control (or of its word switch)."""
    return {"type": ids.PARAM_WORD if word else ids.PARAM, "kind": kind, "name": name}


def _param_field(kind: str, spec: Param, value) -> html.Div:
    """One control for one declared parameter, drawn from its declaration."""
    pid = param_id(kind, spec.name)
    label = spec.name.replace("_", " ").capitalize()
    word = spec.words[0] if spec.words else None
    if spec.kind == "bool":
        control = dbc.Switch(id=pid, value=bool(value), label=label, className="param-switch")
        label = None
    elif spec.kind == "choice":
        control = dcc.Dropdown(id=pid, value=value, clearable=False, searchable=False,
                               options=[{"label": str(c), "value": c} for c in spec.choices])
    else:
        integer = spec.kind == "int"
        step = spec.step or (1 if integer else (spec.high - spec.low) / 100)
        lo = spec.low + (step if spec.low_open else 0)
        hi = spec.high - (step if spec.high_open else 0)
        shown = value if isinstance(value, (int, float)) else (
            spec.default if isinstance(spec.default, (int, float)) else lo)
        # a wide float range with no declared step (e.g. a trigger value in +-1e6) is typed,
        # not slid: a hundred steps of 20,000 cannot set it to 1
        wide = not integer and spec.step is None and hi - lo > 100
        if (hi - lo) / step <= MAX_SLIDER_STEPS and not spec.nullable and not wide:
            control = _slider(pid, lo, hi, step, shown,
                              marks={lo: f"{lo:g}", hi: f"{hi:g}"})
        else:
            control = dbc.Input(id=pid, type="number", min=spec.low, max=spec.high,
                                step=1 if integer else "any", debounce=True, size="sm",
                                value=None if value is None else shown,
                                placeholder="none (derived)" if spec.nullable else None)
        if word is not None:  # e.g. contamination: a number, or "auto"
            control = html.Div([
                dbc.Switch(id=param_id(kind, spec.name, word=True), label=word,
                           value=value == word, className="auto-switch"),
                html.Div(control, className="param-slider"),
            ])
    children = [dbc.Label(label, className="control-label")] if label else []
    children += [control, html.Div(spec.help, className="control-hint")]
    return html.Div(children, className="control param-control",
                    id=ids.param_field(kind, spec.name))


def param_controls(kind: str, algorithm: str, values: dict) -> list:
    """The controls of ``algorithm``'s declared parameters (``values``: name -> value)."""
    cls = PARAM_KINDS[kind].get(algorithm)
    if cls is None or not cls.params:
        return [html.Div(f"this {kind} has no parameters", className="control-hint mb-2")]
    return [_param_field(kind, spec, values.get(spec.name, spec.default)) for spec in cls.params]


def controls_card(values: dict) -> dbc.Card:
    lo, hi, step = POISON_RATE_RANGE
    return dbc.Card(dbc.CardBody([
        _field("Scenario", dcc.Dropdown(
            id=ids.SCENARIO, clearable=True, searchable=False, value=DEFAULT_SCENARIO,
            placeholder="custom settings",
            options=[{"label": s.title, "value": n} for n, s in SCENARIOS.items()])),
        html.Div(id=ids.SCENARIO_STORY, className="scenario-story"),
        html.Hr(),
        html.H6("Data", className="section-title"),
        _field("Dataset", dcc.Dropdown(id=ids.DATASET,
                                       options=[*_options(DATASETS),
                                                {"label": "your CSV (upload below)",
                                                 "value": CSV}],
                                       value=values[ids.DATASET], clearable=False,
                                       searchable=False)),
        dcc.Upload(id=ids.UPLOAD, children=html.Div([
            "Drop a CSV here or ", html.A("choose a file"),
            html.Span(f" (up to {MAX_UPLOAD_BYTES // 2**20} MB)", className="text-muted")]),
                   max_size=MAX_UPLOAD_BYTES, accept=".csv,.tsv,.txt,text/csv",
                   className="upload-box"),
        html.Div(id=ids.UPLOAD_INFO, className="upload-info"),
        dcc.Input(id=ids.DATA, type="hidden", value=values[ids.DATA]),
        html.Div([
            _field("Label column", dcc.Dropdown(id=ids.CSV_LABEL, options=[],
                                                value=values[ids.CSV_LABEL], clearable=False)),
            _field("Feature columns", dcc.Dropdown(id=ids.CSV_FEATURES, options=[], multi=True,
                                                   value=values[ids.CSV_FEATURES],
                                                   placeholder="all numeric columns")),
            _field("Positive class", dcc.Dropdown(id=ids.CSV_POSITIVE, options=[],
                                                  value=values[ids.CSV_POSITIVE],
                                                  placeholder="automatic (needed for 3+ classes)")),
        ], id=ids.CSV_FIELDS, style={"display": "none"}),
        _field("Sample size", _slider(ids.N_SAMPLES, *N_SAMPLES_RANGE, values[ids.N_SAMPLES],
                                      marks={100: "100", 1000: "1k", 2000: "2k", 4000: "4k"})),
        _field("Noise", _slider(ids.NOISE, 0.0, 1.0, 0.01, values[ids.NOISE],
                                marks={0: "0", 0.5: "0.5", 1: "1"})),
        html.Hr(),
        html.H6("Attack", className="section-title"),
        _field("Attack", dcc.Dropdown(id=ids.ATTACK, options=_options(ATTACKS),
                                      value=values[ids.ATTACK], clearable=False,
                                      searchable=False)),
        _field("Poison rate", _slider(ids.POISON_RATE, lo, hi, step, values[ids.POISON_RATE],
                                      marks={0: "0%", 0.2: "20%", 0.4: "40%", 0.6: "60%"},
                                      pct=True),
               hint="poison points per clean training point"),
        html.Div(param_controls("attack", values[ids.ATTACK], param_values(values, "attack")),
                 id=ids.ATTACK_PARAMS, className="param-controls"),
        html.Hr(),
        html.H6("Defense", className="section-title"),
        _field("Defense", dcc.Dropdown(id=ids.DEFENSE, options=_options(DEFENSES),
                                       value=values[ids.DEFENSE], clearable=False,
                                       searchable=False)),
        html.Div(param_controls("defense", values[ids.DEFENSE], param_values(values, "defense")),
                 id=ids.DEFENSE_PARAMS, className="param-controls"),
        html.Hr(),
        html.H6("Model", className="section-title"),
        dbc.Row([
            dbc.Col(_field("Model", dcc.Dropdown(id=ids.MODEL, options=_options(MODELS),
                                                 value=values[ids.MODEL], clearable=False,
                                                 searchable=False)), width=6),
            dbc.Col(_field("Kernel", dcc.Dropdown(id=ids.KERNEL, options=_options(KERNELS),
                                                  value=values[ids.KERNEL], clearable=False,
                                                  searchable=False)), width=6),
        ], className="g-2"),
        dbc.Row([
            dbc.Col(_field("C", dcc.Dropdown(id=ids.C, value=values[ids.C], clearable=False,
                                             searchable=False,
                                             options=[{"label": f"{v:g}", "value": v}
                                                      for v in C_VALUES])), width=4),
            dbc.Col(_field("gamma", dcc.Dropdown(id=ids.GAMMA, value=values[ids.GAMMA],
                                                 clearable=False, searchable=False,
                                                 options=[{"label": str(v), "value": v}
                                                          for v in GAMMA_VALUES])), width=4),
            dbc.Col(_field("degree", dcc.Dropdown(id=ids.DEGREE, value=values[ids.DEGREE],
                                                  clearable=False, searchable=False,
                                                  options=[{"label": str(v), "value": v}
                                                           for v in DEGREE_VALUES])), width=4),
        ], className="g-2"),
        _field("Seed", dbc.Input(id=ids.SEED, type="number", min=SEED_RANGE[0],
                                 max=SEED_RANGE[1], step=1, value=values[ids.SEED],
                                 debounce=True, size="sm")),
    ]), className="controls-card shadow-sm")


def panel_card(panel: str) -> dbc.Card:
    graph_id, readout_id = PANEL_IDS[panel]
    return dbc.Card([
        dbc.CardHeader([
            html.Span(PANEL_TITLES[panel], className="panel-title"),
            html.Span(id=readout_id, className="panel-readout"),
        ], className=f"panel-header panel-{panel}",
            style={"borderTopColor": PANEL_COLORS[panel]}),
        dcc.Loading(dcc.Graph(id=graph_id, figure=message_figure("computing..."),
                              config=GRAPH_CONFIG, className="panel-graph"),
                    type="dot", delay_show=400),
    ], className="panel-card shadow-sm")


def legend() -> html.Div:
    item = lambda cls, text: html.Span([html.Span(className=f"swatch {cls}"), text],  # noqa: E731
                                       className="legend-item")
    return html.Div([
        item("swatch-c0", "class 0 / deny"), item("swatch-c1", "class 1 / approve"),
        item("swatch-poison", "poison"), item("swatch-path", "optimized path"),
        item("swatch-flagged", "flagged by the defense"), item("swatch-dropped", "dropped"),
        item("swatch-boundary", "boundary"), item("swatch-clean-boundary", "clean boundary"),
    ], className="legend-row")


EXPLAINER = [
    html.P("Each panel is a map of what a model decides: blue areas are predicted as one "
           "class, amber areas as the other, and the black line is the boundary between them. "
           "The dots are the training examples the model learned from."),
    html.P([html.B("Clean model: "), "trained on honest data. ",
            html.B("Poisoned model: "), "trained after an attacker slipped in the red crosses "
            "(fake or mislabelled examples) — watch the boundary move away from the dashed "
            "line where it used to be. ",
            html.B("Defended model: "), "a cleaning step looks for suspicious examples (ringed) "
            "and removes or relabels them before retraining."]),
    html.P("The percentages are accuracy on fresh test examples the attacker never touched, "
           "computed live for these exact settings."),
]


def _select(cid: str, label: str, values, value: str, fmt=str) -> list:
    return [dbc.InputGroupText(label),
            dbc.Select(id=cid, value=value,
                       options=[{"label": fmt(v), "value": str(v)} for v in values])]


def job_card(title: str, selects: list, *, run: str, cancel: str, progress: str, status: str,
             intro: str, graph, store: str, run_label: str) -> dbc.Card:
    """A card for a background job: title, its settings, Run / Cancel, progress, result."""
    return dbc.Card(dbc.CardBody([
        dbc.Row([
            dbc.Col(html.H5(title, className="card-title mb-0"), md=5),
            dbc.Col(dbc.InputGroup(selects, size="sm"), md=4),
            dbc.Col([
                dbc.Button(run_label, id=run, color="primary", size="sm", className="me-2"),
                dbc.Button("Cancel", id=cancel, color="secondary", size="sm", outline=True,
                           disabled=True),
            ], md=3, className="text-md-end"),
        ], className="align-items-center g-2"),
        dbc.Progress(id=progress, value=0, max=1, className="sweep-progress my-2",
                     style={"height": "6px"}),
        html.Div(intro, id=status, className="sweep-status"),
        graph,
        dcc.Store(id=store),
    ]), className="shadow-sm mt-3")


def _job_graph(graph_id: str, message: str, *, height: int) -> dcc.Loading:
    """A job card's graph: ``message`` until the job's first result, a spinner while it draws."""
    return dcc.Loading(dcc.Graph(id=graph_id, config=GRAPH_CONFIG,
                                 figure=message_figure(message, height=height)),
                       type="dot", delay_show=500)


def sweep_card() -> dbc.Card:
    return job_card(
        "Accuracy vs. poison rate",
        [*_select(ids.SWEEP_MAX_RATE, "up to", (0.1, 0.2, 0.3, 0.4, 0.5, 0.6), "0.4",
                  lambda r: f"{r:.0%}"),
         *_select(ids.SWEEP_SEEDS, "seeds", (1, 3, 5, 10), "3")],
        run=ids.SWEEP_RUN, cancel=ids.SWEEP_CANCEL, progress=ids.SWEEP_PROGRESS,
        status=ids.SWEEP_STATUS, store=ids.SWEEP_STORE, run_label="Run sweep",
        intro="Run a sweep to see how the three accuracies change as the attacker's budget "
              "grows (mean over seeds, shaded ±1 std).",
        graph=dcc.Graph(id=ids.GRAPH_SWEEP, figure=message_figure("no sweep yet", height=300),
                        config=GRAPH_CONFIG))


def matrix_card() -> dbc.Card:
    return job_card(
        "Which defense stops which attack?",
        _select(ids.MATRIX_SEEDS, "seeds", (1, 3, 5), "3"),
        run=ids.MATRIX_RUN, cancel=ids.MATRIX_CANCEL, progress=ids.MATRIX_PROGRESS,
        status=ids.MATRIX_STATUS, store=ids.MATRIX_STORE, run_label="Run matrix",
        intro="Every attack against every defense at the current poison rate and settings. "
              "A cell is the share of the lost accuracy the defense wins back (mean over "
              "seeds); click one to load that pair above.",
        graph=_job_graph(ids.GRAPH_MATRIX, "no matrix yet: press Run matrix", height=360))


def campaign_card() -> dbc.Card:
    from core.campaign import GATES
    from dashboard.figures import CAMPAIGN_VARIANTS

    card = job_card(
        "Retraining campaign: month by month",
        _select(ids.CAMPAIGN_GATE, "gate", [g for g in GATES if g != "none"], "shift"),
        run=ids.CAMPAIGN_RUN, cancel=ids.CAMPAIGN_CANCEL, progress=ids.CAMPAIGN_PROGRESS,
        status=ids.CAMPAIGN_STATUS, store=ids.CAMPAIGN_STORE, run_label="Run campaign",
        intro="The bank retrains every month on its own decisions; a fraud ring adds up to 10% "
              "a month of applications today's model approves, stepping towards a high-value "
              "application it denies. Three ways side by side: no defense, the defense above "
              "run every month, and an update gate that checks each retrained model first.",
        graph=_job_graph(ids.GRAPH_CAMPAIGN_TIMELINE, "no campaign yet: press Run campaign",
                         height=300))
    card.children.children.extend([
        dbc.RadioItems(id=ids.CAMPAIGN_VARIANT, value="none", inline=True, className="my-2",
                       options=[{"label": v, "value": k} for k, v in CAMPAIGN_VARIANTS.items()]),
        dcc.Graph(id=ids.GRAPH_CAMPAIGN_MONTHS, config=GRAPH_CONFIG,
                  figure=message_figure("", height=300)),
    ])
    return card


def backdoor_card(figure) -> dbc.Card:
    """Digits backdoors: held-out images with and without the trigger (mounted when shown,
    so the graph is sized in a visible container)."""
    return dbc.Card(dbc.CardBody([
        html.H6("The backdoor on test images", className="card-title"),
        html.Div("Held-out images of the source class, as they are and with the trigger "
                 "stamped; under each, what each model says (green: right, red: wrong, "
                 "which here means the attacker's label).", className="control-hint"),
        dcc.Graph(id=ids.GRAPH_BACKDOOR, config=GRAPH_CONFIG, figure=figure),
    ]), className="shadow-sm mt-2")


def export_card() -> dbc.Card:
    def button(cid: str, text: str):
        return dbc.Button(text, id=cid, size="sm", color="secondary", outline=True,
                          className="me-2 mb-1")

    return dbc.Card(dbc.CardBody([
        html.H6("Export", className="card-title"),
        button(ids.EXPORT_TRAINING, "Poisoned training set (CSV)"),
        button(ids.EXPORT_JSON, "Experiment (JSON)"),
        button(ids.EXPORT_REPORT, "Report (HTML)"),
        button(ids.EXPORT_PNG, "Figures (PNG, zip)"),
        button(ids.EXPORT_SWEEP, "Sweep table (CSV)"),
        button(ids.EXPORT_MATRIX, "Matrix table (CSV)"),
        dcc.Loading(html.Div(id=ids.EXPORT_INFO, className="upload-error"), type="dot"),
        dcc.Download(id=ids.EXPORT_FILE),
        html.Div("The JSON re-runs exactly: python -m core run --config FILE.json. Each chart's "
                 "camera icon also saves it as PNG from your browser.", className="control-hint"),
    ]), className="shadow-sm mt-3")


def build_layout() -> html.Div:
    config = default_config()
    values = controls_from_config(config)
    return html.Div([
        dcc.Location(id=ids.URL, refresh=False),
        dcc.Store(id=ids.CONFIG_STORE),
        dcc.Store(id=ids.JOB_STORE),
        dcc.Store(id=ids.BG_RESULT),
        dbc.Navbar(dbc.Container([
            html.Span([html.Span("Poison", className="brand-a"), html.Span("Lab",
                                                                            className="brand-b")],
                      className="navbar-brand"),
            html.Span("see data-poisoning attacks and the defenses against them",
                      className="navbar-tagline d-none d-lg-inline"),
            html.A("Story mode: the loan-fraud attack", href="/story/", id=ids.STORY_LINK,
                   className="btn btn-sm btn-outline-danger ms-auto me-2 story-link"),
            html.Div([
                dbc.Input(id=ids.SHARE_LINK, readonly=True, size="sm", className="share-link"),
                dcc.Clipboard(id=ids.COPY_LINK, target_id=ids.SHARE_LINK, title="copy link",
                              className="copy-link"),
            ], className="share-box"),
        ], fluid=True), className="app-navbar", color="white", dark=False),
        dbc.Container([
            dbc.Row([
                dbc.Col(controls_card(values), lg=3, md=4, className="controls-col"),
                dbc.Col([
                    dbc.Alert(id=ids.ERROR, color="danger", is_open=False, dismissable=True,
                              className="mb-2"),
                    html.Div(id=ids.RUN_INFO, className="run-info"),
                    html.Div([
                        html.Span("optimizing the attack in the background",
                                  className="progress-caption"),
                        dbc.Progress(id=ids.PANEL_PROGRESS, value=0, max=100, label="",
                                     className="panel-progress", striped=True, animated=True),
                        dbc.Button("Cancel", id=ids.PANEL_CANCEL, size="sm", color="secondary",
                                   outline=True),
                    ], id=ids.PANEL_PROGRESS_ROW, className="panel-progress-row",
                        style={"display": "none"}),
                    html.Div(dbc.Switch(
                        id=ids.TRIGGER_SWITCH, value=False, className="trigger-switch",
                        label="trigger present: the three models on inputs carrying the "
                              "backdoor's trigger (dashed: the same model without it)"),
                        id=ids.TRIGGER_ROW, style={"display": "none"}),
                    dbc.Row([dbc.Col(panel_card(p), md=4, className="panel-col")
                             for p in ("clean", "poisoned", "defended")], className="g-2"),
                    legend(),
                    html.Div(id=ids.BACKDOOR_CARD),  # digits backdoors: backdoor_card()
                    dbc.Row([
                        dbc.Col(dbc.Card(dbc.CardBody([
                            html.H6("Defense scorecard", className="card-title"),
                            html.Div(id=ids.SCORECARD),
                            dbc.Button("ROC / precision-recall curves", id=ids.CURVES_TOGGLE,
                                       size="sm", color="link", className="px-0"),
                        ]), className="shadow-sm h-100"), md=5),
                        dbc.Col(dbc.Card(dbc.CardBody([
                            html.H6("What am I looking at?", className="card-title"),
                            *EXPLAINER,
                        ]), className="shadow-sm h-100 explainer"), md=7),
                    ], className="g-2 mt-1"),
                    dbc.Collapse(dbc.Card(dbc.CardBody(dcc.Graph(
                        id=ids.GRAPH_CURVES, config=GRAPH_CONFIG,
                        figure=message_figure("", height=300))), className="shadow-sm mt-2"),
                        id=ids.CURVES_COLLAPSE, is_open=False),
                    sweep_card(),
                    matrix_card(),
                    campaign_card(),
                    export_card(),
                ], lg=9, md=8),
            ], className="g-3"),
            html.Footer("PoisonLab · every number on this page is computed live from the "
                        "current settings on held-out test data.", className="app-footer"),
        ], fluid=True, className="app-body"),
    ])
