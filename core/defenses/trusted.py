"""Label sanitization by a vote of trusted neighbours."""

from __future__ import annotations

import numpy as np
from sklearn.neighbors import KNeighborsClassifier
from sklearn.preprocessing import StandardScaler

from core.defenses.base import Defense, Sanitized
from core.params import Choice, Float, Int

__all__ = ["TrustedKNN"]


class TrustedKNN(Defense):
    """Flag training points whose nearest *trusted* points carry the other label.

    kNN label sanitization (Paudice, Muñoz-González & Lupu, ECML PKDD
    workshops 2018) lets every training point's neighbours vote; a poison
    group that is denser than ``k`` -- a cluster of fake records -- outvotes
    its own neighbourhood and passes. Here only the defender's trusted,
    hand-checked sample votes, as in the trusted-data outlier detection of
    Paudice, Muñoz-González, György & Lupu, "Detection of Adversarial Training
    Examples in Poisoning Attacks through Anomaly Detection" (arXiv:1802.03041,
    2018): each training point is compared with the ``k`` nearest trusted
    points (features standardized on the training set); if at least
    ``threshold`` of them carry the other label, the point is flagged and
    dropped (or relabelled). The suspicion score is that disagreeing share.

    Threat model: the attacker cannot touch the trusted sample. Its cost:
    genuine points in regions where the labels are noisy disagree with their
    trusted neighbours too, and are lost; the scorecard counts them.

    Parameters
    ----------
    k : int, default=10
        Trusted neighbours that vote, 1 to 100 (at most the trusted sample's size).
    threshold : float in (0.5, 1], default=0.6
        Share of the votes the other label needs.
    mode : {"drop", "relabel"}, default="drop"
    """

    name = "trusted_knn"
    summary = "drop points whose nearest trusted (hand-checked) points disagree"
    needs_trusted = True
    params = (
        Int("k", 10, 1, 100, "trusted neighbours that vote"),
        Float("threshold", 0.6, 0.5, 1.0, "share of the votes the other label needs",
              low_open=True, step=0.05),
        Choice("mode", "drop", ("drop", "relabel"), "what happens to a flagged point"),
    )

    def sanitize(self, X, y, *, model=None, random_state=None, is_poison=None,
                 trusted=None) -> Sanitized:
        if trusted is None or len(trusted[1]) == 0:
            raise ValueError("trusted_knn needs a trusted sample (set trusted_fraction > 0)")
        X_t, y_t = trusted
        scaler = StandardScaler().fit(X)
        voters = KNeighborsClassifier(n_neighbors=min(self.k, len(y_t)))
        voters.fit(scaler.transform(X_t), y_t)
        proba = voters.predict_proba(scaler.transform(X))
        # share of trusted neighbours whose label differs from the point's own
        agree = np.zeros(len(y))
        for col, label in enumerate(voters.classes_):
            agree[y == label] = proba[y == label, col]
        disagree = 1.0 - agree
        flagged = disagree >= self.threshold
        if self.mode == "drop":
            return self._drop(flagged, disagree, y)
        y_new = np.where(flagged, 1 - y, y)
        return Sanitized(~flagged, disagree, np.ones(len(y), dtype=bool), y_new, relabels=True)
