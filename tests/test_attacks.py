"""The shared contract every registered attack must meet, plus per-attack properties."""

from dataclasses import replace

import numpy as np
import pytest

from core.attacks import ATTACKS, budget, make_attack
from core.datasets import make_dataset
from core.models import fit_clone, make_model


@pytest.fixture(scope="module")
def data():
    return make_dataset("moons", n_samples=250, random_state=1)


MODEL = make_model("svm", kernel="rbf")


@pytest.mark.parametrize("name", list(ATTACKS))
@pytest.mark.parametrize("rate", [0.0, 0.05, 0.3])
def test_attack_contract(name, rate, data):
    X, y = data.X_train, data.y_train
    X0, y0 = X.copy(), y.copy()
    p = make_attack(name, rate).poison(X, y, model=MODEL, random_state=0)
    n = len(y)
    assert np.array_equal(X, X0) and np.array_equal(y, y0), "attack mutated its input"
    # a backdoor whose trigger is an added feature has exactly one more column (zeros on
    # the clean rows); every other attack keeps the feature space
    extra = int(p.trigger is not None and p.trigger.added)
    assert p.X.ndim == 2 and p.X.shape[1] == X.shape[1] + extra and p.X.dtype == np.float64
    if extra:
        assert np.all(p.X[:n, -1] == 0)
        p = replace(p, X=p.X[:, :-1])
    assert p.y.shape == (len(p.X),) and p.is_poison.shape == (len(p.X),)
    assert p.is_poison.dtype == bool and p.y.dtype == y.dtype
    assert set(np.unique(p.y)) <= {0, 1}
    assert p.n_poison <= budget(rate, n)
    if rate > 0:
        assert p.n_poison > 0
    # clean rows are untouched
    clean = ~p.is_poison
    if len(p.y) == n:
        assert np.array_equal(p.X[clean], X[clean]) and np.array_equal(p.y[clean], y[clean])
    else:
        assert np.array_equal(p.X[:n], X) and np.array_equal(p.y[:n], y)
    assert np.isfinite(p.X).all()


@pytest.mark.parametrize("name", list(ATTACKS))
def test_attack_is_deterministic(name, data):
    a = make_attack(name, 0.2).poison(data.X_train, data.y_train, model=MODEL, random_state=5)
    b = make_attack(name, 0.2).poison(data.X_train, data.y_train, model=MODEL, random_state=5)
    assert np.array_equal(a.X, b.X) and np.array_equal(a.y, b.y)
    assert np.array_equal(a.is_poison, b.is_poison)


@pytest.mark.parametrize("name", list(ATTACKS))
@pytest.mark.parametrize("rate, match", [
    (1.0, r"poison_rate=1 is out of range; expected a number in \[0, 1\)"),
    (-0.1, r"poison_rate=-0.1 is out of range"),
    ("0.1", r"poison_rate='0.1' is not a number")])
def test_attack_rejects_bad_rate(name, rate, match):
    with pytest.raises(ValueError, match=match):
        make_attack(name, rate)


def test_unknown_attack_names_the_choices():
    with pytest.raises(ValueError, match=r"attack='gradient_x' is not one of: label_flip"):
        make_attack("gradient_x", 0.1)


def test_label_flip_flips_exactly_the_masked_labels(data):
    X, y = data.X_train, data.y_train
    p = make_attack("label_flip", 0.2).poison(X, y, random_state=0)
    assert p.n_poison == budget(0.2, len(y))
    assert np.array_equal(p.y[p.is_poison], 1 - y[p.is_poison])
    assert np.array_equal(p.X, X)


def test_targeted_flip_takes_one_class_nearest_the_boundary(data):
    X, y = data.X_train, data.y_train
    p = make_attack("targeted_flip", 0.1, flip_class=0).poison(X, y, model=MODEL)
    assert (y[p.is_poison] == 0).all() and (p.y[p.is_poison] == 1).all()
    margin = np.abs(fit_clone(MODEL, X, y).decision_function(X))
    others = (y == 0) & ~p.is_poison
    assert margin[p.is_poison].max() <= margin[others].min()


def test_targeted_flip_hurts_more_than_random_flips():
    drops = {"label_flip": [], "targeted_flip": []}
    model = make_model("svm", kernel="linear")
    for seed in range(4):
        d = make_dataset("blobs", n_samples=300, random_state=seed)
        clean = fit_clone(model, d.X_train, d.y_train).score(d.X_test, d.y_test)
        for name in drops:
            p = make_attack(name, 0.2).poison(d.X_train, d.y_train, model=model, random_state=seed)
            drops[name].append(clean - fit_clone(model, p.X, p.y).score(d.X_test, d.y_test))
    assert np.mean(drops["targeted_flip"]) > np.mean(drops["label_flip"]) + 0.02


def test_injection_follows_its_placement_rule(data):
    X, y = data.X_train, data.y_train
    atk = make_attack("injection", 0.2, label=1, distance=3.0, spread=0.0)
    p = atk.poison(X, y, random_state=0)
    pts = p.X[p.is_poison]
    assert (p.y[p.is_poison] == 1).all()
    assert np.allclose(pts, atk.centre(X, y))
    # beyond the class-0 centroid, seen from the class-1 centroid
    c1, c0 = X[y == 1].mean(0), X[y == 0].mean(0)
    assert np.linalg.norm(pts[0] - c1) > np.linalg.norm(c0 - c1)


def test_targeted_flip_requires_a_model(data):
    with pytest.raises(ValueError, match="needs the victim model"):
        make_attack("targeted_flip", 0.1).poison(data.X_train, data.y_train)


def test_targeted_injection_makes_its_targets_approved():
    """The attacker's goal, measured: targets the clean model rejects, then accepts."""
    from core.metrics import target_success_rate

    wins = []
    for seed in range(5):
        d = make_dataset("loan", n_samples=500, random_state=seed)
        p = make_attack("targeted_injection", 0.15).poison(d.X_train, d.y_train, model=MODEL,
                                                           random_state=seed)
        clean = fit_clone(MODEL, d.X_train, d.y_train)
        poisoned = fit_clone(MODEL, p.X, p.y)
        assert p.target_label == 1 and p.targets.shape == (5, 2)
        assert np.array_equal(p.targets, d.X_train[p.target_index])
        assert (d.y_train[p.target_index] == 0).all()  # real rejected applications
        assert target_success_rate(clean, p.targets, 1) == 0.0
        assert (p.y[p.is_poison] == 1).all() and p.n_poison == budget(0.15, len(d.y_train))
        wins.append(target_success_rate(poisoned, p.targets, 1))
        # stealthy: the accuracy on everyone else barely moves
        assert clean.score(d.X_test, d.y_test) - poisoned.score(d.X_test, d.y_test) < 0.1
    assert np.mean(wins) >= 0.8, wins


def test_targeted_injection_targets_a_tight_group_at_the_chosen_depth(data):
    from core.attacks.targeted import pick_targets

    clean = fit_clone(MODEL, data.X_train, data.y_train)
    margin = clean.decision_function(data.X_train)
    near = pick_targets(data.X_train, data.y_train, margin, n_targets=4, target_label=1, depth=0.0)
    deep = pick_targets(data.X_train, data.y_train, margin, n_targets=4, target_label=1, depth=1.0)
    assert (data.y_train[near] == 0).all() and (margin[near] < 0).all()
    assert (np.max(margin[deep]) < np.min(margin[near])
            or -margin[deep].mean() > -margin[near].mean())
    with pytest.raises(ValueError, match="targeted_injection needs the victim model"):
        make_attack("targeted_injection", 0.1).poison(data.X_train, data.y_train)
    with pytest.raises(ValueError, match=r"n_targets=0 is out of range"):
        make_attack("targeted_injection", 0.1, n_targets=0)


def test_target_success_rate_counts_and_checks_its_input():
    from core.metrics import target_success_rate
    from core.models import ConstantClassifier

    always_one = ConstantClassifier(1)
    assert target_success_rate(always_one, np.zeros((3, 2)), 1) == 1.0
    assert target_success_rate(always_one, np.zeros((3, 2)), 0) == 0.0
    with pytest.raises(ValueError, match=r"targets has shape \(0, 2\)"):
        target_success_rate(always_one, np.zeros((0, 2)), 1)


def test_targeted_injection_when_the_clean_model_already_gives_everything_away():
    from core import ExperimentConfig, run_experiment

    # a tiny C makes the linear SVM predict one class everywhere (found by hypothesis)
    r = run_experiment(ExperimentConfig(dataset="blobs", n_samples=40, test_fraction=0.625,
                                        attack="targeted_injection", poison_rate=0.1,
                                        defense="none", kernel="linear", C=0.015625,
                                        grid_resolution=0))
    assert len(r.targets) == 5 and (r.y_clean[r.target_index] == 0).all()
    assert 0.0 <= r.target_success["clean"] <= 1.0
