"""Suites end to end: generation, analysis and import, each against its reference in one run.

    .venv/bin/python bench/suite.py [--repeats N] [--skip generation,analysis,import]

1. Generation: 200 cases x 2 arms x 5 runs (2,000 runs) against the project's fake
   OpenAI-compatible server (tests/fake_openai_server.py) answering every call after 100 ms, at
   concurrency 32, through the real lifecycle (seedscope.experiments: create, store each run
   as it completes in a real SQLite file, finish) vs the ideal ceil(2000/32) x 100 ms.
   Target: at most 1.15x. Also timed: the runner alone (nothing stored), and the floor that
   the server and the machine set: the same 2,000 calls from a bare asyncio HTTP/1.1 client
   (no SDK, nothing parsed but the JSON; almost no client CPU).
2. Analysis: analyze_suite over 2,000 runs with 500 distinct texts, with a cold vector cache
   (a fresh SQLite store as the cache, as the CLI uses; every distinct text embedded by the
   embedded MiniLM) vs a bare `SentenceTransformer.encode` of the same 500 texts with the same
   model object. Target: at most 1.1x. Then the warm re-render (same store: nothing
   re-embedded). Target: under 1 s.
3. Import: `seedscope suite import FILE --no-embed --format json` in this process, on 2,500
   rows of ~1 KB texts (250 cases x 2 arms x 5 runs): validate, store in one transaction,
   analyse, print. Target: under 5 s.

The machine may be shared: the load average is printed before and after. Paired sides are
timed alternately and the best of --repeats is kept, so both see the same load.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import json
import math
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from seedscope.embeddings import CachingEmbedder, LocalEmbedder  # noqa: E402
from seedscope.experiments import create_experiment, run_experiment  # noqa: E402
from seedscope.providers.base import Completion  # noqa: E402
from seedscope.providers.openai_compat import OpenAICompatProvider  # noqa: E402
from seedscope.runner import run_spec_sync  # noqa: E402
from seedscope.spec import preset_arms  # noqa: E402
from seedscope.store import Store  # noqa: E402
from seedscope.suite_analysis import analyze_suite  # noqa: E402
from seedscope.suites import Case, Suite, SuiteSpec  # noqa: E402

from tests.helpers import start_fake_server  # noqa: E402

WORDS = ["mars", "rover", "crew", "orbit", "launch", "dust", "crater", "signal", "red"]
WORDS += ["planet", "journey", "module", "solar", "wind", "storm", "ice", "canyon", "pilot"]


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f} (1/5/15 min, {os.cpu_count()} cores)"


def best_of(repeats: int, *functions: Callable[[], object]) -> list[float]:
    """Best wall time of each function, run alternately `repeats` times."""
    best = [float("inf")] * len(functions)
    order = list(enumerate(functions))
    for repeat in range(repeats):
        for index, function in order if repeat % 2 == 0 else order[::-1]:
            start = time.perf_counter()
            function()
            best[index] = min(best[index], time.perf_counter() - start)
    return best


def sentence(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words)).capitalize() + "."


def suite_of(cases: int, runs: int, **spec: object) -> SuiteSpec:
    suite = Suite(
        name="bench",
        cases=[
            Case(id=f"case-{i:04d}", prompt=f"Question {i}: name a planet.") for i in range(cases)
        ],
    )
    return SuiteSpec(suite=suite, arms=preset_arms("cookbook", runs=runs), **spec)


# -- 1. generation -----------------------------------------------------------------------------


def bench_generation(repeats: int, folder: Path) -> None:
    latency, concurrency = 0.1, 32
    spec = suite_of(200, 5, provider="openai", model="fake-model", max_tokens=16)
    total = spec.total_runs
    server = start_fake_server("--latency", str(latency))
    lifecycle: list[tuple[float, float]] = []  # (wall, this process's CPU) seconds
    runner_only: list[tuple[float, float]] = []
    floor: list[tuple[float, float]] = []
    try:
        provider = OpenAICompatProvider(api_key=None, base_url=server.base_url, model="fake-model")
        run_spec_sync(suite_of(8, 1, provider="openai", model="fake-model"), provider)  # warm-up

        def through_lifecycle(repeat: int) -> None:
            with Store.open(f"sqlite:///{folder / f'generation-{repeat}.db'}") as store:
                start, cpu = time.perf_counter(), time.process_time()
                experiment_id = create_experiment(store, spec, provider)
                result = run_experiment(
                    store, experiment_id, spec, provider, concurrency=concurrency
                )
                lifecycle.append((time.perf_counter() - start, time.process_time() - cpu))
                assert result.status == "complete" and result.failed_runs == 0, result.problem
                assert len(store.load_experiment(experiment_id).completions) == total

        def bare_runner(_repeat: int) -> None:  # the same calls, nothing stored
            start, cpu = time.perf_counter(), time.process_time()
            outcome = run_spec_sync(spec, provider, concurrency=concurrency)
            runner_only.append((time.perf_counter() - start, time.process_time() - cpu))
            assert len(outcome.completions) == total

        def bare_http(_repeat: int) -> None:  # the floor: server, sockets and scheduling
            start, cpu = time.perf_counter(), time.process_time()
            asyncio.run(raw_calls(server.port, total, concurrency))
            floor.append((time.perf_counter() - start, time.process_time() - cpu))

        max_in_flight = 0
        for repeat in range(repeats):
            sides = [through_lifecycle, bare_runner, bare_http]
            for side in sides if repeat % 2 == 0 else sides[::-1]:
                server.reset()
                side(repeat)
                stats = server.stats()
                assert stats["requests"]["chat"] == total
                max_in_flight = max(max_in_flight, stats["max_in_flight"])
    finally:
        server.stop()
    ideal = math.ceil(total / concurrency) * latency
    best, best_cpu = min(lifecycle)
    bare, bare_cpu = min(runner_only)
    raw, raw_cpu = min(floor)
    print(f"\n1. suite generation: {len(spec.cases)} cases x 2 arms x 5 runs = {total} runs,")
    print(f"   server latency {latency * 1000:.0f} ms, concurrency {concurrency}")
    print(
        f"   lifecycle (create, run, store each run in SQLite, finish) {best:6.2f} s"
        f"   (client CPU {best_cpu:.2f} s; all: {', '.join(f'{t:.2f}' for t, _ in lifecycle)})"
    )
    print(
        f"   runner alone, nothing stored                              {bare:6.2f} s"
        f"   (client CPU {bare_cpu:.2f} s)"
    )
    print(
        f"   floor: bare asyncio HTTP client, same calls               {raw:6.2f} s"
        f"   (client CPU {raw_cpu:.2f} s)"
    )
    ideal_label = f"ideal ceil({total}/{concurrency}) x {latency:g} s"
    print(f"   {ideal_label:<57} {ideal:6.2f} s")
    print(f"   ratio lifecycle / ideal = {best / ideal:.3f}   (target <= 1.15)")
    print(
        f"   ratio runner alone / ideal = {bare / ideal:.3f}   (the HTTP client and server alone)"
    )
    print(f"   ratio floor / ideal = {raw / ideal:.3f}   (the server and the machine alone)")
    print(
        f"   client CPU per run: {best_cpu / total * 1000:.2f} ms through the lifecycle, "
        f"{bare_cpu / total * 1000:.2f} ms runner alone, {raw_cpu / total * 1000:.2f} ms floor"
    )
    print(f"   max in flight at the server: {max_in_flight}")


async def raw_calls(port: int, total: int, concurrency: int) -> None:
    """`total` chat calls over `concurrency` keep-alive connections, written by hand: the
    least a client can do, so its time is what the server and the machine cost."""
    body = json.dumps(
        {
            "model": "fake-model",
            "messages": [{"role": "user", "content": "Question 0: name a planet."}],
            "max_tokens": 16,
        }
    ).encode()
    head = (
        f"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    left = total

    async def connection() -> None:
        nonlocal left
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        while left > 0:
            left -= 1
            writer.write(head + body)
            headers = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").lower()
            length = int(headers.split("content-length:")[1].split("\r\n")[0])
            assert json.loads(await reader.readexactly(length))["choices"]
        writer.close()
        await writer.wait_closed()

    await asyncio.gather(*(connection() for _ in range(concurrency)))


# -- 2. analysis -------------------------------------------------------------------------------


def analysis_runs(rng: random.Random) -> tuple[SuiteSpec, list[Completion], list[str]]:
    """200 cases x 2 arms x 5 runs with 500 distinct texts: the seeded arm repeats one text per
    case (200); the unseeded arm has 1 or 2 other texts per case (300)."""
    spec = suite_of(200, 5)
    started = datetime(2026, 1, 1, tzinfo=UTC)
    completions: list[Completion] = []
    for position, case in enumerate(spec.cases):
        seeded_text = f"{case.id} " + sentence(rng, rng.randint(30, 90))
        unseeded = [f"{case.id} u{k} " + sentence(rng, rng.randint(30, 90)) for k in range(2)]
        unseeded = unseeded[: 1 + position % 2]
        for arm in spec.arms:
            for run in range(arm.runs):
                text = seeded_text if arm.seed is not None else unseeded[run % len(unseeded)]
                completions.append(
                    Completion(
                        arm_label=arm.label,
                        run_index=run,
                        text=text,
                        system_fingerprint=None,
                        requested_seed=arm.seed,
                        effective_seed=arm.seed,
                        temperature=arm.temperature,
                        top_p=1.0,
                        max_tokens=200,
                        provider="local",
                        model="SmolLM2-135M-Instruct",
                        prompt_tokens=20,
                        completion_tokens=80,
                        latency_s=1.0,
                        finish_reason="stop",
                        started_at=started,
                        case_id=case.id,
                    )
                )
    texts = list(dict.fromkeys(c.text for c in completions))
    assert len(completions) == 2000 and len(texts) == 500
    return spec, completions, texts


def bench_analysis(repeats: int, folder: Path) -> None:
    spec, completions, texts = analysis_runs(random.Random(4))
    local = LocalEmbedder()
    model = local.model
    model.encode(["warm up the model"], show_progress_bar=False)  # loading is not analysis
    arms = [arm.label for arm in spec.arms]

    def analyse(store: Store) -> object:
        return analyze_suite(
            completions, spec.cases, arms, 5, embedder=CachingEmbedder(local, store)
        )

    # A fresh store per cold repeat, opened (and migrated) before its timer starts.
    stores = [Store.open(f"sqlite:///{folder / f'vectors-{i}.db'}") for i in range(repeats)]
    cold_times, bare_times = [], []
    for repeat, store in enumerate(stores):
        sides = [
            (cold_times, lambda store=store: analyse(store)),
            (bare_times, lambda: model.encode(texts, batch_size=64, show_progress_bar=False)),
        ]
        for times, function in sides if repeat % 2 == 0 else sides[::-1]:
            start = time.perf_counter()
            function()
            times.append(time.perf_counter() - start)
    (warm,) = best_of(repeats, lambda: analyse(stores[0]))  # filled by its cold analysis
    for store in stores:
        store.close()
    cold_s, bare_s = min(cold_times), min(bare_times)
    print(f"\n2. suite analysis: {len(completions)} runs, {len(texts)} distinct texts")
    print(f"   analyze_suite, cold vector cache (SQLite)       {cold_s * 1000:8.1f} ms")
    print(f"   bare SentenceTransformer.encode of {len(texts)} texts   {bare_s * 1000:8.1f} ms")
    print(f"   ratio cold analysis / bare encode = {cold_s / bare_s:.3f}   (target <= 1.1)")
    print(
        f"   warm re-render (nothing re-embedded)            {warm * 1000:8.1f} ms   (target < 1 s)"
    )


# -- 3. import ---------------------------------------------------------------------------------


def write_outputs_file(path: Path, rng: random.Random) -> int:
    rows = 0
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["case_id", "arm", "run", "text"])
        for case in range(250):
            for arm in ("seeded", "unseeded"):
                text = sentence(rng, 200)[:1000]
                for run in range(5):
                    if arm == "unseeded" and run % 2:
                        text = sentence(rng, 200)[:1000]
                    writer.writerow([f"case-{case:04d}", arm, run, text])
                    rows += 1
    return rows


def bench_import(repeats: int, folder: Path) -> None:
    from seedscope.cli import main

    path = folder / "outputs.csv"
    rows = write_outputs_file(path, random.Random(5))
    times = []
    for repeat in range(repeats):
        os.environ["SEEDSCOPE_DATABASE_URL"] = f"sqlite:///{folder / f'import-{repeat}.db'}"
        out, err = io.StringIO(), io.StringIO()
        start = time.perf_counter()
        status = main(["suite", "import", str(path), "--no-embed", "--format", "json"], out, err)
        times.append(time.perf_counter() - start)
        assert status == 0, err.getvalue()
    size_kb = path.stat().st_size / 1024
    print(
        f"\n3. suite import + analysis, --no-embed: {rows} rows of ~1 KB texts ({size_kb:.0f} KB)"
    )
    print(f"   seedscope suite import (in process)            {min(times):7.2f} s   (best of")
    print(f"   {repeats}; first {times[0]:.2f} s, including the store's first open)")
    print("   target < 5 s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip", default="", help="comma-separated: generation,analysis,import")
    args = parser.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    print(f"bench/suite.py, load average before: {load_average()}")
    with tempfile.TemporaryDirectory() as directory:
        folder = Path(directory)
        if "generation" not in skip:
            bench_generation(args.repeats, folder)
        if "analysis" not in skip:
            bench_analysis(args.repeats, folder)
        if "import" not in skip:
            bench_import(args.repeats, folder)
    print(f"\nload average after: {load_average()}")


if __name__ == "__main__":
    main()
