"""What was exported or linked before parameters were declared on the classes still loads and
gives the same numbers, bit for bit.

The files in ``tests/fixtures/legacy`` were written by the CLI and the dashboard's state
functions at b8c142c, before the change (the commands are in their names and below); they
are never regenerated.
"""

import io
import json
from pathlib import Path

import pytest

from core.cli import main
from core.experiment import ExperimentConfig, run_experiment
from core.export import config_from_document
from dashboard.state import state_from_query

LEGACY = Path(__file__).parent / "fixtures" / "legacy"


@pytest.fixture(autouse=True)
def sklearn_forest(monkeypatch):
    """The forest the pins were written with: scikit-learn's, as before issue 20 made
    ``isotree``'s the default (same algorithm, another random stream: the forests' flags
    differ, see docs/benchmarks.md). Everything else is the code under test."""
    from sklearn.ensemble import IsolationForest

    from core.defenses import clear_memos, outliers

    def sklearn_normality(X, *, n_estimators=100, random_state=None):
        return IsolationForest(n_estimators=n_estimators,
                               random_state=random_state).fit(X).score_samples(X)

    clear_memos()
    monkeypatch.setattr(outliers, "forest_normality", sklearn_normality)
    yield
    clear_memos()

#: fixture -> the CLI arguments that wrote it (with --json)
RUNS = {
    "run-seed-demo": ["run", "--scenario", "seed-demo"],
    "run-label-flip-moons": ["run", "--scenario", "label-flip-moons"],
    "run-loan-fraud": ["run", "--scenario", "loan-fraud"],
    "run-loan-insider": ["run", "--scenario", "loan-insider"],
    "run-digits-gradient": ["run", "--scenario", "digits-gradient"],
    "run-moons-ti-trusted_relabel": ["run", "--dataset", "moons", "--attack",
                                     "targeted_injection", "--defense", "trusted_relabel",
                                     "--trusted-fraction", "0.1"],
    "run-circles-tf-trusted_knn": ["run", "--dataset", "circles", "--attack", "targeted_flip",
                                   "--defense", "trusted_knn", "--trusted-fraction", "0.1",
                                   "--knn-k", "7", "--knn-threshold", "0.7"],
    "run-blobs-alfa-lof": ["run", "--dataset", "blobs", "--attack", "alfa", "--defense", "lof",
                           "--contamination", "0.15", "--seed", "3"],
}
SWEEP = ["sweep", "--scenario", "label-flip-moons", "--rates", "0,0.1,0.3", "--seeds", "2"]
MATRIX = ["matrix", "--scenario", "seed-demo", "--seeds", "1", "--attacks",
          "label_flip,injection,targeted_injection"]


def cli_json(args):
    out = io.StringIO()
    assert main([*args, "--json"], out=out) == 0
    return json.loads(out.getvalue())


def numbers(summary: dict) -> dict:
    """A run's results without its config (whose shape changed: parameters are nested now)."""
    return {k: v for k, v in summary.items() if k != "config"}


def legacy_config(old: dict) -> ExperimentConfig:
    """The config an old ``config`` object stands for (old field names included)."""
    return ExperimentConfig.from_dict(old)


@pytest.mark.parametrize("name", list(RUNS))
def test_the_cli_gives_the_same_numbers_as_before(name):
    before = json.loads((LEGACY / f"{name}.json").read_text())
    now = cli_json(RUNS[name])
    assert numbers(now) == numbers(before)
    # and the old config object, read back, is the config the CLI built now
    assert legacy_config(before["config"]).to_dict() == now["config"]


def test_old_field_names_map_onto_the_declared_parameters():
    before = json.loads((LEGACY / "run-circles-tf-trusted_knn.json").read_text())["config"]
    assert {"contamination", "knn_k", "knn_threshold"} <= set(before)
    config = legacy_config(before)
    assert config.defense_params == {"k": 7, "threshold": 0.7, "mode": "drop"}
    lof = legacy_config(json.loads((LEGACY / "run-blobs-alfa-lof.json").read_text())["config"])
    assert lof.defense_params == {"contamination": 0.15, "n_neighbors": 20}


def test_the_sweep_gives_the_same_table_as_before():
    before = json.loads((LEGACY / "sweep-label-flip-moons.json").read_text())
    assert cli_json(SWEEP) == before


def test_the_matrix_gives_the_same_table_as_before():
    """The seed-demo config's contamination (0.25, set on isolation_forest) reaches every
    defense that declares a contamination, as the old shared config field did."""
    before = json.loads((LEGACY / "matrix-seed-demo.json").read_text())
    # defenses registered since (the matrix runs every one) add rows; the old rows are unchanged
    old = list(dict.fromkeys(row["defense"] for row in before))
    assert cli_json([*MATRIX, "--defenses", ",".join(old)]) == before


def test_an_old_exported_experiment_reruns_to_the_same_numbers():
    text = (LEGACY / "export-loan-fraud.json").read_text()
    doc = json.loads(text)
    assert "contamination" in doc["config"]  # written before the parameters moved
    config = config_from_document(text)
    assert config.defense_params["contamination"] == doc["config"]["contamination"]
    assert numbers(run_experiment(config).summary()) == numbers(
        {k: v for k, v in doc.items() if k not in ("poisonlab_version", "exported_at")})


def test_old_links_open_the_same_view_with_the_same_numbers():
    """Links written by the dashboard before the change (``contamination``, ``knn-k``,
    ``knn-threshold`` on every link): each applies where the link's defense declares it."""
    for case in json.loads((LEGACY / "urls.json").read_text()):
        scenario, config, problems = state_from_query(case["url"])
        assert problems == [], case["url"]
        assert numbers(run_experiment(config).summary()) == case["summary"], case["url"]
