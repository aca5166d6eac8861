import io
import json
import subprocess
import sys

import pandas as pd
import pytest

from core.cli import main

ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]


def run_cli(*args):
    """In-process: returns (status, stdout)."""
    out = io.StringIO()
    return main(list(args), out=out), out.getvalue()


def test_list_json_names_everything():
    status, text = run_cli("list", "--json")
    cat = json.loads(text)
    assert status == 0
    assert {"blobs", "moons", "circles", "linear", "loan"} <= set(cat["datasets"])
    assert {"label_flip", "targeted_flip", "injection"} <= set(cat["attacks"])
    assert {"none", "oracle", "isolation_forest", "knn_sanitize"} <= set(cat["defenses"])
    assert cat["kernels"] == ["linear", "rbf", "poly", "sigmoid"] and "seed-demo" in cat["scenarios"]


def test_run_json_shape_and_explicit_flags_override_the_scenario():
    status, text = run_cli("run", "--scenario", "seed-demo", "--kernel", "rbf", "--seed", "4",
                           "--grid-resolution", "0", "--json")
    r = json.loads(text)
    assert status == 0
    assert r["config"]["kernel"] == "rbf" and r["config"]["seed"] == 4
    assert r["config"]["attack"] == "injection"  # from the scenario
    for key in ("clean_accuracy", "poisoned_accuracy", "defended_accuracy", "n_train", "n_poison"):
        assert isinstance(r[key], (int, float))
    assert set(r["detection"]) >= {"precision", "recall", "f1", "n_flagged"}


def test_seed_demo_cli_prints_the_story_numbers():
    status, text = run_cli("run", "--scenario", "seed-demo", "--json")
    r = json.loads(text)
    assert r["n_poison"] == 80
    assert r["clean_accuracy"] >= 0.95 and r["poisoned_accuracy"] <= 0.60
    assert r["defended_accuracy"] >= 0.90


def test_run_table_is_readable():
    status, text = run_cli("run", "--dataset", "moons", "--n-samples", "200")
    assert status == 0
    for word in ("clean model", "poisoned model", "defended model", "precision", "recall"):
        assert word in text


def test_json_output_is_byte_identical_across_processes():
    cmd = [sys.executable, "-m", "core", "run", "--scenario", "label-flip-moons", "--json"]
    outs = [subprocess.run(cmd, capture_output=True, check=True, cwd=ROOT).stdout for _ in range(2)]
    assert outs[0] == outs[1] and outs[0].startswith(b"{")


@pytest.mark.parametrize("args, needle", [
    (["run", "--poison-rate", "1.5"], "poison_rate=1.5 is out of range; expected a number in [0, 1)"),
    (["run", "--poison-rate", "-0.1"], "poison_rate=-0.1 is out of range"),
    (["run", "--poison-rate", "abc"], "'abc' is not a number"),
    (["run", "--contamination", "0.9"], "contamination=0.9 is out of range; expected a number in (0, 0.5]"),
    (["run", "--attack", "nope"], "attack='nope' is not one of: label_flip, targeted_flip, injection"),
    (["run", "--dataset", "iris"], "dataset='iris' is not one of"),
    (["run", "--scenario", "nope"], "scenario='nope' is not one of: seed-demo"),
    (["run", "--n-samples", "1e9"], "'1e9' is not an integer"),
    (["run", "--gamma", "big"], "'big' is not a number or one of scale, auto"),
    (["sweep", "--rates", "0,x"], "'x' is not a number"),
    (["sweep", "--rates", "0,1.2"], "rate=1.2 is out of range"),
    (["sweep", "--seeds", "0"], "seeds=0"),
    (["fly"], "invalid choice: 'fly'"),
])
def test_bad_arguments_exit_2_with_one_line(args, needle, capsys):
    status, out = run_cli(*args)
    err = capsys.readouterr().err
    assert status == 2 and out == ""
    assert needle in err
    assert len(err.strip().splitlines()) == 1


def test_bad_arguments_from_a_real_process_give_no_traceback():
    proc = subprocess.run([sys.executable, "-m", "core", "run", "--poison-rate", "1.5"],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.strip() == ("error: poison_rate=1.5 is out of range; "
                                   "expected a number in [0, 1)")


def test_sweep_csv_and_json(tmp_path):
    path = tmp_path / "sweep.csv"
    status, text = run_cli("sweep", "--dataset", "moons", "--n-samples", "120", "--rates",
                           "0,0.2", "--seeds", "2", "--csv", str(path), "--json")
    assert status == 0
    table = pd.read_csv(path)
    assert {"poison_rate", "seed", "clean_accuracy", "poisoned_accuracy",
            "defended_accuracy"} <= set(table.columns)
    assert len(table) == 4
    records = json.loads(text)
    assert [r["poisoned_accuracy"] for r in records] == pytest.approx(list(table.poisoned_accuracy))
