"""One experiment: clean model -> poisoned model -> defended model, on held-out test data."""

from __future__ import annotations

import inspect
import json
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import InitVar, asdict, dataclass, field, fields, replace
from typing import Any

import numpy as np
from sklearn.model_selection import train_test_split

from core._validation import Interval, check_choice, shown
from core.attacks import ATTACKS, make_attack
from core.data_io import CSVLimits, load_csv_dataset
from core.datasets import CSV, DATASETS, MIN_SAMPLES, Dataset, make_dataset
from core.defenses import DEFENSES, defense_from_config
from core.metrics import (
    DetectionMetrics,
    attack_success_rate,
    detection_metrics,
    target_success_rate,
)
from core.models import (
    C_RANGE,
    DEGREE_RANGE,
    GAMMA_RANGE,
    KERNELS,
    MODELS,
    check_gamma,
    decision_values,
    fit_clone,
    fit_seconds,
    make_model,
)
from core.params import carry_params
from core.views import View, make_view, trigger_lift

__all__ = ["ExperimentConfig", "ExperimentResult", "DecisionGrid", "Prepared", "prepare",
           "run_experiment", "config_limits", "trusted_size", "MIN_TRUSTED_PER_CLASS",
           "decision_grid", "derive_seeds", "RunEstimate", "estimate_run", "expected_seconds",
           "expected_batch_seconds"]

#: n_samples' upper bound for dataset "csv", where it does not apply (the file decides)
CSV_MAX_SAMPLES = 10**9


#: a defense that needs trusted data (roni) gets at least this many trusted points per class
MIN_TRUSTED_PER_CLASS = 2
#: backdoors: how many held-out source-class points the result keeps predictions for
EXAMPLES = 8


def trusted_size(trusted_fraction: float, n_total: int) -> int:
    """Points held out as the defender's trusted sample: the fraction of all, at least 2."""
    return max(2, int(round(trusted_fraction * n_total))) if trusted_fraction > 0 else 0


def _min_trusted_fraction(n_total: int) -> float:
    """The smallest trusted_fraction that holds out 2 points of each class of ``n_total``."""
    need = 2 * MIN_TRUSTED_PER_CLASS
    f = (need - 0.5) / n_total
    while trusted_size(f, n_total) < need:  # round() and float error: step up to the edge
        f = math.nextafter(f, 1.0)
    while f > 0 and trusted_size(math.nextafter(f, 0.0), n_total) >= need:
        f = math.nextafter(f, 0.0)
    return f


def config_limits(dataset: str = "blobs", test_fraction: float = 0.4, *,
                  n_samples: int | None = None, defense: str | None = None
                  ) -> dict[str, Interval]:
    """The range of every numeric :class:`ExperimentConfig` field, as construction checks it.

    Three depend on other fields: ``n_samples`` and ``noise`` on ``dataset`` (its
    size and noise scale; for ``"csv"`` neither applies and noise must be 0), and
    ``trusted_fraction`` on ``test_fraction`` (at most half of it) and, given
    ``defense`` and ``n_samples``, on them: a defense that needs trusted data
    needs ``trusted_fraction`` > 0, and enough for ``MIN_TRUSTED_PER_CLASS``
    points of each class (checked for generated data, where ``n_samples`` is
    the number of points; the range may then be empty). ``gamma`` also takes
    ``"scale"`` or ``"auto"``, and ``noise`` ``None`` (the dataset's default).
    The attack's and the defense's own parameters are declared on their classes
    (``ATTACKS[name].params``, ``DEFENSES[name].params``).
    """
    spec = DATASETS.get(dataset)
    return {
        "n_samples": Interval(MIN_SAMPLES, spec.max_samples if spec else CSV_MAX_SAMPLES,
                              integer=True),
        "noise": Interval(0.0, spec.max_noise if spec else 0.0),
        "test_fraction": Interval(0.1, 0.9),
        "trusted_fraction": _trusted_limit(dataset, test_fraction, n_samples, defense),
        "poison_rate": Interval(0.0, 1.0, high_open=True),
        "C": C_RANGE,
        "gamma": GAMMA_RANGE,
        "degree": DEGREE_RANGE,
        "seed": Interval(0, 2**32 - 1, integer=True),
        "grid_resolution": Interval(0, 400, integer=True),
    }


def _mapping(name: str, value: Any) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValueError(f"{name}={shown(value)} is not a mapping of parameter names to values")
    return value


def _trusted_limit(dataset: str, test_fraction: float, n_samples: int | None,
                   defense: str | None) -> Interval:
    high = 0.5 * test_fraction
    if defense not in DEFENSES or not DEFENSES[defense].needs_trusted:
        return Interval(0.0, high)
    if n_samples is None or dataset == CSV:  # a CSV's size is known once it is read
        return Interval(0.0, high, low_open=True)
    return Interval(_min_trusted_fraction(n_samples), high)


#: config fields from before parameters were declared on the classes (exported JSON and
#: links still carry them): old name -> the defense parameter it set, where one is declared
LEGACY_DEFENSE_FIELDS: dict[str, str] = {"contamination": "contamination", "knn_k": "k",
                                         "knn_threshold": "threshold"}


@dataclass(frozen=True)
class ExperimentConfig:
    """Everything that determines an experiment; same config, same result, bit for bit.

    Validated on construction: a bad field raises ``ValueError`` naming it.
    ``noise=None`` is replaced by the dataset's default. ``attack_params`` and
    ``defense_params`` are the chosen attack's and defense's declared parameters
    (:mod:`core.params`): given ones are checked against the declaration (an
    unknown name is refused, the declared ones listed) and the rest take their
    defaults, so the stored mapping is complete. ``contamination``, ``knn_k`` and
    ``knn_threshold`` are the older spellings of the defense's ``contamination``,
    ``k`` and ``threshold``: accepted, applied where the defense declares them,
    never stored.
    """

    dataset: str = "blobs"
    n_samples: int = 500
    noise: float | None = None
    test_fraction: float = 0.4
    trusted_fraction: float = 0.0
    attack: str = "label_flip"
    poison_rate: float = 0.2
    defense: str = "knn_sanitize"
    attack_params: Mapping[str, Any] = field(default_factory=dict)
    defense_params: Mapping[str, Any] = field(default_factory=dict)
    model: str = "svm"
    kernel: str = "rbf"
    C: float = 1.0
    gamma: float | str = "scale"
    degree: int = 3
    seed: int = 0
    grid_resolution: int = 60
    # your own data (dataset="csv"): a CSV path, its label column, optional feature
    # columns and the positive class (see core.data_io.load_csv_dataset)
    data: str | None = None
    label: str | None = None
    features: tuple[str, ...] | None = None
    positive: str | None = None
    # the older spellings (see the class docstring)
    contamination: InitVar[float | str | None] = None
    knn_k: InitVar[int | None] = None
    knn_threshold: InitVar[float | None] = None

    def __post_init__(self, contamination=None, knn_k=None, knn_threshold=None) -> None:
        check_choice("dataset", self.dataset, [*DATASETS, CSV])
        s = object.__setattr__
        limits = config_limits(self.dataset)

        def check(name: str) -> None:  # the field against its range, stored as converted
            s(self, name, limits[name].check(name, getattr(self, name)))

        if self.dataset == CSV:
            for name in ("data", "label"):
                value = getattr(self, name)
                if not isinstance(value, str) or not value.strip():
                    what = "a CSV file path" if name == "data" else "the label column"
                    raise ValueError(f"{name}={shown(value)}: dataset 'csv' needs a {name} "
                                     f"({what})")
            if self.features is not None:
                if not isinstance(self.features, (list, tuple)) or not all(
                        isinstance(f, str) for f in self.features):
                    raise ValueError(f"features={shown(self.features)} is not a list of column "
                                     "names")
                s(self, "features", tuple(self.features))
            if self.positive is not None:
                s(self, "positive", str(self.positive))
        else:
            for name in ("data", "label", "features", "positive"):
                if getattr(self, name) is not None:
                    raise ValueError(f"{name}={shown(getattr(self, name))} applies only to "
                                     f"dataset 'csv', not {self.dataset!r}")
        check("n_samples")
        if self.noise is None:
            s(self, "noise", 0.0 if self.dataset == CSV else DATASETS[self.dataset].default_noise)
        check("noise")
        check("test_fraction")
        limits = config_limits(self.dataset, self.test_fraction)  # trusted: half the test share
        check("trusted_fraction")
        attack = ATTACKS.get_class(self.attack)
        check("poison_rate")
        s(self, "attack_params", attack.check_params(_mapping("attack_params",
                                                               self.attack_params)))
        defense = DEFENSES.get_class(self.defense)
        given = dict(_mapping("defense_params", self.defense_params))
        legacy = {"contamination": contamination, "knn_k": knn_k, "knn_threshold": knn_threshold}
        for old, value in legacy.items():  # applied where the defense declares the parameter
            name = LEGACY_DEFENSE_FIELDS[old]
            if value is not None and name in defense.param_specs() and name not in given:
                given[name] = value
        s(self, "defense_params", defense.check_params(given))
        if DEFENSES[self.defense].needs_trusted:
            if self.trusted_fraction == 0:
                raise ValueError(f"defense={self.defense!r} needs trusted data; "
                                 "set trusted_fraction > 0 (e.g. 0.1)")
            low = config_limits(self.dataset, self.test_fraction, n_samples=self.n_samples,
                                defense=self.defense)["trusted_fraction"].low
            if self.trusted_fraction < low:
                n = trusted_size(self.trusted_fraction, self.n_samples)
                fix = (f"raise trusted_fraction to {low:.4g} or more, or n_samples"
                       if low <= 0.5 * self.test_fraction else
                       f"that takes trusted_fraction >= {low:.4g}, more than half of "
                       f"test_fraction={self.test_fraction:g}: raise test_fraction or n_samples")
                raise ValueError(
                    f"trusted_fraction={self.trusted_fraction:g} holds out {n} of "
                    f"{self.n_samples} points; defense {self.defense!r} needs at least "
                    f"{2 * MIN_TRUSTED_PER_CLASS} ({MIN_TRUSTED_PER_CLASS} of each class): {fix}")
        check_choice("model", self.model, MODELS)
        check_choice("kernel", self.kernel, KERNELS)
        check("C")
        s(self, "gamma", check_gamma(self.gamma))
        check("degree")
        check("seed")
        check("grid_resolution")

    def replace(self, **changes: Any) -> ExperimentConfig:
        """A copy with ``changes`` applied (and validated).

        Switching ``attack`` or ``defense`` without giving its ``*_params`` carries
        over the parameters the new one declares too (:func:`core.params.carry_params`);
        the rest take the new one's defaults.
        """
        for kind, registry in (("attack", ATTACKS), ("defense", DEFENSES)):
            new = changes.get(kind, getattr(self, kind))
            if new != getattr(self, kind) and f"{kind}_params" not in changes \
                    and new in registry:
                changes[f"{kind}_params"] = carry_params(
                    registry[getattr(self, kind)], getattr(self, f"{kind}_params"), registry[new])
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["attack_params"], out["defense_params"] = (dict(self.attack_params),
                                                       dict(self.defense_params))
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ExperimentConfig:
        """Build from a mapping; unknown keys are an error, missing ones take defaults.

        The older fields ``contamination``, ``knn_k`` and ``knn_threshold`` (exported
        before parameters were declared on the classes) are accepted.
        """
        if not isinstance(data, Mapping):
            raise ValueError(f"a config is an object of fields, not {type(data).__name__}")
        known = {f.name for f in fields(cls)} | set(LEGACY_DEFENSE_FIELDS)
        unknown = sorted(str(k) for k in set(data) - known)
        if unknown:
            raise ValueError(f"unknown config field(s): {', '.join(unknown)}")
        return cls(**data)

    def __hash__(self) -> int:
        return hash(self.key())

    def key(self) -> str:
        """Canonical JSON text: a hashable, order-independent cache key."""
        return json.dumps(self.to_dict(), sort_keys=True)


@dataclass(frozen=True, eq=False)
class DecisionGrid:
    """Decision-function values of the three models on a regular grid.

    ``clean[i, j]`` is the clean model's decision function at ``(x[j], y[i])`` of
    the result's 2-D view (the features themselves for 2-feature data); positive
    means class 1, the boundary is the level 0.
    """

    x: np.ndarray
    y: np.ndarray
    clean: np.ndarray
    poisoned: np.ndarray
    defended: np.ndarray

    def to_dict(self) -> dict[str, Any]:
        return {k: np.round(getattr(self, k), 6).tolist()
                for k in ("x", "y", "clean", "poisoned", "defended")}


def decision_grid(models: tuple, bounds: np.ndarray, resolution: int,
                  lift=None) -> tuple[np.ndarray, ...]:
    """Evaluate each model's decision function on a ``resolution`` x ``resolution`` grid.

    ``bounds`` is ``[[xmin, ymin], [xmax, ymax]]`` in the 2-D view; ``lift`` maps
    view coordinates back to feature space (identity if None). Returns ``(x, y, *values)``.
    """
    x = np.linspace(bounds[0, 0], bounds[1, 0], resolution)
    y = np.linspace(bounds[0, 1], bounds[1, 1], resolution)
    xx, yy = np.meshgrid(x, y)
    pts = np.column_stack([xx.ravel(), yy.ravel()])
    if lift is not None:
        pts = lift(pts)
    return (x, y, *(decision_values(m, pts).reshape(xx.shape) for m in models))


def derive_seeds(seed: int, n: int = 3) -> list[int]:
    """Independent integer seeds for the experiment's stages, all from one ``seed``."""
    return [int(c.generate_state(1)[0]) for c in np.random.SeedSequence(seed).spawn(n)]


@dataclass(frozen=True, eq=False)
class ExperimentResult:
    """Outcome of :func:`run_experiment`. Accuracies are on the held-out test set."""

    config: ExperimentConfig
    clean_accuracy: float
    poisoned_accuracy: float
    defended_accuracy: float
    detection: DetectionMetrics
    relabels: bool
    feature_names: tuple[str, ...]
    class_names: tuple[str, ...]
    X_clean: np.ndarray  # the clean training set
    y_clean: np.ndarray
    X_train: np.ndarray  # the poisoned training set (clean rows first for injections)
    y_train: np.ndarray  # labels as the victim sees them (poisoned)
    is_poison: np.ndarray
    is_clean: np.ndarray  # the defense's verdict
    suspicion: np.ndarray
    y_defended: np.ndarray  # labels the defended model trained on (for relabelling)
    kept: np.ndarray  # rows the defended model trained on
    X_test: np.ndarray
    y_test: np.ndarray
    grid: DecisionGrid | None
    view: View | None = None  # how X maps to the grid's 2-D plane
    poison_path: np.ndarray | None = None  # optimizing attacks: (steps, n_poison, n_features)
    data_notes: tuple[str, ...] = ()  # what loading the user's data fixed (dropped rows, ...)
    # targeted attacks: the target points, the label the attacker wants for them, their
    # rows in the clean training set, and the share of them each model gives that label
    targets: np.ndarray | None = None
    target_label: int | None = None
    target_index: np.ndarray | None = None
    target_success: dict[str, float] | None = None
    # backdoors: the trigger (a core.attacks.backdoor.Trigger; stamp it on X_test to put it
    # on), the class whose triggered inputs flip, each model's attack success rate on
    # held-out source-class test points with the trigger stamped, and the decision grid on
    # the same plane with the trigger present (the hidden second boundary). X_clean, X_test
    # are padded like X_train (an added trigger feature is a zero column).
    trigger: Any = None
    source_label: int | None = None
    attack_success: dict[str, float] | None = None
    grid_triggered: DecisionGrid | None = None
    # backdoors: the first EXAMPLES held-out source-class test points (their rows of
    # X_test) and each model's prediction on them without and with the trigger, e.g.
    # trigger_examples["poisoned"]["triggered"]: what the digits image grid shows
    trigger_examples: dict[str, Any] | None = None
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def n_train(self) -> int:
        """Clean training points (the budget's denominator)."""
        return len(self.y_clean)

    def project(self, X: np.ndarray) -> np.ndarray:
        """Coordinates of ``X`` in the plane of the decision grid (an added trigger column,
        the last, is not part of the view)."""
        X = np.asarray(X, dtype=float)
        if self.view is None:
            return X
        return self.view.project(X[:, :len(self.view.mean)])

    @property
    def n_poison(self) -> int:
        return int(self.is_poison.sum())

    def summary(self) -> dict[str, Any]:
        """The scalar results, JSON-ready, identical run after run (no timings)."""
        return {
            "config": self.config.to_dict(),
            "clean_accuracy": self.clean_accuracy,
            "poisoned_accuracy": self.poisoned_accuracy,
            "defended_accuracy": self.defended_accuracy,
            "n_train": self.n_train,
            "n_test": len(self.y_test),
            "n_poison": self.n_poison,
            "detection": {**self.detection.to_dict(), "relabels": self.relabels},
            **({"data_notes": list(self.data_notes)} if self.data_notes else {}),
            **({"target_success": dict(self.target_success), "n_targets": len(self.targets)}
               if self.target_success is not None else {}),
            **({"attack_success": dict(self.attack_success),
                "trigger": self.trigger.to_dict(), "source_label": self.source_label,
                "target_label": self.target_label}
               if self.attack_success is not None else {}),
        }

    def to_dict(self, *, arrays: bool = False, timings: bool = False) -> dict[str, Any]:
        out = self.summary()
        if arrays:
            out["points"] = {
                "X_clean": self.X_clean.tolist(), "y_clean": self.y_clean.tolist(),
                "X_train": self.X_train.tolist(), "y_train": self.y_train.tolist(),
                "is_poison": self.is_poison.tolist(), "is_clean": self.is_clean.tolist(),
                "suspicion": self.suspicion.tolist(), "y_defended": self.y_defended.tolist(),
                "kept": self.kept.tolist(), "X_test": self.X_test.tolist(),
                "y_test": self.y_test.tolist(),
            }
            out["grid"] = None if self.grid is None else self.grid.to_dict()
            if self.trigger is not None:
                out["grid_triggered"] = (None if self.grid_triggered is None
                                         else self.grid_triggered.to_dict())
        if timings:
            out["timings"] = dict(self.timings)
        return out

    def to_json(self, **kwargs: Any) -> str:
        return json.dumps(self.to_dict(**kwargs), sort_keys=True)


@dataclass(frozen=True, eq=False)
class Prepared:
    """Stage 1 of an experiment: the data, its test and trusted parts, the victim model."""

    data: Dataset
    X_test: np.ndarray
    y_test: np.ndarray
    trusted: tuple[np.ndarray, np.ndarray] | None
    model: Any
    notes: list[str]
    rows_test: np.ndarray | None = None  # positions of X_test in the generated table


def _top_up(X_test, y_test, X_tr, y_tr, index) -> tuple[np.ndarray, ...]:
    """Move test points of a class the trusted sample holds fewer than
    ``MIN_TRUSTED_PER_CLASS`` of into it, while the test set keeps another point.
    ``index`` (one entry per test point) is filtered along with the test set.

    A stratified split of a few points can leave the rarer class one short (4 of
    37% / 63% data splits 1 / 3); a split that has enough is returned unchanged.
    """
    for label in np.unique(y_test):
        short = MIN_TRUSTED_PER_CLASS - int(np.sum(y_tr == label))
        move = np.flatnonzero(y_test == label)[:max(0, min(short, len(y_test) - 1))]
        if len(move):
            keep = np.ones(len(y_test), dtype=bool)
            keep[move] = False
            X_tr, y_tr = np.vstack([X_tr, X_test[move]]), np.concatenate([y_tr, y_test[move]])
            X_test, y_test, index = X_test[keep], y_test[keep], index[keep]
    return X_test, y_test, X_tr, y_tr, index


def prepare(config: ExperimentConfig) -> Prepared:
    """Load or generate the data, carve out the trusted sample, build the (unfitted) model.

    Shared by :func:`run_experiment` and :func:`core.matrix.run_matrix`, so a matrix
    cell sees exactly the data a single run does.
    """
    data_seed = derive_seeds(config.seed)[0]
    notes: list[str] = []
    if config.dataset == CSV:
        data, notes = load_csv_dataset(
            config.data, label=config.label, features=config.features,
            positive=config.positive, test_fraction=config.test_fraction, random_state=data_seed)
    else:
        data = make_dataset(config.dataset, n_samples=config.n_samples, noise=config.noise,
                            test_fraction=config.test_fraction, random_state=data_seed)
    X_test, y_test, trusted, rows_test = data.X_test, data.y_test, None, data.rows_test
    if config.trusted_fraction > 0:  # the defender's known-clean sample, never tested on
        n_total = len(data.y_train) + len(data.y_test)
        n_trusted = trusted_size(config.trusted_fraction, n_total)
        X_test, X_tr, y_test, y_tr, keep, _ = train_test_split(
            data.X_test, data.y_test, np.arange(len(data.y_test)), test_size=n_trusted,
            stratify=data.y_test, random_state=data_seed)
        X_test, y_test, X_tr, y_tr, keep = _top_up(X_test, y_test, X_tr, y_tr, keep)
        trusted = (X_tr, y_tr)
        rows_test = None if rows_test is None else rows_test[keep]
    model = make_model(config.model, kernel=config.kernel, C=config.C, gamma=config.gamma,
                       degree=config.degree)
    return Prepared(data, X_test, y_test, trusted, model, notes, rows_test)


def run_experiment(config: ExperimentConfig, *,
                   progress: Callable[[int, int], None] | None = None) -> ExperimentResult:
    """Run one clean -> poisoned -> defended experiment.

    ``progress(done, total)``, if given, is called as the stages finish (and along
    the way inside attacks that report progress, such as ``gradient``).

    1. Generate the dataset and split it; the test part is never touched.
    2. Fit the clean model on the clean training set.
    3. Poison the training set with ``config.attack`` at ``config.poison_rate``
       and fit the poisoned model on it.
    4. Sanitize the poisoned set with ``config.defense`` and fit the defended
       model on what it keeps.
    5. Measure the three test accuracies, the defense's detection metrics
       against the true poison mask, for a targeted attack the share of its
       targets each model gives the attacker's label (``target_success``), for a
       backdoor each model's attack success rate (``attack_success``, see
       :func:`core.metrics.attack_success_rate`), and (if ``grid_resolution`` > 0)
       the three decision-function grids over the bounding box of all points --
       for a backdoor also with the trigger present (``grid_triggered``).

    A backdoor whose trigger is an added feature returns a training set with one
    more column; the clean training set, the test set and the trusted sample are
    padded with a zero column (trigger absent), so all three models and every
    defense work in the same feature space.
    """
    if not isinstance(config, ExperimentConfig):
        raise TypeError(f"expected an ExperimentConfig, got {type(config).__name__}")
    timings: dict[str, float] = {}
    t0 = tic = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal tic
        now = time.perf_counter()
        timings[name] = now - tic
        tic = now

    _, attack_seed, defense_seed = derive_seeds(config.seed)
    prep = prepare(config)
    data, X_test, y_test, trusted, model = prep.data, prep.X_test, prep.y_test, prep.trusted, \
        prep.model
    data_notes = prep.notes
    lap("dataset")

    clean_model = None  # fitted after the attack: a backdoor may add its trigger feature

    # progress: 100 units; the attack owns 5..85 when it reports progress itself
    report_ = progress or (lambda done, total: None)
    report_(5, 100)
    attack = make_attack(config.attack, config.poison_rate, **config.attack_params)
    extra = {}
    if progress is not None and "progress" in inspect.signature(attack.poison).parameters:
        extra["progress"] = lambda done, total: report_(5 + int(80 * done / max(total, 1)), 100)
    poisoned = attack.poison(data.X_train, data.y_train, model=model, random_state=attack_seed,
                             **extra)
    lap("attack")
    trigger = poisoned.trigger
    X_clean = data.X_train if trigger is None else trigger.pad(data.X_train)
    if trigger is not None:  # clean, test and trusted data without the trigger (zero column)
        X_test = trigger.pad(X_test)
        trusted = None if trusted is None else (trigger.pad(trusted[0]), trusted[1])
    clean_model = fit_clone(model, X_clean, data.y_train)
    lap("fit_clean")
    report_(85, 100)
    poisoned_model = fit_clone(model, poisoned.X, poisoned.y)
    lap("fit_poisoned")
    report_(90, 100)

    report = defense_from_config(config).sanitize(
        poisoned.X, poisoned.y, model=model, random_state=defense_seed,
        is_poison=poisoned.is_poison, trusted=trusted)
    lap("defense")
    report_(95, 100)
    if report.keep.any():
        defended_model = fit_clone(model, poisoned.X[report.keep], report.y[report.keep])
    else:  # a defense that drops everything leaves nothing to learn: fall back to poisoned
        defended_model = poisoned_model
    lap("fit_defended")

    models = (clean_model, poisoned_model, defended_model)
    clean_acc, poisoned_acc, defended_acc = (float(m.score(X_test, y_test)) for m in models)
    target_success = None
    if poisoned.targets is not None:
        target_success = {
            name: target_success_rate(m, poisoned.targets, poisoned.target_label)
            for name, m in zip(("clean", "poisoned", "defended"), models, strict=True)}
    attack_success = None
    if trigger is not None:
        attack_success = {
            name: attack_success_rate(m, X_test, y_test, trigger, poisoned.source_label,
                                      poisoned.target_label)
            for name, m in zip(("clean", "poisoned", "defended"), models, strict=True)}
        rows = np.flatnonzero(np.asarray(y_test) == poisoned.source_label)[:EXAMPLES]
        shown = X_test[rows]
        trigger_examples = {"rows": rows, **{
            name: {"clean": m.predict(shown), "triggered": m.predict(trigger.stamp(shown))}
            for name, m in zip(("clean", "poisoned", "defended"), models, strict=True)}}
    else:
        trigger_examples = None
    lap("score")

    grid = grid_triggered = None
    view = make_view(data.X_train, data.feature_names)
    if config.grid_resolution > 0:
        n_view = data.X_train.shape[1]  # the view ignores an added trigger feature
        allp = view.project(np.vstack([poisoned.X, X_test])[:, :n_view])
        lo, hi = allp.min(axis=0), allp.max(axis=0)
        pad = 0.05 * np.where(hi > lo, hi - lo, 1.0)
        bounds = np.array([lo - pad, hi + pad])
        gx, gy, *values = decision_grid(models, bounds, config.grid_resolution,
                                        lift=trigger_lift(view, trigger, present=False))
        grid = DecisionGrid(gx, gy, *values)
        if trigger is not None:  # the same plane with the trigger on: the hidden boundary
            gx, gy, *values = decision_grid(models, bounds, config.grid_resolution,
                                            lift=trigger_lift(view, trigger, present=True))
            grid_triggered = DecisionGrid(gx, gy, *values)
        lap("grid")
    timings["total"] = time.perf_counter() - t0
    report_(100, 100)

    return ExperimentResult(
        config=config,
        clean_accuracy=clean_acc,
        poisoned_accuracy=poisoned_acc,
        defended_accuracy=defended_acc,
        detection=detection_metrics(poisoned.is_poison, report.is_clean, score=report.score),
        relabels=report.relabels,
        feature_names=data.feature_names,
        class_names=data.class_names,
        X_clean=X_clean,
        y_clean=data.y_train,
        X_train=poisoned.X,
        y_train=poisoned.y,
        is_poison=poisoned.is_poison,
        is_clean=report.is_clean,
        suspicion=report.score,
        y_defended=report.y,
        kept=report.keep,
        X_test=X_test,
        y_test=y_test,
        grid=grid,
        grid_triggered=grid_triggered,
        trigger_examples=trigger_examples,
        view=view,
        poison_path=poisoned.path,
        data_notes=tuple(data_notes),
        targets=poisoned.targets,
        target_label=poisoned.target_label,
        target_index=poisoned.target_index,
        target_success=target_success,
        trigger=trigger,
        source_label=poisoned.source_label,
        attack_success=attack_success,
        timings=timings,
    )


@dataclass(frozen=True)
class RunEstimate:
    """How long :func:`run_experiment` is expected to take on ``config``, and why.

    ``parts`` maps what takes the time (``"model fits"``, ``"attack alfa"``,
    ``"defense duti"``) to rough seconds on a 2-core reference machine; their sum is
    ``seconds``. Rough (a factor of two either way) and meant for a warning before a
    long run, never for results.
    """

    seconds: float
    n_train: int
    n_features: int | None
    parts: Mapping[str, float]

    def reason(self) -> str:
        """What dominates, in words: ``"attack alfa on 60,000 training points"``."""
        what = max(self.parts, key=self.parts.get)
        wide = f" x {self.n_features} features" if (self.n_features or 0) > 2 else ""
        return f"{what} on {self.n_train:,} training points{wide}"


def estimate_run(config: ExperimentConfig, *, n_rows: int | None = None,
                 n_features: int | None = None) -> RunEstimate:
    """The expected time of ``run_experiment(config)``, from the declared cost hints.

    Pure: nothing is generated or fitted. The victim's three fits and their scoring
    come from :func:`core.models.fit_seconds`, the attack's and the defense's from
    their :class:`core.params.Cost` (``seconds`` and ``power``), each counted on the
    points it sees. For ``dataset="csv"`` give the file's data rows ``n_rows`` (at
    most ``CSVLimits.max_train_rows`` are used; unknown: that many) and its feature
    count ``n_features``; for generated data they follow from the config.
    """
    if config.dataset == CSV:
        cap = CSVLimits().max_train_rows
        n_rows = cap if n_rows is None else min(int(n_rows), cap)
        if config.features is not None:
            n_features = len(config.features)
    else:
        n_rows = config.n_samples
        n_features = len(DATASETS[config.dataset].feature_names)
    n_train = n_rows * (1 - config.test_fraction)
    # an injecting attack adds up to poison_rate * n_train points (a flip none): the upper
    # bound, as the dashboard's background rule (dashboard.service.runs_in_background)
    n_seen = n_train * (1 + config.poison_rate) + n_rows * config.trusted_fraction
    fit = lambda n: fit_seconds(config.model, kernel=config.kernel, n_train=n,  # noqa: E731
                                n_features=n_features)
    attack, defense = ATTACKS[config.attack], DEFENSES[config.defense]
    parts = {"model fits": 2 * fit(n_train) + fit(n_train * (1 + config.poison_rate)),
             f"attack {attack.name}": attack.cost.expected_seconds(n_train, n_seen),
             f"defense {defense.name}": defense.cost.expected_seconds(n_train, n_seen)}
    return RunEstimate(sum(parts.values()), int(round(n_train)), n_features, parts)


def expected_seconds(config: ExperimentConfig, **data: int | None) -> float:
    """Rough seconds ``run_experiment(config)`` takes (see :func:`estimate_run`)."""
    return estimate_run(config, **data).seconds


def expected_batch_seconds(configs, *, n_jobs: int = 1, n_cpus: int | None = None,
                           **data: int | None) -> float:
    """Rough wall seconds of running every config of ``configs`` on ``n_jobs`` processes.

    The runs' sum shared by the workers that can run at once: ``n_jobs`` (-1 = all
    ``n_cpus``, default ``os.cpu_count()``), at most ``n_cpus`` and one per run.
    """
    import os

    configs = list(configs)
    if not configs:
        return 0.0
    cpus = n_cpus or os.cpu_count() or 1
    workers = cpus if n_jobs < 0 else min(n_jobs, cpus)
    workers = max(1, min(workers, len(configs)))
    return sum(expected_seconds(c, **data) for c in configs) / workers
