"""Activation clustering (Chen et al. 2018) in the victim's own representation."""

from __future__ import annotations

import numpy as np
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score
from sklearn.utils import check_random_state

from core.defenses._representation import class_components, victim_space
from core.defenses.base import DEFENSES, Defense, Sanitized
from core.params import Cost, Float, Int

__all__ = ["ActivationClustering"]


@DEFENSES.register
class ActivationClustering(Defense):
    """Per class, split the points in two and drop the smaller half if it is small and apart.

    Chen, Carvalho, Baracaldo, Ludwig, Edwards, Lee, Molloy & Srivastava,
    "Detecting Backdoor Attacks on Deep Neural Networks by Activation
    Clustering" (2018): triggered points labelled with a class are there for a
    different reason than its real members, so the class's representation splits
    into two clusters, the poison the smaller one. Per class the points are
    reduced to ``n_components`` dimensions (the paper uses ICA to 10; here PCA,
    deterministic), clustered by 2-means, and the smaller cluster is flagged when
    it holds less than ``size_threshold`` of the class and the split is real:
    silhouette score above ``silhouette_threshold`` (the paper's relative-size and
    silhouette criteria; 0.35 and 0.1 as in the Adversarial Robustness Toolbox).
    The representation is the victim's own (:mod:`core.defenses._representation`):
    scaled features for a linear model or logistic regression, kernel PCA with the
    model's kernel and gamma for a kernel SVM.

    Threat model: the defender has the (possibly poisoned) labelled training set
    and the victim's preprocessing and kernel, and knows nothing about the attack
    or the poison share. A clean class that is itself two clumps of unequal size
    (a moon's tip, a ring) loses its smaller clump; poison spread through a class
    is not a cluster and is missed.

    Parameters
    ----------
    n_components : int, default=10
        Dimensions each class is reduced to before clustering.
    size_threshold : float in (0, 0.5], default=0.35
        Flag the smaller cluster only if it holds less than this share of its class.
    silhouette_threshold : float in [-1, 1], default=0.1
        ... and only if the 2-means split's silhouette score is above this.

    Score: how much nearer a point is to its class's smaller cluster than to the
    larger, in [-1, 1]; points of a flagged cluster get 2 more (flagged = above 1).
    """

    name = "activation_clustering"
    summary = ("2-means per class in the victim's representation; drop a small, separate "
               "cluster (Chen 2018)")
    params = (
        Int("n_components", 10, 1, 50, "dimensions each class is reduced to (the paper: 10)"),
        Float("size_threshold", 0.35, 0.0, 0.5, "flag the smaller cluster if it holds less "
              "than this share of its class", low_open=True, step=0.05),
        Float("silhouette_threshold", 0.1, -1.0, 1.0, "... and the split's silhouette score "
              "is above this", step=0.05),
    )
    cost = Cost(above=3000, counts="seen")

    def sanitize(self, X, y, *, model=None, random_state=None, is_poison=None,
                 trusted=None) -> Sanitized:
        rs = check_random_state(random_state)
        Z, kernel = victim_space(model, X)
        score = np.zeros(len(y))
        flagged = np.zeros(len(y), dtype=bool)
        for c in np.unique(y):
            rows = np.flatnonzero(y == c)
            if len(rows) < 4:
                continue
            P = class_components(Z[rows], kernel, self.n_components, random_state=rs)
            km = KMeans(n_clusters=2, n_init=10, random_state=rs).fit(P)
            labels = km.labels_
            sizes = np.bincount(labels, minlength=2)
            if sizes.min() == 0:
                continue
            small = int(np.argmin(sizes))
            d = km.transform(P)  # distance to each centre
            d_small, d_large = d[:, small], d[:, 1 - small]
            score[rows] = (d_large - d_small) / np.maximum(d_large + d_small, 1e-12)
            apart = silhouette_score(P, labels) > self.silhouette_threshold
            if sizes[small] / len(rows) < self.size_threshold and apart:
                members = rows[labels == small]
                flagged[members] = True
                score[members] += 2.0
        return self._drop(flagged, score, y)
