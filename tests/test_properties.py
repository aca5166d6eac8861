"""Property-based tests over ExperimentConfig: every in-range config runs and gives a valid
result, every out-of-range value is a ValueError that names its field.

The strategies draw from the ranges core itself validates against (``config_limits``, the
registries), not from copied numbers. Runs stay small (few points, tiny grids) so the file
takes seconds. The default hypothesis profile is derandomized (same examples on every run,
no example database), so CI is reproducible; ``POISONLAB_HYPOTHESIS=explore`` draws random
examples, ten times as many, to hunt for new failures by hand.
"""

from __future__ import annotations

import json
import math
import os
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core import ATTACKS, DATASETS, DEFENSES, KERNELS, MODELS, ExperimentConfig, run_experiment
from core._validation import Interval
from core.attacks import budget
from core.datasets import CSV, REAL_DATASETS
from core.experiment import config_limits
from dashboard.state import DEGREE_VALUES

settings.register_profile("ci", derandomize=True, database=None, deadline=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("explore", deadline=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow])
PROFILE = os.environ.get("POISONLAB_HYPOTHESIS", "ci")
settings.load_profile(PROFILE)
SCALE = 10 if PROFILE == "explore" else 1

#: caps for configs that are actually run, to keep the file fast: few points (the range's
#: low end is where the edge cases are; the high end only costs time) and tiny grids
RUN_MAX_SAMPLES = 100
RUN_MAX_GRID = 5
#: and a well-conditioned SVM: libsvm's iterations grow without bound with C x gamma^degree
#: (measured: poly/degree 1/gamma 2150/C 2400 on 60 points, 290 million iterations, 41 s;
#: poly/degree 5/gamma 50/C 1000 on circles, the dashboard's own extremes, over 5 minutes).
#: Within these caps the slowest fit measured took 0.2 s.
RUN_MAX_C = 10.0
RUN_MAX_GAMMA = 1.0
RUN_MAX_DEGREE = max(DEGREE_VALUES)
#: the optimizing attacks run on the 2-D datasets only: on 30 or 64 features with logreg one
#: run takes 7-20 s (measured), which a fast suite cannot afford at random
OPTIMIZING = ("alfa", "gradient")
assert set(OPTIMIZING) <= set(ATTACKS)
CHOICES = {"dataset": DATASETS, "attack": ATTACKS, "defense": DEFENSES, "model": MODELS,
           "kernel": KERNELS}
CSV_ONLY = ("data", "label", "features", "positive")
PARAM_FIELDS = ("attack_params", "defense_params")
#: integer parameters of configs that are run are kept this small (steps, trees, refits)
RUN_MAX_PARAM = 20


# --- strategies ------------------------------------------------------------------------

def inside(lim: Interval, cap: float | None = None) -> st.SearchStrategy:
    """Values ``lim`` accepts (integers for integer ranges), at most ``cap``."""
    high = lim.high if cap is None else min(lim.high, cap)
    if lim.integer:
        return st.integers(int(lim.low), int(high))
    return st.floats(lim.low, high, exclude_min=lim.low_open,
                     exclude_max=lim.high_open and high == lim.high, allow_nan=False)


def outside(lim: Interval) -> st.SearchStrategy:
    """Numbers just or far outside ``lim``, huge ones included, and NaN / infinities."""
    if lim.integer:
        below = st.integers(max_value=int(lim.low) - 1)
        above = st.integers(min_value=int(lim.high) + 1)
        off_grid = st.floats(lim.low, lim.high, allow_nan=False).filter(
            lambda v: not float(v).is_integer())  # a whole number is accepted as one
        extra = [off_grid]
    else:
        below = (st.just(lim.low) if lim.low_open else st.nothing()) | st.floats(
            max_value=lim.low, exclude_max=True, allow_nan=False, allow_infinity=False)
        above = (st.just(lim.high) if lim.high_open else st.nothing()) | st.floats(
            min_value=lim.high, exclude_min=True, allow_nan=False, allow_infinity=False)
        extra = [st.integers(min_value=math.ceil(lim.high) + 1),  # huge ints included
                 st.integers(max_value=math.floor(lim.low) - 1)]
    huge = st.sampled_from([10**400, -10**400, 10**5000])  # beyond float, beyond repr's limit
    return st.one_of(below, above, st.sampled_from([math.nan, math.inf, -math.inf]), huge, *extra)


WRONG_TYPES = st.one_of(
    st.booleans(), st.text(max_size=8), st.lists(st.integers(0, 3), max_size=2),
    st.complex_numbers(allow_nan=False, allow_infinity=False, min_magnitude=1),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=1),
)


def param_value(spec, cap: int | None = None) -> st.SearchStrategy:
    """Values a declared parameter accepts (integers at most ``cap``, for runs)."""
    if spec.kind == "bool":
        out = st.booleans()
    elif spec.kind == "choice":
        out = st.sampled_from(spec.choices)
    else:
        high = spec.high if cap is None or spec.kind != "int" else min(spec.high,
                                                                      max(cap, spec.low))
        out = inside(Interval(spec.low, high, spec.low_open, spec.high_open,
                              integer=spec.kind == "int"))
    for word in spec.words:
        out = out | st.just(word)
    return out | st.none() if spec.nullable else out


@st.composite
def params_of(draw, cls, cap: int | None = None) -> dict:
    """Some of ``cls``'s declared parameters, each a value its declaration accepts."""
    chosen = draw(st.lists(st.sampled_from(cls.params), unique_by=lambda p: p.name)
                  if cls.params else st.just([]))
    return {spec.name: draw(param_value(spec, cap)) for spec in chosen}


def bad_param_value(spec) -> st.SearchStrategy:
    """Values the declaration refuses."""
    if spec.kind == "bool":
        return st.integers() | st.text(max_size=4) | st.none()
    if spec.kind == "choice":
        return st.text(max_size=6).filter(lambda v: v not in spec.choices) | st.just(10**5000)
    lim = Interval(spec.low, spec.high, spec.low_open, spec.high_open,
                   integer=spec.kind == "int")
    bad = outside(lim) | st.lists(st.integers(0, 3), max_size=2) | st.text(max_size=6).filter(
        lambda v: v not in spec.words)
    return bad if spec.nullable else bad | st.none()


COLUMN = st.text(st.characters(codec="utf-8"), min_size=1, max_size=8).filter(str.strip)


@st.composite
def csv_fields(draw, dataset: str) -> dict:
    """A user's file, its label column and maybe features / positive class (not read here)."""
    if dataset != CSV:
        return {}
    return {"data": draw(COLUMN), "label": draw(COLUMN),
            "features": draw(st.none() | st.lists(COLUMN, min_size=1, max_size=3).map(tuple)),
            "positive": draw(st.none() | COLUMN)}


@st.composite
def valid_configs(draw, *, csv: bool = False, max_samples: int | None = None,
                  max_grid: int | None = None, max_C: float | None = None,
                  max_gamma: float | None = None, max_degree: int | None = None,
                  fast: bool = False, max_param: int | None = None):
    """Any config construction accepts. ``csv``: dataset "csv" too (never run here: it
    needs a real file, and tests/test_data_io.py runs those). ``fast``: the optimizing
    attacks only on 2-D data."""
    attack = draw(st.sampled_from(list(ATTACKS)))
    datasets = [d for d in DATASETS if not (fast and attack in OPTIMIZING
                                            and d in REAL_DATASETS)]
    dataset = draw(st.sampled_from([*datasets, CSV] if csv else datasets))
    lim = config_limits(dataset)
    n_samples = draw(inside(lim["n_samples"], max_samples))
    test_fraction = draw(inside(lim["test_fraction"]))
    defense = draw(st.sampled_from(list(DEFENSES)))
    lim = config_limits(dataset, test_fraction, n_samples=n_samples, defense=defense)
    if lim["trusted_fraction"].low > lim["trusted_fraction"].high:  # too few points to trust
        defense = draw(st.sampled_from([d for d, c in DEFENSES.items() if not c.needs_trusted]))
        lim = config_limits(dataset, test_fraction, n_samples=n_samples, defense=defense)
    return ExperimentConfig(
        dataset=dataset,
        n_samples=n_samples,
        noise=draw(st.none() | inside(lim["noise"])),
        test_fraction=test_fraction,
        trusted_fraction=draw(inside(lim["trusted_fraction"])),
        attack=attack,
        poison_rate=draw(inside(lim["poison_rate"])),
        defense=defense,
        attack_params=draw(params_of(ATTACKS[attack], max_param)),
        defense_params=draw(params_of(DEFENSES[defense], max_param)),
        model=draw(st.sampled_from(list(MODELS))),
        kernel=draw(st.sampled_from(list(KERNELS))),
        C=draw(inside(lim["C"], max_C)),
        gamma=draw(st.sampled_from(["scale", "auto"]) | inside(lim["gamma"], max_gamma)),
        degree=draw(inside(lim["degree"], max_degree)),
        seed=draw(inside(lim["seed"])),
        grid_resolution=draw(inside(lim["grid_resolution"], max_grid)),
        **draw(csv_fields(dataset)),
    )


@st.composite
def one_bad_field(draw):
    """A valid config's values with exactly one field made invalid: (values, field)."""
    base = draw(valid_configs(csv=True))
    values = base.to_dict()
    lim = config_limits(base.dataset, base.test_fraction, n_samples=base.n_samples,
                        defense=base.defense)
    is_csv = base.dataset == CSV
    params = [p for p in PARAM_FIELDS if getattr(base, p)]
    field = draw(st.sampled_from([*lim, *CHOICES, *(CSV_ONLY[:3] if is_csv else CSV_ONLY),
                                  *params, *PARAM_FIELDS]))
    if field in PARAM_FIELDS:  # one declared parameter made invalid, or an unknown one
        registry = ATTACKS if field == "attack_params" else DEFENSES
        cls = registry[getattr(base, field.split("_")[0])]
        if field in params and draw(st.booleans()):
            spec = draw(st.sampled_from(cls.params))
            values[field] = {**values[field], spec.name: draw(bad_param_value(spec))}
            return values, spec.name
        name = draw(st.text(min_size=1, max_size=6).filter(lambda n: n not in cls.param_specs()))
        values[field] = {**values[field], name: 1}
        return values, f"{cls.name} has no parameter"
    if field in CHOICES:
        bad = st.text(max_size=12).filter(lambda v: v not in CHOICES[field]) | WRONG_TYPES \
            | st.none() | st.integers() | st.just(10**5000)
    elif field in CSV_ONLY and not is_csv:  # only dataset "csv" takes these
        bad = st.text(min_size=1, max_size=8) | st.lists(st.text(max_size=3), min_size=1,
                                                         max_size=2)
    elif field in ("data", "label"):  # a csv needs a path and a label column
        bad = st.sampled_from(["", "  "]) | st.none() | st.integers() | st.lists(COLUMN)
    elif field == "features":  # a list of column names, or None for "all the others"
        bad = COLUMN | st.integers() | st.lists(st.integers(), min_size=1, max_size=2) \
            | st.lists(st.none(), min_size=1, max_size=2)
    else:
        bad = outside(lim[field]) | WRONG_TYPES.filter(
            lambda v: not (field == "gamma" and v in ("scale", "auto")))
        if field != "noise":  # noise=None means "the dataset's default"
            bad = bad | st.none()
    values[field] = draw(bad)
    return values, field


def summary_json(result) -> str:
    return json.dumps(result.summary(), sort_keys=True)


def check_result(r, config: ExperimentConfig) -> None:
    """What every valid result must satisfy."""
    for acc in (r.clean_accuracy, r.poisoned_accuracy, r.defended_accuracy):
        assert isinstance(acc, float) and 0.0 <= acc <= 1.0
    n, n_clean = len(r.y_train), len(r.y_clean)
    assert r.X_train.shape == (n, r.X_clean.shape[1]) and r.X_clean.shape[0] == n_clean
    for mask in (r.is_poison, r.is_clean, r.kept):
        assert mask.shape == (n,) and mask.dtype == bool
    assert r.suspicion.shape == (n,) and r.y_defended.shape == (n,)
    for labels in (r.y_clean, r.y_train, r.y_defended, r.y_test):
        assert set(np.unique(labels)) <= {0, 1}
    assert 0 <= r.n_poison <= budget(config.poison_rate, n_clean)
    assert len(r.X_test) == len(r.y_test) > 0
    d = r.detection
    assert all(0.0 <= v <= 1.0 for v in (d.precision, d.recall, d.f1))
    assert d.n_flagged == int((~r.is_clean).sum()) and d.n_poison == r.n_poison
    for score in (d.roc_auc, d.average_precision):
        assert score is None or 0.0 <= score <= 1.0
    if config.grid_resolution == 0:
        assert r.grid is None
    else:
        k = config.grid_resolution
        assert r.grid.x.shape == (k,) and r.grid.y.shape == (k,)
        for values in (r.grid.clean, r.grid.poisoned, r.grid.defended):
            assert values.shape == (k, k) and np.isfinite(values).all()
    json.loads(summary_json(r))  # JSON-ready


# --- properties ------------------------------------------------------------------------

@settings(max_examples=30 * SCALE)
@given(valid_configs(max_samples=RUN_MAX_SAMPLES, max_grid=RUN_MAX_GRID, max_C=RUN_MAX_C,
                     max_gamma=RUN_MAX_GAMMA, max_degree=RUN_MAX_DEGREE, fast=True,
                     max_param=RUN_MAX_PARAM))
def test_every_in_range_config_gives_a_valid_result(config):
    check_result(run_experiment(config), config)


@settings(max_examples=6 * SCALE)
@given(valid_configs(max_samples=RUN_MAX_SAMPLES, max_grid=3, max_C=RUN_MAX_C,
                     max_gamma=RUN_MAX_GAMMA, max_degree=RUN_MAX_DEGREE, fast=True,
                     max_param=RUN_MAX_PARAM))
def test_the_same_config_gives_the_same_result(config):
    a, b = run_experiment(config), run_experiment(config)
    assert summary_json(a) == summary_json(b)
    for name in ("X_train", "y_train", "is_poison", "is_clean", "suspicion", "kept"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))


@settings(max_examples=150 * SCALE)
@given(valid_configs())
def test_valid_configs_survive_json_and_rebuild_unchanged(config):
    again = ExperimentConfig.from_dict(json.loads(json.dumps(config.to_dict())))
    assert again == config and again.key() == config.key()


@settings(max_examples=250 * SCALE)
@given(one_bad_field())
def test_every_out_of_range_value_is_a_value_error_naming_its_field(case):
    values, field = case
    with pytest.raises(ValueError) as info:
        ExperimentConfig.from_dict(values)
    message = str(info.value)
    value = values.get(field)
    if field not in values:  # a declared parameter (or an unknown one) of the attack/defense
        assert message.startswith(f"{field}=") or message.startswith(field), message
    elif field == "trusted_fraction" and type(value) in (int, float) and value == 0:  # roni
        assert re.match(r"defense='\w+' needs trusted data; set trusted_fraction > 0", message)
    else:
        assert message.startswith(f"{field}="), message


@settings(max_examples=50 * SCALE)
@given(st.dictionaries(st.text(min_size=1, max_size=10), st.integers(), min_size=1, max_size=3))
def test_unknown_fields_are_named(extra):
    unknown = sorted(set(extra) - set(ExperimentConfig().to_dict()))
    if not unknown:
        return
    with pytest.raises(ValueError, match="unknown config field"):
        ExperimentConfig.from_dict({**ExperimentConfig().to_dict(), **extra})
