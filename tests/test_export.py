"""Exports: spreadsheet-safe CSV, re-runnable JSON, the self-contained HTML report."""

import io
import json

import numpy as np
import pandas as pd
import pytest

from core import run_experiment, scenario_config
from core.export import (
    config_from_document,
    escape_formula,
    experiment_document,
    poisoned_training_frame,
    to_safe_csv,
)

SMALL = scenario_config("label-flip-moons", n_samples=200, grid_resolution=15)


@pytest.mark.parametrize("cell", ["=1+1", "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\t=1"])
def test_formula_like_text_is_escaped(cell):
    assert escape_formula(cell) == "'" + cell


def test_numbers_and_plain_text_are_untouched():
    frame = pd.DataFrame({"x": [-1.5, 2.0], "name": ["alice", "=HYPERLINK(\"x\")"],
                          "=evil": [1, 2]})
    back = pd.read_csv(io.StringIO(to_safe_csv(frame)))
    assert list(back.columns) == ["x", "name", "'=evil"]
    assert back.x.tolist() == [-1.5, 2.0]  # negative numbers stay numbers
    assert back.name.tolist() == ["alice", "'=HYPERLINK(\"x\")"]


def test_poisoned_training_frame_has_truth_and_verdict():
    r = run_experiment(SMALL)
    frame = poisoned_training_frame(r)
    assert len(frame) == len(r.y_train)
    assert frame.is_poison.sum() == r.n_poison
    assert frame.flagged_by_defense.sum() == r.detection.n_flagged
    assert set(frame.label) <= set(r.class_names)
    assert np.allclose(frame[list(r.feature_names)].to_numpy(), r.X_train)


def test_experiment_json_round_trips_exactly():
    r = run_experiment(SMALL)
    text = json.dumps(experiment_document(r, version="test"))
    again = run_experiment(config_from_document(text))
    assert again.summary() == r.summary()


@pytest.mark.parametrize("text, match", [
    ("not json", "not a JSON file"),
    ("[1, 2]", "expected a JSON object"),
    ('{"config": 3}', "'config' must be a JSON object"),
    ('{"config": {"attack": "nope"}}', "attack='nope' is not one of"),
])
def test_bad_experiment_files_are_refused_clearly(text, match):
    with pytest.raises(ValueError, match=match):
        config_from_document(text)


def test_dashboard_exports():
    from dashboard.callbacks.export import export_file
    store = {"config": SMALL.to_dict()}
    training = export_file("training", store)
    assert training["filename"].endswith("training-set.csv")
    assert "flagged_by_defense" in training["content"].splitlines()[0]
    doc = json.loads(export_file("json", store)["content"])
    assert config_from_document(json.dumps(doc)) == SMALL
    report = export_file("report", store)["content"]
    assert report.startswith("<!DOCTYPE html>") and "PoisonLab report" in report
    assert "<script src=" not in report and "<link " not in report  # all inline: opens offline
    assert report.count("Plotly.newPlot") == 3
    assert export_file("sweep", store, None) is None and export_file("json", None) is None


@pytest.mark.browser  # kaleido drives the machine's Chromium
def test_png_export_zips_one_image_per_panel():
    import zipfile

    from dashboard.callbacks.export import export_file
    payload = export_file("png", {"config": SMALL.to_dict()})
    import base64
    data = base64.b64decode(payload["content"]) if payload.get("base64") else payload["content"]
    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    assert names == ["clean-model.png", "poisoned-model.png", "defended-model.png"]
    assert zipfile.ZipFile(io.BytesIO(data)).read(names[0])[:8] == b"\x89PNG\r\n\x1a\n"


def test_png_export_without_a_browser_says_so(monkeypatch):
    import plotly.io as pio

    from dashboard.callbacks.export import on_export

    def no_browser(*args, **kwargs):
        raise RuntimeError("no chrome found")

    monkeypatch.setattr(pio, "write_images", no_browser)
    download, message = on_export("export-png", {"config": SMALL.to_dict()}, None)
    from dash import no_update
    assert download is no_update and "needs a Chromium browser" in message
    assert on_export("export-sweep", {"config": SMALL.to_dict()}, None)[1].startswith(
        "Nothing to export yet: run a sweep first")


def test_matrix_table_export():
    from dashboard.callbacks.export import on_export
    matrix = {"table": {"attack": ["alfa"], "defense": ["sphere"], "recovered_mean": [0.5]}}
    download, message = on_export("export-matrix", {"config": SMALL.to_dict()}, None, matrix)
    assert message == "" and download["filename"].endswith("matrix.csv")
    assert download["content"].splitlines()[0] == "attack,defense,recovered_mean"
    assert "run the matrix first" in on_export("export-matrix", {"config": SMALL.to_dict()},
                                               None, None)[1]


def test_oversized_requests_are_refused_at_the_http_layer():
    from dashboard.app import app
    limit = app.server.config["MAX_CONTENT_LENGTH"]
    resp = app.server.test_client().post("/_dash-update-component", data=b"x" * (limit + 1),
                                         content_type="application/json")
    assert resp.status_code == 413
