"""Benchmark: PoisonLab's poisoning attacks against two reference implementations.

A benchmark run by hand, not a pytest test (the file name does not start with ``test_``, so
pytest does not collect it).

What it compares
----------------
On the same data, budgets and seeds, four ways of poisoning a training set:

* ``poisonlab-gradient`` -- ``core.attacks.make_attack("gradient", rate)`` (skipped with a
  message if this checkout does not register it); ``--attack-kwargs '{"steps": 30}'`` is
  passed through to ``make_attack``.
* ``random-flip``        -- ``make_attack("label_flip", rate)``, the random-label baseline.
* ``art``                -- IBM ART 1.20.1 ``PoisoningAttackSVM`` (Biggio et al. 2012), in its
  own venv, run in a subprocess worker. ``--art-mode vectorized`` (default) monkey-patches
  ``ScikitlearnSVC.q_submatrix`` (a Python double loop in ART) with an equivalent vectorized
  version; the equivalence is checked numerically at the start of every ART worker and printed.
  ``--art-mode stock`` runs the library unmodified, ``both`` runs both. ``--art-stock-seed0``
  adds stock runs for the first seed only (hours, see below). The ``variant/notes`` column says
  which one a row timed. Where both variants ran on the same case, their poison points are
  compared too (printed). ART's jitter in ``attack_gradient`` uses numpy's global RNG, which the
  worker seeds with the run's seed, so both variants follow the same path.
* ``secml``              -- SecML 0.15.6 ``CAttackPoisoningSVM`` (solver ``pgd-ls``), in its own
  Python 3.10 venv, run in a subprocess worker.

Data (per seed 0, 1, 2): ``make_blobs(900, centers=[[-2, 0], [2, 0]], cluster_std=1.0,
random_state=seed)`` split into 200 training / 200 validation (attacker-held) / 500 test points,
features min-max scaled to [0, 1] with the scaler fit on the training split (other splits clipped).
Victim: ``SVC(kernel=K, C=1.0, gamma=10)``, K in {linear, rbf}. Budgets 5 %, 10 %, 20 % of the
200 training points (10, 20, 40 poison points).

Every method's poisoned training set is evaluated the same way, here in the main process
(scikit-learn of the interpreter running this script): the victim is trained on it and scored on
the 500 test points. Attack time is the wall time of the attack call only; for the subprocess
workers it is measured inside the worker, so interpreter start, imports and data exchange are
excluded (the worker's total wall time is printed separately).

The table (one row per method, variant, kernel and budget): clean accuracy, poisoned accuracy
mean and std over seeds (sample std, ddof=1), drop in accuracy points (clean - poisoned, x100),
mean attack time.

How to run (from the repository root)
-------------------------------------
    /tmp/venv/bin/python tests/bench_attacks.py                      # full default bench
    /tmp/venv/bin/python tests/bench_attacks.py --seeds 0 --methods art secml
    /tmp/venv/bin/python tests/bench_attacks.py --attack-kwargs '{"steps": 30}' --json rows.json
    /tmp/venv/bin/python tests/bench_attacks.py --art-stock-seed0    # + unmodified ART (slow!)

The script puts the repository root on ``sys.path`` itself (no ``PYTHONPATH`` needed). It needs
numpy, pandas and scikit-learn in the running interpreter. Other flags: ``--seeds``,
``--budgets``, ``--kernels``, ``--methods``, ``--art-mode``, ``--art-stock-seed0``,
``--art-stock-max-iter``, ``--art-params``/``--secml-params`` (JSON overrides of the reference
attacks' hyperparameters), ``--cache-dir``, ``--json PATH`` (all raw rows, plus metadata).

Where the venvs go
------------------
``~/.cache/poisonlab-bench/`` (or ``--cache-dir`` / ``$POISONLAB_BENCH_CACHE``):
``art-venv`` (Python 3.11 -- the base interpreter of the one running this script -- with
adversarial-robustness-toolbox==1.20.1, packaging, numpy==2.4.6, scikit-learn==1.9.1) and
``secml-venv`` (pyenv's Python 3.10, secml==0.15.6 with numpy<1.24, scipy<1.11,
scikit-learn<1.2, matplotlib<3.8). Each is created on first use (under a minute each from PyPI)
and reused afterwards (a marker file records what was installed). If a venv cannot be built, that
method is skipped with a message.

How long it takes (2-core machine, measured)
-------------------------------------------
Venvs on first use: ~40 s (ART) and ~55 s (SecML) from PyPI. Default bench (3 seeds x 2 kernels
x 3 budgets): ~7.5 minutes. ART vectorized ~2 min per seed (10-50 ms per gradient step, 1,000-5,000
steps per seed), SecML ~25 s per seed, PoisonLab's gradient attack ~8 s in all, random-flip
instant, plus ~25 s for the ART equivalence check and ~2 s start-up per worker. Stock ART costs
~6-7 s per gradient step here (~130x the vectorized one): ``--art-stock-seed0`` (same
``max_iter``) adds roughly 6-7 hours (~3,000 steps for one seed, mostly rbf).
``--art-stock-max-iter 2`` caps the stock runs instead, as a timing probe (~20-25 min at the
default budgets and kernels; such rows say so, and their accuracy is not comparable).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

# Only the standard library at module level: this file also runs as the worker inside the ART
# (Python 3.11) and SecML (Python 3.10) venvs, which have neither pandas nor PoisonLab's deps.

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

METHODS = ("poisonlab-gradient", "random-flip", "art", "secml")
KERNELS = ("linear", "rbf")
C = 1.0
GAMMA = 10.0
N_TRAIN, N_VAL, N_TEST = 200, 200, 500

ART_REQS = ["adversarial-robustness-toolbox==1.20.1", "packaging", "numpy==2.4.6",
            "scikit-learn==1.9.1"]
SECML_REQS = ["secml==0.15.6", "numpy<1.24", "scipy<1.11", "scikit-learn<1.2", "matplotlib<3.8"]

# step: fixed step length of the normalized gradient; eps: ART stops optimizing a point once its
# validation objective jumps by >= eps in one step; max_iter: gradient steps per poison point.
ART_PARAMS = {"step": 0.1, "eps": 1.0, "max_iter": 100}
# pgd-ls: projected gradient with line search; eta = initial step, eta_min/eta_max its bounds,
# max_iter = iterations per poison point, eps = stop on objective change below eps.
SECML_PARAMS = {"eta": 0.1, "eta_min": 0.1, "eta_max": None, "max_iter": 100, "eps": 1e-6}


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------------------------

#: "blobs" (the default) or "digits" (--data): which data make_data builds and victim fits
DATA = "blobs"


def make_digits(seed: int) -> dict:
    """The ``digits-gradient`` scenario's split for ``seed`` (100 train / 150 test, 5 vs 9),
    pixels / 16 so every method works in [0, 1]; the attacker's validation sample is half of
    the training images, drawn with ``seed`` (the same one for every method)."""
    import numpy as np

    from core.experiment import prepare
    from core.scenarios import scenario_config

    prep = prepare(scenario_config("digits-gradient", seed=seed))
    X, y = prep.data.X_train / 16.0, prep.data.y_train.astype(np.int64)
    val = np.random.RandomState(seed).choice(len(y), size=len(y) // 2, replace=False)
    return {"X_train": X, "y_train": y, "X_val": X[val], "y_val": y[val],
            "X_test": prep.X_test / 16.0, "y_test": prep.y_test.astype(np.int64)}


def make_data(seed: int) -> dict:
    if DATA == "digits":
        return make_digits(seed)
    import numpy as np
    from sklearn.datasets import make_blobs
    from sklearn.preprocessing import MinMaxScaler

    X, y = make_blobs(n_samples=N_TRAIN + N_VAL + N_TEST, centers=[[-2.0, 0.0], [2.0, 0.0]],
                      cluster_std=1.0, random_state=seed)  # shuffled by make_blobs
    y = y.astype(np.int64)
    a, b = N_TRAIN, N_TRAIN + N_VAL
    scaler = MinMaxScaler().fit(X[:a])
    def scale(Z):
        return np.clip(scaler.transform(Z), 0.0, 1.0)
    return {"X_train": scale(X[:a]), "y_train": y[:a], "X_val": scale(X[a:b]), "y_val": y[a:b],
            "X_test": scale(X[b:]), "y_test": y[b:]}


def victim(kernel: str):
    from sklearn.svm import SVC
    if DATA == "digits":  # the scenario's own model: standardize, then a linear SVM, C = 1
        from core.models import make_model
        return make_model("svm", kernel=kernel, C=C)
    return SVC(kernel=kernel, C=C, gamma=GAMMA)


def victim_accuracy(kernel: str, X, y, data: dict) -> float:
    clf = victim(kernel).fit(X, y)
    return float(clf.score(data["X_test"], data["y_test"]))


# --------------------------------------------------------------------------------------------
# venvs for the reference libraries
# --------------------------------------------------------------------------------------------

def base_python311() -> str | None:
    """A Python 3.11 to build the ART venv from: this interpreter's base, else pyenv / PATH."""
    if sys.version_info[:2] == (3, 11):
        base = getattr(sys, "_base_executable", None) or sys.executable
        return os.path.realpath(base)
    return find_pyenv_python("3.11") or shutil.which("python3.11")


def find_pyenv_python(minor: str) -> str | None:
    roots = []
    try:
        out = subprocess.run(["pyenv", "root"], capture_output=True, text=True, timeout=30)
        if out.returncode == 0 and out.stdout.strip():
            roots.append(out.stdout.strip())
    except (OSError, subprocess.SubprocessError):
        pass
    roots.append(os.path.expanduser("~/.pyenv"))
    for root in roots:
        versions = Path(root) / "versions"
        if not versions.is_dir():
            continue
        cands = sorted((p for p in versions.iterdir() if p.name.startswith(minor + ".")),
                       key=lambda p: [int(x) if x.isdigit() else 0 for x in p.name.split(".")],
                       reverse=True)
        for p in cands:
            exe = p / "bin" / "python"
            if exe.exists():
                return str(exe)
    return None


def ensure_venv(name: str, python: str | None, reqs: list[str], check: str,
                cache: Path) -> Path | None:
    """The venv's python, building the venv on first use; None (with a message) on failure."""
    venv = cache / f"{name}-venv"
    vpy = venv / "bin" / "python"
    marker = venv / ".poisonlab-bench-ok"
    spec = json.dumps({"reqs": reqs, "check": check})
    if vpy.exists() and marker.exists() and marker.read_text() == spec:
        return vpy
    if python is None:
        log(f"!! {name}: no suitable base Python found; skipping {name}.")
        return None
    cache.mkdir(parents=True, exist_ok=True)
    logfile = cache / f"{name}-install.log"
    log(f"== building {venv} from {python} (first use; ~1-2 min) -- log in {logfile}")
    t0 = time.perf_counter()
    if venv.exists():
        shutil.rmtree(venv)
    with open(logfile, "w") as fh:
        steps = [[python, "-m", "venv", str(venv)],
                 [str(vpy), "-m", "pip", "install", "--disable-pip-version-check", *reqs],
                 [str(vpy), "-c", check]]
        for cmd in steps:
            fh.write("$ " + " ".join(cmd) + "\n")
            fh.flush()
            try:
                rc = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT,
                                    timeout=1800).returncode
            except (OSError, subprocess.SubprocessError) as exc:
                fh.write(f"{exc!r}\n")
                rc = -1
            if rc != 0:
                fh.flush()
                tail = Path(logfile).read_text().splitlines()[-15:]
                log(f"!! {name}: `{' '.join(cmd[:4])} ...` failed (rc={rc}); skipping {name}. "
                    f"Last lines of {logfile}:\n   " + "\n   ".join(tail))
                return None
    marker.write_text(spec)
    log(f"== {name} venv ready in {time.perf_counter() - t0:.0f} s")
    return vpy


def run_worker(kind: str, vpy: Path, data_by_seed: dict, jobs: list[dict], params: dict,
               label: str) -> dict:
    """Run ``jobs`` in the worker inside venv ``vpy``; return {"results": {...}, ...}."""
    import numpy as np

    with tempfile.TemporaryDirectory(prefix=f"bench-{kind}-") as tmp:
        tmp = Path(tmp)
        for seed, d in data_by_seed.items():  # the attacker never gets the test split
            np.savez(tmp / f"data_{seed}.npz", X_train=d["X_train"], y_train=d["y_train"],
                     X_val=d["X_val"], y_val=d["y_val"])
        (tmp / "jobs.json").write_text(json.dumps({"jobs": jobs, "params": params,
                                                   "C": C, "gamma": GAMMA}))
        log(f"== {label}: {len(jobs)} runs in worker {vpy}")
        t0 = time.perf_counter()
        proc = subprocess.run([str(vpy), str(Path(__file__).resolve()), "--_worker", kind,
                               "--_jobdir", str(tmp)], cwd=str(tmp))
        wall = time.perf_counter() - t0
        meta_path = tmp / "meta.json"
        meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
        results = {}
        for job in jobs:
            p = tmp / f"result_{job['id']}.npz"
            info_p = tmp / f"result_{job['id']}.json"
            info = json.loads(info_p.read_text()) if info_p.exists() else {
                "error": f"worker produced no result (exit code {proc.returncode})"}
            if p.exists():
                z = np.load(p)
                info["X_poison"], info["y_poison"] = z["X_poison"], z["y_poison"]
            results[job["id"]] = info
    meta["worker_wall_s"] = wall
    meta["worker_rc"] = proc.returncode
    attack_total = sum(r.get("time_s", 0.0) for r in results.values())
    log(f"== {label}: worker wall time {wall:.1f} s (attack time {attack_total:.1f} s; the "
        f"difference is process start / imports / I-O, excluded from the table)")
    return {"results": results, "meta": meta}


# --------------------------------------------------------------------------------------------
# workers (run inside the reference venvs; numpy + the library only)
# --------------------------------------------------------------------------------------------

def _vectorized_q_submatrix(self, rows, cols):
    """ART's ``ScikitlearnSVC.q_submatrix`` without the Python double loop.

    Stock: ``q[r, c] = self._kernel([rows[r]], [cols[c]])[0][0] * y_row[r] * y_col[c]`` with
    ``y = self.model.predict(...)`` mapped {0, 1} -> {-1, +1}. Here: the same kernel function
    (for rbf that is sklearn's ``rbf_kernel`` with its default gamma = 1 / n_features, exactly as
    stock ART) on the whole block at once, times the label signs as an outer product.

    ``attack_gradient`` calls this once per validation point with the same support vectors, so
    the per-call sklearn overhead (input validation in ``predict`` and ``rbf_kernel``) would
    dominate. Two exact caches remove it, both keyed on the fitted model's state (support
    vectors, dual coefficients, intercept), so any refit invalidates them: predictions by row
    bytes, and -- if the worker registered the attacker's validation set as ``_bench_rows`` --
    the whole ``K(validation, cols)`` block and ``predict(validation)``, computed once per
    state, from which a single validation row is looked up. ``cols`` is copied so sklearn never
    takes its ``X is Y`` shortcut (an exactly-zero diagonal), which the per-element stock calls
    never take either.
    """
    import numpy as np

    rows = np.asarray(rows, dtype=float)
    cols = np.asarray(cols, dtype=float)
    m = self.model
    state = (m.support_vectors_.tobytes(), m.dual_coef_.tobytes(), m.intercept_.tobytes())
    cache = self.__dict__.get("_bench_q_cache")
    if cache is None or cache["state"] != state:
        cache = {"state": state, "pred": {}, "block": {}}
        self._bench_q_cache = cache

    def signs(A):
        key = (A.shape, A.tobytes())
        if key not in cache["pred"]:
            yp = np.array(m.predict(A))
            yp[yp == 0] = -1
            cache["pred"][key] = yp
        return cache["pred"][key]

    y_col = signs(cols)
    ref = self.__dict__.get("_bench_rows")  # (array, {row bytes: index})
    if ref is not None and rows.shape[0] == 1 and rows[0].tobytes() in ref[1]:
        i = ref[1][rows[0].tobytes()]
        ckey = (cols.shape, cols.tobytes())
        if ckey not in cache["block"]:
            cache["block"][ckey] = np.asarray(self._kernel(ref[0], cols.copy()), dtype=float)
        y_row = signs(ref[0])[i:i + 1]
        K = cache["block"][ckey][i:i + 1]
    else:
        y_row = signs(rows)
        K = np.asarray(self._kernel(rows, cols.copy()), dtype=float)
    return K * y_row[:, None] * y_col[None, :]


def _register_rows(estimator, X) -> None:
    """Let the vectorized q_submatrix precompute whole blocks for the rows of ``X``."""
    import numpy as np
    X = np.ascontiguousarray(X, dtype=float)
    estimator._bench_rows = (X, {X[i].tobytes(): i for i in range(len(X))})


EQ_N, EQ_POINTS, EQ_STEPS = 40, 2, 4  # size of the end-to-end stock-vs-vectorized check


def _art_equivalence_check(ScikitlearnSVC, PoisoningAttackSVM, stock_q, params) -> dict:
    """Compare stock and vectorized q_submatrix on random blocks and on a small full attack."""
    import numpy as np
    from sklearn.svm import SVC

    out = {}
    rs = np.random.RandomState(123)
    X = rs.rand(EQ_N, 2)
    y = (X[:, 0] + 0.2 * rs.randn(EQ_N) > 0.5).astype(int)
    Xv = rs.rand(EQ_N, 2)
    yv = (Xv[:, 0] > 0.5).astype(int)
    eye = np.eye(2)
    for kernel in KERNELS:
        clf = ScikitlearnSVC(model=SVC(kernel=kernel, C=C, gamma=GAMMA, probability=False),
                             clip_values=(0.0, 1.0))
        clf.fit(X, eye[y])
        sv = clf.model.support_vectors_
        worst = 0.0
        for rows, cols in [(sv, sv), (Xv[:20], sv), (X[:7], Xv[:11])]:
            a = stock_q(clf, rows, cols)
            b = _vectorized_q_submatrix(clf, rows, cols)
            assert a.shape == b.shape
            worst = max(worst, float(np.max(np.abs(a - b))))
        _register_rows(clf, Xv)  # the cached single-row path used inside attack_gradient
        for k in range(len(Xv)):
            a = stock_q(clf, Xv[k:k + 1], sv)
            b = _vectorized_q_submatrix(clf, Xv[k:k + 1], sv)
            worst = max(worst, float(np.max(np.abs(a - b))))
        # a small end-to-end attack, same global seed for ART's unseeded jitter
        finals = []
        for q in (stock_q, _vectorized_q_submatrix):
            ScikitlearnSVC.q_submatrix = q
            clf2 = ScikitlearnSVC(model=SVC(kernel=kernel, C=C, gamma=GAMMA, probability=False),
                                  clip_values=(0.0, 1.0))
            clf2.fit(X, eye[y])
            _register_rows(clf2, Xv)
            atk = PoisoningAttackSVM(clf2, params["step"], params["eps"], X, eye[y], Xv, eye[yv],
                                     EQ_STEPS, verbose=False)
            np.random.seed(7)
            xa, _ = atk.poison(X[:EQ_POINTS].copy(), eye[1 - y[:EQ_POINTS]])
            finals.append(xa)
        ScikitlearnSVC.q_submatrix = stock_q
        out[kernel] = {"q_max_abs_diff": worst,
                       "attack_max_abs_diff": float(np.max(np.abs(finals[0] - finals[1]))),
                       "n_sv": int(len(sv))}
    return out


def worker_art(jobdir: Path) -> None:
    import art
    import numpy as np
    import sklearn
    from art.attacks.poisoning import PoisoningAttackSVM
    from art.estimators.classification.scikitlearn import ScikitlearnSVC
    from sklearn.svm import SVC

    spec = json.loads((jobdir / "jobs.json").read_text())
    params = spec["params"]
    stock_q = ScikitlearnSVC.q_submatrix
    eye = np.eye(2)

    class CountingAttack(PoisoningAttackSVM):
        steps = 0

        def attack_gradient(self, attack_point, tol=0.0001):
            CountingAttack.steps += 1
            return super().attack_gradient(attack_point, tol)

    meta = {"versions": {"art": art.__version__, "numpy": np.__version__,
                         "sklearn": sklearn.__version__, "python": sys.version.split()[0]}}
    if any(j["variant"] == "vectorized" for j in spec["jobs"]):
        t0 = time.perf_counter()
        meta["equivalence"] = _art_equivalence_check(ScikitlearnSVC, PoisoningAttackSVM,
                                                     stock_q, params)
        meta["equivalence_s"] = time.perf_counter() - t0
        log(f"   [art] q_submatrix equivalence: {json.dumps(meta['equivalence'])}")
    (jobdir / "meta.json").write_text(json.dumps(meta))

    for job in spec["jobs"]:
        try:
            d = np.load(jobdir / f"data_{job['seed']}.npz")
            Xtr, ytr, Xv, yv = d["X_train"], d["y_train"], d["X_val"], d["y_val"]
            vec = job["variant"] == "vectorized"
            ScikitlearnSVC.q_submatrix = _vectorized_q_submatrix if vec else stock_q
            clf = ScikitlearnSVC(model=SVC(kernel=job["kernel"], C=spec["C"], gamma=spec["gamma"],
                                           probability=False), clip_values=(0.0, 1.0))
            clf.fit(Xtr, eye[ytr])
            if vec:
                _register_rows(clf, Xv)
            # init: random training points with flipped labels
            rs = np.random.RandomState(job["seed"])
            idx = rs.choice(len(ytr), size=job["n_poison"], replace=False)
            x0, y0 = Xtr[idx].copy(), eye[1 - ytr[idx]]
            atk = CountingAttack(clf, params["step"], params["eps"], Xtr, eye[ytr], Xv, eye[yv],
                                 job.get("max_iter") or params["max_iter"], verbose=False)
            np.random.seed(job["seed"])  # ART's jitter in attack_gradient uses the global RNG
            CountingAttack.steps = 0
            t0 = time.perf_counter()
            xa, ya = atk.poison(x0, y0)
            dt = time.perf_counter() - t0
            np.savez(jobdir / f"result_{job['id']}.npz", X_poison=np.asarray(xa, dtype=float),
                     y_poison=np.argmax(ya, axis=1).astype(np.int64))
            info = {"time_s": dt, "steps": CountingAttack.steps}
            log(f"   [art] seed {job['seed']} {job['kernel']:6s} n={job['n_poison']:2d} "
                f"{job['variant']}: {dt:7.1f} s, {CountingAttack.steps} gradient steps "
                f"({1000 * dt / max(CountingAttack.steps, 1):.1f} ms/step)")
        except Exception as exc:  # keep going; the main process reports it
            info = {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}
            log(f"   [art] job {job} FAILED: {info['error']}")
        finally:
            ScikitlearnSVC.q_submatrix = stock_q
        (jobdir / f"result_{job['id']}.json").write_text(json.dumps(info))


def worker_secml(jobdir: Path) -> None:
    import numpy as np
    import secml
    import sklearn
    from secml.adv.attacks.poisoning import CAttackPoisoningSVM
    from secml.array import CArray
    from secml.data import CDataset
    from secml.ml.classifiers import CClassifierSVM
    from secml.ml.kernels import CKernelLinear, CKernelRBF

    spec = json.loads((jobdir / "jobs.json").read_text())
    meta = {"versions": {"secml": secml.__version__, "numpy": np.__version__,
                         "sklearn": sklearn.__version__, "python": sys.version.split()[0]}}
    (jobdir / "meta.json").write_text(json.dumps(meta))
    for job in spec["jobs"]:
        try:
            d = np.load(jobdir / f"data_{job['seed']}.npz")
            tr = CDataset(CArray(d["X_train"]), CArray(d["y_train"]))
            val = CDataset(CArray(d["X_val"]), CArray(d["y_val"]))
            kern = (CKernelRBF(gamma=spec["gamma"]) if job["kernel"] == "rbf" else CKernelLinear())
            clf = CClassifierSVM(C=spec["C"], kernel=kern)
            clf.fit(tr.X, tr.Y)
            atk = CAttackPoisoningSVM(classifier=clf, training_data=tr, val=val, lb=0, ub=1,
                                      solver_type="pgd-ls", solver_params=dict(spec["params"]),
                                      init_type="random",  # random training points, flipped labels
                                      random_seed=job["seed"])
            atk.n_points = job["n_poison"]
            t0 = time.perf_counter()
            _, _, pois_ds, f_opt = atk.run(val.X, val.Y)
            dt = time.perf_counter() - t0
            np.savez(jobdir / f"result_{job['id']}.npz",
                     X_poison=pois_ds.X.tondarray().astype(float),
                     y_poison=pois_ds.Y.tondarray().astype(np.int64))
            info = {"time_s": dt, "f_opt": float(f_opt)}
            log(f"   [secml] seed {job['seed']} {job['kernel']:6s} n={job['n_poison']:2d}: "
                f"{dt:7.1f} s, final val hinge loss {float(f_opt):.4f}")
        except Exception as exc:
            info = {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}
            log(f"   [secml] job {job} FAILED: {info['error']}")
        (jobdir / f"result_{job['id']}.json").write_text(json.dumps(info))


# --------------------------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------------------------

def code_provenance() -> str:
    """Git HEAD, uncommitted files under core/, and a hash of core/attacks (work in progress)."""
    import hashlib

    def git(*a):
        try:
            r = subprocess.run(["git", *a], cwd=REPO_ROOT, capture_output=True, text=True,
                               timeout=30)
            return r.stdout.strip() if r.returncode == 0 else "?"
        except (OSError, subprocess.SubprocessError):
            return "?"
    dirty = git("status", "--porcelain", "--", "core")
    h = hashlib.sha256()
    core = REPO_ROOT / "core"
    for f in sorted(core.rglob("*.py")):
        if f.relative_to(core).parts[0].startswith("attacks"):
            h.update(str(f.relative_to(core)).encode() + b"\0" + f.read_bytes())
    changes = (f" + uncommitted changes in core/ ({len(dirty.splitlines())} paths)"
               if dirty else "")
    return (f"git {git('rev-parse', '--short', 'HEAD')}{changes}"
            f"; core/attacks sha256 {h.hexdigest()[:12]}")


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", choices=["blobs", "digits"], default="blobs",
                    help="digits: the digits-gradient scenario's split (5 vs 9, 100 training "
                         "images, pixels / 16), its model (StandardScaler + SVC), linear only; "
                         "use with --budgets 0.15 --kernels linear")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--budgets", type=float, nargs="+", default=[0.05, 0.10, 0.20],
                    help="poison rates, fractions of the 200 training points")
    ap.add_argument("--kernels", nargs="+", choices=KERNELS, default=list(KERNELS))
    ap.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    ap.add_argument("--attack-kwargs", default="{}", type=json.loads,
                    help="JSON dict passed to make_attack('gradient', rate, **kwargs)")
    ap.add_argument("--art-mode", choices=["stock", "vectorized", "both"], default="vectorized")
    ap.add_argument("--art-stock-seed0", action="store_true",
                    help="also run stock ART on the first seed only (slow: hours)")
    ap.add_argument("--art-stock-max-iter", type=int, default=None,
                    help="cap max_iter of the stock ART runs only (timing probe; the row is "
                         "labelled, its accuracy is then not comparable)")
    ap.add_argument("--art-params", default="{}", type=json.loads,
                    help=f"JSON overrides of ART's {ART_PARAMS}")
    ap.add_argument("--secml-params", default="{}", type=json.loads,
                    help=f"JSON overrides of SecML's pgd-ls solver params {SECML_PARAMS}")
    ap.add_argument("--cache-dir", type=Path,
                    default=Path(os.environ.get("POISONLAB_BENCH_CACHE",
                                                "~/.cache/poisonlab-bench")).expanduser())
    ap.add_argument("--json", type=Path, help="write all raw rows (and metadata) here")
    ap.add_argument("--_worker", choices=["art", "secml"], help=argparse.SUPPRESS)
    ap.add_argument("--_jobdir", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    for name in ("attack_kwargs", "art_params", "secml_params"):
        if not isinstance(getattr(args, name), dict):
            ap.error(f"--{name.replace('_', '-')} must be a JSON object")
    return args


def check_poisoned(X_p, y_p, n_budget: int, n_poison: int) -> list[str]:
    import numpy as np
    notes = []
    if n_poison > n_budget:
        notes.append(f"OVER BUDGET ({n_poison} > {n_budget})")
    if not np.isfinite(X_p).all():
        notes.append("non-finite features")
    elif X_p.min() < -1e-9 or X_p.max() > 1 + 1e-9:
        notes.append(f"features outside [0,1] ({X_p.min():.3g}..{X_p.max():.3g})")
    if not set(np.unique(y_p).tolist()) <= {0, 1}:
        notes.append("labels outside {0,1}")
    return notes


def main(argv=None) -> int:
    args = parse_args(argv)
    global DATA, N_TRAIN
    if args.data == "digits" and not args._worker:
        DATA, N_TRAIN = "digits", 100
    if args._worker:
        import warnings
        # sklearn 1.9 warns on every fit of SVC(probability=False) (the explicit value is
        # deprecated, but ART needs it); ART warns about missing PyTorch; SecML about old deps.
        warnings.filterwarnings("ignore", category=FutureWarning)
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", message=".*PyTorch not found.*")
        {"art": worker_art, "secml": worker_secml}[args._worker](args._jobdir)
        return 0

    import numpy as np
    import pandas as pd
    import sklearn

    t_start = time.perf_counter()
    art_params = {**ART_PARAMS, **args.art_params}
    secml_params = {**SECML_PARAMS, **args.secml_params}
    seeds, kernels, budgets = args.seeds, args.kernels, args.budgets
    n_budget = {b: int(round(b * N_TRAIN)) for b in budgets}
    data = {s: make_data(s) for s in seeds}
    clean = {(s, k): victim_accuracy(k, data[s]["X_train"], data[s]["y_train"], data[s])
             for s in seeds for k in kernels}
    rows: list[dict] = []
    skipped: list[str] = []
    meta: dict = {"seeds": seeds, "kernels": kernels, "budgets": budgets, "C": C, "gamma": GAMMA,
                  "art_params": art_params, "secml_params": secml_params,
                  "attack_kwargs": args.attack_kwargs,
                  "main_versions": {"python": sys.version.split()[0], "numpy": np.__version__,
                                    "sklearn": sklearn.__version__}}
    if DATA == "digits":
        print("Data: digits-gradient scenario split (5 vs 9, 100 train / 150 test, pixels / 16; "
              "attacker's validation: 50 of the training images); victim StandardScaler + "
              "SVC(linear, C=1); SecML attacks an SVC on the unstandardized pixels")
    else:
        print(f"Data: make_blobs centers [[-2,0],[2,0]] std 1.0, {N_TRAIN} train / {N_VAL} "
              f"val / {N_TEST} test, min-max to [0,1]; victim SVC(C={C}, gamma={GAMMA})")
    print(f"Seeds {seeds}; kernels {kernels}; "
          f"budgets {[f'{b:.0%}={n_budget[b]}' for b in budgets]}")
    meta["code"] = code_provenance()
    print(f"PoisonLab code: {meta['code']}")
    print("Clean test accuracy: " + ", ".join(f"seed {s} {k} {clean[s, k]:.3f}"
                                              for s in seeds for k in kernels))
    n_total = [0]

    def record(method, variant, seed, kernel, b, X_p, y_p, is_poison, time_s, extra=None,
               error=None):
        row = {"method": method, "variant": variant, "seed": seed, "kernel": kernel, "budget": b,
               "n_budget": n_budget[b], "clean_acc": clean[seed, kernel], "poisoned_acc": np.nan,
               "n_poison": np.nan, "time_s": time_s, "error": error, "notes": ""}
        row.update(extra or {})
        if error is None:
            n_p = int(np.sum(is_poison))
            notes = check_poisoned(X_p, y_p, n_budget[b], n_p)
            row.update(n_poison=n_p, notes="; ".join(notes),
                       poisoned_acc=victim_accuracy(kernel, X_p, y_p, data[seed]))
        rows.append(row)
        n_total[0] += 1
        status = (f"acc {row['poisoned_acc']:.3f} (clean {row['clean_acc']:.3f}), "
                  f"attack {time_s:.2f} s" if error is None else f"ERROR {error}")
        log(f"[{n_total[0]:3d}] {method:18s} {variant:10s} seed {seed} {kernel:6s} "
            f"{b:4.0%} n={n_budget[b]:2d}: {status}{' ' + row['notes'] if row['notes'] else ''}")

    # ---- PoisonLab attacks, in process -------------------------------------------------------
    from core.attacks import ATTACKS, make_attack

    for method, attack_name in (("poisonlab-gradient", "gradient"), ("random-flip", "label_flip")):
        if method not in args.methods:
            continue
        if attack_name not in ATTACKS:
            msg = (f"{method}: core.attacks has no '{attack_name}' attack in this checkout "
                   f"(registered: {sorted(ATTACKS)}); skipped")
            log("!! " + msg)
            skipped.append(msg)
            continue
        kwargs = args.attack_kwargs if attack_name == "gradient" else {}
        variant = "kwargs=" + json.dumps(kwargs, separators=(",", ":")) if kwargs else "default"
        for s in seeds:
            d = data[s]
            for k in kernels:
                for b in budgets:
                    try:
                        atk = make_attack(attack_name, b, **kwargs)
                        if attack_name == "gradient":
                            t0 = time.perf_counter()
                            p = atk.poison(d["X_train"], d["y_train"], model=victim(k),
                                           random_state=s, validation=(d["X_val"], d["y_val"]))
                        else:
                            t0 = time.perf_counter()
                            p = atk.poison(d["X_train"], d["y_train"], random_state=s)
                        dt = time.perf_counter() - t0
                        record(method, variant, s, k, b, np.asarray(p.X), np.asarray(p.y),
                               np.asarray(p.is_poison), dt)
                    except Exception as exc:
                        record(method, variant, s, k, b, None, None, None, float("nan"),
                               error=f"{type(exc).__name__}: {exc}")
                        traceback.print_exc()

    # ---- reference libraries, in their venvs -----------------------------------------------
    def run_reference(method, vpy, jobs, params, label):
        out = run_worker(method, vpy, data, jobs, params, label)
        meta[f"{method}_worker"] = out["meta"]
        for job in jobs:
            r = out["results"][job["id"]]
            s, k, b = job["seed"], job["kernel"], job["budget"]
            extra = {key: r[key] for key in ("steps", "f_opt") if key in r}
            if "error" in r:
                record(method, job["variant"], s, k, b, None, None, None, float("nan"),
                       extra=extra, error=r["error"])
                if "traceback" in r:
                    log(r["traceback"])
                continue
            d = data[s]
            X_p = np.vstack([d["X_train"], r["X_poison"]])
            y_p = np.concatenate([d["y_train"], r["y_poison"]])
            is_p = np.r_[np.zeros(N_TRAIN, bool), np.ones(len(r["y_poison"]), bool)]
            record(method, job["variant"], s, k, b, X_p, y_p, is_p, r["time_s"], extra=extra)
        return out

    if "art" in args.methods:
        vpy = ensure_venv("art", base_python311(), ART_REQS,
                          "import art; from art.attacks.poisoning import PoisoningAttackSVM; "
                          "import sklearn, numpy; print(art.__version__, sklearn.__version__, "
                          "numpy.__version__)", args.cache_dir)
        if vpy is None:
            skipped.append("art: venv could not be built (see message above)")
        else:
            variants = {"stock": ["stock"], "vectorized": ["vectorized"],
                        "both": ["vectorized", "stock"]}[args.art_mode]
            jobs = []
            for v in variants:
                for s in seeds:
                    for k in kernels:
                        for b in budgets:
                            jobs.append({"variant": v, "seed": s, "kernel": k, "budget": b,
                                         "n_poison": n_budget[b]})
            if args.art_stock_seed0 and "stock" not in variants:
                for k in kernels:
                    for b in budgets:
                        jobs.append({"variant": "stock", "seed": seeds[0], "kernel": k,
                                     "budget": b, "n_poison": n_budget[b]})
            for i, j in enumerate(jobs):
                j["id"] = i
                if j["variant"] == "stock" and args.art_stock_max_iter:
                    j["max_iter"] = args.art_stock_max_iter
                    j["variant"] = f"stock(max_iter={args.art_stock_max_iter})"
            print(f"ART PoisoningAttackSVM hyperparameters: {art_params}; init: random training "
                  "points with flipped labels (seeded); attacker validation split; "
                  "SVC(probability=False); clip_values (0, 1)")
            out = run_reference("art", vpy, jobs, art_params, "ART")
            # where stock and vectorized ran on the same case, their poison points must agree
            pairs: dict = {}
            for j in jobs:
                pairs.setdefault((j["seed"], j["kernel"], j["budget"]), {})[j["variant"]] = \
                    out["results"][j["id"]].get("X_poison")
            diffs = {key: float(np.max(np.abs(v["stock"] - v["vectorized"])))
                     for key, v in pairs.items()
                     if v.get("stock") is not None and v.get("vectorized") is not None}
            if diffs:
                meta["art_stock_vs_vectorized_max_abs_diff"] = {str(k): d for k, d in diffs.items()}
                print("ART stock vs vectorized on the bench runs (same seed, same global RNG "
                      "seed): max |poison point difference| " + ", ".join(
                          f"seed {s} {k} {b:.0%}: {d:.3g}" for (s, k, b), d in diffs.items()))
            eq = out["meta"].get("equivalence")
            if eq:
                print(f"ART q_submatrix equivalence check (stock double loop vs vectorized; "
                      f"{EQ_N} random training + {EQ_N} validation points; max |difference|):")
                for k, e in eq.items():
                    ok = e["q_max_abs_diff"] < 1e-12 and e["attack_max_abs_diff"] < 1e-9
                    print(f"  {k:6s}: Q blocks (incl. {e['n_sv']}x{e['n_sv']} SV block) "
                          f"{e['q_max_abs_diff']:.3g}; final poison points of a {EQ_POINTS}-point, "
                          f"max_iter={EQ_STEPS} attack (same RNG seed) "
                          f"{e['attack_max_abs_diff']:.3g} -> "
                          f"{'EQUIVALENT' if ok else 'MISMATCH'}")

    if "secml" in args.methods:
        vpy = ensure_venv("secml", find_pyenv_python("3.10") or shutil.which("python3.10"),
                          SECML_REQS,
                          "import secml; from secml.adv.attacks import CAttackPoisoningSVM; "
                          "print(secml.__version__)", args.cache_dir)
        if vpy is None:
            skipped.append("secml: venv could not be built (see message above)")
        else:
            jobs = [{"id": i, "variant": "pgd-ls", "seed": s, "kernel": k, "budget": b,
                     "n_poison": n_budget[b]}
                    for i, (s, k, b) in enumerate((s, k, b) for s in seeds for k in kernels
                                                  for b in budgets)]
            print(f"SecML CAttackPoisoningSVM: solver pgd-ls, solver_params {secml_params}, "
                  "lb=0 ub=1, init_type='random' (random training points with flipped labels, "
                  "random_seed=seed), CClassifierSVM(C=1, CKernelRBF(gamma=10) / CKernelLinear())")
            run_reference("secml", vpy, jobs, secml_params, "SecML")

    # ---- table -----------------------------------------------------------------------------
    total = time.perf_counter() - t_start
    if not rows:
        print("No runs.")
        for msg in skipped:
            print("SKIPPED: " + msg)
        return 1
    df = pd.DataFrame(rows)
    out_rows = []
    for (method, variant, kernel, b), g in df.groupby(["method", "variant", "kernel", "budget"],
                                                      sort=False):
        ok = g[g["error"].isna()]
        notes = [variant, f"{len(ok)} seed{'s' if len(ok) != 1 else ''}"
                 + (f" ({','.join(map(str, ok['seed']))})" if len(ok) < len(seeds) else "")]
        if method == "art" and len(ok):
            notes.append(f"{ok['steps'].mean():.0f} grad steps, "
                         f"{1000 * ok['time_s'].sum() / max(ok['steps'].sum(), 1):.0f} ms/step")
        if len(g) > len(ok):
            notes.append(f"{len(g) - len(ok)} FAILED")
        notes += sorted({n for n in ok["notes"] if n})
        out_rows.append({
            "method": method, "variant": variant, "kernel": kernel, "budget": b,
            "n_poison": (f"{ok['n_poison'].min():.0f}" if ok["n_poison"].nunique() <= 1
                         else f"{ok['n_poison'].min():.0f}-{ok['n_poison'].max():.0f}")
            if len(ok) else "-",
            "clean_acc": ok["clean_acc"].mean(),
            "poisoned_acc_mean": ok["poisoned_acc"].mean(),
            "poisoned_acc_std": ok["poisoned_acc"].std(ddof=1) if len(ok) > 1 else np.nan,
            "drop_pts": 100 * (ok["clean_acc"].mean() - ok["poisoned_acc"].mean()),
            "time_s_mean": ok["time_s"].mean(),
            "variant/notes": "; ".join(notes),
        })
    table = pd.DataFrame(out_rows)
    order = {m: i for i, m in enumerate(METHODS)}
    table = table.sort_values(["kernel", "budget", "method"],
                              key=lambda c: c.map(order) if c.name == "method" else c,
                              kind="stable").reset_index(drop=True)
    table["budget"] = table["budget"].map(lambda v: f"{v:.0%}")
    table = table.drop(columns="variant")
    print()
    print(f"Results: mean over seeds {seeds} (std = sample std over seeds; drop_pts = "
          "100 x (clean - poisoned)); time_s = attack call only, worker start-up excluded")
    with pd.option_context("display.width", 250, "display.max_colwidth", 90):
        print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}", na_rep="-"))
    for msg in skipped:
        print("SKIPPED: " + msg)
    print(f"Total wall time: {total:.0f} s")
    if args.json:
        raw = df.replace({np.nan: None}).to_dict(orient="records")
        args.json.write_text(json.dumps({"meta": meta, "rows": raw, "table": table.replace(
            {np.nan: None}).to_dict(orient="records"), "skipped": skipped,
            "total_wall_s": total}, indent=1, default=str))
        print(f"Raw rows written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
