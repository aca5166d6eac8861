"""How far can 15 added points push digits-gradient's test accuracy? (an analysis script)

``python scripts/gradient_ceiling.py [--seeds 0 1 2 3 4] [--restarts 8] [--steps 100]``

On the ``digits-gradient`` split (5 vs 9, 100 training / 150 test images, victim
``StandardScaler`` + linear SVM with ``C=1``, 15 poison points in the clean pixel box), it
runs ``GradientPoisoning`` at its strongest settings here (``refit_scaler=True``, so every
step scores the victim exactly as it will be trained, and ``restarts`` extra ascents) with
three different validation samples, for both objectives:

* ``own``: 50 of the training images, the attacker's sample in ``tests/bench_attacks.py
  --data digits`` (every attacker in that bench gets the same one);
* ``held-out``: half of the test images (75), which the attacker does not have; the
  accuracy is measured on the other half -- a ceiling for an attacker holding fresh images
  from the same distribution;
* ``test``: the whole test set, and the accuracy on that same set -- an optimistic ceiling
  (the poison can be fitted to the very images it is scored on);
* ``fresh``: the 112 images of the 5-vs-9 data that neither the training nor the test split
  uses, a validation set disjoint from both, as in Biggio et al.'s protocol.

And a certificate (Steinhardt, Koh & Liang, "Certified Defenses for Data Poisoning Attacks",
NeurIPS 2017, Sect. 3, with no defense: the feasible set is the clean pixel box). If the
victim minimizes ``|w|^2 / 2 + C * sum(hinge)`` over clean and poison points, then for every
set of ``n_p`` added points in the box, labels free, the poisoned model's clean training
hinge loss is at most ``B / C`` with
``B = min_theta |w|^2 / 2 + C * L_clean(theta) + C * n_p * max_(x in box, y) hinge(theta; x, y)``,
a convex problem solved here with SciPy's SLSQP; a misclassified training point has hinge
>= 1, so ``B / C`` also bounds the number of clean training images any such attack can make
the victim get wrong. It holds for the victim in the clean data's standardization (the
attack's default, ``refit_scaler=False``), not for a scaler refitted on the poisoned set.

Beside them: clean accuracy and random label flips of the same budget (15 of the 100
labels), on the whole test set, and, for the ``held-out`` column, on the scored half. Not
a defense and not a test: how much of the gap to random flips a better optimizer could
close, and how much is the attacker's information.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from scipy.optimize import minimize
from sklearn.preprocessing import StandardScaler

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.attacks import make_attack  # noqa: E402
from core.datasets import _real_data  # noqa: E402
from core.experiment import prepare  # noqa: E402
from core.models import make_model  # noqa: E402
from core.scenarios import scenario_config  # noqa: E402

RATE = 0.15


def split(seed: int) -> dict:
    """The bench's digits split (pixels / 16) and its 50-image attacker sample."""
    prep = prepare(scenario_config("digits-gradient", seed=seed))
    X, y = prep.data.X_train / 16.0, prep.data.y_train.astype(np.int64)
    own = np.random.RandomState(seed).choice(len(y), size=len(y) // 2, replace=False)
    Xt, yt = prep.X_test / 16.0, prep.y_test.astype(np.int64)
    half = np.random.RandomState(seed + 1).permutation(len(yt))
    X_all, y_all = _real_data("digits")
    used = {row.tobytes() for row in np.vstack([prep.data.X_train, prep.X_test])}
    spare = np.array([row.tobytes() not in used for row in X_all])
    return {"X": X, "y": y, "own": (X[own], y[own]), "Xt": Xt, "yt": yt,
            "A": half[: len(yt) // 2], "B": half[len(yt) // 2:],
            "fresh": (X_all[spare] / 16.0, y_all[spare].astype(np.int64))}


def error_bound(X: np.ndarray, y: np.ndarray, n_p: int, C: float = 1.0) -> float:
    """``B / C`` of Steinhardt et al. (2017) for ``n_p`` points in the clean box (see above).

    Variables ``(w, b, xi, s, u+, u-)``: ``xi_i`` the clean hinges, ``s`` the largest hinge
    a point in the box can have, ``u+-_j = max(-+w_j lo_j, -+w_j hi_j)`` per label, all in
    the clean data's standardization, as the victim's scaler would compute it.
    """
    scaler = StandardScaler().fit(X)
    Z = scaler.transform(X)
    lo, hi = scaler.transform(np.vstack([X.min(axis=0), X.max(axis=0)]))
    n, d = Z.shape
    sy = 2.0 * y - 1.0
    iw, ib, ix, i_s, iu = 0, d, d + 1, d + 1 + n, d + 2 + n
    N = iu + 2 * d
    rows, rhs = [], []
    for i in range(n):  # xi_i + y_i (w . z_i + b) >= 1
        r = np.zeros(N)
        r[ix + i], r[iw:iw + d], r[ib] = 1.0, sy[i] * Z[i], sy[i]
        rows.append(r)
        rhs.append(1.0)
    for k, label in enumerate((1.0, -1.0)):
        u = iu + k * d
        for j in range(d):
            for v in (lo[j], hi[j]):  # u_j >= -label * w_j * v
                r = np.zeros(N)
                r[u + j], r[iw + j] = 1.0, label * v
                rows.append(r)
                rhs.append(0.0)
        r = np.zeros(N)  # s >= 1 - label * b + sum_j u_j
        r[i_s], r[ib], r[u:u + d] = 1.0, label, -1.0
        rows.append(r)
        rhs.append(1.0)
    A, rhs = np.array(rows), np.array(rhs)
    c = np.zeros(N)
    c[ix:ix + n], c[i_s] = C, C * n_p
    x0 = np.zeros(N)
    x0[ix:ix + n + 1] = 1.0  # w = 0, b = 0: every hinge is 1
    res = minimize(lambda x: 0.5 * x[:d] @ x[:d] + c @ x, x0,
                   jac=lambda x: np.concatenate([x[:d], np.zeros(N - d)]) + c,
                   method="SLSQP", bounds=[(None, None)] * (d + 1) + [(0.0, None)] * (n + 1)
                   + [(None, None)] * (2 * d),
                   constraints=[{"type": "ineq", "fun": lambda x: A @ x - rhs,
                                 "jac": lambda x: A}], options={"maxiter": 2000, "ftol": 1e-10})
    if not res.success:
        raise RuntimeError(f"the bound's optimization failed: {res.message}")
    return float(res.fun) / C


def victim():
    return make_model("svm", kernel="linear", C=1.0)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    ap.add_argument("--restarts", type=int, default=8)
    ap.add_argument("--steps", type=int, default=100)
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    rows = []
    for seed in args.seeds:
        d = split(seed)
        X, y, Xt, yt, A, B = d["X"], d["y"], d["Xt"], d["yt"], d["A"], d["B"]
        row = {"clean": victim().fit(X, y).score(Xt, yt)}
        p = make_attack("label_flip", RATE).poison(X, y, random_state=seed)
        m = victim().fit(p.X, p.y)
        row["random flips"], row["random flips (other 75)"] = m.score(Xt, yt), m.score(Xt[B], yt[B])
        for kind in ("loss", "error"):
            atk = make_attack("gradient", RATE, objective=kind, refit_scaler=True,
                              restarts=args.restarts, steps=args.steps)
            for regime, val in (("own", d["own"]), ("held-out", (Xt[A], yt[A])),
                                ("test", (Xt, yt)), ("fresh", d["fresh"])):
                p = atk.poison(X, y, model=victim(), random_state=seed, validation=val)
                m = victim().fit(p.X, p.y)
                if regime == "held-out":
                    row[f"{kind} {regime} (on its 75)"] = m.score(Xt[A], yt[A])
                    row[f"{kind} {regime} (other 75)"] = m.score(Xt[B], yt[B])
                else:
                    row[f"{kind} {regime}"] = m.score(Xt, yt)
        row["bound: clean training errors"] = error_bound(X, y, int(round(RATE * len(y))))
        rows.append(row)
        print(f"seed {seed}: " + ", ".join(f"{k} {v:.3f}" for k, v in row.items()),
              file=sys.stderr, flush=True)
    print(f"Test accuracy, mean of seeds {args.seeds} (gradient: restarts={args.restarts}, "
          f"steps={args.steps}, refit_scaler=True):")
    for key in rows[0]:
        values = [r[key] for r in rows]
        if key.startswith("bound"):
            print(f"  {key:30s} <= {np.mean(values):.1f} of {len(d['y'])} on average "
                  f"({min(values):.1f}-{max(values):.1f}; any 15 points in the box, clean scaler)")
        else:
            print(f"  {key:30s} {np.mean(values):.3f}")
    print(f"Total {time.perf_counter() - t0:.0f} s (per-seed figures on stderr)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
