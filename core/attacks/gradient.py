"""Gradient-based poisoning (Biggio, Nelson & Laskov, ICML 2012), all points jointly."""

from __future__ import annotations

import numpy as np
from sklearn.metrics.pairwise import pairwise_kernels
from sklearn.utils import check_random_state

from core.attacks._surrogate import Surrogate
from core.attacks.base import Attack, PoisonedSet, budget
from core.params import Bool, Choice, Cost, Float, Int

__all__ = ["GradientPoisoning", "kernel_gradient", "poison_gradient"]


def kernel_gradient(svc, U: np.ndarray, Z: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``sum_j weights[j] * d K(u, Z[j]) / du`` for every row ``u`` of ``U`` (shape of ``U``)."""
    if len(Z) == 0:
        return np.zeros_like(U)
    gamma, kernel = svc._gamma, svc.kernel  # _gamma: the number libsvm used ("scale" resolved)
    if kernel == "linear":
        return np.broadcast_to(weights @ Z, U.shape).copy()
    if kernel == "rbf":
        K = pairwise_kernels(U, Z, metric="rbf", gamma=gamma) * weights
        return -2.0 * gamma * (U * K.sum(axis=1, keepdims=True) - K @ Z)
    inner = gamma * (U @ Z.T) + svc.coef0
    if kernel == "poly":
        return (svc.degree * gamma * inner ** (svc.degree - 1) * weights) @ Z
    if kernel == "sigmoid":
        return (gamma * (1.0 - np.tanh(inner) ** 2) * weights) @ Z
    raise ValueError(f"kernel={kernel!r} has no gradient here")


def _svm_gradient(svc, Z_all, y_all, P, Z_val, w) -> np.ndarray:
    """d(validation objective) / d(poison features), by implicit differentiation.

    Biggio et al. (2012), Sect. 3: keep the sets of margin support vectors S
    (0 < alpha < C) and error vectors (alpha = C) fixed; the KKT conditions
    ``sum_j beta_j K(z_j, z_s) + b = y_s`` (s in S) and ``sum_j beta_j = 0``
    then define d(beta_S, b)/du implicitly. One adjoint solve with the matrix
    ``[[K_SS, 1], [1^T, 0]]`` serves every poison point at once:

        grad_c = beta_c * (sum_k w_k dK(z_c, z_k) - sum_s v_s dK(z_c, z_s))
                 - [c in S] v_c grad f(z_c)

    with ``w_k`` = d(objective)/d f(z_k) on the validation points (for the mean
    hinge loss, ``-y_k / m`` inside the margin) and ``v = M^-1 [K_SV w; sum w]``.
    ``beta`` are the signed dual coefficients.
    """
    n_all = len(Z_all)
    beta = np.zeros(n_all)
    beta[svc.support_] = svc.dual_coef_[0]
    alpha = np.abs(beta)
    C = svc.C
    margin_sv = np.flatnonzero((alpha > 1e-9 * C) & (alpha < C * (1 - 1e-6)))

    K = lambda A, B: pairwise_kernels(A, B, metric=svc.kernel, filter_params=True,  # noqa: E731
                                      gamma=svc._gamma, degree=svc.degree, coef0=svc.coef0)
    Z_P = Z_all[P]
    grad = kernel_gradient(svc, Z_P, Z_val, w)
    if margin_sv.size:
        Z_S = Z_all[margin_sv]
        M = np.zeros((margin_sv.size + 1, margin_sv.size + 1))
        M[:-1, :-1] = K(Z_S, Z_S)
        M[:-1, -1] = M[-1, :-1] = 1.0
        rhs = np.append(K(Z_S, Z_val) @ w, w.sum())
        v = np.linalg.lstsq(M, rhs, rcond=None)[0]
        grad -= kernel_gradient(svc, Z_P, Z_S, v[:-1])
        # a poison point that is itself a margin SV also moves its own KKT equation
        pos = {int(s): i for i, s in enumerate(margin_sv)}
        own = np.array([pos.get(int(c), -1) for c in P])
        if (own >= 0).any():
            sv = svc.support_
            grad_f = kernel_gradient(svc, Z_P[own >= 0], Z_all[sv], beta[sv])
            grad_own = -v[own[own >= 0], None] * grad_f
        else:
            grad_own = None
    else:
        own, grad_own = np.full(len(P), -1), None
    grad *= beta[P, None]
    if grad_own is not None:
        grad[own >= 0] += grad_own
    return grad


def _primal_gradient(w, b, C, loss_d1, loss_d2, Z_all, y_all, P, Z_val, dobj) -> np.ndarray:
    """d(validation objective) / d(poison features) for a linear model, by implicit differentiation.

    Training solves ``min_(w, b) C sum_i l(m_i) + |w|^2 / 2`` with margins
    ``m_i = y_i (w . z_i + b)`` (intercept unpenalized); ``dobj`` is the
    objective's derivative w.r.t. each validation decision value. With ``H`` the
    Hessian in ``theta = (w, b)`` and ``v = H^-1 grad_theta L_val``, the implicit
    function theorem gives, for each poison point c,

        grad_c = -C * (l'(m_c) y_c v_w + l''(m_c) (v . [z_c; 1]) w)

    ``loss_d1`` and ``loss_d2`` are ``l'`` and ``l''`` as functions of the margin.
    """
    X1 = np.column_stack([Z_all, np.ones(len(Z_all))])
    ypm = 2 * y_all - 1
    m_all = ypm * (Z_all @ w + b)
    H = C * (X1 * loss_d2(m_all)[:, None]).T @ X1
    H[np.arange(len(w)), np.arange(len(w))] += 1.0
    H[-1, -1] += 1e-8  # the intercept is unpenalized; keep H invertible
    g_theta = np.column_stack([Z_val, np.ones(len(Z_val))]).T @ dobj
    v = np.linalg.solve(H, g_theta)
    vx = Z_all[P] @ v[:-1] + v[-1]
    d1, d2 = loss_d1(m_all[P]), loss_d2(m_all[P])
    return -C * ((d1 * ypm[P])[:, None] * v[None, :-1] + (d2 * vx)[:, None] * w[None, :])


def _sigmoid(t):
    return 0.5 * (1.0 + np.tanh(0.5 * t))  # overflow-free logistic function


def _logreg_gradient(clf, Z_all, y_all, P, Z_val, dobj) -> np.ndarray:
    """Logistic regression: ``l(m) = log(1 + exp(-m))``, exactly what sklearn minimizes."""
    return _primal_gradient(clf.coef_[0], clf.intercept_[0], clf.C,
                            lambda m: -_sigmoid(-m), lambda m: _sigmoid(m) * _sigmoid(-m),
                            Z_all, y_all, P, Z_val, dobj)


#: temperature of the smoothed hinge used for linear SVMs (in margin units)
SMOOTH_HINGE_T = 0.25


def _linear_svm_gradient(svc, Z_all, y_all, P, Z_val, dobj) -> np.ndarray:
    """Linear SVM: the gradient of a smoothed hinge, at the SVM's own (w, b).

    With the exact hinge, d + 1 margin support vectors pin (w, b) down, so the
    KKT gradient of a linear SVM is zero almost everywhere and an exact-gradient
    attack does not move (SecML's linear runs show it). Following Koh & Liang
    (ICML 2017) and Koh, Steinhardt & Liang (2018), the derivative is taken for
    ``l(m) = t log(1 + exp((1 - m) / t))``, a smooth hinge with ``t = 0.25``.
    """
    t = SMOOTH_HINGE_T
    return _primal_gradient(svc.coef_[0], svc.intercept_[0], svc.C,
                            lambda m: -_sigmoid((1 - m) / t),
                            lambda m: _sigmoid((1 - m) / t) * _sigmoid((m - 1) / t) / t,
                            Z_all, y_all, P, Z_val, dobj)


def poison_gradient(fitted, Z_all, y_all, P, Z_val, dobj) -> np.ndarray:
    """Gradient of the attacker's objective w.r.t. the features of rows ``P``.

    ``dobj[k]`` is the objective's derivative w.r.t. the victim's decision value on
    validation point ``k`` (see :func:`objective`).
    """
    if hasattr(fitted, "dual_coef_") and hasattr(fitted, "support_"):
        if fitted.kernel == "linear":
            return _linear_svm_gradient(fitted, Z_all, y_all, P, Z_val, dobj)
        return _svm_gradient(fitted, Z_all, y_all, P, Z_val, dobj)
    return _logreg_gradient(fitted, Z_all, y_all, P, Z_val, dobj)


#: width of the smoothed 0-1 error, in units of the decision values' RMS
ERROR_TEMPERATURE = 0.2


def objective(kind: str, f: np.ndarray, y: np.ndarray, *, svm: bool) -> tuple[float, np.ndarray]:
    """The attacker's validation objective and its derivative w.r.t. the decision values.

    ``"loss"``: the victim's own mean loss (hinge for SVMs, logistic otherwise), the
    objective of Biggio et al. ``"error"``: a smoothed validation error,
    ``mean sigmoid(-y f / (T * rms(f)))`` with ``T = 0.2``. Dividing by the RMS of
    ``f`` makes it blind to the scale of ``f`` (which does not change any
    prediction), so it cannot be raised by merely shrinking the margin, as the
    hinge loss can; what rises is the share of points near or across the boundary.
    """
    ypm = 2 * y - 1
    m = len(y)
    if kind == "loss":
        if svm:
            loss = float(np.maximum(0.0, 1.0 - ypm * f).mean())
            return loss, np.where(ypm * f < 1.0, -ypm / m, 0.0)
        return float(np.logaddexp(0.0, -ypm * f).mean()), -ypm * _sigmoid(-ypm * f) / m
    rms = float(np.sqrt(np.mean(f ** 2))) or 1.0
    a = -ypm * f / (ERROR_TEMPERATURE * rms)
    sig = _sigmoid(a)
    d_sig = sig * (1.0 - sig)
    d = (-d_sig * ypm / (ERROR_TEMPERATURE * rms)
         + (d_sig * ypm * f).sum() / (ERROR_TEMPERATURE * rms ** 2) * f / (m * rms)) / m
    return float(sig.mean()), d


class GradientPoisoning(Attack):
    """Poison points moved by projected gradient ascent on the victim's validation loss.

    Biggio, Nelson & Laskov, "Poisoning Attacks against Support Vector
    Machines", ICML 2012; the joint, multi-point form follows Mei & Zhu, "Using
    Machine Teaching to Identify Optimal Training-Set Attacks", AAAI 2015, and
    Xiao et al., "Is Feature Selection Secure against Training Data
    Poisoning?", ICML 2015. The gradient of the learned parameters w.r.t. each
    poison point comes from implicit differentiation of the training
    optimality (KKT) conditions, one linear solve per step for all points;
    every step refits the victim once and is accepted only if the attacker's
    validation objective rises (backtracking line search), so it never
    decreases. Two ascents run, one from each class's boundary points, and the
    one that ends higher is kept.

    Threat model: perfect knowledge. The attacker knows the clean training
    data, the model class and its hyperparameters (it refits the victim
    itself), and holds a validation sample from the same distribution. It
    controls the features and labels of ``round(rate * n)`` added points,
    labels fixed at start (each point starts as a copy of a training point with
    the flipped label: by default the points of one class nearest the clean
    boundary, see ``init``). Constraint: points stay in the bounding box
    of the clean training data, widened by ``box_margin`` of its width on each
    side, so they look like plausible records. The victim's standardization is
    estimated on the clean data, or refitted on the poisoned data at every step
    (``refit_scaler``). Supports SVMs (linear, rbf, poly, sigmoid
    kernels) and logistic regression.

    Parameters
    ----------
    rate : float
        Budget, poison points / clean training points.
    steps : int, default=40
        Maximum accepted gradient steps (1 to 500).
    step_size : float, default=0.15
        First step length, as a fraction of the box width (per feature).
    box_margin : float, default=0.0
        How far points may leave the clean data's box, as a fraction of its width.
    val_fraction : float, default=0.5
        Without ``validation=`` in ``poison``, the attacker's validation sample is
        this share of the clean training data (drawn at random).
    objective : {"loss", "error"}, default="loss"
        What the attacker raises on its validation sample: the victim's own loss
        (hinge / logistic, as in Biggio et al.), or a smoothed, scale-free error
        rate; see :func:`objective`.
    init : {"boundary", "random"}, default="boundary"
        Starting points: copies, with flipped labels, of the clean points of one
        class nearest the clean model's boundary (one ascent per class, the one
        that ends higher is kept), or of random training points (Biggio et al.).
    restarts : int, default=0
        Further ascents, each from random training points with flipped labels
        (several restarts, as in Biggio et al.); of all ascents, the one that ends
        highest on the attacker's validation objective is kept.
    refit_scaler : bool, default=False
        If the victim standardizes its features, refit that standardization on
        the poisoned training set at every evaluation, exactly as the victim will
        (perfect knowledge); the gradient treats the refitted scale as constant
        within a step. If False, the standardization is estimated once on the
        clean data.
    """

    name = "gradient"
    summary = "optimize poison points by gradient ascent on validation loss (Biggio 2012)"

    params = (
        Int("steps", 40, 1, 500, "gradient steps"),
        Float("step_size", 0.15, 0.0, 1.0, "step length, as a share of the feature box",
              low_open=True, step=0.01),
        Float("box_margin", 0.0, 0.0, 1.0, "how far outside the data's box poison may go, "
              "as a share of its width", step=0.05),
        Float("val_fraction", 0.5, 0.05, 1.0, "share of the clean data the attacker "
              "validates on", step=0.05),
        Choice("objective", "loss", ("loss", "error"), "what the attacker maximizes on its "
               "validation split"),
        Choice("init", "boundary", ("boundary", "random"), "where the poison points start"),
        Int("restarts", 0, 0, 20, "extra ascents from random training points; the best on "
            "validation is kept"),
        Bool("refit_scaler", False, "refit the victim's standardization on the poisoned set at "
             "every step, as the victim does"),
    )
    #: optimizes for a while at any size: always a background job with progress
    cost = Cost(always=True, seconds=0.6, power=2.0)

    def __init__(self, rate: float = 0.1, **params) -> None:
        super().__init__(rate, **params)
        self.history_: list[float] = []
        self.path_: list[np.ndarray] = []

    def poison(self, X, y, *, model=None, random_state=None, validation=None,
               progress=None) -> PoisonedSet:
        """Poison ``(X, y)``; ``progress(done, total)`` is called after every step."""
        X = np.asarray(X, dtype=float)
        y = np.asarray(y)
        rs = check_random_state(random_state)
        n = budget(self.rate, len(y))
        self.history_, self.path_ = [], []
        if n == 0:
            return PoisonedSet(X.copy(), y.copy(), np.zeros(len(y), dtype=bool))
        if np.unique(y).size < 2:
            raise ValueError("gradient poisoning needs training data with both classes")
        sur = Surrogate(model, X)
        if validation is None:
            m = max(20, int(round(self.val_fraction * len(y))))
            idx = rs.choice(len(y), size=min(m, len(y)), replace=False)
            X_val, y_val = X[idx], y[idx]
        else:
            X_val, y_val = (np.asarray(a) for a in validation)
        Z_val = sur.transform(X_val)

        lo, hi = X.min(axis=0), X.max(axis=0)
        # a constant feature (e.g. an always-blank pixel) has a zero-width box: it stays put
        width = (hi - lo) * (1.0 + 2.0 * self.box_margin)
        lo = lo - self.box_margin * (hi - lo)
        width = np.where(width > 0, width, 0.0)
        safe = np.where(width > 0, width, 1.0)
        Z_clean = sur.transform(X)
        P = np.arange(len(y), len(y) + n)

        chain = width / sur.scale  # dL/du = dL/dz * dz/dx * dx/du
        refit = self.refit_scaler and sur.scaler is not None

        def evaluate(U_, y_all_):
            """(fitted, Z_all, value, dobj, Z_val, chain) for poison points ``lo + U_ * width``."""
            X_new = lo + U_ * width
            if refit:  # the victim's own standardization of the poisoned set
                scaler = sur.refitted_scaler(np.vstack([X, X_new]))
                Z_all, Z_v = scaler.transform(np.vstack([X, X_new])), scaler.transform(X_val)
                chain_ = width / scaler.scale_
            else:
                Z_all, Z_v, chain_ = np.vstack([Z_clean, sur.transform(X_new)]), Z_val, chain
            fitted = sur.fit(Z_all, y_all_)
            value, dobj = objective(self.objective, fitted.decision_function(Z_v), y_val,
                                    svm=sur.is_svm)
            return fitted, Z_all, value, dobj, Z_v, chain_

        if self.init == "random":
            starts = [rs.choice(len(y), size=n, replace=n > len(y))]
        else:
            margin = np.abs(sur.fit(Z_clean, y).decision_function(Z_clean))
            starts = []
            for cls in (0, 1):
                idx = np.flatnonzero(y == cls)
                near = idx[np.argsort(margin[idx], kind="stable")]
                starts.append(np.resize(near, n))  # cycles if the class is smaller than n
        starts += [rs.choice(len(y), size=n, replace=n > len(y)) for _ in range(self.restarts)]

        total_steps = self.steps * len(starts)
        done = [0]

        def tick(final: bool = False) -> None:
            done[0] = total_steps if final else done[0] + 1
            if progress is not None:
                progress(done[0], total_steps)

        def ascend(U, y_all):
            """Projected gradient ascent with backtracking from one start."""
            fitted, Z_all, value, dobj, Z_v, chain_ = evaluate(U, y_all)
            history, path = [value], [U]
            eta = self.step_size
            for _ in range(self.steps):
                g = poison_gradient(fitted, Z_all, y_all, P, Z_v, dobj) * chain_
                norm = np.linalg.norm(g, axis=1, keepdims=True)
                if not np.any(norm > 0):
                    break
                direction = np.divide(g, norm, out=np.zeros_like(g), where=norm > 0)
                for _try in range(5):
                    U_new = np.clip(U + eta * direction, 0.0, 1.0)
                    cand = evaluate(U_new, y_all)
                    if cand[2] > value:
                        U, (fitted, Z_all, value, dobj, Z_v, chain_) = U_new, cand
                        eta = min(eta * 1.25, 0.5)
                        break
                    eta *= 0.5
                else:
                    break  # no step raises the objective: a local maximum
                history.append(value)
                path.append(U)
                tick()
            return value, U, y_all, history, path

        runs = []
        for s in starts:
            runs.append(ascend((X[s] - lo) / safe, np.concatenate([y, 1 - y[s]])))
            done[0] = self.steps * len(runs)  # an early stop skips the rest of this start's steps
        tick(final=True)
        _, U, y_all, history, path = max(runs, key=lambda r: r[0])  # first wins ties
        self.history_ = history
        self.path_ = [lo + u * width for u in path]
        X_p = np.vstack([X, lo + U * width])
        mask = np.concatenate([np.zeros(len(y), dtype=bool), np.ones(n, dtype=bool)])
        return PoisonedSet(X_p, y_all.astype(y.dtype), mask, path=np.stack(self.path_))
