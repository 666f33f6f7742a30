"""Benchmark the embedded embedder against bare sentence-transformers, side by side in one run.

    .venv/bin/python bench/embedding.py [--texts N] [--repeats N]

1. Texts per second: seedscope.embeddings' CachingEmbedder(LocalEmbedder()) with an empty cache
   (so every text is really encoded: hashing, dedupe, batching and caching included) vs a bare
   `SentenceTransformer.encode` on the same distinct texts with the same model object.
   Target ratio (ours / bare) >= 0.95.
2. Encode calls for 50 identical texts through the CachingEmbedder. Target: 1.

The two sides are timed alternately, best of N repeats, so both see the same machine load.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, uninstalled

from seedscope.embeddings import CachingEmbedder, LocalEmbedder, MemoryVectorCache  # noqa: E402

WORDS = ["mars", "rover", "crew", "orbit", "launch", "dust", "crater", "signal", "red"]
WORDS += ["planet", "journey", "module", "solar", "wind", "storm", "ice", "canyon", "pilot"]


def distinct_texts(count: int) -> list[str]:
    rng = random.Random(3)
    texts = [
        f"{i}: " + " ".join(rng.choice(WORDS) for _ in range(rng.randint(10, 120)))
        for i in range(count)
    ]
    assert len(set(texts)) == count
    return texts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=192)
    parser.add_argument("--repeats", type=int, default=6)
    args = parser.parse_args()
    texts = distinct_texts(args.texts)
    local = LocalEmbedder()
    model = local.model
    model.encode(["warm up"], show_progress_bar=False)

    def ours() -> np.ndarray:
        return CachingEmbedder(local, MemoryVectorCache()).embed(texts)

    def bare() -> np.ndarray:
        return model.encode(texts, batch_size=64, show_progress_bar=False)

    best = {"ours": float("inf"), "bare": float("inf")}
    sides = [("ours", ours), ("bare", bare)]
    for repeat in range(args.repeats):
        # Alternate which side goes first, so neither always runs on a warmer or busier machine.
        for name, function in sides if repeat % 2 == 0 else sides[::-1]:
            start = time.perf_counter()
            function()
            best[name] = min(best[name], time.perf_counter() - start)
    difference = float(np.max(np.abs(ours() - bare())))
    ours_rate, bare_rate = len(texts) / best["ours"], len(texts) / best["bare"]
    print(f"bench/embedding.py, {len(texts)} distinct texts, best of {args.repeats} alternating")
    print(f"  CachingEmbedder(LocalEmbedder), cold cache  {ours_rate:8.1f} texts/s")
    print(f"  bare SentenceTransformer.encode             {bare_rate:8.1f} texts/s")
    print(f"  ratio ours / bare = {ours_rate / bare_rate:.3f}   (target >= 0.95)")
    print(f"  max abs vector difference = {difference:.2e}")

    identical = CachingEmbedder(local, MemoryVectorCache())
    identical.embed(["The same seeded output, word for word."] * 50)
    print("\n50 identical texts through CachingEmbedder")
    print(f"  encode calls = {identical.encode_calls}, texts encoded = {identical.texts_encoded}")
    print("  (target: 1 encode call)")


if __name__ == "__main__":
    main()
