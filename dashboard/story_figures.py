"""Figures of the loan-fraud story: plain pictures for people who do not read contour plots.

Pure functions: a :class:`core.story.LoanStory` in, a ``go.Figure`` out. Two
palettes: the page's, and a high-contrast one for projectors (presenter mode).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go

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


def _regions(story: LoanStory, z: np.ndarray, p: Palette) -> go.Contour:
    """Two flat colors, deny and approve: the model's decision, nothing more to read."""
    g = story.result.grid
    return go.Contour(x=_f4(g.x), y=_f4(g.y), z=np.sign(z).astype(np.int8), zmin=-1, zmax=1,
                      showscale=False,
                      contours=dict(start=0, end=0, size=1, coloring="fill"),
                      colorscale=[[0, p.deny_region], [1, p.approve_region]], line=dict(width=0),
                      hoverinfo="skip", name="decision")


def _boundary(story: LoanStory, z: np.ndarray, color: str, width: float, dash: str,
              name: str) -> go.Contour:
    g = story.result.grid
    return go.Contour(x=_f4(g.x), y=_f4(g.y), z=_f4(z), showscale=False, hoverinfo="skip",
                      name=name,
                      showlegend=True, contours=dict(start=0, end=0, size=1, coloring="none"),
                      line=dict(color=color, width=width, dash=dash))


def _history(story: LoanStory, p: Palette, *, opacity: float = 0.55) -> list[go.Scatter]:
    r = story.result
    out = []
    for label, name, color in ((0, "past: denied", p.deny), (1, "past: approved", p.approve)):
        X = r.X_clean[r.y_clean == label]
        out.append(go.Scatter(x=X[:, 0], y=X[:, 1], mode="markers", name=name,
                              marker=dict(size=p.marker, color=color, opacity=opacity),
                              hovertemplate="credit %{x:.0f}, DTI %{y:.1f}%<extra>" + name
                              + "</extra>"))
    return out


def _fakes(X: np.ndarray, p: Palette, *, name: str = "fake applications (marked approved)",
           color: str | None = None, symbol: str = "x") -> go.Scatter:
    return go.Scatter(x=X[:, 0], y=X[:, 1], mode="markers", name=name,
                      marker=dict(size=p.marker + 3, color=color or p.fake, symbol=symbol,
                                  line=dict(width=1, color=color or p.fake)),
                      hovertemplate="fake: credit %{x:.0f}, DTI %{y:.1f}%<extra></extra>")


def _targets(story: LoanStory, p: Palette, approved: np.ndarray) -> go.Scatter:
    t = story.result.targets
    text = [f"target {i + 1}: {CURRENCY}{a:,.0f} requested, "
            f"{'APPROVED' if ok else 'denied'}" for i, (a, ok) in
            enumerate(zip(story.target_amounts, approved, strict=True))]
    return go.Scatter(x=t[:, 0], y=t[:, 1], mode="markers", name="the fraudsters' applications",
                      marker=dict(size=p.marker * 3, symbol="star", color=p.target,
                                  line=dict(width=2, color="white")),
                      text=text, hovertemplate="%{text}<extra></extra>")


def model_figure(story: LoanStory, *, present: bool = False, height: int = 480) -> go.Figure:
    """Step 1: the approval model on clean history."""
    p = palette(present)
    g = story.result.grid
    fig = go.Figure([_regions(story, g.clean, p), _boundary(story, g.clean, p.boundary, p.line,
                                                            "solid", "approval boundary"),
                     *_history(story, p)])
    return fig.update_layout(**_layout(p, height=height))


def attack_figure(story: LoanStory, *, present: bool = False, height: int = 480) -> go.Figure:
    """Step 2: the fakes arrive; a slider (and Play) refits the boundary as they accumulate."""
    p = palette(present)
    r = story.result
    fakes = r.X_train[r.is_poison]

    def traces(frame) -> list:
        shown = fakes[:frame.n_fake] if frame.n_fake else np.empty((0, 2))
        return [_regions(story, frame.z, p),
                _boundary(story, frame.z, p.boundary, p.line, "solid", "approval boundary"),
                _fakes(shown, p, name="fakes, marked approved"),  # fits half the legend
                _targets(story, p, frame.approved)]

    first = traces(story.frames[0])
    data = [*first[:2], *_history(story, p, opacity=0.35), *first[2:]]
    frames = [go.Frame(name=str(f.n_fake), data=traces(f), traces=[0, 1, 4, 5])
              for f in story.frames]
    steps = [dict(method="animate", label=f"{f.n_fake}",
                  args=[[str(f.n_fake)], dict(mode="immediate", frame=dict(duration=0,
                                                                             redraw=True),
                                              transition=dict(duration=0))])
             for f in story.frames]
    fig = go.Figure(data=data, frames=frames)
    fig.update_layout(**_layout(p, height=height))
    fig.update_layout(
        # two legend entries a row and room above the plot for the three rows it has once
        # the fakes join it, so the plot does not shrink halfway through Play
        margin=dict(l=70, r=20, t=4 * (p.font_size + 8), b=150),
        legend=dict(entrywidth=0.5, entrywidthmode="fraction"),
        sliders=[dict(active=0, steps=steps, x=0.12, len=0.88, y=-0.18, pad=dict(t=10),
                      currentvalue=dict(prefix="fake applications in the retraining set: ",
                                        font=dict(size=p.font_size)))],
        updatemenus=[dict(type="buttons", showactive=False, x=0.0, y=-0.2, xanchor="left",
                          yanchor="top", buttons=[dict(
                              label="Play", method="animate",
                              args=[None, dict(frame=dict(duration=700, redraw=True),
                                               fromcurrent=True, transition=dict(duration=0))])])],
    )
    return fig


def damage_figure(story: LoanStory, *, present: bool = False, height: int = 480) -> go.Figure:
    """Step 3: the retrained (poisoned) model; the old boundary dashed; the targets inside."""
    p = palette(present)
    r = story.result
    g = r.grid
    fig = go.Figure([
        _regions(story, g.poisoned, p),
        _boundary(story, g.clean, p.old_boundary, p.line, "dash", "boundary before the attack"),
        _boundary(story, g.poisoned, p.boundary, p.line, "solid", "boundary after retraining"),
        *_history(story, p, opacity=0.3),
        _fakes(r.X_train[r.is_poison], p),
        _targets(story, p, story.target_approved["poisoned"]),
    ])
    return fig.update_layout(**_layout(p, height=height))


def defense_figure(story: LoanStory, *, present: bool = False, height: int = 480) -> go.Figure:
    """Step 4: robust retraining: the flagged fakes crossed out, the boundary back."""
    p = palette(present)
    r = story.result
    g = r.grid
    flagged = ~r.is_clean
    missed = r.is_poison & ~flagged
    lost = flagged & ~r.is_poison
    traces = [
        _regions(story, g.defended, p),
        _boundary(story, g.poisoned, p.fake, p.line, "dot", "boundary of the poisoned model"),
        _boundary(story, g.defended, p.boundary, p.line, "solid", "boundary after the defense"),
        *_history(story, p, opacity=0.3),
        _fakes(r.X_train[r.is_poison & flagged], p, name="fakes caught and removed",
               color=p.flagged, symbol="x-thin-open"),
    ]
    if missed.any():
        traces.append(_fakes(r.X_train[missed], p, name="fakes missed"))
    if lost.any():
        traces.append(_fakes(r.X_train[lost], p, name="genuine records removed",
                             color=p.flagged, symbol="circle-open"))
    traces.append(_targets(story, p, story.target_approved["defended"]))
    return go.Figure(traces).update_layout(**_layout(p, height=height))


def loss_figure(story: LoanStory, *, present: bool = False, height: int = 420) -> go.Figure:
    """Step 5: expected loss before the attack, after it, and with the defense."""
    p = palette(present)
    n = story.numbers
    stages = ("clean", "poisoned", "defended")
    labels = ["before the attack", "after the attack", "with the defense"]
    fraud = [n[s]["fraud_loss"] for s in stages]
    credit = [n[s]["credit_loss"] for s in stages]
    fig = go.Figure([
        go.Bar(x=labels, y=credit, marker=dict(color=p.flagged),
               name=f"bad loans approved ({story.loss_given_default:.0%} of the amount lost)",
               hovertemplate="%{y:$,.0f}<extra>bad loans</extra>"),
        go.Bar(x=labels, y=fraud, name="fraudsters' loans approved (all lost)",
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

