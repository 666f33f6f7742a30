"""Benchmark the dashboard: click Generate -> both heatmaps visible, against the same batch
through `python -m seedscope compare`, side by side in one run.

    .venv/bin/python bench/ui.py [--repeats N] [--max-tokens N]

The batch is the cookbook preset on the embedded model: 2 arms x 5 runs (unseeded at 0.7,
seed 123 at 0), max_tokens 200 by default. Each repeat, alternately:

- page: a fresh browser session on a running `streamlit run app.py` (headless Debian Chromium,
  laptop-sized window), click Generate, stop the clock when both heatmaps are drawn. The click
  starts a background job and the page polls it (every 0.5 s) until it ends, then draws the
  results, so the clock covers the job, the polling and the final full rerun. The generation's
  own model time is the sum of the stored runs' latencies.
- CLI: `python -m seedscope compare --preset cookbook --format json` as a subprocess (process start,
  model and embedder load, generation, embedding, metrics, JSON); its model time is again the
  sum of the runs' latencies.

Generation time varies with the unseeded texts' lengths, so the page's figure of merit is the
time it adds on top of its own generation: page total / page model time (target: < 1.25, i.e.
the page adds under 25%). The CLI's total / model time is printed next to it, and the page's
total against the CLI's wall time. A warm-up generation loads the model and the embedder in
the server first (as a long-running app has); the CLI pays its loads every time.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout

from playwright.sync_api import sync_playwright  # noqa: E402
from seedscope.store import Store  # noqa: E402

from tests.e2e.e2e_server import CHROMIUM, CHROMIUM_ARGS, start_app  # noqa: E402
from tests.e2e.ui_actions import open_app, set_number, wait_for_heatmaps  # noqa: E402
from tests.helpers import stop_process  # noqa: E402

TIMEOUT_MS = 900_000


def page_run(browser, url: str, runs: int, max_tokens: int) -> float:
    """Seconds from the click on Generate to both heatmaps drawn, in a fresh session."""
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    try:
        # The same steps as the browser tests; set_number waits until the rerun has settled,
        # so the clock starts from an idle page.
        open_app(page, url)
        set_number(page, "Runs per arm", runs, f"{2 * runs} runs in total")
        set_number(page, "max_tokens", max_tokens, f"up to {max_tokens} tokens each")
        button = page.get_by_role("button", name="Generate")
        start = time.perf_counter()
        button.click()
        wait_for_heatmaps(page, 2, timeout=TIMEOUT_MS)
        return time.perf_counter() - start
    finally:
        context.close()


def model_seconds(store: Store) -> float:
    """Sum of run latencies of the newest experiment: the generation itself."""
    (summary,) = store.list_experiments(limit=1)
    experiment = store.load_experiment(summary.id)
    assert experiment is not None and summary.status == "complete", summary
    return sum(c.latency_s for c in experiment.completions)


def cli_run(env: dict[str, str], runs: int, max_tokens: int) -> tuple[float, float]:
    """(wall seconds, model seconds) of `python -m seedscope compare` on the same batch."""
    command = [
        sys.executable,
        "-m",
        "seedscope",
        "compare",
        "--preset",
        "cookbook",
        "--runs",
        str(runs),
        "--max-tokens",
        str(max_tokens),
        "--format",
        "json",
    ]
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - start
    report = json.loads(done.stdout)
    latencies = [run["latency_s"] for arm in report["arms"] for run in arm["runs"]]
    assert len(latencies) == 2 * runs
    return wall, sum(latencies)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--runs", type=int, default=5, help="runs per arm")
    parser.add_argument("--max-tokens", type=int, default=200)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="seedscope-bench-ui-"))
    server = start_app(workdir)
    cli_env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "SEEDSCOPE_"))}
    cli_env |= {"SEEDSCOPE_DATABASE_URL": f"sqlite:///{workdir / 'cli.db'}", "HF_HUB_OFFLINE": "1"}
    page_totals, page_models, cli_walls, cli_models = [], [], [], []
    try:
        with (
            sync_playwright() as playwright,
            Store.open(server.env["SEEDSCOPE_DATABASE_URL"]) as db,
        ):
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            print("warm-up: loading the embedded model and the embedder in the app server …")
            page_run(browser, server.url, runs=1, max_tokens=4)
            for repeat in range(args.repeats):
                total = page_run(browser, server.url, args.runs, args.max_tokens)
                model = model_seconds(db)
                wall, cli_model = cli_run(cli_env, args.runs, args.max_tokens)
                page_totals.append(total)
                page_models.append(model)
                cli_walls.append(wall)
                cli_models.append(cli_model)
                print(
                    f"repeat {repeat + 1}: page {total:6.2f} s (model {model:6.2f} s, "
                    f"x{total / model:.3f})   CLI {wall:6.2f} s (model {cli_model:6.2f} s, "
                    f"x{wall / cli_model:.3f})"
                )
            browser.close()
    finally:
        stop_process(server.process)

    def median(values: list[float]) -> float:
        return statistics.median(values)

    page_ratio = median([t / m for t, m in zip(page_totals, page_models, strict=True)])
    cli_ratio = median([w / m for w, m in zip(cli_walls, cli_models, strict=True)])
    print()
    print(
        f"cookbook 2 x {args.runs}, max_tokens {args.max_tokens}, {args.repeats} repeats (medians)"
    )
    print(f"  page: click -> both heatmaps   {median(page_totals):7.2f} s")
    print(f"  page: generation (model time)  {median(page_models):7.2f} s")
    print(f"  CLI:  wall time                {median(cli_walls):7.2f} s")
    print(f"  CLI:  generation (model time)  {median(cli_models):7.2f} s")
    print(f"  page total / page model time   {page_ratio:7.3f}   (target < 1.25)")
    print(f"  CLI  total / CLI  model time   {cli_ratio:7.3f}")
    print(f"  page total / CLI wall time     {median(page_totals) / median(cli_walls):7.3f}")
    print("  target met" if page_ratio < 1.25 else "  TARGET MISSED: the page adds 25% or more")


if __name__ == "__main__":
    main()
