"""Aggregate completion tokens/s of the embedded model: 2 worker processes vs 1, side by side.

    .venv/bin/python bench/local_workers.py [--requests 8] [--max-tokens 64] [--rounds 3]

Both sides run the same batch through seedscope.runner.run_spec_sync, as the app does: the
cookbook prompt, `--requests` seeded runs (seeds 1..N, temperature 0.7), so each side generates
the same tokens (checked: the texts must be identical).
- 1 worker:  LocalProvider.shared(), the default in-process path (max_concurrency 1)
- 2 workers: LocalProvider(workers=2), SEEDSCOPE_LOCAL_WORKERS=2 (max_concurrency 2)
Each side is warmed up first (the workers start and load the model), then the sides take turns
batch by batch, alternating who goes first, so changing load from other processes hits them
alike. Rate = completion tokens of all batches / their wall time. n_threads is 1 on both sides
(the default), so 2 workers can use at most 2 cores.
Target: 2 workers / 1 worker >= 1.6 on an otherwise idle 2-core machine. The load average is
printed before and after, because other processes on the machine take cores from the workers.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from seedscope.providers.local import LocalProvider  # noqa: E402
from seedscope.runner import run_spec_sync  # noqa: E402
from seedscope.spec import ExperimentSpec  # noqa: E402

TEMPERATURE = 0.7


def batch_spec(requests: int, max_tokens: int) -> ExperimentSpec:
    return ExperimentSpec(
        max_tokens=max_tokens,
        arms=[
            {"label": f"seed {seed}", "seed": seed, "temperature": TEMPERATURE, "runs": 1}
            for seed in range(1, requests + 1)
        ],
    )


def run_batch(provider: LocalProvider, spec: ExperimentSpec) -> tuple[int, float, list[str]]:
    """Completion tokens, wall seconds and texts of one batch."""
    start = time.perf_counter()
    completions = run_spec_sync(spec, provider).completions
    seconds = time.perf_counter() - start
    failed = [c.error_message for c in completions if not c.ok]
    assert not failed, failed
    return (
        sum(c.completion_tokens or 0 for c in completions),
        seconds,
        [c.text for c in completions],
    )


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=8, help="seeded requests per batch")
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3, help="batches per side")
    args = parser.parse_args()

    spec = batch_spec(args.requests, args.max_tokens)
    sides = {"1 worker": LocalProvider.shared(), "2 workers": LocalProvider(workers=2)}
    warm_up = batch_spec(2, 4)  # two calls at once: both workers start and load the model
    for provider in sides.values():
        run_batch(provider, warm_up)

    print(
        f"bench/local_workers.py: {args.rounds} batches x {args.requests} seeded requests x "
        f"{args.max_tokens} max tokens per side, n_threads={sides['1 worker'].n_threads}, "
        f"{os.cpu_count()} cores, sides taking turns batch by batch"
    )
    print(f"  load average before: {load_average()}")
    tokens = dict.fromkeys(sides, 0)
    seconds = dict.fromkeys(sides, 0.0)
    texts: dict[str, list[str]] = {}
    names = list(sides)
    for turn in range(args.rounds):
        for name in names[turn % 2 :] + names[: turn % 2]:
            batch_tokens, batch_seconds, texts[name] = run_batch(sides[name], spec)
            tokens[name] += batch_tokens
            seconds[name] += batch_seconds
    print(f"  load average after:  {load_average()}")
    rates = {name: tokens[name] / seconds[name] for name in names}
    for name, rate in rates.items():
        print(f"  {name:<10} {rate:8.1f} completion tokens/s  ({tokens[name]} tokens)")
    same = texts["1 worker"] == texts["2 workers"]
    print(f"  same texts on both sides: {'yes' if same else 'NO'}")
    ratio = rates["2 workers"] / rates["1 worker"]
    print(f"  2 workers / 1 worker = {ratio:.2f}   (target >= 1.6 on an otherwise idle machine)")
    sides["2 workers"].close()
    if not same:
        sys.exit(1)


if __name__ == "__main__":
    main()
