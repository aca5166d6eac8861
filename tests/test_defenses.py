"""The shared contract every registered defense must meet, plus per-defense properties."""

import numpy as np
import pytest

from core.attacks import make_attack
from core.datasets import make_dataset
from core.defenses import DEFENSES, make_defense
from core.metrics import detection_metrics


@pytest.fixture(scope="module")
def poisoned():
    d = make_dataset("moons", n_samples=300, random_state=2)
    return make_attack("label_flip", 0.2).poison(d.X_train, d.y_train, random_state=2)


@pytest.mark.parametrize("name", list(DEFENSES))
def test_defense_contract(name, poisoned):
    X, y = poisoned.X.copy(), poisoned.y.copy()
    s = make_defense(name).sanitize(X, y, random_state=0, is_poison=poisoned.is_poison)
    n = len(y)
    assert np.array_equal(X, poisoned.X) and np.array_equal(y, poisoned.y), "mutated input"
    for arr in (s.is_clean, s.keep):
        assert arr.shape == (n,) and arr.dtype == bool
    assert s.score.shape == (n,) and s.score.dtype == np.float64 and np.isfinite(s.score).all()
    assert s.y.shape == (n,) and set(np.unique(s.y)) <= {0, 1}
    if s.relabels:
        assert s.keep.all()
        assert np.array_equal(s.y[s.is_clean], y[s.is_clean])
    else:
        assert np.array_equal(s.keep, s.is_clean) and np.array_equal(s.y, y)
    again = make_defense(name).sanitize(X, y, random_state=0, is_poison=poisoned.is_poison)
    assert np.array_equal(s.is_clean, again.is_clean) and np.array_equal(s.score, again.score)


def test_none_keeps_everything(poisoned):
    s = make_defense("none").sanitize(poisoned.X, poisoned.y)
    assert s.is_clean.all() and s.n_flagged == 0


def test_oracle_removes_exactly_the_poison(poisoned):
    s = make_defense("oracle").sanitize(poisoned.X, poisoned.y, is_poison=poisoned.is_poison)
    assert np.array_equal(~s.is_clean, poisoned.is_poison)
    with pytest.raises(ValueError, match="needs the true is_poison mask"):
        make_defense("oracle").sanitize(poisoned.X, poisoned.y)


def test_isolation_forest_finds_far_injected_points():
    d = make_dataset("blobs", n_samples=400, random_state=0)
    p = make_attack("injection", 0.1, distance=8.0, spread=1.0).poison(d.X_train, d.y_train,
                                                                       random_state=0)
    s = make_defense("isolation_forest", contamination=0.1).sanitize(p.X, p.y, random_state=0)
    m = detection_metrics(p.is_poison, s.is_clean)
    # a dense cluster partly masks itself (Liu et al. 2008), so not every point is caught,
    # but flagged points are poison far above the 9% base rate
    assert m.recall >= 0.7 and m.precision >= 0.6
    # the suspicion score ranks poison above clean on average
    assert s.score[p.is_poison].mean() > s.score[~p.is_poison].mean()


@pytest.mark.parametrize("dataset", ["moons", "blobs"])
@pytest.mark.parametrize("seed", [0, 1])
def test_knn_sanitize_catches_random_flips(dataset, seed):
    d = make_dataset(dataset, n_samples=500, random_state=seed)
    p = make_attack("label_flip", 0.2).poison(d.X_train, d.y_train, random_state=seed)
    s = make_defense("knn_sanitize").sanitize(p.X, p.y)
    m = detection_metrics(p.is_poison, s.is_clean)
    assert m.recall >= 0.8 and m.precision >= 0.7
    fixed = s.y[p.is_poison & ~s.is_clean]
    assert np.array_equal(fixed, d.y_train[p.is_poison & ~s.is_clean]), "relabelled wrongly"


def test_knn_sanitize_drop_mode_drops(poisoned):
    s = make_defense("knn_sanitize", mode="drop").sanitize(poisoned.X, poisoned.y)
    assert not s.relabels and s.n_flagged > 0 and np.array_equal(s.keep, s.is_clean)


@pytest.mark.parametrize("name, kwargs, match", [
    ("isolation_forest", {"contamination": 0.9}, r"contamination=0.9 is out of range; expected a number in \(0, 0.5\]"),
    ("isolation_forest", {"contamination": "most"}, r"contamination='most' is not 'auto'"),
    ("knn_sanitize", {"k": 0}, r"k=0 is out of range"),
    ("knn_sanitize", {"threshold": 0.5}, r"threshold=0.5 is out of range; expected a number in \(0.5, 1\]"),
    ("knn_sanitize", {"mode": "delete"}, r"mode='delete' is not one of: relabel, drop"),
    ("sphere", {}, r"defense='sphere' is not one of: none"),
])
def test_defense_rejects_bad_parameters(name, kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_defense(name, **kwargs)


def test_detection_metrics_counts():
    truth = np.array([1, 1, 0, 0, 0], dtype=bool)
    clean = np.array([0, 1, 0, 1, 1], dtype=bool)  # flags rows 0 and 2
    m = detection_metrics(truth, clean)
    assert (m.n_flagged, m.n_poison_caught, m.n_clean_lost, m.n_poison) == (2, 1, 1, 2)
    assert m.precision == 0.5 and m.recall == 0.5 and m.f1 == 0.5
    none = detection_metrics(np.zeros(4, bool), np.ones(4, bool))
    assert (none.precision, none.recall, none.f1) == (0.0, 0.0, 0.0)
