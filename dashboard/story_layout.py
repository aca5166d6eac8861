"""Story mode's page: the URL state, the layout and each step's numbers, text and figure.

Pure (no callbacks): :mod:`dashboard.callbacks.story` wires them to the URL and the
buttons, over the stories computed by :mod:`dashboard.service`. The URL holds the
whole state (``?step=3&seed=7&present=1``), so a demo is exactly repeatable and every
step is linkable.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from urllib.parse import parse_qs, urlencode

import dash_bootstrap_components as dbc
from dash import dcc, html

from core.defenses import DEFENSES
from core.story import CURRENCY, LoanStory
from dashboard import ids
from dashboard import story_figures as figs

PATH = "/story/"
STEPS = ("The model", "The attack", "The damage", "The defense", "What to do")
MAX_SEED = 2**32 - 1


@dataclass(frozen=True)
class StoryState:
    """What the URL says: the step (1-5), the seed, presenter mode."""

    step: int = 1
    seed: int = 0
    present: bool = False

    def search(self) -> str:
        query = {"step": self.step, "seed": self.seed}
        if self.present:
            query["present"] = 1
        return "?" + urlencode(query)


def _int(raw: str | None, low: int, high: int) -> int | None:
    try:
        value = int(str(raw).strip())
    except (TypeError, ValueError):
        return None
    return value if low <= value <= high else None


def parse_search(search: str | None) -> tuple[StoryState, list[str]]:
    """The state a URL query asks for, and a note for each value that was not usable."""
    query = parse_qs((search or "").lstrip("?"), keep_blank_values=True)
    first = {k: v[0] for k, v in query.items() if v}
    notes = []
    state = StoryState()
    if "step" in first:
        step = _int(first["step"], 1, len(STEPS))
        if step is None:
            notes.append(f"step={first['step'][:20]!r} is not a step (1-{len(STEPS)}); "
                         "showing step 1")
        else:
            state = replace(state, step=step)
    if "seed" in first:
        seed = _int(first["seed"], 0, MAX_SEED)
        if seed is None:
            notes.append(f"seed={first['seed'][:20]!r} is not a seed (0-{MAX_SEED}); "
                         "showing seed 0")
        else:
            state = replace(state, seed=seed)
    state = replace(state, present=first.get("present", "0").strip().lower() in
                    ("1", "true", "yes", "on"))
    return state, notes




def money(v: float) -> str:
    return f"{CURRENCY}{v:,.0f}"


def pct(v: float) -> str:
    return f"{100 * v:.1f}%"


def _kpi(value: str, label: str, tone: str = "") -> html.Div:
    return html.Div([html.Div(value, className="kpi-value"),
                     html.Div(label, className="kpi-label")], className=f"kpi {tone}".strip())


def _defense_title(name: str) -> str:
    return f"{name.replace('_', ' ')} ({DEFENSES[name].summary})"


def step_numbers(story: LoanStory, step: int) -> list:
    """The headline numbers of ``step`` (1-5), as KPI tiles."""
    n = story.numbers
    c, p, d, dd = n["clean"], n["poisoned"], n["defended"], n["defense"]
    if step == 1:
        return [_kpi(pct(c["accuracy"]), "decisions right on new applications"),
                _kpi(pct(c["approval_rate"]), "of applications approved"),
                _kpi(pct(c["default_rate"]), "of approved loans go bad")]
    if step == 2:
        return [_kpi(f"{n['n_fake']}", "fake applications, all marked approved", "bad"),
                _kpi(pct(n["n_fake"] / (n["n_history"] + n["n_fake"])),
                     "of the retraining set is fake"),
                _kpi(money(n["target_total"]),
                     f"asked for by the fraudsters' {n['n_targets']} real applications")]
    if step == 3:
        return [_kpi(f"{p['targets_approved']} of {n['n_targets']}",
                     "fraudulent applications now approved", "bad"),
                _kpi(f"+{money(n['loss_added'])}", "expected loss added", "bad"),
                _kpi(f"{100 * n['accuracy_lost']:.1f} pts", "accuracy lost: easy to miss")]
    if step == 4:
        return [_kpi(f"{dd['fakes_caught']} of {n['n_fake']}", "fakes caught before retraining",
                     "good"),
                _kpi(f"{d['targets_approved']} of {n['n_targets']}",
                     "fraudulent applications approved", "good" if d["targets_approved"] == 0
                     else "bad"),
                _kpi(money(n["loss_avoided"]), "expected loss avoided", "good"),
                _kpi(f"{dd['good_records_lost']}", "good applicants' records wrongly removed")]
    return [_kpi(money(c["expected_loss"]), "expected loss before the attack"),
            _kpi(money(p["expected_loss"]), "after the attack", "bad"),
            _kpi(money(d["expected_loss"]), "with the defense", "good")]


def step_text(story: LoanStory, step: int) -> list:
    """The narration of ``step``, every number from ``story``."""
    n = story.numbers
    c, p, d, dd = n["clean"], n["poisoned"], n["defended"], n["defense"]
    if step == 1:
        return [html.P(f"The bank's approval model learned from {n['n_history']} past "
                       f"applications: who was approved (amber) and who was denied (blue), "
                       "by credit score and debt-to-income ratio. Shaded amber is where it "
                       "approves."),
                html.P(f"On {n['n_book']} new applications it approves {pct(c['approval_rate'])} "
                       f"and is right {pct(c['accuracy'])} of the time; {pct(c['default_rate'])} "
                       "of the loans it approves go bad.")]
    if step == 2:
        return [html.P(f"Fraudsters submit {n['n_fake']} fake applications, each marked "
                       "approved and each looking like a real borderline applicant. They land in "
                       "next month's retraining set, unchecked."),
                html.P(f"Their goal is not to break the model but to get {n['n_targets']} real "
                       f"applications of their own (stars, {money(n['target_total'])} in "
                       "loans) approved. The model denies them today. Drag the slider or press "
                       "Play to add the fakes and retrain.")]
    if step == 3:
        extra = p["n_bad_approved"] - c["n_bad_approved"]
        more = (f" It also approves {extra} more bad loan{'s' if extra != 1 else ''} among "
                "ordinary applicants." if extra > 0 else "")
        return [html.P(f"After retraining, the model approves {p['targets_approved']} of the "
                       f"{n['n_targets']} fraudulent applications: {money(p['fraud_loss'])} "
                       f"that will never be repaid.{more}"),
                html.P(f"Expected loss rises from {money(c['expected_loss'])} to "
                       f"{money(p['expected_loss'])}. Accuracy fell by only "
                       f"{100 * n['accuracy_lost']:.1f} points, too little for a monitor that "
                       "watches accuracy to raise an alarm.")]
    if step == 4:
        verdict = ("The fraudulent applications are all denied again." if d["targets_approved"]
                   == 0 else f"Even so, {d['targets_approved']} of the fraudulent applications "
                   "are still approved: this defense is not enough on its own here.")
        return [html.P(f"Before retraining, the bank filters the new data with "
                       f"{_defense_title(dd['name'])}: the best of the {dd['n_candidates']} "
                       "defenses against this attack in the attack × defense matrix for this "
                       f"run. It flags {dd['fakes_caught']} of the {n['n_fake']} fakes. {verdict}"),
                html.P(f"The cost: {dd['records_lost']} genuine records were removed too, "
                       f"{dd['good_records_lost']} of them good applicants'. Expected loss "
                       f"falls to {money(d['expected_loss'])}.")]
    share = n["n_fake"] / (n["n_history"] + n["n_fake"])
    trusted = (f"{n['n_trusted']} hand-checked applications are what {dd['name']} voted with."
               if DEFENSES[dd["name"]].needs_trusted else
               f"{n['n_trusted']} hand-checked applications let you test any filter "
               "before you trust it.")
    return [html.Ul([
        html.Li([html.B("Audit the data pipeline. "),
                 f"{n['n_fake']} unverified applications ({pct(share)} of the retraining set) "
                 "went straight into the model."]),
        html.Li([html.B("Filter before retraining. "),
                 f"{dd['name']} caught {dd['fakes_caught']} of {n['n_fake']} fakes and cut "
                 f"expected loss by {money(n['loss_avoided'])}, at the price of "
                 f"{dd['records_lost']} genuine records."]),
        html.Li([html.B("Monitor drift, not just accuracy. "),
                 f"Accuracy moved {100 * n['accuracy_lost']:.1f} points while the approval "
                 f"rate moved from {pct(c['approval_rate'])} to {pct(p['approval_rate'])}; "
                 "watch approvals by segment."]),
        html.Li([html.B("Keep a trusted validation set. "), trusted]),
    ], className="story-checklist")]


def step_figure(story: LoanStory, step: int, present: bool):
    height = 560 if present else 470
    make = (figs.model_figure, figs.attack_figure, figs.damage_figure, figs.defense_figure,
            figs.loss_figure)[step - 1]
    return make(story, present=present, height=height)


def ranking_table(story: LoanStory) -> html.Div:
    """For analysts (hidden when presenting): how every defense did on this run."""
    n_targets = story.numbers["n_targets"]
    rows = [html.Tr([html.Td(r["defense"]), html.Td(f"{round(r['target_success'] * n_targets)}"
                                                    f" of {n_targets}"),
                     html.Td(pct(r["accuracy"])), html.Td(f"{r['recall']:.2f}"),
                     html.Td(f"{r['n_clean_lost']}")],
                    className="chosen" if i == 0 else "")
            for i, r in enumerate(story.ranking)]
    head = html.Thead(html.Tr([html.Th(h) for h in ("defense", "targets approved", "accuracy",
                                                    "fakes caught (recall)",
                                                    "genuine records lost")]))
    return html.Details([html.Summary("How every defense did on this run (best first)",
                                      className="detail-head"),
                         dbc.Table([head, html.Tbody(rows)], size="sm", className="ranking")],
                        className="story-detail")


# ---------------------------------------------------------------- layout

def _pill_class(i: int, step: int) -> str:
    return "story-pill" + (" active" if i == step else "") + (" done" if i < step else "")


def _pills(step: int) -> list:
    # static components (only their classes change): re-rendering pattern-matched inputs
    # would make Dash fire the callback a second time
    return [html.Button([html.Span(str(i), className="pill-n"), html.Span(title,
                                                                          className="pill-t")],
                        id={"type": ids.STORY_STEP, "index": i}, n_clicks=0,
                        className=_pill_class(i, step))
            for i, title in enumerate(STEPS, start=1)]


def build_story_layout() -> html.Div:
    return html.Div([
        dcc.Location(id=ids.STORY_URL, refresh=False),
        html.Div([
            html.A([html.Span("Poison", className="brand-a"), html.Span("Lab",
                                                                         className="brand-b")],
                   href="/", className="navbar-brand story-brand"),
            html.Span("The loan-fraud attack, step by step", className="story-subtitle"),
            html.Div([
                html.Label("scenario (seed)", htmlFor=ids.STORY_SEED, className="seed-label"),
                dbc.Input(id=ids.STORY_SEED, type="number", min=0, max=MAX_SEED, step=1,
                          value=0, debounce=True, size="sm", className="seed-input"),
                dbc.Button("Presenter mode", id=ids.STORY_PRESENT, n_clicks=0, size="sm",
                           color="dark", outline=True),
                html.A("Open the lab", href="/", className="btn btn-sm btn-link"),
            ], className="story-controls"),
        ], className="story-bar"),
        html.Div(_pills(1), id=ids.STORY_STEPS, className="story-steps"),
        dbc.Alert(id=ids.STORY_ALERT, color="warning", is_open=False, className="story-alert"),
        html.Div([
            html.H2(id=ids.STORY_TITLE, className="story-title"),
            dbc.Row([
                dbc.Col(dcc.Loading(dcc.Graph(id=ids.STORY_GRAPH, config={
                    "displaylogo": False, "modeBarButtonsToRemove": ["lasso2d", "select2d"]}),
                    type="circle", delay_show=400), lg=7),
                dbc.Col([html.Div(id=ids.STORY_NUMBERS, className="story-numbers"),
                         html.Div(id=ids.STORY_TEXT, className="story-text")], lg=5),
            ]),
        ], className="story-stage"),
        html.Div([
            dbc.Button("← Back", id=ids.STORY_BACK, n_clicks=0, color="secondary",
                       outline=True, className="story-nav"),
            html.Span(id=ids.STORY_INFO, className="story-info"),
            dbc.Button("Next →", id=ids.STORY_NEXT, n_clicks=0, color="primary",
                       className="story-nav"),
        ], className="story-footer"),
    ], id=ids.STORY_ROOT, className="story-root")


