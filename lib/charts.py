"""Pure Plotly figure builders for an ExperimentAnalysis and the fingerprint history.

Each builder takes analysed data and display options only (colour scale, zmax), so changing a
display control redraws without recomputing the analysis. Empty inputs give a figure carrying
an explanatory annotation instead of raising.

Plotly renders hover text, legend names and titles as a subset of HTML, and model output is
untrusted: every piece of model text or user label goes through `plain` (which escapes `&`,
`<`, `>` and flattens whitespace) before it reaches a figure.
"""

from __future__ import annotations

import html
import textwrap
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import qualitative
from plotly.subplots import make_subplots
from seedscope.analysis import ArmAnalysis, ExperimentAnalysis
from seedscope.metrics import upper_triangle

SNIPPET_CHARS = 80
CELL_VALUES_MAX_RUNS = 12  # print distances inside heatmap cells up to this many runs
NOT_REPORTED = "not reported"
NOT_REPORTED_COLOR = "#9e9e9e"
TIMELINE_COLUMNS = (
    "started_at",
    "provider",
    "model",
    "system_fingerprint",
    "arm_label",
    "requested_seed",
    "effective_seed",
    "text",
)
_SYMBOLS = ("circle", "diamond", "square", "x", "triangle-up", "star", "cross", "hexagon")


def plain(text: object, limit: int | None = None) -> str:
    """`text` made safe for Plotly's HTML-ish labels: whitespace flattened, cut, escaped."""
    flat = " ".join(str(text).split())
    if limit is not None and len(flat) > limit:
        flat = flat[: limit - 1].rstrip() + "…"
    return html.escape(flat, quote=False)


def first_words(text: str, count: int = 12) -> str:
    words = text.split()
    snippet = " ".join(words[:count]) + (" …" if len(words) > count else "")
    return plain(snippet, SNIPPET_CHARS)


def empty_figure(message: str, title: str | None = None) -> go.Figure:
    """A blank figure that says why there is nothing to draw."""
    fig = go.Figure()
    fig.add_annotation(
        text=plain(message), x=0.5, y=0.5, xref="paper", yref="paper", showarrow=False
    )
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    if title:
        fig.update_layout(title=plain(title))
    return fig


def _heatmap_trace(arm: ArmAnalysis, **style: object) -> go.Heatmap:
    runs = [str(index) for index in arm.run_indices]
    snippets = [plain(text, SNIPPET_CHARS) for text in arm.texts]
    distances = arm.distances
    hover = [
        [
            f"run {runs[i]} vs run {runs[j]}<br>cosine distance {distances[i, j]:.4f}"
            f"<br>run {runs[i]}: {snippets[i]}<br>run {runs[j]}: {snippets[j]}"
            for j in range(len(runs))
        ]
        for i in range(len(runs))
    ]
    small = len(runs) <= CELL_VALUES_MAX_RUNS
    return go.Heatmap(
        z=distances,
        x=runs,
        y=runs,
        hovertext=hover,
        hoverinfo="text",
        texttemplate="%{z:.2f}" if small else None,
        name=plain(arm.label),
        **style,
    )


def _distance_ceiling(arms: Sequence[ArmAnalysis]) -> float:
    values = [float(arm.distances.max()) for arm in arms if arm.distances.size]
    top = max(values, default=0.0)
    return top if top > 0 else 1.0  # all zeros: keep an honest 0..1 scale


def arm_heatmap(
    arm: ArmAnalysis, zmax: float | None = None, colorscale: str = "Viridis"
) -> go.Figure:
    """Cosine distance heatmap of one arm; axes are run numbers (run 0 top left)."""
    title = f"{arm.label}: cosine distance between runs"
    if not arm.texts:
        return empty_figure(f"No successful runs in arm {arm.label}", title)
    fig = go.Figure(
        _heatmap_trace(
            arm,
            zmin=0.0,
            zmax=zmax if zmax is not None else _distance_ceiling([arm]),
            colorscale=colorscale,
            colorbar={"title": {"text": "cosine distance"}},
        )
    )
    fig.update_layout(title=plain(title))
    fig.update_xaxes(title_text="run", type="category")
    fig.update_yaxes(title_text="run", type="category", autorange="reversed")
    return fig


def arms_heatmaps(analysis: ExperimentAnalysis, colorscale: str = "Viridis") -> go.Figure:
    """One heatmap per arm side by side, all on one colour axis from 0 so arms compare honestly."""
    if not analysis.arms:
        return empty_figure("No arms to show")
    arms = analysis.arms
    fig = make_subplots(
        rows=1,
        cols=len(arms),
        subplot_titles=[plain(arm.label) for arm in arms],
        horizontal_spacing=min(0.08, 0.5 / len(arms)),
    )
    for col, arm in enumerate(arms, start=1):
        if arm.texts:
            fig.add_trace(_heatmap_trace(arm, coloraxis="coloraxis"), row=1, col=col)
        else:
            axis = "" if col == 1 else str(col)
            fig.add_annotation(
                text="no successful runs",
                x=0.5,
                y=0.5,
                xref=f"x{axis} domain",
                yref=f"y{axis} domain",
                showarrow=False,
            )
        fig.update_xaxes(title_text="run", type="category", row=1, col=col)
        fig.update_yaxes(type="category", autorange="reversed", row=1, col=col)
    fig.update_yaxes(title_text="run", row=1, col=1)
    fig.update_layout(
        coloraxis={
            "colorscale": colorscale,
            "cmin": 0.0,
            "cmax": _distance_ceiling(arms),
            "colorbar": {"title": {"text": "cosine distance"}},
        },
        title="Cosine distance between runs (one colour scale for all arms)",
    )
    return fig


def distance_distribution(analysis: ExperimentAnalysis) -> go.Figure:
    """Box plot with every point: the pairwise cosine distances (i < j) of each arm."""
    fig = go.Figure()
    highest = 0.0
    for arm in analysis.arms:
        values = upper_triangle(arm.distances)
        if values.size == 0:
            continue
        highest = max(highest, float(values.max()))
        rows, cols = np.triu_indices(len(arm.run_indices), k=1)
        hover = [
            f"run {arm.run_indices[i]} vs run {arm.run_indices[j]}: {value:.4f}"
            for i, j, value in zip(rows, cols, values, strict=True)
        ]
        fig.add_trace(
            go.Box(
                y=values,
                name=plain(arm.label),
                boxpoints="all",
                jitter=0.4,
                pointpos=0,
                hovertext=hover,
                hoverinfo="text",
            )
        )
    if not fig.data:
        return empty_figure("No arm has two successful runs to compare", "Pairwise distances")
    fig.update_layout(title="Pairwise cosine distances per arm", showlegend=False)
    fig.update_xaxes(title_text="arm")
    # Start a little below 0 so an arm whose distances are all 0 (a reproducible seeded arm)
    # shows its points above the axis line instead of hidden on it.
    top = highest * 1.05 if highest > 0 else 1.0
    fig.update_yaxes(title_text="cosine distance", range=[-0.04 * top, top])
    return fig


def distinct_output_frequency(analysis: ExperimentAnalysis) -> go.Figure:
    """Bars per arm: how many runs produced each distinct text, most frequent first."""
    fig = go.Figure()
    for arm in analysis.arms:
        counts = Counter(arm.texts).most_common()
        if not counts:
            continue
        fig.add_trace(
            go.Bar(
                x=[f"#{rank}" for rank in range(1, len(counts) + 1)],
                y=[count for _, count in counts],
                name=plain(arm.label),
                hovertext=[
                    f"{plain(arm.label)} output #{rank}: {count} of {len(arm.texts)} runs"
                    f"<br>{plain(text, SNIPPET_CHARS) or '(empty output)'}"
                    for rank, (text, count) in enumerate(counts, start=1)
                ],
                hoverinfo="text",
            )
        )
    if not fig.data:
        return empty_figure("No successful runs", "Distinct outputs")
    fig.update_layout(title="Runs per distinct output", barmode="group")
    fig.update_xaxes(title_text="distinct output (most frequent first)", type="category")
    fig.update_yaxes(title_text="runs", rangemode="tozero", dtick=1)
    return fig


def _timeline_frame(rows: pd.DataFrame) -> pd.DataFrame:
    missing = [column for column in TIMELINE_COLUMNS if column not in rows.columns]
    if missing:
        raise ValueError(f"fingerprint rows lack columns: {', '.join(missing)}")
    frame = rows.loc[:, list(TIMELINE_COLUMNS)].copy()
    frame["started_at"] = pd.to_datetime(frame["started_at"])
    frame["series"] = frame["provider"].astype(str) + "/" + frame["model"].astype(str)
    frame["fingerprint"] = [
        NOT_REPORTED if _missing(fp) else str(fp) for fp in frame["system_fingerprint"]
    ]
    return frame.sort_values("started_at", kind="stable")


def fingerprint_change_times(rows: pd.DataFrame) -> pd.DataFrame:
    """Where each provider/model's fingerprint differs from its previous run, by time.

    Columns: started_at, series ("provider/model"), previous_fingerprint, fingerprint, with
    "not reported" standing for None (a change to or from it counts). Empty input, or no
    change, gives an empty frame with those columns.
    """
    columns = ["started_at", "series", "previous_fingerprint", "fingerprint"]
    if rows.empty:
        return pd.DataFrame(columns=columns)
    frame = _timeline_frame(rows)
    frame["previous_fingerprint"] = frame.groupby("series", sort=False)["fingerprint"].shift()
    changed = frame["previous_fingerprint"].notna() & (
        frame["previous_fingerprint"] != frame["fingerprint"]
    )
    return frame.loc[changed, columns].reset_index(drop=True)


def _missing(value: object) -> bool:
    """None, NaN, pd.NA or NaT: how a DataFrame may hold a missing seed or fingerprint."""
    return value is None or (pd.api.types.is_scalar(value) and bool(pd.isna(value)))


def _optional(value: object) -> str:
    # Seeds are int64: pass them as object or Int64 columns, floats cannot hold them exactly.
    if _missing(value):
        return "none"
    return plain(int(value) if isinstance(value, float) else value)


def fingerprint_timeline(rows: pd.DataFrame) -> go.Figure:
    """Runs over time per provider/model: colour = system fingerprint, symbol = arm.

    `rows` needs the TIMELINE_COLUMNS; None (or NaN) fingerprints show as "not reported".
    Give seed columns as object or Int64 dtype: a float64 column cannot hold every int64 seed.
    A dotted vertical line marks each time a model's fingerprint changed.
    """
    if rows.empty:
        return empty_figure("No runs recorded yet", "System fingerprint over time")
    frame = _timeline_frame(rows)
    fingerprints = list(dict.fromkeys(frame["fingerprint"]))
    palette = qualitative.Plotly
    reported = [fp for fp in fingerprints if fp != NOT_REPORTED]
    colors = {fp: palette[i % len(palette)] for i, fp in enumerate(reported)}
    colors[NOT_REPORTED] = NOT_REPORTED_COLOR
    arms = list(dict.fromkeys(frame["arm_label"].astype(str)))
    symbols = {arm: _SYMBOLS[i % len(_SYMBOLS)] for i, arm in enumerate(arms)}
    fig = go.Figure()
    for (fingerprint, arm), group in frame.groupby(
        ["fingerprint", frame["arm_label"].astype(str)], sort=False
    ):
        hover = [
            f"{row.started_at:%Y-%m-%d %H:%M:%S}<br>{plain(row.series)} · arm {plain(arm)}"
            f"<br>seed {_optional(row.requested_seed)}, effective seed "
            f"{_optional(row.effective_seed)}<br>fingerprint {plain(fingerprint)}"
            f"<br>{first_words(str(row.text or ''))}"
            for row in group.itertuples()
        ]
        fig.add_trace(
            go.Scatter(
                x=group["started_at"],
                y=group["series"].map(plain),
                mode="markers",
                name=f"{plain(fingerprint)} · {plain(arm)}",
                legendgroup=plain(fingerprint),
                marker={"color": colors[fingerprint], "symbol": symbols[arm], "size": 10},
                hovertext=hover,
                hoverinfo="text",
            )
        )
    for change in fingerprint_change_times(rows).itertuples():
        fig.add_shape(
            type="line",
            x0=change.started_at,
            x1=change.started_at,
            y0=0,
            y1=1,
            xref="x",
            yref="paper",
            line={"dash": "dot", "width": 1, "color": "#555555"},
            name=plain(f"{change.series}: {change.previous_fingerprint} -> {change.fingerprint}"),
        )
    fig.update_layout(
        title="System fingerprint over time",
        legend_title_text="fingerprint · arm",
    )
    fig.update_xaxes(title_text="time")
    fig.update_yaxes(title_text="provider/model", type="category")
    return fig


DRIFT_COLUMNS = (
    "started_at",
    "request",
    "status",
    "fingerprint_changed",
    "system_fingerprint",
    "previous_fingerprint",
    "text_preview",
)
# (status, fingerprint changed) -> legend name, colour, symbol. Colour says whether the text
# changed; the symbol says whether the fingerprint changed with it, so the two read apart
# without relying on colour alone.
_DRIFT_STYLES: dict[tuple[str, bool], tuple[str, str, str]] = {
    ("first", False): ("first run", NOT_REPORTED_COLOR, "circle-open"),
    ("same", False): ("same text", "#2e7d32", "circle"),
    ("same", True): ("same text · fingerprint changed", "#2e7d32", "star"),
    ("changed", False): ("changed · same fingerprint", "#d62728", "x"),
    ("changed", True): ("changed · fingerprint changed", "#d62728", "star"),
}


def drift_chart(points: pd.DataFrame) -> go.Figure:
    """Repeated fixed requests over time: one row per request, one point per run.

    `points` needs DRIFT_COLUMNS: `request` is the row label, `status` is "first" (the
    request's earliest run), "same" (text identical to the previous run) or "changed";
    `fingerprint_changed` compares with the previous run (ignored for "first"). Colour is the
    text status; a star marks a run whose fingerprint changed, an x a text change the
    fingerprint did not announce.
    """
    title = "Repeated fixed requests: did the text change?"
    if points.empty:
        return empty_figure("No fixed request has been repeated yet", title)
    missing = [column for column in DRIFT_COLUMNS if column not in points.columns]
    if missing:
        raise ValueError(f"drift points lack columns: {', '.join(missing)}")
    frame = points.loc[:, list(DRIFT_COLUMNS)].copy()
    frame["started_at"] = pd.to_datetime(frame["started_at"])
    frame = frame.sort_values("started_at", kind="stable")
    frame["style"] = [
        (status, status != "first" and bool(changed) and not _missing(changed))
        for status, changed in zip(frame["status"], frame["fingerprint_changed"], strict=True)
    ]
    unknown = sorted(
        {status for status, _ in frame["style"] if (status, False) not in _DRIFT_STYLES}
    )
    if unknown:
        raise ValueError(f"unknown drift status: {', '.join(unknown)}")
    frame["row"] = frame["request"].astype(str).map(_wrapped)
    rows = list(dict.fromkeys(frame["row"]))
    fig = go.Figure()
    for style, (name, color, symbol) in _DRIFT_STYLES.items():
        group = frame[frame["style"] == style]
        if group.empty:
            continue
        hover = [_drift_hover(row, name) for row in group.itertuples()]
        fig.add_trace(
            go.Scatter(
                x=group["started_at"],
                y=group["row"],
                mode="markers",
                name=name,
                marker={
                    "color": color,
                    "symbol": symbol,
                    "size": 14 if symbol == "star" else 11,
                    "line": {"width": 2 if symbol == "circle-open" else 0, "color": color},
                },
                hovertext=hover,
                hoverinfo="text",
            )
        )
    # Legend below the plot (a side legend leaves the points no room at laptop width), where
    # an x-axis title would collide with it; the dates on the axis say what it is.
    fig.update_layout(
        title=title,
        legend={
            "title": {"text": "vs the previous run:"},
            "orientation": "h",
            "yanchor": "top",
            "y": -0.2,
        },
        height=max(300, 180 + 60 * len(rows)),
    )
    fig.update_xaxes(type="date")
    fig.update_yaxes(
        title_text=None,
        type="category",
        categoryorder="array",
        categoryarray=rows,
        autorange="reversed",
    )
    return fig


def _wrapped(label: str, width: int = 36) -> str:
    """A row label escaped and broken into lines, so long labels do not squeeze the plot."""
    return "<br>".join(plain(line) for line in textwrap.wrap(label, width)) or plain(label)


def _fingerprint(value: object) -> str:
    return NOT_REPORTED if _missing(value) else str(value)


def _drift_hover(row: Any, name: str) -> str:
    """Time, request, status, fingerprint (before → now after a repeat) and the text's start."""
    now = plain(_fingerprint(row.system_fingerprint))
    before = "" if row.status == "first" else f"{plain(_fingerprint(row.previous_fingerprint))} → "
    return (
        f"{row.started_at:%Y-%m-%d %H:%M:%S}<br>{plain(row.request)}"
        f"<br>{plain(name)}<br>fingerprint {before}{now}<br>{first_words(str(row.text_preview))}"
    )
