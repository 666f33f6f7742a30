"""End to end: `streamlit run app.py` on a temporary database, driven in headless Chromium.

The cookbook preset runs on the embedded model (small max_tokens), the runs CSV is downloaded
and parsed, and the experiment is found again in History and on the Fingerprints page.
A model output carrying HTML/JavaScript (served by the fake OpenAI-compatible server) must show
as literal text and run no script. Background jobs (cancel, reload, queueing) are in
test_background_jobs_e2e.py.
"""

from __future__ import annotations

import csv

import pytest
from playwright.sync_api import expect
from seedscope.store import Store

from tests.e2e.e2e_server import screenshot, start_app
from tests.e2e.ui_actions import (
    choose,
    cut_metric_labels,
    generate,
    go_to,
    heatmap_count,
    open_app,
    see_results,
    set_number,
    wait_for_heatmaps,
    wait_until_idle,
)
from tests.helpers import stop_process

pytestmark = pytest.mark.e2e


def database_url(server) -> str:
    return server.env["SEEDSCOPE_DATABASE_URL"]


def test_cookbook_run_history_and_fingerprints_in_a_real_browser(app_server, page_factory):
    page = page_factory()
    open_app(page, app_server.url)
    expect(page.get_by_text("Embedded model ready")).to_be_visible()
    screenshot(page, "compare-empty-light")

    set_number(page, "max_tokens", 8, then_see="up to 8 tokens each")
    generate(page)

    # Both arms side by side, with their measures and the shared-scale heatmaps.
    for arm in ("unseeded", "seeded"):
        expect(page.get_by_role("heading", name=arm, exact=True)).to_be_visible()
    expect(page.get_by_text("Distinct outputs")).to_have_count(2)
    expect(page.locator(".js-plotly-plot").first).to_be_visible()
    wait_for_heatmaps(page)
    assert heatmap_count(page) == 2
    screenshot(page, "compare-results-light")

    with Store.open(database_url(app_server)) as store:
        (summary,) = store.list_experiments()
        stored = store.load_experiment(summary.id)
    assert stored is not None and summary.status == "complete" and summary.runs == 10

    # The runs CSV, downloaded as a user would, parses back to the stored runs.
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Runs CSV").click()
    download = download_info.value
    assert download.suggested_filename == f"seedscope-{summary.id[:8]}-runs.csv"
    with open(download.path(), encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 10
    assert {row["experiment_id"] for row in rows} == {summary.id}
    assert [(row["arm"], int(row["run_index"])) for row in rows] == [
        (c.arm_label, c.run_index) for c in stored.completions
    ]
    assert [row["effective_seed"] for row in rows] == [
        str(c.effective_seed) for c in stored.completions
    ]
    # Texts are identical apart from the documented formula escape (a leading ').
    assert [row["text"].removeprefix("'") for row in rows] == [c.text for c in stored.completions]
    wait_until_idle(page)

    # History: the experiment is there at once; opening it shows the same results view.
    go_to(page, "History")
    expect(page.get_by_text("1 experiment, newest first.")).to_be_visible()
    choose(page, "Open an experiment", summary.id[:8])
    see_results(page)
    expect(page.get_by_text(stored.completions[-1].text, exact=True).first).to_be_visible()
    assert heatmap_count(page) == 2
    screenshot(page, "history-open-light")

    # Fingerprints: the embedded model's fingerprint is on the timeline.
    go_to(page, "Fingerprints")
    fingerprint = stored.completions[0].system_fingerprint
    assert fingerprint
    expect(page.locator(".js-plotly-plot .legend").get_by_text(fingerprint).first).to_be_visible()
    # The seeded arm repeated one fixed request five times: its drift series is drawn.
    drift_legend = page.locator(".js-plotly-plot .legend").get_by_text("same text", exact=True)
    expect(drift_legend).to_be_visible()
    screenshot(page, "fingerprints-light")

    go_to(page, "About")
    expect(page.get_by_text("deprecated").first).to_be_visible()
    screenshot(page, "about-light")


def test_pages_render_in_the_dark_theme_at_1024_wide(app_server, page_factory):
    page = page_factory(color_scheme="dark", width=1024, height=768)
    open_app(page, app_server.url)
    background = page.evaluate(
        "getComputedStyle(document.querySelector('[data-testid=stApp]')).backgroundColor"
    )
    red, green, blue = (int(v) for v in background.strip("rgba()").split(",")[:3])
    assert red + green + blue < 150, background  # Streamlit followed the browser's dark scheme
    set_number(page, "Runs per arm", 3, then_see="6 runs in total")
    set_number(page, "max_tokens", 8, then_see="up to 8 tokens each")
    generate(page)
    assert heatmap_count(page) == 2
    expect(page.get_by_text("Notebook mean distance")).to_have_count(2)
    assert cut_metric_labels(page) == []
    screenshot(page, "compare-results-dark")
    go_to(page, "History")
    choose(page, "Open an experiment", "SmolLM2")
    see_results(page)
    screenshot(page, "history-open-dark")
    go_to(page, "Fingerprints")
    expect(page.locator(".js-plotly-plot").first).to_be_visible()
    screenshot(page, "fingerprints-dark")
    go_to(page, "About")
    screenshot(page, "about-dark")


def test_html_and_javascript_in_model_output_show_as_text(
    tmp_path, page_factory, fake_server_factory
):
    fake = fake_server_factory(
        "--payload", "xss", "--fingerprint", '<img src=x onerror="window.__fp_xss=1">'
    )
    server = start_app(tmp_path, {"OPENAI_BASE_URL": fake.base_url})
    try:
        page = page_factory()
        dialogs: list[str] = []
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        open_app(page, server.url)
        choose(page, "Backend", "OpenAI-compatible")
        set_number(page, "Runs per arm", 2, then_see="4 runs in total")
        set_number(page, "max_tokens", 6, then_see="up to 6 tokens each")
        generate(page)

        payload = '<script>alert("xss")</script><img src=x onerror="alert(1)"><b>bold</b>'
        # The run cards show the payload literally (as code), and the fingerprint too.
        expect(page.get_by_test_id("stCode").filter(has_text=payload).first).to_be_visible()
        expect(
            page.get_by_text('<img src=x onerror="window.__fp_xss=1">', exact=True).first
        ).to_be_visible()
        wait_for_heatmaps(page)
        # Hover text of the heatmaps carries the outputs too: hover one cell.
        page.locator(".js-plotly-plot .nsewdrag").first.hover()
        page.wait_for_timeout(500)
        screenshot(page, "xss-payload-as-text")

        assert dialogs == []
        assert page.evaluate("window.__fp_xss") is None
        app = page.get_by_test_id("stMain")
        assert app.locator("script").count() == 0
        assert app.locator('img[src="x"]').count() == 0
        assert app.locator("b", has_text="bold").count() == 0

        go_to(page, "History")
        choose(page, "Open an experiment", "fake-model")
        expect(page.get_by_test_id("stCode").filter(has_text=payload).first).to_be_visible()
        go_to(page, "Fingerprints")
        page.wait_for_timeout(1000)
        assert dialogs == []
        assert page.evaluate("window.__fp_xss") is None
        assert page.get_by_test_id("stMain").locator('img[src="x"]').count() == 0
    finally:
        stop_process(server.process)
