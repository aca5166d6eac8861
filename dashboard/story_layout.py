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

from core.campaign import GATES
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


def _gate_title(name: str) -> str:
    return f"the {name.replace('_', ' ')} gate ({GATES[name].summary})"


def _month(m: int | None, months: int) -> str:
    return f"month {m}" if m is not None else f"none of the {months} months"


def step_numbers(story: LoanStory, step: int) -> list:
    """The headline numbers of ``step`` (1-5), as KPI tiles."""
    n = story.numbers
    c, p, q = n["clean"], n["poisoned"], n["quiet"]
    if step == 1:
        return [_kpi(pct(c["accuracy"]), "decisions right on new applications"),
                _kpi(pct(c["approval_rate"]), "of applications approved"),
                _kpi(money(c["expected_loss"]), f"expected loss on {n['n_book']} new loans")]
    if step == 2:
        return [_kpi(f"{n['per_month']} a month", "applications from the fraud ring, "
                     f"beside {n['batch']} genuine ones", "bad"),
                _kpi(pct(n["n_attacker"] / n["n_log"]),
                     f"of the training log is the ring's after {n['months']} months"),
                _kpi(money(n["target"]["amount"]), "asked for by the ring's target application")]
    if step == 3:
        reached = n["month_reached"]
        return [_kpi(_month(reached, n["months"]).capitalize(), "the target is approved",
                     "bad" if reached is not None else "good"),
                _kpi(f"+{money(n['loss_added'])}", f"expected loss by month {n['months']}, "
                     "against retraining without the ring", "bad"),
                _kpi(f"{100 * n['accuracy_lost']:.1f} pts", "accuracy lost: easy to miss")]
    if step == 4:
        g = n["gate"]
        held = g["months_to_target"] is None
        return [_kpi("held", "the target stays denied behind the gate", "good") if held else
                _kpi(f"month {g['months_to_target']}", "the target is approved all the same",
                     "bad"),
                _kpi(f"{g['rejected']} of {n['months']}", "retrained models rejected",
                     "good" if held else ""),
                _kpi(f"{g['rejected_clean']} of {n['months']}", "clean updates it would reject "
                     "with no attack: its cost", "good" if g["rejected_clean"] == 0 else "bad"),
                _kpi(money(n["loss_avoided"]), "expected loss avoided",
                     "good" if n["loss_avoided"] > 0 else "")]
    out = [_kpi(money(q["expected_loss"]), f"expected loss in month {n['months']} "
                "without the ring"),
           _kpi(money(p["expected_loss"]), "with the ring", "bad")]
    if "defended" in n:
        held = n["gate"]["months_to_target"] is None
        out.append(_kpi(money(n["defended"]["expected_loss"]), "with the ring and the gate",
                        "good" if held else "bad"))
    return out


def _gate_advice(n: dict) -> str:
    g = n["gate"]
    name = g["gate"].replace("_", " ")
    if g["months_to_target"] is None:
        return (f"The {name} gate held the line, at the price of {g['rejected_clean']} of "
                f"{n['months']} clean updates rejected.")
    return (f"On this seed no gate at its defaults held (the best, {name}, let the target "
            f"through in month {g['months_to_target']}): a tighter threshold stops more "
            "campaigns but rejects more clean updates.")


def step_text(story: LoanStory, step: int) -> list:
    """The narration of ``step``, every number from ``story``."""
    n = story.numbers
    c, p, t = n["clean"], n["poisoned"], n["target"]
    if step == 1:
        return [html.P(f"The bank's approval model learned from {n['n_history']} past "
                       "applications: who was approved (amber) and who was denied (blue), by "
                       "credit score and debt-to-income ratio. Shaded amber is where it "
                       "approves."),
                html.P(f"On {n['n_book']} new applications it approves "
                       f"{pct(c['approval_rate'])} and is right {pct(c['accuracy'])} of the "
                       f"time. Every month it retrains on its own decisions: {n['batch']} new "
                       "applications arrive, and the ones it approves join the training log "
                       "labelled \"approved\".")]
    if step == 2:
        return [html.P(f"A fraud ring wants one application approved: {money(t['amount'])} "
                       f"(the star, credit score {t['x']:.0f}, debt-to-income {t['y']:.1f}%). "
                       "Today the model denies it."),
                html.P(f"So every month the ring submits {n['per_month']} small applications "
                       "just inside today's approval region, a little closer to the target. "
                       "The model approves them, they land in the log labelled approved, and "
                       "next month's model moves its boundary towards them. Press Play to "
                       f"watch {n['months']} months pass.")]
    if step == 3:
        shot = n["one_shot"]
        if n["month_reached"] is not None:
            first = (f"In month {n['month_reached']} the retrained model approves the target: "
                     f"{money(t['amount'])} that will never be repaid. By then "
                     f"{n['n_attacker_reached']} of the {n['n_log_reached']} applications in "
                     f"the log ({pct(n['n_attacker_reached'] / n['n_log_reached'])}) are the "
                     "ring's.")
        else:
            first = (f"After {n['months']} months the target is still denied, but the "
                     f"boundary has moved: {pct(p['boundary_moved'])} of the reference "
                     "decisions differ from month 0.")
        alone = ("would have got the target approved too" if shot.get("target_approved")
                 else "would not have got the target approved")
        return [html.P(first),
                html.P(f"Accuracy moved {100 * n['accuracy_lost']:.1f} points against the same "
                       "months of retraining without the ring: too little for a monitor that "
                       "watches accuracy. Patience is the point: the same "
                       f"{shot.get('submitted', n['n_attacker'])} applications submitted at "
                       f"once, in month 1, {alone} (the one-shot baseline).")]
    if step == 4:
        g = n["gate"]
        chosen = (f"the best of the {g['n_candidates']} update gates on this run"
                  if g["n_candidates"] > 1 else "the gate chosen")
        intro = (f"Now the bank checks each retrained model before it replaces the running "
                 f"one: {_gate_title(g['gate'])}, {chosen}.")
        if g["months_to_target"] is None:
            verdict = (f"It rejects {g['rejected']} of the {n['months']} updates, the first in "
                       f"month {g['first_rejected']}: {g['first_verdict']}. The running model "
                       "keeps denying the target." if g["rejected"] else
                       "It rejects no update and the target stays denied.")
        else:
            verdict = (f"It does not hold: the target is approved in month "
                       f"{g['months_to_target']} all the same. The ring's steps are each "
                       "small enough to pass; no gate at its defaults stops this campaign "
                       "(the table below shows each).")
        return [html.P(f"{intro} {verdict}"),
                html.P(f"The cost: on the same {n['months']} months with no attacker it would "
                       f"have rejected {g['rejected_clean']} clean update"
                       f"{'s' if g['rejected_clean'] != 1 else ''}. Expected loss in month "
                       f"{n['months']}: {money(n['defended']['expected_loss'])}, against "
                       f"{money(p['expected_loss'])} without the gate.")]
    share = n["n_attacker"] / n["n_log"]
    items = [
        html.Li([html.B("Know what you retrain on. "),
                 f"The model learned from its own decisions: {n['n_attacker']} of the ring's "
                 f"applications ({pct(share)} of the log) went in labelled approved."]),
        html.Li([html.B("Gate every update. "),
                 _gate_advice(n) if "gate" in n else
                 "Check each retrained model against a fixed anchor before deploying it."]),
        html.Li([html.B("Compare with a fixed anchor, not last month. "),
                 "Each month's move is small; against month 0 they add up."]),
        html.Li([html.B("Keep a trusted holdout and a reference set. "),
                 f"{n['n_holdout']} hand-checked applications and {n['n_reference']} fixed "
                 "reference ones are what the gates measure with."]),
    ]
    return [html.Ul(items, className="story-checklist")]


def step_figure(story: LoanStory, step: int, present: bool):
    height = 560 if present else 470
    make = (figs.model_figure, figs.attack_figure, figs.damage_figure, figs.defense_figure,
            figs.loss_figure)[step - 1]
    return make(story, present=present, height=height)


def ranking_table(story: LoanStory) -> html.Div:
    """For analysts (hidden when presenting): how every update gate did on this run."""
    months = story.numbers["months"]
    rows = [html.Tr([html.Td(r["gate"]),
                     html.Td(_month(r["months_to_target"], months) if r["months_to_target"]
                             else "never"),
                     html.Td(f"{r['rejected']} of {months}"),
                     html.Td(f"{r['rejected_clean']} of {months}"),
                     html.Td(pct(r["accuracy"]))],
                    className="chosen" if i == 0 else "")
            for i, r in enumerate(story.ranking)]
    head = html.Thead(html.Tr([html.Th(h) for h in ("gate", "target approved", "updates "
                                                    "rejected", "clean updates rejected "
                                                    "(no attack)", "accuracy")]))
    return html.Details([html.Summary("How every update gate did on this run (best first)",
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


