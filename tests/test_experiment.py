import json

import numpy as np
import pytest

from core import ExperimentConfig, run_experiment, scenario_config
from core.attacks import ATTACKS
from core.defenses import DEFENSES
from core.scenarios import SCENARIOS

SMALL = dict(n_samples=200, grid_resolution=20)


def test_result_is_bit_for_bit_deterministic():
    cfg = ExperimentConfig(dataset="moons", attack="targeted_flip", defense="isolation_forest",
                           contamination=0.1, **SMALL)
    a, b = run_experiment(cfg), run_experiment(cfg)
    assert a.to_json(arrays=True) == b.to_json(arrays=True)
    other = run_experiment(cfg.replace(seed=1))
    assert other.to_json(arrays=True) != a.to_json(arrays=True)


@pytest.mark.parametrize("attack", list(ATTACKS))
@pytest.mark.parametrize("defense", list(DEFENSES))
def test_every_attack_defense_pair_runs(attack, defense):
    trusted = 0.1 if DEFENSES[defense].needs_trusted else 0.0
    r = run_experiment(ExperimentConfig(attack=attack, defense=defense, poison_rate=0.15,
                                        trusted_fraction=trusted, **SMALL))
    for acc in (r.clean_accuracy, r.poisoned_accuracy, r.defended_accuracy):
        assert 0.0 <= acc <= 1.0
    assert r.n_train == 120 and r.n_poison == 18 and len(r.y_test) == (60 if trusted else 80)
    assert r.grid.clean.shape == r.grid.defended.shape == (20, 20)
    assert r.detection.n_poison == r.n_poison
    if defense == "oracle":
        assert r.detection.precision == r.detection.recall == 1.0
        assert r.detection.roc_auc == r.detection.average_precision == 1.0
    if defense == "none":
        assert r.defended_accuracy == r.poisoned_accuracy and r.detection.n_flagged == 0


def test_test_set_is_held_out_and_untouched_by_the_attack():
    base = ExperimentConfig(**SMALL)
    results = [run_experiment(base.replace(attack=a, poison_rate=0.3)) for a in ATTACKS]
    d = results[0].X_test.shape[1]
    for r in results[1:]:  # a backdoor's trigger feature is appended as a zero column
        assert np.array_equal(r.X_test[:, :d], results[0].X_test)
        assert r.X_test.shape[1] == d or np.all(r.X_test[:, d:] == 0)
        assert np.array_equal(r.y_test, results[0].y_test)
        assert r.clean_accuracy == results[0].clean_accuracy
    # no test point is in the training set
    train = {tuple(x) for x in results[0].X_clean}
    assert not any(tuple(x) in train for x in results[0].X_test)


def test_clean_accuracy_is_measured_on_the_test_set():
    r = run_experiment(ExperimentConfig(dataset="moons", defense="none", **SMALL))
    from core.models import fit_clone, make_model
    m = fit_clone(make_model("svm", kernel="rbf"), r.X_clean, r.y_clean)
    assert r.clean_accuracy == m.score(r.X_test, r.y_test)


def test_grid_covers_every_point_and_matches_the_models():
    r = run_experiment(ExperimentConfig(attack="injection", poison_rate=0.2, **SMALL))
    g = r.grid
    pts = np.vstack([r.X_train, r.X_test])
    assert g.x[0] <= pts[:, 0].min() and g.x[-1] >= pts[:, 0].max()
    assert g.y[0] <= pts[:, 1].min() and g.y[-1] >= pts[:, 1].max()
    # the sign of the clean grid agrees with the clean training labels on most nearby points
    assert np.sign(g.clean).min() < 0 < np.sign(g.clean).max()


def test_zero_rate_means_no_poison():
    r = run_experiment(ExperimentConfig(poison_rate=0.0, defense="none", **SMALL))
    assert r.n_poison == 0 and r.poisoned_accuracy == r.clean_accuracy


def test_summary_is_json_and_has_the_contract_keys():
    s = json.loads(json.dumps(run_experiment(ExperimentConfig(**SMALL)).summary()))
    for key in ("clean_accuracy", "poisoned_accuracy", "defended_accuracy", "n_train", "n_poison"):
        assert key in s
    assert set(s["detection"]) >= {"precision", "recall", "f1", "n_flagged"}
    assert ExperimentConfig.from_dict(s["config"]) == ExperimentConfig(**SMALL)


@pytest.mark.parametrize("field, value, match", [
    ("poison_rate", 1.5, r"poison_rate=1.5 is out of range; expected a number in \[0, 1\)"),
    ("poison_rate", float("inf"), r"poison_rate=inf is not finite"),
    ("defense_params", {"k": 0}, r"k=0 is out of range; expected an integer in \[1, 100\]"),
    ("defense_params", {"colour": 1},
     r"knn_sanitize has no parameter 'colour'; its parameters: k, threshold, mode"),
    ("attack_params", {"flip_class": 1}, r"label_flip has no parameter 'flip_class'; its "
     r"parameters: none"),
    ("defense_params", [("k", 3)], r"defense_params=\[\('k', 3\)\] is not a mapping"),
    ("kernel", "cubic", r"kernel='cubic' is not one of: linear, rbf, poly, sigmoid"),
    ("model", "mlp", r"model='mlp' is not one of: svm, logreg"),
    ("gamma", 0, r"gamma=0 is out of range"),
    ("gamma", "big", r"gamma='big' is not one of: scale, auto"),
    ("C", -1, r"C=-1 is out of range"),
    ("n_samples", 10**9, r"n_samples=1000000000 is out of range"),
    ("seed", -1, r"seed=-1 is out of range"),
    ("seed", 1.5, r"seed=1.5 is not an integer"),
    ("noise", 5.0, r"noise=5 is out of range"),
])
def test_config_validation_names_the_field(field, value, match):
    with pytest.raises(ValueError, match=match):
        ExperimentConfig(**{field: value})


# Found by tests/test_properties.py: each used to be accepted, or to escape as another error.
@pytest.mark.parametrize("field, value, match", [
    ("defense_params", {"k": True}, r"k=True is not an integer"),  # was knn_k=1
    ("degree", True, r"degree=True is not an integer"),
    ("seed", False, r"seed=False is not an integer"),  # was seed=0
    ("C", 10**400, r"C=1000.*\.\.\. is out of range; expected a number in \(0, 10000\]"),
    ("poison_rate", -10**400, r"poison_rate=-1000.*\.\.\. is out of range"),  # OverflowError
    ("seed", 10**5000, r"seed=<an integer of 16610 bits> is out of range"),  # repr's digit limit
    ("model", 10**5000, r"model=<an integer of 16610 bits> is not one of"),
], ids=["bool-knn_k", "bool-degree", "bool-seed", "huge-C", "huge-rate", "vast-seed", "vast-model"])
def test_config_validation_of_bools_and_huge_numbers(field, value, match):
    with pytest.raises(ValueError, match=match):
        ExperimentConfig(**{field: value})


def test_csv_features_that_are_not_a_list_are_named():  # was a TypeError (not iterable)
    with pytest.raises(ValueError, match=r"features=3 is not a list of column names"):
        ExperimentConfig(dataset="csv", data="x.csv", label="y", features=3)


def test_from_dict_rejects_unknown_fields():
    with pytest.raises(ValueError, match=r"unknown config field\(s\): colour"):
        ExperimentConfig.from_dict({"colour": "red"})


def test_defense_that_leaves_one_class_does_not_crash():
    # a huge targeted flip makes the training set almost one class; nothing may crash
    r = run_experiment(ExperimentConfig(dataset="blobs", attack="targeted_flip", poison_rate=0.9,
                                        defense="knn_sanitize", **SMALL))
    assert 0.0 <= r.defended_accuracy <= 1.0


def test_seed_demo_tells_the_story():
    """The original demo's story, measured on the held-out test set (not typed in)."""
    r = run_experiment(scenario_config("seed-demo"))
    assert r.n_poison == 80
    assert r.clean_accuracy >= 0.95
    assert r.poisoned_accuracy <= 0.60
    assert r.defended_accuracy >= 0.90


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_scenarios_build_valid_configs(name):
    cfg = scenario_config(name, seed=3)
    assert cfg.seed == 3
    assert SCENARIOS[name].story and SCENARIOS[name].title


@pytest.mark.parametrize("model, kernel", [("svm", "linear"), ("svm", "rbf"), ("svm", "poly"),
                                           ("svm", "sigmoid"), ("logreg", "rbf")])
@pytest.mark.parametrize("gamma", ["scale", 3.0])
def test_fast_decision_values_equal_sklearn(model, kernel, gamma):
    from core.datasets import make_dataset
    from core.models import decision_values, fit_clone, make_model
    d = make_dataset("moons", n_samples=300, random_state=0)
    m = fit_clone(make_model(model, kernel=kernel, gamma=gamma), d.X_train, d.y_train)
    pts = np.random.default_rng(0).normal(scale=2.0, size=(500, 2))
    expected = m.decision_function(pts)
    assert np.allclose(decision_values(m, pts), expected, rtol=1e-9, atol=1e-9)
    assert np.allclose(decision_values(m, pts, max_block=100), expected, rtol=1e-9, atol=1e-9)


# Found by tests/test_properties.py: roni configs that construction accepted but could not run
# ("roni needs at least 2 trusted points of each class").
def test_roni_refuses_a_trusted_sample_too_small_to_hold_two_of_each_class():
    with pytest.raises(ValueError, match=r"^trusted_fraction=0.0625 holds out 2 of 40 points; "
                                         r"defense 'roni' needs at least 4 \(2 of each class\): "
                                         r"raise trusted_fraction to 0.0875 or more"):
        ExperimentConfig(n_samples=40, test_fraction=0.5, trusted_fraction=0.0625, defense="roni")
    with pytest.raises(ValueError, match=r"more than half of test_fraction=0.1: raise "
                                         r"test_fraction or n_samples"):
        ExperimentConfig(n_samples=40, test_fraction=0.1, trusted_fraction=0.05, defense="roni")
    ExperimentConfig(n_samples=40, test_fraction=0.1, trusted_fraction=0.05)  # no roni: fine


def test_config_limits_match_construction_at_the_trusted_edge():
    from core.experiment import config_limits, trusted_size

    for n in (40, 69, 121, 997, 100_000):
        low = config_limits("blobs", 0.9, n_samples=n, defense="roni")["trusted_fraction"].low
        assert trusted_size(low, n) == 4 and trusted_size(np.nextafter(low, 0), n) == 3
        ExperimentConfig(n_samples=n, test_fraction=0.9, trusted_fraction=low, defense="roni")
        with pytest.raises(ValueError, match="^trusted_fraction="):
            ExperimentConfig(n_samples=n, test_fraction=0.9, trusted_fraction=np.nextafter(low, 0),
                             defense="roni")


def test_a_small_stratified_trusted_sample_is_topped_up_to_two_of_each_class():
    from core.experiment import prepare

    # 4 of breast_cancer's 37% / 63% classes split 1 / 3; roni then had too few to cross-validate
    cfg = ExperimentConfig(dataset="breast_cancer", n_samples=40, test_fraction=0.2,
                           trusted_fraction=0.0875, defense="roni", grid_resolution=0, seed=1)
    prep = prepare(cfg)  # the held-out 8 points are 3 / 5; the stratified 4 took 1 / 3
    assert np.bincount(prep.trusted[1]).tolist() == [2, 3]
    assert np.bincount(prep.y_test).tolist() == [1, 2]
    r = run_experiment(cfg)
    assert 0 <= r.defended_accuracy <= 1 and len(r.y_test) == 3
    # enough of each class already: the split is left exactly as it was
    big = prepare(cfg.replace(seed=0))
    assert np.bincount(big.trusted[1]).tolist() == [2, 2] and len(big.y_test) == 4


def test_trusted_split_is_carved_from_the_held_out_part():
    base = ExperimentConfig(**SMALL)
    r0 = run_experiment(base)
    r1 = run_experiment(base.replace(trusted_fraction=0.1))
    assert len(r1.y_test) == len(r0.y_test) - 20 and r1.n_train == r0.n_train
    test0 = {tuple(x) for x in r0.X_test}
    assert all(tuple(x) in test0 for x in r1.X_test)
    with pytest.raises(ValueError, match=r"trusted_fraction=0.3 is out of range"):
        base.replace(trusted_fraction=0.3)


def test_high_dimensional_data_gets_a_pca_slice_view():
    r = run_experiment(ExperimentConfig(dataset="breast_cancer", n_samples=300, attack="label_flip",
                                        defense="none", grid_resolution=20))
    v = r.view
    assert not v.is_identity and "slice" in v.note and v.axis_names[0].startswith("PC1")
    assert np.allclose(v.components @ v.components.T, np.eye(2), atol=1e-10)
    # the grid is the models' decision function on the PCA plane, lifted back to 30 features
    from core.models import fit_clone, make_model
    m = fit_clone(make_model("svm", kernel="rbf"), r.X_clean, r.y_clean)
    corner = v.lift(np.array([[r.grid.x[3], r.grid.y[7]]]))
    assert corner.shape == (1, 30)
    assert np.isclose(m.decision_function(corner)[0], r.grid.clean[7, 3])
    P = r.project(r.X_train)
    assert r.grid.x[0] <= P[:, 0].min() and r.grid.x[-1] >= P[:, 0].max()


def test_two_feature_data_keeps_its_own_coordinates():
    r = run_experiment(ExperimentConfig(**SMALL))
    assert r.view.is_identity and np.array_equal(r.project(r.X_train), r.X_train)


def test_digits_scenario_runs_the_literature_setting():
    r = run_experiment(scenario_config("digits-gradient", grid_resolution=10))
    assert r.n_train == 100 and r.n_poison == 15 and r.X_train.shape[1] == 64
    assert r.clean_accuracy > 0.9 and r.poisoned_accuracy < r.clean_accuracy


FIXTURES = __import__("pathlib").Path(__file__).parent / "fixtures" / "csv"


def test_csv_data_runs_like_any_dataset_and_round_trips():
    cfg = ExperimentConfig(dataset="csv", data=str(FIXTURES / "good_binary.csv"), label="approved",
                           attack="label_flip", defense="knn_sanitize", grid_resolution=10)
    r = run_experiment(cfg)
    assert r.feature_names == ("age", "income", "score") and r.class_names == ("no", "yes")
    assert r.grid.clean.shape == (10, 10) and not r.view.is_identity
    assert ExperimentConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    assert run_experiment(cfg).summary() == r.summary()


def test_csv_notes_reach_the_result():
    cfg = ExperimentConfig(dataset="csv", data=str(FIXTURES / "missing_features.csv"),
                           label=open(FIXTURES / "missing_features.csv").readline().strip()
                           .split(",")[-1], defense="none", grid_resolution=0)
    r = run_experiment(cfg)
    assert any("missing" in n for n in r.data_notes) and "data_notes" in r.summary()


@pytest.mark.parametrize("kwargs, match", [
    ({"dataset": "csv"}, r"data=None: dataset 'csv' needs a data"),
    ({"dataset": "csv", "data": "x.csv"}, r"label=None: dataset 'csv' needs a label"),
    ({"dataset": "csv", "data": "x.csv", "label": "y", "features": "a,b"},
     r"features='a,b' is not a list of column names"),
    ({"dataset": "moons", "label": "y"}, r"label='y' applies only to dataset 'csv'"),
])
def test_csv_config_is_validated(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ExperimentConfig(**kwargs)


def test_trusted_split_works_for_small_csv_files():
    cfg = ExperimentConfig(dataset="csv", data=str(FIXTURES / "good_binary.csv"), label="approved",
                           defense="roni", trusted_fraction=0.1, grid_resolution=0)
    r = run_experiment(cfg)
    assert len(r.y_test) == 16 - 4 and r.detection.roc_auc is not None
