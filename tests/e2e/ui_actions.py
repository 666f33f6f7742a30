"""What a person does in the Seedscope page, as Playwright steps (sync API)."""

from __future__ import annotations

from playwright.sync_api import Locator, Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

LONG = 240_000  # ms: a generation on 2 shared CPU cores, plus first-time model loads


def open_app(page: Page, url: str, path: str = "") -> None:
    page.goto(f"{url}/{path}")
    expect(page.get_by_test_id("stSidebarNav")).to_be_visible(timeout=LONG)
    wait_until_idle(page)


# The app's root element carries the script state; "notRunning" once a rerun has finished.
# Skeletons are widgets not yet drawn, spinners are cached loads in progress.
IDLE = """() => {
    const app = document.querySelector('[data-testid=stApp]');
    return app !== null && app.dataset.testScriptState === 'notRunning'
        && !document.querySelector('[data-testid=stSpinner], [data-testid=stSkeleton]');
}"""


def wait_until_idle(page: Page, timeout: float = LONG) -> None:
    """Let the rerun start, then wait until the script has finished and everything is drawn."""
    page.wait_for_timeout(300)
    page.wait_for_function(IDLE, timeout=timeout)
    page.wait_for_timeout(200)


def go_to(page: Page, title: str) -> None:
    page.get_by_test_id("stSidebarNavLink").filter(has_text=title).click()
    expect(page.get_by_role("heading", name=title, level=1).first).to_be_visible(timeout=LONG)
    wait_until_idle(page)


def set_number(page: Page, label: str, value: float | int, then_see: str | None = None) -> None:
    """Type a number; `then_see` is a text the page shows once the rerun took it."""
    field = page.get_by_label(label, exact=True)
    field.fill(str(value))
    field.press("Enter")
    if then_see:
        expect(page.get_by_text(then_see).first).to_be_visible(timeout=LONG)
    wait_until_idle(page)


def choose(page: Page, label: str, option: str) -> None:
    """Pick `option` in the selectbox labelled `label`.

    The field is scrolled into view first: clicking a field that is still scrolling opened
    the menu and closed it again at once."""
    field = page.get_by_label(label, exact=True)
    field.scroll_into_view_if_needed()
    page.wait_for_timeout(300)
    wanted = page.get_by_role("option", name=option).first
    for attempt in range(3):  # a rerun that lands just then can close the menu again
        field.click()
        try:
            wanted.wait_for(state="visible", timeout=5_000)
            break
        except PlaywrightTimeoutError:
            if attempt == 2:
                raise
            page.keyboard.press("Escape")
            wait_until_idle(page)
    wanted.click()
    wait_until_idle(page)


def generate(page: Page) -> None:
    page.get_by_role("button", name="Generate").click()
    see_results(page)


def progress_panel(page: Page) -> Locator:
    """The live progress of this session's job, right under Generate."""
    return page.locator(".st-key-cmp_progress")


def live_lines(page: Page) -> Locator:
    """The live log's lines (one per run that ended), newest first."""
    return progress_panel(page).get_by_test_id("stText").filter(has_text=" · run ")


def see_results(page: Page) -> None:
    """Wait until the results view is complete: arms, heatmaps, and the downloads last."""
    expect(page.get_by_role("heading", name="Arms side by side")).to_be_visible(timeout=LONG)
    wait_for_heatmaps(page, 1)
    expect(page.get_by_role("button", name="Distances CSV")).to_be_visible(timeout=LONG)
    wait_until_idle(page)


HEATMAP = ".js-plotly-plot .heatmaplayer .hm"  # Plotly paints each heatmap trace in one


def heatmap_count(page: Page) -> int:
    """Heatmap traces drawn on the page."""
    return page.locator(HEATMAP).count()


def wait_for_heatmaps(page: Page, count: int = 2, timeout: float = LONG) -> None:
    """Until at least `count` heatmap traces are drawn."""
    page.wait_for_function(
        f"() => document.querySelectorAll('{HEATMAP}').length >= {count}", timeout=timeout
    )


def cut_metric_labels(page: Page) -> list[str]:
    """Labels of st.metric that the browser shortened with an ellipsis (text wider than its
    box): each measure must stay readable at laptop width."""
    return page.evaluate(
        """() => [...document.querySelectorAll('[data-testid=stMetricLabel]')]
            .filter(label => [label, ...label.querySelectorAll('*')]
                .some(e => e.scrollWidth > e.clientWidth + 1))
            .map(label => label.innerText)"""
    )
