"""The HTML report opened in headless Chromium from file://, with every other request routed to
a handler that records and aborts it: nothing is requested, the charts are drawn, no dialog
opens, no payload runs or creates an element, and the payloads read as text."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from seedscope.embeddings import CachingEmbedder, LocalEmbedder
from seedscope.report import render_report
from seedscope.store import Store

from tests.e2e.e2e_server import screenshot
from tests.test_report import XSS, XSS_LABEL, store_plain

pytestmark = pytest.mark.e2e

# Before any page script: count policy violations, and note any element a payload would add.
WATCH = """
window.__violations = [];
document.addEventListener('securitypolicyviolation', e => window.__violations.push(e.blockedURI));
"""


def test_report_opens_offline_draws_its_charts_and_runs_no_payload(chromium_browser, tmp_path):
    with Store(f"sqlite:///{tmp_path / 'history.db'}") as store:
        experiment = store.load_experiment(store_plain(store))
    path = tmp_path / "report.html"
    path.write_text(render_report(experiment, embedder=CachingEmbedder(LocalEmbedder())), "utf-8")
    url = path.as_uri()

    context = chromium_browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    blocked: list[str] = []
    dialogs: list[str] = []
    errors: list[str] = []

    def only_the_file(route) -> None:
        if route.request.url == url:
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    page.route("**/*", only_the_file)
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.add_init_script(WATCH)
    try:
        page.goto(url)
        heatmaps = page.locator(".js-plotly-plot .heatmaplayer .hm")
        expect(heatmaps.first).to_be_attached(timeout=30_000)
        expect(heatmaps).to_have_count(2)  # one per arm
        expect(page.locator(".js-plotly-plot")).to_have_count(4)  # and the two distributions

        # Hover the first heatmap's cell run 0 vs run 1: Plotly shows the escaped text as text.
        page.locator(".js-plotly-plot").first.scroll_into_view_if_needed()
        box = page.locator(".js-plotly-plot .nsewdrag").first.bounding_box()
        page.mouse.move(box["x"] + box["width"] * 0.25, box["y"] + box["height"] * 0.1)
        hover = page.locator(".hoverlayer .hovertext").first
        expect(hover).to_contain_text("<script>alert(1)</script>", timeout=10_000)

        outputs = page.locator("#runs-side-by-side pre.out").all_inner_texts()
        for payload in XSS[:5]:  # (the last one holds U+2028/2029, which innerText may alter)
            assert payload in outputs
        expect(page.get_by_text(XSS[1], exact=True).first).to_be_visible()
        expect(page.get_by_role("columnheader", name=XSS_LABEL).first).to_be_visible()
        screenshot(page, "report-offline")

        state = page.evaluate(
            """() => ({
                pwned: window.__pwned === undefined ? null : window.__pwned,
                scripts: document.querySelectorAll('script').length,
                images: document.querySelectorAll('img').length,
                links: [...document.querySelectorAll('a[href]')].map(a => a.getAttribute('href'))
                    .filter(href => !href.startsWith('#')),
                handlers: [...document.querySelectorAll('*')].flatMap(element =>
                    [...element.attributes].map(a => a.name).filter(n => n.startsWith('on'))),
                violations: window.__violations,
            })"""
        )
    finally:
        context.close()
    assert state == {
        "pwned": None,
        "scripts": 3,
        "images": 0,
        "links": [],
        "handlers": [],
        "violations": [],
    }
    assert blocked == [] and dialogs == [] and errors == []
