"""Story mode: the loan-fraud attack told step by step, at ``/story/``.

Its own small Dash app on the main app's Flask server, so it shares the
process, the headers and the deployment but none of the lab's callbacks. The
URL holds the whole state (``?step=3&seed=7&present=1``), so a demo is
exactly repeatable and every step is linkable. Every number on the page is
read from :func:`core.story.loan_story` for the URL's seed.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Hashable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from urllib.parse import parse_qs, urlencode

import dash_bootstrap_components as dbc
from dash import ALL, Dash, Input, Output, ctx, dcc, html, no_update
from flask import after_this_request, request

from core.defenses import DEFENSES
from core.story import CURRENCY, LoanStory, loan_story
from dashboard import ids
from dashboard import story_figures as figs

log = logging.getLogger(__name__)

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


# The full story ranks every defense (about a second); steps 1-3 do not need that, so a
# page load computes them without it (the preview) and the full story follows in a
# background thread, ready by the time a presenter reaches step 4. The page request itself
# starts the computation its first callback will ask for, so the server works while the
# browser starts Dash and plotly.js. Both are kept for the last 16 seeds.
_MEMO = 16
_PREFETCH_QUEUE = 2  # page requests start at most this many computations ahead of need


class _Memo:
    """``fn(key)`` as futures, one background thread, the last ``size`` keys kept.

    Unlike ``lru_cache``, two requests for a seed that is still being computed share the
    one computation (the page request's prefetch and the callback that follows it)."""

    def __init__(self, fn, size: int, name: str) -> None:
        self._fn, self._size = fn, size
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._lock = threading.Lock()
        self._futures: OrderedDict[Hashable, Future] = OrderedDict()

    def submit(self, key: Hashable, *, queue_limit: int | None = None) -> Future | None:
        """The computation for ``key``, started if it is not known yet; with
        ``queue_limit``, None instead of starting one when that many are pending."""
        with self._lock:
            future = self._futures.get(key)
            if future is not None:
                self._futures.move_to_end(key)
                return future
            if queue_limit is not None and \
                    sum(not f.done() for f in self._futures.values()) >= queue_limit:
                return None
            return self._keep(key, self._executor.submit(self._fn, key))

    def put(self, key: Hashable, value) -> None:
        """Remember ``value`` (computed elsewhere) as the result for ``key``."""
        future: Future = Future()
        future.set_result(value)
        with self._lock:
            self._keep(key, future)

    def _keep(self, key: Hashable, future: Future) -> Future:
        self._futures[key] = future
        self._futures.move_to_end(key)
        while len(self._futures) > self._size:
            self._futures.popitem(last=False)
        return future

    def get(self, key: Hashable) -> Future | None:
        with self._lock:
            return self._futures.get(key)

    def clear(self) -> None:
        with self._lock:
            self._futures.clear()


def _preview(seed: int) -> LoanStory:
    return loan_story(seed, defense="none")


_stories = _Memo(loan_story, _MEMO, "story")
_previews = _Memo(_preview, _MEMO, "story-preview")


def story_for(seed: int) -> LoanStory:
    """The whole story for ``seed`` (waits for it if it is still being computed)."""
    return _stories.submit(seed).result()


def preview_for(seed: int) -> LoanStory:
    """Steps 1-3 of the story for ``seed``: the same numbers, no defense ranking."""
    return _previews.submit(seed).result()


def story_at(seed: int, step: int) -> LoanStory:
    """What step ``step`` needs: the preview for steps 1-3 (then the full story is started
    in the background), the full story from step 4 on."""
    if step >= 4:
        return story_for(seed)
    full = _stories.get(seed)
    if full is not None and full.done():
        return full.result()
    preview = preview_for(seed)
    _after_response(lambda: _stories.submit(seed))
    return preview


def prefetch(search: str | None) -> None:
    """Start what the page for URL query ``search`` will ask for first (bounded: a flood
    of page requests starts at most ``_PREFETCH_QUEUE`` computations)."""
    state, _ = parse_search(search)
    # not the ranking for steps 1-3: started now, it slows the browser's start-up on a
    # shared machine by more than it saves (measured); it follows the first response
    memo = _stories if state.step >= 4 else _previews
    memo.submit(state.seed, queue_limit=_PREFETCH_QUEUE)


def _after_response(start) -> None:
    """Call ``start`` once the current response has gone out (now, outside a request):
    the ranking holds the GIL for most of a second, which would delay this very page."""
    try:
        @after_this_request
        def hook(response):
            response.call_on_close(start)
            return response
    except RuntimeError:  # no request context (scripts, tests)
        start()


def clear_story_cache() -> None:
    """Forget every computed story (benchmarks time cold loads with it)."""
    _stories.clear()
    _previews.clear()
    _views.clear()


# ---------------------------------------------------------------- formatting

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


# ---------------------------------------------------------------- callbacks

def next_state(state: StoryState, trigger, seed_value) -> tuple[StoryState, list[str]]:
    """Apply one user action (the id that fired) to the state."""
    notes: list[str] = []
    if trigger == ids.STORY_NEXT:
        state = replace(state, step=min(state.step + 1, len(STEPS)))
    elif trigger == ids.STORY_BACK:
        state = replace(state, step=max(state.step - 1, 1))
    elif trigger == ids.STORY_PRESENT:
        state = replace(state, present=not state.present)
    elif isinstance(trigger, dict) and trigger.get("type") == ids.STORY_STEP:
        step = _int(trigger.get("index"), 1, len(STEPS))
        if step is not None:
            state = replace(state, step=step)
    elif trigger == ids.STORY_SEED:
        seed = _int(seed_value, 0, MAX_SEED)
        if seed is None:
            notes.append(f"seed {str(seed_value)[:20]!r} is not a whole number from 0 to "
                         f"{MAX_SEED}; keeping seed {state.seed}")
        else:
            state = replace(state, seed=seed)
    return state, notes


def _render_key(key: tuple[int, int, bool]) -> dict:
    seed, step, present = key
    return render(StoryState(step=step, seed=seed, present=present))


# A rendered step (its figure takes up to 75 ms to build) is kept, and once a step has
# gone out the next one is rendered in the background, so Next only serializes it.
_views = _Memo(_render_key, 4 * _MEMO, "story-view")


def view_for(state: StoryState) -> dict:
    """``render(state)``, from the memo when it is there; then the next step is prepared."""
    key = (state.seed, state.step, state.present)
    ready = _views.get(key)
    if ready is not None:  # prepared, or being prepared
        view = ready.result()
    else:  # render here rather than queue behind other pages' work
        view = render(state)
        _views.put(key, view)
    if state.step < len(STEPS):
        ahead = (state.seed, state.step + 1, state.present)
        _after_response(lambda: _views.submit(ahead, queue_limit=_PREFETCH_QUEUE))
    return view


def render(state: StoryState) -> dict:
    """Everything the page shows for ``state`` (the callback's outputs, by name)."""
    story = story_at(state.seed, state.step)
    n = story.numbers
    return {
        "title": f"{state.step}. {STEPS[state.step - 1]}",
        "figure": step_figure(story, state.step, state.present),
        "numbers": step_numbers(story, state.step),
        "text": [*step_text(story, state.step),
                 *([ranking_table(story)] if state.step == 4 else [])],
        "info": (f"step {state.step} of {len(STEPS)} · seed {state.seed} · synthetic loan data,"
                 f" {n['n_history']} past applications · use ← → to move"),
    }


STORY_OUTPUTS = (
    (ids.STORY_URL, "search"), (ids.STORY_ROOT, "className"),
    ({"type": ids.STORY_STEP, "index": ALL}, "className"),
    (ids.STORY_TITLE, "children"), (ids.STORY_GRAPH, "figure"), (ids.STORY_NUMBERS, "children"),
    (ids.STORY_TEXT, "children"), (ids.STORY_INFO, "children"), (ids.STORY_BACK, "disabled"),
    (ids.STORY_NEXT, "disabled"), (ids.STORY_SEED, "value"), (ids.STORY_PRESENT, "children"),
    (ids.STORY_ALERT, "children"), (ids.STORY_ALERT, "is_open"),
)


def story_update(search: str | None, trigger=None, seed_value=None) -> tuple:
    """The page for URL query ``search`` after the action ``trigger`` (an id, or None for
    a page load or a URL change); one value per entry of ``STORY_OUTPUTS``."""
    state, notes = parse_search(search)
    state, more = next_state(state, trigger, seed_value)
    notes += more
    try:
        view = view_for(state)
    except (ValueError, RuntimeError) as exc:  # nothing here should fail; never a 500
        log.exception("story render failed for %s", state)
        return (*([no_update] * (len(STORY_OUTPUTS) - 2)),
                f"This step could not be computed: {exc}", True)
    new_search = state.search()
    return (
        new_search if new_search != (search or "") else no_update,
        "story-root present" if state.present else "story-root",
        [_pill_class(i, state.step) for i in range(1, len(STEPS) + 1)], view["title"],
        view["figure"], view["numbers"], view["text"],
        view["info"], state.step == 1, state.step == len(STEPS), state.seed,
        "Leave presenter mode" if state.present else "Presenter mode",
        " ".join(notes), bool(notes),
    )


def register_story(app: Dash) -> None:
    @app.callback(
        *(Output(i, prop) for i, prop in STORY_OUTPUTS),
        Input(ids.STORY_URL, "search"),
        Input(ids.STORY_NEXT, "n_clicks"),
        Input(ids.STORY_BACK, "n_clicks"),
        Input({"type": ids.STORY_STEP, "index": ALL}, "n_clicks"),
        Input(ids.STORY_PRESENT, "n_clicks"),
        Input(ids.STORY_SEED, "value"),
    )
    def update(search, _next, _back, _pills_clicks, _present, seed_value):
        trigger = ctx.triggered_id if ctx.triggered_id != ids.STORY_URL else None
        return story_update(search, trigger, seed_value)

    # the URL's state is also the browser tab's title, so a presenter sees where they are
    app.clientside_callback(
        "function(title) { if (title) { document.title = title + ' · PoisonLab story'; }"
        " return window.dash_clientside.no_update; }",
        Output(ids.STORY_TITLE, "title"),
        Input(ids.STORY_TITLE, "children"),
    )


def create_story_app(server, assets_folder: str) -> Dash:
    """The story as its own Dash app at ``/story/`` on ``server`` (the lab's Flask app)."""
    app = Dash(__name__, server=server, url_base_pathname=PATH, title="PoisonLab story",
               assets_folder=assets_folder,
               meta_tags=[{"name": "viewport", "content": "width=device-width, initial-scale=1"}])
    app.layout = build_story_layout
    register_story(app)

    @server.before_request
    def start_story_early():
        if request.method == "GET" and request.path == PATH:
            prefetch(request.query_string.decode("utf-8", "replace"))

    return app


__all__ = ["create_story_app", "parse_search", "next_state", "render", "story_for", "StoryState",
           "STEPS", "PATH", "STORY_OUTPUTS", "story_update", "step_numbers", "step_text",
           "story_at", "preview_for", "prefetch", "clear_story_cache"]
