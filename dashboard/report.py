"""A self-contained HTML report of one experiment (opens offline: plotly.js is inlined)."""

from __future__ import annotations

import html
import os
from datetime import UTC, datetime

import pandas as pd
import plotly.io as pio

from core import ExperimentResult, __version__
from dashboard.figures import PANELS, decision_panel, handled, sweep_figure

_CSS = """
body{font-family:Inter,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;color:#1f2937;margin:24px;}
h1{margin:0 0 4px;font-size:24px}h2{font-size:18px;margin:24px 0 8px}
.meta{color:#6b7280;font-size:13px}
.panels{display:grid;grid-template-columns:repeat(3,minmax(0,1fr));gap:12px}
.panel{border:1px solid #e5e7eb;border-radius:6px;padding:8px}
.panel h3{margin:0;font-size:15px}.acc{font-size:22px;font-weight:700}
table{border-collapse:collapse;font-size:13px}td,th{border-bottom:1px solid #eee;padding:3px 10px;
text-align:left}
"""


def _table(rows) -> str:
    return "<table>" + "".join(f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td>"
                               "</tr>" for k, v in rows) + "</table>"


def html_report(result: ExperimentResult, sweep: pd.DataFrame | None = None) -> str:
    """The three panels, the accuracies, the scorecard, the config (and the sweep, if given)."""
    figures = [decision_panel(result, p, height=340) for p in PANELS]
    divs = [pio.to_html(fig, include_plotlyjs=(i == 0), full_html=False, default_width="100%",
                        default_height="340px", config={"displaylogo": False, "responsive": True})
            for i, fig in enumerate(figures)]
    accs = (result.clean_accuracy, result.poisoned_accuracy, result.defended_accuracy)
    panels = "".join(
        f'<div class="panel"><h3>{name.capitalize()} model</h3>'
        f'<div class="acc">{acc:.1%}</div>{div}</div>'
        for name, acc, div in zip(PANELS, accs, divs, strict=True))
    d = result.detection
    score = _table([("precision", f"{d.precision:.3f}"), ("recall", f"{d.recall:.3f}"),
                    ("F1", f"{d.f1:.3f}"), ("poison caught", f"{d.n_poison_caught} / {d.n_poison}"),
                    ("clean points " + handled(result),
                     d.n_clean_lost)])
    sweep_html = ""
    if sweep is not None and len(sweep):
        fig = sweep_figure(sweep, current_rate=result.config.poison_rate)
        sweep_html = ("<h2>Accuracy vs. poison rate</h2>"
                      + pio.to_html(fig, include_plotlyjs=False, full_html=False,
                                    default_width="100%", config={"responsive": True}))
    note = f"<p class='meta'>{html.escape(result.view.note)}</p>" if result.view and \
        result.view.note else ""
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    c = result.config
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>PoisonLab report</title>"
        f"<style>{_CSS}</style></head><body>"
        f"<h1>PoisonLab report</h1><div class='meta'>{when} · PoisonLab {__version__} · "
        f"{html.escape(c.dataset)} · attack {html.escape(c.attack)} at {c.poison_rate:g} · "
        f"defense {html.escape(c.defense)} · seed {c.seed}</div>"
        f"<h2>Held-out test accuracy</h2>{note}<div class='panels'>{panels}</div>"
        f"<h2>Defense scorecard</h2>{score}{sweep_html}"
        f"<h2>Configuration</h2>{_table(c.to_dict().items())}"
        "</body></html>"
    )


class ImageExportUnavailable(RuntimeError):
    """Static image export needs kaleido and a Chromium it can start."""


def png_zip(result: ExperimentResult, sweep: pd.DataFrame | None = None) -> bytes:
    """The three panels (and the sweep, if given) as PNG files in one zip, via kaleido.

    Raises :class:`ImageExportUnavailable` with a message for the user when kaleido or a
    Chromium browser is missing (kaleido finds Debian's /usr/bin/chromium itself;
    ``BROWSER_PATH`` overrides it).
    """
    import io
    import zipfile

    try:
        import kaleido  # noqa: F401  (plotly's image engine)
    except ImportError as exc:
        raise ImageExportUnavailable("PNG export needs the kaleido package "
                                     "(pip install kaleido).") from exc
    accs = dict(zip(PANELS, (result.clean_accuracy, result.poisoned_accuracy,
                             result.defended_accuracy), strict=True))
    figures = {}
    for p in PANELS:
        fig = decision_panel(result, p, height=460)
        fig.update_layout(title=dict(text=f"{p.capitalize()} model: {accs[p]:.1%} test accuracy",
                                     x=0.02), margin=dict(t=48))
        figures[f"{p}-model.png"] = fig
    if sweep is not None and len(sweep):
        figures["sweep.png"] = sweep_figure(sweep, current_rate=result.config.poison_rate)
    import tempfile

    buffer = io.BytesIO()
    with tempfile.TemporaryDirectory(prefix="poisonlab-png-") as tmp:
        paths = [os.path.join(tmp, name) for name in figures]
        try:  # one browser start for all figures
            pio.write_images(list(figures.values()), paths, format="png", width=560, scale=2)
        except Exception as exc:  # kaleido raises its own error types when no browser starts
            raise ImageExportUnavailable(
                "PNG export needs a Chromium browser on the server (e.g. apt-get install "
                f"chromium); it could not start one ({type(exc).__name__}: {exc}). Each "
                "chart's camera icon still saves a PNG from your browser.") from exc
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
            for name, path in zip(figures, paths, strict=True):
                zf.write(path, name)
    return buffer.getvalue()
