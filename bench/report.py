"""The HTML report of a 2 x 100 experiment: its size, the time to write it, and the time to
open it in Chromium until every chart is drawn.

    .venv/bin/python bench/report.py [--repeats N]

The experiment is the cookbook preset at 100 runs per arm (unseeded at 0.7, seed 123 at 0),
stored in a temporary SQLite store and loaded back as the CLI and the pages load it; its texts
are synthetic but varied (unseeded: 200 different sentences of 30-90 words; seeded: one text
with a few runs that fork late), so every heatmap cell has its own hover.

1. Analysis (reported apart, not part of writing): `seedscope.analysis.analyze` with the
   embedded MiniLM embedder and a cold vector cache, the model already loaded.
2. Writing: `seedscope.report.render_report(experiment, analysis=...)` and writing the file,
   best of --repeats, every value printed; the file's size in MB (10^6 bytes), split into
   plotly.js (inlined once), the figures' JSON and the rest.
3. Opening: the file in headless Debian Chromium (/usr/bin/chromium through Playwright) from
   file://, a fresh browser context each time, from navigation until every chart is drawn
   (each figure's placeholder is a `.js-plotly-plot` with its `.main-svg`, and both arms'
   heatmaps have painted their `.heatmaplayer .hm` image), after one warm-up open that is not
   counted (Chromium's own start). Target: under 3 s.

Side by side, timed alternately in the same run: the report as `seedscope.charts` builds its
heatmaps now (one hover template, the two runs' snippets per cell as customdata) and with the
per-cell hover strings it used before 2026-12-02 (the reference, rebuilt here). The machine may
be shared: the load average is printed before and after.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import plotly.graph_objects as go

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout

from playwright.sync_api import sync_playwright  # noqa: E402
from seedscope import charts  # noqa: E402
from seedscope.analysis import ArmAnalysis, ExperimentAnalysis, analyze  # noqa: E402
from seedscope.embeddings import CachingEmbedder, LocalEmbedder, MemoryVectorCache  # noqa: E402
from seedscope.providers.base import Completion  # noqa: E402
from seedscope.report import render_report  # noqa: E402
from seedscope.report.figures import plotly_js  # noqa: E402
from seedscope.spec import ExperimentSpec, preset_arms  # noqa: E402
from seedscope.store import Store  # noqa: E402
from seedscope.store.records import StoredExperiment  # noqa: E402

from tests.e2e.e2e_server import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

RUNS = 100
TARGET_OPEN_S = 3.0
WORDS = ["mars", "rover", "crew", "orbit", "launch", "dust", "crater", "signal", "red"]
WORDS += ["planet", "journey", "module", "solar", "wind", "storm", "ice", "canyon", "pilot"]
FIGURES_JSON = re.compile(
    r'<script type="application/json" id="seedscope-figures">(.*?)</script>', re.DOTALL
)
# Every figure placeholder drawn, and both arms' heatmaps painted.
CHARTS_DRAWN = """(heatmaps) => {
    const figures = [...document.querySelectorAll('div.figure')];
    return figures.length > 0
        && figures.every(f => f.classList.contains('js-plotly-plot')
                              && f.querySelector('.main-svg'))
        && document.querySelectorAll('.js-plotly-plot .heatmaplayer .hm').length >= heatmaps;
}"""


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f} (1/5/15 min, {os.cpu_count()} cores)"


def sentence(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words)).capitalize() + "."


def texts(rng: random.Random) -> dict[str, list[str]]:
    """Unseeded: a different text every run. Seeded: one text, every 25th run forking late."""
    seeded = sentence(rng, 60)
    forked = [
        seeded if run % 25 != 24 else seeded[:-1] + " " + sentence(rng, 8) for run in range(RUNS)
    ]
    return {
        "unseeded": [sentence(rng, rng.randint(30, 90)) for _ in range(RUNS)],
        "seeded": forked,
    }


def stored_experiment(folder: Path) -> StoredExperiment:
    """The 2 x 100 experiment, stored in a SQLite file and loaded back."""
    spec = ExperimentSpec(
        prompt="Write a short paragraph about a crewed mission to Mars.",
        max_tokens=200,
        arms=preset_arms("cookbook", runs=RUNS),
    )
    started = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    by_arm = texts(random.Random(7))
    completions = [
        Completion(
            arm_label=arm.label,
            run_index=run,
            text=by_arm[arm.label][run],
            system_fingerprint="local-3f9a1c2b7d",
            requested_seed=arm.seed,
            effective_seed=arm.seed if arm.seed is not None else 10_000 + run,
            temperature=arm.temperature,
            top_p=spec.top_p,
            max_tokens=spec.max_tokens,
            provider=spec.provider,
            model=spec.model,
            prompt_tokens=24,
            completion_tokens=len(by_arm[arm.label][run].split()),
            latency_s=1.0,
            finish_reason="stop",
            started_at=started + timedelta(seconds=index * 1.5),
        )
        for index, (arm, run) in enumerate(
            (arm, run) for arm in spec.arms for run in range(arm.runs)
        )
    ]
    with Store.open(f"sqlite:///{folder / 'history.db'}") as store:
        experiment_id = store.create_experiment(spec, base_url_host=None)
        store.add_runs(experiment_id, completions)
        store.finish_experiment(experiment_id, "complete")
        experiment = store.load_experiment(experiment_id)
    assert experiment is not None and len(experiment.completions) == 2 * RUNS
    return experiment


def per_cell_hover_trace(arm: ArmAnalysis, **style: object) -> go.Heatmap:
    """The reference: seedscope.charts' heatmap trace before 2026-12-02, a full hover string
    per cell (the same text the hover shows now)."""
    runs = [str(index) for index in arm.run_indices]
    snippets = [charts.plain(text, charts.SNIPPET_CHARS) for text in arm.texts]
    hover = [
        [
            f"run {runs[i]} vs run {runs[j]}<br>cosine distance {arm.distances[i, j]:.4f}"
            f"<br>run {runs[i]}: {snippets[i]}<br>run {runs[j]}: {snippets[j]}"
            for j in range(len(runs))
        ]
        for i in range(len(runs))
    ]
    small = len(runs) <= charts.CELL_VALUES_MAX_RUNS
    return go.Heatmap(
        z=arm.distances,
        x=runs,
        y=runs,
        hovertext=hover,
        hoverinfo="text",
        texttemplate="%{z:.2f}" if small else None,
        name=charts.plain(arm.label),
        **style,
    )


@contextmanager
def heatmap_trace(builder: Callable[..., go.Heatmap] | None) -> Iterator[None]:
    """Render with `builder` in place of seedscope.charts' heatmap trace (None: as it is)."""
    original = charts._heatmap_trace
    if builder is not None:
        charts._heatmap_trace = builder
    try:
        yield
    finally:
        charts._heatmap_trace = original


VARIANTS: dict[str, Callable[..., go.Heatmap] | None] = {
    "template + customdata (now)": None,
    "per-cell hover text (before)": per_cell_hover_trace,
}


def write_report(
    experiment: StoredExperiment, analysis: ExperimentAnalysis, path: Path, variant: str
) -> float:
    """Seconds to render the report and write the file."""
    with heatmap_trace(VARIANTS[variant]):
        start = time.perf_counter()
        path.write_text(render_report(experiment, analysis=analysis), "utf-8")
        return time.perf_counter() - start


def open_report(browser, path: Path, heatmaps: int) -> float:
    """Seconds from navigation to every chart drawn, in a fresh browser context."""
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        start = time.perf_counter()
        page.goto(path.as_uri(), wait_until="commit", timeout=120_000)
        page.wait_for_function(CHARTS_DRAWN, arg=heatmaps, timeout=120_000)
        elapsed = time.perf_counter() - start
    finally:
        context.close()
    assert not errors, errors
    return elapsed


def megabytes(size: int) -> str:
    return f"{size / 1e6:.2f} MB"


def seconds(values: list[float]) -> str:
    return ", ".join(f"{value:.2f}" for value in values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"bench/report.py, load average before: {load_average()}")
    with tempfile.TemporaryDirectory() as directory:
        folder = Path(directory)
        experiment = stored_experiment(folder)

        embedder = LocalEmbedder()
        embedder.embed(["warm up the model"])  # loading the model is not part of an analysis
        start = time.perf_counter()
        caching = CachingEmbedder(embedder, MemoryVectorCache())
        analysis = analyze(experiment.completions, caching, [a.label for a in experiment.spec.arms])
        analysed = time.perf_counter() - start
        print(f"\n1. analysis of 2 x {RUNS} runs, cold vector cache ({caching.texts_encoded} texts")
        print(f"   embedded, model loaded before): {analysed:.2f} s  (not part of writing)")

        paths = {variant: folder / f"report-{i}.html" for i, variant in enumerate(VARIANTS)}
        writes: dict[str, list[float]] = {variant: [] for variant in VARIANTS}
        for repeat in range(args.repeats):
            order = list(VARIANTS) if repeat % 2 == 0 else list(VARIANTS)[::-1]
            for variant in order:
                writes[variant].append(write_report(experiment, analysis, paths[variant], variant))

        print(f"\n2. render_report(experiment, analysis=...) + write, best of {args.repeats}")
        bundle = len(plotly_js().encode())
        for variant, path in paths.items():
            document = path.read_text("utf-8")
            figures = FIGURES_JSON.search(document)
            assert figures is not None, "no figures JSON in the report"
            size = len(document.encode())
            figures_size = len(figures.group(1).encode())
            print(f"   {variant:<30} {megabytes(size):>9}  written in {min(writes[variant]):.2f} s")
            print(f"   {'':<30} (all: {seconds(writes[variant])} s)")
            print(
                f"   {'':<30} plotly.js {megabytes(bundle)}, figures JSON "
                f"{megabytes(figures_size)}, the rest {megabytes(size - bundle - figures_size)}"
            )
        now, before = (paths[variant].stat().st_size for variant in VARIANTS)
        print(f"   size now / before = {now / before:.3f}")

        heatmaps = len(analysis.arms)
        opens: dict[str, list[float]] = {variant: [] for variant in VARIANTS}
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                open_report(browser, paths[next(iter(VARIANTS))], heatmaps)  # warm-up
                for repeat in range(args.repeats):
                    order = list(VARIANTS) if repeat % 2 == 0 else list(VARIANTS)[::-1]
                    for variant in order:
                        opens[variant].append(open_report(browser, paths[variant], heatmaps))
            finally:
                browser.close()
        print(f"\n3. open in headless Chromium until every chart is drawn, best of {args.repeats}")
        for variant in VARIANTS:
            best = min(opens[variant])
            print(
                f"   {variant:<30} {best:.2f} s  (all: {seconds(opens[variant])} s; "
                f"median {statistics.median(opens[variant]):.2f} s)"
            )
        best_now, best_before = (min(opens[variant]) for variant in VARIANTS)
        verdict = "met" if best_now < TARGET_OPEN_S else "missed"
        print(f"   now / before = {best_now / best_before:.3f}")
        print(f"   target: under {TARGET_OPEN_S:.0f} s: {verdict}")
    print(f"\nload average after: {load_average()}")


if __name__ == "__main__":
    main()
