"""Logprob capture on the embedded model: completion tokens/s with vs without, side by side.

    .venv/bin/python bench/logprob_cost.py [--runs 8] [--max-tokens 64] [--top 5]

Same GGUF, same load settings, same seeded requests (the cookbook prompt, seed 100 + i,
temperature 0.7). "without" runs on the plain load (token ids and strings recorded, as every
run does); "with" asks for the top-k logprobs, which the embedded model serves from its second,
logits_all load (own fingerprint) and then turns into per-token logprobs and alternatives. The
two sides take turns request by request, so load from other processes hits them alike. Also
printed: how many seeded requests gave the same text on both loads (the logprobs check's
question, here on the embedded model).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from seedscope.providers.base import CompletionRequest  # noqa: E402
from seedscope.providers.local import LocalProvider  # noqa: E402
from seedscope.spec import DEFAULT_PROMPT, DEFAULT_SYSTEM, LOCAL_CHAT_MODEL  # noqa: E402


def request(index: int, max_tokens: int, top: int | None) -> CompletionRequest:
    return CompletionRequest(
        arm_label="bench",
        run_index=index,
        prompt=DEFAULT_PROMPT,
        system=DEFAULT_SYSTEM,
        model=LOCAL_CHAT_MODEL,
        seed=100 + index,
        temperature=0.7,
        top_p=1.0,
        max_tokens=max_tokens,
        top_logprobs=top,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=8)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--top", type=int, default=5)
    args = parser.parse_args()
    provider = LocalProvider.shared()
    # Warm both loads (the logits_all one is made on first use) before timing anything.
    provider.complete_sync(request(0, 4, None))
    provider.complete_sync(request(0, 4, args.top))
    totals = {"without": [0, 0.0], "with": [0, 0.0]}
    same = 0
    for index in range(args.runs):
        texts = {}
        for side, top in (("without", None), ("with", args.top)):
            start = time.perf_counter()
            completion = provider.complete_sync(request(index, args.max_tokens, top))
            elapsed = time.perf_counter() - start
            assert completion.ok, completion.error_message
            totals[side][0] += completion.completion_tokens or 0
            totals[side][1] += elapsed
            texts[side] = completion.text
        same += texts["without"] == texts["with"]
    rate = {side: tokens / seconds for side, (tokens, seconds) in totals.items()}
    print(
        f"embedded model, {args.runs} seeded requests x max_tokens {args.max_tokens}, "
        f"top {args.top}"
    )
    for side in ("without", "with"):
        tokens, seconds = totals[side]
        print(
            f"  {side:8} logprobs: {tokens:5d} tokens in {seconds:6.2f} s = {rate[side]:6.1f} tok/s"
        )
    print(f"  with / without: {rate['with'] / rate['without']:.3f}")
    print(f"  same text on both loads: {same} of {args.runs}")
    print(
        f"  fingerprints: {provider.fingerprint} (plain), "
        f"{provider.logprobs_fingerprint} (logprobs)"
    )


if __name__ == "__main__":
    main()
