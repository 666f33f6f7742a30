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
from seedscope.fingerprints import NOT_REPORTED, FingerprintChange, series_label
from seedscope.metrics import upper_triangle

SNIPPET_CHARS = 80
CELL_VALUES_MAX_RUNS = 12  # print distances inside heatmap cells up to this many runs
NOT_REPORTED_COLOR = "#9e9e9e"
TIMELINE_COLUMNS = (
    "started_at",
    "provider",
    "model",
    "base_url_host",
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


# The hover of a heatmap cell. Plotly fills %{x}, %{y} (the run numbers on the axes) and
# %{z} itself; only the two snippets travel per cell, as customdata. Model text is never part
# of the template: plotly substitutes each %{...} once, so a snippet holding "%{z}" shows as
# written, and it is escaped by `plain` like every label.
HEATMAP_HOVER = (
    "run %{y} vs run %{x}<br>cosine distance %{z:.4f}"
    "<br>run %{y}: %{customdata[0]}<br>run %{x}: %{customdata[1]}<extra></extra>"
)


def _heatmap_trace(arm: ArmAnalysis, **style: object) -> go.Heatmap:
    """One arm's distance matrix. The hover shows both runs' snippets: sending each cell's
    full hover text (2 x 100 x 100 strings of ~230 characters for a 2 x 100 experiment) made
    most of a report; the template and per-cell snippet pairs are about a third smaller."""
    runs = [str(index) for index in arm.run_indices]
    snippets = np.array([plain(text, SNIPPET_CHARS) for text in arm.texts], dtype=object)
    # (row's snippet, column's snippet) per cell, as a numpy array: plotly copies and encodes
    # it as one array, where 10,000 small lists took it half a second per 100-run arm.
    pairs = np.stack(np.broadcast_arrays(snippets[:, None], snippets[None, :]), axis=-1)
    small = len(runs) <= CELL_VALUES_MAX_RUNS
    return go.Heatmap(
        z=arm.distances,
        x=runs,
        y=runs,
        customdata=pairs,
        hovertemplate=HEATMAP_HOVER,
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
    frame["started_at"] = [_utc(value) for value in frame["started_at"]]
    # The series key (provider, model, host or None), as the store's change events name it.
    frame["key"] = [
        (str(provider), str(model), None if _missing(host) or not host else str(host))
        for provider, model, host in zip(
            frame["provider"], frame["model"], frame["base_url_host"], strict=True
        )
    ]
    frame["series"] = [series_label(*key) for key in frame["key"]]
    frame["row"] = [_series_row(*key) for key in frame["key"]]
    frame["fingerprint"] = [
        NOT_REPORTED if _missing(fp) else str(fp) for fp in frame["system_fingerprint"]
    ]
    return frame.sort_values("started_at", kind="stable")


def _utc(value: object) -> pd.Timestamp:
    """A time as naive UTC, for runs and change events alike: stored times are UTC-aware, a
    naive time is taken to be UTC already."""
    stamp = pd.Timestamp(value)
    return stamp if stamp.tzinfo is None else stamp.tz_convert("UTC").tz_localize(None)


def _series_row(provider: str, model: str, host: str | None) -> str:
    """A series' row label on the timeline, escaped: provider/model, the host on a second line
    (a long label on one line would squeeze the plot at laptop width)."""
    name = plain(f"{provider}/{model}")
    return f"{name}<br>@ {plain(host)}" if host else name


def _missing(value: object) -> bool:
    """None, NaN, pd.NA or NaT: how a DataFrame may hold a missing seed or fingerprint."""
    return value is None or (pd.api.types.is_scalar(value) and bool(pd.isna(value)))


def _optional(value: object) -> str:
    # Seeds are int64: pass them as object or Int64 columns, floats cannot hold them exactly.
    if _missing(value):
        return "none"
    return plain(int(value) if isinstance(value, float) else value)


CHANGE_EVENT = "change event"
CHANGE_EVENT_COLOR = "#777777"  # reads on the light and the dark theme
# Sizing only (plotly lays the legend out itself): a legend group (one fingerprint, a line per
# arm) is about 19 px a line plus a 10 px gap, and a row of the legend holds about 3 groups
# where the chart is narrowest (about 700 px in a 1024 px window). The legend has a margin of
# its own under the axis, so more rows than estimated shrink the plot; they never cover it.
_LEGEND_GROUPS_PER_ROW = 3
_LEGEND_LINE_PX = 19
_LEGEND_GAP_PX = 10
_SERIES_ROW_PX = 64
_TOP_PX = 56  # the title
_AXIS_PX = 80  # two-line date ticks and the axis title


def _legend_below(title: str) -> dict[str, Any]:
    """A horizontal legend under the plot. In container coordinates plotly reserves a margin
    of its own for it, under the margin the axis' tick labels and title take: they cannot
    overlap."""
    return {
        "title": {"text": title, "side": "top"},
        "orientation": "h",
        "xref": "container",
        "x": 0,
        "xanchor": "left",
        "yref": "container",
        "y": 0,
        "yanchor": "bottom",
    }


def fingerprint_timeline(
    rows: pd.DataFrame, changes: Sequence[FingerprintChange] = ()
) -> go.Figure:
    """Runs over time, one row per series (provider/model @ host): colour = system fingerprint,
    symbol = arm; a grey vertical bar on a series' row marks each of `changes`.

    `rows` needs the TIMELINE_COLUMNS; None (or NaN) fingerprints show as "not reported".
    Give seed columns as object or Int64 dtype: a float64 column cannot hold every int64 seed.
    `changes` are the store's change events (`Store.fingerprint_events`, defined in
    seedscope.fingerprints): the chart marks them and never works out changes of its own, so
    it agrees with the page's count and list. An event outside the runs drawn (another series,
    or after the last run of a truncated timeline) is not marked.
    The legend sits under the plot, in its own margin below the date labels and axis title.
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
    # Rows in the order of the page's tables: provider, model, then host (none first).
    keys = sorted(set(frame["key"]), key=lambda k: (k[0], k[1], k[2] is not None, k[2] or ""))
    row_of = {key: _series_row(*key) for key in keys}
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
                y=group["row"],
                mode="markers",
                name=f"{plain(fingerprint)} · {plain(arm)}",
                legendgroup=plain(fingerprint),
                marker={"color": colors[fingerprint], "symbol": symbols[arm], "size": 10},
                hovertext=hover,
                hoverinfo="text",
            )
        )
    first, last = frame["started_at"].min(), frame["started_at"].max()
    marked = [
        c
        for c in changes
        if (c.provider, c.model, c.base_url_host or None) in row_of
        and first <= _utc(c.started_at) <= last
    ]
    if marked:
        fig.add_trace(
            go.Scatter(
                x=[_utc(c.started_at) for c in marked],
                y=[row_of[(c.provider, c.model, c.base_url_host or None)] for c in marked],
                mode="markers",
                name=CHANGE_EVENT,
                marker={
                    "symbol": "line-ns-open",
                    "size": 30,
                    "color": CHANGE_EVENT_COLOR,
                    "line": {"width": 2, "color": CHANGE_EVENT_COLOR},
                },
                hovertext=[_change_hover(c) for c in marked],
                hoverinfo="text",
            )
        )
    groups = len(fingerprints) + (1 if marked else 0)
    group_px = _LEGEND_LINE_PX * len(arms) + _LEGEND_GAP_PX
    legend_px = _LEGEND_LINE_PX + group_px * -(-groups // _LEGEND_GROUPS_PER_ROW)
    fig.update_layout(
        title={"text": "System fingerprint over time", "automargin": True, "pad": {"t": 8}},
        legend=_legend_below("fingerprint · arm"),
        margin={"t": _TOP_PX},
        height=_TOP_PX + max(200, _SERIES_ROW_PX * len(keys)) + _AXIS_PX + legend_px,
        hovermode="closest",
    )
    fig.update_xaxes(title_text="time (UTC)", type="date", automargin=True)
    fig.update_yaxes(
        title_text="series (provider/model @ host)",
        type="category",
        categoryorder="array",
        categoryarray=[row_of[key] for key in keys],
        autorange="reversed",
        automargin=True,
    )
    return fig


def _change_hover(change: FingerprintChange) -> str:
    return (
        f"{_utc(change.started_at):%Y-%m-%d %H:%M:%S}<br>change event · "
        f"{plain(change.series)}<br>fingerprint {plain(change.describe())}"
        f"<br>{change.runs_before} runs before (the last at "
        f"{_utc(change.previous_seen):%Y-%m-%d %H:%M:%S}), {change.runs_after} after"
    )


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


# Sizing only, as for the timeline: plotly wraps a horizontal legend at the plot area's width,
# which the long request labels narrow to about 350 px in a 1024 px window, one entry a row.
_DRIFT_LEGEND_ENTRIES_PER_ROW = 1
_DRIFT_ROW_PX = 60
_DRIFT_LABEL_LINE_PX = 16  # a line of a wrapped row label; a row is at least its label's height
_DRIFT_MIN_PLOT_PX = 120


def drift_chart(points: pd.DataFrame) -> go.Figure:
    """Repeated fixed requests over time: one row per request, one point per run.

    `points` needs DRIFT_COLUMNS: `request` is the row label, `status` is "first" (the
    request's earliest run), "same" (text identical to the previous run) or "changed";
    `fingerprint_changed` compares with the previous run (ignored for "first"). Colour is the
    text status; a star marks a run whose fingerprint changed, an x a text change the
    fingerprint did not announce. Times are shown in UTC (a naive time is taken to be UTC).
    The legend sits under the plot, in its own margin below the date labels and axis title.
    """
    title = "Repeated fixed requests: did the text change?"
    if points.empty:
        return empty_figure("No fixed request has been repeated yet", title)
    missing = [column for column in DRIFT_COLUMNS if column not in points.columns]
    if missing:
        raise ValueError(f"drift points lack columns: {', '.join(missing)}")
    frame = points.loc[:, list(DRIFT_COLUMNS)].copy()
    frame["started_at"] = [_utc(value) for value in frame["started_at"]]
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
    # The timeline's layout: the legend under the plot (a side legend leaves the points no
    # room at laptop width) in container coordinates, so plotly gives it a margin of its own
    # below the one the date labels and the axis title take; titles with automargin.
    entries = len(fig.data)
    legend_px = _LEGEND_LINE_PX * (1 + -(-entries // _DRIFT_LEGEND_ENTRIES_PER_ROW))
    lines = max(row.count("<br>") + 1 for row in rows)
    row_px = max(_DRIFT_ROW_PX, _DRIFT_LABEL_LINE_PX * lines + 16)
    fig.update_layout(
        title={"text": title, "automargin": True, "pad": {"t": 8}},
        legend=_legend_below("vs the previous run:"),
        margin={"t": _TOP_PX},
        height=_TOP_PX
        + max(_DRIFT_MIN_PLOT_PX, row_px * len(rows))
        + _AXIS_PX
        + legend_px
        + _LEGEND_GAP_PX,
    )
    fig.update_xaxes(title_text="time (UTC)", type="date", automargin=True)
    # Half a row above the first and below the last request (first on top), so the bottom
    # row's label, centred on its row, stays above the date labels; autorange would pad by
    # the marker size only and let a label of several lines hang into them.
    fig.update_yaxes(
        title_text="fixed request",
        type="category",
        categoryorder="array",
        categoryarray=rows,
        range=[len(rows) - 0.5, -0.5],
        automargin=True,
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
