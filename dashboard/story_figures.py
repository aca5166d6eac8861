"""Figures of the loan-fraud story: plain pictures for people who do not read contour plots.

Pure functions: a :class:`core.story.LoanStory` in, a ``go.Figure`` out. Two
palettes: the page's, and a high-contrast one for projectors (presenter mode).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go

from core.campaign import CampaignResult
from core.story import CURRENCY, LoanStory
from dashboard.figures import FONT


@dataclass(frozen=True)
class Palette:
    deny_region: str
    approve_region: str
    deny: str
    approve: str
    fake: str
    target: str
    boundary: str
    old_boundary: str
    flagged: str
    text: str
    paper: str
    font_size: int
    marker: int
    line: float


SCREEN = Palette(deny_region="#dbe7fb", approve_region="#fde7c4", deny="#2563eb",
                 approve="#d97706", fake="#dc2626", target="#111827", boundary="#111827",
                 old_boundary="#0f766e", flagged="#6b7280", text="#1f2937", paper="white",
                 font_size=14, marker=6, line=2.5)
# projectors wash out pale tints and thin lines: saturated fills, black ink, thick strokes
PROJECTOR = Palette(deny_region="#9cc2ff", approve_region="#ffc266", deny="#0b3d91",
                    approve="#7a3e00", fake="#d00000", target="#000000", boundary="#000000",
                    old_boundary="#006400", flagged="#444444", text="#000000", paper="white",
                    font_size=22, marker=9, line=5.0)

AXES = ("credit score", "debt-to-income (%)")


def palette(present: bool) -> Palette:
    return PROJECTOR if present else SCREEN


def _layout(p: Palette, *, height: int) -> dict:
    return dict(
        height=height, margin=dict(l=70, r=20, t=20, b=60), paper_bgcolor=p.paper,
        plot_bgcolor=p.paper, font={**FONT, "size": p.font_size, "color": p.text},
        xaxis=dict(title=AXES[0], showgrid=False, zeroline=False),
        yaxis=dict(title=AXES[1], showgrid=False, zeroline=False),
        legend=dict(orientation="h", yanchor="bottom", y=1.01, xanchor="left", x=0,
                    font=dict(size=p.font_size - 2)),
        uirevision="story",
    )


def _f4(values: np.ndarray) -> np.ndarray:
    """Single precision: plenty for a picture, half the bytes for the browser to decode
    (plotly sends numpy arrays as typed arrays of their own dtype)."""
    return np.asarray(values, dtype=np.float32)


def _grid(story: LoanStory, run: CampaignResult | None = None, month: int = 0) -> np.ndarray:
    return (run or story.campaign).grids[month]


def _regions(story: LoanStory, z: np.ndarray, p: Palette) -> go.Contour:
    """Two flat colors, deny and approve: the model's decision, nothing more to read."""
    c = story.campaign
    return go.Contour(x=_f4(c.grid_x), y=_f4(c.grid_y), z=np.sign(z).astype(np.int8), zmin=-1,
                      zmax=1, showscale=False,
                      contours=dict(start=0, end=0, size=1, coloring="fill"),
                      colorscale=[[0, p.deny_region], [1, p.approve_region]], line=dict(width=0),
                      hoverinfo="skip", name="decision")


def _boundary(story: LoanStory, z: np.ndarray, color: str, width: float, dash: str,
              name: str) -> go.Contour:
    c = story.campaign
    return go.Contour(x=_f4(c.grid_x), y=_f4(c.grid_y), z=_f4(z), showscale=False,
                      hoverinfo="skip", name=name,
                      showlegend=True, contours=dict(start=0, end=0, size=1, coloring="none"),
                      line=dict(color=color, width=width, dash=dash))


def _history(story: LoanStory, p: Palette, *, opacity: float = 0.55) -> list[go.Scatter]:
    c = story.campaign
    X = c.view.project(c.history)
    out = []
    for label, name, color in ((0, "past: denied", p.deny), (1, "past: approved", p.approve)):
        pts = X[c.history_labels == label]
        out.append(go.Scatter(x=pts[:, 0], y=pts[:, 1], mode="markers", name=name,
                              marker=dict(size=p.marker, color=color, opacity=opacity),
                              hovertemplate="credit %{x:.0f}, DTI %{y:.1f}%<extra>" + name
                              + "</extra>"))
    return out


def _fakes(story: LoanStory, run: CampaignResult, month: int, p: Palette) -> go.Scatter:
    """The ring's applications in the log by ``month`` (all approved when they arrived)."""
    X = run.view.project(run.attacker_points) if len(run.attacker_points) else np.empty((0, 2))
    X = X[run.attacker_month <= month] if len(X) else X
    return go.Scatter(x=X[:, 0], y=X[:, 1], mode="markers", name="the ring's applications",
                      marker=dict(size=p.marker + 3, color=p.fake, symbol="x",
                                  line=dict(width=1, color=p.fake)),
                      hovertemplate="ring: credit %{x:.0f}, DTI %{y:.1f}%<extra></extra>")


def _target(story: LoanStory, p: Palette, approved: bool) -> go.Scatter:
    t = story.numbers["target"]
    text = f"the target: {CURRENCY}{t['amount']:,.0f}, {'APPROVED' if approved else 'denied'}"
    return go.Scatter(x=[t["x"]], y=[t["y"]], mode="markers",
                      name="the target: " + ("APPROVED" if approved else "denied"),
                      marker=dict(size=p.marker * 3.5, symbol="star" if approved else
                                  "star-open", color=p.fake if approved else p.target,
                                  line=dict(width=2, color=p.target)),
                      text=[text], hovertemplate="%{text}<extra></extra>")


def model_figure(story: LoanStory, *, present: bool = False, height: int = 480) -> go.Figure:
    """Step 1: the approval model on clean history."""
    p = palette(present)
    z = _grid(story)
    fig = go.Figure([_regions(story, z, p), _boundary(story, z, p.boundary, p.line, "solid",
                                                      "approval boundary"),
                     *_history(story, p)])
    return fig.update_layout(**_layout(p, height=height))


def _month_label(run: CampaignResult, k: int) -> str:
    m = run.months[k]
    if k == 0:
        return "0"
    return f"{k}" if m.deployed else f"{k} ✗"


def _months_figure(story: LoanStory, run: CampaignResult, p: Palette, *, height: int,
                   ghost: CampaignResult | None = None, prefix: str) -> go.Figure:
    """The deployed model month by month (a slider and Play), the month-0 boundary dashed;
    ``ghost``: another run's boundary in the same month, dotted (what it would have been)."""
    z0 = _grid(story)

    def traces(k: int) -> list:
        z = _grid(story, run, k)
        out = [_regions(story, z, p),
               _boundary(story, z, p.boundary, p.line, "solid", "boundary this month")]
        if ghost is not None:
            out.append(_boundary(story, _grid(story, ghost, k), p.fake, p.line, "dot",
                                 "without the gate"))
        return [*out, _fakes(story, run, k, p), _target(story, p, run.months[k].target_approved)]

    first = traces(0)
    head = first[:-2]  # the regions and boundaries; then come the fakes and the target
    data = [*head, _boundary(story, z0, p.old_boundary, p.line, "dash", "month-0 boundary"),
            *_history(story, p, opacity=0.3), *first[-2:]]
    moving = [*range(len(head)), len(data) - 2, len(data) - 1]  # what each frame redraws
    n = len(run.months)
    frames = [go.Frame(name=str(k), data=traces(k), traces=moving) for k in range(n)]
    steps = [dict(method="animate", label=_month_label(run, k),
                  args=[[str(k)], dict(mode="immediate", frame=dict(duration=0, redraw=True),
                                       transition=dict(duration=0))]) for k in range(n)]
    fig = go.Figure(data=data, frames=frames)
    fig.update_layout(**_layout(p, height=height))
    fig.update_layout(
        margin=dict(l=70, r=20, t=4 * (p.font_size + 8), b=150),
        legend=dict(entrywidth=0.5, entrywidthmode="fraction"),
        sliders=[dict(active=0, steps=steps, x=0.12, len=0.88, y=-0.18, pad=dict(t=10),
                      currentvalue=dict(prefix=prefix, font=dict(size=p.font_size)))],
        updatemenus=[dict(type="buttons", showactive=False, x=0.0, y=-0.2, xanchor="left",
                          yanchor="top", buttons=[dict(
                              label="Play", method="animate",
                              args=[None, dict(frame=dict(duration=700, redraw=True),
                                               fromcurrent=True, transition=dict(duration=0))])])],
    )
    return fig


def attack_figure(story: LoanStory, *, present: bool = False, height: int = 480) -> go.Figure:
    """Step 2: the months pass; the ring's applications join the log; the boundary follows."""
    return _months_figure(story, story.campaign, palette(present), height=height,
                          prefix="month ")


def damage_figure(story: LoanStory, *, present: bool = False, height: int = 480) -> go.Figure:
    """Step 3: the model of the month the target was first approved (or the last month)."""
    p = palette(present)
    c = story.campaign
    k = story.numbers["reached"]["month"]
    z = _grid(story, c, k)
    fig = go.Figure([
        _regions(story, z, p),
        _boundary(story, _grid(story), p.old_boundary, p.line, "dash", "month-0 boundary"),
        _boundary(story, z, p.boundary, p.line, "solid", f"boundary in month {k}"),
        *_history(story, p, opacity=0.3),
        _fakes(story, c, k, p),
        _target(story, p, c.months[k].target_approved),
    ])
    return fig.update_layout(**_layout(p, height=height))


def defense_figure(story: LoanStory, *, present: bool = False, height: int = 480) -> go.Figure:
    """Step 4: the same months behind the update gate (rejected months marked ✗ on the
    slider), the boundary the ungated model would have had dotted."""
    if story.gated is None:
        raise ValueError("this story was computed without step 4 (gate='none')")
    return _months_figure(story, story.gated, palette(present), height=height,
                          ghost=story.campaign, prefix="month (✗ = update rejected) ")


def loss_figure(story: LoanStory, *, present: bool = False, height: int = 420) -> go.Figure:
    """Step 5: expected loss at the last month: retraining alone, the campaign, the gate."""
    p = palette(present)
    n = story.numbers
    stages = [("clean", "month 0"), ("quiet", f"month {n['months']}, no attack"),
              ("poisoned", f"month {n['months']}, the campaign")]
    if "defended" in n:
        stages.append(("defended", f"month {n['months']}, with the gate"))
    labels = [label for _, label in stages]
    fraud = [n[s]["fraud_loss"] for s, _ in stages]
    credit = [n[s]["credit_loss"] for s, _ in stages]
    fig = go.Figure([
        go.Bar(x=labels, y=credit, marker=dict(color=p.flagged),
               name=f"bad loans approved ({story.loss_given_default:.0%} of the amount lost)",
               hovertemplate="%{y:$,.0f}<extra>bad loans</extra>"),
        go.Bar(x=labels, y=fraud, name="the ring's target approved (all lost)",
               marker=dict(color=p.fake),
               text=[f"{CURRENCY}{f + c:,.0f}" for f, c in zip(fraud, credit, strict=True)],
               textposition="outside", textfont=dict(size=p.font_size + 2),
               hovertemplate="%{y:$,.0f}<extra>fraud</extra>"),
    ])
    fig.update_layout(**_layout(p, height=height))
    fig.update_layout(barmode="stack", xaxis=dict(title=None), showlegend=True,
                      yaxis=dict(title=f"expected loss ({CURRENCY})", tickformat="$,.0f",
                                 rangemode="tozero"))
    return fig
