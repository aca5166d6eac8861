"""Defenses that retrain the victim: Reject On Negative Impact and trimmed-loss training."""

from __future__ import annotations

import numpy as np
import sklearn
from sklearn.base import clone
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils import check_random_state

from core.defenses.base import (
    CONTAMINATION,
    Defense,
    Sanitized,
    is_svm,
    resolve_contamination,
    victim_loss,
)
from core.defenses.centroids import AUTO_SHARE
from core.models import fit_clone
from core.params import Cost, Float, Int

__all__ = ["RONI", "Trim", "spatial_batches"]


def spatial_batches(Z: np.ndarray, y: np.ndarray, size: int) -> list[np.ndarray]:
    """Split each class into cells of at most ``size`` neighbouring points.

    Recursive median splits along the widest coordinate (a k-d tree), so every
    cell holds between ``ceil(size / 2)`` and ``size`` points of one label
    that lie next to each other. Deterministic; ``size=1`` gives one point per cell.
    """
    cells: list[np.ndarray] = []

    def split(rows: np.ndarray) -> None:
        if rows.size <= size:
            cells.append(rows)
            return
        P = Z[rows]
        axis = int(np.argmax(P.max(axis=0) - P.min(axis=0)))
        order = rows[np.argsort(P[:, axis], kind="stable")]
        half = order.size // 2
        split(order[:half])
        split(order[half:])

    for label in np.unique(y):
        split(np.flatnonzero(y == label))
    return cells


def _victim_parts(model):
    """``(scaler or None, classifier)`` of a ``Pipeline(StandardScaler, clf)`` or a bare clf."""
    if isinstance(model, Pipeline):
        pre, clf = model.steps[:-1], model.steps[-1][1]
        if len(pre) > 1 or (pre and not isinstance(pre[0][1], StandardScaler)):
            raise ValueError("roni supports victims that only standardize before the classifier")
        return (clone(pre[0][1]) if pre else None), clf
    return None, model


def victim_view(model, X: np.ndarray, X_t: np.ndarray) -> tuple:
    """``(classifier, X, X_t)`` in the space the victim's classifier sees: both sets
    standardized as the victim would on ``X``, or unchanged for a bare classifier."""
    scaler, clf = _victim_parts(model)
    if scaler is None:
        return clf, X, X_t
    scaler.fit(X)
    return clf, scaler.transform(X), scaler.transform(X_t)


class RONI(Defense):
    """Reject On Negative Impact: drop training points whose inclusion hurts trusted data.

    Nelson et al., "Exploiting Machine Learning to Subvert Your Spam Filter",
    LEET 2008 (RONI; calibrated form in Nelson's thesis, UC Berkeley 2010, ch. 4):
    train with and without a candidate and reject it if the model with it does
    worse on a quiz set. Here the quiz is the defender's trusted clean sample.

    What is computed (and how it departs from per-point RONI, for speed):

    1. **Batches.** Each class is cut into cells of at most ``batch_size``
       neighbouring points (:func:`spatial_batches`); a cell is judged as one
       candidate and all its points share the verdict. Coordinated poison
       (a cluster, a band of flips) is spatially coherent, so its cells are
       mostly poison; the price is that clean points sharing a cell with poison
       are dropped with it. ``batch_size=1`` is exact per-point RONI (slow).
    2. **Base and quiz.** The trusted sample is split into ``folds`` stratified
       folds; each fold in turn is the quiz and the others the base training
       set (Nelson samples the base from the untrusted pool; a clean base makes
       each candidate's own effect visible). The impact of a cell is the rise
       of the mean quiz loss (the victim's own: hinge or logistic) when the
       cell joins the base, averaged over folds -- a continuous measure, where
       accuracy on a few dozen quiz points moves in coarse steps.
    3. **Victim.** The victim's classifier is refitted in one fixed
       standardization (its scaler fitted once on the training set), not
       re-standardized per fit. For an SVM a cell whose points all lie outside
       the base model's margin (``y f(x) >= 1``) cannot change the solution, so
       its impact is exactly 0 without a refit. At the defaults (300 training
       points, 50 trusted) that is at most ~65 refits on ~35 points; logistic
       regression has no such shortcut and refits every cell.
    4. **Threshold** (calibrated RONI, in robust form): a cell is rejected
       when its impact exceeds the median impact of all cells by more than
       ``tolerance`` robust standard deviations (1.4826 x MAD; Nelson's and
       ART's calibrated rule is median - 3 sigma of the accuracy shift). When
       most cells provably cannot change the model (impact exactly 0) the
       spread is 0, and every cell that raises the quiz loss at all is rejected
       (uncalibrated RONI with a threshold of 0).

    Score = the impact of the point's cell (quiz-loss increase).
    Threat model: the defender holds a trusted clean sample from the data
    distribution (``trusted_fraction`` > 0) and the victim model; it assumes
    poison is a minority of the training data.

    Parameters
    ----------
    batch_size : int, default=10
        Points per cell, 1 to 50.
    folds : int, default=2
        Trusted folds (quiz sets), 2 to 10; fewer if a class has fewer trusted points.
    tolerance : float, default=3.0
        Robust standard deviations above the median impact that reject a cell,
        0 to 10.
    """

    name = "roni"
    summary = "reject batches of points that raise the loss on trusted data (RONI, Nelson 2008)"
    needs_trusted = True
    params = (
        Int("batch_size", 10, 1, 50, "points per cell"),
        Int("folds", 2, 2, 10, "trusted folds (quiz sets)"),
        Float("tolerance", 3.0, 0.0, 10.0, "robust SDs above the median impact that reject a "
              "cell", step=0.25),
    )
    #: refits the model once per cell
    cost = Cost(above=1000, seconds=0.09, power=1.3)

    def sanitize(self, X, y, *, model=None, random_state=None, is_poison=None,
                 trusted=None) -> Sanitized:
        if trusted is None:
            raise ValueError("roni needs a trusted clean sample (trusted=(X, y)); "
                             "set trusted_fraction > 0")
        if model is None:
            raise ValueError("roni needs the victim model (model=...)")
        X = np.asarray(X, dtype=float)
        X_t, y_t = np.asarray(trusted[0], dtype=float), np.asarray(trusted[1])
        per_class = np.bincount(y_t, minlength=2)
        folds = min(self.folds, int(per_class.min()))
        if folds < 2:
            raise ValueError(f"roni needs at least 2 trusted points of each class; "
                             f"the trusted sample has {per_class.tolist()}")
        clf, Z, Z_t = victim_view(model, X, X_t)
        cells = spatial_batches(Z, y, self.batch_size)
        svm = is_svm(clf)
        impact = np.zeros(len(cells))
        kfold = StratifiedKFold(folds, shuffle=True, random_state=random_state)
        est = clone(clf)  # refitted from scratch each time (the victims have no warm start)
        with sklearn.config_context(assume_finite=True, skip_parameter_validation=True):
            for base, quiz in kfold.split(Z_t, y_t):
                Z_b, y_b, Z_q, y_q = Z_t[base], y_t[base], Z_t[quiz], y_t[quiz]
                est.fit(Z_b, y_b)
                before = victim_loss(est, Z_q, y_q).mean()
                inside = (2 * y - 1) * est.decision_function(Z) < 1.0
                for j, rows in enumerate(cells):
                    if svm and not inside[rows].any():
                        continue  # zero-loss points leave the SVM solution unchanged
                    est.fit(np.vstack([Z_b, Z[rows]]), np.concatenate([y_b, y[rows]]))
                    impact[j] += victim_loss(est, Z_q, y_q).mean() - before
        impact /= folds
        centre = np.median(impact)
        spread = 1.4826 * np.median(np.abs(impact - centre))
        score = np.zeros(len(y))
        for j, rows in enumerate(cells):
            score[rows] = impact[j]
        return self._drop(score > centre + self.tolerance * spread, score, y)


class Trim(Defense):
    """Iterative trimmed-loss training: refit on the points the model fits best.

    Jagielski et al., "Manipulating Machine Learning: Poisoning Attacks and
    Countermeasures for Regression Learning", IEEE S&P 2018 (TRIM), adapted to
    classification with the victim's own loss (hinge for SVMs, logistic for
    logistic regression). Start from a random subset of ``n = (1 - eps) N``
    points (as the paper does), then alternate: fit the victim on the subset,
    keep the ``n`` points with the lowest loss under it (ties broken at random),
    until the subset stops changing or ``max_iter`` fits. Score = the loss under
    the last model; the flagged points are the ``N - n`` highest.
    Catches poison the victim cannot fit while fitting the rest; fails when
    the poison is consistent enough to be fitted (a coordinated band of flips):
    then it trims clean points the poisoned model gets wrong.
    Threat model: the defender knows the victim model and (an upper bound on)
    the poison share ``eps``; it needs no trusted data.

    Parameters
    ----------
    contamination : float in (0, 0.5] or "auto", default="auto"
        ``eps``, the share trimmed; ``"auto"`` = 0.1 (PyOD's default contamination).
    max_iter : int, default=20
        Maximum number of fits, 1 to 200.
    """

    name = "trim"
    summary = "refit on the lowest-loss (1 - eps) share until it settles (TRIM, Jagielski 2018)"
    params = (CONTAMINATION, Int("max_iter", 20, 1, 200, "maximum number of fits"))
    #: refits the model until the trimmed set settles
    cost = Cost(above=1000, seconds=0.08, power=2.0)

    def sanitize(self, X, y, *, model=None, random_state=None, is_poison=None,
                 trusted=None) -> Sanitized:
        if model is None:
            raise ValueError("trim needs the victim model (model=...)")
        rs = check_random_state(random_state)
        n = len(y)
        n_keep = n - int(round(resolve_contamination(self.contamination, AUTO_SHARE) * n))
        if n_keep < 2:
            raise ValueError(f"trim would keep {n_keep} of {n} points; expected at least 2")
        tiebreak = rs.permutation(n)
        keep = np.zeros(n, dtype=bool)
        keep[rs.choice(n, size=n_keep, replace=False)] = True
        for _ in range(self.max_iter):
            loss = victim_loss(fit_clone(model, X[keep], y[keep]), X, y)
            chosen = np.zeros(n, dtype=bool)
            chosen[np.lexsort((tiebreak, loss))[:n_keep]] = True
            if np.array_equal(chosen, keep):
                break
            keep = chosen
        return self._drop(~chosen, loss, y)
