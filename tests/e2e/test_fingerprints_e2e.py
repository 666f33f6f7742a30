"""End to end, in headless Chromium: the Fingerprints page on a stored history with several
series (one model on two hosts, another model, the embedded model), at laptop widths.

The timeline's texts must not sit on each other: every legend entry, the axis titles, the
tick labels and the chart title get their on-screen boxes read from the SVG, and no two may
intersect. The change events the page counts are the ones it lists and the chart marks.
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
# (provider, model, host, fingerprint, hours after T0): spread over days, so the date axis
# draws its two-line ticks (time, then the date) under the plot.
HISTORY = [
    ("openai", "echo", "127.0.0.1:8001", "fp_a", 0),
    ("openai", "echo", "127.0.0.1:8001", "fp_b", 20),
    ("openai", "echo", "127.0.0.1:8001", None, 40),
    ("openai", "echo", "127.0.0.1:8001", "fp_a", 60),
    ("openai", "echo", "127.0.0.1:8002", "fp_a", 30),  # another host: a new series
    ("openai", "gpt-4o-mini", "api.openai.com", "fp_44709d6fcb", 10),
    ("openai", "gpt-4o-mini", "api.openai.com", "fp_50cad350e4", 50),
    ("local", "SmolLM2-135M-Instruct", None, "local-3f9a1c2b7d", 5),
    ("local", "SmolLM2-135M-Instruct", None, "local-8e21d0c4aa", 70),
]
CHANGES = 3 + 1 + 1  # echo on 8001: a→b→none→a; gpt-4o-mini: one; the embedded model: one
SERIES = 4

TIMELINE_TITLE = "System fingerprint over time"
# The timeline's plotly element (the page has a second chart, the drift series, below it).
TIMELINE = f"""[...document.querySelectorAll('.js-plotly-plot')].find(
    p => (p.querySelector('.gtitle')?.textContent ?? '').includes('{TIMELINE_TITLE}'))"""
# The on-screen boxes of the timeline's texts: each legend entry, the legend title, both axis
# titles, every tick label and the chart title, and the figure's own box. Tick labels plotly
# hides have an empty box and are skipped.
TEXT_BOXES = f"""() => {{
    const plot = {TIMELINE};
    if (!plot) return null;
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
LEGEND_NAMES = f"""() => Array.from({TIMELINE}.querySelectorAll('.legend .traces .legendtext'),
                                     e => e.textContent)"""
CHANGE_MARKERS = f"""() => {TIMELINE}.data.filter(t => t.name === 'change event')
                                        .reduce((n, t) => n + t.x.length, 0)"""


def store_history(url: str) -> None:
    with Store.open(url) as store:
        for provider, model, host, fingerprint, hours in HISTORY:
            spec = spec_for(prompt="Probe: Mars.", provider=provider, model=model, arms=ARMS)
            store_experiment(
                store,
                spec,
                {"unseeded": ["Red."], "seeded": ["Red planet."]},
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


def timeline_boxes(page: Page) -> dict:
    page.wait_for_function(f"() => ({TEXT_BOXES})() !== null", timeout=LONG)
    page.wait_for_timeout(500)  # plotly's automargin may redraw once
    return page.evaluate(TEXT_BOXES)


# Both laptop widths; the narrow one in the dark theme, where the change marker must show too.
@pytest.mark.parametrize(("width", "scheme"), [(1024, "dark"), (1366, "light")])
def test_timeline_labels_do_not_overlap_and_events_agree(app_server, page_factory, width, scheme):
    store_history(app_server.env["SEEDSCOPE_DATABASE_URL"])
    page = page_factory(color_scheme=scheme, width=width, height=900)
    open_app(page, app_server.url)
    go_to(page, "Fingerprints")
    expect(page.get_by_text(f"{CHANGES} change events in {SERIES} series")).to_be_visible(
        timeout=LONG
    )
    wait_until_idle(page)
    screenshot(page, f"fingerprints-series-{width}-{scheme}")

    found = timeline_boxes(page)
    boxes = found["boxes"]
    whats = " | ".join(box["what"] for box in boxes)
    legend = [box for box in boxes if box["what"].startswith(".legend .traces")]
    # 7 fingerprints (one "not reported") x 2 arms, and the change-event marker.
    assert len(legend) == 7 * 2 + 1, whats
    for needed in (".xtitle", ".ytitle", ".gtitle", ".xtick text", ".ytick text"):
        assert needed in whats, f"{needed} not drawn: {whats}"
    assert overlaps(boxes) == [], f"overlapping labels at {width} px"
    assert outside(boxes, found["svg"]) == [], f"labels cut off at {width} px"

    # Fingerprints stay readable: the legend names them in full.
    names = page.evaluate(LEGEND_NAMES)
    for name in ("fp_44709d6fcb · seeded", "local-3f9a1c2b7d · unseeded", "not reported · seeded"):
        assert name in names
    # The count in the caption and the chart's change markers are the same events.
    assert page.evaluate(CHANGE_MARKERS) == CHANGES
