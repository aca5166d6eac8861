"""The sphere and slab defenses of Steinhardt, Koh & Liang (NeurIPS 2017)."""

from __future__ import annotations

import numpy as np

from core.defenses.base import (
    CONTAMINATION,
    Defense,
    Sanitized,
    resolve_contamination,
    robust_scale,
)

__all__ = ["Sphere", "Slab", "AUTO_SHARE"]

#: the share ``contamination="auto"`` removes in the fraction-based defenses (sphere, slab,
#: trim): 0.1, the default contamination of PyOD's detectors (Zhao, Nasrullah & Li, JMLR 2019)
AUTO_SHARE = 0.1


class _CentroidDefense(Defense):
    """Shared machinery: per-class robust centroids, per-class quantile radii."""

    params = (CONTAMINATION,)

    def _distances(self, Z: np.ndarray, y: np.ndarray, centroids: dict) -> np.ndarray:
        raise NotImplementedError

    def sanitize(self, X, y, *, model=None, random_state=None, is_poison=None,
                 trusted=None) -> Sanitized:
        share = resolve_contamination(self.contamination, AUTO_SHARE)
        Z = robust_scale(X)
        centroids = {c: np.median(Z[y == c], axis=0) for c in np.unique(y)}
        dist = self._distances(Z, y, centroids)
        score = np.zeros(len(y))
        for c in centroids:
            rows = y == c
            radius = max(float(np.quantile(dist[rows], 1.0 - share)), 1e-12)
            score[rows] = dist[rows] / radius  # in units of the class's radius
        return self._drop(score > 1.0, score, y)


class Sphere(_CentroidDefense):
    """Drop points far from the centroid of the class they claim.

    Steinhardt, Koh & Liang, "Certified Defenses for Data Poisoning Attacks",
    NeurIPS 2017 (the sphere defense): keep ``x`` with label ``y`` only if
    ``||x - mu_y|| <= r_y``. Here ``mu_y`` is the coordinate-wise median of the
    points labelled ``y`` after robust scaling (median / IQR per feature), not
    the mean the paper's oracle defender computes on clean data: the median
    stays inside the class as long as the poison is a minority of it, so the
    poison cannot drag the centre towards itself. The radius ``r_y`` is the
    ``1 - contamination`` quantile of the class's distances: every class loses
    that share of its farthest points. Score = distance / ``r_y``.
    Catches far-away points with either label; blind to flips that sit at a
    typical distance from the centroid of the class they claim.
    Threat model: the defender knows nothing about the attack; it assumes
    each class is a single blob and poison lies far from its centre.

    Parameters
    ----------
    contamination : float in (0, 0.5] or "auto", default="auto"
        Share of each class dropped; ``"auto"`` = 0.1 (PyOD's default contamination).
    """

    name = "sphere"
    summary = "drop points far from their class's (median) centroid (Steinhardt 2017)"

    def _distances(self, Z, y, centroids):
        dist = np.zeros(len(y))
        for c, mu in centroids.items():
            rows = y == c
            dist[rows] = np.linalg.norm(Z[rows] - mu, axis=1)
        return dist


class Slab(_CentroidDefense):
    """Drop points far from their class centroid along the line between the two centroids.

    Steinhardt, Koh & Liang, "Certified Defenses for Data Poisoning Attacks",
    NeurIPS 2017 (the slab defense): keep ``x`` with label ``y`` only if
    ``|<x - mu_y, mu_y - mu_-y>| / ||mu_y - mu_-y|| <= s_y`` -- a slab
    orthogonal to the centroid axis, which ignores spread along directions that
    do not separate the classes. Centroids are the per-class coordinate-wise
    medians after robust scaling (see :class:`Sphere`); ``s_y`` is the
    ``1 - contamination`` quantile of the class's slab distances. Score =
    slab distance / ``s_y``. With one class (or equal centroids) there is no
    axis and nothing is flagged.
    Catches points pushed along the class-separating direction (flips deep in
    the other class, injections beyond it); blind to spread across that axis.
    Threat model: as :class:`Sphere`.

    Parameters
    ----------
    contamination : float in (0, 0.5] or "auto", default="auto"
        Share of each class dropped; ``"auto"`` = 0.1 (PyOD's default contamination).
    """

    name = "slab"
    summary = "drop points far from their class centroid along the centroid axis (Steinhardt 2017)"

    def _distances(self, Z, y, centroids):
        dist = np.zeros(len(y))
        if len(centroids) != 2:
            return dist
        (c0, mu0), (c1, mu1) = centroids.items()
        axis = mu1 - mu0
        norm = np.linalg.norm(axis)
        if norm == 0:
            return dist
        axis = axis / norm
        for c, mu in centroids.items():
            rows = y == c
            dist[rows] = np.abs((Z[rows] - mu) @ axis)
        return dist
