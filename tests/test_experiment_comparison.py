"""seedscope.experiment_comparison with the real MiniLM embedder: arms matched by label, the
cross-experiment distance against scipy's cdist on the same vectors, fingerprints seen."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from scipy.spatial.distance import cdist
from seedscope.embeddings import CachingEmbedder, LocalEmbedder
from seedscope.experiment_comparison import compare_experiments, fingerprints_seen
from seedscope.store.records import ExperimentSummary, StoredExperiment

from tests.store_support import T0, make_completion, make_spec, make_suite_spec

BEFORE = ["Mars is red.", "Mars is red.", "Mars is a red planet."]
AFTER = ["Mars is dusty and cold.", "Mars is dusty and cold.", "Mars is dusty and cold."]


@pytest.fixture(scope="module")
def embedder() -> CachingEmbedder:
    return CachingEmbedder(LocalEmbedder())


def stored(spec, runs, experiment_id: str, kind: str = "experiment") -> StoredExperiment:
    summary = ExperimentSummary(
        id=experiment_id,
        created_at=T0,
        finished_at=T0,
        status="complete",
        provider=spec.provider,
        model=spec.model,
        prompt="p",
        base_url_host=None,
        label=None,
        runs=len(runs),
        failed_runs=0,
        kind=kind,
    )
    return StoredExperiment(summary, spec, runs, kind)


def experiment(texts: dict[str, list[str]], fingerprints: list[str | None], experiment_id: str):
    spec = make_spec(
        arms=[
            {"label": label, "seed": 1, "temperature": 0.0, "runs": len(arm_texts)}
            for label, arm_texts in texts.items()
        ]
    )
    runs = [
        make_completion(
            spec,
            label,
            index,
            text=text,
            fingerprint=fingerprints[index],
            started_at=T0 + timedelta(seconds=index),
        )
        for label, arm_texts in texts.items()
        for index, text in enumerate(arm_texts)
    ]
    return stored(spec, runs, experiment_id)


def test_arms_match_by_label_and_the_distance_is_the_mean_over_cross_pairs(embedder):
    first = experiment({"seeded": BEFORE, "only-first": ["x"]}, ["fp_a", "fp_a", "fp_b"], "a" * 32)
    second = experiment({"seeded": AFTER}, [None, None, None], "b" * 32)
    comparison = compare_experiments(first, second, embedder)

    assert [arm.label for arm in comparison.arms] == ["seeded", "only-first"]
    seeded, only_first = comparison.arms
    assert (seeded.first.distinct_outputs, seeded.second.distinct_outputs) == (2, 1)
    assert (seeded.first.tarr, seeded.second.tarr) == (0, 1)
    # Reference: scipy's cosine distance over every (before, after) pair of the same vectors.
    before = np.asarray(embedder.embed(BEFORE))
    after = np.asarray(embedder.embed(AFTER))
    assert seeded.distance == pytest.approx(cdist(before, after, "cosine").mean(), abs=1e-6)
    assert seeded.distance > 0.05
    assert only_first.second is None and only_first.distance is None
    every_first = np.asarray(embedder.embed([*BEFORE, "x"]))
    assert comparison.distance == pytest.approx(cdist(every_first, after, "cosine").mean(), 1e-6)
    assert comparison.fingerprints == (("fp_a", "fp_b"), (None,))


def test_an_experiment_compared_with_itself_is_at_distance_zero(embedder):
    first = experiment({"seeded": AFTER}, ["fp"] * 3, "c" * 32)
    comparison = compare_experiments(first, first, embedder)
    assert comparison.arms[0].distance == pytest.approx(0.0, abs=1e-6)


def test_failed_runs_have_no_fingerprint_to_show():
    spec = make_spec()
    runs = [
        make_completion(spec, "seeded", 0, fingerprint="fp_x", started_at=T0),
        make_completion(spec, "seeded", 1, error=True, started_at=T0 + timedelta(seconds=1)),
    ]
    assert fingerprints_seen(runs) == ("fp_x",)


def test_suites_are_refused_with_a_reason(embedder):
    spec = make_suite_spec()
    suite = stored(spec, [], "d" * 32, kind="suite")
    plain = experiment({"seeded": AFTER}, ["fp"] * 3, "e" * 32)
    with pytest.raises(ValueError, match="is a suite"):
        compare_experiments(suite, plain, embedder)
