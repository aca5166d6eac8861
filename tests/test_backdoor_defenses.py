"""spectral_signature and activation_clustering: the backdoor defenses, in the victim's space."""

import numpy as np
import pytest

from core.attacks import make_attack
from core.datasets import make_dataset
from core.defenses import DEFENSES, make_defense
from core.defenses._representation import victim_space
from core.experiment import ExperimentConfig, run_experiment
from core.metrics import detection_metrics
from core.models import fit_clone, make_model


def _planted(dataset, attack="backdoor", rate=0.05, seed=0, n=None):
    d = make_dataset(dataset, n_samples=n or (362 if dataset == "digits" else 500),
                     random_state=seed)
    model = make_model("logreg")
    return d, make_attack(attack, rate).poison(d.X_train, d.y_train, model=model,
                                               random_state=seed)


def test_registered_with_their_papers():
    for name, paper in (("spectral_signature", "Tran"), ("activation_clustering", "Chen")):
        cls = DEFENSES[name]
        assert paper in cls.__doc__ and "Threat model" in cls.__doc__
        assert not (cls.needs_trusted or cls.is_baseline or cls.uses_true_mask)


def test_victim_space_is_the_pipelines_scaling_and_the_models_gamma():
    d = make_dataset("moons", n_samples=200, random_state=0)
    model = make_model("svm", kernel="rbf")
    Z, kernel = victim_space(model, d.X_train)
    fitted = fit_clone(model, d.X_train, d.y_train)
    np.testing.assert_allclose(Z, fitted[0].transform(d.X_train))
    assert kernel["kernel"] == "rbf" and kernel["gamma"] == pytest.approx(fitted[-1]._gamma)
    assert victim_space(make_model("logreg"), d.X_train)[1] is None
    assert victim_space(make_model("svm", kernel="linear"), d.X_train)[1] is None


@pytest.mark.parametrize("dataset", ["loan", "digits"])
@pytest.mark.parametrize("seed", [0, 1])
def test_activation_clustering_finds_a_planted_backdoor(dataset, seed):
    d, p = _planted(dataset, seed=seed)
    s = make_defense("activation_clustering").sanitize(p.X, p.y, model=make_model("logreg"),
                                                       random_state=0)
    m = detection_metrics(p.is_poison, s.is_clean, score=s.score)
    assert m.recall >= 0.9, m
    assert m.n_clean_lost <= 0.15 * len(d.y_train), m
    assert m.roc_auc > 0.9


@pytest.mark.parametrize("seed", [0, 1])
def test_spectral_signature_finds_a_planted_backdoor_on_loan(seed):
    d, p = _planted("loan", seed=seed)
    s = make_defense("spectral_signature").sanitize(p.X, p.y, model=make_model("logreg"),
                                                    random_state=0)
    m = detection_metrics(p.is_poison, s.is_clean, score=s.score)
    assert m.recall >= 0.9 and m.roc_auc > 0.9, m


def test_spectral_signature_removes_its_declared_share_of_each_class():
    d = make_dataset("blobs", n_samples=400, random_state=0)
    X, y = d.X_train, d.y_train
    for contamination, factor in ((0.1, 1.5), (0.05, 1.0), (0.2, 2.0)):
        s = make_defense("spectral_signature", contamination=contamination,
                         removal_factor=factor).sanitize(X, y, model=make_model("logreg"))
        for c in (0, 1):
            n_c = int(np.sum(y == c))
            assert np.sum(~s.is_clean & (y == c)) == round(factor * contamination * n_c)
        np.testing.assert_array_equal(~s.is_clean, s.score >= 1.0)


@pytest.mark.parametrize("dataset", ["blobs", "loan", "digits"])
def test_activation_clustering_leaves_clean_data_almost_alone(dataset):
    d = make_dataset(dataset, n_samples=362 if dataset == "digits" else 500, random_state=3)
    s = make_defense("activation_clustering").sanitize(d.X_train, d.y_train,
                                                       model=make_model("logreg"),
                                                       random_state=0)
    assert s.n_flagged <= 0.1 * len(d.y_train)
    np.testing.assert_array_equal(~s.is_clean, s.score > 1.0)


def test_activation_clustering_brings_the_attack_success_rate_down_in_a_run():
    cfg = ExperimentConfig(dataset="loan", attack="backdoor", poison_rate=0.05, model="logreg",
                           defense="activation_clustering", grid_resolution=0, seed=7)
    r = run_experiment(cfg)
    a = r.attack_success
    assert a["poisoned"] > 0.8 and a["defended"] <= a["clean"] + 0.05
    assert abs(r.defended_accuracy - r.clean_accuracy) <= 0.02
