import numpy as np
import pytest

from core.datasets import DATASETS, LOAN_FEATURES, REAL_DATASETS, make_dataset, make_loan_frame


@pytest.mark.parametrize("name", list(DATASETS))
def test_dataset_contract(name):
    d = make_dataset(name, n_samples=200, random_state=3)
    n_features = len(d.feature_names)
    assert n_features == (2 if name not in REAL_DATASETS else {"digits": 64,
                                                                "breast_cancer": 30}[name])
    assert d.X_train.shape == (120, n_features) and d.X_test.shape == (80, n_features)
    assert d.y_train.shape == (120,) and d.y_test.shape == (80,)
    assert d.X_train.dtype == np.float64 and d.y_train.dtype == np.int64
    for y in (d.y_train, d.y_test):
        assert set(np.unique(y)) == {0, 1}
    assert np.isfinite(d.X_train).all() and np.isfinite(d.X_test).all()
    assert len(d.class_names) == 2


@pytest.mark.parametrize("name", list(DATASETS))
def test_dataset_is_deterministic_and_seed_dependent(name):
    a = make_dataset(name, n_samples=100, random_state=7)
    b = make_dataset(name, n_samples=100, random_state=7)
    c = make_dataset(name, n_samples=100, random_state=8)
    assert np.array_equal(a.X_train, b.X_train) and np.array_equal(a.y_test, b.y_test)
    assert not np.array_equal(a.X_train, c.X_train)


@pytest.mark.parametrize("name, size", [("digits", 362), ("breast_cancer", 569)])
def test_real_datasets_are_the_shipped_data(name, size):
    full = make_dataset(name, n_samples=size, random_state=0)
    assert len(full.y_train) + len(full.y_test) == size
    with pytest.raises(ValueError, match=rf"n_samples={size + 1} is out of range; "
                                         rf"expected an integer in \[40, {size}\]"):
        make_dataset(name, n_samples=size + 1)
    with pytest.raises(ValueError, match=r"noise=0.1 is out of range"):
        make_dataset(name, n_samples=100, noise=0.1)


def test_noise_changes_the_data():
    a = make_dataset("moons", n_samples=100, noise=0.0, random_state=0)
    b = make_dataset("moons", n_samples=100, noise=0.5, random_state=0)
    assert not np.allclose(a.X_train, b.X_train)


@pytest.mark.parametrize("kwargs, match", [
    ({"name": "mnist"}, r"dataset='mnist' is not one of: blobs"),
    ({"name": "moons", "n_samples": 10}, r"n_samples=10 is out of range"),
    ({"name": "moons", "noise": -0.1}, r"noise=-0.1 is out of range"),
    ({"name": "moons", "noise": float("nan")}, r"noise=nan is not finite"),
    ({"name": "moons", "test_fraction": 0.95}, r"test_fraction=0.95 is out of range"),
])
def test_dataset_rejects_bad_arguments(kwargs, match):
    name = kwargs.pop("name")
    with pytest.raises(ValueError, match=match):
        make_dataset(name, **kwargs)


def test_loan_frame_is_plausible():
    f = make_loan_frame(2000, random_state=0)
    assert list(f.columns) == [*LOAN_FEATURES, "approved"]
    assert f["credit_score"].between(300, 850).all()
    assert f["debt_to_income"].between(0, 100).all()
    assert (f["annual_income"] > 0).all() and (f["loan_amount"] > 0).all()
    assert 0.2 < f["approved"].mean() < 0.8
    # the rule is what the docstring says: better credit and lower debt mean approval
    approved, denied = f[f.approved == 1], f[f.approved == 0]
    assert approved.credit_score.mean() > denied.credit_score.mean()
    assert approved.debt_to_income.mean() < denied.debt_to_income.mean()
