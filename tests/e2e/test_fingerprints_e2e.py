"""End to end, in headless Chromium: the Fingerprints page on a stored history with several
series (one model on two hosts, another model, the embedded model), at laptop widths.

The texts of both charts, the timeline and the drift of repeated fixed requests, must not sit
on each other: every legend entry, the legend title, the axis titles, the tick labels and the
chart title get their on-screen boxes read from the SVG, and no two may intersect. The change
events the page counts are the ones it lists and the chart marks.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect
from seedscope.store import Store

from tests.app.app_support import spec_for, store_experiment
from tests.e2e.e2e_server import screenshot
from tests.e2e.ui_actions import LONG, go_to, open_app, wait_until_idle
from tests.store_support import T0

pytestmark = pytest.mark.e2e

ARMS = [
    {"label": "unseeded", "seed": None, "temperature": 0.7, "runs": 1},
    {"label": "seeded", "seed": 123, "temperature": 0.0, "runs": 1},
]
# (provider, model, host, fingerprint, hours after T0, the seeded arm's text): spread over
# days, so the date axes draw their two-line ticks (time, then the date) under the plots.
# The seeded arm repeats one fixed request per series: its drift series has every status.
HISTORY = [
    ("openai", "echo", "127.0.0.1:8001", "fp_a", 0, "Red planet."),  # first run
    ("openai", "echo", "127.0.0.1:8001", "fp_b", 20, "Red planet."),  # same, fp changed
    ("openai", "echo", "127.0.0.1:8001", None, 40, "The red planet."),  # changed, fp changed
    ("openai", "echo", "127.0.0.1:8001", "fp_a", 60, "The red planet."),
    ("openai", "echo", "127.0.0.1:8002", "fp_a", 30, "Red planet."),  # another host: a new series
    ("openai", "echo", "127.0.0.1:8002", "fp_a", 45, "Mars."),  # changed, same fingerprint
    ("openai", "gpt-4o-mini", "api.openai.com", "fp_44709d6fcb", 10, "Red planet."),
    ("openai", "gpt-4o-mini", "api.openai.com", "fp_50cad350e4", 50, "Red planet."),
    ("openai", "gpt-4o-mini", "api.openai.com", "fp_50cad350e4", 65, "Red planet."),  # same
    ("local", "SmolLM2-135M-Instruct", None, "local-3f9a1c2b7d", 5, "Red planet."),
    ("local", "SmolLM2-135M-Instruct", None, "local-8e21d0c4aa", 70, "Red planet."),
]
CHANGES = 3 + 1 + 1  # echo on 8001: a→b→none→a; gpt-4o-mini: one; the embedded model: one
SERIES = 4
DRIFT_STATUSES = [
    "first run",
    "same text",
    "same text · fingerprint changed",
    "changed · same fingerprint",
    "changed · fingerprint changed",
]

TIMELINE_TITLE = "System fingerprint over time"
DRIFT_TITLE = "Repeated fixed requests: did the text change?"


def plot_titled(title: str) -> str:
    """The plotly element of the chart titled `title` (the page has two)."""
    return f"""[...document.querySelectorAll('.js-plotly-plot')].find(
        p => (p.querySelector('.gtitle')?.textContent ?? '').includes('{title}'))"""


# The on-screen boxes of a chart's texts: each legend entry, the legend title, both axis
# titles, every tick label and the chart title, and the figure's own box. Tick labels plotly
# hides have an empty box and are skipped.
def text_boxes(title: str) -> str:
    return f"""() => {{
    const plot = {plot_titled(title)};
    if (!plot || !plot.querySelector('.legend .traces')) return null;
    const box = e => {{ const r = e.getBoundingClientRect();
                        return {{left: r.left, right: r.right, top: r.top, bottom: r.bottom}}; }};
    const boxes = [];
    for (const selector of ['.legend .traces', '.legend .legendtitletext', '.xtitle',
                            '.ytitle', '.xtick text', '.ytick text', '.gtitle']) {{
        plot.querySelectorAll(selector).forEach((element, index) => {{
            const r = element.getBoundingClientRect();
            if (r.width === 0 || r.height === 0) return;
            boxes.push({{what: `${{selector}} #${{index}} ${{element.textContent.slice(0, 40)}}`,
                        ...box(element)}});
        }});
    }}
    return {{svg: box(plot.querySelector('.main-svg')), boxes}};
}}"""


def legend_names(title: str) -> str:
    plot = plot_titled(title)
    return f"""() => Array.from({plot}.querySelectorAll('.legend .traces .legendtext'),
                                e => e.textContent)"""


CHANGE_MARKERS = f"""() => {plot_titled(TIMELINE_TITLE)}.data
    .filter(t => t.name === 'change event').reduce((n, t) => n + t.x.length, 0)"""


def store_history(url: str) -> None:
    with Store.open(url) as store:
        for provider, model, host, fingerprint, hours, seeded_text in HISTORY:
            spec = spec_for(prompt="Probe: Mars.", provider=provider, model=model, arms=ARMS)
            store_experiment(
                store,
                spec,
                {"unseeded": ["Red."], "seeded": [seeded_text]},
                host=host,
                fingerprint=fingerprint,
                started_at=T0 + timedelta(hours=hours),
            )


def overlaps(boxes: list[dict], tolerance: float = 1.0) -> list[tuple[str, str]]:
    """Every pair of boxes that share more than `tolerance` pixels each way."""
    found = []
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            width = min(a["right"], b["right"]) - max(a["left"], b["left"])
            height = min(a["bottom"], b["bottom"]) - max(a["top"], b["top"])
            if width > tolerance and height > tolerance:
                found.append((a["what"], b["what"]))
    return found


def outside(boxes: list[dict], svg: dict, tolerance: float = 1.0) -> list[str]:
    """Boxes that stick out of the figure (cut off by its edge)."""
    return [
        box["what"]
        for box in boxes
        if box["left"] < svg["left"] - tolerance
        or box["right"] > svg["right"] + tolerance
        or box["top"] < svg["top"] - tolerance
        or box["bottom"] > svg["bottom"] + tolerance
    ]


def chart_boxes(page: Page, title: str) -> dict:
    script = text_boxes(title)
    page.wait_for_function(f"() => ({script})() !== null", timeout=LONG)
    page.wait_for_timeout(500)  # plotly's automargin may redraw once
    return page.evaluate(script)


def assert_labels_apart(found: dict, entries: int, width: int) -> list[dict]:
    """The chart's texts are all drawn, none overlaps another, none is cut off by the edge."""
    boxes = found["boxes"]
    whats = " | ".join(box["what"] for box in boxes)
    legend = [box for box in boxes if box["what"].startswith(".legend .traces")]
    assert len(legend) == entries, whats
    for needed in (
        ".legend .legendtitletext",
        ".xtitle",
        ".ytitle",
        ".gtitle",
        ".xtick text",
        ".ytick text",
    ):
        assert needed in whats, f"{needed} not drawn: {whats}"
    assert overlaps(boxes) == [], f"overlapping labels at {width} px"
    assert outside(boxes, found["svg"]) == [], f"labels cut off at {width} px"
    return boxes


# Both laptop widths; the narrow one in the dark theme, where the change marker must show too.
@pytest.mark.parametrize(("width", "scheme"), [(1024, "dark"), (1366, "light")])
def test_chart_labels_do_not_overlap_and_events_agree(app_server, page_factory, width, scheme):
    store_history(app_server.env["SEEDSCOPE_DATABASE_URL"])
    page = page_factory(color_scheme=scheme, width=width, height=900)
    open_app(page, app_server.url)
    go_to(page, "Fingerprints")
    expect(page.get_by_text(f"{CHANGES} change events in {SERIES} series")).to_be_visible(
        timeout=LONG
    )
    wait_until_idle(page)
    screenshot(page, f"fingerprints-series-{width}-{scheme}")

    # The timeline: 7 fingerprints (one "not reported") x 2 arms, and the change-event marker.
    assert_labels_apart(chart_boxes(page, TIMELINE_TITLE), 7 * 2 + 1, width)
    # Fingerprints stay readable: the legend names them in full.
    names = page.evaluate(legend_names(TIMELINE_TITLE))
    for name in ("fp_44709d6fcb · seeded", "local-3f9a1c2b7d · unseeded", "not reported · seeded"):
        assert name in names
    # The count in the caption and the chart's change markers are the same events.
    assert page.evaluate(CHANGE_MARKERS) == CHANGES

    # The drift of the seeded arm's fixed request, one row per series: every status drawn.
    expect(page.get_by_text("Repeated requests")).to_be_visible()
    assert_labels_apart(chart_boxes(page, DRIFT_TITLE), len(DRIFT_STATUSES), width)
    assert page.evaluate(legend_names(DRIFT_TITLE)) == DRIFT_STATUSES
