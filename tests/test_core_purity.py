"""core/ must stay a pure library: no Dash, no plotly, no global numpy RNG."""

import ast
import pathlib
import subprocess
import sys

CORE = pathlib.Path(__file__).resolve().parents[1] / "core"
FORBIDDEN = ("dash", "plotly", "dash_bootstrap_components", "flask")


def _imports(path: pathlib.Path):
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module


def test_no_ui_import_in_core_sources():
    files = sorted(CORE.rglob("*.py"))
    assert files, "core/ has no Python files"
    bad = [(f.name, m) for f in files for m in _imports(f) if m.split(".")[0] in FORBIDDEN]
    assert bad == []


def test_importing_core_loads_no_ui_module():
    code = ("import sys, core, core.cli; "
            f"print(sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=CORE.parent)
    assert out.stdout.strip() == "[]"


def test_no_global_numpy_rng_in_core():
    calls = ("seed", "rand", "randn", "randint", "choice", "permutation", "shuffle", "normal",
             "uniform")
    offenders = []
    for f in CORE.rglob("*.py"):
        for node in ast.walk(ast.parse(f.read_text())):
            if (isinstance(node, ast.Attribute) and node.attr in calls
                    and isinstance(node.value, ast.Attribute) and node.value.attr == "random"
                    and isinstance(node.value.value, ast.Name) and node.value.value.id == "np"):
                offenders.append(f"{f.name}:{node.lineno}")
    assert offenders == []
