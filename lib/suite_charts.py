"""Plotly figures of a SuiteAnalysis (pure builders: analysed data in, figure out).

Case ids and arm labels are user text: they reach hover text and axis labels only through
`seedscope.charts.plain` (Plotly renders a subset of HTML there).
"""

from __future__ import annotations

import plotly.graph_objects as go
from seedscope.charts import empty_figure, plain
from seedscope.suite_analysis import CaseMetrics, SuiteAnalysis

LABELLED_ROWS_MAX = 60  # more cases than this: no case id beside every row (unreadable)
ROW_PX = 14  # height per case, between the bounds below
MIN_HEIGHT_PX, MAX_HEIGHT_PX = 260, 900


def _hover(row: CaseMetrics) -> str:
    share = "–" if row.modal_share is None else f"{row.modal_share:.0%}"
    label = row.label or ("excluded: fewer than N runs" if row.excluded else "–")
    return (
        f"case {plain(row.case_id, 60)}<br>arm {plain(row.arm, 40)}<br>"
        f"modal share {share} of {row.runs} runs, {row.distinct_outputs} distinct<br>{label}"
    )


def modal_share_heatmap(analysis: SuiteAnalysis, colorscale: str = "RdYlGn") -> go.Figure:
    """Cases (rows, suite order) x arms (columns): the share of runs giving the most common
    output, 0..1 (1: every run the same text). A case with no successful run is a gap."""
    title = "Modal share per case and arm (1 = every run gave the same text)"
    if not analysis.cases:
        return empty_figure("No cases to show", title)
    arms = [arm.label for arm in analysis.arms]
    case_ids = list(dict.fromkeys(row.case_id for row in analysis.cases))
    position = {case_id: index for index, case_id in enumerate(case_ids)}
    column = {label: index for index, label in enumerate(arms)}
    z: list[list[float | None]] = [[None] * len(arms) for _ in case_ids]
    hover = [[""] * len(arms) for _ in case_ids]
    for row in analysis.cases:
        i, j = position[row.case_id], column[row.arm]
        z[i][j] = row.modal_share
        hover[i][j] = _hover(row)
    # Rows by position (unique even when two ids print alike); ids as tick labels.
    rows = list(range(len(case_ids)))
    figure = go.Figure(
        go.Heatmap(
            z=z,
            x=[plain(label, 30) for label in arms],
            y=rows,
            zmin=0.0,
            zmax=1.0,
            colorscale=colorscale,
            hovertext=hover,
            hoverinfo="text",
            colorbar={"title": {"text": "modal share"}},
            xgap=2,
        )
    )
    labelled = len(case_ids) <= LABELLED_ROWS_MAX
    figure.update_yaxes(
        title_text="case" if labelled else f"case (1–{len(case_ids)}, suite order)",
        autorange="reversed",
        tickmode="array" if labelled else "auto",
        tickvals=rows if labelled else None,
        ticktext=[plain(case_id, 24) for case_id in case_ids] if labelled else None,
        showticklabels=labelled,
    )
    figure.update_xaxes(title_text="arm", type="category", side="top")
    height = min(MAX_HEIGHT_PX, max(MIN_HEIGHT_PX, ROW_PX * len(case_ids) + 120))
    figure.update_layout(title=plain(title), height=height, margin={"t": 90})
    return figure
