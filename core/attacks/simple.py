"""The simple attacks: random flips, boundary-aware flips, an injected cluster."""

from __future__ import annotations

import numpy as np
from sklearn.utils import check_random_state

from core.attacks.base import Attack, PoisonedSet, budget
from core.models import fit_clone
from core.params import Choice, Float

__all__ = ["LabelFlip", "TargetedFlip", "Injection"]


class LabelFlip(Attack):
    """Flip the labels of a uniformly random subset of the training points.

    The baseline of the label-flipping literature (e.g. Biggio, Nelson & Laskov,
    "Support Vector Machines Under Adversarial Label Noise", ACML 2011, which
    uses it as the random reference). Threat model: the attacker can change
    labels of existing training records, knows nothing about the model.
    """

    name = "label_flip"
    summary = "flip the labels of a random subset of training points"

    def poison(self, X, y, *, model=None, random_state=None) -> PoisonedSet:
        rs = check_random_state(random_state)
        n = budget(self.rate, len(y))
        idx = rs.choice(len(y), size=n, replace=False)
        y_p = y.copy()
        y_p[idx] = 1 - y_p[idx]
        mask = np.zeros(len(y), dtype=bool)
        mask[idx] = True
        return PoisonedSet(X.copy(), y_p, mask)


class TargetedFlip(Attack):
    """Flip the labels of the ``flip_class`` points closest to the clean boundary.

    A one-sided, boundary-aware flip in the spirit of the distance-based
    heuristics of Xiao, Xiao & Eckert, "Adversarial Label Flips Attack on
    Support Vector Machines" (ECAI 2012): points of one class just inside the
    clean decision boundary are relabelled, so the retrained boundary slides
    into that class. Threat model: the attacker knows the training data and the
    model class with its hyperparameters (it fits the clean model itself) and
    can change labels, not features.

    Parameters
    ----------
    rate : float
        Budget, poison points / training points.
    flip_class : {0, 1}, default=0
        Class whose points are relabelled as the other class. If the class has
        fewer points than the budget, all of them are flipped.
    """

    name = "targeted_flip"
    summary = "flip one class's points nearest the clean model's boundary"

    params = (Choice("flip_class", 0, (0, 1), "class whose points are relabelled as the other"),)

    def poison(self, X, y, *, model=None, random_state=None) -> PoisonedSet:
        if model is None:
            raise ValueError("targeted_flip needs the victim model (model=...) to find the "
                             "boundary")
        clean = fit_clone(model, X, y)
        margin = np.abs(clean.decision_function(X))
        candidates = np.flatnonzero(y == self.flip_class)
        n = min(budget(self.rate, len(y)), candidates.size)
        # stable sort: ties resolved by index, so the result is deterministic
        idx = candidates[np.argsort(margin[candidates], kind="stable")[:n]]
        y_p = y.copy()
        y_p[idx] = 1 - self.flip_class
        mask = np.zeros(len(y), dtype=bool)
        mask[idx] = True
        return PoisonedSet(X.copy(), y_p, mask)


class Injection(Attack):
    """Inject a cluster of new points carrying the wrong label.

    The classic demonstration of poisoning by injected outliers (surveyed in
    Biggio & Roli, "Wild Patterns: Ten Years After the Rise of Adversarial
    Machine Learning", Pattern Recognition 2018; the outlier points that
    Steinhardt, Koh & Liang's sphere defense, NeurIPS 2017, is built to
    remove). Placement rule: let
    ``c_l`` and ``c_o`` be the centroids of the poison label ``label`` and of
    the other class, ``u`` the unit vector from ``c_l`` to ``c_o`` and ``s`` the
    mean per-feature standard deviation of the training data. The cluster is
    centred at ``c_o + distance * s * u`` -- beyond the other class, on the far
    side from the real ``label`` points -- with isotropic Gaussian spread
    ``spread * s``, and every point is labelled ``label``. The hinge/log loss of
    these far-away wrong labels drags the boundary across the other class.
    Threat model: the attacker can add records (features and label) and knows
    the class centroids; it knows nothing about the model.

    Parameters
    ----------
    rate : float
        Budget, injected points / clean training points.
    label : {0, 1}, default=1
        Label given to the injected points (1 = "approve" on the loan data).
    distance : float, default=3.0
        How far beyond the other class's centroid, in units of ``s``; 0 to 20.
    spread : float, default=0.6
        Cluster standard deviation in units of ``s``; 0 to 5.
    """

    name = "injection"
    summary = "inject a wrong-label cluster beyond the other class"

    params = (
        Choice("label", 1, (0, 1), "label given to the injected points"),
        Float("distance", 3.0, 0.0, 20.0, "how far beyond the other class, in feature SDs",
              step=0.25),
        Float("spread", 0.6, 0.0, 5.0, "cluster SD, in feature SDs", step=0.05),
    )

    def centre(self, X: np.ndarray, y: np.ndarray) -> np.ndarray:
        """The cluster centre the placement rule gives for ``(X, y)``."""
        c_l = X[y == self.label].mean(axis=0)
        c_o = X[y != self.label].mean(axis=0)
        gap = c_o - c_l
        norm = np.linalg.norm(gap)
        u = gap / norm if norm > 0 else np.eye(X.shape[1])[0]
        return c_o + self.distance * self._scale(X) * u

    @staticmethod
    def _scale(X: np.ndarray) -> float:
        return float(X.std(axis=0).mean()) or 1.0

    def poison(self, X, y, *, model=None, random_state=None) -> PoisonedSet:
        if np.unique(y).size < 2:
            raise ValueError("injection needs training data with both classes")
        rs = check_random_state(random_state)
        n = budget(self.rate, len(y))
        pts = self.centre(X, y) + rs.normal(scale=self.spread * self._scale(X),
                                            size=(n, X.shape[1]))
        X_p = np.vstack([X, pts])
        y_p = np.concatenate([y, np.full(n, self.label, dtype=y.dtype)])
        mask = np.concatenate([np.zeros(len(y), dtype=bool), np.ones(n, dtype=bool)])
        return PoisonedSet(X_p, y_p, mask)
