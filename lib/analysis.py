"""Turn a batch of completions into per-arm reproducibility measures and between-arm distances.

Only successful runs (`Completion.ok`) are measured; failed runs are counted in `failed_runs`
and appear nowhere else. "Run 0" of an arm is its first successful run by run index.
All successful texts of the experiment are embedded in one call (the CachingEmbedder embeds
each distinct text once). A successful but empty output is not sent to the embedder (remote
APIs reject empty input); it gets the zero vector, which `seedscope.metrics` places at cosine
distance 0 from another empty output and 1 from any other output.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from seedscope import metrics
from seedscope.embeddings import Embedder
from seedscope.providers.base import Completion
from seedscope.tokens import forks


@dataclass(frozen=True)
class ArmMetrics:
    """The headline measures of one arm; None where a measure is undefined (see metrics.py)."""

    label: str
    runs: int
    failed_runs: int
    distinct_outputs: int
    modal_share: float | None
    exact_match_rate: float | None
    tarr: int | None
    mean_distance_first_vs_rest: float | None
    mean_pairwise_distance: float | None
    median_pairwise_distance: float | None
    max_pairwise_distance: float | None
    first_divergence_char: int | None
    first_divergence_word: int | None
    mean_edit_distance: float | None
    first_divergence_token: int | None  # 1-based (seedscope.tokens.forks); None: same/unknown
    knife_edge_share: float | None  # share of positions with a top-2 margin under 0.01

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ArmAnalysis:
    label: str
    completions: list[Completion]  # every run of the arm, failed ones included, by run index
    ok: list[Completion]  # the successful runs, by run index
    texts: list[str]  # texts of `ok`
    run_indices: list[int]  # run indices of `ok`; row/column labels of the matrices
    distances: np.ndarray  # cosine distances between `ok` runs, (n, n)
    edit_distances: np.ndarray  # normalized Levenshtein distances, (n, n)
    divergences: list[tuple[int, int | None, int | None]]  # (run_index, char, word) vs run 0
    metrics: ArmMetrics
    vectors: np.ndarray | None = None  # embeddings of `texts`, (n, d)
    fork: forks.TokenFork | None = None  # the earliest fork in tokens, where tokens are known
    token_divergences: list[tuple[int, int | None]] | None = None  # (run index, token) vs ref


@dataclass
class ExperimentAnalysis:
    arms: list[ArmAnalysis]
    between_arms: list[tuple[str, str, float | None]]  # (arm A, arm B, mean cross-arm distance)
    embedder_id: str | None = None  # which embedding model the cosine distances come from

    def arm(self, label: str) -> ArmAnalysis:
        for arm in self.arms:
            if arm.label == label:
                return arm
        raise KeyError(f"no arm labelled {label!r}; arms: {', '.join(a.label for a in self.arms)}")


def _arm_order(completions: Sequence[Completion], arm_order: Sequence[str] | None) -> list[str]:
    labels = list(dict.fromkeys(c.arm_label for c in completions))  # first appearance order
    if arm_order is None:
        return labels
    ordered = list(dict.fromkeys(arm_order))
    return ordered + [label for label in labels if label not in ordered]


def embed_texts(texts: Sequence[str], embedder: Embedder) -> dict[str, np.ndarray]:
    """Vectors for every distinct text, embedded in one call; empty texts get the zero vector."""
    to_embed = list(dict.fromkeys(text for text in texts if text))
    vectors: dict[str, np.ndarray] = {}
    dimension = 1
    if to_embed:
        embedded = np.asarray(embedder.embed(to_embed), dtype=np.float32)
        vectors = dict(zip(to_embed, embedded, strict=True))
        dimension = embedded.shape[1]
    if "" in texts:
        vectors[""] = np.zeros(dimension, dtype=np.float32)
    return vectors


def _analyze_arm(label: str, runs: list[Completion], vectors: dict[str, np.ndarray]) -> ArmAnalysis:
    ok = [c for c in runs if c.ok]
    texts = [c.text for c in ok]
    run_indices = [c.run_index for c in ok]
    if texts:
        arm_vectors = np.stack([vectors[text] for text in texts])
    else:
        arm_vectors = np.zeros((0, 1), dtype=np.float32)
    distances = metrics.cosine_distance_matrix(arm_vectors)
    edit_distances = metrics.edit_distance_matrix(texts)
    pairs = metrics.divergences_from_first(texts) if texts else []
    divergences = [
        (run_index, char, word)
        for run_index, (char, word) in zip(run_indices[1:], pairs, strict=True)
    ]
    stats = metrics.pairwise_stats(distances)
    traced = [(c.run_index, c.tokens) for c in ok if c.tokens is not None]
    fork = forks.arm_fork(traced)
    arm_metrics = ArmMetrics(
        label=label,
        runs=len(runs),
        failed_runs=len(runs) - len(ok),
        distinct_outputs=metrics.distinct_outputs(texts),
        modal_share=metrics.modal_share(texts),
        exact_match_rate=metrics.exact_match_rate(texts),
        tarr=metrics.tarr(texts),
        mean_distance_first_vs_rest=metrics.mean_distance_first_vs_rest(distances),
        mean_pairwise_distance=stats.mean,
        median_pairwise_distance=stats.median,
        max_pairwise_distance=stats.max,
        first_divergence_char=metrics.earliest([d[1] for d in divergences]),
        first_divergence_word=metrics.earliest([d[2] for d in divergences]),
        mean_edit_distance=metrics.mean_pairwise(edit_distances),
        first_divergence_token=None if fork is None else fork.position,
        knife_edge_share=forks.knife_edge_share([trace for _, trace in traced]),
    )
    return ArmAnalysis(
        label=label,
        completions=runs,
        ok=ok,
        texts=texts,
        run_indices=run_indices,
        distances=distances,
        edit_distances=edit_distances,
        divergences=divergences,
        metrics=arm_metrics,
        vectors=arm_vectors,
        fork=fork,
        token_divergences=forks.divergences(traced) if traced else None,
    )


def analyze(
    completions: Sequence[Completion],
    embedder: Embedder,
    arm_order: Sequence[str] | None = None,
) -> ExperimentAnalysis:
    """Measure every arm and every pair of arms.

    Arms come in `arm_order` (labels with no completions become empty arms; labels not listed
    follow in order of first appearance). `between_arms` holds each pair (A, B) with A before B
    in that order, and None where either arm has no successful run.
    """
    texts = [c.text for c in completions if c.ok]
    vectors = embed_texts(texts, embedder) if texts else {}
    arms = []
    for label in _arm_order(completions, arm_order):
        runs = sorted((c for c in completions if c.arm_label == label), key=lambda c: c.run_index)
        arms.append(_analyze_arm(label, runs, vectors))
    between: list[tuple[str, str, float | None]] = []
    for i, first in enumerate(arms):
        for second in arms[i + 1 :]:
            distance = None
            if first.texts and second.texts:
                distance = metrics.mean_cross_arm_distance(first.vectors, second.vectors)
            between.append((first.label, second.label, distance))
    return ExperimentAnalysis(arms=arms, between_arms=between, embedder_id=embedder.id)
