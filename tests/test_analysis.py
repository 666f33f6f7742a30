"""seedscope.analysis with the real MiniLM embedder: per-arm measures, failed runs, between arms."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from scipy.spatial.distance import cdist
from seedscope.analysis import ArmMetrics, analyze
from seedscope.embeddings import CachingEmbedder, LocalEmbedder
from seedscope.providers.base import Completion

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
UNSEEDED = [
    "The rover touched down in Jezero crater at dawn.",
    "Astronauts began the long voyage to the red planet today.",
    "Mission control lost the signal during the dust storm.",
    "The crew planted the first greenhouse seedlings on Mars.",
    "The rover touched down in Jezero crater at dawn.",
]
SEEDED = ["The crew of Ares One reached Martian orbit after seven months."] * 5


def completion(
    arm: str, run: int, text: str, *, error: str | None = None, seed: int | None = None
) -> Completion:
    return Completion(
        arm_label=arm,
        run_index=run,
        text="" if error else text,
        system_fingerprint="fp_test",
        requested_seed=seed,
        effective_seed=seed,
        temperature=0.7,
        top_p=1.0,
        max_tokens=64,
        provider="local",
        model="SmolLM2-135M-Instruct",
        prompt_tokens=12,
        completion_tokens=None if error else 20,
        latency_s=0.5,
        finish_reason=None if error else "stop",
        started_at=START + timedelta(seconds=run),
        error_type=error,
        error_message="boom" if error else None,
    )


def arm_runs(label: str, texts: Sequence[str], seed: int | None = None) -> list[Completion]:
    return [completion(label, i, text, seed=seed) for i, text in enumerate(texts)]


@pytest.fixture(scope="module")
def local() -> LocalEmbedder:
    return LocalEmbedder()


@pytest.fixture
def embedder(local) -> CachingEmbedder:
    return CachingEmbedder(local)


def test_cookbook_shaped_experiment(embedder, local):
    completions = arm_runs("unseeded", UNSEEDED) + arm_runs("seeded", SEEDED, seed=123)
    analysis = analyze(completions, embedder)
    # One embed call for the whole experiment, each distinct text once.
    assert embedder.encode_calls == 1
    assert embedder.texts_encoded == len(set(UNSEEDED + SEEDED))

    unseeded, seeded = analysis.arm("unseeded"), analysis.arm("seeded")
    assert [arm.label for arm in analysis.arms] == ["unseeded", "seeded"]

    expected = cdist(local.embed(UNSEEDED), local.embed(UNSEEDED), "cosine")
    np.testing.assert_allclose(unseeded.distances, expected, atol=1e-5)
    m = unseeded.metrics
    assert (m.runs, m.failed_runs, m.distinct_outputs, m.tarr) == (5, 0, 4, 0)
    assert m.modal_share == pytest.approx(0.4)
    assert m.exact_match_rate == pytest.approx(0.25)  # run 4 repeats run 0
    assert m.mean_distance_first_vs_rest == pytest.approx(np.mean(expected[0, 1:]), abs=1e-5)
    pairs = expected[np.triu_indices(5, k=1)]
    assert m.mean_pairwise_distance == pytest.approx(np.mean(pairs), abs=1e-5)
    assert m.median_pairwise_distance == pytest.approx(np.median(pairs), abs=1e-5)
    assert m.max_pairwise_distance == pytest.approx(np.max(pairs), abs=1e-5)
    assert m.first_divergence_char == 0 and m.first_divergence_word == 0
    assert unseeded.divergences[3] == (4, None, None)  # run 4 is identical to run 0
    assert 0 < m.mean_edit_distance < 1

    s = seeded.metrics
    assert (s.distinct_outputs, s.tarr, s.exact_match_rate, s.modal_share) == (1, 1, 1.0, 1.0)
    assert s.mean_distance_first_vs_rest == 0.0
    assert s.max_pairwise_distance == 0.0
    assert s.first_divergence_char is None and s.first_divergence_word is None
    assert s.mean_edit_distance == 0.0
    assert seeded.divergences == [(i, None, None) for i in range(1, 5)]

    ((a, b, between),) = analysis.between_arms
    assert (a, b) == ("unseeded", "seeded")
    cross = cdist(local.embed(UNSEEDED), local.embed(SEEDED), "cosine")
    assert between == pytest.approx(np.mean(cross), abs=1e-5)


def test_failed_runs_are_counted_and_excluded(embedder):
    completions = [
        completion("a", 0, "", error="APITimeoutError"),
        completion("a", 1, "Dust storms cover the plains."),
        completion("a", 2, "", error="RateLimitError"),
        completion("a", 3, "Dust storms cover the hills."),
    ]
    arm = analyze(completions, embedder).arm("a")
    assert arm.metrics.runs == 4 and arm.metrics.failed_runs == 2
    assert [c.run_index for c in arm.completions] == [0, 1, 2, 3]
    assert arm.run_indices == [1, 3]
    assert arm.texts == ["Dust storms cover the plains.", "Dust storms cover the hills."]
    assert arm.distances.shape == (2, 2) and arm.edit_distances.shape == (2, 2)
    # "Run 0" is the first successful run.
    assert arm.divergences == [(3, 22, 4)]
    assert arm.metrics.first_divergence_char == 22


def test_all_runs_failed(embedder):
    completions = [completion("dead", i, "", error="APIConnectionError") for i in range(3)]
    completions += arm_runs("alive", ["Orbit reached.", "Orbit reached."])
    analysis = analyze(completions, embedder)
    dead = analysis.arm("dead")
    assert dead.metrics == ArmMetrics(
        label="dead",
        runs=3,
        failed_runs=3,
        distinct_outputs=0,
        modal_share=None,
        exact_match_rate=None,
        tarr=None,
        mean_distance_first_vs_rest=None,
        mean_pairwise_distance=None,
        median_pairwise_distance=None,
        max_pairwise_distance=None,
        first_divergence_char=None,
        first_divergence_word=None,
        mean_edit_distance=None,
        first_divergence_token=None,
        knife_edge_share=None,
    )
    assert dead.distances.shape == (0, 0) and dead.divergences == []
    assert analysis.between_arms == [("dead", "alive", None)]


def test_nothing_succeeded_anywhere_makes_no_embed_call(embedder):
    analysis = analyze([completion("a", 0, "", error="X")], embedder)
    assert embedder.encode_calls == 0
    assert analysis.arm("a").metrics.failed_runs == 1
    empty = analyze([], embedder)
    assert empty.arms == [] and empty.between_arms == []


def test_one_run(embedder):
    metrics = analyze(arm_runs("solo", ["Only once."]), embedder).arm("solo").metrics
    assert (metrics.runs, metrics.distinct_outputs, metrics.tarr, metrics.modal_share) == (
        1,
        1,
        1,
        1.0,
    )
    assert metrics.exact_match_rate is None
    assert metrics.mean_distance_first_vs_rest is None
    assert metrics.mean_pairwise_distance is None and metrics.max_pairwise_distance is None
    assert metrics.first_divergence_char is None and metrics.mean_edit_distance is None


def test_empty_successful_outputs_are_not_sent_to_the_embedder(embedder):
    arm = analyze(arm_runs("e", ["", "", "Hello Mars."]), embedder).arm("e")
    assert embedder.texts_encoded == 1
    assert arm.distances[0, 1] == 0.0  # empty vs empty
    assert arm.distances[0, 2] == 1.0  # empty vs text: orthogonal by convention
    assert arm.metrics.distinct_outputs == 2
    assert arm.divergences == [(1, None, None), (2, 0, 0)]


def test_arm_order_and_unknown_arms(embedder):
    completions = arm_runs("b", ["x", "y"]) + arm_runs("a", ["x", "x"])
    analysis = analyze(completions, embedder, arm_order=["a", "missing", "b"])
    assert [arm.label for arm in analysis.arms] == ["a", "missing", "b"]
    assert analysis.arm("missing").metrics.runs == 0
    assert [pair[:2] for pair in analysis.between_arms] == [
        ("a", "missing"),
        ("a", "b"),
        ("missing", "b"),
    ]
    with pytest.raises(KeyError, match="no arm labelled 'c'"):
        analysis.arm("c")


def test_runs_are_ordered_by_run_index(embedder):
    completions = list(reversed(arm_runs("r", ["first", "second", "third"])))
    arm = analyze(completions, embedder).arm("r")
    assert arm.run_indices == [0, 1, 2]
    assert arm.texts == ["first", "second", "third"]


def test_metrics_to_dict_lists_every_measure(embedder):
    metrics = analyze(arm_runs("x", ["a", "b"]), embedder).arm("x").metrics
    data = metrics.to_dict()
    assert list(data) == list(ArmMetrics.__dataclass_fields__)
    assert data["label"] == "x" and data["distinct_outputs"] == 2


def test_very_long_outputs(embedder):
    long_a = "The colony expanded. " * 2000
    long_b = long_a[:-30] + "The colony starved, alas!!!!! "
    arm = analyze(arm_runs("long", [long_a, long_b]), embedder).arm("long")
    assert arm.metrics.first_divergence_char == len(long_a) - 30
    assert arm.metrics.mean_edit_distance == pytest.approx(arm.edit_distances[0, 1], abs=1e-12)
    assert 0 < arm.metrics.mean_edit_distance < 0.01
    assert 0 <= arm.metrics.mean_pairwise_distance < 0.1  # MiniLM truncates long input
