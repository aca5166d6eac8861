"""The victim models, built by one factory.

Every model is a ``Pipeline(StandardScaler, classifier)``: features are
standardized with statistics of the (possibly poisoned) training set only,
as a real retraining pipeline would do.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.metrics.pairwise import pairwise_kernels
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from core._validation import Interval, check_choice
from core.params import Choice, Float, Int, Param

__all__ = ["MODELS", "KERNELS", "C_RANGE", "GAMMA_RANGE", "DEGREE_RANGE", "ConstantClassifier",
           "make_model", "fit_clone", "decision_values", "slow_fit", "fit_seconds"]

MODELS: dict[str, str] = {
    "svm": "support vector machine (sklearn SVC), kernel / C / gamma / degree apply",
    "logreg": "L2-regularized logistic regression; C applies",
}
KERNELS: tuple[str, ...] = ("linear", "rbf", "poly", "sigmoid")

#: the victims' parameters, declared once (core.params): config fields of the same names
KERNEL_PARAM = Choice("kernel", "rbf", KERNELS, "SVM kernel")
C_PARAM = Float("C", 1.0, 0.0, 1e4, "inverse regularization strength", low_open=True)
GAMMA_PARAM = Float("gamma", "scale", 0.0, 1e4, "kernel coefficient of rbf / poly / sigmoid",
              low_open=True, words=("scale", "auto"))
DEGREE_PARAM = Int("degree", 3, 1, 10, "degree of the poly kernel")
#: which parameters each model reads
MODEL_PARAMS: dict[str, tuple[Param, ...]] = {
    "svm": (KERNEL_PARAM, C_PARAM, GAMMA_PARAM, DEGREE_PARAM), "logreg": (C_PARAM,)}

C_RANGE = Interval(C_PARAM.low, C_PARAM.high, low_open=True)
#: numeric gamma (also "scale" or "auto")
GAMMA_RANGE = Interval(GAMMA_PARAM.low, GAMMA_PARAM.high, low_open=True)
DEGREE_RANGE = Interval(DEGREE_PARAM.low, DEGREE_PARAM.high, integer=True)


def check_gamma(gamma: float | str) -> float | str:
    if isinstance(gamma, str):
        return check_choice("gamma", gamma, GAMMA_PARAM.words)
    return GAMMA_PARAM.check(gamma)


def describe_models() -> dict[str, dict]:
    """JSON-ready: each model's summary and the parameters it reads (``list --json``)."""
    return {name: {"summary": MODELS[name],
                   "params": {p.name: p.describe() for p in MODEL_PARAMS[name]}}
            for name in MODELS}


def make_model(
    name: str = "svm",
    *,
    kernel: str = "rbf",
    C: float = 1.0,
    gamma: float | str = "scale",
    degree: int = 3,
) -> Pipeline:
    """Return an unfitted ``Pipeline(StandardScaler(), classifier)``.

    Parameters
    ----------
    name : {"svm", "logreg"}
    kernel : {"linear", "rbf", "poly", "sigmoid"}, default="rbf"
        SVM kernel (ignored by ``logreg``).
    C : float, default=1.0
        Inverse regularization strength, in (0, 10000].
    gamma : float or {"scale", "auto"}, default="scale"
        Kernel coefficient for rbf / poly / sigmoid.
    degree : int, default=3
        Degree of the poly kernel, 1 to 10.
    """
    check_choice("model", name, MODELS)
    kernel, C, degree = KERNEL_PARAM.check(kernel), C_PARAM.check(C), DEGREE_PARAM.check(degree)
    gamma = check_gamma(gamma)
    if name == "svm":
        clf = SVC(kernel=kernel, C=C, gamma=gamma, degree=degree)
    else:
        clf = LogisticRegression(C=C, max_iter=1000)
    return Pipeline([("scale", StandardScaler()), ("clf", clf)])


def fit_clone(model: Pipeline, X, y, sample_weight=None):
    """Fit a fresh ``clone`` of ``model`` (the template is never fitted).

    With a single class in ``y`` a :class:`ConstantClassifier` is returned.
    """
    y = np.asarray(y)
    if len(y) == 0:
        raise ValueError("cannot fit a model on an empty training set")
    if np.unique(y).size < 2:
        return ConstantClassifier(y[0])
    fitted = clone(model)
    if sample_weight is None:
        return fitted.fit(X, y)
    return fitted.fit(X, y, clf__sample_weight=sample_weight)


class ConstantClassifier:
    """Stands in for a classifier when the training labels hold one class only.

    scikit-learn refuses to fit an SVM on one class; an attack or a defense can
    leave exactly that, and the honest outcome is a model that predicts that
    class everywhere.
    """

    def __init__(self, label: int) -> None:
        self.label = int(label)
        self.classes_ = np.array([0, 1])

    def predict(self, X) -> np.ndarray:
        return np.full(len(X), self.label, dtype=np.int64)

    def decision_function(self, X) -> np.ndarray:
        return np.full(len(X), 1.0 if self.label == 1 else -1.0)

    def score(self, X, y) -> float:
        return float(np.mean(self.predict(X) == np.asarray(y)))


def decision_values(model, X, *, max_block: int = 4_000_000) -> np.ndarray:
    """``model.decision_function(X)``, computed fast for fitted SVM pipelines.

    libsvm evaluates the kernel one (point, support vector) pair at a time; for
    the thousands of grid points of a contour plot, scikit-learn's BLAS-backed
    ``pairwise_kernels`` times the public ``dual_coef_`` (rbf, sigmoid) or the
    primal ``coef_`` (linear) is several times faster and gives the same values
    (to rounding; a test checks it).
    Rows are processed in blocks of at most ``max_block`` kernel entries.
    """
    X = np.asarray(X, dtype=float)
    svc = model[-1] if isinstance(model, Pipeline) else None
    gamma = getattr(svc, "_gamma", None)  # the numeric gamma libsvm used ("scale" resolved)
    if (not isinstance(svc, SVC) or gamma is None or len(svc.classes_) != 2
            or svc.kernel not in ("linear", "rbf", "sigmoid")):  # poly: libsvm is faster here
        return model.decision_function(X)
    Z = model[:-1].transform(X)
    if svc.kernel == "linear":
        return Z @ svc.coef_[0] + svc.intercept_[0]
    sv, coef = svc.support_vectors_, svc.dual_coef_[0]
    step = max(1, max_block // max(1, len(sv)))
    out = np.empty(len(Z))
    for start in range(0, len(Z), step):
        K = pairwise_kernels(Z[start:start + step], sv, metric=svc.kernel, filter_params=True,
                             gamma=gamma, degree=svc.degree, coef0=svc.coef0)
        out[start:start + step] = K @ coef
    return out + svc.intercept_[0]


#: cost hints of the models (what makes a fit slow enough for a background job):
#: the polynomial kernel's fits grow fastest with the data -- above this many training points
SLOW_KERNEL_ABOVE = {"poly": 1000}
#: an SVM with C this large can converge very slowly on poisoned (overlapping) data, at any size
SLOW_C = 100.0
#: ... and a linear SVM with C at least this on data with more than 2 features
SLOW_C_LINEAR_HIGH_DIM = 10.0


def slow_fit(model: str, *, kernel: str, C: float, n_train: float,
             n_features: int | None) -> bool:
    """True when fitting this victim may take over ~1 s (``n_features`` None: unknown).

    The model's cost hint, as :class:`core.params.Cost` is an attack's or a defense's.
    """
    if model != "svm":
        return False
    return (n_train > SLOW_KERNEL_ABOVE.get(kernel, float("inf")) or C >= SLOW_C
            or (kernel == "linear" and C >= SLOW_C_LINEAR_HIGH_DIM and n_features != 2))


#: rough seconds of one fit plus its scoring on 1,000 training points with 2 features, and
#: the power it grows with (``tests/bench_sweep.py --calibrate``, 2-core machine, label
#: flips at 20 %: overlapping classes, many support vectors; the poisoned fit is most of it)
FIT_SECONDS: dict[str, tuple[float, float]] = {
    "linear": (0.006, 2.0), "rbf": (0.006, 2.0), "poly": (0.006, 2.0), "sigmoid": (0.006, 2.0),
    "logreg": (0.001, 1.0)}
#: every this many features beyond 2 add the cost of a 2-feature fit (5,000 rows x 499
#: features of a CSV took the default experiment 11.4 s)
FEATURES_DOUBLING = 8


def fit_seconds(model: str, *, kernel: str, n_train: float, n_features: int | None) -> float:
    """Rough seconds of one fit of the victim and its scoring, for the CLI's warning.

    The model's calibrated cost hint (:data:`FIT_SECONDS`), as :class:`core.params.Cost`
    is an attack's or a defense's; ``n_features`` None counts as 2.
    """
    scale, power = FIT_SECONDS["logreg" if model != "svm" else kernel]
    d = 2 if n_features is None else n_features
    return scale * (max(n_train, 1.0) / 1000) ** power * (1 + max(d - 2, 0) / FEATURES_DOUBLING)
