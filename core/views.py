"""2-D views of the data for contour plots: identity for 2 features, a PCA plane otherwise."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.decomposition import PCA

__all__ = ["View", "make_view", "trigger_lift"]


@dataclass(frozen=True, eq=False)
class View:
    """An affine map between feature space and a 2-D plotting plane.

    ``project(X) = ((X - mean) / scale) @ components.T`` and
    ``lift(P) = mean + (P @ components) * scale``. For 2-feature data ``mean`` is 0
    and ``scale`` 1 and ``components`` the identity, so points keep their own
    coordinates. Otherwise the plane is spanned by the first two principal
    components of the clean training data, standardized (so that a feature in
    dollars does not swamp one in years), and passes through its mean: a contour
    drawn on it is a *slice* of the model's decision function, not the whole of it.
    """

    mean: np.ndarray
    components: np.ndarray  # (2, n_features), orthonormal rows, in standardized units
    scale: np.ndarray | float
    axis_names: tuple[str, str]
    note: str | None = None  # one line for the UI when the view is a slice

    @property
    def is_identity(self) -> bool:
        return self.note is None

    def project(self, X: np.ndarray) -> np.ndarray:
        return ((np.asarray(X, dtype=float) - self.mean) / self.scale) @ self.components.T

    def lift(self, P: np.ndarray) -> np.ndarray:
        return self.mean + (np.asarray(P, dtype=float) @ self.components) * self.scale


def make_view(X: np.ndarray, feature_names: tuple[str, ...]) -> View:
    """Identity for 2 features; else PCA(2) of standardized ``X`` (deterministic: full SVD)."""
    d = X.shape[1]
    if d == 2:
        return View(np.zeros(2), np.eye(2), 1.0, (feature_names[0], feature_names[1]))
    if d < 2:
        raise ValueError(f"need at least 2 features to draw a 2-D view, got {d}")
    mean, scale = X.mean(axis=0), X.std(axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    pca = PCA(n_components=2, svd_solver="full").fit((X - mean) / scale)
    share = pca.explained_variance_ratio_
    names = (f"PC1 ({share[0]:.0%} of variance)", f"PC2 ({share[1]:.0%} of variance)")
    note = (f"{d} features shown on their first two principal components (standardized); the "
            "contour is the model's decision function on that plane through the data's mean "
            "(a slice).")
    return View(mean + scale * pca.mean_, pca.components_, scale, names, note)


def trigger_lift(view: View, trigger=None, *, present: bool = False):
    """``view.lift`` into a backdoored feature space, with the trigger absent or present.

    ``trigger`` is a backdoor's :class:`core.attacks.backdoor.Trigger` (None: plain
    ``view.lift``). Lifted points get the trigger's added feature as 0 (absent) or
    have the trigger stamped (``present=True``), so a decision grid evaluated on
    them shows the models with and without the trigger on the same plane.
    """
    if trigger is None:
        return view.lift
    if present:
        return lambda P: trigger.stamp(trigger.pad(view.lift(P)))
    return lambda P: trigger.pad(view.lift(P))
