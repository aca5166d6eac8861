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
  (the poison can be fitted to the very images it is scored on).

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

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.attacks import make_attack  # noqa: E402
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
    return {"X": X, "y": y, "own": (X[own], y[own]), "Xt": Xt, "yt": yt,
            "A": half[: len(yt) // 2], "B": half[len(yt) // 2:]}


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
                                ("test", (Xt, yt))):
                p = atk.poison(X, y, model=victim(), random_state=seed, validation=val)
                m = victim().fit(p.X, p.y)
                if regime == "held-out":
                    row[f"{kind} {regime} (on its 75)"] = m.score(Xt[A], yt[A])
                    row[f"{kind} {regime} (other 75)"] = m.score(Xt[B], yt[B])
                else:
                    row[f"{kind} {regime}"] = m.score(Xt, yt)
        rows.append(row)
        print(f"seed {seed}: " + ", ".join(f"{k} {v:.3f}" for k, v in row.items()),
              file=sys.stderr, flush=True)
    print(f"Test accuracy, mean of seeds {args.seeds} (gradient: restarts={args.restarts}, "
          f"steps={args.steps}, refit_scaler=True):")
    for key in rows[0]:
        print(f"  {key:30s} {np.mean([r[key] for r in rows]):.3f}")
    print(f"Total {time.perf_counter() - t0:.0f} s (per-seed figures on stderr)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
