"""Story mode: the loan-fraud attack told step by step, at ``/story/``.

Its own small Dash app on the main app's Flask server, so it shares the
process, the headers and the deployment but none of the lab's callbacks.
Every number on the page is read from :func:`core.story.loan_story` for the
URL's seed, through :mod:`dashboard.service` (which computes and keeps the
stories); the page itself is :mod:`dashboard.story_layout`.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from dash import ALL, Dash, Input, Output, ctx, no_update
from flask import request

from dashboard import ids
from dashboard.service import (
    MEMO_SIZE,
    PREFETCH_QUEUE,
    StoryMemo,
    after_response,
    clear_stories,
    prefetch,
    story_at,
)
from dashboard.story_layout import (
    MAX_SEED,
    PATH,
    STEPS,
    StoryState,
    _int,
    _pill_class,
    build_story_layout,
    parse_search,
    ranking_table,
    step_figure,
    step_numbers,
    step_text,
)

log = logging.getLogger(__name__)


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


# A rendered step (building its figure is most of a step's cost) is kept, and once a step has
# gone out the next one is rendered in the background, so Next only serializes it.
_views = StoryMemo(_render_key, 4 * MEMO_SIZE, "story-view")


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
        after_response(lambda: _views.submit(ahead, queue_limit=PREFETCH_QUEUE))
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


#: the page's outputs, by name: what :func:`story_update` returns
STORY_OUTPUTS: dict[str, tuple] = {
    "search": (ids.STORY_URL, "search"), "root_class": (ids.STORY_ROOT, "className"),
    "pills": ({"type": ids.STORY_STEP, "index": ALL}, "className"),
    "title": (ids.STORY_TITLE, "children"), "figure": (ids.STORY_GRAPH, "figure"),
    "numbers": (ids.STORY_NUMBERS, "children"), "text": (ids.STORY_TEXT, "children"),
    "info": (ids.STORY_INFO, "children"), "back_disabled": (ids.STORY_BACK, "disabled"),
    "next_disabled": (ids.STORY_NEXT, "disabled"), "seed": (ids.STORY_SEED, "value"),
    "present_label": (ids.STORY_PRESENT, "children"), "alert": (ids.STORY_ALERT, "children"),
    "alert_open": (ids.STORY_ALERT, "is_open"),
}


def story_update(search: str | None, trigger=None, seed_value=None) -> dict:
    """The page for URL query ``search`` after the action ``trigger`` (an id, or None for
    a page load or a URL change), by the names of ``STORY_OUTPUTS``."""
    state, notes = parse_search(search)
    state, more = next_state(state, trigger, seed_value)
    notes += more
    try:
        view = view_for(state)
    except (ValueError, RuntimeError) as exc:  # nothing here should fail; never a 500
        log.exception("story render failed for %s", state)
        return {**dict.fromkeys(STORY_OUTPUTS, no_update),
                "alert": f"This step could not be computed: {exc}", "alert_open": True}
    new_search = state.search()
    return {
        "search": new_search if new_search != (search or "") else no_update,
        "root_class": "story-root present" if state.present else "story-root",
        "pills": [_pill_class(i, state.step) for i in range(1, len(STEPS) + 1)],
        "title": view["title"], "figure": view["figure"], "numbers": view["numbers"],
        "text": view["text"], "info": view["info"], "back_disabled": state.step == 1,
        "next_disabled": state.step == len(STEPS), "seed": state.seed,
        "present_label": "Leave presenter mode" if state.present else "Presenter mode",
        "alert": " ".join(notes), "alert_open": bool(notes),
    }


def register_story(app: Dash) -> None:
    @app.callback(
        output={name: Output(*target) for name, target in STORY_OUTPUTS.items()},
        inputs={"search": Input(ids.STORY_URL, "search"),
                "_next": Input(ids.STORY_NEXT, "n_clicks"),
                "_back": Input(ids.STORY_BACK, "n_clicks"),
                "_pills": Input({"type": ids.STORY_STEP, "index": ALL}, "n_clicks"),
                "_present": Input(ids.STORY_PRESENT, "n_clicks"),
                "seed_value": Input(ids.STORY_SEED, "value")},
    )
    def update(search, _next, _back, _pills, _present, seed_value):
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


def clear_story_cache() -> None:
    """Forget every computed story and rendered step (benchmarks time cold loads with it)."""
    clear_stories()
    _views.clear()


__all__ = ["create_story_app", "parse_search", "next_state", "render", "StoryState",
           "STEPS", "PATH", "STORY_OUTPUTS", "story_update", "step_numbers", "step_text",
           "story_at", "prefetch", "clear_story_cache"]

