"""Completion tokens per second: the embedded provider vs bare llama-cpp-python, side by side.

    .venv/bin/python bench/local_throughput.py [--runs 12] [--max-tokens 64]

Same GGUF (SmolLM2-135M-Instruct), same load settings (n_ctx, n_batch, n_threads), same
requests (the cookbook prompt, seed 123, temperature 0.7), so both sides generate the same
tokens.
- provider:     seedscope.runner.run_spec_sync on LocalProvider (thread hop, lock, context reset
                before every call, Completion records)
- bare:         a `Llama.create_chat_completion` loop on the provider's own Llama object
- bare + reset: the same loop calling `Llama.reset()` first, i.e. the provider's per-call work
                without the provider (the provider resets so no call reuses the previous prompt)
The sides take turns call by call, so changing load from other processes hits them alike.
Target: provider / bare >= 0.97, where "bare" does the same per-call work as the provider
(bare + reset); the plain bare loop is shown too, and the gap to it is the price of
re-evaluating the prompt on every call.

A second section compares n_threads=1 with n_threads=2 on bare loops (the default is 1).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

import llama_cpp  # noqa: E402
from seedscope.providers.local import LocalProvider, default_model_path  # noqa: E402
from seedscope.runner import run_spec_sync  # noqa: E402
from seedscope.spec import DEFAULT_PROMPT, DEFAULT_SYSTEM, ExperimentSpec  # noqa: E402

SEED = 123
TEMPERATURE = 0.7
MESSAGES = [
    {"role": "system", "content": DEFAULT_SYSTEM},
    {"role": "user", "content": DEFAULT_PROMPT},
]


def bare_llama(n_threads: int, provider: LocalProvider) -> llama_cpp.Llama:
    return llama_cpp.Llama(
        model_path=str(default_model_path()),
        n_ctx=provider.n_ctx,
        n_batch=provider.n_batch,
        n_threads=n_threads,
        n_threads_batch=n_threads,
        n_gpu_layers=0,
        verbose=False,
    )


def bare_call(llm: llama_cpp.Llama, max_tokens: int, reset: bool) -> Callable[[], int]:
    """One bare generation; returns its completion tokens."""

    def run() -> int:
        if reset:
            llm.reset()
        response = llm.create_chat_completion(
            messages=MESSAGES,
            temperature=TEMPERATURE,
            top_p=1.0,
            max_tokens=max_tokens,
            seed=SEED,
        )
        return response["usage"]["completion_tokens"]

    return run


def provider_call(provider: LocalProvider, max_tokens: int) -> Callable[[], int]:
    """One generation through the runner and the provider, as the app makes it."""
    spec = ExperimentSpec(
        max_tokens=max_tokens,
        arms=[{"label": "seeded", "seed": SEED, "temperature": TEMPERATURE, "runs": 1}],
    )

    def run() -> int:
        (completion,) = run_spec_sync(spec, provider).completions
        assert completion.ok, completion.error_message
        return completion.completion_tokens or 0

    return run


def rates(sides: dict[str, Callable[[], int]], runs: int) -> dict[str, float]:
    """Tokens per second of each side over `runs` calls, taking turns call by call so that
    changes in machine load hit every side alike."""
    tokens = dict.fromkeys(sides, 0)
    seconds = dict.fromkeys(sides, 0.0)
    names = list(sides)
    for turn in range(runs):
        order = names[turn % len(names) :] + names[: turn % len(names)]
        for name in order:
            start = time.perf_counter()
            tokens[name] += sides[name]()
            seconds[name] += time.perf_counter() - start
    return {name: tokens[name] / seconds[name] for name in names}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=12, help="generations per side")
    parser.add_argument("--max-tokens", type=int, default=64)
    args = parser.parse_args()

    provider = LocalProvider.shared()
    # The bare loops drive the provider's own Llama object: same weights in the same memory,
    # so the comparison isolates the provider layer (two instances differ by a few percent).
    bare = provider._llm
    sides = {
        "provider": provider_call(provider, args.max_tokens),
        "bare + reset": bare_call(bare, args.max_tokens, reset=True),
        "bare": bare_call(bare, args.max_tokens, reset=False),
    }
    for side in sides.values():  # warm-up: page the model in, first-call allocations
        side()
    measured = rates(sides, args.runs)
    print(
        f"bench/local_throughput.py: {provider.model}, n_ctx={provider.n_ctx} "
        f"n_batch={provider.n_batch} n_threads={provider.n_threads}, {args.runs} calls x "
        f"{args.max_tokens} max tokens per side, sides taking turns call by call"
    )
    for name, rate in measured.items():
        print(f"  {name:<14} {rate:8.1f} completion tokens/s")
    provider_rate = measured["provider"]
    same_work = provider_rate / measured["bare + reset"]
    print(f"  provider / bare + reset = {same_work:.3f}   (target >= 0.97)")
    print(f"  provider / bare         = {provider_rate / measured['bare']:.3f}")
    print("  (bare reuses the previous call's evaluated prompt; provider and bare + reset do not)")

    threads = {
        f"n_threads={n}": bare_call(bare_llama(n, provider), args.max_tokens, True) for n in (1, 2)
    }
    for side in threads.values():
        side()
    thread_rates = rates(threads, args.runs)
    print("\nbare + reset, n_threads=1 vs n_threads=2 (taking turns call by call)")
    for name, rate in thread_rates.items():
        print(f"  {name:<14} {rate:8.1f} completion tokens/s")
    one, two = thread_rates["n_threads=1"], thread_rates["n_threads=2"]
    print(f"  n_threads=2 / n_threads=1 = {two / one:.2f}")


if __name__ == "__main__":
    main()
