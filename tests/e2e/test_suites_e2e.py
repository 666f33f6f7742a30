"""End to end, in headless Chromium: upload a suite CSV on the Suites page, run it on the
embedded model in the background, open one case, and download cases.csv."""

from __future__ import annotations

import csv

import pytest
from playwright.sync_api import expect
from seedscope.store import Store

from tests.e2e.e2e_server import screenshot
from tests.e2e.ui_actions import LONG, choose, go_to, open_app, set_number, wait_until_idle

pytestmark = pytest.mark.e2e

SUITE_CSV = "id,prompt\nmars,Name the red planet.\nsum,What is 2+3?\nhello,Say hello.\n"


def test_upload_a_suite_run_it_open_a_case_and_download_cases_csv(
    app_server, page_factory, tmp_path
):
    suite = tmp_path / "cases.csv"
    suite.write_text(SUITE_CSV, encoding="utf-8")
    page = page_factory(width=1366)
    open_app(page, app_server.url)
    go_to(page, "Suites")

    page.locator(".st-key-ste_file input[type=file]").set_input_files(str(suite))
    expect(page.get_by_text("3 cases in cases")).to_be_visible(timeout=LONG)
    wait_until_idle(page)
    set_number(page, "Runs per arm", 2)
    set_number(page, "max_tokens", 4, then_see="3 cases × 2 arms, 12 runs in total")
    page.get_by_role("button", name="Generate").click()

    # The job runs in the background; the results replace the progress when it ends.
    expect(page.get_by_role("heading", name="Cases, worst first")).to_be_visible(timeout=LONG)
    wait_until_idle(page)
    expect(page.get_by_role("heading", name="Per arm")).to_be_visible()
    expect(page.locator(".js-plotly-plot").first).to_be_visible()
    screenshot(page, "suite-results-light")

    with Store.open(app_server.env["SEEDSCOPE_DATABASE_URL"]) as store:
        (summary,) = store.list_experiments()
        stored = store.load_experiment(summary.id)
    assert (summary.kind, summary.status, summary.runs) == ("suite", "complete", 12)

    choose(page, "Open a case", "mars")
    expect(page.get_by_role("heading", name="Case mars")).to_be_visible(timeout=LONG)
    expect(page.get_by_role("heading", name="Arms side by side")).to_be_visible(timeout=LONG)
    wait_until_idle(page)
    mars = [c.text for c in stored.completions if c.case_id == "mars" and c.text.strip()]
    expect(page.get_by_text(mars[0], exact=True).first).to_be_visible()
    screenshot(page, "suite-case-light")

    with page.expect_download() as download_info:
        page.get_by_role("button", name="cases.csv", exact=True).click()
    download = download_info.value
    assert download.suggested_filename == f"seedscope-{summary.id[:8]}-cases.csv"
    with open(download.path(), encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert sorted((row["case_id"], row["arm"]) for row in rows) == sorted(
        (case, arm) for case in ("mars", "sum", "hello") for arm in ("unseeded", "seeded")
    )
    assert {row["experiment_id"] for row in rows} == {summary.id}

    # The reports: the suite's and the open case's, built when clicked.
    buttons = page.get_by_role("button", name="Report (HTML)")
    expect(buttons).to_have_count(2)
    names = []
    for index in range(2):
        with page.expect_download(timeout=LONG) as download_info:
            buttons.nth(index).click()
        download = download_info.value
        names.append(download.suggested_filename)
        with open(download.path(), encoding="utf-8") as handle:
            html = handle.read()
        assert html.startswith("<!DOCTYPE html>") and summary.id in html
    assert names == [
        f"seedscope-{summary.id[:8]}-report.html",
        f"seedscope-{summary.id[:8]}-case-mars-report.html",
    ]
