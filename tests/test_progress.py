"""The CLI's progress on stderr and its up-front note for slow configs (issue 21, item 4)."""

import io
import json
import time

import numpy as np
import pytest

from core import ExperimentConfig
from core.attacks import make_attack
from core.cli import SLOW_WARNING, Progress, main
from core.datasets import make_dataset
from core.experiment import estimate_run, expected_batch_seconds, expected_seconds
from core.models import make_model

SWEEP = ["sweep", "--scenario", "label-flip-moons", "--n-samples", "120", "--rates", "0,0.1",
         "--seeds", "2"]


@pytest.fixture
def eager(monkeypatch):
    """Progress from the first call, a line at every one, and a note for any config."""
    monkeypatch.setenv("POISONLAB_PROGRESS_DELAY", "0")
    monkeypatch.setenv("POISONLAB_PROGRESS_EVERY", "0")
    monkeypatch.setenv("POISONLAB_SLOW_WARNING", "0")


def cli(*args):
    out = io.StringIO()
    return main(list(args), out=out), out.getvalue()


def progress_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("progress: ")]


def test_progress_lines_on_stderr_for_a_sweep_and_the_table_on_stdout(eager, capsys):
    status, text = cli(*SWEEP)
    err = capsys.readouterr().err
    assert status == 0 and "mean over seeds" in text and "progress" not in text
    lines = progress_lines(err)
    assert any("/4 runs" in line for line in lines), err
    assert lines[-1].startswith("progress: done: 4/4 runs in ")
    assert err.splitlines()[0].startswith("note: this is expected to take ~")


def test_json_stdout_stays_pure_and_is_quiet_unless_progress_is_asked_for(eager, capsys):
    status, text = cli(*SWEEP, "--json")
    err = capsys.readouterr().err
    assert status == 0 and len(json.loads(text)) == 4
    assert progress_lines(err) == []
    assert "with --progress" in err  # the note still says how long, on stderr
    status, text = cli(*SWEEP, "--json", "--progress")
    err = capsys.readouterr().err
    assert status == 0 and len(json.loads(text)) == 4
    assert progress_lines(err)[-1].startswith("progress: done: 4/4 runs")


def test_quiet_and_no_progress(eager, capsys):
    assert cli(*SWEEP, "--quiet")[0] == 0
    assert capsys.readouterr().err == ""
    assert cli(*SWEEP, "--no-progress")[0] == 0
    err = capsys.readouterr().err
    assert progress_lines(err) == [] and err.startswith("note: ")


def test_run_and_campaign_show_progress(eager, capsys):
    status, text = cli("run", "--scenario", "label-flip-moons", "--attack", "alfa",
                       "--n-samples", "200", "--grid-resolution", "0", "--json", "--progress")
    err = capsys.readouterr().err
    assert status == 0 and json.loads(text)["config"]["attack"] == "alfa"
    percents = [int(line.split()[1].rstrip("%,")) for line in progress_lines(err)[:-1]]
    assert percents == sorted(percents) and 5 < max(percents) <= 100
    assert len(set(percents)) > 3  # the attack's own steps, not just the stages
    assert progress_lines(err)[-1].startswith("progress: done: 100% in ")
    status, _ = cli("campaign", "--months", "2")
    err = capsys.readouterr().err
    assert status == 0 and progress_lines(err)[-1].startswith("progress: done: ")
    assert " months in " in progress_lines(err)[-1]


def test_nothing_shows_before_the_delay_then_a_ticker_reports_a_silent_stage():
    quick = io.StringIO()
    with Progress(quick, "runs", delay=60, every=0) as p:
        p(1, 2)
        p(2, 2)
    assert quick.getvalue() == ""  # a quick command stays quiet
    slow = io.StringIO()
    with Progress(slow, "runs", delay=0.1, every=0.2) as p:
        p(1, 4)
        time.sleep(0.9)  # a long stage that reports nothing: the ticker still writes
    lines = slow.getvalue().splitlines()
    assert 2 <= len(lines) <= 7, lines  # at most one line every 0.2 s, plus the last
    assert all(line.startswith("progress: 1/4 runs, ") for line in lines[:-1])
    assert "s left" in lines[0] and lines[-1].startswith("progress: done: 1/4 runs in ")


def test_on_a_terminal_the_bar_redraws_in_place():
    class Tty(io.StringIO):
        def isatty(self):
            return True

    stream = Tty()
    with Progress(stream, "runs", delay=0) as p:
        for i in range(1, 4):
            p(i, 3)
    text = stream.getvalue()
    assert "\n" not in text.rstrip("\n") and text.count("\r") >= 3
    assert "[##########" in text
    assert text.split("\r")[-1].startswith("\x1b[Kdone: 3/3 runs in ") and text.endswith("\n")


def test_the_estimate_grows_with_the_data_and_names_what_dominates():
    default = ExperimentConfig()
    assert expected_seconds(default) < 0.5
    big = ExperimentConfig(n_samples=100_000, attack="alfa")  # the example
    e = estimate_run(big)
    assert e.seconds > 10 * SLOW_WARNING
    assert e.reason() == "attack alfa on 60,000 training points"
    sizes = [expected_seconds(default.replace(n_samples=n)) for n in (1000, 5000, 20_000)]
    assert sizes == sorted(sizes) and sizes[-1] > 10 * sizes[0]
    linear = default.replace(dataset="moons", n_samples=16_667, kernel="linear")
    assert estimate_run(linear).reason() == "model fits on 10,000 training points"
    # wide files: the CSV's feature count multiplies the fits
    csv = ExperimentConfig(dataset="csv", data="x.csv", label="y")
    narrow, wide = (estimate_run(csv, n_rows=5000, n_features=d) for d in (2, 499))
    assert wide.seconds > 20 * narrow.seconds and wide.n_train == narrow.n_train == 3000
    assert "499 features" in wide.reason()
    assert estimate_run(csv, n_rows=10**6).n_train == 3000  # only max_train_rows are used


def test_a_batch_is_shared_by_the_workers_that_can_run_at_once():
    runs = [ExperimentConfig(n_samples=4000, seed=s) for s in range(6)]
    one = expected_batch_seconds(runs, n_jobs=1, n_cpus=2)
    assert one == pytest.approx(sum(map(expected_seconds, runs)))
    assert expected_batch_seconds(runs, n_jobs=2, n_cpus=2) == pytest.approx(one / 2)
    assert expected_batch_seconds(runs, n_jobs=8, n_cpus=2) == pytest.approx(one / 2)
    assert expected_batch_seconds(runs, n_jobs=-1, n_cpus=4) == pytest.approx(one / 4)
    assert expected_batch_seconds([], n_jobs=2) == 0.0


def test_alfa_reports_progress_without_changing_its_flips():
    data = make_dataset("moons", n_samples=200, random_state=0)
    model = make_model("svm", kernel="linear")
    calls = []
    attack = make_attack("alfa", 0.2)
    quiet = attack.poison(data.X_train, data.y_train, model=model, random_state=0)
    loud = attack.poison(data.X_train, data.y_train, model=model, random_state=0,
                         progress=lambda d, t: calls.append((d, t)))
    assert np.array_equal(quiet.y, loud.y) and np.array_equal(quiet.is_poison, loud.is_poison)
    assert calls[-1] == (30, 30) and [d for d, _ in calls] == sorted(d for d, _ in calls)


def test_the_documented_note_and_limits_are_what_the_code_says(capsys):
    from argparse import Namespace
    from pathlib import Path

    from core.cli import _warn_if_slow
    from core.data_io import CSVLimits

    docs = Path(__file__).resolve().parents[1] / "docs"
    e = estimate_run(ExperimentConfig(n_samples=100_000, attack="alfa"))
    _warn_if_slow(e.seconds, e.reason(), Namespace(quiet=False, progress=None, json=False))
    note = capsys.readouterr().err.strip()
    cli_md = (docs / "cli.md").read_text()
    assert note in cli_md
    limits = CSVLimits()
    row = lambda name, value: f"| {name} | {value}"  # noqa: E731
    for name, value in (("file size", f"{limits.max_bytes // 2**20} MB"),
                        ("columns", f"{limits.max_columns:,}"),
                        ("values (rows × columns)", f"{limits.max_cells:,}"),
                        ("data rows", f"{limits.max_rows:,}"),
                        ("rows used", f"{limits.max_train_rows:,}")):
        assert row(name, value) in cli_md, name
