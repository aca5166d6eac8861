"""Parameters declared once, on the class: the declaration drives validation, the CLI, the
config, the dashboard's controls and its links -- checked over every registered algorithm,
and for a throw-away attack and defense registered here only, with no other change."""

import io
import json

import numpy as np
import pytest

from core import ATTACKS, DEFENSES, ExperimentConfig, run_experiment
from core.attacks.base import Attack, PoisonedSet, budget
from core.cli import main
from core.defenses.base import Defense, Sanitized
from core.params import Bool, Choice, Cost, Float, Int, carry_params, parse_assignments
from dashboard import ids

KINDS = {"attack": ATTACKS, "defense": DEFENSES}
EVERY = [(kind, name) for kind, reg in KINDS.items() for name in reg]


# --- the declarations themselves ---------------------------------------------------------

@pytest.mark.parametrize("kind, name", EVERY)
def test_every_declared_parameter_reads_back_what_it_writes(kind, name):
    cls = KINDS[kind][name]
    assert cls.check_params({}) == cls.defaults()
    for spec in cls.params:
        values = [spec.default]
        if spec.kind in ("int", "float"):
            values += [v for v in (spec.low, spec.high) if not (
                (v == spec.low and spec.low_open) or (v == spec.high and spec.high_open))]
        values += list(spec.choices) + list(spec.words) + ([True, False] if spec.kind == "bool"
                                                           else [])
        for value in values:
            if value is None and not spec.nullable:
                continue
            assert spec.parse(spec.format(spec.check(value))) == spec.check(value), spec.name
        assert spec.help and spec.allowed


@pytest.mark.parametrize("kind, name", EVERY)
def test_the_constructor_takes_exactly_the_declared_parameters(kind, name):
    cls = KINDS[kind][name]
    args = (0.1,) if kind == "attack" else ()
    built = cls(*args)
    assert built.get_params() == cls.defaults()
    with pytest.raises(ValueError, match=rf"{name} has no parameter 'bogus'; its parameters: "):
        cls(*args, bogus=1)
    for spec in cls.params:
        if spec.kind in ("int", "float"):
            with pytest.raises(ValueError, match=rf"^{spec.name}=.* (out of range|is not)"):
                cls(*args, **{spec.name: spec.high + 1})


def test_param_checks_name_the_value_and_the_range():
    k = Int("k", 5, 1, 10, "neighbours")
    assert k.check(3.0) == 3 and k.parse("4") == 4
    with pytest.raises(ValueError, match=r"k=11 is out of range; expected an integer in \[1, 10\]"):
        k.check(11)
    with pytest.raises(ValueError, match=r"k='many' is not an integer in \[1, 10\]"):
        k.parse("many")
    share = Float("share", "auto", 0.0, 0.5, "share", low_open=True, words=("auto",))
    assert share.check("auto") == "auto" and share.parse("0.25") == 0.25
    with pytest.raises(ValueError, match=r"share='most' is not a number in \(0, 0.5\] \(or "):
        share.check("most")
    with pytest.raises(ValueError, match=r"share=0 is out of range"):
        share.check(0)
    flag = Bool("flag", False, "a switch")
    assert flag.parse("true") is True and flag.parse("off") is False
    with pytest.raises(ValueError, match=r"flag=1 is not True or False"):
        flag.check(1)
    mode = Choice("mode", "drop", ("drop", "relabel"), "what happens")
    with pytest.raises(ValueError, match=r"mode='shred' is not one of: drop, relabel"):
        mode.parse("shred")
    with pytest.raises(ValueError, match=r"n=0 is out of range"):  # a bad default fails at once
        Int("n", 0, 1, 10, "count")
    assert parse_assignments(["k=5", "mode=drop"], "--p") == {"k": "5", "mode": "drop"}
    with pytest.raises(ValueError, match=r"--p 'k' is not NAME=VALUE"):
        parse_assignments(["k"], "--p")


def test_switching_carries_only_what_the_user_changed():
    iforest, lof, knn, trusted = (DEFENSES[n] for n in
                                  ("isolation_forest", "lof", "knn_sanitize", "trusted_knn"))
    assert carry_params(iforest, {"contamination": 0.3}, lof) == {"contamination": 0.3,
                                                                   "n_neighbors": 20}
    # knn_sanitize's default mode is relabel, trusted_knn's drop: a default is not carried
    assert carry_params(knn, knn.defaults(), trusted)["mode"] == "drop"
    assert carry_params(knn, {**knn.defaults(), "k": 7}, trusted)["k"] == 7


def test_cost_hints_and_baselines_live_on_the_classes():
    assert all(isinstance(c.cost, Cost) for reg in KINDS.values() for c in reg.values())
    assert {n for n, c in DEFENSES.items() if c.is_baseline} == {"none", "oracle"}
    assert ATTACKS["gradient"].cost.slow(10, 10)  # optimizes at any size
    assert DEFENSES["duti"].cost.counts == "seen"


# --- a throw-away attack and defense, registered in this test only -------------------------

class Shift(Attack):
    """Move a random share of the points by ``shift`` along the first feature, labels flipped.

    Test-only attack (no paper). Threat model: the attacker edits records.
    """

    name = "test_shift"
    summary = "test only: shift some points and flip them"
    params = (Float("shift", 0.5, 0.0, 3.0, "how far the points move, in feature units",
                    step=0.1),)
    cost = Cost(above=50)

    def poison(self, X, y, *, model=None, random_state=None) -> PoisonedSet:
        rs = np.random.RandomState(random_state)
        idx = rs.choice(len(y), size=budget(self.rate, len(y)), replace=False)
        X_p, y_p = X.copy(), y.copy()
        X_p[idx, 0] += self.shift
        y_p[idx] = 1 - y_p[idx]
        mask = np.zeros(len(y), dtype=bool)
        mask[idx] = True
        return PoisonedSet(X_p, y_p, mask)


class DropFirst(Defense):
    """Drop the ``share`` of points with the largest first feature.

    Test-only defense (no paper). Threat model: it knows nothing.
    """

    name = "test_drop_first"
    summary = "test only: drop the points with the largest first feature"
    params = (Float("share", 0.1, 0.0, 0.5, "share dropped", step=0.01),)

    def sanitize(self, X, y, *, model=None, random_state=None, is_poison=None,
                 trusted=None) -> Sanitized:
        score = np.asarray(X, dtype=float)[:, 0]
        cut = np.quantile(score, 1.0 - self.share)
        return self._drop(score > cut, score, np.asarray(y))


@pytest.fixture
def plugins():
    with ATTACKS.registered(Shift), DEFENSES.registered(DropFirst):
        yield
    assert "test_shift" not in ATTACKS and "test_drop_first" not in DEFENSES


def run_cli(*args):
    out = io.StringIO()
    return main(list(args), out=out), out.getvalue()


def test_the_cli_picks_a_new_algorithm_up(plugins, capsys):
    status, out = run_cli("list", "--json")
    cat = json.loads(out)
    assert cat["attacks"]["test_shift"]["params"]["shift"]["default"] == 0.5
    assert cat["defenses"]["test_drop_first"]["params"]["share"]["high"] == 0.5
    status, out = run_cli("run", "--dataset", "moons", "--n-samples", "200", "--attack",
                          "test_shift", "--attack-param", "shift=1.5", "--defense",
                          "test_drop_first", "--defense-param", "share=0.2", "--json")
    assert status == 0
    summary = json.loads(out)
    assert summary["config"]["attack_params"] == {"shift": 1.5}
    assert summary["config"]["defense_params"] == {"share": 0.2}
    assert summary["detection"]["n_flagged"] > 0
    status, _ = run_cli("run", "--attack", "test_shift", "--attack-param", "shift=9")
    assert status == 2
    assert "shift=9 is out of range; expected a number in [0, 3]" in capsys.readouterr().err


def test_the_config_round_trips_a_new_algorithms_parameters(plugins):
    config = ExperimentConfig(dataset="moons", n_samples=200, attack="test_shift",
                              attack_params={"shift": 2.0}, defense="test_drop_first",
                              grid_resolution=0)
    assert config.defense_params == {"share": 0.1}  # the default, filled in
    again = ExperimentConfig.from_dict(json.loads(json.dumps(config.to_dict())))
    assert again == config and again.key() == config.key()
    a, b = run_experiment(config), run_experiment(again)
    assert a.summary() == b.summary()
    moved = run_experiment(config.replace(attack_params={"shift": 0.0}))
    assert not np.array_equal(moved.X_train, a.X_train)  # the parameter reaches the attack
    with pytest.raises(ValueError, match=r"test_shift has no parameter 'k'"):
        config.replace(attack_params={"k": 1})


def test_the_dashboard_draws_a_new_algorithms_controls_and_links_them(plugins):
    from dashboard.callbacks.controls import render_params, sync_state
    from dashboard.layout import build_layout
    from dashboard.service import runs_in_background
    from dashboard.state import controls_from_config, query_from_state, state_from_query

    page = json.dumps(build_layout().to_plotly_json(),
                      cls=__import__("plotly").utils.PlotlyJSONEncoder)
    assert '"test_shift"' in page and '"test_drop_first"' in page  # in the dropdowns
    config = ExperimentConfig(dataset="moons", n_samples=100, attack="test_shift",
                              attack_params={"shift": 2.0}, defense="test_drop_first")
    store = {"config": config.to_dict(), "scenario": None, "problems": []}
    attack, defense = render_params(store, {})
    drawn = json.dumps([attack, defense], cls=__import__("plotly").utils.PlotlyJSONEncoder)
    assert f'"type": "{ids.PARAM}"' in drawn and '"kind": "attack"' in drawn
    assert '"name": "shift"' in drawn and '"name": "share"' in drawn
    assert "how far the points move" in drawn
    query = query_from_state(None, config)
    assert "attack.shift=2.0" in query and "defense.share=0.1" in query
    assert state_from_query(query)[1:] == (config, [])
    # moving the new control in the page: the store and the link follow
    values = controls_from_config(config)
    values["attack.shift"] = 1.2
    out = sync_state(query, None, values, ids.PARAM)
    assert out["store"]["config"]["attack_params"] == {"shift": 1.2}
    assert "attack.shift=1.2" in out["search"]
    # its cost hint decides the background: above 50 training points
    assert runs_in_background(config)  # 60 training points
    assert not runs_in_background(config.replace(n_samples=80))  # 48
