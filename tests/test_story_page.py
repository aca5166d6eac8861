"""Story mode's page: navigation, the URL contract, and numbers read from core."""

import json

import pytest
from dash import no_update

from dashboard import ids, service
from dashboard.callbacks import story as story_callbacks
from dashboard.callbacks.story import STORY_OUTPUTS, next_state, story_update
from dashboard.service import story_for
from dashboard.story_layout import STEPS, StoryState, money, parse_search, pct

OUT = {f"{i if isinstance(i, str) else i['type']}.{p}": name
       for name, (i, p) in STORY_OUTPUTS.items()}


def page(search, trigger=None, seed_value=None):
    """story_update's outputs by id, e.g. page('?step=2')['story-title.children']."""
    values = story_update(search, trigger, seed_value)
    assert set(values) == set(STORY_OUTPUTS)
    return {key: values[name] for key, name in OUT.items()}


def text_of(component) -> str:
    """All the text in a component tree."""
    if component is None or isinstance(component, (bool, int, float)):
        return "" if component is None else str(component)
    if isinstance(component, str):
        return component
    if isinstance(component, (list, tuple)):
        return " ".join(text_of(c) for c in component)
    return text_of(getattr(component, "children", None))


@pytest.mark.parametrize("search, state, n_notes", [
    ("", StoryState(), 0),
    ("?step=3&seed=7", StoryState(3, 7), 0),
    ("?step=5&seed=0&present=1", StoryState(5, 0, True), 0),
    ("?present=true", StoryState(present=True), 0),
    ("?step=9", StoryState(), 1),
    ("?step=abc&seed=-4", StoryState(), 2),
    ("?seed=1e99", StoryState(), 1),
    ("?seed=99999999999999", StoryState(), 1),
    ("?step=2&step=4", StoryState(2), 0),
])
def test_the_url_carries_step_seed_and_presenter_mode(search, state, n_notes):
    got, notes = parse_search(search)
    assert got == state and len(notes) == n_notes
    assert parse_search(got.search())[0] == got  # the URL we write reads back the same


def test_next_back_and_pills_move_within_the_five_steps():
    s = StoryState(1, 3)
    assert next_state(s, ids.STORY_BACK, None)[0].step == 1
    assert next_state(s, ids.STORY_NEXT, None)[0].step == 2
    assert next_state(StoryState(5), ids.STORY_NEXT, None)[0].step == 5
    assert next_state(s, {"type": ids.STORY_STEP, "index": 4}, None)[0].step == 4
    assert next_state(s, {"type": ids.STORY_STEP, "index": 99}, None)[0].step == 1
    assert next_state(s, ids.STORY_PRESENT, None)[0].present is True
    assert next_state(s, ids.STORY_SEED, 12)[0] == StoryState(1, 12)
    kept, notes = next_state(s, ids.STORY_SEED, "x")
    assert kept == s and "keeping seed 3" in notes[0]
    assert next_state(s, ids.STORY_SEED, None)[0] == s


def test_page_load_normalizes_the_url_and_shows_step_one():
    p = page("")
    assert p["story-url.search"] == "?step=1&seed=0"
    assert p["story-title.children"] == "1. The model"
    assert p["story-step.className"][0] == "story-pill active"
    assert p["story-step.className"][1] == "story-pill"
    assert p["story-back.disabled"] is True and p["story-next.disabled"] is False
    assert p["story-alert.is_open"] is False and p["story-root.className"] == "story-root"
    again = page("?step=1&seed=0")
    assert again["story-url.search"] is no_update  # already right: no history entry


def test_each_step_shows_the_numbers_core_computed():
    story = story_for(0)
    n = story.numbers
    g = n["gate"]
    expected = {
        1: [pct(n["clean"]["accuracy"]), pct(n["clean"]["approval_rate"]),
            money(n["clean"]["expected_loss"])],
        2: [f"{n['per_month']} a month", money(n["target"]["amount"]),
            pct(n["n_attacker"] / n["n_log"])],
        3: [f"Month {n['month_reached']}" if n["month_reached"] else "None of the",
            money(n["loss_added"]), f"{100 * n['accuracy_lost']:.1f} pts"],
        4: [f"{g['rejected']} of {n['months']}", f"{g['rejected_clean']} of {n['months']}",
            money(n["loss_avoided"]), g["gate"].replace("_", " ")],
        5: [money(n["quiet"]["expected_loss"]), money(n["poisoned"]["expected_loss"]),
            money(n["defended"]["expected_loss"])],
    }
    for step, needles in expected.items():
        p = page(f"?step={step}&seed=0")
        assert p["story-title.children"] == f"{step}. {STEPS[step - 1]}"
        shown = text_of(p["story-numbers.children"]) + text_of(p["story-text.children"])
        for needle in needles:
            assert needle in shown, (step, needle)
        assert p["story-next.disabled"] is (step == 5)


def test_another_seed_tells_another_story():
    a = text_of(page("?step=3&seed=0")["story-text.children"])
    b = page("?step=3&seed=1")
    assert b["story-seed.value"] == 1 and text_of(b["story-text.children"]) != a


def test_the_attack_step_plays_the_months():
    story = story_for(0)
    c = story.campaign
    fig = page("?step=2&seed=0")["story-graph.figure"]
    assert len(fig.frames) == len(c.months) == story.numbers["months"] + 1
    slider = fig.layout.sliders[0]
    assert [s.label for s in slider.steps] == [str(m.month) for m in c.months]
    for k, frame in enumerate(fig.frames):  # the ring's applications as they entered the log
        fakes, star = frame.data[-2], frame.data[-1]
        assert len(fakes.x) == c.months[k].n_attacker_total
        assert star.name.endswith("APPROVED" if c.months[k].target_approved else "denied")
        assert list(frame.data[0].z.ravel()) == list(_sign(c.grids[k]).ravel())


def _sign(z):
    import numpy as np
    return np.sign(z).astype(np.int8)


def test_the_defense_step_plays_the_gated_months_and_marks_rejections():
    story = story_for(0)
    fig = page("?step=4&seed=0")["story-graph.figure"]
    gated = story.gated
    labels = [s.label for s in fig.layout.sliders[0].steps]
    assert labels == [str(m.month) + ("" if m.deployed or m.month == 0 else " ✗")
                      for m in gated.months]
    assert sum("✗" in label for label in labels) == story.numbers["gate"]["rejected"]
    for k, frame in enumerate(fig.frames):  # the ungated boundary, dotted, for comparison
        assert list(frame.data[2].z.ravel()) == list(
            story.campaign.grids[k].astype("float32").ravel())


def test_presenter_mode_changes_the_look_not_the_numbers():
    plain, shown = page("?step=3&seed=0"), page("?step=3&seed=0&present=1")
    assert shown["story-root.className"] == "story-root present"
    assert shown["story-present.children"] == "Leave presenter mode"
    assert text_of(shown["story-numbers.children"]) == text_of(plain["story-numbers.children"])
    big = shown["story-graph.figure"].layout.font.size
    assert big > plain["story-graph.figure"].layout.font.size


def test_bad_url_values_are_explained_and_the_page_still_renders():
    p = page("?step=0&seed=banana")
    assert p["story-alert.is_open"] is True
    assert "step='0' is not a step" in p["story-alert.children"]
    assert "seed='banana'" in p["story-alert.children"]
    assert p["story-title.children"] == "1. The model"


@pytest.fixture(scope="module")
def client():
    from dashboard.app import app
    return app.server.test_client()


def _request(search, seed_value=0, changed="story-url.search"):
    from dashboard.bench import story_request_body
    trigger = changed.split(".")[0] if changed != "story-url.search" else None
    return story_request_body(search, trigger=trigger, seed_value=seed_value)


def test_story_is_served_linked_and_redirects(client):
    assert client.get("/story").status_code == 308
    resp = client.get("/story/?step=2&seed=3")
    assert resp.status_code == 200 and "https://" not in resp.get_data(as_text=True)
    assert resp.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert 'href="/story/"' in client.get("/_dash-layout").get_data(as_text=True) or \
        "/story/" in json.dumps(client.get("/_dash-layout").get_json())


@pytest.mark.parametrize("search, seed_value, changed", [
    ("?step=2&seed=0", 0, "story-url.search"),
    ("?step=<script>&seed=1e999", 0, "story-url.search"),
    ("?step=1&seed=0", "1e308", "story-seed.value"),
    ("?step=1&seed=0", -5, "story-seed.value"),
    ("?step=1&seed=0", [1, 2], "story-seed.value"),
])
def test_story_requests_over_http_never_fail(client, search, seed_value, changed):
    resp = client.post("/story/_dash-update-component", json=_request(search, seed_value,
                                                                      changed))
    assert resp.status_code == 200
    body = resp.get_json()["response"]
    assert "story-title" in body and body["story-title"]["children"]


def test_story_layout_has_every_story_id():
    from dashboard.story_layout import build_story_layout

    found, stack = set(), [build_story_layout()]
    while stack:
        c = stack.pop()
        if isinstance(c, (list, tuple)):
            stack.extend(c)
            continue
        i = getattr(c, "id", None)
        if i:
            found.add(i if isinstance(i, str) else i["type"])
        if getattr(c, "children", None) is not None and not isinstance(c.children, str):
            stack.append(c.children)
    wanted = {v for k, v in vars(ids).items() if k.startswith("STORY_") and k != "STORY_LINK"}
    assert wanted <= found


def test_steps_one_to_three_come_first_the_gates_follow():
    from dashboard.callbacks.story import clear_story_cache
    from dashboard.service import preview_for, story_at

    clear_story_cache()
    early = story_at(5, 1)
    assert early is preview_for(5) and early.ranking == []
    full = story_at(5, 4)  # waits for the gates' runs in the background
    assert full.ranking and full is story_for(5)
    assert story_at(5, 2) is full  # once it is there, every step uses it
    for step in (1, 2, 3):  # and the early steps read the same either way
        assert text_of(page(f"?step={step}&seed=5")["story-numbers.children"]) == \
            text_of(step_numbers_of(early, step))


def step_numbers_of(story, step):
    from dashboard.story_layout import step_numbers
    return step_numbers(story, step)


def test_the_page_request_starts_computing_what_its_first_callback_needs(client):
    story_callbacks.clear_story_cache()
    client.get("/story/?step=2&seed=41")
    assert service._previews.get(41) is not None and service._stories.get(41) is None
    client.get("/story/?step=4&seed=42")  # step 4 needs the ranked story itself
    assert service._stories.get(42) is not None
    assert service.preview_for(41) is service._previews.get(41).result()


def test_a_flood_of_page_requests_starts_at_most_two_computations(client, monkeypatch):
    import threading

    release = threading.Event()

    def slow(seed):
        release.wait(10)
        return seed

    story_callbacks.clear_story_cache()
    monkeypatch.setattr(service._previews, "_fn", slow)
    try:
        for seed in range(1000, 1020):
            assert client.get(f"/story/?seed={seed}").status_code == 200
        kept = [s for s in range(1000, 1020) if service._previews.get(s) is not None]
        assert kept == [1000, 1001]
    finally:
        release.set()
        service._previews.get(1001).result(timeout=10)
        story_callbacks.clear_story_cache()


def test_a_shown_step_prepares_the_next_one():
    story_callbacks.clear_story_cache()
    first = page("?step=1&seed=8")
    ahead = story_callbacks._views.get((8, 2, False))
    assert ahead is not None  # rendered in the background, outside a request: at once
    second = page("?step=2&seed=8")
    assert second["story-graph.figure"] is ahead.result()["figure"]
    assert second["story-title.children"].startswith("2.")
    assert first["story-graph.figure"] is not second["story-graph.figure"]
    assert story_callbacks._views.get((8, 3, False)) is not None
    assert story_callbacks._views.get((8, 3, True)) is None  # presenter mode is its own rendering
