"""What every callback shares: the memoized experiment, background jobs, uploads, job keys.

Callback modules import this, never each other: one compute service for the lab's
panels, sweep, matrix, exports and the story page.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Hashable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

import numpy as np
from flask import after_this_request

from core import ATTACKS, DEFENSES, ExperimentConfig, ExperimentResult, run_experiment
from core.data_io import CSVLimits, read_csv_table
from core.datasets import CSV, DATASETS
from core.models import slow_fit
from core.story import LoanStory, loan_story
from dashboard.cache import results_cache
from dashboard.figures import PANELS, decision_panel_spec
from dashboard.story_layout import parse_search

#: the Dask scheduler sweeps and matrices run on, when set (else local processes)
SCHEDULER_ENV = "DASK_SCHEDULER_ADDRESS"


def dask_scheduler() -> str | None:
    """``$DASK_SCHEDULER_ADDRESS``, read per job (an empty value means unset)."""
    return os.environ.get(SCHEDULER_ENV) or None


def sweep_key(config: ExperimentConfig) -> str:
    """What a sweep depends on: the config without rate, seed and grid."""
    d = config.to_dict()
    for k in ("poison_rate", "seed", "grid_resolution"):
        d.pop(k)
    return json.dumps(d, sort_keys=True)


#: uploads one worker process reads at once. A thread reading a big file holds a core and
#: most of the GIL for a second or two; with 4 request threads (gunicorn.conf.py) a burst of
#: uploads must leave the others free for the page, so further uploads are told to try again
PARSE_SLOTS = 1
#: seconds a callback that needs an upload this worker has not read yet (a shared link, the
#: other worker) waits for the reader; the upload itself never waits
PARSE_WAIT = 5.0
TABLES_KEPT = 8  # parsed uploads kept per worker process
SEARCH_HINT_ABOVE = 30  # columns: more than this and the upload's note says lists are searchable
BUSY = "the server is busy reading other uploads; try again in a few seconds"

#: callback bodies over this many bytes are uploads (every other request is far smaller:
#: the biggest store the page sends back, a campaign's, is about 1 MB)
LARGE_BODY = 8 * 2**20
#: large bodies one worker process receives and decodes at once; the rest are answered
#: "busy" before they are parsed (:func:`large_body_slot`)
LARGE_BODY_SLOTS = 1

_parse_slots = threading.BoundedSemaphore(PARSE_SLOTS)
_body_slots = threading.BoundedSemaphore(LARGE_BODY_SLOTS)
_tables: OrderedDict[str, tuple] = OrderedDict()  # path -> (frame, notes), most recent last
_tables_lock = threading.Lock()


class UploadBusy(Exception):
    """Every parse slot of this worker is taken; the message says to try again."""


@contextmanager
def parse_slot(wait: float = 0.0):
    """Hold one of the worker's :data:`PARSE_SLOTS`, or raise :class:`UploadBusy` after
    ``wait`` seconds."""
    if not _parse_slots.acquire(timeout=wait) if wait > 0 else not _parse_slots.acquire(False):
        raise UploadBusy(BUSY)
    try:
        yield
    finally:
        _parse_slots.release()


def take_large_body_slot() -> bool:
    """Take one of the worker's :data:`LARGE_BODY_SLOTS` if one is free (never waits).

    Receiving a 67 MB upload, parsing its JSON and decoding it holds a request thread
    and the GIL for a second or more; with 4 request threads a burst of big uploads would
    hold them all before any reached :func:`parse_slot`. Release with
    :func:`release_large_body_slot`.
    """
    return _body_slots.acquire(blocking=False)


def release_large_body_slot() -> None:
    _body_slots.release()


def remember_table(path: str, table: tuple) -> tuple:
    """Keep a parsed upload for the callbacks that follow."""
    with _tables_lock:
        _tables[path] = table
        _tables.move_to_end(path)
        while len(_tables) > TABLES_KEPT:
            _tables.popitem(last=False)
    return table


def upload_table(path: str):
    """The parsed upload (frame, notes), cached: several callbacks read the same file.

    A file this worker has not read yet is read in a parse slot (waiting up to
    :data:`PARSE_WAIT` seconds, else :class:`UploadBusy`).
    """
    with _tables_lock:
        if path in _tables:
            _tables.move_to_end(path)
            return _tables[path]
    with parse_slot(PARSE_WAIT):
        return remember_table(path, read_csv_table(path))


CACHE_SIZE = 48  # per worker process; each entry is one result with its three figures
#: above this many training points every config runs in the background
SLOW_TRAINING_POINTS = 1500


def runs_in_background(config: ExperimentConfig) -> bool:
    """Configs that may take over ~1 s run as background jobs (progress bar, cancellable).

    What is slow is declared in core: each attack's and defense's ``cost``
    (:class:`core.params.Cost`) and the model's (:func:`core.models.slow_fit`).
    """
    n_rows = config.n_samples
    if config.dataset == CSV:  # n_samples does not apply: the file (capped) decides
        n_rows = min(len(upload_table(config.data)[0]), CSVLimits().max_train_rows)
    n_train = n_rows * (1 - config.test_fraction - config.trusted_fraction)
    # at most: an injecting attack adds poison_rate * n_train points, a flipping one none
    n_seen = n_train * (1 + config.poison_rate) + n_rows * config.trusted_fraction
    return (n_train > SLOW_TRAINING_POINTS
            or ATTACKS[config.attack].cost.slow(n_train, n_seen)
            or DEFENSES[config.defense].cost.slow(n_train, n_seen)
            or slow_fit(config.model, kernel=config.kernel, C=config.C, n_train=n_train,
                        n_features=_n_features(config)))


def _n_features(config: ExperimentConfig) -> int | None:
    """Features the model sees (None: an uploaded file, all numeric columns)."""
    if config.dataset == CSV:
        return len(config.features) if config.features else None
    return len(DATASETS[config.dataset].feature_names)


@lru_cache(maxsize=CACHE_SIZE)
def _cached(config_key: str) -> tuple[ExperimentResult, tuple[dict, ...]]:
    config = ExperimentConfig.from_dict(json.loads(config_key))
    result = results_cache().get(config_key) if runs_in_background(config) else None
    if result is None:
        result = run_experiment(config)
    figures = tuple(decision_panel_spec(result, p) for p in PANELS)
    return result, figures


def compute(config: ExperimentConfig) -> tuple[ExperimentResult, tuple[dict, ...]]:
    """Run (or recall) the experiment and its three figures; memoized by the config."""
    return _cached(config.key())


@lru_cache(maxsize=CACHE_SIZE)
def _triggered(config_key: str) -> tuple[dict, ...]:
    result, _ = _cached(config_key)
    return tuple(decision_panel_spec(result, p, triggered=True) for p in PANELS)


def triggered_figures(config: ExperimentConfig) -> tuple[dict, ...]:
    """A backdoor's three figures with the trigger present (memoized like ``compute``)."""
    return _triggered(config.key())


#: a job that has waited this many times its CPU limit for the CPU is stopped as well
BUSY_FACTOR = 10


def job_time_limit() -> float:
    """CPU seconds a background experiment may use (``POISONLAB_JOB_TIME_LIMIT``, default 120)."""
    try:
        return max(1.0, float(os.environ.get("POISONLAB_JOB_TIME_LIMIT", "120")))
    except ValueError:
        return 120.0


def _cpu_seconds(thread: threading.Thread) -> float:
    """CPU time ``thread`` has used (Linux: its own clock; elsewhere the whole process's)."""
    try:
        return time.clock_gettime(time.pthread_getcpuclockid(thread.ident))
    except (AttributeError, OSError):
        return time.process_time()


def compute_in_background(set_progress, job: dict | None, *,
                          time_limit: float | None = None) -> dict:
    """Background job: run the experiment with progress, leave the result in the shared cache.

    Some in-range settings make libsvm converge for many minutes (a polynomial kernel of
    degree 5 with gamma 50 and C 1000 ran over 7 min). The fit runs in a daemon thread
    (libsvm releases the GIL) and the job answers with a clear message once it has used
    ``time_limit`` seconds of CPU, instead of holding a core and the viewer indefinitely;
    the job's process then exits, ending the fit. The limit counts CPU, not waiting: jobs
    run at the lowest priority (``dashboard.job_priority``), so on a busy server a job may
    wait a long time for a core without being slow itself. One that has waited
    ``BUSY_FACTOR`` times the limit in all is stopped too, with a message that says so.
    """
    if not job or "config" not in job:
        return {"error": "no job"}
    try:
        config = ExperimentConfig.from_dict(job["config"])
    except (ValueError, TypeError) as exc:
        return {"key": job.get("key"), "error": str(exc)}
    key = config.key()
    if key not in results_cache():
        limit = job_time_limit() if time_limit is None else time_limit
        outcome: dict[str, Any] = {}

        def run() -> None:
            try:
                outcome["result"] = run_experiment(
                    config, progress=lambda done, total: set_progress((done, f"{done}%")))
            except Exception as exc:  # noqa: BLE001 -- reported to the viewer below
                outcome["error"] = exc

        wall0 = time.monotonic()
        worker = threading.Thread(target=run, name="experiment", daemon=True)
        worker.start()
        cpu0 = _cpu_seconds(worker)
        while True:
            worker.join(min(0.25, limit))
            if not worker.is_alive():
                break
            if _cpu_seconds(worker) - cpu0 > limit:
                return {"key": key, "timed_out": True, "error": (
                    f"Stopped after {limit:g} s of computing: the model does not converge in "
                    "time with these settings (large C, gamma or degree on overlapping data). "
                    "Try smaller values, or run it without a time limit: python -m core run "
                    "--config FILE.json (Export → Experiment (JSON)).")}
            if time.monotonic() - wall0 > BUSY_FACTOR * limit:
                return {"key": key, "timed_out": True, "busy": True, "error": (
                    f"Stopped after {BUSY_FACTOR * limit / 60:.3g} min: the server was too busy "
                    "to finish this in time (background jobs wait for the viewers' pages). "
                    "Try again later, or run it yourself: python -m core run --config "
                    "FILE.json (Export → Experiment (JSON)).")}
        if "error" in outcome:
            raise outcome["error"]
        results_cache().set(key, outcome["result"])
    set_progress((100, "100%"))
    return {"key": key}




# ---------------------------------------------------------------- the story's stories
# The full story runs every update gate (most of a second); steps 1-3 do not need that, so a
# page load computes them without it (the preview) and the full story follows in a
# background thread, ready by the time a presenter reaches step 4. The page request itself
# starts the computation its first callback will ask for, so the server works while the
# browser starts Dash and plotly.js. Both are kept for the last 16 seeds.
MEMO_SIZE = 16
PREFETCH_QUEUE = 2  # page requests start at most this many computations ahead of need


class StoryMemo:
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
    return loan_story(seed, gate="none")


_stories = StoryMemo(loan_story, MEMO_SIZE, "story")
_previews = StoryMemo(_preview, MEMO_SIZE, "story-preview")


def story_for(seed: int) -> LoanStory:
    """The whole story for ``seed`` (waits for it if it is still being computed)."""
    return _stories.submit(seed).result()


def preview_for(seed: int) -> LoanStory:
    """Steps 1-3 of the story for ``seed``: the same numbers, no gates run."""
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
    after_response(lambda: _stories.submit(seed))
    return preview


def prefetch(search: str | None) -> None:
    """Start what the page for URL query ``search`` will ask for first (bounded: a flood
    of page requests starts at most ``PREFETCH_QUEUE`` computations)."""
    state, _ = parse_search(search)
    # not the ranking for steps 1-3: started now, it slows the browser's start-up on a
    # shared machine by more than it saves (measured); it follows the first response
    memo = _stories if state.step >= 4 else _previews
    memo.submit(state.seed, queue_limit=PREFETCH_QUEUE)


def after_response(start) -> None:
    """Call ``start`` once the current response has gone out (now, outside a request):
    the gates hold the GIL for most of a second, which would delay this very page."""
    try:
        @after_this_request
        def hook(response):
            response.call_on_close(start)
            return response
    except RuntimeError:  # no request context (scripts, tests)
        start()


def clear_stories() -> None:
    """Forget every computed story (benchmarks time cold loads with it)."""
    _stories.clear()
    _previews.clear()



__all__ = ["compute", "triggered_figures", "compute_in_background", "runs_in_background",
           "upload_table",
           "dask_scheduler", "sweep_key", "job_time_limit", "story_for", "preview_for",
           "story_at", "prefetch", "clear_stories", "StoryMemo", "after_response"]


# ---------------------------------------------------------------- the retraining campaign

def campaign_config(config: ExperimentConfig, gate: str) -> Any:
    """The campaign the lab's settings describe: its dataset (loan where the campaign cannot
    stream another), model and seed; the lab's defense as the per-month one (kNN
    sanitization when it has none); ``gate`` as the update gate (``shift`` for ``none``)."""
    from core.campaign import CAMPAIGN_DATASETS, CAMPAIGN_SCENARIOS

    base = CAMPAIGN_SCENARIOS["loan-campaign"]
    dataset = config.dataset if config.dataset in CAMPAIGN_DATASETS else base.dataset
    return base.replace(dataset=dataset, noise=None, seed=config.seed, model=config.model,
                        kernel=config.kernel, C=config.C, gamma=config.gamma,
                        degree=config.degree, gate=gate)


def campaign_payload(config: ExperimentConfig, gate: str, progress=None) -> dict:
    """The campaign three ways (no defense, per-month defense, gate), JSON-ready for a store."""
    from core.campaign import compare_campaigns

    campaign = campaign_config(config, gate)
    defense = config.defense if not DEFENSES[config.defense].is_baseline else "knn_sanitize"
    defense_params = config.defense_params if defense == config.defense else {}
    runs = compare_campaigns(campaign.replace(defense=defense, defense_params=defense_params),
                             progress=progress)
    first = runs["none"]
    titles = {"none": "no defense", "defense": f"per-month defense: {defense.replace('_', ' ')}",
              "gate": f"update gate: {gate.replace('_', ' ')}"}
    return {
        "key": campaign.key(), "lab_key": sweep_key(config), "currency": "$",
        "axes": list(first.view.axis_names),
        "grid_x": first.grid_x.round(4).tolist(), "grid_y": first.grid_y.round(4).tolist(),
        "target": first.view.project(first.target[None])[0].round(4).tolist(),
        "target_amount": first.target_amount, "one_shot": first.one_shot,
        "variants": {name: {
            "title": titles[name], "months_to_target": r.months_to_target,
            "rejected": r.rejected_updates,
            "months": r.summary()["months"],
            "grids": np.round(r.grids, 3).tolist(),
            "attacker": r.view.project(r.attacker_points).round(4).tolist()
            if len(r.attacker_points) else [],
            "when": r.attacker_month.tolist()} for name, r in runs.items()},
    }
