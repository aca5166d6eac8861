"""A targeted injection: poison placed so that chosen target points get the attacker's label."""

from __future__ import annotations

import numpy as np
from sklearn.neighbors import NearestNeighbors
from sklearn.utils import check_random_state

from core.attacks.base import Attack, PoisonedSet, budget
from core.models import fit_clone
from core.params import Choice, Float, Int

__all__ = ["TargetedInjection", "pick_targets"]


def pick_targets(X: np.ndarray, y: np.ndarray, margin: np.ndarray, *, n_targets: int,
                 target_label: int, depth: float) -> np.ndarray:
    """Row indices of the attacker's targets: a tight group the clean model rejects.

    Among the training points labelled ``1 - target_label`` that the clean
    model also classifies so (``margin`` is its decision function, positive =
    class 1; if it classifies none so, all of them: the attacker has nothing left
    to win, and the target success rate of the clean model says so), take the one
    at quantile ``depth`` of the distance from the boundary (0 = the closest, 1 =
    the deepest) as the anchor; the targets are
    the anchor and its ``n_targets - 1`` nearest such points (standardized
    features). Deterministic: ties are broken by row index.
    """
    own = 1 - target_label
    signed = margin if own == 1 else -margin
    pool = np.flatnonzero((y == own) & (signed > 0))
    if pool.size == 0:  # the clean model already gives every point the attacker's label:
        pool = np.flatnonzero(y == own)  # the targets are won before the attack starts
    if pool.size == 0:
        raise ValueError(f"targeted_injection needs training points of class {own} to target")
    n_targets = min(n_targets, pool.size)
    order = pool[np.argsort(signed[pool], kind="stable")]
    anchor = order[int(round(depth * (order.size - 1)))]
    scale = X.std(axis=0)
    Z = X / np.where(scale > 0, scale, 1.0)
    nn = NearestNeighbors(n_neighbors=n_targets).fit(Z[pool])
    near = pool[nn.kneighbors(Z[anchor:anchor + 1], return_distance=False)[0]]
    return np.sort(near)


class TargetedInjection(Attack):
    """Inject correctly-looking points labelled ``target_label`` just beyond chosen targets.

    A targeted (integrity) poisoning attack: the goal is not to lower accuracy
    but to make specific target points -- the attacker's own applications --
    receive ``target_label``, while the model stays accurate elsewhere so that
    nobody notices. This is the attacker goal of Shafahi et al., "Poison Frogs!
    Targeted Clean-Label Poisoning Attacks on Neural Networks" (NeurIPS 2018)
    and the "targeted" case of Biggio & Roli's taxonomy ("Wild Patterns",
    Pattern Recognition 2018); the placement here is the simple geometric one
    for a convex learner (it does not need the clean label constraint):

    1. fit the clean model (the attacker knows the model class and the data
       distribution) and pick the targets with :func:`pick_targets` -- a tight
       group of points the clean model rejects, at quantile ``depth`` of the
       rejected points' distance from the boundary;
    2. let ``u`` be the unit vector from the ``target_label`` class centroid to
       the other class centroid, ``s`` the mean per-feature standard
       deviation; place the poison around ``mean(targets) + distance * s * u``
       (just beyond the targets, so the boundary must move past them to fit
       the poison) with Gaussian spread ``spread * s``, all labelled
       ``target_label``.

    The poison sits among real data (inside the rejected class), so feature
    outlier detectors see little; a dense poison group also outvotes its own
    neighbourhood, which is why a kNN label vote can miss it.

    Parameters
    ----------
    rate : float
        Budget, injected points / clean training points.
    n_targets : int, default=5
        Number of target points, 1 to 100.
    target_label : {0, 1}, default=1
        The label the attacker wants for the targets (1 = "approve" on the loan data).
    depth : float in [0, 1], default=0.25
        Which rejected points become targets: 0 = the ones closest to the
        boundary (cheap to flip), 1 = the most clearly rejected.
    distance : float, default=0.25
        How far beyond the targets the poison is centred, in units of ``s``; 0 to 5.
    spread : float, default=0.1
        Poison spread in units of ``s``; 0 to 2.

    The returned :class:`PoisonedSet` carries ``targets`` (their features) and
    ``target_label``; :func:`core.metrics.target_success_rate` scores a model on them.
    """

    name = "targeted_injection"
    summary = "inject points that make chosen target points get the attacker's label"

    targeted = True
    params = (
        Int("n_targets", 5, 1, 100, "number of target points"),
        Choice("target_label", 1, (0, 1), "the label the attacker wants for the targets"),
        Float("depth", 0.25, 0.0, 1.0, "which rejected points: 0 = nearest the boundary, "
              "1 = deepest", step=0.05),
        Float("distance", 0.25, 0.0, 5.0, "how far beyond the targets, in feature SDs",
              step=0.05),
        Float("spread", 0.1, 0.0, 2.0, "poison SD, in feature SDs", step=0.05),
    )

    def poison(self, X, y, *, model=None, random_state=None) -> PoisonedSet:
        if model is None:
            raise ValueError("targeted_injection needs the victim model (model=...) to choose "
                             "targets the clean model rejects")
        if np.unique(y).size < 2:
            raise ValueError("targeted_injection needs training data with both classes")
        rs = check_random_state(random_state)
        clean = fit_clone(model, X, y)
        idx = pick_targets(X, y, clean.decision_function(X), n_targets=self.n_targets,
                           target_label=self.target_label, depth=self.depth)
        targets = X[idx]
        gap = X[y != self.target_label].mean(axis=0) - X[y == self.target_label].mean(axis=0)
        norm = np.linalg.norm(gap)
        u = gap / norm if norm > 0 else np.eye(X.shape[1])[0]
        s = float(X.std(axis=0).mean()) or 1.0
        n = budget(self.rate, len(y))
        centre = targets.mean(axis=0) + self.distance * s * u
        pts = centre + rs.normal(scale=self.spread * s, size=(n, X.shape[1]))
        X_p = np.vstack([X, pts])
        y_p = np.concatenate([y, np.full(n, self.target_label, dtype=y.dtype)])
        mask = np.concatenate([np.zeros(len(y), dtype=bool), np.ones(n, dtype=bool)])
        return PoisonedSet(X_p, y_p, mask, targets=targets.copy(), target_label=self.target_label,
                           target_index=idx)
