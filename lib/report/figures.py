"""The report's Plotly figures: a placeholder <div> each, drawn by one small script.

The figures travel as one inert JSON document (`<script type="application/json">`), not as
Plotly's per-figure inline scripts, so the page holds exactly three scripts: plotly.js (the
offline bundle, inlined once), the figures' JSON and the loop that draws them. The config
turns off everything that could link or fetch (logo link, cloud export, MathJax typesetting);
none of the traces used (heatmap, box, bar) loads map tiles or topojson.
"""

from __future__ import annotations

import json
from functools import cache

import plotly.graph_objects as go
from plotly.offline import get_plotlyjs
from seedscope.report.html import Safe, element

PLOTLY_CONFIG = {
    "displaylogo": False,
    "showSendToCloud": False,
    "typesetMath": False,
    "responsive": True,
}
# Plotly's own default look. Inside Streamlit the default template is Streamlit's, whose
# placeholder colours (#000001, ...) only its frontend replaces: in a file they draw black.
TEMPLATE = "plotly"

INIT_SCRIPT = (
    "(function () {"
    "var figures = JSON.parse(document.getElementById('seedscope-figures').textContent);"
    "var config = figures.config;"
    "figures.figures.forEach(function (item) {"
    "var target = document.getElementById(item.id);"
    "if (target) { Plotly.newPlot(target, item.figure.data || [], item.figure.layout || {},"
    " config); }"
    "});"
    "})();"
)


@cache
def plotly_js() -> str:
    """Plotly's offline bundle; refused if it could end its own script element."""
    bundle = get_plotlyjs()
    if "</script" in bundle.lower():
        raise RuntimeError("the plotly.js bundle contains '</script': it cannot be inlined")
    return bundle


class Figures:
    """Figures of one report, in the order their placeholders were made."""

    def __init__(self) -> None:
        self._figures: list[tuple[str, str]] = []  # (element id, figure JSON)

    def __len__(self) -> int:
        return len(self._figures)

    def add(self, figure: go.Figure) -> Safe:
        """The placeholder where `figure` is drawn (its labels are escaped by the builders)."""
        anchor = f"figure-{len(self._figures) + 1}"
        styled = go.Figure(figure).update_layout(template=TEMPLATE)  # a copy: callers may cache
        # Plotly's own encoder: numpy arrays, NaN (as null) and dates as plotly.js reads them.
        self._figures.append((anchor, styled.to_json(validate=False)))
        return element("div", "", id=anchor, class_="figure")

    def to_json(self) -> str:
        items = ",".join(
            f'{{"id": {json.dumps(anchor)}, "figure": {figure}}}'
            for anchor, figure in self._figures
        )
        return f'{{"config": {json.dumps(PLOTLY_CONFIG)}, "figures": [{items}]}}'
