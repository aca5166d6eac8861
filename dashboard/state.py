"""The dashboard's state: control values <-> ExperimentConfig <-> URL query string.

Pure functions (no Dash): the UI offers exactly the ranges defined here (and, for
the attack's and defense's own parameters, the ranges their classes declare), and
every value that arrives from the browser (a control or a URL) is checked against
them again on the server.

The selected attack's and defense's parameters travel under the keys
``attack.<name>`` and ``defense.<name>`` (:func:`param_key`), in the control values
and in the URL alike.
"""

from __future__ import annotations

import functools
import math
import os
import re
from typing import Any
from urllib.parse import parse_qsl, urlencode

from core import ATTACKS, DEFENSES, SCENARIOS, ExperimentConfig, scenario_config
from core.datasets import CSV, DATASETS
from core.matrix import MATRIX_TRUSTED_FRACTION
from dashboard import ids
from dashboard.cache import cache_dir

DEFAULT_SCENARIO = "seed-demo"

#: control id -> ExperimentConfig field
FIELDS: dict[str, str] = {
    ids.DATASET: "dataset",
    ids.N_SAMPLES: "n_samples",
    ids.NOISE: "noise",
    ids.ATTACK: "attack",
    ids.POISON_RATE: "poison_rate",
    ids.DEFENSE: "defense",
    ids.MODEL: "model",
    ids.KERNEL: "kernel",
    ids.C: "C",
    ids.GAMMA: "gamma",
    ids.DEGREE: "degree",
    ids.SEED: "seed",
    ids.DATA: "data",
    ids.CSV_LABEL: "label",
    ids.CSV_FEATURES: "features",
    ids.CSV_POSITIVE: "positive",
}
#: the controls that only apply to an uploaded CSV (left out of links for other datasets)
CSV_CONTROLS = (ids.DATA, ids.CSV_LABEL, ids.CSV_FEATURES, ids.CSV_POSITIVE)
_TOKEN = re.compile(r"^upload:([0-9a-f]{64})$")


def uploads_dir() -> str:
    return os.path.join(cache_dir(), "uploads")


def upload_path(token: Any) -> str:
    """The server file an upload token names; only tokens this server issued resolve."""
    match = _TOKEN.match(token) if isinstance(token, str) else None
    if not match:
        raise ValueError(f"data={token!r} is not an uploaded file; upload a CSV first")
    path = os.path.join(uploads_dir(), f"{match.group(1)}.csv")
    if not os.path.exists(path):
        raise ValueError("the uploaded file is no longer on this server; upload it again")
    return path


def upload_token(path: str) -> str:
    return f"upload:{os.path.splitext(os.path.basename(path))[0]}"
#: every fixed control the URL carries, in URL order (then the parameters)
CONTROLS: tuple[str, ...] = (ids.SCENARIO, *FIELDS)
#: kinds of declared parameters: kind -> (registry, the config field naming the algorithm)
PARAM_KINDS = {"attack": ATTACKS, "defense": DEFENSES}
#: link keys from before parameters were declared -> the defense parameter they set
LEGACY_QUERY = {"contamination": "contamination", "knn-k": "k", "knn-threshold": "threshold"}


def param_key(kind: str, name: str) -> str:
    """The control-value and URL key of a declared parameter: ``defense.contamination``."""
    return f"{kind}.{name}"


def split_param_key(key: str) -> tuple[str, str] | None:
    kind, dot, name = key.partition(".")
    return (kind, name) if dot and kind in PARAM_KINDS and name else None


def _params(kind: str, algorithm: Any, values: dict[str, Any]) -> dict[str, Any]:
    """The declared parameters of ``algorithm`` among the control values, checked.

    A browser sends typed values, a URL text; values for parameters the algorithm
    does not declare (the previous algorithm's controls, still on the page) are
    left out. Raises ``ValueError`` naming the first bad one.
    """
    cls = PARAM_KINDS[kind].get(algorithm) if isinstance(algorithm, str) else None
    if cls is None:
        return {}
    out = {}
    for spec in cls.params:
        key = param_key(kind, spec.name)
        if key in values:
            value = values[key]
            out[spec.name] = spec.parse(value) if isinstance(value, str) else spec.check(value)
    return cls.check_params(out)

# What the UI offers (and so all the server accepts from the browser); the parameters'
# ranges are their declarations'.
N_SAMPLES_RANGE = (100, 4000, 50)
POISON_RATE_RANGE = (0.0, 0.6, 0.01)
C_VALUES = (0.01, 0.1, 1.0, 10.0, 100.0, 1000.0)
GAMMA_VALUES = ("scale", 0.01, 0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 50.0)
DEGREE_VALUES = (2, 3, 4, 5)
SEED_RANGE = (0, 999_999)


def _num(field: str, value: Any, lo: float, hi: float, *, integer: bool = False) -> float | int:
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise ValueError(f"{field}={value!r} is not a number") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{field}={value!r} is not a finite number")
    if not lo <= value <= hi:
        raise ValueError(f"{field}={value:g} is out of range; the dashboard offers {lo:g} to "
                         f"{hi:g}")
    if integer:
        if float(value) != int(value):
            raise ValueError(f"{field}={value!r} is not a whole number")
        return int(value)
    return float(value)


def _one_of(field: str, value: Any, allowed: tuple) -> Any:
    """The entry of ``allowed`` that ``value`` (maybe a URL string) stands for."""
    number = None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            pass
    for option in allowed:
        if option == value or (number is not None and not isinstance(option, str)
                               and math.isclose(number, option)):
            return option
    shown = ", ".join(str(a) for a in allowed)
    raise ValueError(f"{field}={value!r} is not one of the dashboard's choices: {shown}")


def config_from_controls(values: dict[str, Any],
                         base: ExperimentConfig | None = None) -> ExperimentConfig:
    """Validate control values (as the browser sends them) into a config.

    ``values`` maps control ids to values, and ``attack.<name>`` / ``defense.<name>``
    to the selected algorithms' parameters (a missing one takes its default). Fields
    without a control (test and trusted fractions, grid size)
    come from ``base`` (a scenario's config; default: the defaults). Raises
    ``ValueError`` naming the first bad control.
    """
    v = dict(values)
    cfg: dict[str, Any] = {}
    for cid in (ids.DATASET, ids.ATTACK, ids.DEFENSE, ids.MODEL, ids.KERNEL):
        cfg[FIELDS[cid]] = v.get(cid)
    dataset = v.get(ids.DATASET)
    if dataset == CSV:
        cfg["data"] = upload_path(v.get(ids.DATA))
        label = v.get(ids.CSV_LABEL)
        if not isinstance(label, str) or not label:
            raise ValueError("choose the label column of your data")
        cfg["label"] = label
        feats = v.get(ids.CSV_FEATURES)
        if isinstance(feats, str):
            feats = [f for f in feats.split(",") if f]
        cfg["features"] = tuple(feats) if feats else None
        positive = v.get(ids.CSV_POSITIVE)
        cfg["positive"] = None if positive in (None, "") else str(positive)
        cfg["n_samples"], cfg["noise"] = 500, 0.0  # do not apply: the file decides
    else:
        cfg["n_samples"] = _num(ids.N_SAMPLES, v.get(ids.N_SAMPLES), *N_SAMPLES_RANGE[:2],
                                integer=True)
        max_noise = DATASETS[dataset].max_noise if dataset in DATASETS else 1.0
        cfg["noise"] = _num(ids.NOISE, v.get(ids.NOISE), 0.0, max_noise)
    cfg["poison_rate"] = _num(ids.POISON_RATE, v.get(ids.POISON_RATE), *POISON_RATE_RANGE[:2])
    for kind in PARAM_KINDS:
        cfg[f"{kind}_params"] = _params(kind, cfg[kind], v)
    cfg["C"] = _one_of(ids.C, v.get(ids.C), C_VALUES)
    cfg["gamma"] = _one_of(ids.GAMMA, v.get(ids.GAMMA), GAMMA_VALUES)
    cfg["degree"] = _one_of(ids.DEGREE, v.get(ids.DEGREE), DEGREE_VALUES)
    cfg["seed"] = _num(ids.SEED, v.get(ids.SEED), *SEED_RANGE, integer=True)
    base = base or ExperimentConfig()
    if cfg["defense"] in DEFENSES and DEFENSES[cfg["defense"]].needs_trusted \
            and base.trusted_fraction == 0:
        cfg["trusted_fraction"] = MATRIX_TRUSTED_FRACTION  # RONI's trusted sample
    return ExperimentConfig.from_dict({**base.to_dict(), **cfg})


def _fixed_fields(config: ExperimentConfig) -> tuple:
    """The fields no control sets (they come from a scenario or the defaults)."""
    return config.test_fraction, config.trusted_fraction, config.grid_resolution


@functools.lru_cache(maxsize=1)
def _ui_fixed_fields() -> frozenset[tuple]:
    bases = [ExperimentConfig(), *(scenario_config(name) for name in SCENARIOS)]
    fixed = {_fixed_fields(b) for b in bases}
    # RONI's trusted sample (config_from_controls adds it to a base without one)
    return frozenset(fixed | {(t, MATRIX_TRUSTED_FRACTION, g) for t, _, g in fixed})


def config_from_store(data: Any) -> ExperimentConfig:
    """A config the browser sent back (``config-store``, a job), checked to be one the UI makes.

    The store is written by the server, but it travels through the browser, so a crafted
    request can put anything in it: values outside the controls' ranges, or a server path
    as ``data``. Accept it only if the controls would have produced exactly this config
    (same ranges, uploads only from this server's upload folder) with the non-control
    fields of the defaults or a scenario. Raises ``ValueError``.
    """
    if not isinstance(data, dict):
        raise ValueError("the settings are not an object")
    try:
        config = ExperimentConfig.from_dict(data)
    except TypeError as exc:
        raise ValueError(f"invalid settings: {exc}") from None
    if _fixed_fields(config) not in _ui_fixed_fields():
        raise ValueError("test/trusted fractions or grid size are not the dashboard's")
    rebuilt = config_from_controls(controls_from_config(config), base=config)
    if rebuilt != config:
        raise ValueError("these settings are not ones the dashboard's controls offer")
    return config


def controls_from_config(config: ExperimentConfig) -> dict[str, Any]:
    """The control values that show ``config`` (its parameters under ``attack.<name>`` ...)."""
    values = {cid: getattr(config, field) for cid, field in FIELDS.items()}
    values[ids.DATA] = upload_token(config.data) if config.data else None
    values[ids.CSV_FEATURES] = list(config.features) if config.features else None
    for kind in PARAM_KINDS:
        for name, value in getattr(config, f"{kind}_params").items():
            values[param_key(kind, name)] = value
    return values


def param_values(values: dict[str, Any], kind: str) -> dict[str, Any]:
    """``{name: value}`` of the ``kind`` parameters among control values."""
    prefix = f"{kind}."
    return {k[len(prefix):]: v for k, v in values.items() if k.startswith(prefix)}


def default_config(scenario: str | None = DEFAULT_SCENARIO) -> ExperimentConfig:
    return scenario_config(scenario) if scenario in SCENARIOS else ExperimentConfig()


def query_from_state(scenario: str | None, config: ExperimentConfig) -> str:
    """``?scenario=...&dataset=...``: every control, so a link restores the exact view."""
    pairs = [(ids.SCENARIO, scenario)] if scenario else []
    for cid, value in controls_from_config(config).items():
        if cid in CSV_CONTROLS and value in (None, "", []):
            continue
        parts = split_param_key(cid)
        if parts is not None:
            kind, name = parts
            spec = PARAM_KINDS[kind][getattr(config, kind)].param_specs()[name]
            pairs.append((cid, spec.format(value)))
            continue
        if isinstance(value, list):
            value = ",".join(value)
        pairs.append((cid, format(value, "g") if isinstance(value, float) else str(value)))
    return "?" + urlencode(pairs)


def _legacy_params(params: dict[str, str]) -> dict[str, str]:
    """Old links' ``contamination`` / ``knn-k`` / ``knn-threshold`` as ``defense.*`` keys.

    Every old link carried all three, whichever defense it showed; each applies where
    the link's defense declares that parameter (as old exported configs do) and is
    otherwise dropped without a complaint. A new-style key wins over an old one.
    """
    out = dict(params)
    defense = DEFENSES.get(out.get(ids.DEFENSE, ""))
    for old, name in LEGACY_QUERY.items():
        if old not in out:
            continue
        value = out.pop(old)
        key = param_key("defense", name)
        if defense is not None and name in defense.param_specs() and key not in out:
            out[key] = value
    return out


def state_from_query(search: str | None) -> tuple[str | None, ExperimentConfig, list[str]]:
    """Parse a URL query string into (scenario, config, problems).

    Starts from the named scenario (or the default one), then applies every
    valid control value; an invalid value is skipped and reported in
    ``problems`` so that a mangled link still opens.
    """
    params = _legacy_params(dict(parse_qsl((search or "").lstrip("?"),
                                           keep_blank_values=True)))
    problems: list[str] = []
    scenario = params.pop(ids.SCENARIO, DEFAULT_SCENARIO if not params else None)
    if scenario is not None and scenario not in SCENARIOS:
        problems.append(f"scenario={scenario!r} is not one of: {', '.join(SCENARIOS)}")
        scenario = None
    base = default_config(scenario or DEFAULT_SCENARIO)
    values = controls_from_config(base)
    given_params = {k: v for k, v in params.items() if split_param_key(k) is not None}
    unknown = sorted(set(params) - set(FIELDS) - set(given_params))
    if unknown:
        problems.append(f"unknown link parameter(s) ignored: {', '.join(unknown)}")
    config = base
    given = {cid: params[cid] for cid in FIELDS if cid in params}
    # the base's parameters belong to the base's algorithms: a link naming another
    # attack or defense starts from that one's defaults (and its own link values)
    for kind in PARAM_KINDS:
        if kind in given and given[kind] != getattr(base, kind):
            values = {k: v for k, v in values.items() if not k.startswith(f"{kind}.")}
    try:  # all at once first: a CSV view needs dataset, data and label together
        config = config_from_controls({**values, **given, **given_params}, base)
        _unused(config, given_params, problems)
        return scenario, config, problems
    except ValueError:
        pass  # then one by one, so a single bad value does not lose the rest
    for cid in [*FIELDS, *given_params]:
        if cid not in params:
            continue
        trial = {**values, cid: params[cid]}
        try:
            config = config_from_controls(trial, base)
            values = trial
        except ValueError as exc:
            problems.append(str(exc))
    _unused(config, given_params, problems)
    return scenario, config, problems


def _unused(config: ExperimentConfig, given: dict[str, str], problems: list[str]) -> None:
    """Report link parameters the view's attack or defense does not declare."""
    stray = []
    for key in given:
        kind, name = split_param_key(key)
        if name not in PARAM_KINDS[kind][getattr(config, kind)].param_specs():
            stray.append(key)
    if stray:
        problems.append(f"parameter(s) the selected attack/defense does not have, ignored: "
                        f"{', '.join(sorted(stray))}")
