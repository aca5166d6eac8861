"""The optimizing attacks: gradient correctness, monotone progress, damage, constraints."""

import numpy as np
import pytest
from sklearn.datasets import make_blobs
from sklearn.linear_model import LogisticRegression
from sklearn.svm import SVC

from core.attacks import make_attack
from core.attacks.gradient import objective, poison_gradient
from core.datasets import make_dataset
from core.models import fit_clone, make_model


def _tiny():
    X, y = make_blobs(60, centers=[[-1.5, 0], [1.5, 0]], cluster_std=1.0, random_state=1)
    Xv, yv = make_blobs(80, centers=[[-1.5, 0], [1.5, 0]], cluster_std=1.0, random_state=2)
    Xa = np.vstack([X, X[:4] + 0.3])
    ya = np.concatenate([y, 1 - y[:4]])
    return Xa, ya, np.arange(60, 64), Xv, yv


@pytest.mark.parametrize("clf", [SVC(kernel="rbf", C=1.0, gamma=0.5, tol=1e-12),
                                 LogisticRegression(C=1.0, tol=1e-12, max_iter=10_000)])
@pytest.mark.parametrize("kind", ["loss", "error"])
def test_implicit_gradient_matches_finite_differences(clf, kind):
    """Refit the victim at x +- eps for every poison coordinate; compare with the KKT gradient."""
    Xa, ya, P, Xv, yv = _tiny()
    svm = isinstance(clf, SVC)

    def value(X_):
        m = type(clf)(**clf.get_params()).fit(X_, ya)
        return objective(kind, m.decision_function(Xv), yv, svm=svm), m

    (_, dobj), fitted = value(Xa)
    analytic = poison_gradient(fitted, Xa, ya, P, Xv, dobj)
    numeric = np.zeros_like(analytic)
    eps = 1e-5
    for i, row in enumerate(P):
        for j in range(Xa.shape[1]):
            up, down = Xa.copy(), Xa.copy()
            up[row, j] += eps
            down[row, j] -= eps
            numeric[i, j] = (value(up)[0][0] - value(down)[0][0]) / (2 * eps)
    scale = np.abs(numeric).max()
    assert scale > 1e-4, "degenerate check: nothing moves"
    # libsvm solves to a tolerance, so allow 2% of the largest component
    assert np.allclose(analytic, numeric, rtol=0.02, atol=0.02 * scale)


@pytest.mark.parametrize("kind", ["loss", "error"])
@pytest.mark.parametrize("svm", [True, False])
def test_objective_derivative_matches_finite_differences(kind, svm):
    rs = np.random.RandomState(0)
    f, y = rs.normal(size=40) * 2, rs.randint(0, 2, size=40)
    f[np.abs(1 - (2 * y - 1) * f) < 1e-3] += 0.01  # away from the hinge's kink
    _, d = objective(kind, f, y, svm=svm)
    num = np.array([(objective(kind, f + e, y, svm=svm)[0] - objective(kind, f - e, y, svm=svm)[0])
                    / 2e-6 for e in np.eye(40) * 1e-6])
    assert np.allclose(d, num, rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize("kernel", ["linear", "rbf"])
def test_gradient_attack_raises_its_objective_monotonically_within_the_box(kernel):
    d = make_dataset("blobs", n_samples=300, random_state=0)
    atk = make_attack("gradient", 0.15, steps=15)
    p = atk.poison(d.X_train, d.y_train, model=make_model("svm", kernel=kernel), random_state=0)
    h = np.array(atk.history_)
    assert len(h) >= 2 and np.all(np.diff(h) > 0) and h[-1] > h[0]
    pts = p.X[p.is_poison]
    assert (pts >= d.X_train.min(axis=0) - 1e-9).all()
    assert (pts <= d.X_train.max(axis=0) + 1e-9).all()
    assert len(atk.path_) == len(h) and np.allclose(atk.path_[-1], pts)


def test_box_margin_widens_the_box():
    d = make_dataset("blobs", n_samples=300, random_state=0)
    lo, hi = d.X_train.min(axis=0), d.X_train.max(axis=0)
    outside = []
    for margin in (0.0, 1.0):
        atk = make_attack("gradient", 0.15, box_margin=margin, steps=60)
        p = atk.poison(d.X_train, d.y_train, model=make_model("svm", kernel="linear"),
                       random_state=0)
        pts = p.X[p.is_poison]
        assert (pts >= lo - margin * (hi - lo) - 1e-9).all()
        assert (pts <= hi + margin * (hi - lo) + 1e-9).all()
        outside.append(((pts < lo - 1e-9) | (pts > hi + 1e-9)).any())
    assert outside == [False, True]


def _drops(names, dataset, kernel, rate, seeds, model="svm", n_samples=400):
    out = {n: [] for n in names}
    for seed in seeds:
        d = make_dataset(dataset, n_samples=n_samples, random_state=seed)
        m = make_model(model, kernel=kernel)
        clean = fit_clone(m, d.X_train, d.y_train).score(d.X_test, d.y_test)
        for n in names:
            p = make_attack(n, rate).poison(d.X_train, d.y_train, model=m, random_state=seed)
            out[n].append(clean - fit_clone(m, p.X, p.y).score(d.X_test, d.y_test))
    return {n: float(np.mean(v)) for n, v in out.items()}


def test_gradient_attack_hurts_a_linear_svm_far_more_than_random_flips():
    drops = _drops(["label_flip", "gradient"], "blobs", "linear", 0.2, [0, 1])
    assert drops["gradient"] >= 0.10
    assert drops["gradient"] > drops["label_flip"] + 0.05


def test_gradient_attack_works_on_logistic_regression():
    drops = _drops(["label_flip", "gradient"], "blobs", "rbf", 0.2, [0, 1], model="logreg")
    assert drops["gradient"] > drops["label_flip"] + 0.05


@pytest.mark.parametrize("dataset, kernel, rate", [("blobs", "rbf", 0.1), ("moons", "rbf", 0.2),
                                                   ("linear", "linear", 0.3)])
def test_alfa_does_at_least_as_much_damage_as_targeted_flip(dataset, kernel, rate):
    drops = _drops(["targeted_flip", "alfa"], dataset, kernel, rate, range(5), n_samples=500)
    assert drops["alfa"] >= drops["targeted_flip"]


def test_gradient_attack_uses_a_given_validation_set_and_is_deterministic():
    d = make_dataset("moons", n_samples=200, random_state=3)
    val = make_dataset("moons", n_samples=200, random_state=4)
    kw = dict(model=make_model("svm", kernel="rbf"), random_state=1,
              validation=(val.X_train, val.y_train))
    a = make_attack("gradient", 0.1).poison(d.X_train, d.y_train, **kw)
    b = make_attack("gradient", 0.1).poison(d.X_train, d.y_train, **kw)
    c = make_attack("gradient", 0.1).poison(d.X_train, d.y_train, **{**kw, "validation": None})
    assert np.array_equal(a.X, b.X) and not np.array_equal(a.X, c.X)


@pytest.mark.parametrize("name", ["gradient", "alfa"])
def test_optimizing_attacks_need_a_supported_model(name):
    d = make_dataset("moons", n_samples=100, random_state=0)
    with pytest.raises(ValueError, match="needs the victim model"):
        make_attack(name, 0.1).poison(d.X_train, d.y_train)
    from sklearn.tree import DecisionTreeClassifier
    with pytest.raises(ValueError, match="unsupported victim classifier DecisionTreeClassifier"):
        make_attack(name, 0.1).poison(d.X_train, d.y_train, model=DecisionTreeClassifier())


def test_gradient_path_is_recorded_and_drawn():
    from core import ExperimentConfig, run_experiment
    from dashboard.figures import decision_panel, untyped
    r = run_experiment(ExperimentConfig(dataset="blobs", n_samples=200, attack="gradient",
                                        poison_rate=0.1, kernel="linear", defense="none",
                                        grid_resolution=10))
    path = r.poison_path
    assert path.shape[1:] == (r.n_poison, 2) and len(path) >= 2
    assert np.allclose(path[-1], r.X_train[r.is_poison])
    trace = {t.name: t for t in decision_panel(r, "poisoned").data}["poison path"]
    xs = untyped(trace.x)
    assert len(xs) == r.n_poison * (len(path) + 1) and np.isnan(xs[len(path)])


def test_refit_scaler_scores_the_victim_exactly_as_it_will_be_trained():
    """With ``refit_scaler`` the last recorded objective is the real victim's (its scaler
    refitted on the poisoned set); estimated once on the clean data it is not."""
    d = make_dataset("digits", n_samples=120, random_state=0)
    val = (d.X_test[:40], d.y_test[:40])
    values = {}
    for refit in (True, False):
        atk = make_attack("gradient", 0.15, steps=8, refit_scaler=refit)
        m = make_model("svm", kernel="linear")
        p = atk.poison(d.X_train, d.y_train, model=m, random_state=0, validation=val)
        h = np.array(atk.history_)
        assert len(h) >= 2 and np.all(np.diff(h) > 0)
        victim = fit_clone(m, p.X, p.y)
        values[refit] = (h[-1], objective("loss", victim.decision_function(val[0]), val[1],
                                          svm=True)[0])
    assert np.isclose(*values[True], rtol=1e-9, atol=1e-12)
    assert not np.isclose(*values[False], rtol=1e-6, atol=1e-9)


def test_restarts_keep_the_best_ascent_and_stay_deterministic():
    d = make_dataset("digits", n_samples=120, random_state=2)
    kw = dict(model=make_model("svm", kernel="linear"), random_state=0,
              validation=(d.X_test[:40], d.y_test[:40]))
    finals, points = {}, {}
    for restarts in (0, 3, 3):
        atk = make_attack("gradient", 0.15, steps=10, objective="error", restarts=restarts)
        p = atk.poison(d.X_train, d.y_train, **kw)
        assert np.all(np.diff(atk.history_) > 0)
        finals.setdefault(restarts, []).append(atk.history_[-1])
        points.setdefault(restarts, []).append(p.X)
    # the two boundary ascents are among the five; here a random restart ends higher
    assert finals[3][0] > finals[0][0]
    assert np.array_equal(points[3][0], points[3][1]) and finals[3][0] == finals[3][1]
    with pytest.raises(ValueError, match="restarts"):
        make_attack("gradient", 0.1, restarts=-1)


def test_poisoning_certificate_is_the_svm_objective_and_bounds_a_real_attack():
    """scripts/gradient_ceiling.py's bound (Steinhardt et al. 2017): with no poison it is
    the clean SVM's own optimum; with 15 points it is at least what an attack achieves."""
    from sklearn.preprocessing import StandardScaler

    from scripts.gradient_ceiling import error_bound, split

    d = split(0)
    X, y = d["X"], d["y"]
    Z = StandardScaler().fit_transform(X)
    svc = SVC(kernel="linear", C=1.0, tol=1e-8).fit(Z, y)
    w, b = svc.coef_[0], svc.intercept_[0]
    primal = 0.5 * w @ w + np.maximum(0.0, 1.0 - (2 * y - 1) * (Z @ w + b)).sum()
    assert error_bound(X, y, 0) == pytest.approx(primal, rel=1e-3)

    bound = error_bound(X, y, 15)
    assert bound > error_bound(X, y, 0)
    # a real attack in the same box and the same (clean) standardization stays under it
    victim = make_model("svm", kernel="linear", C=1.0)
    p = make_attack("gradient", 0.15, objective="error").poison(
        X, y, model=victim, random_state=0, validation=(X, y))
    scaler = StandardScaler().fit(X)
    attacked = SVC(kernel="linear", C=1.0).fit(scaler.transform(p.X), p.y)
    margins = (2 * y - 1) * attacked.decision_function(scaler.transform(X))
    assert 0 < np.maximum(0.0, 1.0 - margins).sum() <= bound
