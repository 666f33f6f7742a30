"""Benchmark the metrics and analysis modules against their references, side by side in one run.

    .venv/bin/python bench/metrics.py [--repeats N]

1. Pairwise cosine distances of 2000 x 384 vectors: seedscope.metrics.cosine_distance_matrix vs
   scipy.spatial.distance.pdist(..., "cosine"). Target ratio (ours / scipy) <= 1.0.
2. Normalized edit distance matrix of 200 texts of ~1000 characters: rapidfuzz.process.cdist
   (metrics.edit_distance_matrix) vs a plain Python loop over rapidfuzz's single-pair call.
3. Full analysis of a 2 x 100 batch end to end with the embedded MiniLM embedder: a cold cache
   (every distinct text embedded) vs a warm one (a re-rendered view: nothing re-embedded).

Each pair is timed alternately, best of N repeats, so both sides see the same machine load.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from rapidfuzz.distance import Levenshtein
from scipy.spatial.distance import pdist

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, uninstalled

from seedscope import metrics  # noqa: E402
from seedscope.analysis import analyze  # noqa: E402
from seedscope.embeddings import CachingEmbedder, LocalEmbedder, MemoryVectorCache  # noqa: E402
from seedscope.providers.base import Completion  # noqa: E402

WORDS = ["mars", "rover", "crew", "orbit", "launch", "dust", "crater", "signal", "red"]
WORDS += ["planet", "journey", "module", "solar", "wind", "storm", "ice", "canyon", "pilot"]


def best_of(repeats: int, *functions: Callable[[], object]) -> list[float]:
    """Best wall time of each function, running them alternately `repeats` times."""
    best = [float("inf")] * len(functions)
    order = list(enumerate(functions))
    for repeat in range(repeats):
        # Alternate which side goes first, so neither always runs on a warmer or busier machine.
        for index, function in order if repeat % 2 == 0 else order[::-1]:
            start = time.perf_counter()
            function()
            best[index] = min(best[index], time.perf_counter() - start)
    return best


def report(
    name: str, ours_label: str, ours: float, ref_label: str, ref: float, target: str
) -> None:
    print(f"\n{name}")
    print(f"  {ours_label:<44} {ours * 1000:10.1f} ms")
    print(f"  {ref_label:<44} {ref * 1000:10.1f} ms")
    print(f"  ratio ours / reference = {ours / ref:.3f}   ({target})")


def sentence(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words)).capitalize() + "."


def bench_cosine(repeats: int) -> None:
    vectors = np.random.default_rng(0).normal(size=(2000, 384)).astype(np.float32)
    ours, ref = best_of(
        repeats,
        lambda: metrics.cosine_distance_matrix(vectors),
        lambda: pdist(vectors, "cosine"),
    )
    full = metrics.cosine_distance_matrix(vectors)
    error = np.max(np.abs(metrics.upper_triangle(full) - pdist(vectors, "cosine")))
    report(
        "cosine distances, 2000 x 384 vectors (full matrix vs condensed pdist)",
        "seedscope.metrics.cosine_distance_matrix",
        ours,
        'scipy pdist(..., "cosine")',
        ref,
        f"target <= 1.0; max abs difference {error:.2e}",
    )


def bench_edit_distance(repeats: int) -> None:
    rng = random.Random(1)
    texts = [sentence(rng, 150)[:1000] for _ in range(200)]

    def python_loop() -> np.ndarray:
        n = len(texts)
        matrix = np.zeros((n, n))
        for i in range(n):
            for j in range(i + 1, n):
                value = Levenshtein.normalized_distance(texts[i], texts[j])
                matrix[i, j] = matrix[j, i] = value
        return matrix

    ours, parallel, ref = best_of(
        max(1, repeats // 2),
        lambda: metrics.edit_distance_matrix(texts),
        lambda: metrics.edit_distance_matrix(texts, workers=-1),
        python_loop,
    )
    same = np.allclose(metrics.edit_distance_matrix(texts), python_loop())
    mean_len = sum(map(len, texts)) / len(texts)
    report(
        f"normalized edit distance matrix, 200 texts of ~{mean_len:.0f} characters",
        "rapidfuzz.process.cdist (workers=1, the default)",
        ours,
        "Python loop over Levenshtein.normalized_distance",
        ref,
        f"lower is better; same matrix: {same}",
    )
    print(f"  with workers=-1 (all cores): {parallel * 1000:.1f} ms, ratio {parallel / ref:.3f}")


def batch(rng: random.Random) -> list[Completion]:
    started = datetime(2026, 1, 1, tzinfo=UTC)
    completions = []
    seeded_text = sentence(rng, 60)
    for arm, seed in (("unseeded", None), ("seeded", 123)):
        for run in range(100):
            text = seeded_text if seed else sentence(rng, rng.randint(30, 90))
            completions.append(
                Completion(
                    arm_label=arm,
                    run_index=run,
                    text=text,
                    system_fingerprint=None,
                    requested_seed=seed,
                    effective_seed=seed,
                    temperature=0.7,
                    top_p=1.0,
                    max_tokens=200,
                    provider="local",
                    model="SmolLM2-135M-Instruct",
                    prompt_tokens=20,
                    completion_tokens=80,
                    latency_s=1.0,
                    finish_reason="stop",
                    started_at=started,
                )
            )
    return completions


def bench_analysis(repeats: int) -> None:
    completions = batch(random.Random(2))
    local = LocalEmbedder()
    local.embed(["warm up the model"])  # loading the model is not part of an analysis
    warm_cache = MemoryVectorCache()
    analyze(completions, CachingEmbedder(local, warm_cache))
    cold_embedder: list[CachingEmbedder] = []

    def cold() -> None:
        embedder = CachingEmbedder(local, MemoryVectorCache())
        analyze(completions, embedder)
        cold_embedder.append(embedder)

    cold_time, warm_time = best_of(
        max(1, repeats // 2),
        cold,
        lambda: analyze(completions, CachingEmbedder(local, warm_cache)),
    )
    encoded = cold_embedder[-1].texts_encoded
    report(
        f"full analysis of a 2 x 100 batch ({encoded} distinct texts embedded when cold)",
        "analyze, warm vector cache (re-render)",
        warm_time,
        "analyze, cold vector cache (embeds every text)",
        cold_time,
        "how much of an analysis is embedding",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(f"bench/metrics.py, best of {args.repeats} alternating repeats")
    bench_cosine(args.repeats)
    bench_edit_distance(args.repeats)
    bench_analysis(args.repeats)


if __name__ == "__main__":
    main()
