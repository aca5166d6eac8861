"""A few real-browser checks in headless Chromium (Playwright driving Debian's chromium)."""

import re

import pytest
from playwright.sync_api import Page, expect

from core import run_experiment
from dashboard.state import state_from_query

pytestmark = pytest.mark.browser

# predicates are passed as functions: a string expression would be eval'd in the page,
# which the app's Content-Security-Policy (rightly) refuses
N_TRACES = "id => document.querySelector('#' + id + ' .js-plotly-plot')?.data?.length ?? 0"


@pytest.fixture
def page_errors(page: Page):
    errors: list[str] = []
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("requestfailed", lambda r: errors.append(f"request failed: {r.url}"))
    return errors


def expected(query: str):
    """What core computes for the view a URL describes (the page must show the same)."""
    _, config, problems = state_from_query(query)
    assert problems == []
    return run_experiment(config)


def wait_for_panels(page: Page):
    for gid in ("graph-clean", "graph-poisoned", "graph-defended"):
        page.wait_for_function(f"() => ({N_TRACES})('{gid}') >= 3")


def test_page_shows_three_panels_with_live_numbers(page: Page, live_app, page_errors, tmp_path):
    page.goto(live_app)
    wait_for_panels(page)
    r = expected("")
    expect(page.locator("#accuracy-clean")).to_contain_text(f"{r.clean_accuracy:.1%}")
    expect(page.locator("#accuracy-poisoned")).to_contain_text(f"{r.poisoned_accuracy:.1%}")
    expect(page.locator("#accuracy-defended")).to_contain_text(f"{r.defended_accuracy:.1%}")
    expect(page.locator("#scorecard")).to_contain_text(
        f"{r.detection.n_poison_caught} / {r.detection.n_poison}")
    # the URL now carries every control, so the view can be shared
    expect(page).to_have_url(re.compile(r"scenario=seed-demo.*poison-rate=0\.2667"))
    page.screenshot(path=tmp_path / "default.png", full_page=True)
    assert page_errors == []


def test_moving_poison_rate_recomputes(page: Page, live_app, page_errors):
    page.goto(live_app + "/?scenario=seed-demo&poison-rate=0.05")
    wait_for_panels(page)
    before = expected("?scenario=seed-demo&poison-rate=0.05")
    expect(page.locator("#accuracy-poisoned")).to_contain_text(f"{before.poisoned_accuracy:.1%}")
    thumb = page.locator("#poison-rate [role=slider]")
    thumb.focus()
    thumb.press("End")  # to the slider's maximum, 60%
    expect(page).to_have_url(re.compile(r"poison-rate=0\.6(&|$)"))
    expect(page.locator("#share-link")).to_have_value(re.compile(r"^http://.*poison-rate=0\.6&"))
    after = expected("?scenario=seed-demo&poison-rate=0.6")
    assert f"{after.poisoned_accuracy:.1%}" != f"{before.poisoned_accuracy:.1%}"
    expect(page.locator("#accuracy-poisoned")).to_contain_text(f"{after.poisoned_accuracy:.1%}")
    assert page_errors == []


def test_url_restores_every_control(page: Page, live_app, page_errors):
    query = ("?dataset=moons&attack=label_flip&poison-rate=0.3&defense=knn_sanitize"
             "&knn-k=15&model=svm&kernel=rbf&gamma=2&c=10&seed=7")
    page.goto(live_app + "/" + query)
    wait_for_panels(page)
    r = expected(query)
    assert (r.config.dataset, r.config.defense_params["k"], r.config.gamma, r.config.C) == \
        ("moons", 15, 2.0, 10)  # an old link's knn-k: the defense's k
    expect(page.locator("#dataset")).to_contain_text("moons")
    expect(page.locator("#attack")).to_contain_text("label flip")
    expect(page.locator("#defense")).to_contain_text("knn sanitize")
    expect(page.locator("#kernel")).to_contain_text("rbf")
    expect(page.locator("#seed")).to_have_value("7")
    expect(page.locator("#accuracy-poisoned")).to_contain_text(f"{r.poisoned_accuracy:.1%}")
    expect(page.locator("#accuracy-defended")).to_contain_text(f"{r.defended_accuracy:.1%}")
    # the controls of kNN sanitization's declared parameters, and only those
    expect(page.locator("#defense-param-k-field")).to_be_visible()
    expect(page.locator("#defense-param-rate_aware-field")).to_be_visible()
    expect(page.locator("#defense-param-contamination-field")).to_have_count(0)
    expect(page.locator("#share-link")).to_have_value(re.compile(r"seed=7.*defense\.k=15"))
    assert page_errors == []


def test_parameter_controls_follow_the_selected_algorithm(page: Page, live_app, page_errors,
                                                         tmp_path):
    """The controls drawn from the declarations: moving one recomputes and goes in the link;
    another defense brings its own controls, keeping the contamination the user set."""
    page.goto(live_app + "/?scenario=seed-demo")
    wait_for_panels(page)
    field = page.locator("#defense-param-contamination-field")
    expect(field).to_be_visible()
    expect(page.locator("#defense-param-n_neighbors-field")).to_have_count(0)
    field.locator("input[type=checkbox]").check()  # contamination: "auto"
    expect(page).to_have_url(re.compile(r"defense\.contamination=auto"))
    auto = expected("?scenario=seed-demo&defense.contamination=auto")
    expect(page.locator("#accuracy-defended")).to_contain_text(f"{auto.defended_accuracy:.1%}")
    thumb = page.locator("#attack-param-distance-field [role=slider]")
    thumb.focus()
    thumb.press("End")  # the declared maximum, 20
    expect(page).to_have_url(re.compile(r"attack\.distance=20"))
    far = expected("?scenario=seed-demo&defense.contamination=auto&attack.distance=20")
    expect(page.locator("#accuracy-poisoned")).to_contain_text(f"{far.poisoned_accuracy:.1%}")
    page.locator("#defense").click()
    page.get_by_role("option", name="lof", exact=True).click()
    expect(page.locator("#defense-param-n_neighbors-field")).to_be_visible()
    expect(page).to_have_url(re.compile(r"defense=lof.*defense\.contamination=auto"))
    page.screenshot(path=tmp_path / "params.png", full_page=True)
    assert page_errors == []


def test_sweep_runs_to_completion_with_progress(page: Page, live_app, page_errors):
    page.goto(live_app + "/?scenario=label-flip-moons&n-samples=200")
    wait_for_panels(page)
    page.select_option("#sweep-max-rate", "0.2")
    page.select_option("#sweep-seeds", "1")
    page.click("#sweep-run")
    expect(page.locator("#sweep-status")).to_contain_text("done: 9 runs", timeout=60_000)
    # three ±1 std bands and three mean lines
    page.wait_for_function(f"() => ({N_TRACES})('graph-sweep') === 6")
    expect(page.locator("#sweep-run")).to_be_enabled()
    assert page_errors == []


def test_optimized_attack_runs_in_the_background_with_progress(page: Page, live_app, page_errors):
    query = "?dataset=moons&attack=gradient&poison-rate=0.1&defense=knn_sanitize&kernel=rbf&seed=2"
    page.goto(live_app + "/" + query)
    r = expected(query)
    expect(page.locator("#accuracy-poisoned")).to_contain_text(f"{r.poisoned_accuracy:.1%}",
                                                                timeout=60_000)
    wait_for_panels(page)
    expect(page.locator("#panel-progress-row")).to_be_hidden()
    assert page_errors == []


def test_uploading_a_csv_redraws_the_panels(page: Page, live_app, page_errors):
    import pathlib
    page.goto(live_app + "/?scenario=label-flip-moons")
    wait_for_panels(page)
    path = pathlib.Path(__file__).parent / "fixtures" / "csv" / "good_binary.csv"
    page.set_input_files("#upload input[type=file]", str(path))
    expect(page.locator("#upload-info")).to_contain_text("rows")
    expect(page).to_have_url(re.compile(r"dataset=csv.*data=upload%3A[0-9a-f]{64}.*label=approved"))
    expect(page.locator("#run-info")).to_contain_text("principal components", timeout=20_000)
    expect(page.locator("#graph-clean .xtitle")).to_contain_text("PC1")
    assert page_errors == []


def test_matrix_heatmap_runs_and_a_click_loads_the_pair(page: Page, live_app, page_errors):
    page.goto(live_app + "/?scenario=label-flip-moons&n-samples=150")
    wait_for_panels(page)
    page.select_option("#matrix-seeds", "1")
    page.click("#matrix-run")
    expect(page.locator("#matrix-status")).to_contain_text("done", timeout=120_000)
    page.wait_for_function("() => document.querySelector('#graph-matrix .js-plotly-plot')"
                           "?.data?.[0]?.type === 'heatmap'")
    # click the (alfa, sphere) cell through plotly's own click event
    page.evaluate("""() => {
        const gd = document.querySelector('#graph-matrix .js-plotly-plot');
        gd.emit('plotly_click', {points: [{x: 'sphere', y: 'alfa', curveNumber: 0}]});
    }""")
    expect(page).to_have_url(re.compile(r"attack=alfa.*defense=sphere"))
    expect(page.locator("#attack")).to_contain_text("alfa")
    assert page_errors == []


def test_the_trigger_switch_redraws_the_backdoor_and_digits_show_images(page: Page, live_app,
                                                                        page_errors, tmp_path):
    page.goto(live_app + "/?dataset=moons&attack=backdoor&poison-rate=0.05")
    wait_for_panels(page)
    names = """() => document.querySelector('#graph-poisoned .js-plotly-plot').data
                     .map(t => t.name)"""
    assert "boundary with the trigger" not in page.evaluate(names)
    page.locator("#trigger-row label").click()
    page.wait_for_function(f"() => ({names})().includes('boundary with the trigger')")
    page.screenshot(path=tmp_path / "trigger.png")
    expect(page.locator("#backdoor-card")).to_be_empty()  # 2-D data: no image grid
    page.goto(live_app + "/?dataset=digits&noise=0&n-samples=362&attack=backdoor"
                         "&poison-rate=0.05&kernel=linear")
    wait_for_panels(page)
    page.wait_for_function(f"() => ({N_TRACES})('graph-backdoor') === 1")
    box = page.locator("#graph-backdoor").bounding_box()
    assert box["height"] > 200 and box["width"] > 400  # sized while visible, not collapsed
    page.locator("#backdoor-card").screenshot(path=tmp_path / "backdoor.png")
    assert page_errors == []


def test_campaign_runs_and_its_months_play(page: Page, live_app, page_errors, tmp_path):
    from core.campaign import run_campaign
    from dashboard.service import campaign_config

    query = "?scenario=loan-fraud"
    _, config, _ = state_from_query(query)
    gated = run_campaign(campaign_config(config, "shift"), one_shot=False)
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.goto(live_app + "/" + query)
    wait_for_panels(page)
    page.click("#campaign-run")
    page.wait_for_function(f"() => ({N_TRACES})('graph-campaign-timeline') >= 12",
                           timeout=60_000)
    page.wait_for_function(f"() => ({N_TRACES})('graph-campaign-months') >= 5")
    # the gate's rejected updates are the x markers on the timeline, as core counted them
    rejected = page.evaluate("""() => document.querySelector(
        '#graph-campaign-timeline .js-plotly-plot').data
        .filter(t => t.name === 'update rejected by the gate')
        .reduce((n, t) => n + t.x.length, 0)""")
    assert rejected == gated.rejected_updates
    page.click("#campaign-variant label:has-text('update gate')")
    page.locator("#graph-campaign-months .updatemenu-button").first.click()
    page.wait_for_function(
        """(m) => { const gd = document.querySelector('#graph-campaign-months .js-plotly-plot');
                    return gd && gd._fullLayout.sliders[0].active === m; }""",
        arg=len(gated.months) - 1, timeout=30_000)
    page.locator(".card", has=page.locator("#campaign-run")).screenshot(
        path=tmp_path / "campaign.png")
    assert page_errors == []


def test_story_walks_all_steps_with_live_numbers(page: Page, live_app, page_errors, tmp_path):
    from dashboard.service import story_for
    from dashboard.story_layout import STEPS, money, pct

    n = story_for(0).numbers
    page.add_init_script(CSP_VIOLATIONS)
    page.goto(live_app + "/story?step=1&seed=0")
    expect(page.locator("#story-title")).to_have_text("1. The model")
    expect(page.locator("#story-numbers")).to_contain_text(pct(n["clean"]["accuracy"]))
    expect(page.locator("#story-back")).to_be_disabled()
    live = {2: money(n["target"]["amount"]), 3: money(n["loss_added"]), 4: money(n["loss_avoided"]),
            5: money(n["defended"]["expected_loss"])}
    for step in range(2, 6):
        if step % 2:  # alternate the button and the arrow key
            page.keyboard.press("ArrowRight")
        else:
            page.click("#story-next")
        expect(page.locator("#story-title")).to_have_text(f"{step}. {STEPS[step - 1]}")
        expect(page).to_have_url(re.compile(rf"/story/\?step={step}&seed=0$"))
        expect(page.locator("#story-numbers")).to_contain_text(live[step])
        page.wait_for_function(f"({N_TRACES})('story-graph') >= 2")
    expect(page.locator("#story-next")).to_be_disabled()
    page.keyboard.press("ArrowLeft")
    expect(page.locator("#story-title")).to_have_text("4. The defense")
    # the step 2 slider plays the months, all in the browser
    page.click(".story-pill >> nth=1")
    expect(page.locator("#story-title")).to_have_text("2. The attack")
    page.wait_for_function(f"({N_TRACES})('story-graph') >= 2")
    # Play: the months pass, the slider follows, and the target's star changes on the way
    months = len(story_for(0).campaign.months) - 1
    page.locator("#story-graph .updatemenu-button").first.click()
    page.wait_for_function(
        """(m) => { const gd = document.querySelector('#story-graph .js-plotly-plot');
                    return gd && gd._fullLayout.sliders[0].active === m; }""",
        arg=months, timeout=30000)
    approved = page.evaluate("""() => document.querySelector('#story-graph .js-plotly-plot')
        .data.slice(-1)[0].name""")
    assert approved.endswith("APPROVED" if story_for(0).campaign.months[-1].target_approved
                             else "denied")
    page.screenshot(path=tmp_path / "story-attack.png", full_page=True)
    # presenter mode: from the URL, controls hidden, back again with the button
    page.goto(live_app + "/story/?step=3&seed=0&present=1")
    expect(page.locator("#story-root")).to_have_class("story-root present")
    expect(page.locator("#story-seed")).to_be_hidden()
    page.click("#story-present")
    expect(page.locator("#story-root")).to_have_class("story-root")
    expect(page).to_have_url(re.compile(r"step=3&seed=0$"))
    assert page.evaluate("window.__csp") == []  # the story runs under the same CSP
    assert page_errors == []


OVERFLOWING_TILES = """() => [...document.querySelectorAll('.kpi')]
    .filter(tile => tile.scrollWidth > tile.clientWidth + 1).map(tile => tile.innerText)"""


def test_presenter_mode_numbers_fit_their_tiles_on_a_1280_px_projector(page: Page, live_app,
                                                                       page_errors):
    """Presenter mode's large type made dollar figures spill out of their tiles."""
    page.set_viewport_size({"width": 1280, "height": 800})
    for step in (2, 3, 4, 5):  # the steps with dollar figures
        page.goto(live_app + f"/story/?step={step}&seed=0&present=1")
        expect(page.locator("#story-numbers")).to_contain_text("$")
        page.wait_for_function(f"({N_TRACES})('story-graph') >= 2")
        assert page.evaluate(OVERFLOWING_TILES) == [], f"step {step}"
    assert page_errors == []


CSP_VIOLATIONS = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', e =>
    window.__csp.push(e.violatedDirective + ' ' + (e.blockedURI || 'inline') + ' ' +
                      (e.sourceFile || '') + ':' + e.lineNumber));
"""


@pytest.mark.parametrize("query", ["", "?dataset=moons&attack=injection&defense=lof&kernel=poly"])
def test_pages_render_under_the_content_security_policy(page: Page, live_app, page_errors,
                                                        tmp_path, query):
    """The main page, and a custom (story-free) view, draw fully with no CSP violation."""
    page.add_init_script(CSP_VIOLATIONS)
    resp = page.goto(live_app + "/" + query)
    csp = resp.headers["content-security-policy"]
    assert "script-src 'self' 'sha256-" in csp and "'unsafe-eval'" not in csp
    assert "frame-ancestors 'self'" in csp
    wait_for_panels(page)
    expect(page.locator("#share-link")).to_have_value(re.compile(r"^http://"))  # clientside cb
    page.locator("#graph-poisoned .js-plotly-plot").hover()  # modebar icons (data: SVG)
    if not query:
        expect(page.locator("#scenario-story")).not_to_contain_text("Custom settings")
    else:
        expect(page.locator("#scenario-story")).to_contain_text("Custom settings")
    page.screenshot(path=tmp_path / "csp.png", full_page=True)
    assert page.evaluate("window.__csp") == []
    assert page_errors == []


def test_both_pages_render_with_no_internet(page: Page, live_app, page_errors):
    """Every request to another host fails, as on a machine with no internet: the lab and
    the story still draw their figures, and neither page even tries another host (the
    vendored plotly bundle's topojsonURL default points at /assets/: scripts/vendor_plotly.py)."""
    from urllib.parse import urlparse

    local = urlparse(live_app).netloc
    elsewhere = []

    def offline(route):
        if urlparse(route.request.url).netloc == local:
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort("internetdisconnected")

    page.context.route("**/*", offline)
    page.goto(live_app)
    wait_for_panels(page)
    page.goto(live_app + "/story/?step=2&seed=1")
    page.wait_for_selector("#story-graph .main-svg .contour")
    page.click("#story-graph .updatemenu-button")  # Play: plotly's animation code runs too
    page.wait_for_timeout(1500)
    assert elsewhere == [] and page_errors == []
