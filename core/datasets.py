"""Named two-class datasets, split into a training set and a held-out test set.

Every dataset is binary with labels ``{0, 1}`` and comes already split: the
attacker only ever sees (and poisons) the training part; accuracy is always
measured on the test part.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.datasets import (
    load_breast_cancer,
    load_digits,
    make_blobs,
    make_circles,
    make_classification,
    make_moons,
)
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state

from core._validation import check_choice, check_int, check_real

__all__ = ["Dataset", "DATASETS", "REAL_DATASETS", "CSV", "MIN_SAMPLES", "make_dataset",
           "make_loan_frame", "LOAN_FEATURES"]

#: the fewest points a dataset may have (before the train/test split)
MIN_SAMPLES = 40


@dataclass(frozen=True, eq=False)
class Dataset:
    """A binary classification problem, already split.

    Attributes
    ----------
    name : str
        Registry name.
    X_train, y_train : ndarray
        Training data (what an attacker can poison).
    X_test, y_test : ndarray
        Held-out test data, never touched by the attacker.
    feature_names : tuple of str
        One name per column of ``X``.
    class_names : tuple of str
        ``class_names[k]`` is the meaning of label ``k``.
    rows_train, rows_test : ndarray of int or None
        Positions of the training and test points in the generated table
        (for ``loan``: rows of :func:`make_loan_frame`, which carries the loan
        amounts); None when not tracked.
    """

    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    feature_names: tuple[str, ...]
    class_names: tuple[str, str]
    rows_train: np.ndarray | None = None
    rows_test: np.ndarray | None = None

    @property
    def n_features(self) -> int:
        return self.X_train.shape[1]


def _blobs(n: int, noise: float, rs: np.random.RandomState) -> tuple[np.ndarray, np.ndarray]:
    # ``noise`` is the cluster standard deviation relative to the centre distance of 4.
    return make_blobs(n, centers=[[-2.0, 0.0], [2.0, 0.0]], cluster_std=4.0 * noise,
                      random_state=rs)


def _moons(n: int, noise: float, rs: np.random.RandomState) -> tuple[np.ndarray, np.ndarray]:
    return make_moons(n, noise=noise, random_state=rs)


def _circles(n: int, noise: float, rs: np.random.RandomState) -> tuple[np.ndarray, np.ndarray]:
    return make_circles(n, noise=noise, factor=0.5, random_state=rs)


def _linear(n: int, noise: float, rs: np.random.RandomState) -> tuple[np.ndarray, np.ndarray]:
    # ``noise`` is the fraction of labels sklearn assigns at random (flip_y).
    return make_classification(
        n, n_features=2, n_informative=2, n_redundant=0, n_repeated=0,
        n_clusters_per_class=1, class_sep=1.5, flip_y=noise, random_state=rs,
    )


LOAN_FEATURES: tuple[str, ...] = (
    "credit_score", "debt_to_income", "annual_income", "loan_amount", "employment_years",
)
#: The two features the 2-D view (and so every 2-D experiment) uses.
LOAN_VIEW: tuple[str, str] = ("credit_score", "debt_to_income")


def make_loan_frame(n_samples: int = 500, *, noise: float = 0.3, random_state=None) -> pd.DataFrame:
    """Synthetic loan applications with an ``approved`` label.

    **Synthetic** data, generated from a simple documented rule, not real
    lending records. An application is approved (1) when a latent
    creditworthiness score is positive; the score rises with credit score and
    income, falls with debt-to-income ratio and with the loan amount relative to
    income, and carries Gaussian noise of standard deviation ``noise`` (in
    units of the score's spread) that stands for everything the bank cannot see.

    Returns
    -------
    DataFrame
        Columns ``LOAN_FEATURES`` plus ``approved`` (int 0/1).
    """
    rs = check_random_state(random_state)
    credit = np.clip(rs.normal(680.0, 60.0, n_samples), 300.0, 850.0)
    income = np.round(np.exp(rs.normal(np.log(62_000.0), 0.45, n_samples)), -2)
    dti = np.clip(rs.gamma(6.0, 5.5, n_samples), 2.0, 75.0)  # percent
    amount = np.round(income * np.clip(rs.normal(0.35, 0.15, n_samples), 0.05, 1.5), -2)
    years = np.clip(np.round(rs.exponential(6.0, n_samples), 1), 0.0, 40.0)
    score = (
        (credit - 680.0) / 60.0
        - (dti - 33.0) / 12.0
        + 0.35 * np.log(income / 62_000.0) / 0.45
        - 0.25 * (amount / income - 0.35) / 0.15
        + 0.1 * (np.minimum(years, 10.0) - 5.0) / 5.0
    )
    score = score / score.std() + rs.normal(0.0, noise, n_samples)
    frame = pd.DataFrame({
        "credit_score": np.round(credit),
        "debt_to_income": np.round(dti, 1),
        "annual_income": income,
        "loan_amount": amount,
        "employment_years": years,
    })
    frame["approved"] = (score > 0.0).astype(int)
    return frame


def _loan(n: int, noise: float, rs: np.random.RandomState) -> tuple[np.ndarray, np.ndarray]:
    frame = make_loan_frame(n, noise=noise, random_state=rs)
    return frame[list(LOAN_VIEW)].to_numpy(dtype=float), frame["approved"].to_numpy()


def _real_data(name: str) -> tuple[np.ndarray, np.ndarray]:
    """Real data shipped inside scikit-learn (no download)."""
    if name == "breast_cancer":
        bunch = load_breast_cancer()
        return bunch.data, bunch.target  # 0 malignant, 1 benign
    bunch = load_digits()
    keep = np.isin(bunch.target, (5, 9))
    return bunch.data[keep], (bunch.target[keep] == 9).astype(int)  # 0 = "5", 1 = "9"


def _real(name: str):
    def make(n: int, noise: float, rs: np.random.RandomState) -> tuple[np.ndarray, np.ndarray]:
        X, y = _real_data(name)
        if n >= len(y):
            return X, y
        idx, _ = train_test_split(np.arange(len(y)), train_size=n, stratify=y, random_state=rs)
        return X[np.sort(idx)], y[np.sort(idx)]

    return make


@dataclass(frozen=True)
class _Spec:
    make: Callable[[int, float, np.random.RandomState], tuple[np.ndarray, np.ndarray]]
    default_noise: float
    max_noise: float
    feature_names: tuple[str, ...]
    class_names: tuple[str, str]
    description: str
    max_samples: int = 100_000
    default_samples: int = 500


DATASETS: dict[str, _Spec] = {
    "blobs": _Spec(_blobs, 0.25, 1.0, ("x1", "x2"), ("class 0", "class 1"),
                   "two Gaussian blobs; noise = cluster std / centre distance"),
    "moons": _Spec(_moons, 0.2, 1.0, ("x1", "x2"), ("class 0", "class 1"),
                   "two interleaving half circles; noise = Gaussian std"),
    "circles": _Spec(_circles, 0.1, 1.0, ("x1", "x2"), ("outer", "inner"),
                     "a circle inside a ring; noise = Gaussian std"),
    "linear": _Spec(_linear, 0.02, 0.5, ("x1", "x2"), ("class 0", "class 1"),
                    "make_classification, 2 informative features; noise = label noise fraction"),
    "loan": _Spec(_loan, 0.3, 2.0, LOAN_VIEW, ("deny", "approve"),
                  "SYNTHETIC loan applications (credit score vs debt-to-income view); "
                  "noise = unexplained share of the approval score"),
    "breast_cancer": _Spec(_real("breast_cancer"), 0.0, 0.0,
                           tuple(str(f) for f in load_breast_cancer().feature_names),
                           ("malignant", "benign"),
                           "real: Wisconsin breast cancer diagnostics, 569 tumours, 30 features "
                           "(shipped with scikit-learn); no noise",
                           max_samples=569, default_samples=569),
    "digits": _Spec(_real("digits"), 0.0, 0.0, tuple(f"pixel_{i}" for i in range(64)),
                    ("5", "9"),
                    "real: 8x8 handwritten digits, 5 vs 9 (362 images, 64 pixels, shipped with "
                    "scikit-learn); no noise", max_samples=362, default_samples=362),
}

#: the dataset name of a user's CSV file (loaded by core.data_io, not generated here)
CSV = "csv"

#: datasets with more than two features (shown through a 2-D PCA view)
REAL_DATASETS: tuple[str, ...] = ("breast_cancer", "digits")


def make_dataset(
    name: str,
    *,
    n_samples: int = 500,
    noise: float | None = None,
    test_fraction: float = 0.4,
    random_state=None,
) -> Dataset:
    """Generate dataset ``name`` and split it (stratified) into train and test.

    Parameters
    ----------
    name : str
        One of ``DATASETS``.
    n_samples : int, default=500
        Total number of points before the split (40 to 100,000; for the real
        datasets at most their size, drawn stratified without replacement).
    noise : float, optional
        Dataset-specific noise level (see ``DATASETS[name].description``);
        ``None`` uses the dataset's default.
    test_fraction : float, default=0.4
        Share of the points held out for testing, in [0.1, 0.9].
    random_state : int, RandomState or None
        Controls generation and the split.
    """
    check_choice("dataset", name, DATASETS)
    spec = DATASETS[name]
    n_samples = check_int("n_samples", n_samples, MIN_SAMPLES, spec.max_samples)
    noise = spec.default_noise if noise is None else check_real("noise", noise, 0.0, spec.max_noise)
    test_fraction = check_real("test_fraction", test_fraction, 0.1, 0.9)
    rs = check_random_state(random_state)
    X, y = spec.make(n_samples, noise, rs)
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=np.int64)
    X_train, X_test, y_train, y_test, rows_train, rows_test = train_test_split(
        X, y, np.arange(len(y)), test_size=test_fraction, random_state=rs, stratify=y)
    return Dataset(name, X_train, y_train, X_test, y_test, spec.feature_names, spec.class_names,
                   rows_train, rows_test)
