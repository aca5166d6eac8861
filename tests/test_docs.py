"""The docs say what is true today: quoted outputs are current, links resolve, the README
stays a short door, and the worked example in docs/extending.md works as written."""

import io
import json
import re
import sys
import types
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import docs_outputs  # noqa: E402

DOCS = docs_outputs.DOCS


@pytest.mark.parametrize("path", DOCS, ids=[p.name for p in DOCS])
def test_every_quoted_output_is_what_the_command_prints_now(path):
    assert docs_outputs.check(path, bench=False, write=False, timeout=300) == []


def test_the_check_sees_a_stale_output(tmp_path, monkeypatch):
    doc = tmp_path / "x.md"
    doc.write_text("<!-- output: python -m core story --seed 0 -->\n```text\nold\n```\n")
    problems = docs_outputs.check(doc, bench=False, write=False, timeout=300)
    assert len(problems) == 1 and "is stale" in problems[0] and "+loan-fraud story" in problems[0]
    docs_outputs.check(doc, bench=False, write=True, timeout=300)
    assert docs_outputs.check(doc, bench=False, write=False, timeout=300) == []


def test_every_doc_is_quoted_somewhere_and_every_link_resolves():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 150
    for required in ("docs/benchmarks.md", "docs/deploy.md", "docs/extending.md", "docs/lab.png"):
        assert required in readme and (ROOT / required).exists(), required
    for path in DOCS:
        for target in re.findall(r"\]\(((?!https?:)[^)#]+)\)", path.read_text()):
            assert (path.parent / target).exists(), f"{path.name} links to missing {target}"
    png = (ROOT / "docs" / "lab.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 50_000


def _example(name: str) -> str:
    text = (ROOT / "docs" / "extending.md").read_text()
    return re.search(rf"<!-- example: {name} -->\n```python\n(.*?)```", text, re.S).group(1)


def test_the_worked_example_defense_is_picked_up_with_no_other_change():
    from core import DEFENSES, ExperimentConfig
    from core.cli import main
    from dashboard.layout import param_controls
    from dashboard.state import query_from_state, state_from_query

    module = types.ModuleType("zscore_example")
    exec(compile(_example("defense"), "docs/extending.md", "exec"), module.__dict__)
    try:
        cls = DEFENSES["zscore"]
        X = np.vstack([np.random.RandomState(0).normal(size=(200, 2)), np.full((10, 2), 20.0)])
        y = np.r_[np.zeros(100, int), np.ones(100, int), np.ones(10, int)]
        report = cls().sanitize(X, y)
        assert report.n_flagged >= 10 and not report.is_clean[-10:].any()
        out = io.StringIO()
        assert main(["run", "--dataset", "blobs", "--n-samples", "200", "--attack", "injection",
                     "--attack-param", "distance=8",
                     "--defense", "zscore", "--defense-param", "limit=2.5", "--json"],
                    out=out) == 0
        summary = json.loads(out.getvalue())
        assert summary["config"]["defense_params"] == {"limit": 2.5}
        assert summary["detection"]["n_poison_caught"] > 0
        config = ExperimentConfig(defense="zscore", defense_params={"limit": 2.5})
        assert state_from_query(query_from_state(None, config))[1] == config
        assert "largest |z| a kept point may have" in str(param_controls("defense", "zscore",
                                                                         {"limit": 2.5}))
    finally:
        DEFENSES.unregister("zscore")
