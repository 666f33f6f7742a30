"""End to end, in headless Chromium at laptop width (1024 px): History's table, Run again into
the Compare form, and Compare with… on two stored experiments."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from seedscope.store import Store

from tests.app.app_support import spec_for, store_experiment
from tests.e2e.e2e_server import screenshot
from tests.e2e.ui_actions import LONG, choose, go_to, open_app, wait_until_idle

pytestmark = pytest.mark.e2e


def test_history_run_again_and_compare_with_at_1024_px(app_server, page_factory):
    with Store.open(app_server.env["SEEDSCOPE_DATABASE_URL"]) as store:
        before = store_experiment(
            store,
            spec_for(prompt="Describe Mars in one line.", max_tokens=12),
            {"unseeded": ["Red.", "Dusty."], "seeded": ["Red.", "Red."]},
            fingerprint="fp_before",
        )
        after = store_experiment(
            store,
            spec_for(prompt="Describe Mars in one line.", max_tokens=12),
            {"unseeded": ["Cold.", "Far."], "seeded": ["Cold.", "Cold."]},
            fingerprint="fp_after",
        )
    page = page_factory(width=1024, height=800)
    open_app(page, app_server.url)
    go_to(page, "History")
    expect(page.get_by_text("2 experiments, newest first.")).to_be_visible()
    screenshot(page, "history-1024")

    choose(page, "Open an experiment", after[:8])
    expect(page.get_by_role("heading", name="Arms side by side")).to_be_visible(timeout=LONG)
    page.get_by_text("Compare with…").click()
    choose(page, "Another experiment", before[:8])
    expect(page.get_by_text(f"Mean distance between {after[:8]} and {before[:8]}")).to_be_visible(
        timeout=LONG
    )
    expect(page.get_by_text("fp_before", exact=True)).to_be_visible()
    expect(page.get_by_text("fp_after", exact=True).first).to_be_visible()
    screenshot(page, "history-compare-with-1024")

    page.get_by_role("button", name="Run again").click()
    expect(page.get_by_role("heading", name="Compare", level=1)).to_be_visible(timeout=LONG)
    wait_until_idle(page)
    assert page.get_by_label("Prompt", exact=True).input_value() == "Describe Mars in one line."
    assert page.get_by_label("max_tokens", exact=True).input_value() == "12"
    expect(page.get_by_text(f"Loaded from experiment {after[:8]}")).to_be_visible()
    expect(page.get_by_text("4 runs in total, up to 12 tokens each")).to_be_visible()
    screenshot(page, "compare-run-again-1024")
