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
    assert cat["kernels"] == ["linear", "rbf", "poly", "sigmoid"]
    assert "seed-demo" in cat["scenarios"]


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
    (["run", "--poison-rate", "1.5"],
     "poison_rate=1.5 is out of range; expected a number in [0, 1)"),
    (["run", "--poison-rate", "-0.1"], "poison_rate=-0.1 is out of range"),
    (["run", "--poison-rate", "abc"], "'abc' is not a number"),
    (["run", "--defense", "lof", "--contamination", "0.9"],
     "contamination=0.9 is out of range; expected a number in (0, 0.5]"),
    (["run", "--defense-param", "k=0"], "k=0 is out of range; expected an integer in [1, 100]"),
    (["run", "--defense-param", "colour=red"],
     "knn_sanitize has no parameter 'colour'; its parameters: k, threshold, mode"),
    (["run", "--contamination", "0.2"],
     "knn_sanitize has no parameter 'contamination'; its parameters: k, threshold"),
    (["run", "--attack-param", "flip_class"], "--attack-param 'flip_class' is not NAME=VALUE"),
    (["run", "--attack", "targeted_flip", "--attack-param", "flip_class=2"],
     "flip_class=2 is not one of: 0, 1"),
    (["run", "--attack", "nope"],
     "attack='nope' is not one of: label_flip, targeted_flip, injection"),
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


# --- python -m core matrix ----------------------------------------------------------------

MATRIX = ["matrix", "--dataset", "moons", "--n-samples", "120", "--rate", "0.2", "--seeds", "2",
          "--attacks", "label_flip,targeted_flip", "--defenses", "none,oracle,sphere"]


def test_matrix_json_and_csv_are_the_same_tidy_table(tmp_path):
    from core.matrix import MATRIX_COLUMNS

    path = tmp_path / "matrix.csv"
    status, text = run_cli(*MATRIX, "--csv", str(path), "--json")
    assert status == 0
    records = json.loads(text)
    table = pd.read_csv(path)
    assert list(table.columns) == list(MATRIX_COLUMNS) and len(table) == len(records) == 6
    assert [(r["attack"], r["defense"]) for r in records] == list(
        zip(table.attack, table.defense, strict=True))
    assert [r["defended_accuracy_mean"] for r in records] == pytest.approx(
        list(table.defended_accuracy_mean))
    assert all(r["n_seeds"] == 2 and r["poison_rate"] == 0.2 for r in records)


def test_matrix_csv_to_stdout_and_default_rate_from_the_config():
    status, text = run_cli(*MATRIX[:5], "--poison-rate", "0.1", "--seeds", "1",
                           "--attacks", "label_flip", "--defenses", "none", "--csv", "-")
    table = pd.read_csv(io.StringIO(text))
    assert status == 0 and len(table) == 1 and table.poison_rate[0] == 0.1


def test_matrix_table_is_readable():
    status, text = run_cli(*MATRIX)
    assert status == 0
    lines = text.splitlines()
    assert "attack x defense matrix: dataset moons, poison rate 0.2, 2 seeds" in lines[0]
    header = next(line for line in lines if "oracle" in line).split()
    assert header == ["clean", "poisoned", "none", "oracle", "sphere"]
    assert any(line.startswith("targeted_flip") for line in lines)


@pytest.mark.parametrize("args, needle", [
    (["matrix", "--attacks", "nope"], "attack='nope' is not one of: label_flip"),
    (["matrix", "--defenses", "none,spheres"], "defense='spheres' is not one of: none"),
    (["matrix", "--defenses", ","], "expected comma-separated names"),
    (["matrix", "--rate", "1.2"], "rate=1.2 is out of range"),
    (["matrix", "--rate", "x"], "'x' is not a number"),
    (["matrix", "--seeds", "0"], "seeds=0"),
    (["matrix", "--jobs", "0"], "n_jobs=0"),
    (["run", "--defense", "roni"], "defense='roni' needs trusted data; set trusted_fraction > 0"),
])
def test_matrix_bad_arguments_exit_2_with_one_line(args, needle, capsys):
    status, out = run_cli(*args)
    err = capsys.readouterr().err
    assert status == 2 and out == ""
    assert needle in err and len(err.strip().splitlines()) == 1


def test_run_on_your_own_csv_and_rerun_an_exported_config(tmp_path):
    csv = str(ROOT / "tests" / "fixtures" / "csv" / "good_binary.csv")
    status, text = run_cli("run", "--data", csv, "--label", "approved", "--json")
    first = json.loads(text)
    assert status == 0 and first["config"]["dataset"] == "csv"
    doc = tmp_path / "exp.json"
    doc.write_text(text)
    status, again = run_cli("run", "--config", str(doc), "--json")
    assert status == 0 and json.loads(again) == first
    status, changed = run_cli("run", "--config", str(doc), "--seed", "3", "--json")
    assert json.loads(changed)["config"]["seed"] == 3


@pytest.mark.parametrize("args, needle", [
    (["run", "--data", "nope.csv", "--label", "y"], "nope.csv"),
    (["run", "--config", "missing.json"], "missing.json"),
    (["run", "--data", str(ROOT / "tests" / "fixtures" / "csv" / "empty.csv"), "--label", "y"],
     "empty"),
])
def test_bad_data_files_exit_2_with_one_line(args, needle, capsys):
    status, _ = run_cli(*args)
    err = capsys.readouterr().err
    assert status == 2 and needle in err and len(err.strip().splitlines()) == 1


BAD_CONFIGS = [  # (file name, bytes, what the one line says)
    ("nested.json", b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    ("nested-objects.json", b'{"a":' * 100_000 + b"1" + b"}" * 100_000, "nested too deeply"),
    ("huge.json", b'{"config": {"seed": 1}, "pad": "' + b"x" * 2**21 + b'"}',
     "is over 1,024 KB, too large for an experiment config"),
    ("latin1.json", '{"config": {"dataset": "café"}}'.encode("latin-1"),
     "is not UTF-8 text (byte 0xe9 at position 27)"),
    ("utf16.json", '{"seed": 1}'.encode("utf-16"), "is not UTF-8 text (byte 0xff"),
    ("array.json", b"[1, 2]", "expected a JSON object with a 'config' entry"),
    ("truncated.json", b'{"config": {"seed": ', "not a JSON file: Expecting value at line 1"),
    ("bad-value.json", b'{"config": {"poison_rate": 2}}', "poison_rate=2"),
]


@pytest.mark.parametrize("name, data, needle", BAD_CONFIGS, ids=[c[0] for c in BAD_CONFIGS])
def test_a_bad_config_file_exits_2_with_one_line_naming_it(tmp_path, capsys, name, data,
                                                           needle):
    path = tmp_path / name
    path.write_bytes(data)
    status, out = run_cli("run", "--config", str(path), "--grid-resolution", "0")
    err = capsys.readouterr().err
    assert status == 2 and out == "", err[-500:]
    assert err.startswith(f"error: --config {path}") and needle in err, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_a_config_folder_exits_2_with_one_line(tmp_path, capsys):
    status, _ = run_cli("run", "--config", str(tmp_path))
    err = capsys.readouterr().err
    assert status == 2 and f"cannot read --config {tmp_path}: Is a directory" in err
    assert len(err.strip().splitlines()) == 1


def test_deeply_nested_config_from_the_shell_exits_2_without_a_traceback(tmp_path):
    path = tmp_path / "c.json"
    path.write_bytes(b"[" * 100_000 + b"]" * 100_000)  # was: RecursionError traceback, exit 1
    proc = subprocess.run([sys.executable, "-m", "core", "run", "--config", str(path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.strip().splitlines() == [
        f"error: --config {path}: the JSON is nested too deeply to be an experiment; give an "
        "exported experiment or a config object"]


def test_targeted_attack_success_in_run_and_matrix():
    status, text = run_cli("run", "--dataset", "loan", "--attack", "targeted_injection",
                           "--defense", "trusted_knn", "--trusted-fraction", "0.1",
                           "--poison-rate", "0.15", "--grid-resolution", "0")
    assert status == 0
    line = next(x for x in text.splitlines() if x.startswith("targets:"))
    assert "5 points the attacker wants labelled 'approve'" in line and "clean 0.00" in line
    status, text = run_cli("run", "--dataset", "loan", "--attack", "targeted_injection",
                           "--poison-rate", "0.15", "--grid-resolution", "0", "--json")
    r = json.loads(text)
    assert set(r["target_success"]) == {"clean", "poisoned", "defended"} and r["n_targets"] == 5
    status, text = run_cli("matrix", "--dataset", "loan", "--attacks",
                           "targeted_injection,label_flip", "--defenses", "none,trusted_knn",
                           "--seeds", "1", "--rate", "0.15", "--json")
    rows = json.loads(text)
    by = {(r["attack"], r["defense"]): r for r in rows}
    assert by[("label_flip", "none")]["target_success_defended_mean"] is None
    assert 0 <= by[("targeted_injection", "trusted_knn")]["target_success_defended_mean"] <= 1


def test_story_numbers_text_and_json():
    status, text = run_cli("story", "--seed", "0")
    assert status == 0
    lines = text.splitlines()
    assert [x.split()[0] for x in lines if x[:1].isdigit()] == ["1", "2", "3", "4"]
    status, raw = run_cli("story", "--seed", "0", "--json")
    doc = json.loads(raw)
    n = doc["numbers"]
    assert doc["seed"] == 0 and doc["ranking"][0]["gate"] == doc["gate"]
    g = n["gate"]
    assert f"update gate {g['gate']} (best of 3 gates)" in text
    assert f"rejected {g['rejected']}/12 updates, {g['rejected_clean']}/12 clean ones" in text
    assert f"${n['poisoned']['expected_loss']:,.0f}" in text
    assert len(doc["months"]["campaign"]) == 13
    status, text = run_cli("story", "--seed", "1", "--gate", "shift", "--months", "6")
    assert status == 0 and "update gate shift held" in text and "best of" not in text


@pytest.mark.parametrize("args, needle", [
    (["story", "--attack-rate", "0.9"], "attack_rate=0.9 is out of range"),
    (["story", "--gate", "moat"], "gate='moat'"),
    (["story", "--months", "99"], "months=99"),
    (["story", "--seed", "x"], "--seed"),
    (["story", "--loss-given-default", "nan"], "--loss-given-default"),
])
def test_story_bad_arguments_exit_2(args, needle, capsys):
    status, _ = run_cli(*args)
    err = capsys.readouterr().err
    assert status == 2 and needle in err and len(err.strip().splitlines()) == 1
