"""Label sanitization by nearest-neighbour vote."""

from __future__ import annotations

import numpy as np
from sklearn.neighbors import NearestNeighbors
from sklearn.preprocessing import StandardScaler

from core._validation import check_choice, check_int, check_real
from core.defenses.base import Defense, Sanitized

__all__ = ["KNNSanitize"]


class KNNSanitize(Defense):
    """kNN label sanitization: relabel (or drop) points their neighbours disagree with.

    Paudice, Muñoz-González & Lupu, "Label Sanitization against Label Flipping
    Poisoning Attacks", ECML PKDD workshops 2018. For each training point the
    ``k`` nearest other points (standardized features) vote; if the winning
    label differs from the point's label and holds at least ``threshold`` of
    the votes, the point is flagged and relabelled to it (or dropped).
    Threat model: the defender assumes poison is a minority in every
    neighbourhood; it needs no trusted data.

    Parameters
    ----------
    k : int, default=10
        Neighbours that vote, 1 to 100.
    threshold : float in (0.5, 1], default=0.6
        Share of the votes the disagreeing label needs.
    mode : {"relabel", "drop"}, default="relabel"
    """

    name = "knn_sanitize"
    summary = "relabel points whose k nearest neighbours mostly disagree"
    config_params = {"knn_k": "k", "knn_threshold": "threshold"}

    def __init__(self, *, k: int = 10, threshold: float = 0.6, mode: str = "relabel") -> None:
        self.k = check_int("k", k, 1, 100)
        self.threshold = check_real("threshold", threshold, 0.5, 1.0, low_open=True)
        self.mode = check_choice("mode", mode, ["relabel", "drop"])

    def sanitize(self, X, y, *, model=None, random_state=None, is_poison=None,
                 trusted=None) -> Sanitized:
        k = min(self.k, len(y) - 1)
        if k < 1:
            raise ValueError("knn_sanitize needs at least 2 training points")
        Z = StandardScaler().fit_transform(X)
        # kneighbors() without X excludes each point from its own neighbours
        neigh = NearestNeighbors(n_neighbors=k).fit(Z).kneighbors(return_distance=False)
        disagree = (y[neigh] != y[:, None]).mean(axis=1)
        flagged = disagree >= self.threshold
        if self.mode == "drop":
            return self._drop(flagged, disagree, y)
        y_new = np.where(flagged, 1 - y, y)
        return Sanitized(~flagged, disagree, np.ones(len(y), dtype=bool), y_new, relabels=True)
