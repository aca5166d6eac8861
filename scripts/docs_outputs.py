"""Regenerate (or check) every command output quoted in README.md and docs/*.md.

A quoted output is an HTML comment naming the command, right before a fenced block::

    <!-- output: python -m core run --scenario seed-demo -->
    ```text
    ...what the command printed...
    ```

``python scripts/docs_outputs.py`` checks every ``output`` block against a fresh run
(exit 1 and a diff when one is stale); ``--write`` rewrites them. Lines that change from
run to run (timings) are masked before comparing: see ``VOLATILE``.

Benchmarks are quoted the same way with ``<!-- bench: COMMAND -->``: they take minutes
and their timings depend on the machine, so the check only runs their commands with
``--bench`` (``--write --bench`` regenerates them); without it, it checks that each
bench block's script exists. tests/test_docs.py runs the check on every test run.
"""

from __future__ import annotations

import argparse
import difflib
import re
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"<!-- (output|bench): ([^\n]+?) -->\n```(\w*)\n(.*?)```", re.S)
#: (pattern, replacement) applied to both sides before comparing
VOLATILE = [(re.compile(r"time: \d+\.\d+ s"), "time: <t> s"),
            (re.compile(r"computed in \d+ ms"), "computed in <t> ms")]


def run(command: str, timeout: float) -> str:
    args = shlex.split(command)
    if args[0] == "python":
        args[0] = sys.executable
    proc = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"`{command}` exited {proc.returncode}: {proc.stderr.strip()[-300:]}")
    return proc.stdout


def masked(text: str) -> str:
    for pattern, repl in VOLATILE:
        text = pattern.sub(repl, text)
    return text.rstrip() + "\n"


def blocks(path: Path):
    """``(kind, command, match)`` for every quoted output in ``path``."""
    return [(m.group(1), m.group(2), m) for m in BLOCK.finditer(path.read_text())]


def check(path: Path, *, bench: bool, write: bool, timeout: float) -> list[str]:
    """Problems found in ``path`` (rewritten in place with ``write``)."""
    text = path.read_text()
    problems, out, last = [], [], 0
    for kind, command, m in blocks(path):
        quoted = m.group(4)
        if kind == "bench" and not bench:
            script = next((a for a in shlex.split(command) if a.endswith(".py")), None)
            module = shlex.split(command)[2] if command.startswith("python -m ") else None
            exists = (script and (ROOT / script).exists()) or (
                module and (ROOT / (module.replace(".", "/") + ".py")).exists())
            if not exists:
                problems.append(f"{path.name}: bench command `{command}` names no script here")
            continue
        fresh = run(command, timeout)
        if write:
            out += [text[last:m.start(4)], fresh.rstrip() + "\n"]
            last = m.end(4)
        elif masked(fresh) != masked(quoted):
            diff = "".join(difflib.unified_diff(masked(quoted).splitlines(True),
                                                masked(fresh).splitlines(True),
                                                "quoted", "fresh", n=1))
            problems.append(f"{path.name}: the output of `{command}` is stale:\n{diff}")
    if write:
        path.write_text("".join(out) + text[last:])
    return problems


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--write", action="store_true", help="rewrite the quoted outputs")
    p.add_argument("--bench", action="store_true", help="also run the benchmark commands")
    p.add_argument("--timeout", type=float, default=600, help="seconds per command")
    args = p.parse_args(argv)
    problems = [msg for path in DOCS
                for msg in check(path, bench=args.bench, write=args.write,
                                 timeout=args.timeout)]
    for msg in problems:
        print(msg)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
