"""Feature-space outlier detectors: Isolation Forest, Local Outlier Factor, per-class forests."""

from __future__ import annotations

import numpy as np
from isotree import IsolationForest
from sklearn.neighbors import LocalOutlierFactor
from sklearn.utils import check_random_state

from core.defenses._memo import Memo, digest
from core.defenses.base import CONTAMINATION, Defense, Sanitized, robust_scale
from core.params import Int

__all__ = ["IsolationForestDefense", "LocalOutlierFactorDefense", "LabelAwareIsolationForest"]

#: forests' normality scores per process, keyed by the data and the seed: the contamination
#: only sets the cut (its quantile of the same scores), so moving it -- or changing the model,
#: which a feature-only forest never sees -- costs no refit
NORMALITY = Memo(16)

#: subsample per tree (Liu et al. 2008's psi; scikit-learn's ``max_samples="auto"``)
SUBSAMPLE = 256


def _seed(random_state) -> int:
    """An integer seed for the C++ forest: the seed itself, or one drawn from ``random_state``."""
    if isinstance(random_state, (int, np.integer)) and not isinstance(random_state, bool):
        return int(random_state)
    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))


def forest_normality(X: np.ndarray, *, n_estimators: int = 100, random_state=None) -> np.ndarray:
    """``-s`` for every row of ``X``: minus the anomaly score of Liu et al. (2008), in [-1, 0).

    The isolation forest of the paper -- ``n_estimators`` trees of random
    axis-aligned splits, each on a subsample of ``min(256, n)`` rows drawn
    without replacement, depth limit ``ceil(log2(subsample))``, path lengths
    corrected by ``c(size)`` at the leaves -- as built by ``isotree``'s C++
    ``IsolationForest(ndim=1)`` (Cortes, 2019), single-threaded so workers do not
    compete. The same quantity as scikit-learn's ``IsolationForest.score_samples``,
    from the same algorithm with another random-number stream. Fewer than 3 rows
    cannot be split: all get ``-0.5``, the paper's "no distinct anomaly".
    """
    X = np.ascontiguousarray(X, dtype=float)
    if len(X) < 3:
        return np.full(len(X), -0.5)
    forest = IsolationForest(ntrees=n_estimators, sample_size=min(SUBSAMPLE, len(X)), ndim=1,
                             missing_action="fail", nthreads=1,
                             random_seed=_seed(random_state))
    return -forest.fit(X).predict(X)


def _cut(normality: np.ndarray, contamination: float | str) -> float:
    """The cut on training normality scores, as scikit-learn's ``IsolationForest.offset_``:
    the ``contamination`` quantile, or the paper's ``s = 0.5`` for ``"auto"``."""
    if contamination == "auto":
        return -0.5  # the original paper's threshold on the anomaly score s = 0.5
    return float(np.percentile(normality, 100.0 * contamination))


class IsolationForestDefense(Defense):
    """Drop the training points an Isolation Forest finds most isolated.

    Liu, Ting & Zhou, "Isolation Forest", ICDM 2008: anomalies are isolated by
    fewer random axis-aligned splits (so per-feature scaling does not matter).
    100 trees on subsamples of 256 points, built by ``isotree`` (see
    :func:`forest_normality`); score = the paper's anomaly score ``s``.
    Looks at features only, not at labels, so it sees injected outliers but not flipped labels.
    Threat model: the defender knows nothing about the attack; it assumes
    poison is rare and lies away from the bulk of the data.

    Parameters
    ----------
    contamination : float in (0, 0.5] or "auto", default="auto"
        Expected share of poison; the share of points dropped (``"auto"`` uses
        the threshold of the original paper).
    """

    name = "isolation_forest"
    summary = "drop feature-space outliers found by an Isolation Forest"
    params = (CONTAMINATION,)

    def sanitize(self, X, y, *, model=None, random_state=None, is_poison=None,
                 trusted=None) -> Sanitized:
        X = np.asarray(X, dtype=float)

        def fit() -> tuple[np.ndarray]:
            return (forest_normality(X, random_state=random_state),)

        (normality,) = NORMALITY.get_or_compute(digest(random_state, "isotree", X), fit)
        flagged = normality < _cut(normality, self.contamination)
        return self._drop(flagged, -normality, y)


class LocalOutlierFactorDefense(Defense):
    """Drop points whose neighbourhood is much sparser than their neighbours' neighbourhoods.

    Breunig, Kriegel, Ng & Sander, "LOF: Identifying Density-Based Local
    Outliers", SIGMOD 2000. The local outlier factor compares a point's local
    reachability density with that of its ``n_neighbors`` nearest neighbours
    (about 1 inside a cluster, well above 1 for an outlier); scikit-learn's
    ``LocalOutlierFactor`` on robustly scaled features (median / IQR, so the
    poison cannot stretch the scale). Score = the LOF itself.
    Looks at features only: a dense injected cluster of ``n_neighbors`` points
    or more is a cluster of its own, not an outlier, and flipped labels are invisible.
    Threat model: the defender knows nothing about the attack; it assumes
    poison is rare and sits in sparse regions.

    Parameters
    ----------
    contamination : float in (0, 0.5] or "auto", default="auto"
        Share of points dropped; ``"auto"`` flags LOF > 1.5 (scikit-learn's
        default threshold).
    n_neighbors : int, default=20
        Neighbourhood size (the paper's MinPts; 10 to 20 is its advice), 1 to 100.
    """

    name = "lof"
    summary = "drop density outliers found by the Local Outlier Factor"
    params = (CONTAMINATION, Int("n_neighbors", 20, 1, 100, "neighbourhood size (MinPts)"))

    def sanitize(self, X, y, *, model=None, random_state=None, is_poison=None,
                 trusted=None) -> Sanitized:
        if len(y) < 3:
            raise ValueError("lof needs at least 3 training points")
        lof = LocalOutlierFactor(n_neighbors=min(self.n_neighbors, len(y) - 1),
                                 contamination=self.contamination).fit(robust_scale(X))
        factor = -lof.negative_outlier_factor_
        return self._drop(factor > -lof.offset_, factor, y)  # what fit_predict(X) == -1 computes


class LabelAwareIsolationForest(Defense):
    """One Isolation Forest per class: flag points that are outliers for the class they claim.

    Liu, Ting & Zhou, "Isolation Forest", ICDM 2008, applied per label as in
    class-conditional outlier filtering of label noise (e.g. Paudice,
    Muñoz-González, György & Lupu, "Detection of Adversarial Training Examples
    in Poisoning Attacks through Anomaly Detection", arXiv:1802.03041, 2018,
    which fits one detector per class on trusted data; here each forest is fit
    on the class's own, possibly poisoned, points). A flipped point that sits
    among the other class is isolated quickly by the forest of the class it
    claims, which a label-blind forest cannot see. Score = the forest's anomaly
    score ``s`` of the paper (in (0, 1], normalized by the class size, so
    comparable across classes). Classes with fewer than 3 points are not scored.
    Threat model: the defender knows nothing about the attack; it assumes
    poison is a minority of every class and lies away from that class's bulk.

    Parameters
    ----------
    contamination : float in (0, 0.5] or "auto", default="auto"
        Share of each class dropped; ``"auto"`` flags ``s > 0.5``, the
        threshold of the original paper.
    n_estimators : int, default=50
        Trees per class, 10 to 500: two classes make the paper's default of 100
        trees in all (path lengths converge well before that, Liu et al. 2008),
        and one run costs what a single forest costs.
    """

    name = "label_aware_iforest"
    summary = "one Isolation Forest per class: drop points odd for the label they claim"
    params = (CONTAMINATION, Int("n_estimators", 50, 10, 500, "trees per class"))

    def sanitize(self, X, y, *, model=None, random_state=None, is_poison=None,
                 trusted=None) -> Sanitized:
        X, y = np.asarray(X, dtype=float), np.asarray(y)
        rs = check_random_state(random_state)
        score = np.zeros(len(y))
        flagged = np.zeros(len(y), dtype=bool)
        for label in np.unique(y):  # sorted: the per-class seeds are drawn in a fixed order
            rows = np.flatnonzero(y == label)
            seed = int(rs.randint(np.iinfo(np.int32).max))
            if rows.size < 3:
                continue

            def fit(part: np.ndarray = X[rows], seed: int = seed) -> tuple[np.ndarray]:
                return (forest_normality(part, n_estimators=self.n_estimators,
                                         random_state=seed),)

            key = digest(random_state, "isotree", seed, self.n_estimators, X[rows])
            (normality,) = NORMALITY.get_or_compute(key, fit)
            score[rows] = -normality
            flagged[rows] = normality < _cut(normality, self.contamination)
        return self._drop(flagged, score, y)
