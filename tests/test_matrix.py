"""The attack x defense matrix: tidy shape, same numbers as single runs, honest aggregates."""

import json

import numpy as np
import pandas as pd
import pytest

from core import ExperimentConfig, run_experiment, run_matrix
from core.matrix import MATRIX_COLUMNS, RUN_COLUMNS, matrix_config, matrix_runs, summarize_matrix

CFG = ExperimentConfig(dataset="moons", n_samples=150)
ATTACKS = ["label_flip", "targeted_flip"]
DEFENSES = ["none", "oracle", "knn_sanitize", "roni"]


@pytest.fixture(scope="module")
def runs():
    return matrix_runs(CFG, ATTACKS, DEFENSES, 0.2, 2)


def test_matrix_is_tidy(runs):
    calls = []
    table = run_matrix(CFG, ATTACKS, DEFENSES, 0.2, 2, progress=lambda d, n: calls.append((d, n)))
    assert list(table.columns) == list(MATRIX_COLUMNS)
    assert table[["attack", "defense"]].values.tolist() == [[a, d] for a in ATTACKS
                                                            for d in DEFENSES]
    assert (table.n_seeds == 2).all() and (table.dataset == "moons").all()
    assert (table.poison_rate == 0.2).all() and (table.n_poison == 18).all()
    assert calls == [(1, 4), (2, 4), (3, 4), (4, 4)]
    pd.testing.assert_frame_equal(table, summarize_matrix(runs, dataset="moons", poison_rate=0.2))
    records = json.loads(table.to_json(orient="records"))
    assert len(records) == 8 and set(records[0]) == set(MATRIX_COLUMNS)


def test_every_cell_equals_the_single_run(runs):
    assert list(runs.columns) == list(RUN_COLUMNS) and len(runs) == 2 * 4 * 2
    # roni needs trusted data: every cell, every defense, uses the same trusted split
    cfg = CFG.replace(trusted_fraction=0.1, grid_resolution=0, poison_rate=0.2)
    assert matrix_config(CFG, DEFENSES) == CFG.replace(trusted_fraction=0.1, grid_resolution=0)
    for _, row in runs[runs.seed == 1].iterrows():
        r = run_experiment(cfg.replace(attack=row.attack, defense=row.defense, seed=1))
        assert (row.clean_accuracy, row.poisoned_accuracy, row.defended_accuracy) == (
            r.clean_accuracy, r.poisoned_accuracy, r.defended_accuracy)
        assert (row.f1, row.n_flagged, row.n_test) == (r.detection.f1, r.detection.n_flagged,
                                                       len(r.y_test))
    # one test set for all cells of a seed
    assert runs.groupby("seed").n_test.nunique().eq(1).all()
    assert runs.groupby(["attack", "seed"]).clean_accuracy.nunique().eq(1).all()


def test_without_roni_the_config_trusted_fraction_is_kept():
    assert matrix_config(CFG, ["none", "sphere"]).trusted_fraction == 0.0
    assert matrix_config(CFG.replace(trusted_fraction=0.05), ["roni"]).trusted_fraction == 0.05
    small = CFG.replace(test_fraction=0.1)
    assert matrix_config(small, ["roni"]).trusted_fraction == 0.05  # half the test share


def test_aggregates_follow_their_definitions(runs):
    table = summarize_matrix(runs)
    for (attack, defense), g in runs.groupby(["attack", "defense"]):
        row = table[(table.attack == attack) & (table.defense == defense)].iloc[0]
        drop = (g.clean_accuracy - g.poisoned_accuracy).mean()
        assert row.drop_mean == pytest.approx(drop)
        assert row.defended_accuracy_mean == pytest.approx(g.defended_accuracy.mean())
        assert row.defended_accuracy_std == pytest.approx(g.defended_accuracy.std())
        assert row.f1_mean == pytest.approx(g.f1.mean())
        if drop >= 1 / g.n_test.min():
            gain = g.defended_accuracy - g.poisoned_accuracy
            assert row.recovered_mean == pytest.approx(gain.mean() / drop)
            assert row.recovered_std == pytest.approx(gain.std() / drop)
        else:
            assert np.isnan(row.recovered_mean)
    none = table[table.defense == "none"]
    assert (none.recovered_mean.dropna() == 0).all() and (none.f1_mean == 0).all()
    assert (table[table.defense == "oracle"].roc_auc_mean == 1.0).all()


def test_an_attack_that_takes_nothing_has_nothing_to_recover():
    table = run_matrix(CFG, ["label_flip"], ["none", "oracle"], rate=0.0, seeds=1)
    assert table.drop_mean.eq(0).all() and table.recovered_mean.isna().all()
    assert table.roc_auc_mean.isna().all()  # no poison: undefined, not 0.5
    assert table.defended_accuracy_std.eq(0).all()  # one seed: std 0
    assert json.loads(table.to_json(orient="records"))[0]["recovered_mean"] is None


def test_parallel_equals_sequential_and_is_deterministic():
    args = (CFG, ["targeted_flip", "injection"], ["sphere", "trim"], 0.15, [3, 8])
    a = run_matrix(*args, n_jobs=1)
    b = run_matrix(*args, n_jobs=2)
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(a, run_matrix(*args))


def test_defaults_cover_every_registered_attack_and_defense(monkeypatch):
    import core.matrix as matrix

    seen = []
    monkeypatch.setattr(matrix, "_attack_rows", lambda c, d: seen.append((c, d)) or [])
    matrix.matrix_runs(CFG, seeds=1)
    from core.attacks import ATTACKS
    from core.defenses import DEFENSES as ALL

    assert [c.attack for c, _ in seen] == list(ATTACKS)
    assert all(d == list(ALL) for _, d in seen)
    assert all(c.trusted_fraction == 0.1 and c.poison_rate == CFG.poison_rate for c, _ in seen)


@pytest.mark.parametrize("kwargs, match", [
    ({"attacks": ["nope"]}, r"attack='nope' is not one of: label_flip"),
    ({"defenses": ["none", "spheres"]}, r"defense='spheres' is not one of: none"),
    ({"attacks": []}, r"attacks is empty"),
    ({"rate": 1.0}, r"rate=1 is out of range; expected a number in \[0, 1\)"),
    ({"seeds": 0}, r"seeds=0 is out of range"),
    ({"n_jobs": 0}, r"n_jobs=0; expected a positive integer or -1"),
])
def test_matrix_rejects_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        run_matrix(CFG, **kwargs)


def test_targeted_attacks_report_their_success_untargeted_ones_nan():
    cfg = ExperimentConfig(dataset="loan", n_samples=300, trusted_fraction=0.1)
    runs = matrix_runs(cfg, ["targeted_injection", "label_flip"], ["none", "trusted_knn"], 0.15, 1)
    targeted = runs[runs.attack == "targeted_injection"]
    assert targeted.target_success_poisoned.between(0, 1).all()
    assert runs[runs.attack == "label_flip"].target_success_defended.isna().all()
    r = run_experiment(cfg.replace(attack="targeted_injection", defense="trusted_knn",
                                   poison_rate=0.15, grid_resolution=0))
    row = targeted[targeted.defense == "trusted_knn"].iloc[0]
    assert (row.target_success_poisoned, row.target_success_defended) == (
        r.target_success["poisoned"], r.target_success["defended"])
    assert r.summary()["target_success"] == r.target_success and r.summary()["n_targets"] == 5
    table = summarize_matrix(runs)
    assert table.target_success_defended_mean.notna().tolist() == [True, True, False, False]
