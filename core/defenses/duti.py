"""DUTI: the fewest label changes that make the learner fit the trusted items."""

from __future__ import annotations

import numpy as np
from scipy.linalg import lapack
from scipy.optimize import minimize
from sklearn.linear_model import LogisticRegression
from sklearn.metrics.pairwise import pairwise_kernels
from sklearn.svm import SVC

from core.defenses.base import Defense, Sanitized
from core.defenses.training import victim_view
from core.params import Choice, Cost, Float

__all__ = ["DUTI", "duti_flips", "victim_kernel", "MAX_POINTS"]

#: training plus trusted points DUTI solves for at once: the solve is dense, O(n^3) time and
#: O(n^2) memory (about 3.3 n x n float matrices at the peak)
MAX_POINTS = 3000


def victim_kernel(clf, Z: np.ndarray, Z_t: np.ndarray) -> np.ndarray:
    """The victim's own kernel on the training points ``Z`` followed by the trusted ``Z_t``.

    Both in the victim's feature space. An SVC's kernel with its ``gamma``
    (``"scale"`` and ``"auto"`` resolved on ``Z`` as scikit-learn does when it
    fits on ``Z``), ``degree`` and ``coef0``; the linear kernel plus 1 (an
    intercept) for a linear SVC and for logistic regression.
    """
    Z_all = np.vstack([Z, Z_t])
    if isinstance(clf, SVC) and clf.kernel not in ("linear", "rbf", "poly", "sigmoid"):
        raise ValueError(f"duti supports the linear, rbf, poly and sigmoid kernels, not "
                         f"{clf.kernel!r}")
    if isinstance(clf, SVC) and clf.kernel != "linear":
        gamma = clf.gamma
        if gamma == "scale":
            var = float(Z.var())
            gamma = 1.0 / (Z.shape[1] * var) if var > 0 else 1.0
        elif gamma == "auto":
            gamma = 1.0 / Z.shape[1]
        return pairwise_kernels(Z_all, metric=clf.kernel, filter_params=True, gamma=gamma,
                                degree=clf.degree, coef0=clf.coef0)
    if isinstance(clf, (SVC, LogisticRegression)):
        return Z_all @ Z_all.T + 1.0
    raise ValueError(f"duti supports SVC and logistic regression victims, not "
                     f"{type(clf).__name__}")


def _invert_in_place(A: np.ndarray) -> np.ndarray:
    """``A^-1`` in ``A``'s own memory (Fortran-ordered float64), by LU (LAPACK getrf/getri).

    Not ``scipy.linalg.inv(A, overwrite_a=True)``: in SciPy 1.17 that first tries a
    Cholesky factorization in place on a symmetric input and, when ``A`` is not positive
    definite (a sigmoid kernel), crashes the process (scipy/scipy#26045, fixed by #26050).
    """
    lu, piv, info = lapack.dgetrf(A, overwrite_a=True)
    if info > 0:
        raise ValueError("duti: the kernel plus ridge is singular; raise ridge")
    lwork = int(lapack.dgetri_lwork(A.shape[0])[0].real)
    inv, info = lapack.dgetri(lu, piv, lwork=max(lwork, 1), overwrite_lu=True)
    if info != 0:
        raise ValueError("duti: the kernel plus ridge is singular; raise ridge")
    return inv


def duti_flips(K: np.ndarray, y: np.ndarray, y_t: np.ndarray, *, ridge: float = 1.0,
               sparsity: float = 0.1, trusted_weight: float = 1.0) -> np.ndarray:
    """DUTI's relaxed label changes for a kernel ridge learner: ``delta`` in [0, 1] per point.

    ``K`` is the kernel on the training points followed by the trusted ones.
    The learner is kernel ridge regression on labels ``+-1`` fitted to both
    sets, whose residuals on its own training data are linear in the labels:
    ``f - y' = -ridge (K + ridge I)^-1 y'``. Training label ``i`` becomes
    ``s_i (1 - 2 delta_i)`` (``s`` the given sign); ``delta`` minimizes

        trusted_weight * mean over trusted (f - y_t)^2
        + mean over training (f - y')^2 + sparsity * mean(delta),

    a convex quadratic over the box ``[0, 1]^n`` (solved with L-BFGS-B from
    ``delta = 0``; deterministic): the trusted items pull the fit their way, the training
    term keeps changed labels consistent with their neighbours', and the
    ``sparsity`` term (DUTI's ``gamma``) prices each change. In this relaxation a
    label ``y'`` near 0 (``delta`` near 0.5) also fits easily: the weaker the fit
    (the larger ``ridge``), the more the scores gather around 0.5 (ridge 1000:
    0.45-0.52), so keep ``ridge`` near the default. With the (indefinite) sigmoid
    kernel the fit is the same linear smoother but not a ridge minimizer; the
    program stays convex. Labels are 0/1; ``K`` is ``(n + m) x (n + m)``.
    """
    y, y_t = np.asarray(y), np.asarray(y_t)
    n, m = len(y), len(y_t)
    if K.shape != (n + m, n + m):
        raise ValueError(f"duti: the kernel is {K.shape[0]} x {K.shape[1]} but there are "
                         f"{n} training and {m} trusted labels")
    if not (np.isin(y, (0, 1)).all() and np.isin(y_t, (0, 1)).all()):
        raise ValueError("duti: labels must be 0 or 1")
    s = 2.0 * y - 1.0
    ya = np.concatenate([s, 2.0 * y_t - 1.0])
    # G = (K + ridge I)^-1, inverted in place (LU) in a Fortran-ordered copy; then
    # P = G W G = H^T H with H = sqrt(W) G, also in place: K, H and P at the peak
    H = np.array(K, dtype=float, order="F")
    H.flat[::n + m + 1] += ridge
    H = _invert_in_place(H)
    H *= np.sqrt(np.concatenate([np.full(n, 1.0 / n), np.full(m, trusted_weight / m)]))[:, None]
    P = H.T @ H  # objective = ridge^2 y'^T P y' + sparsity * mean(delta)
    del H
    P *= ridge ** 2
    scale = 2.0 * s  # d y' / d delta on the training rows

    def objective(delta: np.ndarray) -> tuple[float, np.ndarray]:
        y_new = ya.copy()
        y_new[:n] -= scale * delta
        Py = P @ y_new
        value = float(y_new @ Py) + sparsity * delta.sum() / n
        grad = -2.0 * scale * Py[:n] + sparsity / n
        return value, grad

    # the objective is a mean of small residuals: tolerances well below its scale (the
    # default gtol stops ~1e-4 short of the optimum in delta)
    res = minimize(objective, np.zeros(n), jac=True, method="L-BFGS-B",
                   bounds=[(0.0, 1.0)] * n, options={"gtol": 1e-10, "ftol": 1e-12})
    return np.clip(res.x, 0.0, 1.0)


class DUTI(Defense):
    """Relabel the fewest training points that make the learner fit the trusted items.

    Zhang, Zhu & Wright, "Training Set Debugging Using Trusted Items", AAAI
    2018 (DUTI). The defender holds a few trusted, hand-checked points; DUTI
    looks for the smallest set of label changes after which the learner,
    trained on the training set (with the changed labels) plus the trusted
    items, fits the trusted items -- and still fits the changed training
    labels. It is a bilevel problem; for kernel ridge regression the inner
    fit has a closed form and the label changes, relaxed to ``delta`` in
    ``[0, 1]``, solve a convex quadratic program (:func:`duti_flips`). That is
    the learner here, with the victim's own kernel on the victim's
    standardized features (:func:`victim_kernel`; an SVC's ``C`` does not
    enter): a surrogate that judges labels, not the model that is retrained.
    A point with ``delta > 0.5`` is flagged and relabelled (or dropped).

    Where :class:`~core.defenses.relabel.TrustedRelabel` judges cells of
    neighbouring points one at a time, DUTI weighs every label at once: a
    flipped band is only worth changing as a whole, and a whole band pulls
    the fit away from the trusted points inside it. Relabelling an injected
    point keeps a point the real data never had: against injections
    ``mode="drop"`` is the better choice (how the defaults were chosen:
    ``docs/benchmarks.md``).

    Score = ``delta``, the relaxed share of a label change. Threat model: the
    defender holds a trusted clean sample from the data distribution
    (``trusted_fraction`` > 0); the attacker changed labels or injected
    points whose labels are wrong for where they sit. Cost: a dense solve
    over training and trusted points, O(n^3); at most :data:`MAX_POINTS`.

    Parameters
    ----------
    ridge : float, default=1.0
        Kernel ridge regularization, 1e-3 to 100 (larger = smoother surrogate).
    sparsity : float, default=0.1
        Price of each label change (DUTI's gamma), 0 to 100.
    trusted_weight : float, default=1.0
        Weight of the trusted items' fit against the training set's, 0.01 to 100.
    mode : {"relabel", "drop"}, default="relabel"
    """

    name = "duti"
    summary = ("relabel the fewest points that make the fit agree with trusted data "
               "(DUTI, Zhang et al. 2018)")
    needs_trusted = True
    params = (
        Float("ridge", 1.0, 1e-3, 100.0, "kernel ridge regularization (larger = smoother)",
              step=0.1),
        Float("sparsity", 0.1, 0.0, 100.0, "price of each label change (DUTI's gamma)",
              step=0.05),
        Float("trusted_weight", 1.0, 0.01, 100.0, "weight of the trusted items' fit",
              step=0.1),
        Choice("mode", "relabel", ("relabel", "drop"), "what happens to a flagged point"),
    )
    #: a dense O(n^3) solve over every point it sees (injected and trusted included)
    cost = Cost(above=1000, counts="seen", seconds=0.12, power=2.0)

    def sanitize(self, X, y, *, model=None, random_state=None, is_poison=None,
                 trusted=None) -> Sanitized:
        if trusted is None or len(trusted[1]) == 0:
            raise ValueError("duti needs a trusted clean sample (trusted=(X, y)); "
                             "set trusted_fraction > 0")
        if model is None:
            raise ValueError("duti needs the victim model (model=...)")
        X, y = np.asarray(X, dtype=float), np.asarray(y)
        X_t, y_t = np.asarray(trusted[0], dtype=float), np.asarray(trusted[1])
        if len(y) + len(y_t) > MAX_POINTS:
            raise ValueError(f"duti solves for every label at once and handles at most "
                             f"{MAX_POINTS} training and trusted points, not "
                             f"{len(y) + len(y_t)}; use trusted_relabel or fewer points")
        clf, Z, Z_t = victim_view(model, X, X_t)
        K = victim_kernel(clf, Z, Z_t)
        delta = duti_flips(K, y, y_t, ridge=self.ridge, sparsity=self.sparsity,
                           trusted_weight=self.trusted_weight)
        flagged = delta > 0.5
        if self.mode == "drop":
            return self._drop(flagged, delta, y)
        y_new = np.where(flagged, 1 - y, y)
        return Sanitized(~flagged, delta, np.ones(len(y), dtype=bool), y_new, relabels=True)
