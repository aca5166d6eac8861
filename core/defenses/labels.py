"""Label sanitization by nearest-neighbour vote."""

from __future__ import annotations

import math

import numpy as np
from sklearn.neighbors import NearestNeighbors
from sklearn.preprocessing import StandardScaler

from core.defenses.base import Defense, Sanitized
from core.params import Bool, Choice, Float, Int

__all__ = ["KNNSanitize", "knn_relabel", "voters"]


def voters(k: int, n: int) -> int:
    """Voters among ``n`` points: at least ``k`` and ``ceil(sqrt(n))``, at most ``n - 1``."""
    return min(max(k, math.ceil(math.sqrt(n))), n - 1)


def knn_relabel(X: np.ndarray, y: np.ndarray, *, k: int, threshold: float,
                rate_aware: bool = True, max_iter: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """The vote of :class:`KNNSanitize`: ``(new labels, disputed share)`` per point.

    The disputed share is that of the voting neighbours whose input label
    differs from the point's (the first vote). See :class:`KNNSanitize`.
    """
    y = np.asarray(y)
    if len(y) < 2:
        raise ValueError("knn_sanitize needs at least 2 training points")
    k = voters(k, len(y)) if rate_aware else min(k, len(y) - 1)
    Z = StandardScaler().fit_transform(np.asarray(X, dtype=float))
    # kneighbors() without X excludes each point from its own neighbours
    neigh = NearestNeighbors(n_neighbors=k).fit(Z).kneighbors(return_distance=False)
    share = (y[neigh] != y[:, None]).mean(axis=1)
    need = threshold
    if rate_aware:
        rho = min(float((share > 0.5).mean()), 0.49)  # flip rate: what the majority disputes
        bayes = 1.0 - 2.0 * rho * (1.0 - rho)  # as likely flipped as not, deep in a class
        need = max(threshold, bayes - math.sqrt(rho * (1.0 - rho) / k))
    current = y
    for _ in range(max_iter):
        against = (current[neigh] != current[:, None]).mean(axis=1)
        new = np.where((against >= need - 1e-12) & (against > 0.5), 1 - current, current)
        if np.array_equal(new, current):
            break
        current = new
    return current, share


class KNNSanitize(Defense):
    """kNN label sanitization: relabel (or drop) points their neighbours disagree with.

    Paudice, Muñoz-González & Lupu, "Label Sanitization against Label Flipping
    Poisoning Attacks", ECML PKDD workshops 2018. For each training point its
    nearest other points (standardized features) vote; if the other label
    holds enough of the votes, the point is flagged and relabelled (or dropped).
    The paper's rule -- ``k`` voters, a fixed share ``threshold``, one vote --
    is ``rate_aware=False, max_iter=1``. By default three refinements apply:

    - **Voters scale with n.** At least ``ceil(sqrt(n))`` of the ``n`` points
      vote (the classic rule of thumb for kNN estimates; 18 of 300), so a
      share is not decided by two or three votes.
    - **Rate-aware share.** Under random flips at rate ``rho`` a point deep in
      a class sees about ``1 - rho`` of its neighbours disagree if it was
      flipped and ``rho`` if not, and it is as likely flipped as not at a
      share of ``1 - 2 rho (1 - rho)``. A fixed share is too strict at high
      rates and too lenient at low ones, where points that sat on the wrong
      side of the boundary before any attack (natural noise, which counts
      against precision) are a large part of what is flagged. With ``rho``
      estimated as the share of points the plain majority vote disputes, a
      point needs ``1 - 2 rho (1 - rho)`` of the votes less one binomial
      standard error ``sqrt(rho (1 - rho) / k)``, and never less than
      ``threshold`` (nor a bare half).
    - **Fixed point.** Relabel, vote again with the new labels, repeat until
      nothing changes (at most ``max_iter`` votes): as flips are corrected the
      remaining ones are outvoted more clearly. A point is flagged when its
      final label differs from its input label.

    (How these rules were chosen, and what they measure: ``docs/benchmarks.md``.)
    Score = the share of the voters whose input label disagrees with the
    point's (the first vote); with ``max_iter=1`` the flags are a cut of it.
    Threat model: the defender assumes poison is a minority in every
    neighbourhood; it needs no trusted data.

    Parameters
    ----------
    k : int, default=10
        Neighbours that vote, 1 to 100 (at least ``ceil(sqrt(n))`` when ``rate_aware``).
    threshold : float in (0.5, 1], default=0.6
        The smallest share of the votes the other label needs.
    mode : {"relabel", "drop"}, default="relabel"
    rate_aware : bool, default=True
        Scale the voters with ``n`` and raise the share when few labels look flipped.
    max_iter : int, default=10
        Votes until the fixed point, 1 to 100 (1 = a single vote).
    """

    name = "knn_sanitize"
    summary = "relabel points whose k nearest neighbours mostly disagree"
    params = (
        Int("k", 10, 1, 100, "neighbours that vote"),
        Float("threshold", 0.6, 0.5, 1.0, "smallest share of the votes the other label needs",
              low_open=True, step=0.05),
        Choice("mode", "relabel", ("relabel", "drop"), "what happens to a flagged point"),
        Bool("rate_aware", True, "scale the voters with n and the share with the flip rate"),
        Int("max_iter", 10, 1, 100, "votes until the fixed point (1 = a single vote)"),
    )

    def sanitize(self, X, y, *, model=None, random_state=None, is_poison=None,
                 trusted=None) -> Sanitized:
        y = np.asarray(y)
        y_new, share = knn_relabel(X, y, k=self.k, threshold=self.threshold,
                                   rate_aware=self.rate_aware, max_iter=self.max_iter)
        flagged = y_new != y
        if self.mode == "drop":
            return self._drop(flagged, share, y)
        return Sanitized(~flagged, share, np.ones(len(y), dtype=bool), y_new, relabels=True)
