import pandas as pd
import pytest

from core import ExperimentConfig, run_experiment, run_sweep
from core.sweeps import SWEEP_COLUMNS, summarize_sweep

CFG = ExperimentConfig(dataset="moons", n_samples=150, attack="label_flip", defense="knn_sanitize")


def test_sweep_is_tidy_and_matches_single_runs():
    calls = []
    t = run_sweep(CFG, [0.0, 0.2], seeds=2, progress=lambda d, n: calls.append((d, n)))
    assert list(t.columns) == list(SWEEP_COLUMNS)
    assert t[["poison_rate", "seed"]].values.tolist() == [[0, 0], [0, 1], [0.2, 0], [0.2, 1]]
    assert calls == [(1, 4), (2, 4), (3, 4), (4, 4)]
    one = run_experiment(CFG.replace(poison_rate=0.2, seed=1))
    row = t.iloc[3]
    assert row.poisoned_accuracy == one.poisoned_accuracy
    assert row.defended_accuracy == one.defended_accuracy
    assert row.n_poison == one.n_poison


def test_parallel_sweep_equals_sequential():
    a = run_sweep(CFG, [0.1, 0.3], seeds=[4, 9], n_jobs=1)
    b = run_sweep(CFG, [0.1, 0.3], seeds=[4, 9], n_jobs=2)
    pd.testing.assert_frame_equal(a, b)


def test_summary_has_mean_and_std():
    s = summarize_sweep(run_sweep(CFG, [0.0, 0.1], seeds=3))
    assert list(s.poison_rate) == [0.0, 0.1]
    assert {"poisoned_accuracy_mean", "poisoned_accuracy_std"} <= set(s.columns)


@pytest.mark.parametrize("rates, seeds, match", [
    ([0.1, 1.0], 2, r"rate=1 is out of range"),
    ([], 2, r"rates has 0 values"),
    ([0.1], 0, r"seeds=0 is out of range"),
])
def test_sweep_rejects_bad_input(rates, seeds, match):
    with pytest.raises(ValueError, match=match):
        run_sweep(CFG, rates, seeds)
