"""Spectral signatures (Tran, Li & Madry 2018) in the victim's own representation."""

from __future__ import annotations

import numpy as np

from core.defenses._representation import class_components, victim_space
from core.defenses.base import CONTAMINATION, DEFENSES, Defense, Sanitized, resolve_contamination
from core.defenses.centroids import AUTO_SHARE
from core.params import Cost, Float

__all__ = ["SpectralSignature"]


@DEFENSES.register
class SpectralSignature(Defense):
    """Per class, drop the points that stick out most along the top singular vector.

    Tran, Li & Madry, "Spectral Signatures in Backdoor Attacks", NeurIPS 2018:
    poison that carries a trigger shifts the mean of the class it is labelled
    with, and in a learned representation that shift shows up along the top
    singular vector of the class's centered representation. Each point's score
    is its squared projection on that vector; per class the ``removal_factor``
    x ``contamination`` share with the highest scores is removed (the paper
    removes 1.5 times an upper bound on the poison share). The paper reads a
    network's penultimate layer; here the representation is the victim's own
    (:mod:`core.defenses._representation`): the features after the pipeline's
    scaling for a linear model or logistic regression, and for a kernel SVM the
    kernel's feature space, through kernel PCA with the model's kernel and gamma
    (whose first component is the top singular vector of the centered class in
    that space).

    Threat model: the defender has the (possibly poisoned) labelled training set
    and the victim's preprocessing and kernel; it guesses an upper bound on the
    poison share (``contamination``), not which class or which points. It loses
    ``removal_factor`` x ``contamination`` of every class, poisoned or not. Against
    poison that does not move its class's mean along one direction (spread-out
    label flips) it removes clean points.

    Parameters
    ----------
    contamination : float in (0, 0.5] or "auto", default="auto"
        Upper bound on the share of poison in a class; ``"auto"`` = 0.1.
    removal_factor : float in [1, 3], default=1.5
        Each class loses ``round(removal_factor * contamination * n_class)`` points
        (at most all but one).

    Score: the squared projection in units of the class's cut (flagged = 1 and above).
    """

    name = "spectral_signature"
    summary = ("drop each class's points with the largest projection on its top singular "
               "vector (Tran 2018; victim's representation)")
    params = (
        CONTAMINATION,
        Float("removal_factor", 1.5, 1.0, 3.0, "each class loses this many times the "
              "contamination (the paper: 1.5)", step=0.1),
    )
    cost = Cost(above=3000, counts="seen")

    def sanitize(self, X, y, *, model=None, random_state=None, is_poison=None,
                 trusted=None) -> Sanitized:
        share = resolve_contamination(self.contamination, AUTO_SHARE)
        Z, kernel = victim_space(model, X)
        score = np.zeros(len(y))
        flagged = np.zeros(len(y), dtype=bool)
        for c in np.unique(y):
            rows = np.flatnonzero(y == c)
            s = class_components(Z[rows], kernel, 1, random_state=random_state)[:, 0] ** 2
            k = min(int(round(self.removal_factor * share * len(rows))), len(rows) - 1)
            order = np.argsort(-s, kind="stable")
            cut = s[order[k - 1]] if k > 0 else s.max() * (1 + 1e-9)
            if k > 0:
                flagged[rows[order[:k]]] = True
            score[rows] = s / max(cut, 1e-12)
        return self._drop(flagged, score, y)
