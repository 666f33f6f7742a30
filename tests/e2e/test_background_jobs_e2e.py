"""End to end: generation runs as a background job that the page only watches.

In headless Chromium against `streamlit run app.py` on the embedded model: editing the form,
switching pages and reloading the tab never stop a job (only Cancel does, keeping the runs in
flight), and two browser sessions queue for the embedded model, the second saying so.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Page, expect
from seedscope.store import Store, StoredExperiment

from tests.e2e.e2e_server import screenshot
from tests.e2e.ui_actions import (
    LONG,
    go_to,
    live_lines,
    open_app,
    progress_panel,
    see_results,
    set_number,
    wait_until_idle,
)

pytestmark = pytest.mark.e2e


def newest_experiment(server) -> StoredExperiment:
    with Store.open(server.env["SEEDSCOPE_DATABASE_URL"]) as store:
        summary = store.list_experiments(limit=1)[0]
        experiment = store.load_experiment(summary.id)
    assert experiment is not None
    return experiment


def set_up_batch(page: Page, runs: int, max_tokens: int) -> None:
    set_number(page, "Runs per arm", runs, then_see=f"{2 * runs} runs in total")
    set_number(page, "max_tokens", max_tokens, then_see=f"up to {max_tokens} tokens each")


def test_a_job_survives_edits_page_switches_and_a_reload(app_server, page_factory):
    page = page_factory()
    open_app(page, app_server.url)
    set_up_batch(page, runs=10, max_tokens=16)
    page.get_by_role("button", name="Generate").click()
    # Progress appears at once, right under Generate, in view without scrolling.
    expect(progress_panel(page)).to_be_in_viewport(timeout=10_000)
    expect(live_lines(page).first).to_be_visible(timeout=LONG)
    screenshot(page, "compare-progress")

    prompt = page.get_by_label("Prompt", exact=True)
    prompt.fill("Edited while the job runs.")
    prompt.press("Control+Enter")  # commit the edit: a full rerun of the page
    wait_until_idle(page)
    expect(progress_panel(page)).to_be_visible()
    go_to(page, "History")
    go_to(page, "Compare")
    expect(live_lines(page).first).to_be_visible(timeout=LONG)  # the session found its job
    assert newest_experiment(app_server).summary.status == "running"  # still going
    page.reload()  # a new session: the URL names the experiment
    expect(live_lines(page).first).to_be_visible(timeout=LONG)
    assert newest_experiment(app_server).summary.status == "running"

    see_results(page)
    experiment = newest_experiment(app_server)
    assert (experiment.summary.status, experiment.summary.runs) == ("complete", 20)
    assert experiment.spec.prompt != "Edited while the job runs."
    assert len({(c.arm_label, c.run_index) for c in experiment.completions}) == 20
    expect(progress_panel(page)).to_have_count(0)


def test_cancel_keeps_the_runs_in_flight(app_server, page_factory):
    page = page_factory()
    open_app(page, app_server.url)
    set_up_batch(page, runs=20, max_tokens=24)
    page.get_by_role("button", name="Generate").click()
    expect(live_lines(page).nth(2)).to_be_visible(timeout=LONG)
    clicked_at = datetime.now(UTC)
    page.get_by_role("button", name="Cancel").click()
    expect(page.get_by_text("Generation was cancelled")).to_be_visible(timeout=LONG)
    see_results(page)

    experiment = newest_experiment(app_server)
    summary = experiment.summary
    assert summary.status == "cancelled" and 3 <= summary.runs < 40
    # The run in flight at the click was finished and stored: the last run ended after it.
    assert max(c.started_at + timedelta(seconds=c.latency_s) for c in experiment.completions) > (
        clicked_at
    )
    kept = f"{summary.runs} completed run{'' if summary.runs == 1 else 's'} kept"
    expect(page.get_by_text(kept)).to_be_visible()
    expect(page.get_by_role("button", name="Resume")).to_be_visible()
    expect(page.get_by_text("of 20 runs stored").first).to_be_visible()
    screenshot(page, "compare-cancelled")


def test_two_sessions_queue_for_the_embedded_model(app_server, page_factory):
    first, second = page_factory(), page_factory()  # two browser contexts: two sessions
    for page in (first, second):
        open_app(page, app_server.url)
        set_up_batch(page, runs=3, max_tokens=8)
    first.get_by_role("button", name="Generate").click()
    expect(live_lines(first).first).to_be_visible(timeout=LONG)
    second.get_by_role("button", name="Generate").click()
    expect(
        progress_panel(second).get_by_text("Waiting for the embedded model, 1 ahead")
    ).to_be_visible(timeout=10_000)
    screenshot(second, "compare-waiting")

    for page in (first, second):
        see_results(page)
    with Store.open(app_server.env["SEEDSCOPE_DATABASE_URL"]) as store:
        later, earlier = (store.load_experiment(s.id) for s in store.list_experiments())
    for experiment in (earlier, later):
        assert (experiment.summary.status, experiment.summary.runs) == ("complete", 6)
    # One generation at a time: the second job began after the first one's last run.
    first_done = max(c.started_at + timedelta(seconds=c.latency_s) for c in earlier.completions)
    assert min(c.started_at for c in later.completions) >= first_done - timedelta(seconds=0.01)
