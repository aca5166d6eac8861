"""The shared contract every registered defense must meet, plus per-defense properties."""

import json

import numpy as np
import pytest
from sklearn.metrics.pairwise import pairwise_kernels
from sklearn.neighbors import KNeighborsClassifier, NearestNeighbors
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from core.attacks import make_attack
from core.datasets import make_dataset
from core.defenses import DEFENSES, defense_from_config, make_defense
from core.defenses import duti as duti_module
from core.defenses.duti import duti_flips
from core.defenses.relabel import trusted_vote
from core.defenses.training import spatial_batches
from core.experiment import ExperimentConfig, derive_seeds, prepare, run_experiment
from core.matrix import run_matrix
from core.metrics import detection_curves, detection_metrics
from core.models import make_model

MODEL = make_model("svm", kernel="rbf")


@pytest.fixture(scope="module")
def moons():
    return make_dataset("moons", n_samples=300, random_state=2)


@pytest.fixture(scope="module")
def trusted(moons):
    return moons.X_test[:40], moons.y_test[:40]


@pytest.fixture(scope="module")
def poisoned(moons):
    return make_attack("label_flip", 0.2).poison(moons.X_train, moons.y_train, random_state=2)


def _sanitize(name, p, trusted=None, **params):
    return make_defense(name, **params).sanitize(p.X, p.y, model=MODEL, random_state=0,
                                                 is_poison=p.is_poison, trusted=trusted)


@pytest.mark.parametrize("name", list(DEFENSES))
def test_defense_contract(name, poisoned, trusted):
    X, y = poisoned.X.copy(), poisoned.y.copy()
    s = make_defense(name).sanitize(X, y, model=MODEL, random_state=0,
                                    is_poison=poisoned.is_poison, trusted=trusted)
    n = len(y)
    assert np.array_equal(X, poisoned.X) and np.array_equal(y, poisoned.y), "mutated input"
    for arr in (s.is_clean, s.keep):
        assert arr.shape == (n,) and arr.dtype == bool
    assert s.score.shape == (n,) and s.score.dtype == np.float64 and np.isfinite(s.score).all()
    assert s.y.shape == (n,) and set(np.unique(s.y)) <= {0, 1}
    if s.relabels:  # unflagged rows are kept as labelled; flagged ones relabelled or dropped
        assert s.keep[s.is_clean].all()
        assert np.array_equal(s.y[s.is_clean], y[s.is_clean])
    else:
        assert np.array_equal(s.keep, s.is_clean) and np.array_equal(s.y, y)
    again = make_defense(name).sanitize(X, y, model=MODEL, random_state=0,
                                        is_poison=poisoned.is_poison, trusted=trusted)
    assert np.array_equal(s.is_clean, again.is_clean) and np.array_equal(s.score, again.score)
    # the scorecard of every defense is JSON-safe
    d = detection_metrics(poisoned.is_poison, s.is_clean, score=s.score)
    json.dumps(d.to_dict(), allow_nan=False)
    json.dumps(detection_curves(poisoned.is_poison, s.score, is_clean=s.is_clean),
               allow_nan=False)


@pytest.mark.parametrize("name", [n for n, c in DEFENSES.items() if not c.uses_true_mask])
def test_only_the_oracle_looks_at_the_truth(name, poisoned, trusted):
    a = _sanitize(name, poisoned, trusted)
    b = make_defense(name).sanitize(poisoned.X, poisoned.y, model=MODEL, random_state=0,
                                    is_poison=~poisoned.is_poison, trusted=trusted)
    assert np.array_equal(a.is_clean, b.is_clean) and np.array_equal(a.score, b.score)


def test_registry_metadata_is_consistent():
    for name, cls in DEFENSES.items():
        assert cls.name == name and cls.summary and cls.__doc__
        cfg = ExperimentConfig(defense=name, trusted_fraction=0.1 if cls.needs_trusted else 0.0)
        assert isinstance(defense_from_config(cfg), cls)
        assert defense_from_config(cfg).get_params() == cfg.defense_params == cls.defaults()
        for spec in cls.params:  # every declaration is complete and its default valid
            assert spec.help and spec.check(spec.default) == spec.default or spec.nullable
        assert isinstance(cls.is_baseline, bool) and isinstance(cls.needs_trusted, bool)
    # the baselines are the reference points, not defenses to rank
    assert {n for n, c in DEFENSES.items() if c.is_baseline} == {"none", "oracle"}


def test_config_passes_contamination_through():
    cfg = ExperimentConfig(defense="sphere", contamination=0.25)
    assert defense_from_config(cfg).contamination == 0.25
    knn = defense_from_config(ExperimentConfig(defense="knn_sanitize", knn_k=7, knn_threshold=0.8))
    assert (knn.k, knn.threshold) == (7, 0.8)


def test_config_refuses_roni_without_trusted_data():
    with pytest.raises(ValueError,
                       match=r"defense='roni' needs trusted data; set trusted_fraction > 0"):
        ExperimentConfig(defense="roni")
    assert ExperimentConfig(defense="roni", trusted_fraction=0.1).defense == "roni"


def test_none_keeps_everything(poisoned):
    s = make_defense("none").sanitize(poisoned.X, poisoned.y)
    assert s.is_clean.all() and s.n_flagged == 0


def test_oracle_removes_exactly_the_poison(poisoned):
    s = make_defense("oracle").sanitize(poisoned.X, poisoned.y, is_poison=poisoned.is_poison)
    assert np.array_equal(~s.is_clean, poisoned.is_poison)
    with pytest.raises(ValueError, match="needs the true is_poison mask"):
        make_defense("oracle").sanitize(poisoned.X, poisoned.y)


def test_isolation_forest_finds_far_injected_points():
    d = make_dataset("blobs", n_samples=400, random_state=0)
    p = make_attack("injection", 0.1, distance=8.0, spread=1.0).poison(d.X_train, d.y_train,
                                                                       random_state=0)
    s = make_defense("isolation_forest", contamination=0.1).sanitize(p.X, p.y, random_state=0)
    m = detection_metrics(p.is_poison, s.is_clean)
    # a dense cluster partly masks itself (Liu et al. 2008), so not every point is caught,
    # but flagged points are poison far above the 9% base rate
    assert m.recall >= 0.7 and m.precision >= 0.6
    # the suspicion score ranks poison above clean on average
    assert s.score[p.is_poison].mean() > s.score[~p.is_poison].mean()


@pytest.mark.parametrize("dataset", ["moons", "blobs"])
@pytest.mark.parametrize("seed", [0, 1])
def test_knn_sanitize_catches_random_flips(dataset, seed):
    d = make_dataset(dataset, n_samples=500, random_state=seed)
    p = make_attack("label_flip", 0.2).poison(d.X_train, d.y_train, random_state=seed)
    s = make_defense("knn_sanitize").sanitize(p.X, p.y)
    m = detection_metrics(p.is_poison, s.is_clean)
    assert m.recall >= 0.8 and m.precision >= 0.7
    fixed = s.y[p.is_poison & ~s.is_clean]
    assert np.array_equal(fixed, d.y_train[p.is_poison & ~s.is_clean]), "relabelled wrongly"


def test_knn_sanitize_drop_mode_drops(poisoned):
    s = make_defense("knn_sanitize", mode="drop").sanitize(poisoned.X, poisoned.y)
    assert not s.relabels and s.n_flagged > 0 and np.array_equal(s.keep, s.is_clean)


def _flip_scores(dataset, rate, seeds, **params):
    """Mean recall and precision of knn_sanitize against random flips, as the bench runs it."""
    out = []
    for seed in seeds:
        data_seed, attack_seed, _ = derive_seeds(seed)
        d = make_dataset(dataset, random_state=data_seed)
        p = make_attack("label_flip", rate).poison(d.X_train, d.y_train, random_state=attack_seed)
        m = detection_metrics(p.is_poison, make_defense("knn_sanitize", **params)
                              .sanitize(p.X, p.y).is_clean)
        out.append((m.recall, m.precision))
    return np.mean(out, axis=0)


@pytest.mark.parametrize("dataset", ["moons", "blobs"])
def test_knn_sanitize_holds_recall_and_precision_across_flip_rates(dataset):
    # issue 5's bar (recall >= 0.9, precision >= 0.8 at rates 0.1-0.3), loosened for 3 seeds
    # outside both the tuning (100+) and the reported (0-4) ones
    for rate in (0.1, 0.3):
        recall, precision = _flip_scores(dataset, rate, range(10, 13))
        assert recall >= 0.85 and precision >= 0.75, (rate, recall, precision)


def test_knn_sanitize_rate_aware_fixed_point_beats_one_fixed_share_vote():
    # one vote at a fixed share of 0.6 (the old default) is too strict at a high flip rate
    # and too lenient at a low one; the rate-aware fixed point does better at both ends
    paper = {"k": 10, "threshold": 0.6, "rate_aware": False, "max_iter": 1}
    high_old, high_new = (_flip_scores("moons", 0.3, range(10, 13), **kw) for kw in (paper, {}))
    low_old, low_new = (_flip_scores("moons", 0.1, range(10, 13), **kw) for kw in (paper, {}))
    assert high_new[0] > high_old[0] + 0.05 and high_new[1] >= high_old[1]
    assert low_new[1] > low_old[1]
    # rate_aware=False, max_iter=1 is the paper's rule: relabel where >= threshold disagree
    d = make_dataset("moons", random_state=0)
    p = make_attack("label_flip", 0.2).poison(d.X_train, d.y_train, random_state=0)
    s = make_defense("knn_sanitize", k=10, threshold=0.6, rate_aware=False,
                     max_iter=1).sanitize(p.X, p.y)
    Z = StandardScaler().fit_transform(p.X)
    neigh = NearestNeighbors(n_neighbors=10).fit(Z).kneighbors(return_distance=False)
    share = (p.y[neigh] != p.y[:, None]).mean(axis=1)
    assert np.array_equal(~s.is_clean, share >= 0.6) and np.array_equal(s.score, share)
    assert np.array_equal(s.y, np.where(share >= 0.6, 1 - p.y, p.y))


# --- scattered outliers, flips deep inside the other class, a far cluster ------------------

def _blobs_with(extra_X, extra_y, seed=0, n=300):
    """Two unit-variance blobs at (-2, 0) and (2, 0), plus the given poison rows appended."""
    rs = np.random.RandomState(seed)
    X = np.vstack([rs.normal(size=(n // 2, 2)) + [-2, 0], rs.normal(size=(n // 2, 2)) + [2, 0]])
    y = np.repeat([0, 1], n // 2)
    X = np.vstack([X, extra_X])
    y = np.concatenate([y, extra_y])
    return X, y, np.r_[np.zeros(n, bool), np.ones(len(extra_y), bool)]


def test_lof_finds_scattered_outliers_but_not_flips():
    rs = np.random.RandomState(1)
    ring = rs.uniform(0, 2 * np.pi, 15)
    X, y, truth = _blobs_with(np.c_[9 * np.cos(ring), 9 * np.sin(ring)], np.ones(15, int))
    s = make_defense("lof").sanitize(X, y)
    m = detection_metrics(truth, s.is_clean, score=s.score)
    assert m.recall >= 0.9 and m.precision >= 0.6 and m.roc_auc > 0.95
    assert np.array_equal(~s.is_clean, s.score > 1.5)  # "auto": LOF above 1.5
    # label flips sit where real data sits: LOF cannot tell them apart
    flipped = y.copy()
    flipped[:20] = 1
    s = make_defense("lof").sanitize(X, flipped)
    assert detection_metrics(np.arange(len(y)) < 20, s.is_clean, score=s.score).roc_auc < 0.7
    assert abs(make_defense("lof", contamination=0.1).sanitize(X, y).n_flagged - 0.1 * len(y)) <= 1


def test_label_aware_forest_sees_flips_a_label_blind_forest_cannot():
    rs = np.random.RandomState(2)
    deep = rs.normal(scale=0.5, size=(20, 2)) + [-3, 0]  # deep in class 0, labelled 1
    X, y, truth = _blobs_with(deep, np.ones(20, int))
    # a dense cluster of 20 partly masks itself, so one forest's recall varies: mean of 5 seeds
    aware, blind = [], []
    for seed in range(5):
        for runs, name in ((aware, "label_aware_iforest"), (blind, "isolation_forest")):
            s = make_defense(name).sanitize(X, y, random_state=seed)
            m = detection_metrics(truth, s.is_clean, score=s.score)
            runs.append((m.roc_auc, m.recall))
    (auc_aware, rec_aware), (auc_blind, rec_blind) = np.mean(aware, 0), np.mean(blind, 0)
    assert auc_aware > 0.85 and auc_blind < 0.7
    assert rec_aware >= 0.7 and rec_aware > rec_blind + 0.4
    # a number: about that share of each class
    share = make_defense("label_aware_iforest", contamination=0.2).sanitize(X, y, random_state=0)
    for label in (0, 1):
        assert abs((~share.is_clean[y == label]).mean() - 0.2) < 0.02


def test_sphere_and_slab_remove_their_share_of_each_class(poisoned):
    for name in ("sphere", "slab"):
        for share in (0.1, 0.3):
            s = _sanitize(name, poisoned, contamination=share)
            assert np.array_equal(~s.is_clean, s.score > 1.0)
            for label in (0, 1):
                flagged = (~s.is_clean[poisoned.y == label]).mean()
                assert share - 0.02 <= flagged <= share + 0.01
        auto = _sanitize(name, poisoned)
        assert auto.n_flagged == _sanitize(name, poisoned, contamination=0.1).n_flagged


def test_sphere_sees_spread_slab_sees_the_centroid_axis():
    rs = np.random.RandomState(3)
    across = rs.normal(scale=0.3, size=(15, 2)) + [2, 7]  # class 1, far across the axis
    along = rs.normal(scale=0.3, size=(15, 2)) + [-6, 0]  # labelled 1, beyond class 0
    X, y, _ = _blobs_with(np.vstack([across, along]), np.ones(30, int))
    is_across = np.r_[np.zeros(300, bool), np.ones(15, bool), np.zeros(15, bool)]
    is_along = np.r_[np.zeros(315, bool), np.ones(15, bool)]
    sphere = make_defense("sphere", contamination=0.2).sanitize(X, y)
    slab = make_defense("slab", contamination=0.1).sanitize(X, y)
    assert (~sphere.is_clean[is_across]).all() and (~sphere.is_clean[is_along]).all()
    assert (~slab.is_clean[is_along]).all() and (~slab.is_clean[is_across]).sum() <= 2
    assert slab.score[is_across].max() < slab.score[is_along].min()


def test_sphere_centroid_is_robust_to_a_far_cluster():
    far = np.random.RandomState(4).normal(scale=0.3, size=(40, 2)) + [30, 0]
    X, y, truth = _blobs_with(far, np.zeros(40, int))  # 40 far points claim class 0 (of 190)
    s = make_defense("sphere", contamination=0.25).sanitize(X, y)
    # a mean centroid would sit between the blob and the cluster; the median stays in the blob
    assert (~s.is_clean[truth]).all()


def test_trim_drops_its_share_and_targets_high_loss_points():
    rs = np.random.RandomState(5)
    wrong = rs.normal(scale=0.5, size=(30, 2)) + [-2.5, 0]  # labelled 1 inside class 0
    X, y, truth = _blobs_with(wrong, np.ones(30, int))
    s = make_defense("trim", contamination=0.1).sanitize(X, y, model=MODEL, random_state=0)
    assert s.n_flagged == round(0.1 * len(y))
    m = detection_metrics(truth, s.is_clean, score=s.score)
    assert m.precision >= 0.8 and m.roc_auc > 0.9
    # the flagged points are exactly the highest losses under the last fit
    assert s.score[~s.is_clean].min() >= s.score[s.is_clean].max()
    with pytest.raises(ValueError, match="trim needs the victim model"):
        make_defense("trim").sanitize(X, y)


def test_roni_needs_trusted_data_and_the_model(poisoned, trusted):
    with pytest.raises(ValueError, match=r"roni needs a trusted clean sample \(trusted=\(X, y\)\)"):
        make_defense("roni").sanitize(poisoned.X, poisoned.y, model=MODEL)
    with pytest.raises(ValueError, match=r"roni needs the victim model"):
        make_defense("roni").sanitize(poisoned.X, poisoned.y, trusted=trusted)
    one_class = (trusted[0][:5], np.zeros(5, int))
    with pytest.raises(ValueError, match=r"at least 2 trusted points of each class"):
        make_defense("roni").sanitize(poisoned.X, poisoned.y, model=MODEL, trusted=one_class)


def test_roni_rejects_a_harmful_band_of_flips():
    d = make_dataset("blobs", n_samples=500, random_state=3)
    p = make_attack("targeted_flip", 0.2).poison(d.X_train, d.y_train, model=MODEL)
    tr = (d.X_test[:50], d.y_test[:50])
    s = make_defense("roni").sanitize(p.X, p.y, model=MODEL, random_state=0, trusted=tr)
    m = detection_metrics(p.is_poison, s.is_clean, score=s.score)
    assert m.precision >= 0.6 and m.recall >= 0.5 and m.roc_auc > 0.8
    # cells share a verdict; per-point RONI (batch_size=1) scores every point on its own
    cells = spatial_batches(StandardScaler().fit_transform(p.X), p.y, 10)
    assert all(len(set(s.score[c])) == 1 and len(set(p.y[c])) == 1 for c in cells)
    assert sorted(np.concatenate(cells).tolist()) == list(range(len(p.y)))


def test_roni_per_point_on_a_tiny_set():
    X, y, truth = _blobs_with(np.array([[-2.0, 0.0], [-2.2, 0.3]]), np.ones(2, int), n=40)
    rs = np.random.RandomState(0)
    tr = (np.vstack([rs.normal(size=(10, 2)) + [-2, 0], rs.normal(size=(10, 2)) + [2, 0]]),
          np.repeat([0, 1], 10))
    s = make_defense("roni", batch_size=1).sanitize(X, y, model=MODEL, random_state=0, trusted=tr)
    # a soft-margin SVM absorbs one wrong label deep in a class: small, but positive, harm
    assert (s.score[truth] > 0).all() and (s.score[truth] >= np.quantile(s.score, 0.75)).all()
    # points outside every base model's margin cannot change an SVM: exactly no impact
    assert (s.score == 0).sum() >= 5


def test_trusted_relabel_needs_trusted_data_of_both_classes_and_the_model(poisoned, trusted):
    with pytest.raises(ValueError, match=r"trusted_relabel needs a trusted clean sample"):
        make_defense("trusted_relabel").sanitize(poisoned.X, poisoned.y, model=MODEL)
    with pytest.raises(ValueError, match=r"trusted_relabel needs the victim model"):
        make_defense("trusted_relabel").sanitize(poisoned.X, poisoned.y, trusted=trusted)
    one_class = (trusted[0][:5], np.zeros(5, int))
    with pytest.raises(ValueError, match=r"needs trusted points of both classes; .* \[5, 0\]"):
        make_defense("trusted_relabel").sanitize(poisoned.X, poisoned.y, model=MODEL,
                                                 trusted=one_class)


def test_trusted_relabel_gives_a_flipped_band_its_labels_back():
    d = make_dataset("blobs", n_samples=500, random_state=3)
    p = make_attack("targeted_flip", 0.2).poison(d.X_train, d.y_train, model=MODEL)
    tr = (d.X_test[:50], d.y_test[:50])
    s = make_defense("trusted_relabel").sanitize(p.X, p.y, model=MODEL, random_state=0,
                                                 trusted=tr)
    m = detection_metrics(p.is_poison, s.is_clean, score=s.score)
    assert m.precision >= 0.8 and m.recall >= 0.8 and m.roc_auc > 0.9
    # the flipped rows get the label they had before the attack; the few rows whose
    # neighbours (trusted ones among them) overrule the cells are dropped, and flagged
    assert s.relabels and 0.9 < s.keep.mean() < 1.0
    assert not s.is_clean[~s.keep].any()
    kept = s.keep
    assert np.array_equal(s.y[kept], np.where(s.is_clean, p.y, 1 - p.y)[kept])
    caught = p.is_poison & ~s.is_clean & kept
    assert caught.sum() > 0.8 * p.is_poison.sum()
    assert np.array_equal(s.y[caught], d.y_train[caught])
    # cells the trusted-only model already fits with margin are kept without refits
    assert (s.score <= -1.0).sum() > 0.3 * len(p.y)
    one = make_defense("trusted_relabel", partitions=1).sanitize(p.X, p.y, model=MODEL,
                                                                 random_state=0, trusted=tr)
    cells = spatial_batches(StandardScaler().fit_transform(p.X), p.y, 10)
    assert all(len(set(one.score[c] > 0)) == 1 for c in cells)  # one cutting: cells share it


def test_trusted_relabel_recovers_more_than_dropping_a_flipped_band():
    # issue 5's bar on two seeds outside both the tuning (100+) and the reported (0-4) ones
    table = run_matrix(ExperimentConfig(dataset="blobs", seed=10), attacks=["targeted_flip"],
                       defenses=["oracle", "roni", "trusted_relabel"], rate=0.2, seeds=2)
    got = dict(zip(table.defense, table.recovered_mean, strict=True))
    assert table.drop_mean.iloc[0] >= 0.05
    assert got["trusted_relabel"] >= 0.8 and got["trusted_relabel"] > got["oracle"]


def test_trusted_reject_drops_exactly_the_rows_trusted_relabel_flags(poisoned, trusted):
    args = dict(model=MODEL, random_state=0, trusted=trusted)
    mend = make_defense("trusted_relabel").sanitize(poisoned.X, poisoned.y, **args)
    drop = make_defense("trusted_reject").sanitize(poisoned.X, poisoned.y, **args)
    assert not drop.relabels and mend.relabels
    assert np.array_equal(drop.is_clean, mend.is_clean) and (~drop.is_clean).any()
    assert np.array_equal(drop.keep, drop.is_clean) and np.array_equal(drop.y, poisoned.y)
    assert np.array_equal(drop.score, mend.score)


def test_forests_refit_only_when_the_data_or_the_seed_change(poisoned, monkeypatch):
    """The contamination only cuts the memoized scores; the flags follow the contamination."""
    from core.defenses import outliers
    fits = []
    real = outliers.forest_normality

    def counted(X, **kwargs):
        fits.append(len(X))
        return real(X, **kwargs)

    monkeypatch.setattr(outliers, "forest_normality", counted)
    monkeypatch.setattr(outliers, "NORMALITY", outliers.Memo(16))
    X, y = poisoned.X, poisoned.y
    fresh = real(X, random_state=4)
    for contamination in ("auto", 0.05, 0.2, 0.5):
        got = make_defense("isolation_forest", contamination=contamination).sanitize(
            X, y, random_state=4)
        assert np.array_equal(got.score, -fresh)
        cut = -0.5 if contamination == "auto" else np.percentile(fresh, 100 * contamination)
        assert np.array_equal(got.is_clean, fresh >= cut), contamination
        if contamination != "auto":  # the share flagged is the contamination
            assert abs((~got.is_clean).mean() - contamination) <= 1 / len(y)
    assert fits == [len(y)]  # one forest for four cuts
    for contamination in ("auto", 0.2):
        make_defense("label_aware_iforest", contamination=contamination).sanitize(
            X, y, random_state=4)
    assert len(fits) == 3  # one forest per class, once
    make_defense("isolation_forest").sanitize(X, y, random_state=5)
    make_defense("isolation_forest").sanitize(X, y, random_state=None)
    make_defense("isolation_forest").sanitize(X[1:], y[1:], random_state=4)
    make_defense("label_aware_iforest", n_estimators=20).sanitize(X, y, random_state=4)
    assert len(fits) == 8  # another seed, no seed, other data, other trees: refits
    assert len(outliers.NORMALITY) == 7  # all but the unseeded forest are kept


def test_forest_scores_are_the_papers_and_repeat_under_a_seed():
    from core.defenses.outliers import forest_normality
    rs = np.random.RandomState(0)
    X = np.vstack([rs.normal(size=(300, 2)), [[8.0, 8.0]]])
    a = forest_normality(X, random_state=3)
    assert np.array_equal(a, forest_normality(X, random_state=3))
    assert not np.array_equal(a, forest_normality(X, random_state=4))
    assert np.all((a < 0) & (a >= -1)) and np.argmin(a) == 300  # the far point is most isolated
    # a RandomState draws its seed: same state, same scores
    assert np.array_equal(forest_normality(X, random_state=np.random.RandomState(1)),
                          forest_normality(X, random_state=np.random.RandomState(1)))
    assert np.array_equal(forest_normality(X[:2]), [-0.5, -0.5])  # too few rows to split
    # scikit-learn's forest, same algorithm: the two rank the points alike
    from scipy.stats import spearmanr
    from sklearn.ensemble import IsolationForest
    sk = IsolationForest(random_state=3).fit(X).score_samples(X)
    assert spearmanr(a, sk)[0] > 0.9


def test_trusted_reject_reuses_the_verdicts_of_trusted_relabel(poisoned, trusted, monkeypatch):
    from core.defenses import relabel
    calls = []
    real = relabel.TrustedRelabel._verdicts

    def counted(self, *args):
        calls.append(self.name)
        return real(self, *args)

    monkeypatch.setattr(relabel.TrustedRelabel, "_verdicts", counted)
    monkeypatch.setattr(relabel, "VERDICTS", relabel.Memo(4))
    args = dict(model=MODEL, trusted=trusted)
    first = make_defense("trusted_relabel").sanitize(poisoned.X, poisoned.y, random_state=1, **args)
    make_defense("trusted_reject").sanitize(poisoned.X, poisoned.y, random_state=1, **args)
    again = make_defense("trusted_relabel").sanitize(poisoned.X, poisoned.y, random_state=1, **args)
    assert calls == ["trusted_relabel"]
    assert np.array_equal(first.y, again.y) and np.array_equal(first.score, again.score)
    again.score[:] = 0  # a caller changing its report does not change the memo
    make_defense("trusted_relabel").sanitize(poisoned.X, poisoned.y, random_state=2, **args)
    make_defense("trusted_reject", partitions=3).sanitize(poisoned.X, poisoned.y, random_state=1,
                                                          **args)
    make_defense("trusted_reject").sanitize(poisoned.X, poisoned.y, random_state=None, **args)
    flipped = poisoned.y.copy()
    flipped[0] = 1 - flipped[0]
    make_defense("trusted_reject").sanitize(poisoned.X, flipped, random_state=1, **args)
    assert len(calls) == 5  # another seed, other parameters, no seed, other labels: refits
    third = make_defense("trusted_relabel").sanitize(poisoned.X, poisoned.y, random_state=1, **args)
    assert len(calls) == 5 and np.array_equal(third.score, first.score)


def test_relabelling_wins_against_flips_and_dropping_against_injections():
    # seeds outside the development (100+) and the reported (0-4) ones
    table = run_matrix(ExperimentConfig(dataset="blobs", seed=10),
                       attacks=["targeted_flip", "targeted_injection"],
                       defenses=["trusted_relabel", "trusted_reject"], rate=0.2, seeds=3)
    got = {(r.attack, r.defense): r for r in table.itertuples()}
    for attack in ("targeted_flip", "targeted_injection"):
        mend, drop = got[attack, "trusted_relabel"], got[attack, "trusted_reject"]
        assert mend.f1_mean == pytest.approx(drop.f1_mean)  # the same rows are flagged
    assert (got["targeted_flip", "trusted_relabel"].recovered_mean
            > got["targeted_flip", "trusted_reject"].recovered_mean + 0.1)
    assert (got["targeted_injection", "trusted_reject"].recovered_mean
            > got["targeted_injection", "trusted_relabel"].recovered_mean)


def test_duti_needs_trusted_data_the_model_and_a_size_it_can_solve(poisoned, trusted,
                                                                   monkeypatch):
    with pytest.raises(ValueError, match=r"duti needs a trusted clean sample"):
        make_defense("duti").sanitize(poisoned.X, poisoned.y, model=MODEL)
    with pytest.raises(ValueError, match=r"duti needs the victim model"):
        make_defense("duti").sanitize(poisoned.X, poisoned.y, trusted=trusted)
    with pytest.raises(ValueError, match=r"duti supports SVC and logistic regression"):
        make_defense("duti").sanitize(poisoned.X, poisoned.y, model=KNeighborsClassifier(),
                                      trusted=trusted)
    with pytest.raises(ValueError, match=r"duti supports the linear, rbf, poly and sigmoid "
                       r"kernels, not 'precomputed'"):
        make_defense("duti").sanitize(poisoned.X, poisoned.y, model=SVC(kernel="precomputed"),
                                      trusted=trusted)
    K = np.eye(5)
    with pytest.raises(ValueError, match=r"labels must be 0 or 1"):
        duti_flips(K, np.array([-1, 1, 1]), np.array([0, 1]))
    with pytest.raises(ValueError, match=r"the kernel is 5 x 5 but there are 3 training and 1"):
        duti_flips(K, np.array([0, 1, 1]), np.array([0]))
    with pytest.raises(ValueError, match=r"the kernel plus ridge is singular; raise ridge"):
        duti_flips(-K, np.array([0, 1, 1]), np.array([0, 1]), ridge=1.0)
    monkeypatch.setattr(duti_module, "MAX_POINTS", 100)
    with pytest.raises(ValueError, match=r"at most 100 training and trusted points, not 220"):
        make_defense("duti").sanitize(poisoned.X, poisoned.y, model=MODEL, trusted=trusted)


def test_duti_solves_its_quadratic_program():
    rs = np.random.RandomState(0)
    X = rs.normal(size=(60, 2))
    y = (X[:, 0] > 0).astype(int)
    y[:6] = 1 - y[:6]
    X_t = rs.normal(size=(20, 2))
    y_t = (X_t[:, 0] > 0).astype(int)
    K = pairwise_kernels(np.vstack([X, X_t]), metric="rbf", gamma=0.5)
    delta = duti_flips(K, y, y_t, ridge=1.0, sparsity=0.1, trusted_weight=2.0)
    assert ((delta >= 0) & (delta <= 1)).all()
    # KKT conditions of the box-constrained convex quadratic, with its gradient computed
    # independently: the residuals of the kernel ridge fit, by finite differences
    def objective(d):
        y_new = np.concatenate([(2 * y - 1) * (1 - 2 * d), 2 * y_t - 1])
        f = K @ np.linalg.solve(K + np.eye(80), y_new)
        r = f - y_new
        return 2.0 * (r[60:] ** 2).mean() + (r[:60] ** 2).mean() + 0.1 * d.mean()
    eps = 1e-6
    grad = np.array([(objective(delta + eps * e) - objective(delta - eps * e)) / (2 * eps)
                     for e in np.eye(60)])
    assert np.all(grad[delta < 1e-6] > -1e-6) and np.all(grad[delta > 1 - 1e-6] < 1e-6)
    inside = (delta > 1e-6) & (delta < 1 - 1e-6)
    assert np.abs(grad[inside]).max(initial=0.0) < 1e-5
    assert objective(delta) < objective(np.zeros(60))
    assert delta[:6].mean() > max(0.5, 4 * delta[6:].mean())  # the six flipped labels stand out
    # a high price per change: no change is worth it
    assert not duti_flips(K, y, y_t, sparsity=100.0).any()


def test_duti_relabels_or_drops_and_accepts_every_victim(poisoned, trusted):
    s = _sanitize("duti", poisoned, trusted)
    flagged = ~s.is_clean
    assert s.relabels and s.keep.all() and flagged.any()
    assert np.array_equal(s.y, np.where(flagged, 1 - poisoned.y, poisoned.y))
    assert np.array_equal(flagged, s.score > 0.5)
    drop = _sanitize("duti", poisoned, trusted, mode="drop")
    assert np.array_equal(drop.keep, s.is_clean) and np.array_equal(drop.y, poisoned.y)
    for model in (make_model("svm", kernel="linear"), make_model("svm", kernel="poly"),
                  make_model("svm", kernel="sigmoid"), make_model("logreg")):
        got = make_defense("duti").sanitize(poisoned.X, poisoned.y, model=model, trusted=trusted)
        assert got.score.shape == poisoned.y.shape and np.isfinite(got.score).all()
        m = detection_metrics(poisoned.is_poison, got.is_clean, score=got.score)
        assert m.roc_auc > 0.6, (model, m)


def test_duti_gives_a_whole_flipped_band_back_where_cells_fall_short():
    # seeds outside the development (100+) and the reported (0-4) ones
    table = run_matrix(ExperimentConfig(dataset="moons", seed=10),
                       attacks=["targeted_flip", "alfa"],
                       defenses=["oracle", "trusted_relabel", "duti"], rate=0.2, seeds=3)
    got = {(r.attack, r.defense): r.recovered_mean for r in table.itertuples()}
    for attack in ("targeted_flip", "alfa"):
        assert got[attack, "duti"] >= 0.9 and got[attack, "duti"] > got[attack, "oracle"] + 0.2
    assert got["targeted_flip", "duti"] > got["targeted_flip", "trusted_relabel"] + 0.1


@pytest.mark.parametrize("name, kwargs, match", [
    ("isolation_forest", {"contamination": 0.9},
     r"contamination=0.9 is out of range; expected a number in \(0, 0.5\]"),
    ("isolation_forest", {"contamination": "most"},
     r"contamination='most' is not a number in \(0, 0.5\] \(or 'auto'\)"),
    ("knn_sanitize", {"k": 0}, r"k=0 is out of range"),
    ("knn_sanitize", {"threshold": 0.5},
     r"threshold=0.5 is out of range; expected a number in \(0.5, 1\]"),
    ("knn_sanitize", {"mode": "delete"}, r"mode='delete' is not one of: relabel, drop"),
    ("knn_sanitize", {"max_iter": 0}, r"max_iter=0 is out of range"),
    ("knn_sanitize", {"rate_aware": "yes"}, r"rate_aware='yes' is not True or False"),
    ("lof", {"n_neighbors": 0}, r"n_neighbors=0 is out of range"),
    ("lof", {"contamination": 0.0}, r"contamination=0 is out of range"),
    ("label_aware_iforest", {"n_estimators": 5}, r"n_estimators=5 is out of range"),
    ("sphere", {"contamination": 0.6}, r"contamination=0.6 is out of range"),
    ("slab", {"contamination": "half"}, r"contamination='half' is not a number in \(0, 0.5\] "
     r"\(or 'auto'\)"),
    ("sphere", {"radius": 2}, r"sphere has no parameter 'radius'; its parameters: contamination"),
    ("roni", {"batch_size": 0}, r"batch_size=0 is out of range; expected an integer in \[1, 50\]"),
    ("roni", {"folds": 1}, r"folds=1 is out of range"),
    ("roni", {"tolerance": -1.0}, r"tolerance=-1 is out of range"),
    ("trim", {"max_iter": 0}, r"max_iter=0 is out of range"),
    ("trusted_relabel", {"batch_size": 0}, r"batch_size=0 is out of range"),
    ("trusted_relabel", {"partitions": 11}, r"partitions=11 is out of range; .* \[1, 10\]"),
    ("trusted_relabel", {"thorough": 1}, r"thorough=1 is not True or False"),
    ("trusted_reject", {"mode": "mend"}, r"mode='mend' is not one of"),
    ("duti", {"ridge": 0.0}, r"ridge=0 is out of range"),
    ("duti", {"sparsity": -1.0}, r"sparsity=-1 is out of range"),
    ("duti", {"trusted_weight": 1000.0}, r"trusted_weight=1000 is out of range"),
    ("duti", {"mode": "fix"}, r"mode='fix' is not one of: relabel, drop"),
    ("trim", {"contamination": 0.51}, r"contamination=0.51 is out of range"),
    ("spheres", {}, r"defense='spheres' is not one of: none, oracle"),
])
def test_defense_rejects_bad_parameters(name, kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_defense(name, **kwargs)


# --- the scorecard ----------------------------------------------------------------------

def test_detection_metrics_counts():
    truth = np.array([1, 1, 0, 0, 0], dtype=bool)
    clean = np.array([0, 1, 0, 1, 1], dtype=bool)  # flags rows 0 and 2
    m = detection_metrics(truth, clean)
    assert (m.n_flagged, m.n_poison_caught, m.n_clean_lost, m.n_poison) == (2, 1, 1, 2)
    assert m.precision == 0.5 and m.recall == 0.5 and m.f1 == 0.5
    assert m.roc_auc is None and m.average_precision is None  # no score given
    none = detection_metrics(np.zeros(4, bool), np.ones(4, bool))
    assert (none.precision, none.recall, none.f1) == (0.0, 0.0, 0.0)


def test_ranking_scores_oracle_none_and_undefined(poisoned):
    oracle = _sanitize("oracle", poisoned)
    m = detection_metrics(poisoned.is_poison, oracle.is_clean, score=oracle.score)
    assert m.roc_auc == 1.0 and m.average_precision == 1.0
    none = _sanitize("none", poisoned)
    m = detection_metrics(poisoned.is_poison, none.is_clean, score=none.score)
    assert m.roc_auc == 0.5 and m.average_precision == pytest.approx(poisoned.is_poison.mean())
    # reversed ranking
    m = detection_metrics(poisoned.is_poison, oracle.is_clean, score=-oracle.score)
    assert m.roc_auc == 0.0
    # no poison (or no clean point): undefined -> None, null in JSON
    for truth in (np.zeros(5, bool), np.ones(5, bool)):
        m = detection_metrics(truth, np.ones(5, bool), score=np.arange(5.0))
        assert m.roc_auc is None and m.average_precision is None
        assert json.loads(json.dumps(m.to_dict()))["roc_auc"] is None
    with pytest.raises(ValueError, match=r"but score has \(3,\)"):
        detection_metrics(np.zeros(5, bool), np.ones(5, bool), score=np.zeros(3))


def test_average_precision_of_a_perfect_ranking_is_exactly_one():
    # found by tests/test_properties.py: scikit-learn sums 20 steps of 0.05 to 1.0000000000000002
    truth = np.array([True] * 20 + [False] * 19)
    score = np.arange(39, 0, -1.0)
    assert detection_metrics(truth, ~truth, score=score).average_precision == 1.0
    assert detection_curves(truth, score)["average_precision"] == 1.0


def test_detection_curves_shapes_and_operating_point(poisoned):
    s = _sanitize("knn_sanitize", poisoned, max_iter=1)
    c = detection_curves(poisoned.is_poison, s.score, is_clean=s.is_clean)
    roc, pr, op = c["roc"], c["pr"], c["operating_point"]
    assert len(roc["fpr"]) == len(roc["tpr"]) == len(roc["thresholds"]) >= 2
    assert roc["thresholds"][0] is None and roc["fpr"][0] == roc["tpr"][0] == 0.0
    assert roc["fpr"][-1] == roc["tpr"][-1] == 1.0
    assert len(pr["precision"]) == len(pr["recall"]) == len(pr["thresholds"]) + 1
    m = detection_metrics(poisoned.is_poison, s.is_clean, score=s.score)
    assert c["roc_auc"] == m.roc_auc and c["average_precision"] == m.average_precision
    assert op["precision"] == pytest.approx(m.precision) and op["recall"] == pytest.approx(m.recall)
    assert op["tpr"] == op["recall"] and op["n_flagged"] == m.n_flagged
    assert op["fpr"] == pytest.approx(m.n_clean_lost / (~poisoned.is_poison).sum())
    # a single kNN vote flags a cut of its score: the point lies on the ROC curve
    assert op["threshold"] == pytest.approx(s.score[~s.is_clean].min())
    at = [i for i, t in enumerate(roc["thresholds"]) if t is not None and t <= op["threshold"]][0]
    assert (roc["fpr"][at], roc["tpr"][at]) == pytest.approx((op["fpr"], op["tpr"]))
    assert detection_curves(poisoned.is_poison, s.score)["operating_point"] is None


def test_detection_curves_when_undefined():
    c = detection_curves(np.zeros(4, bool), np.arange(4.0), is_clean=np.array([1, 1, 0, 1], bool))
    assert c["roc"] is None and c["pr"] is None and c["roc_auc"] is None
    op = c["operating_point"]
    assert op["fpr"] == 0.25 and op["tpr"] is None and op["precision"] == 0.0
    assert op["threshold"] is None  # row 2 is flagged but row 3 scores higher
    json.dumps(c, allow_nan=False)


def test_trusted_knn_sees_a_dense_fake_cluster_that_outvotes_knn_sanitize():
    """A targeted injection is denser than k: its own points outvote the kNN vote, the
    trusted sample's cannot be outvoted."""
    cfg = ExperimentConfig(dataset="loan", trusted_fraction=0.1, attack="targeted_injection",
                           poison_rate=0.15, grid_resolution=0)
    for seed in range(3):
        t = run_experiment(cfg.replace(defense="trusted_knn", seed=seed))
        k = run_experiment(cfg.replace(defense="knn_sanitize", seed=seed))
        assert t.detection.recall >= 0.8 and k.detection.recall <= 0.2, seed
        assert t.target_success["defended"] < t.target_success["poisoned"]
        assert not t.relabels and np.array_equal(t.kept, t.is_clean)
        # the score is the share of trusted neighbours that disagree, flags at the threshold
        assert np.array_equal(~t.is_clean, t.suspicion >= 0.6)


def test_trusted_knn_needs_trusted_data_and_can_relabel(poisoned, trusted):
    with pytest.raises(ValueError, match="trusted_knn needs a trusted sample"):
        _sanitize("trusted_knn", poisoned)
    with pytest.raises(ValueError, match=r"defense='trusted_knn' needs trusted data"):
        ExperimentConfig(defense="trusted_knn")
    r = _sanitize("trusted_knn", poisoned, trusted, mode="relabel")
    flagged = ~r.is_clean
    assert r.relabels and r.keep.all() and flagged.any()
    assert np.array_equal(r.y[flagged], 1 - poisoned.y[flagged])
    assert np.array_equal(r.y[~flagged], poisoned.y[~flagged])


def test_trusted_vote_relabels_a_point_its_trusted_neighbours_contradict():
    rs = np.random.RandomState(0)
    X = np.vstack([rs.normal(-2, 0.5, (30, 2)), rs.normal(2, 0.5, (30, 2))])
    y = np.repeat([0, 1], 30)
    y_bad = y.copy()
    y_bad[[0, 31]] = 1 - y_bad[[0, 31]]
    X_t = np.vstack([rs.normal(-2, 0.5, (5, 2)), rs.normal(2, 0.5, (5, 2))])
    got = trusted_vote(X, y_bad, X_t, np.repeat([0, 1], 5))
    assert np.array_equal(got, y)


def test_thorough_trusted_relabel_drops_only_flagged_rows_and_wins_back_accuracy():
    # seeds outside the tuning (100+) and the reported (0-4) ones
    gained = {False: [], True: []}  # defended minus poisoned accuracy
    for seed in (10, 11, 12):
        cfg = ExperimentConfig(dataset="moons", attack="targeted_injection", seed=seed,
                               defense="trusted_relabel", trusted_fraction=0.1)
        prep = prepare(cfg)
        _, attack_seed, defense_seed = derive_seeds(seed)
        p = make_attack("targeted_injection", 0.2).poison(prep.data.X_train, prep.data.y_train,
                                                          model=MODEL, random_state=attack_seed)
        for thorough in (False, True):
            s = make_defense("trusted_relabel", thorough=thorough).sanitize(
                p.X, p.y, model=prep.model, random_state=defense_seed, trusted=prep.trusted)
            assert s.relabels and (~s.is_clean[~s.keep]).all()
            assert np.array_equal(s.y[s.is_clean], p.y[s.is_clean])
            assert 0.8 < s.keep.mean() < 1.0  # a few rows the cells and the vote dispute
            fitted = make_model("svm").fit(p.X[s.keep], s.y[s.keep])
            poisoned = make_model("svm").fit(p.X, p.y).score(prep.X_test, prep.y_test)
            gained[thorough].append(fitted.score(prep.X_test, prep.y_test) - poisoned)
    assert np.mean(gained[True]) > 0 and np.mean(gained[False]) > 0
