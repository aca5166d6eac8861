"""The backdoor attack, its trigger, and the attack success rate in a run."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from core.attacks import ATTACKS
from core.attacks.backdoor import PATCH_PIXELS, Backdoor, CleanLabelBackdoor, make_trigger
from core.experiment import ExperimentConfig, run_experiment
from core.metrics import attack_success_rate
from core.models import make_model


def _data(n=100, d=2, seed=0):
    rs = np.random.RandomState(seed)
    y = np.arange(n) % 2
    X = rs.normal(size=(n, d)) + 2.0 * y[:, None]
    return X, y.astype(np.int64)


def test_registered():
    assert ATTACKS["backdoor"] is Backdoor
    assert ATTACKS["backdoor_clean_label"] is CleanLabelBackdoor
    assert Backdoor.backdoor and CleanLabelBackdoor.backdoor and not ATTACKS["label_flip"].backdoor


def _attack(clean_label, rate, **kw):
    if clean_label:
        return CleanLabelBackdoor(rate, selection="random", interpolation=0.0, **kw)
    return Backdoor(rate, **kw)


@pytest.mark.parametrize("clean_label", [False, True])
def test_feature_trigger_shapes_budget_and_labels(clean_label):
    X, y = _data()
    p = _attack(clean_label, 0.05, trigger_value=3.0).poison(X, y, random_state=3)
    assert p.X.shape == (105, 3) and p.X.dtype == np.float64
    assert p.y.dtype == y.dtype and set(np.unique(p.y)) <= {0, 1}
    assert p.n_poison == 5
    np.testing.assert_array_equal(p.X[:100, :2], X)
    # the trigger is present exactly on the poison
    np.testing.assert_array_equal(p.X[:, 2] == 3.0, p.is_poison)
    np.testing.assert_array_equal(p.trigger.present(p.X), p.is_poison)
    assert np.all(p.X[~p.is_poison, 2] == 0.0)
    assert np.all(p.y[p.is_poison] == 1)
    # poison copies real points of the source (or, clean-label, the target) class
    own = 1 if clean_label else 0
    originals = X[y == own]
    for row in p.X[p.is_poison, :2]:
        assert np.any(np.all(originals == row, axis=1))


def test_budget_capped_by_the_class_and_deterministic():
    X, y = _data()
    p = Backdoor(0.9).poison(X, y, random_state=1)
    assert CleanLabelBackdoor(0.9, selection="random").poison(X, y, random_state=1).n_poison == 50
    assert p.n_poison == 50  # only 50 source-class points to copy
    a = Backdoor(0.1).poison(X, y, random_state=7)
    b = Backdoor(0.1).poison(X, y, random_state=7)
    np.testing.assert_array_equal(a.X, b.X)
    c = Backdoor(0.1).poison(X, y, random_state=8)
    assert not np.array_equal(a.X, c.X)


def test_patch_trigger_on_images():
    X, y = _data(d=64)
    p = Backdoor(0.1).poison(X, y, random_state=0)
    assert p.X.shape == (110, 64) and p.trigger.kind == "patch"
    stamped = np.all(p.X[:, list(PATCH_PIXELS)] == 16.0, axis=1)
    np.testing.assert_array_equal(stamped, p.is_poison)


def test_column_trigger_and_errors():
    X, y = _data(d=3)
    p = Backdoor(0.1, trigger="column", column=1, trigger_value=9.0).poison(X, y,
                                                                             random_state=0)
    assert p.X.shape == (110, 3)
    assert np.all(p.X[p.is_poison, 1] == 9.0)
    last = Backdoor(0.1, trigger="column").poison(X, y, random_state=0)
    assert last.trigger.columns == (2,)  # column=None: the last one
    with pytest.raises(ValueError, match="trigger='column' needs column in"):
        Backdoor(0.1, trigger="column", column=3).poison(X, y)
    with pytest.raises(ValueError, match="needs 8x8 images"):
        make_trigger(3, trigger="patch")
    flipped = Backdoor(0.1, target_label=0).poison(X, y, random_state=0)
    assert flipped.source_label == 1 and np.all(flipped.y[flipped.is_poison] == 0)
    with pytest.raises(ValueError, match="trigger="):
        Backdoor(0.1, trigger="pixel")
    with pytest.raises(ValueError, match="needs the victim model"):
        CleanLabelBackdoor(0.1).poison(X, y)


def test_clean_label_copies_the_hardest_target_points_and_moves_them():
    X, y = _data(n=200)
    model = make_model("logreg")
    p = CleanLabelBackdoor(0.05, interpolation=0.0).poison(X, y, model=model, random_state=0)
    assert p.n_poison == 10 and np.all(p.y[p.is_poison] == 1)
    margin = model.fit(X, y).decision_function(X)
    hardest = np.sort(np.flatnonzero(y == 1)[np.argsort(margin[y == 1])[:10]])
    np.testing.assert_array_equal(p.X[p.is_poison, :2], X[hardest])
    half = CleanLabelBackdoor(0.05, interpolation=0.5).poison(X, y, model=model, random_state=0)
    mu = X[y == 0].mean(axis=0)
    np.testing.assert_allclose(half.X[half.is_poison, :2], (X[hardest] + mu) / 2)
    assert np.all(half.X[half.is_poison, 2] == 1.0)


class _Const:
    def __init__(self, col):
        self.col = col

    def predict(self, X):  # label 1 exactly when the trigger column is set
        return (X[:, self.col] > 0).astype(int)


def test_attack_success_rate_constructed():
    trig = make_trigger(2, value=1.0)
    X = trig.pad(np.zeros((6, 2)))
    y = np.array([0, 0, 0, 1, 1, 1])
    assert attack_success_rate(_Const(2), X, y, trig, 0, 1) == 1.0
    assert attack_success_rate(_Const(0), X, y, trig, 0, 1) == 0.0
    assert np.isnan(attack_success_rate(_Const(2), X, np.ones(6, int), trig, 0, 1))


def test_linear_model_learns_the_backdoor():
    X, y = _data(n=400)
    p = Backdoor(0.05).poison(X, y, random_state=0)
    m = LogisticRegression(C=100.0).fit(p.X, p.y)
    Xt, yt = _data(n=400, seed=1)
    asr = attack_success_rate(m, p.trigger.pad(Xt), yt, p.trigger, 0, 1)
    assert asr > 0.9


def test_run_reports_attack_success_and_grid():
    r = run_experiment(ExperimentConfig(dataset="blobs", attack="backdoor", poison_rate=0.05,
                                        model="svm", kernel="linear", grid_resolution=20))
    assert set(r.attack_success) == {"clean", "poisoned", "defended"}
    assert r.attack_success["clean"] < 0.2 < 0.9 < r.attack_success["poisoned"]
    assert r.X_clean.shape[1] == r.X_test.shape[1] == r.X_train.shape[1] == 3
    assert np.all(r.X_test[:, 2] == 0)
    assert r.grid.clean.shape == r.grid_triggered.clean.shape == (20, 20)
    # with the trigger on, the poisoned model's positive region grows; the clean one's hardly
    on, off = r.grid_triggered, r.grid
    assert (on.poisoned > 0).mean() > (off.poisoned > 0).mean() + 0.3
    assert abs((on.clean > 0).mean() - (off.clean > 0).mean()) < 0.1
    assert "grid_triggered" in r.to_dict(arrays=True)
    assert r.project(r.X_train).shape == (len(r.y_train), 2)
    s = r.summary()
    assert s["attack_success"] == r.attack_success and s["trigger"]["added"] is True
    again = run_experiment(r.config)
    assert again.attack_success == r.attack_success


def test_matrix_and_sweep_carry_attack_success():
    from core.matrix import matrix_runs
    from core.sweeps import run_sweep

    base = ExperimentConfig(dataset="blobs", attack="backdoor", poison_rate=0.05,
                            model="svm", kernel="linear")
    runs = matrix_runs(base, ["backdoor", "label_flip"], ["none", "roni"], seeds=1)
    one = run_experiment(base.replace(defense="roni", trusted_fraction=0.1))
    row = runs[(runs.attack == "backdoor") & (runs.defense == "roni")].iloc[0]
    assert row.attack_success_poisoned == one.attack_success["poisoned"]
    assert row.attack_success_defended == one.attack_success["defended"]
    assert runs[runs.attack == "label_flip"].attack_success_poisoned.isna().all()
    sweep = run_sweep(base, [0.0, 0.05], seeds=1)
    assert sweep.attack_success_poisoned.iloc[1] > 0.9 > sweep.attack_success_poisoned.iloc[0]


def test_cli_run_matrix_and_list_report_the_backdoor():
    import io
    import json

    from core.cli import main

    def cli(*args):
        out = io.StringIO()
        assert main(list(args), out=out) == 0
        return out.getvalue()

    run = ["run", "--dataset", "blobs", "--attack", "backdoor", "--poison-rate", "0.05",
           "--model", "logreg", "--defense", "activation_clustering"]
    text = cli(*run)
    assert "backdoor: attack success rate" in text and "poisoned 1.00" in text
    doc = json.loads(cli(*run, "--json"))
    assert set(doc["attack_success"]) == {"clean", "poisoned", "defended"}
    assert doc["trigger"] == {"kind": "feature", "columns": [2], "value": 1.0, "added": True}
    matrix = cli("matrix", "--dataset", "blobs", "--attacks", "label_flip,backdoor",
                 "--defenses", "none,oracle", "--seeds", "1", "--rate", "0.05")
    tail = matrix.split("backdoors: attack success rate")[1].splitlines()
    assert tail[2].split()[0] == "backdoor" and "label_flip" not in matrix.split("backdoors:")[1]
    catalogue = json.loads(cli("list", "--json"))["attacks"]
    assert catalogue["backdoor"]["backdoor"] and not catalogue["label_flip"]["backdoor"]


def test_the_scorecard_shows_the_attack_success_rate():
    from dashboard.callbacks.experiment import scorecard

    r = run_experiment(ExperimentConfig(dataset="blobs", attack="backdoor", poison_rate=0.05,
                                        model="logreg", defense="activation_clustering",
                                        grid_resolution=0))
    text = str(scorecard(r))
    assert "Attack success" in text and f"{r.attack_success['defended']:.0%}" in text
    plain = run_experiment(r.config.replace(attack="label_flip"))
    assert "Attack success" not in str(scorecard(plain))
