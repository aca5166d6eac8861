"""The victim's own view of the training data, for the backdoor defenses.

Spectral signatures and activation clustering were written for a neural
network's penultimate-layer activations: the representation the classifier
separates linearly. A convex model's counterpart is the space its last stage
works in -- the features after the pipeline's scaling for a linear model, and
the kernel's feature space for a kernel SVM, reached through kernel PCA with
the model's own kernel and gamma (Schoelkopf, Smola & Mueller 1998).
"""

from __future__ import annotations

import numpy as np
from sklearn.base import clone
from sklearn.decomposition import PCA, KernelPCA
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

__all__ = ["victim_space", "class_components"]


def victim_space(model, X: np.ndarray) -> tuple[np.ndarray, dict | None]:
    """``X`` as the victim's classifier sees it, and its kernel (None: linear).

    ``model`` is the unfitted victim (a ``Pipeline`` whose steps before the last
    transform the features, or a bare estimator; None means "standardize, linear").
    Its transform is fitted on ``X`` itself, as the victim's retraining would. For
    an ``SVC`` with a nonlinear kernel, the kernel's parameters, ``gamma`` resolved
    as libsvm does (``"scale"`` = 1 / (n_features * Z.var()), ``"auto"`` = 1 / n_features).
    """
    X = np.asarray(X, dtype=float)
    if model is None:
        return StandardScaler().fit_transform(X), None
    if isinstance(model, Pipeline):
        head, clf = model[:-1], model[-1]
        Z = clone(head).fit_transform(X) if len(head) else X.copy()
    else:
        Z, clf = X.copy(), model
    if not isinstance(clf, SVC) or clf.kernel == "linear":
        return Z, None
    gamma = clf.gamma
    if gamma == "scale":
        var = Z.var()
        gamma = 1.0 / (Z.shape[1] * var) if var > 0 else 1.0
    elif gamma == "auto":
        gamma = 1.0 / Z.shape[1]
    return Z, {"kernel": clf.kernel, "gamma": float(gamma), "degree": clf.degree,
               "coef0": clf.coef0}


def class_components(Z: np.ndarray, kernel: dict | None, n_components: int, *,
                     random_state=None) -> np.ndarray:
    """The rows of ``Z`` (one class) on their first principal components, centered.

    Linear: PCA of the rows (their top right singular vectors). Kernel: kernel PCA
    with ``kernel`` (centered in the kernel's feature space), dense solver, so the
    result does not depend on ``random_state`` beyond ties. At most
    ``min(n_components, n_rows - 1, n_features)`` components (linear), or
    ``n_rows - 1`` (kernel); with fewer than 2 rows, zeros.
    """
    n = len(Z)
    if n < 2:
        return np.zeros((n, 1))
    if kernel is None:
        k = max(1, min(n_components, n - 1, Z.shape[1]))
        return PCA(n_components=k, svd_solver="full").fit_transform(Z)
    k = max(1, min(n_components, n - 1))
    kpca = KernelPCA(n_components=k, eigen_solver="dense", random_state=random_state,
                     **kernel)
    P = kpca.fit_transform(Z)
    return np.nan_to_num(P)
