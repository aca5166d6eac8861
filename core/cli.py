"""Command-line interface: ``python -m core {list,run,sweep,matrix,campaign,story}``.

Bad arguments exit with status 2 and one line on stderr naming the bad value
and what is allowed; no traceback. ``sweep`` and ``matrix`` run on a Dask
cluster given by ``--scheduler ADDRESS`` or, without it, by the environment
variable ``DASK_SCHEDULER_ADDRESS`` (read here only: core functions take the
address as an argument).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import math
import os
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import fields
from typing import Any

from core import __version__
from core._validation import check_real
from core.attacks import ATTACKS
from core.campaign import (
    CAMPAIGN_DATASETS,
    CAMPAIGN_SCENARIOS,
    GATES,
    KNOBS,
    CampaignConfig,
    CampaignResult,
    run_campaign,
)
from core.datasets import DATASETS
from core.defenses import DEFENSES
from core.experiment import (
    LEGACY_DEFENSE_FIELDS,
    ExperimentConfig,
    ExperimentResult,
    estimate_run,
    expected_batch_seconds,
    expected_seconds,
    run_experiment,
)
from core.export import read_config_file
from core.matrix import run_matrix
from core.models import KERNELS, MODELS, describe_models
from core.parallel import check_n_jobs
from core.params import parse_assignments
from core.scenarios import SCENARIOS
from core.story import CURRENCY, LoanStory, loan_story
from core.sweeps import check_rates, check_seeds, run_sweep, summarize_sweep

__all__ = ["main", "build_parser", "SCHEDULER_ENV", "Progress"]

#: environment variable naming a Dask scheduler when ``--scheduler`` is not given
SCHEDULER_ENV = "DASK_SCHEDULER_ADDRESS"


class UsageError(Exception):
    """Bad command-line input: reported in one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, no usage dump
        raise UsageError(f"{self.prog}: {message}")


def _number(kind: str, cast: Callable[[str], Any], *, words: Sequence[str] = ()) -> Callable:
    def parse(text: str):
        if text in words:
            return text
        try:
            value = cast(text)
        except ValueError:
            extra = f" or one of {', '.join(words)}" if words else ""
            raise argparse.ArgumentTypeError(f"{text!r} is not {kind}{extra}") from None
        if isinstance(value, float) and not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
        return value

    parse.__name__ = kind
    return parse


_float = _number("a number", float)
_int = _number("an integer", int)


def _rates(text: str) -> list[float]:
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not parts:
        raise argparse.ArgumentTypeError("expected comma-separated numbers, e.g. 0,0.1,0.2")
    return [_float(p) for p in parts]


def _names(text: str) -> list[str]:
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not parts:
        raise argparse.ArgumentTypeError("expected comma-separated names, e.g. label_flip,alfa")
    return parts


def _columns(text: str) -> tuple[str, ...]:
    parts = tuple(p.strip() for p in text.split(",") if p.strip())
    if not parts:
        raise argparse.ArgumentTypeError("expected comma-separated column names, e.g. age,income")
    return parts


# Each experiment flag: (config field, type, help). Defaults are None so that only the
# flags given explicitly override a scenario's values.
_FLAGS: list[tuple[str, str, Callable, str]] = [
    ("--dataset", "dataset", str, f"one of: {', '.join(DATASETS)}"),
    ("--data", "data", str, "dataset csv: path of the CSV file"),
    ("--label", "label", str, "dataset csv: the label column"),
    ("--features", "features", _columns,
     "dataset csv: comma-separated feature columns (default: all the others)"),
    ("--positive", "positive", str, "dataset csv: the label value that means class 1"),
    ("--n-samples", "n_samples", _int, "points before the train/test split (40 to 100000)"),
    ("--noise", "noise", _float, "dataset noise level (default: the dataset's)"),
    ("--test-fraction", "test_fraction", _float, "held-out share, 0.1 to 0.9"),
    ("--trusted-fraction", "trusted_fraction", _float,
     "share of all points held out as the defender's trusted clean sample (not tested on)"),
    ("--attack", "attack", str, f"one of: {', '.join(ATTACKS)}"),
    ("--poison-rate", "poison_rate", _float, "poison points / clean training points, in [0, 1)"),
    ("--defense", "defense", str, f"one of: {', '.join(DEFENSES)}"),
    ("--model", "model", str, f"one of: {', '.join(MODELS)}"),
    ("--kernel", "kernel", str, f"SVM kernel, one of: {', '.join(KERNELS)}"),
    ("--C", "C", _float, "inverse regularization strength, (0, 10000]"),
    ("--gamma", "gamma", _number("a number", float, words=("scale", "auto")),
     "kernel coefficient: a number > 0, scale or auto"),
    ("--degree", "degree", _int, "poly kernel degree, 1 to 10"),
    ("--seed", "seed", _int, "the one seed every random choice flows from"),
    ("--grid-resolution", "grid_resolution", _int, "decision grid size (0 = none)"),
]
#: the mappings set by --attack-param / --defense-param, not by a flag of their own
_PARAM_FIELDS = {"attack_params": "--attack-param", "defense_params": "--defense-param"}
assert {f[1] for f in _FLAGS} | set(_PARAM_FIELDS) == {f.name for f in fields(ExperimentConfig)}
#: the older flags, kept as shorthands: --contamination X = --defense-param contamination=X
_LEGACY_FLAGS = (("--contamination", "contamination"), ("--knn-k", "knn_k"),
                 ("--knn-threshold", "knn_threshold"))


def _add_experiment_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--scenario", help=f"preset to start from, one of: {', '.join(SCENARIOS)}")
    p.add_argument("--config", metavar="FILE.json",
                   help="start from an exported experiment (or a bare config object)")
    for flag, dest, typ, text in _FLAGS:
        p.add_argument(flag, dest=dest, type=typ, default=None, help=text)
    for field_name, flag in _PARAM_FIELDS.items():
        kind = field_name.split("_")[0]
        p.add_argument(flag, dest=field_name, action="append", metavar="NAME=VALUE",
                       help=f"a parameter of the chosen {kind} (repeatable); "
                            f"`python -m core list` shows each {kind}'s parameters")
    for flag, dest in _LEGACY_FLAGS:
        name = LEGACY_DEFENSE_FIELDS[dest]
        p.add_argument(flag, dest=dest, default=None, metavar="VALUE",
                       help=f"shorthand for --defense-param {name}=VALUE")


def _add_progress_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="progress on stderr for runs over a few seconds (default: on, off "
                        "with --json)")
    p.add_argument("-q", "--quiet", action="store_true",
                   help="nothing on stderr but errors: no progress, no slow-config note")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m core", description="PoisonLab: data-poisoning experiments.")
    parser.add_argument("--version", action="version", version=f"poisonlab {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("list", help="datasets, models, kernels, attacks, defenses, scenarios")
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = sub.add_parser("run", help="one clean -> poisoned -> defended experiment")
    _add_experiment_args(p)
    p.add_argument("--json", action="store_true", help="one JSON object on stdout")
    _add_progress_args(p)

    p = sub.add_parser("sweep", help="accuracy against poison rate over several seeds")
    _add_experiment_args(p)
    p.add_argument("--rates", type=_rates, default=[0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3],
                   help="comma-separated poison rates (default 0,0.05,...,0.3)")
    p.add_argument("--seeds", type=_int, default=5,
                   help="seeds per rate, from --seed on (default 5)")
    p.add_argument("--jobs", type=_int, default=1, help="parallel workers, -1 = all cores")
    p.add_argument("--scheduler", metavar="ADDRESS", default=None,
                   help=f"run on this Dask scheduler, e.g. tcp://HOST:8786 (default: "
                        f"${SCHEDULER_ENV} if set, else local processes; --jobs is then ignored)")
    p.add_argument("--csv", metavar="PATH", help="also write the tidy table as CSV ('-' = stdout)")
    p.add_argument("--json", action="store_true", help="the tidy table as JSON records on stdout")
    _add_progress_args(p)

    p = sub.add_parser("matrix", help="every attack against every defense: accuracy recovered")
    _add_experiment_args(p)
    p.add_argument("--rate", type=_float, default=None,
                   help="poison rate in [0, 1) (default: --poison-rate, else the config's)")
    p.add_argument("--seeds", type=_int, default=5,
                   help="seeds per cell, from --seed on (default 5)")
    p.add_argument("--attacks", type=_names, default=None,
                   help=f"comma-separated attacks (default all: {','.join(ATTACKS)})")
    p.add_argument("--defenses", type=_names, default=None,
                   help=f"comma-separated defenses (default all: {','.join(DEFENSES)})")
    p.add_argument("--jobs", type=_int, default=1, help="parallel workers, -1 = all cores")
    p.add_argument("--scheduler", metavar="ADDRESS", default=None,
                   help=f"run on this Dask scheduler, e.g. tcp://HOST:8786 (default: "
                        f"${SCHEDULER_ENV} if set, else local processes; --jobs is then ignored)")
    p.add_argument("--csv", metavar="PATH", help="also write the tidy table as CSV ('-' = stdout)")
    p.add_argument("--json", action="store_true", help="the tidy table as JSON records on stdout")
    _add_progress_args(p)

    p = sub.add_parser("campaign", help="month-by-month poisoning of a retrained model, and "
                                        "the update gate")
    _add_campaign_args(p)

    p = sub.add_parser("story", help="the loan-fraud story's business numbers for one seed")
    p.add_argument("--seed", type=_int, default=0, help="random seed (default 0)")
    p.add_argument("--months", type=_int, default=12, help="months of retraining (default 12)")
    p.add_argument("--attack-rate", dest="attack_rate", type=_float, default=0.1,
                   help="the fraud ring's applications per month, as a share of the month's "
                        "genuine ones, in (0, 0.5] (default 0.1)")
    p.add_argument("--gate", default=None,
                   help="tell this update gate (default: the best of them on this seed)")
    p.add_argument("--loss-given-default", dest="loss_given_default", type=_float, default=0.45,
                   help="share of a bad loan the bank loses, in [0, 1] (default 0.45)")
    p.add_argument("--json", action="store_true", help="one JSON object on stdout")
    return parser


def config_from_args(args: argparse.Namespace) -> ExperimentConfig:
    """Scenario values (if any), then the explicitly given flags on top."""
    values: dict[str, Any] = {}
    if args.config is not None:
        if args.scenario is not None:
            raise ValueError("give --scenario or --config, not both")
        values.update(read_config_file(args.config).to_dict())
    if args.scenario is not None:
        if args.scenario not in SCENARIOS:
            raise ValueError(f"scenario={args.scenario!r} is not one of: {', '.join(SCENARIOS)}")
        values.update(SCENARIOS[args.scenario].values)
    given = {f.name: getattr(args, f.name) for f in fields(ExperimentConfig)
             if f.name not in _PARAM_FIELDS and getattr(args, f.name) is not None}
    if args.data is not None and args.dataset is None:
        given["dataset"] = "csv"  # --data PATH means "my own data"
    # a preset's or file's parameters belong to its attack/defense: switching carries over
    # what the new one declares too (ExperimentConfig.replace)
    config = ExperimentConfig.from_dict(values).replace(**given) if values else \
        ExperimentConfig.from_dict(given)
    texts = {field_name: parse_assignments(getattr(args, field_name), flag)
             for field_name, flag in _PARAM_FIELDS.items()}
    for dest, name in LEGACY_DEFENSE_FIELDS.items():  # given explicitly: the defense must
        value = getattr(args, dest)                    # declare it (checked with the rest)
        if value is not None:
            texts["defense_params"].setdefault(name, value)
    changes = {}
    for field_name, registry in (("attack_params", ATTACKS), ("defense_params", DEFENSES)):
        if texts[field_name]:
            cls = registry[getattr(config, field_name.split("_")[0])]
            changes[field_name] = {**getattr(config, field_name),
                                   **cls.parse_params(texts[field_name])}
    return config.replace(**changes) if changes else config


def _catalogue() -> dict[str, Any]:
    """Everything ``list`` shows; attacks and defenses with their declared parameters."""
    return {
        "datasets": {k: v.description for k, v in DATASETS.items()},
        "models": describe_models(),
        "kernels": list(KERNELS),
        "attacks": {k: {**v.describe(), "targeted": v.targeted, "backdoor": v.backdoor}
                    for k, v in ATTACKS.items()},
        "defenses": {k: {**v.describe(), "needs_trusted": v.needs_trusted,
                         "baseline": v.is_baseline} for k, v in DEFENSES.items()},
        "scenarios": {k: v.title for k, v in SCENARIOS.items()},
        "gates": {k: v.describe() for k, v in GATES.items()},
    }


def _cmd_list(args, out) -> None:
    cat = _catalogue()
    if args.json:
        print(json.dumps(cat, indent=2), file=out)
        return
    for section, items in cat.items():
        print(f"{section}:", file=out)
        if isinstance(items, dict):
            width = max(map(len, items))
            for k, v in items.items():
                print(f"  {k:<{width}}  {v['summary'] if isinstance(v, dict) else v}", file=out)
                for name, spec in (v.get("params", {}) if isinstance(v, dict) else {}).items():
                    print(f"  {'':<{width}}    {name}={spec['default']}  {spec['help']}; "
                          f"{spec['allowed']}", file=out)
        else:
            print(f"  {', '.join(items)}", file=out)


def format_result(r: ExperimentResult) -> str:
    c, d = r.config, r.detection
    model = f"svm/{c.kernel}" if c.model == "svm" else c.model
    lost = r.clean_accuracy - r.poisoned_accuracy
    won = r.defended_accuracy - r.poisoned_accuracy
    verb = "relabelled" if r.relabels else "flagged"
    return "\n".join([
        f"dataset {c.dataset} ({r.n_train} train / {len(r.y_test)} test), model {model}, "
        f"seed {c.seed}",
        f"attack  {c.attack} at rate {c.poison_rate:g} = {r.n_poison} poison points",
        f"defense {c.defense}",
        "",
        "                 test accuracy",
        f"clean model      {r.clean_accuracy:.3f}",
        f"poisoned model   {r.poisoned_accuracy:.3f}   {-100 * lost:+.1f} pts",
        f"defended model   {r.defended_accuracy:.3f}   {100 * won:+.1f} pts recovered",
        "",
        f"detection: precision {d.precision:.3f}  recall {d.recall:.3f}  F1 {d.f1:.3f}  "
        f"{verb} {d.n_flagged} ({d.n_poison_caught} poison, {d.n_clean_lost} clean)",
        *_target_lines(r),
        *_backdoor_lines(r),
        f"time: {r.timings.get('total', 0.0):.2f} s",
    ])


def _target_lines(r: ExperimentResult) -> list[str]:
    if r.target_success is None:
        return []
    label = r.class_names[r.target_label]
    s = r.target_success
    return [f"targets: {len(r.targets)} points the attacker wants labelled {label!r}; share "
            f"given it: clean {s['clean']:.2f}  poisoned {s['poisoned']:.2f}  "
            f"defended {s['defended']:.2f}"]


def _backdoor_lines(r: ExperimentResult) -> list[str]:
    if r.attack_success is None:
        return []
    src, want = r.class_names[r.source_label], r.class_names[r.target_label]
    s = r.attack_success
    return [f"backdoor: attack success rate (held-out {src!r} test points, trigger stamped, "
            f"given {want!r}): clean {s['clean']:.2f}  poisoned {s['poisoned']:.2f}  "
            f"defended {s['defended']:.2f}"]


def _cmd_run(args, out) -> None:
    config = config_from_args(args)
    estimate = estimate_run(config, **_csv_shape(config))
    _warn_if_slow(estimate.seconds, estimate.reason(), args)
    with _progress(args, "%") as progress:
        result = run_experiment(config, progress=progress)
    if args.json:
        print(json.dumps(result.summary(), sort_keys=True), file=out)
    else:
        print(format_result(result), file=out)


#: seconds a command runs before progress shows (``$POISONLAB_PROGRESS_DELAY`` overrides)
PROGRESS_DELAY = 3.0
#: at most one progress line this often when stderr is not a terminal
#: (``$POISONLAB_PROGRESS_EVERY`` overrides); on a terminal the bar redraws in place
PROGRESS_EVERY = 2.0
#: a command expected to take longer than this says so first
#: (``$POISONLAB_SLOW_WARNING`` overrides)
SLOW_WARNING = 10.0


def _setting(env: str, default: float) -> float:
    try:
        value = float(os.environ.get(env, default))
    except ValueError:
        return default
    return value if math.isfinite(value) and value >= 0 else default


class Progress:
    """``progress(done, total)`` for the CLI: a bar on a terminal, else periodic lines.

    Nothing shows for the first ``delay`` seconds, so quick commands stay quiet. After
    that a ticking thread redraws the bar (terminal) or writes one line every ``every``
    seconds, with the elapsed time and, once some work is done, the time left -- also
    while a long stage reports nothing. Use as a context manager; it ends with one
    line saying how long it took (if anything was shown).
    """

    def __init__(self, stream, unit: str, *, delay: float | None = None,
                 every: float | None = None, tty: bool | None = None) -> None:
        self.stream, self.unit = stream, unit
        self.delay = _setting("POISONLAB_PROGRESS_DELAY", PROGRESS_DELAY) if delay is None \
            else delay
        self.every = _setting("POISONLAB_PROGRESS_EVERY", PROGRESS_EVERY) if every is None \
            else every
        self.tty = bool(getattr(stream, "isatty", lambda: False)()) if tty is None else tty
        self.done, self.total, self.shown = 0, 0, False
        self.start = self.last = time.monotonic()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ticker = threading.Thread(target=self._tick, daemon=True, name="progress")

    def __enter__(self) -> Progress:
        self.start = time.monotonic()
        self._ticker.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._ticker.join()
        if self.shown:
            with self._lock:
                end = "done" if exc[0] is None else "stopped"
                self._write(f"{end}: {self._counts()} in {self._elapsed():.1f} s", final=True)

    def __call__(self, done: int, total: int) -> None:
        with self._lock:
            self.done, self.total = done, total
        self._maybe_show(force=self.tty)

    def _elapsed(self) -> float:
        return time.monotonic() - self.start

    def _counts(self) -> str:
        if self.unit == "%":
            return f"{100 * self.done // max(self.total, 1)}%"
        return f"{self.done}/{self.total} {self.unit}"

    def _tick(self) -> None:
        while not self._stop.wait(0.5 if self.tty else min(self.every, 0.5) or 0.05):
            self._maybe_show()

    def _maybe_show(self, force: bool = False) -> None:
        with self._lock:
            now = time.monotonic()
            if now - self.start < self.delay or self._stop.is_set():
                return
            if not force and self.shown and now - self.last < (0.5 if self.tty else self.every):
                return
            elapsed = now - self.start
            left = ""
            if 0 < self.done < self.total and self.unit != "%":  # a run's stages are uneven
                left = f", ~{elapsed * (self.total - self.done) / self.done:.0f} s left"
            if self.tty and self.total:
                filled = int(30 * self.done / self.total)
                bar = f"[{'#' * filled}{'.' * (30 - filled)}] "
            else:
                bar = ""
            self._write(f"{bar}{self._counts() if self.total else 'starting'}, "
                        f"{elapsed:.0f} s{left}")
            self.last = now

    def _write(self, text: str, final: bool = False) -> None:
        if self.tty:
            self.stream.write(f"\r\x1b[K{text}" + ("\n" if final else ""))
        else:
            self.stream.write(f"progress: {text}\n")
        self.stream.flush()
        self.shown = True


def _progress(args, unit: str):
    """The command's progress reporter, or a no-op context (``--json`` without
    ``--progress``, or ``--quiet``)."""
    show = args.progress if args.progress is not None else not args.json
    if args.quiet or not show:
        return contextlib.nullcontext(None)
    return Progress(sys.stderr, unit)


def _warn_if_slow(seconds: float, reason: str, args) -> None:
    """One stderr line before a command expected to take over :data:`SLOW_WARNING` s."""
    if args.quiet or seconds <= _setting("POISONLAB_SLOW_WARNING", SLOW_WARNING):
        return
    shown = f"{seconds / 60:.0f} min" if seconds >= 120 else f"{seconds:.0f} s"
    print(f"note: this is expected to take ~{shown} on a 2-core machine ({reason}); "
          f"progress follows on stderr" + ("" if _shows_progress(args) else
                                           " with --progress") + "; Ctrl-C stops it",
          file=sys.stderr, flush=True)


def _shows_progress(args) -> bool:
    return not args.quiet and (args.progress if args.progress is not None else not args.json)


def _csv_shape(config: ExperimentConfig) -> dict[str, int | None]:
    """Data rows and feature columns of a ``--data`` file, for the estimate (cheap: the
    header and a line count; whatever fails is left unknown, the run reports it)."""
    if config.dataset != "csv":
        return {}
    try:
        with open(config.data, newline="", encoding="utf-8", errors="replace") as fh:
            header = next(csv.reader([fh.readline()]), [])
            rows = sum(1 for _ in fh)
    except (OSError, csv.Error):
        return {}
    return {"n_rows": rows, "n_features": max(len(header) - 1, 1)}


def _emit(table, args, out, text: Callable[[], str], whole: dict | None = None) -> None:
    """``--csv PATH`` (or ``-``) writes the tidy table, ``--json`` prints it (or ``whole``),
    else ``text()``."""
    if args.csv == "-":
        table.to_csv(out, index=False)
    elif args.csv:
        table.to_csv(args.csv, index=False)
    if args.json:
        print(table.to_json(orient="records") if whole is None
              else json.dumps(whole, sort_keys=True), file=out)
    elif args.csv != "-":
        print(text(), file=out)


def _format_sweep(table) -> str:
    fmt = lambda v: f"{v:.3f}"  # noqa: E731
    summary = summarize_sweep(table)
    summary = summary[["poison_rate", "clean_accuracy_mean", "poisoned_accuracy_mean",
                       "defended_accuracy_mean",
                       *(c for c in summary.columns if c.startswith("attack_success_")
                         and c.endswith("_mean"))]]
    return (f"{table.to_string(index=False, float_format=fmt)}\n\nmean over seeds:\n"
            f"{summary.to_string(index=False, float_format=fmt)}")


def scheduler_from_args(args: argparse.Namespace) -> str | None:
    """``--scheduler``, else ``$DASK_SCHEDULER_ADDRESS`` (empty = unset), else None (local)."""
    if args.scheduler is not None:
        return args.scheduler
    return os.environ.get(SCHEDULER_ENV) or None


def _cmd_sweep(args, out) -> None:
    config = config_from_args(args)
    scheduler = scheduler_from_args(args)
    if scheduler is None:  # a cluster's speed is its own
        check_n_jobs(args.jobs)
        seeds = check_seeds(args.seeds, config.seed)
        runs = [config.replace(poison_rate=r, seed=s, grid_resolution=0)
                for r in check_rates(args.rates) for s in seeds]
        _warn_if_slow(expected_batch_seconds(runs, n_jobs=args.jobs, **_csv_shape(config)),
                      f"{len(runs)} runs, the slowest: {estimate_run(runs[-1]).reason()}", args)
    with _progress(args, "runs") as progress:
        table = run_sweep(config, args.rates, args.seeds, n_jobs=args.jobs,
                          scheduler=scheduler, progress=progress)
    _emit(table, args, out, lambda: _format_sweep(table))


def format_matrix(table) -> str:
    """The matrix as a readable table: attacks x defenses, cell = share of the drop recovered."""
    first = table.iloc[0]
    attacks = list(dict.fromkeys(table.attack))
    defenses = list(dict.fromkeys(table.defense))
    per_attack = table.groupby("attack", sort=False)
    lines = [
        f"attack x defense matrix: dataset {first.dataset}, poison rate {first.poison_rate:g}, "
        f"{first.n_seeds} seed{'s' if first.n_seeds != 1 else ''}",
        "cell = share of the accuracy the attack took that the defense won back (mean over "
        "seeds): 1 = all, 0 = none, < 0 = worse; '-' = the attack took less than one test point",
        "",
    ]
    cells = table.pivot(index="attack", columns="defense", values="recovered_mean")
    cells = cells.loc[attacks, defenses]
    head = {"clean": per_attack.clean_accuracy_mean.first(),
            "poisoned": per_attack.poisoned_accuracy_mean.first()}
    frame = cells.map(lambda v: "-" if v != v else f"{v:.2f}")
    frame.insert(0, "poisoned", head["poisoned"].loc[attacks].map(lambda v: f"{v:.3f}"))
    frame.insert(0, "clean", head["clean"].loc[attacks].map(lambda v: f"{v:.3f}"))
    frame.index.name = None
    frame.columns.name = None
    lines.append(frame.to_string())
    targeted = table[table.target_success_defended_mean.notna()]
    if len(targeted):
        success = targeted.pivot(index="attack", columns="defense",
                                 values="target_success_defended_mean")
        success = success.loc[[a for a in attacks if a in success.index], defenses]
        success = success.map(lambda v: f"{v:.2f}")
        success.index.name = success.columns.name = None
        lines += ["", "targeted attacks: share of the targets the defended model still gives the "
                  "attacker's label (0 = attack defeated)", success.to_string()]
    if "attack_success_defended_mean" in table:
        backdoors = table[table.attack_success_defended_mean.notna()]
        asr = backdoors.pivot(index="attack", columns="defense",
                              values="attack_success_defended_mean")
        asr = asr.loc[[a for a in attacks if a in asr.index], defenses].map(lambda v: f"{v:.2f}")
        first = backdoors.groupby("attack", sort=False).first()
        asr.insert(0, "poisoned", first.attack_success_poisoned_mean.loc[asr.index]
                   .map(lambda v: f"{v:.2f}"))
        asr.insert(0, "clean", first.attack_success_clean_mean.loc[asr.index]
                   .map(lambda v: f"{v:.2f}"))
        asr.index.name = asr.columns.name = None
        lines += ["", "backdoors: attack success rate of each model (triggered source-class test "
                  "points given the target label; the clean model's is the level to get back "
                  "to)", asr.to_string()]
    return "\n".join(lines)


def _cmd_matrix(args, out) -> None:
    config = config_from_args(args)
    scheduler = scheduler_from_args(args)
    if scheduler is None:  # the arguments checked first: a bad one is the only line
        check_n_jobs(args.jobs)
        if args.rate is not None:
            check_real("rate", args.rate, 0.0, 1.0, high_open=True)
        _warn_if_slow(*_matrix_estimate(config, args), args)
    with _progress(args, "attack runs") as progress:
        table = run_matrix(config, args.attacks, args.defenses, args.rate, args.seeds,
                           n_jobs=args.jobs, scheduler=scheduler, progress=progress)
    _emit(table, args, out, lambda: format_matrix(table))


def _matrix_estimate(config: ExperimentConfig, args) -> tuple[float, str]:
    """Rough wall seconds of the matrix: each attack's run once per defense (the matrix
    shares the clean and the poisoned fit, so this errs on the slow side)."""
    attacks = args.attacks or list(ATTACKS)
    defenses = args.defenses or list(DEFENSES)
    base = config.replace(grid_resolution=0, poison_rate=config.poison_rate
                          if args.rate is None else args.rate)
    runs = [base.replace(attack=a, defense=d, trusted_fraction=base.trusted_fraction or 0.1)
            for a in attacks if a in ATTACKS for d in defenses if d in DEFENSES]
    if not runs:  # unknown names: run_matrix says which
        return 0.0, ""
    seconds = expected_batch_seconds(runs, n_jobs=args.jobs, **_csv_shape(config)) * args.seeds
    worst = max(runs, key=expected_seconds)
    return seconds, (f"{len(runs) * args.seeds} attack x defense runs, the slowest: "
                     f"{estimate_run(worst).reason()}")


def _add_campaign_args(p: argparse.ArgumentParser) -> None:
    """The campaign's flags: one per declared knob, then the model, the defense and the gate."""
    p.add_argument("--scenario", default=None,
                   help=f"preset to start from, one of: {', '.join(CAMPAIGN_SCENARIOS)}")
    p.add_argument("--dataset", default=None, help=f"one of: {', '.join(CAMPAIGN_DATASETS)}")
    p.add_argument("--seed", type=_int, default=None, help="the one seed (default 0)")
    for spec in KNOBS:  # generated from the declarations: --months, --attack-rate, ...
        p.add_argument(f"--{spec.name.replace('_', '-')}", dest=f"knob_{spec.name}",
                       default=None, metavar="VALUE", help=f"{spec.help}; {spec.allowed} "
                                                          f"(default {spec.default})")
    p.add_argument("--defense", default=None, help=f"per-month defense, one of: "
                                                  f"{', '.join(DEFENSES)}")
    p.add_argument("--defense-param", dest="defense_params", action="append",
                   metavar="NAME=VALUE", help="a parameter of the defense (repeatable)")
    p.add_argument("--gate", default=None, help=f"update gate, one of: {', '.join(GATES)}")
    p.add_argument("--gate-param", dest="gate_params", action="append", metavar="NAME=VALUE",
                   help="a parameter of the gate (repeatable); `python -m core list` shows them")
    p.add_argument("--model", default=None, help=f"one of: {', '.join(MODELS)}")
    p.add_argument("--kernel", default=None, help=f"SVM kernel, one of: {', '.join(KERNELS)}")
    p.add_argument("--no-attack", action="store_true",
                   help="the same months without the attacker (what the gate costs)")
    p.add_argument("--csv", metavar="PATH", help="also write the months as CSV ('-' = stdout)")
    p.add_argument("--json", action="store_true", help="one JSON object on stdout")
    _add_progress_args(p)


def campaign_config_from_args(args: argparse.Namespace) -> CampaignConfig:
    """The preset (if any), then the flags given; parameters checked by their declarations."""
    if args.scenario is not None and args.scenario not in CAMPAIGN_SCENARIOS:
        raise ValueError(f"scenario={args.scenario!r} is not one of: "
                         f"{', '.join(CAMPAIGN_SCENARIOS)}")
    config = CAMPAIGN_SCENARIOS[args.scenario or "loan-campaign"]
    given = {k: getattr(args, k) for k in ("dataset", "seed", "defense", "gate", "model",
                                           "kernel") if getattr(args, k) is not None}
    knobs = {spec.name: spec.parse(getattr(args, f"knob_{spec.name}")) for spec in KNOBS
             if getattr(args, f"knob_{spec.name}") is not None}
    config = config.replace(**given, **knobs)
    changes = {}
    for field_name, flag, registry in (("defense_params", "--defense-param", DEFENSES),
                                       ("gate_params", "--gate-param", GATES)):
        texts = parse_assignments(getattr(args, field_name), flag)
        if texts:
            cls = registry[getattr(config, field_name.split("_")[0])]
            changes[field_name] = {**getattr(config, field_name), **cls.parse_params(texts)}
    return config.replace(**changes) if changes else config


def format_campaign(r: CampaignResult) -> str:
    c = r.config
    head = (f"campaign: {c.dataset}, seed {c.seed}, {c.months} months of {c.batch} "
            f"applications, attacker up to {c.attack_rate:.0%} a month; defense {c.defense}, "
            f"gate {c.gate}")
    table = r.to_frame()[["month", "n_attacker", "deployed", "accuracy", "approval_rate",
                          "target_approved", "expected_loss", "boundary_moved"]]
    table = table.rename(columns={"n_attacker": "fakes in", "approval_rate": "approvals",
                                  "target_approved": "target", "expected_loss": "loss $",
                                  "boundary_moved": "moved"})
    text = table.to_string(index=False, formatters={
        "accuracy": "{:.3f}".format, "approvals": "{:.1%}".format, "moved": "{:.1%}".format,
        "loss $": "{:,.0f}".format, "target": lambda v: "APPROVED" if v else "denied",
        "deployed": lambda v: "yes" if v else "REJECTED"})
    lines = [head, "", text, ""]
    when = r.months_to_target
    lines.append(f"target ({CURRENCY}{r.target_amount:,.0f}): " + (
        f"approved in month {when}" if when else f"never approved in {c.months} months"))
    if r.one_shot:
        s = r.one_shot
        lines.append(f"one-shot baseline: the same {s['submitted']} applications in month 1 "
                     f"({s['n_attacker']} approved into the log): target "
                     + ("approved" if s["target_approved"] else "never approved"))
    rejected = [m for m in r.months[1:] if not m.deployed]
    if rejected:
        lines.append(f"the gate rejected {len(rejected)} update(s): month {rejected[0].month}: "
                     f"{rejected[0].verdict}")
    lines.append(f"time: {r.timings.get('total', 0.0):.2f} s")
    return "\n".join(lines)


def _cmd_campaign(args, out) -> None:
    config = campaign_config_from_args(args)
    with _progress(args, "months") as progress:
        result = run_campaign(config, attack=not args.no_attack, progress=progress)
    _emit(result.to_frame(), args, out, lambda: format_campaign(result), whole=result.summary())


def _money(v: float) -> str:
    return f"{CURRENCY}{v:,.0f}"


def format_story(story: LoanStory) -> str:
    n = story.numbers
    c, p, q = n["clean"], n["poisoned"], n["quiet"]
    reached = n["month_reached"]
    lines = [
        f"loan-fraud story, seed {story.seed}: a model retrained monthly on its own decisions, "
        f"{n['n_history']} past applications, {n['batch']} new a month, {n['months']} months",
        "",
        f"1 the model     accuracy {c['accuracy']:.1%}, approves {c['approval_rate']:.1%}, "
        f"expected loss {_money(c['expected_loss'])} on {n['n_book']} new applications",
        f"2 the attack    {n['per_month']} applications a month from a fraud ring, stepping "
        f"towards one target ({_money(n['target']['amount'])}) the model denies",
        "3 the damage    target approved in "
        + (f"month {reached} ({n['n_attacker_reached']} of the ring's applications, "
           f"{n['n_attacker_reached'] / n['n_log_reached']:.1%} of the log)" if reached
           else f"none of the {n['months']} months")
        + f"; one-shot with the same {n['one_shot']['submitted']}: "
        + ("approved" if n["one_shot"]["target_approved"] else "denied"),
        f"                expected loss in month {n['months']} {_money(q['expected_loss'])} "
        f"without the ring -> {_money(p['expected_loss'])} (+{_money(n['loss_added'])}); "
        f"accuracy lost {100 * n['accuracy_lost']:.1f} pts",
    ]
    if "gate" in n:
        g = n["gate"]
        held = ("held: target denied all along" if g["months_to_target"] is None
                else f"did not hold: target approved in month {g['months_to_target']}")
        best = f" (best of {g['n_candidates']} gates)" if g["n_candidates"] > 1 else ""
        lines.append(f"4 the defense   update gate {g['gate']}{best} {held}; rejected "
                     f"{g['rejected']}/{n['months']} updates, {g['rejected_clean']}/"
                     f"{n['months']} clean ones with no attack; expected loss "
                     f"{_money(n['defended']['expected_loss'])}")
        for r in story.ranking:
            when = f"month {r['months_to_target']}" if r["months_to_target"] else "never"
            lines.append(f"                  {r['gate']:20s} target approved {when:8s}  "
                         f"rejected {r['rejected']:2d} (clean {r['rejected_clean']})")
    lines.append(f"  (loss = an approved target's full amount + {story.loss_given_default:.0%} "
                 "of each approved bad loan's amount)")
    return "\n".join(lines)


def _cmd_story(args, out) -> None:
    story = loan_story(args.seed, months=args.months, attack_rate=args.attack_rate,
                       loss_given_default=args.loss_given_default, gate=args.gate)
    if args.json:
        print(json.dumps(story.to_dict(), sort_keys=True), file=out)
    else:
        print(format_story(story), file=out)


def main(argv: Sequence[str] | None = None, *, out=None) -> int:
    out = out or sys.stdout
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.command in ("sweep", "matrix") and args.seeds < 1:
            raise ValueError(f"seeds={args.seeds} is out of range; expected an integer >= 1")
        {"list": _cmd_list, "run": _cmd_run, "sweep": _cmd_sweep, "matrix": _cmd_matrix,
         "campaign": _cmd_campaign, "story": _cmd_story}[args.command](args, out)
    except (UsageError, ValueError) as exc:
        print(f"error: {exc}" if not isinstance(exc, UsageError) else f"{exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. piped into `head`
        return 0
    except OSError as exc:  # e.g. --csv into a missing folder
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0
