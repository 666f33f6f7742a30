"""Benchmark the Suites page: how fast the overview of a big suite is drawn once analysed.

    .venv/bin/python bench/suites_page.py [--cases 1000] [--runs 3] [--repeats 3]

A real `streamlit run app.py` and headless Debian Chromium. Two imported suites are stored
(outputs made here, 2 arms x --runs runs per case, every third case flaky): the big one
(--cases) and a 10-case one, each opened in its own tab, where both analyses (with and without
embedding distances) are computed once and cached in the app server. Then, in each tab, the
"Embedding distances" toggle is flipped: every flip reruns the page and redraws the whole
overview (per-arm table, cases x arms heatmap, cases table) from a cached analysis, which is
the work left once an analysis is ready. Timed from the click until the script run has ended
with the overview on the page. Target: the 1,000-case overview within 2 s. The 10-case tab,
timed the same way and alternately in the same run, is the baseline (what any rerun of the
page costs); the ratio says what the suite's size adds. A cold new tab (session start, app
shell, form and overview) is timed too, for reference.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout

from playwright.sync_api import Browser, sync_playwright  # noqa: E402
from seedscope.imports import import_outputs, parse_import  # noqa: E402
from seedscope.store import Store  # noqa: E402

from tests.e2e.e2e_server import CHROMIUM, CHROMIUM_ARGS, start_app  # noqa: E402
from tests.e2e.ui_actions import LONG  # noqa: E402
from tests.helpers import stop_process  # noqa: E402

TARGET_S = 2.0
# The overview is drawn: the heatmap painted, three dataframes (arms, differences, cases),
# no spinner or skeleton, and the script run finished.
DRAWN = """() => {
    const app = document.querySelector('[data-testid=stApp]');
    return app !== null && app.dataset.testScriptState === 'notRunning'
        && document.querySelectorAll('.js-plotly-plot .heatmaplayer .hm').length >= 1
        && document.querySelectorAll('[data-testid=stDataFrame]').length >= 3
        && !document.querySelector('[data-testid=stSpinner], [data-testid=stSkeleton]');
}"""


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f} (1/5/15 min, {os.cpu_count()} cores)"


def outputs_csv(cases: int, runs: int) -> str:
    lines = ["case_id,arm,run,text"]
    for case in range(cases):
        for arm in ("seeded", "unseeded"):
            for run in range(runs):
                flaky = case % 3 == 0 and arm == "unseeded"
                tail = f" variant {run}" if flaky else ""
                lines.append(f"case-{case},{arm},{run},The answer to case {case} is {case}.{tail}")
    return "\n".join(lines) + "\n"


def store_import(database_url: str, cases: int, runs: int) -> str:
    imported = parse_import(outputs_csv(cases, runs), filename=f"bench-{cases}.csv")
    with Store.open(database_url) as store:
        return import_outputs(store, imported)


# Notes when the script run ends (the app's root switches to notRunning), for the timing.
WATCH_RUNS = """() => {
    window.__ended = [];
    const app = document.querySelector('[data-testid=stApp]');
    new MutationObserver(() => {
        if (app.dataset.testScriptState === 'notRunning') window.__ended.push(performance.now());
    }).observe(app, {attributes: true, attributeFilter: ['data-test-script-state']});
}"""


def open_tab(browser: Browser, url: str):
    """A tab showing the suite's overview; seconds from navigation until it is drawn."""
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    started = time.perf_counter()
    page.goto(url)
    page.wait_for_function(DRAWN, timeout=LONG, polling=25)
    return context, page, time.perf_counter() - started


def flip_distances(page) -> float:
    """Seconds from flipping the embedding toggle until the rerun has drawn the overview."""
    page.evaluate(WATCH_RUNS)
    toggle = page.get_by_text("Embedding distances", exact=True)
    clicked = page.evaluate("performance.now()")
    toggle.click()
    page.wait_for_function(
        f"() => window.__ended.some(t => t > {clicked}) && ({DRAWN})()", timeout=LONG, polling=25
    )
    ended = page.evaluate(f"Math.max(...window.__ended.filter(t => t > {clicked}))")
    return (ended - clicked) / 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3, help="runs per arm and case")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    print(f"load average before: {load_average()}")
    server = start_app(Path(tempfile.mkdtemp(prefix="seedscope-bench-suites-")))
    database_url = server.env["SEEDSCOPE_DATABASE_URL"]
    big = store_import(database_url, args.cases, args.runs)
    small = store_import(database_url, 10, args.runs)
    urls = {
        "big": f"{server.url}/suites?experiment={big}",
        "small": f"{server.url}/suites?experiment={small}",
    }
    times: dict[str, list[float]] = {"big": [], "small": []}
    cold: dict[str, float] = {}
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            tabs = {}
            for name, url in urls.items():
                context, page, first = open_tab(browser, url)
                print(f"{name}: first load, analysis with distances included: {first:.2f} s")
                flip_distances(page)  # the analysis without distances, computed once
                flip_distances(page)  # back: both analyses are cached from here on
                tabs[name] = (context, page)
                cold[name] = open_tab(browser, url)[2]  # a new session, analysis cached
            for _ in range(args.repeats):  # alternate, so both see the same load
                for name, (_, page) in tabs.items():
                    times[name].append(flip_distances(page))
            browser.close()
    finally:
        stop_process(server.process)

    best_big, best_small = min(times["big"]), min(times["small"])
    print(f"load average after: {load_average()}")
    print()
    print(f"overview redrawn from a cached analysis, best of {args.repeats} (all big: ", end="")
    print(", ".join(f"{t:.2f}" for t in times["big"]) + ")")
    print(f"  {args.cases} cases x 2 arms x {args.runs} runs: {best_big:.2f} s")
    print(f"  10 cases (baseline):                {best_small:.2f} s")
    print(f"  ratio {best_big / best_small:.2f}x")
    print(f"  a cold new tab, analysis cached: {cold['big']:.2f} s big, ", end="")
    print(f"{cold['small']:.2f} s small")
    verdict = "met" if best_big <= TARGET_S else "MISSED"
    print(f"  target: {args.cases}-case overview <= {TARGET_S:.0f} s: {verdict}")


if __name__ == "__main__":
    main()
