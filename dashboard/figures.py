"""Pure figure functions: core results in, ``go.Figure`` out. No metric is computed here."""

from __future__ import annotations

import base64

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from core import ExperimentResult

# One visual theme, used by every figure (and mirrored in assets/poisonlab.css).
CLASS_COLORS = ("#2563eb", "#ea8a0c")  # class 0 blue, class 1 amber
REGION_COLORS = ("#c7dbfd", "#ffffff", "#fde2b8")  # decision regions: class 0, boundary, class 1
POISON_COLOR = "#dc2626"
FLAGGED_COLOR = "#111827"
DROPPED_COLOR = "#9ca3af"
BOUNDARY_COLOR = "#111827"
CLEAN_BOUNDARY_COLOR = "#0f766e"
PANEL_COLORS = {"clean": "#0f766e", "poisoned": "#b91c1c", "defended": "#6d28d9"}
FONT = dict(family="Inter, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif", size=13,
            color="#1f2937")
PANELS = ("clean", "poisoned", "defended")


def typed(values, dtype: str = "f4") -> dict:
    """A plotly.js typed-array spec (base64): far smaller and faster than a JSON list."""
    arr = np.ascontiguousarray(values, dtype=np.dtype(dtype).newbyteorder("<"))
    spec = {"dtype": dtype, "bdata": base64.b64encode(arr.tobytes()).decode("ascii")}
    if arr.ndim > 1:
        spec["shape"] = ", ".join(map(str, arr.shape))
    return spec


def untyped(spec) -> np.ndarray:
    """Inverse of :func:`typed` (plain lists and arrays pass through)."""
    if isinstance(spec, dict) and "bdata" in spec:
        arr = np.frombuffer(base64.b64decode(spec["bdata"]), dtype=np.dtype(spec["dtype"]))
        return arr.reshape([int(n) for n in spec["shape"].split(",")]) if "shape" in spec else arr
    return np.asarray(spec)


def _layout(*, height: int, **extra) -> dict:
    return dict(
        height=height, margin=dict(l=48, r=12, t=10, b=44), font=FONT,
        paper_bgcolor="white", plot_bgcolor="white", showlegend=False,
        hoverlabel=dict(font=dict(size=12)), uirevision="keep", **extra,
    )


def _base_layout(fig: go.Figure, *, height: int) -> go.Figure:
    fig.update_layout(**_layout(height=height))
    return fig


def color_limit(result: ExperimentResult) -> float:
    """One symmetric color range for the three panels, so equal colors mean equal scores."""
    g = result.grid
    values = np.abs(np.concatenate([g.clean.ravel(), g.poisoned.ravel(), g.defended.ravel()]))
    return float(np.percentile(values, 95)) or 1.0


def handled(result: ExperimentResult) -> str:
    """What the defense did to the points it flagged: dropped, relabelled, or either."""
    if not result.relabels:
        return "dropped"
    return "relabelled" if result.kept.all() else "relabelled or dropped"


def _points(X: np.ndarray, labels: np.ndarray, class_names, *, name: str) -> list[dict]:
    """One marker trace per class; ``X`` is already in the view's 2-D coordinates."""
    traces = []
    for k in (0, 1):
        sel = labels == k
        if not sel.any():
            continue
        traces.append(dict(
            type="scatter", x=typed(X[sel, 0]), y=typed(X[sel, 1]), mode="markers",
            name=f"{name} {class_names[k]}",
            marker=dict(color=CLASS_COLORS[k], size=7, line=dict(color="white", width=0.8)),
            hovertemplate=f"{class_names[k]}<br>(%{{x:.3g}}, %{{y:.3g}})<extra>{name}</extra>",
        ))
    return traces


def _level_zero(g, z: np.ndarray, *, name: str, color: str, width: float, dash: str) -> dict:
    return dict(type="contour", x=typed(g.x), y=typed(g.y), z=typed(z), name=name,
                contours=dict(start=0, end=0, size=1, coloring="lines"),
                line=dict(width=width, dash=dash, color=color), showscale=False,
                colorscale=[[0, color], [1, color]], hoverinfo="skip")


def decision_panel_spec(result: ExperimentResult, panel: str, *, height: int = 360,
                        triggered: bool = False) -> dict:
    """The plotly figure dict behind :func:`decision_panel` (what the dashboard sends).

    Built as a plain dict because plotly's validation of graph objects costs more
    than the experiment itself at interactive speed; ``go.Figure(spec)`` validates it.
    ``triggered``: a backdoor's models on the same plane with the trigger present
    (``result.grid_triggered``), their trigger-free boundary dashed beside it.
    """
    if panel not in PANELS:
        raise ValueError(f"panel={panel!r} is not one of: {', '.join(PANELS)}")
    g = result.grid
    if g is None:
        raise ValueError("the result has no decision grid (grid_resolution=0)")
    if triggered and result.grid_triggered is None:
        raise ValueError("the result has no grid with a trigger (the attack is not a backdoor)")
    lim = color_limit(result)
    plain = getattr(g, panel)
    if triggered:
        g = result.grid_triggered
    z = getattr(g, panel)
    names = result.class_names
    data: list[dict] = [dict(
        type="contour", x=typed(g.x), y=typed(g.y), z=typed(np.clip(z, -lim, lim)),
        zmin=-lim, zmax=lim, ncontours=14, name="decision function",
        colorscale=[[0.0, REGION_COLORS[0]], [0.5, REGION_COLORS[1]], [1.0, REGION_COLORS[2]]],
        line=dict(width=0), showscale=False, hoverinfo="skip",
    )]
    if triggered:  # the same model without the trigger: the boundary everyone else sees
        data.append(_level_zero(g, plain, name="boundary without the trigger",
                                color=CLEAN_BOUNDARY_COLOR, width=2, dash="dash"))
    elif panel != "clean":  # where the clean boundary was: the movement at a glance
        data.append(_level_zero(g, g.clean, name="clean boundary", color=CLEAN_BOUNDARY_COLOR,
                                width=2, dash="dash"))
    data.append(_level_zero(g, z, name="boundary with the trigger" if triggered else "boundary",
                            color=BOUNDARY_COLOR, width=3, dash="solid"))

    if panel == "clean":
        data += _points(result.project(result.X_clean), result.y_clean, names, name="training")
    else:
        X, poison = result.project(result.X_train), result.is_poison
        if panel == "poisoned":
            y, keep = result.y_train, np.ones(len(X), dtype=bool)
        else:
            y, keep = result.y_defended, result.kept
        clean_kept = ~poison & keep
        data += _points(X[clean_kept], y[clean_kept], names, name="training")
        dropped = ~keep
        if dropped.any():
            data.append(dict(
                type="scatter", x=typed(X[dropped, 0]), y=typed(X[dropped, 1]), mode="markers",
                name="dropped",
                marker=dict(color=DROPPED_COLOR, size=6, opacity=0.55),
                hovertemplate="dropped by the defense<extra></extra>",
            ))
        path = result.poison_path
        if panel == "poisoned" and path is not None and len(path) > 1:
            # where each optimized point travelled: one polyline per point, NaN-separated
            steps, n_p, _ = path.shape
            P = result.project(path.reshape(-1, path.shape[2])).reshape(steps, n_p, 2)
            lines = np.concatenate([P, np.full((1, n_p, 2), np.nan)]).transpose(1, 0, 2)
            lines = lines.reshape(-1, 2)
            data.append(dict(
                type="scatter", x=typed(lines[:, 0]), y=typed(lines[:, 1]), mode="lines",
                name="poison path", hoverinfo="skip", connectgaps=False,
                line=dict(color=POISON_COLOR, width=1, dash="dot"), opacity=0.6,
            ))
        if poison.any():
            data.append(dict(
                type="scatter", x=typed(X[poison, 0]), y=typed(X[poison, 1]), mode="markers",
                name="poison",
                marker=dict(symbol="x", size=8, color=POISON_COLOR,
                            line=dict(width=0.5, color="white")),
                customdata=[names[k] for k in result.y_train[poison]],
                hovertemplate="poison, labelled %{customdata}<extra></extra>",
            ))
        if panel == "defended":
            flagged = ~result.is_clean
            if flagged.any():
                verb = handled(result) if result.relabels else "flagged"
                data.append(dict(
                    type="scatter", x=typed(X[flagged, 0]), y=typed(X[flagged, 1]),
                    mode="markers",
                    name=verb, hovertemplate=f"{verb} by the defense<extra></extra>",
                    marker=dict(symbol="circle-open", size=13, color=FLAGGED_COLOR,
                                line=dict(width=1.4)),
                ))
    if result.targets is not None and result.target_success is not None:
        T = result.project(result.targets)
        share = result.target_success[panel]
        want = names[result.target_label]
        data.append(dict(
            type="scatter", x=typed(T[:, 0]), y=typed(T[:, 1]), mode="markers",
            name="attacker's targets",
            marker=dict(symbol="star", size=15, color=BOUNDARY_COLOR,
                        line=dict(width=1.2, color="white")),
            hovertemplate=(f"attacker's target: wants {want!r}; this model gives "
                           f"{round(share * len(T))} of {len(T)} targets {want!r}<extra></extra>"),
        ))
    axis = dict(showgrid=False, zeroline=False)
    names_xy = result.view.axis_names if result.view is not None else result.feature_names[:2]
    layout = _layout(
        height=height,
        xaxis=dict(range=[g.x[0], g.x[-1]], title=dict(text=names_xy[0]),
                   constrain="domain", **axis),
        yaxis=dict(range=[g.y[0], g.y[-1]], title=dict(text=names_xy[1]), **axis),
    )
    return dict(data=data, layout=layout)


def backdoor_examples(result: ExperimentResult, *, height: int = 330) -> go.Figure:
    """Digits: held-out source-class images, clean (top row) and with the trigger (bottom),
    and each model's prediction under each (green: the true class, red: anything else).

    Reads ``result.trigger_examples`` (core's predictions); 8x8 images only.
    """
    ex = result.trigger_examples
    if ex is None or result.X_test.shape[1] != 64:
        raise ValueError("backdoor examples need a backdoor on 8x8 images (digits)")
    rows = np.asarray(ex["rows"])
    n, w = len(rows), 10  # each image 8 pixels wide plus a gap of 2
    clean = result.X_test[rows]
    bands = (("clean", clean), ("triggered", result.trigger.stamp(clean)))
    band_h = 8 + 5  # the image, then three lines of predictions
    mosaic = np.full((2 * band_h, n * w), np.nan)
    for b, (_, imgs) in enumerate(bands):
        for i, img in enumerate(imgs):
            mosaic[b * band_h:b * band_h + 8, i * w:i * w + 8] = img.reshape(8, 8)
    names, truth = result.class_names, result.source_label
    notes = []
    for b, (band, _) in enumerate(bands):
        notes.append(dict(xref="paper", x=-0.01, y=b * band_h + 3.5, xanchor="right",
                          showarrow=False,
                          text="clean" if band == "clean" else "with the<br>trigger",
                          font=dict(size=11)))
        for i in range(n):
            for j, stage in enumerate(PANELS):
                pred = int(ex[stage][band][i])
                notes.append(dict(
                    x=i * w + 3.5, y=b * band_h + 8.9 + 1.3 * j, showarrow=False,
                    text=f"{stage}: {names[pred]}",
                    font=dict(size=9, color="#15803d" if pred == truth else POISON_COLOR)))
    fig = go.Figure(go.Heatmap(z=mosaic, colorscale="Greys", showscale=False, zmin=0,
                               zmax=float(np.nanmax(mosaic)) or 1.0, hoverinfo="skip"))
    _base_layout(fig, height=height)
    fig.update_layout(annotations=notes, margin=dict(l=70, r=4, t=4, b=4),
                      plot_bgcolor="white")
    fig.update_xaxes(visible=False, range=[-0.6, n * w - 1.5])
    fig.update_yaxes(visible=False, autorange="reversed", scaleanchor="x")
    return fig


def decision_panel(result: ExperimentResult, panel: str, *, height: int = 360) -> go.Figure:
    """Contour of one model's decision function with the training points on top.

    ``panel`` is ``"clean"``, ``"poisoned"`` or ``"defended"``. All three panels of a
    result share axes and color scale. Poison points are red crosses; in the defended
    panel, flagged points are ringed and dropped points greyed.
    """
    return go.Figure(decision_panel_spec(result, panel, height=height))


def message_figure(text: str, *, height: int = 360) -> go.Figure:
    """A blank figure carrying a short message (no data yet, or an error)."""
    fig = go.Figure()
    fig.add_annotation(text=text, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper",
                       font=dict(size=14, color="#6b7280"))
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return _base_layout(fig, height=height)


def _rgba(hex_color: str, alpha: float) -> str:
    r, g, b = (int(hex_color[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def sweep_figure(summary: pd.DataFrame, *, current_rate: float | None = None,
                 height: int = 320) -> go.Figure:
    """Test accuracy (mean, +-1 std band) against poison rate for the three models.

    ``summary`` is :func:`core.sweeps.summarize_sweep`'s table; for a backdoor (its
    ``attack_success_*_mean`` columns) each model's attack success rate is drawn too, dashed.
    """
    fig = go.Figure()
    x = summary["poison_rate"].to_numpy()
    for panel in PANELS:
        mean = summary[f"{panel}_accuracy_mean"].to_numpy()
        std = summary[f"{panel}_accuracy_std"].to_numpy()
        color = PANEL_COLORS[panel]
        fig.add_trace(go.Scatter(
            x=np.concatenate([x, x[::-1]]),
            y=np.clip(np.concatenate([mean + std, (mean - std)[::-1]]), 0.0, 1.0),
            fill="toself", fillcolor=_rgba(color, 0.14), line=dict(width=0), hoverinfo="skip",
            showlegend=False, name=f"{panel} ±1 std",
        ))
        fig.add_trace(go.Scatter(
            x=x, y=mean, mode="lines+markers", name=f"{panel} model",
            line=dict(color=color, width=2.5, dash="dot" if panel == "clean" else "solid"),
            marker=dict(size=6), customdata=std,
            hovertemplate=f"{panel}: %{{y:.1%}} ± %{{customdata:.1%}}<extra></extra>",
        ))
    backdoor = "attack_success_poisoned_mean" in summary
    for panel in PANELS if backdoor else ():  # a backdoor's success: how often the trigger works
        fig.add_trace(go.Scatter(
            x=x, y=summary[f"attack_success_{panel}_mean"].to_numpy(), mode="lines+markers",
            name=f"attack success, {panel}", legendgroup="asr",
            line=dict(color=PANEL_COLORS[panel], width=1.8, dash="dash"),
            marker=dict(size=6, symbol="diamond-open"),
            hovertemplate=f"attack success, {panel}: %{{y:.0%}}<extra></extra>"))
    if current_rate is not None:
        fig.add_vline(x=current_rate, line=dict(color="#6b7280", width=1.5, dash="dash"),
                      annotation_text=f"current {current_rate:.0%}",
                      annotation_position="top right", annotation_font_size=12)
    fig.update_xaxes(title_text="poison rate (poison points / clean training points)",
                     tickformat=".0%", showgrid=True, gridcolor="#eef0f3")
    low = 0.0 if backdoor else \
        min(float(summary[[f"{p}_accuracy_mean" for p in PANELS]].min().min()), 0.5)
    fig.update_yaxes(title_text="test accuracy / attack success" if backdoor else
                     "test accuracy", tickformat=".0%", showgrid=True,
                     gridcolor="#eef0f3", range=[max(0.0, low - 0.05), 1.02])
    _base_layout(fig, height=height)
    fig.update_layout(showlegend=True, hovermode="x unified",
                      legend=dict(orientation="h", y=1.02, yanchor="bottom", x=0, xanchor="left"),
                      margin=dict(t=36))
    return fig


def detection_figure(curves: dict, *, height: int = 300) -> go.Figure:
    """ROC and precision-recall curves of the defense's suspicion score, operating point marked.

    ``curves`` is :func:`core.metrics.detection_curves`'s dict.
    """
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.14, subplot_titles=(
        f"ROC (AUC {curves['roc_auc']:.2f})" if curves.get("roc_auc") is not None else "ROC",
        f"Precision-recall (AP {curves['average_precision']:.2f})"
        if curves.get("average_precision") is not None else "Precision-recall"))
    color = PANEL_COLORS["defended"]
    roc, pr = curves["roc"], curves["pr"]
    fig.add_trace(go.Scatter(x=roc["fpr"], y=roc["tpr"], mode="lines", name="ROC",
                             line=dict(color=color, width=2.5)), row=1, col=1)
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="chance",
                             line=dict(color="#9ca3af", dash="dash", width=1)), row=1, col=1)
    fig.add_trace(go.Scatter(x=pr["recall"], y=pr["precision"], mode="lines", name="PR",
                             line=dict(color=color, width=2.5)), row=1, col=2)
    op = curves.get("operating_point")
    if op:
        marker = dict(size=12, color=POISON_COLOR, symbol="diamond",
                      line=dict(color="white", width=1))
        fig.add_trace(go.Scatter(x=[op["fpr"]], y=[op["tpr"]], mode="markers", marker=marker,
                                 name="this defense's threshold",
                                 hovertemplate="flagged %{customdata}<extra>threshold</extra>",
                                 customdata=[op["n_flagged"]]), row=1, col=1)
        fig.add_trace(go.Scatter(x=[op["recall"]], y=[op["precision"]], mode="markers",
                                 marker=marker, showlegend=False, hoverinfo="skip"),
                      row=1, col=2)
    fig.update_xaxes(title_text="false positive rate (clean flagged)", range=[0, 1], row=1, col=1)
    fig.update_yaxes(title_text="true positive rate (poison caught)", range=[0, 1.02], row=1,
                     col=1)
    fig.update_xaxes(title_text="recall", range=[0, 1], row=1, col=2)
    fig.update_yaxes(title_text="precision", range=[0, 1.02], row=1, col=2)
    _base_layout(fig, height=height)
    fig.update_layout(showlegend=True, margin=dict(t=30),
                      legend=dict(orientation="h", y=-0.25, x=0))
    return fig


def matrix_figure(table: pd.DataFrame, *, current: tuple[str, str] | None = None,
                  height: int = 360) -> go.Figure:
    """Heatmap of accuracy recovered (share of what the attack took), attacks x defenses.

    ``table`` is :func:`core.matrix.run_matrix`'s tidy frame. Empty cells mean the
    attack took (almost) nothing, so there was nothing to recover.
    """
    attacks = list(dict.fromkeys(table["attack"]))
    defenses = list(dict.fromkeys(table["defense"]))
    grid = table.pivot(index="attack", columns="defense", values="recovered_mean")
    grid = grid.reindex(index=attacks, columns=defenses)
    drop = table.pivot(index="attack", columns="defense", values="drop_mean").reindex(
        index=attacks, columns=defenses)
    z = grid.to_numpy(dtype=float)
    text = [[("–" if np.isnan(v) else f"{v:.0%}") for v in row] for row in z]
    fig = go.Figure(go.Heatmap(
        z=np.clip(z, -1.0, 1.0), x=defenses, y=attacks, text=text, texttemplate="%{text}",
        zmin=-1.0, zmax=1.0, colorscale=[[0, "#b91c1c"], [0.5, "#f9fafb"], [0.75, "#a7f3d0"],
                                         [1, "#047857"]],
        customdata=np.round(100 * drop.to_numpy(dtype=float), 1),
        hovertemplate=("%{y} vs %{x}<br>recovered %{text} of the %{customdata} pts "
                       "the attack took<extra>click to load</extra>"),
        colorbar=dict(title=dict(text="recovered"), tickformat=".0%", len=0.9),
        xgap=2, ygap=2,
    ))
    if current is not None and current[0] in attacks and current[1] in defenses:
        fig.add_shape(type="rect", x0=defenses.index(current[1]) - 0.5,
                      x1=defenses.index(current[1]) + 0.5, y0=attacks.index(current[0]) - 0.5,
                      y1=attacks.index(current[0]) + 0.5, line=dict(color="#111827", width=2.5))
    fig.update_xaxes(tickangle=-30, side="bottom")
    fig.update_yaxes(autorange="reversed")
    _base_layout(fig, height=height)
    fig.update_layout(margin=dict(l=110, r=10, t=10, b=90), uirevision=None)
    return fig


#: the campaign's three ways side by side, and their colors
CAMPAIGN_VARIANTS = {"none": "no defense", "defense": "per-month defense",
                     "gate": "update gate"}
CAMPAIGN_COLORS = {"none": PANEL_COLORS["poisoned"], "defense": "#d97706",
                   "gate": PANEL_COLORS["defended"]}


def campaign_timeline(payload: dict, *, height: int = 520) -> go.Figure:
    """Months on x: held-out accuracy, approval rate, target approved, expected loss.

    ``payload`` is :func:`dashboard.service.campaign_payload`'s: per variant, its months
    (the rows core computed). Updates the gate rejected are marked with an x.
    """
    from plotly.subplots import make_subplots

    rows = (("accuracy", "held-out accuracy", ".0%"), ("approval_rate", "approval rate", ".0%"),
            ("target_approved", "target approved", None),
            ("expected_loss", f"expected loss ({payload.get('currency', '$')})", ",.0f"))
    fig = make_subplots(rows=4, cols=1, shared_xaxes=True, vertical_spacing=0.05,
                        subplot_titles=[r[1] for r in rows])
    for name, label in CAMPAIGN_VARIANTS.items():
        months = payload["variants"][name]["months"]
        x = [m["month"] for m in months]
        color = CAMPAIGN_COLORS[name]
        title = payload["variants"][name]["title"]
        for i, (key, _, fmt) in enumerate(rows, start=1):
            y = [float(m[key]) for m in months]
            fig.add_trace(go.Scatter(
                x=x, y=y, mode="lines+markers", name=title, legendgroup=name,
                showlegend=i == 1, line=dict(color=color, width=2.2,
                                             shape="hv" if key == "target_approved" else None),
                marker=dict(size=5),
                hovertemplate=f"{label}, month %{{x}}: %{{y{':' + fmt if fmt else ''}}}"
                              "<extra></extra>"), row=i, col=1)
        rejected = [m for m in months if not m["deployed"]]
        if rejected:
            fig.add_trace(go.Scatter(
                x=[m["month"] for m in rejected], y=[m["accuracy"] for m in rejected],
                mode="markers", name="update rejected by the gate", legendgroup="rejected",
                marker=dict(symbol="x", size=10, color=color, line=dict(width=1)),
                customdata=[m["verdict"] for m in rejected],
                hovertemplate="month %{x}: rejected (%{customdata})<extra></extra>"),
                row=1, col=1)
    fig.update_yaxes(tickformat=".0%", row=1, col=1)
    fig.update_yaxes(tickformat=".0%", row=2, col=1)
    fig.update_yaxes(tickvals=[0, 1], ticktext=["denied", "approved"], range=[-0.2, 1.2],
                     row=3, col=1)
    fig.update_yaxes(tickformat=",.0f", row=4, col=1)
    fig.update_xaxes(title_text="month", dtick=1, row=4, col=1)
    _base_layout(fig, height=height)
    fig.update_layout(showlegend=True, hovermode="closest", margin=dict(t=40, l=60),
                      legend=dict(orientation="h", y=1.06, yanchor="bottom", x=0,
                                  xanchor="left"))
    return fig


def campaign_months(payload: dict, variant: str, *, height: int = 460) -> go.Figure:
    """The deployed model's boundary month by month (slider and Play), month 0 dashed.

    The contour is the deployed model's decision function on the campaign's 2-D view;
    the attacker's applications appear in the month they entered the log, the target as
    a star (filled once the deployed model approves it).
    """
    v = payload["variants"][variant]
    gx, gy, grids = payload["grid_x"], payload["grid_y"], v["grids"]
    pts, when = np.asarray(v["attacker"], dtype=float).reshape(-1, 2), np.asarray(v["when"])
    target = payload["target"]
    months = v["months"]
    clean = go.Contour(x=gx, y=gy, z=grids[0], contours=dict(start=0, end=0, coloring="none"),
                       line=dict(color=CLEAN_BOUNDARY_COLOR, width=2, dash="dash"),
                       showscale=False, hoverinfo="skip", name="month-0 boundary")

    def frame_data(k: int) -> list:
        z = np.asarray(grids[k], dtype=float)
        # two flat colors, deny and approve: what moves month to month is the decision
        region = go.Contour(x=gx, y=gy, z=np.sign(z).astype(np.int8), zmin=-1, zmax=1,
                            colorscale=[[0, REGION_COLORS[0]], [1, REGION_COLORS[2]]],
                            contours=dict(start=0, end=0, size=1, coloring="fill"),
                            line=dict(width=0), showscale=False, hoverinfo="skip",
                            name="deployed model")
        line = go.Contour(x=gx, y=gy, z=z, contours=dict(start=0, end=0, coloring="none"),
                          line=dict(color=BOUNDARY_COLOR, width=2.5), showscale=False,
                          hoverinfo="skip", name=f"boundary, month {k}")
        shown = pts[when <= k] if len(pts) else pts
        fakes = go.Scatter(x=shown[:, 0], y=shown[:, 1], mode="markers",
                           name="attacker's applications",
                           marker=dict(symbol="x", size=7, color=POISON_COLOR))
        approved = bool(months[k]["target_approved"])
        star = go.Scatter(x=[target[0]], y=[target[1]], mode="markers",
                          name="target: " + ("APPROVED" if approved else "denied"),
                          marker=dict(symbol="star" if approved else "star-open", size=18,
                                      color=POISON_COLOR if approved else BOUNDARY_COLOR,
                                      line=dict(width=1.5, color=BOUNDARY_COLOR)))
        return [region, line, clean, fakes, star]

    n = len(grids)
    fig = go.Figure(data=frame_data(0),
                    frames=[go.Frame(data=frame_data(k), name=str(k)) for k in range(n)])
    # a month whose update the gate rejected is marked on the slider
    steps = [dict(method="animate", label=str(k) + ("" if months[k]["deployed"] else " ✗"),
                  args=[[str(k)], dict(mode="immediate", frame=dict(duration=0, redraw=True),
                                       transition=dict(duration=0))]) for k in range(n)]
    rejected = any(not m["deployed"] for m in months)
    fig.update_layout(
        sliders=[dict(active=0, steps=steps, x=0.08, len=0.92, y=-0.05,
                      currentvalue=dict(prefix="month (✗ = update rejected) " if rejected
                                        else "month ", font=dict(size=13)))],
        updatemenus=[dict(type="buttons", showactive=False, x=0, y=-0.05, xanchor="left",
                          yanchor="top", buttons=[dict(
                              label="▶ Play", method="animate",
                              args=[None, dict(frame=dict(duration=700, redraw=True),
                                               fromcurrent=True,
                                               transition=dict(duration=0))])])])
    fig.update_xaxes(title_text=payload["axes"][0], range=[gx[0], gx[-1]])
    fig.update_yaxes(title_text=payload["axes"][1], range=[gy[0], gy[-1]])
    _base_layout(fig, height=height)
    fig.update_layout(showlegend=True, margin=dict(b=90),
                      legend=dict(orientation="h", y=1.02, yanchor="bottom", x=0,
                                  xanchor="left"),
                      )
    return fig
