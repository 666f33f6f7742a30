"""The runner at concurrency 16 vs the notebook's one-call-after-another loop, side by side.

    .venv/bin/python bench/batch_concurrency.py [--runs 50] [--latency 0.2] [--concurrency 16]

2 arms x 50 runs (unseeded t=0.7, seed 123 t=0) against the project's fake OpenAI-compatible
server (tests/fake_openai_server.py) answering every call after 200 ms.
- runner:     seedscope.runner.run_spec_sync with OpenAICompatProvider at concurrency 16
- sequential: the cookbook notebook's pattern, `client.chat.completions.create` in a loop
The runner is timed --repeats times and the best is kept (other processes share the cores).
Targets: runner wall time within 1.10x of the ideal ceil(100/16) x 200 ms, and at least 9x
faster than sequential. Both sides make real HTTP calls; the server counts them.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

import openai  # noqa: E402
from seedscope.providers.openai_compat import OpenAICompatProvider  # noqa: E402
from seedscope.runner import plan_requests, run_spec_sync  # noqa: E402
from seedscope.spec import ExperimentSpec, preset_arms  # noqa: E402

from tests.helpers import start_fake_server  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50, help="runs per arm")
    parser.add_argument("--latency", type=float, default=0.2, help="server seconds per call")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=5, help="runner repeats (best is kept)")
    args = parser.parse_args()

    spec = ExperimentSpec(
        provider="openai",
        model="fake-model",
        max_tokens=32,
        arms=preset_arms("cookbook", runs=args.runs),
    )
    total = spec.total_runs
    server = start_fake_server("--latency", str(args.latency))
    try:
        provider = OpenAICompatProvider(api_key=None, base_url=server.base_url, model="fake-model")
        run_spec_sync(spec.model_copy(update={"arms": spec.arms[:1]}), provider)  # warm-up
        server.reset()

        runner_times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            outcome = run_spec_sync(spec, provider, concurrency=args.concurrency)
            runner_times.append(time.perf_counter() - start)
            stats = server.stats()
            assert len(outcome.completions) == total and all(c.ok for c in outcome.completions)
            assert stats["requests"]["chat"] == total
            server.reset()
        runner_s = min(runner_times)

        client = openai.OpenAI(api_key="not-needed", base_url=server.base_url)
        start = time.perf_counter()
        for request in plan_requests(spec):  # the notebook: one call after another
            extra = {} if request.seed is None else {"seed": request.seed}
            client.chat.completions.create(
                model=request.model,
                messages=[
                    {"role": "system", "content": request.system},
                    {"role": "user", "content": request.prompt},
                ],
                temperature=request.temperature,
                top_p=request.top_p,
                max_tokens=request.max_tokens,
                **extra,
            )
        sequential_s = time.perf_counter() - start
        assert server.stats()["requests"]["chat"] == total
    finally:
        server.stop()

    ideal_s = math.ceil(total / args.concurrency) * args.latency
    print(
        f"bench/batch_concurrency.py: {len(spec.arms)} arms x {args.runs} runs, "
        f"server latency {args.latency * 1000:.0f} ms"
    )
    median = statistics.median(runner_times)
    print(
        f"  runner, concurrency {args.concurrency:<3}       {runner_s:7.2f} s"
        f"   (best of {args.repeats}; median {median:.2f} s)"
    )
    print(f"  ideal ceil({total}/{args.concurrency}) x {args.latency:g} s     {ideal_s:7.2f} s")
    print(f"  sequential (notebook loop)   {sequential_s:7.2f} s")
    print(f"  runner / ideal      = {runner_s / ideal_s:5.2f}x   (target <= 1.10)")
    print(f"  sequential / runner = {sequential_s / runner_s:5.2f}x   (target >= 9)")
    print(f"  max in flight at the server during the runner: {stats['max_in_flight']}")


if __name__ == "__main__":
    main()
