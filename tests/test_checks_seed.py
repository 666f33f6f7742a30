"""lib/checks/seed.py: the seed check's verdict on worked completions for every branch, its
validation, and every verdict reached for real (the fake OpenAI server told to honour, ignore
or not need the seed, or to be flaky; the embedded model), stored as one labelled experiment;
latest_checks reads them back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from seedscope.checks import (
    SEED_CHECK_LABEL,
    check_history,
    evaluate_seed_check,
    latest_checks,
    run_seed_check,
    seed_check_spec,
)
from seedscope.checks.seed import SEED_A, SEED_A_AGAIN, SEED_ARMS, SEED_B
from seedscope.experiments import create_experiment, run_experiment
from seedscope.providers.base import Completion
from seedscope.providers.openai_compat import OpenAICompatProvider
from seedscope.spec import ExperimentSpec, Limits, SpecError
from seedscope.store import Store

T0 = datetime(2026, 1, 1, tzinfo=UTC)
REMOTE = ExperimentSpec(provider="openai", model="fake-model", max_tokens=8)


def run(arm: str, index: int, text: str | None, fingerprint: str | None = "fp_1") -> Completion:
    """One hand-built run; text None is a failed call."""
    return Completion(
        arm_label=arm,
        run_index=index,
        text=text or "",
        system_fingerprint=fingerprint if text is not None else None,
        requested_seed=123 if arm != SEED_B else 456,
        effective_seed=123 if arm != SEED_B else 456,
        temperature=1.0,
        top_p=1.0,
        max_tokens=8,
        provider="openai",
        model="fake-model",
        prompt_tokens=5,
        completion_tokens=3,
        latency_s=0.01,
        finish_reason="stop",
        started_at=T0 + timedelta(seconds=index),
        error_type=None if text is not None else "InternalServerError",
        error_message=None if text is not None else "500",
    )


def runs_of(a: str, again: str, b: str) -> list[Completion]:
    """Texts one character per run ('x' = a failed run), as in the module docstring's table."""
    completions = []
    for label, texts in zip(SEED_ARMS, (a, again, b), strict=True):
        for index, char in enumerate(texts.split()):
            completions.append(run(label, index, None if char == "x" else f"text {char}"))
    return completions


def spec(runs: int = 5) -> ExperimentSpec:
    return seed_check_spec(REMOTE, runs=runs)


# The worked values of the module docstring, column by column (N = 5).
WORKED = [
    ("a b c d e", "a b c d e", "v w k y z", 1.0, 0.0, "seed_honoured"),
    ("a b c d e", "a b X d Y", "v w k y z", 0.6, 0.0, "seed_honoured_not_deterministic"),
    ("p q r s t", "u v w z y", "k l m n o", 0.0, 0.0, "seed_ignored"),
    ("a b c d e", "a b X Y Z", "v w k y z", 0.4, 0.0, "seed_ignored"),
    ("a a a a a", "a a a a a", "a a a a a", 1.0, 1.0, "deterministic_regardless_of_seed"),
    ("a b c d e", "a b c d e", "a b c y z", 1.0, 0.6, "inconclusive"),
]


@pytest.mark.parametrize(("a", "again", "b", "s", "c", "verdict"), WORKED)
def test_worked_values_of_the_docstring(a, again, b, s, c, verdict):
    result = evaluate_seed_check(spec(), runs_of(a, again, b))
    assert result.verdict == verdict
    assert result.evidence["same_seed"]["share"] == pytest.approx(s)
    assert result.evidence["different_seeds"]["share"] == pytest.approx(c)
    assert result.evidence["margin"] == pytest.approx(s - c)


def test_margin_of_exactly_one_half_counts_as_the_seed_mattering():
    # N = 4: s = 2/4, c = 0 -> margin 0.5: honoured but not deterministic.
    result = evaluate_seed_check(spec(4), runs_of("a b c d", "a b X Y", "k l m n"))
    assert result.verdict == "seed_honoured_not_deterministic"
    assert result.evidence["margin"] == 0.5
    # s = 1 and c = 2/4 exactly: seed B matched in half the pairs, still honoured.
    result = evaluate_seed_check(spec(4), runs_of("a b c d", "a b c d", "a b m n"))
    assert result.verdict == "seed_honoured"
    assert result.evidence["different_seeds"]["share"] == 0.5


def test_failed_runs_leave_their_pairs_out_until_too_few_are_left():
    # Runs 2 and 4 of "seed A again" failed: 3 usable same-seed pairs, 3 needed for N = 5.
    two_failed = evaluate_seed_check(spec(), runs_of("a b c d e", "a b x d x", "v w k y z"))
    assert two_failed.verdict == "seed_honoured"
    assert two_failed.evidence["same_seed"]["usable"] == 3
    assert two_failed.evidence["thresholds"]["usable_pairs_needed"] == 3
    assert two_failed.evidence["arms"][SEED_A_AGAIN]["failed"] == 2
    # A third failure: 2 usable < 3 -> inconclusive, whatever the texts say.
    three_failed = evaluate_seed_check(spec(), runs_of("a b c d e", "a x x d x", "v w k y z"))
    assert three_failed.verdict == "inconclusive"
    assert "too many runs failed" in three_failed.evidence["explanation"]
    # A failed run of "seed A" spoils both of its pairs.
    a_failed = evaluate_seed_check(spec(), runs_of("x x x d e", "a b c d e", "v w k y z"))
    assert a_failed.verdict == "inconclusive"
    assert a_failed.evidence["different_seeds"]["usable"] == 2


def test_missing_runs_count_as_unusable_pairs():
    # A cancelled check: only run 0 of each arm stored.
    completions = [c for c in runs_of("a b c d e", "a b c d e", "v w k y z") if c.run_index == 0]
    result = evaluate_seed_check(spec(), completions)
    assert result.verdict == "inconclusive"
    assert result.evidence["arms"][SEED_B]["missing"] == 4


def test_two_runs_need_both_pairs_usable():
    assert evaluate_seed_check(spec(2), runs_of("a b", "a b", "c d")).verdict == "seed_honoured"
    assert evaluate_seed_check(spec(2), runs_of("a b", "a x", "c d")).verdict == "inconclusive"


def test_evidence_has_the_shares_counts_distinct_outputs_and_fingerprints():
    completions = runs_of("a b c d e", "a b X d e", "v w k y z")
    completions[-1] = run(SEED_B, 4, "text z", fingerprint="fp_2")
    completions[1] = run(SEED_A, 1, "text b", fingerprint=None)
    evidence = evaluate_seed_check(spec(), completions).evidence
    assert evidence["same_seed"] == {
        "pairs": 5,
        "usable": 5,
        "matching": 4,
        "share": 0.8,
        "differing_runs": [{"run_index": 2, "first_divergence_char": 5}],  # "text c" / "text X"
    }
    assert evidence["different_seeds"]["matching"] == 0
    assert evidence["arms"][SEED_A] == {
        "runs": 5,
        "succeeded": 5,
        "failed": 0,
        "missing": 0,
        "distinct_outputs": 5,
    }
    assert evidence["distinct_outputs"] == 11  # a-e, X, and v w k y z
    assert evidence["fingerprints"] == ["fp_1", None, "fp_2"]  # in run order, None = not reported
    assert (evidence["seed_a"], evidence["seed_b"], evidence["temperature"]) == (123, 456, 1.0)


def test_an_experiment_that_is_not_a_seed_check_is_refused():
    other = ExperimentSpec(arms=[{"label": "seeded", "seed": 1, "temperature": 1.0}])
    with pytest.raises(ValueError, match="not a seed check"):
        evaluate_seed_check(other, [])


# -- validation --------------------------------------------------------------------------------


def test_the_spec_has_three_arms_on_the_base_request():
    built = seed_check_spec(
        REMOTE.model_copy(update={"prompt": "Say hi.", "system": ""}),
        seed_a=7,
        seed_b=8,
        temperature=0.8,
        runs=3,
    )
    assert [(a.label, a.seed, a.temperature, a.runs) for a in built.arms] == [
        (SEED_A, 7, 0.8, 3),
        (SEED_A_AGAIN, 7, 0.8, 3),
        (SEED_B, 8, 0.8, 3),
    ]
    assert (built.prompt, built.system, built.provider, built.max_tokens) == (
        "Say hi.",
        "",
        "openai",
        8,
    )


def test_every_bad_parameter_is_named_at_once():
    with pytest.raises(SpecError) as error:
        seed_check_spec(ExperimentSpec(), seed_a=0, seed_b=0, temperature=0, runs=1)
    messages = error.value.messages
    assert messages[0].startswith("runs: 1 is out of range for the seed check; allowed 2 to 100")
    assert any(m.startswith("seed_b: 0 is seed A too") for m in messages)
    assert any(m.startswith("temperature: at 0 the output is the same whatever") for m in messages)
    # seed 0 is no fixed seed on the embedded model: named by parameter, once.
    assert [m for m in messages if m.startswith("seed_a:")] == [
        "seed_a: seed 0 is out of range for the local backend; allowed 1 to 4294967294 "
        "(llama.cpp treats seed 0 as 'use the default seed' and 4294967295 as 'pick a random "
        "seed', so neither fixes the output)"
    ]
    with pytest.raises(SpecError, match=r"^temperature: temperature 2.5 is out of range"):
        seed_check_spec(REMOTE, temperature=2.5)
    with pytest.raises(SpecError, match="allowed 2 to 10"):
        seed_check_spec(REMOTE, runs=11, limits=Limits(max_runs_per_arm=10))


# -- for real ----------------------------------------------------------------------------------


def remote(server, model: str = "fake-model") -> OpenAICompatProvider:
    return OpenAICompatProvider(api_key=None, base_url=server.base_url, model=model)


@pytest.fixture
def store():
    with Store("sqlite://") as opened:
        yield opened


@pytest.mark.parametrize(
    ("options", "verdict"),
    [
        ((), "seed_honoured"),
        (("--ignore-seed",), "seed_ignored"),
        (("--deterministic",), "deterministic_regardless_of_seed"),
        # Every 5th call flips its tail: calls 5, 10, 15 are runs 1 of "seed A again", 3 of
        # "seed A" and 4 of "seed B" (the runner interleaves the arms), so 3 of 5 same-seed
        # pairs match while seed B still differs everywhere.
        (("--flaky-every", "5"), "seed_honoured_not_deterministic"),
    ],
)
def test_each_verdict_on_a_server_that_behaves_so(fake_server_factory, store, options, verdict):
    server = fake_server_factory("--fingerprint", "fp_test", *options)
    result = run_seed_check(store, spec(), remote(server))
    assert result.verdict == verdict, result.evidence["explanation"]
    assert result.status == "complete"
    assert result.evidence["fingerprints"] == ["fp_test"]
    stats = server.stats()
    assert stats["max_in_flight"] == 1  # one call at a time: load cannot pose as a seed effect
    assert len(stats["chat_log"]) == 15
    assert sorted({call["seed"] for call in stats["chat_log"]}) == [123, 456]
    if verdict == "seed_honoured_not_deterministic":
        assert result.evidence["same_seed"]["share"] == 0.6
        assert [d["run_index"] for d in result.evidence["same_seed"]["differing_runs"]] == [1, 3]


def test_the_runs_are_one_labelled_experiment_in_the_history(fake_server, store):
    fake_server.reset()
    result = run_seed_check(store, spec(3), remote(fake_server))
    stored = store.load_experiment(result.experiment_id)
    assert stored.summary.label == SEED_CHECK_LABEL == "check:seed"
    assert stored.summary.status == "complete"
    assert [arm.label for arm in stored.spec.arms] == list(SEED_ARMS)
    assert sorted((c.arm_label, c.run_index) for c in stored.completions) == sorted(
        (label, index) for label in SEED_ARMS for index in range(3)
    )
    assert result.runs == stored.completions  # judged from the runs as stored
    assert evaluate_seed_check(stored.spec, stored.completions).verdict == result.verdict


def test_a_backend_that_fails_every_call_is_inconclusive(fake_server, store):
    failing = seed_check_spec(REMOTE.model_copy(update={"model": "fault-500"}), runs=2)
    provider = OpenAICompatProvider(api_key=None, base_url=fake_server.base_url, max_retries=0)
    result = run_seed_check(store, failing, provider)
    assert result.verdict == "inconclusive"
    assert result.status == "failed"
    assert result.failure_summary.startswith("every run failed")
    assert result.evidence["arms"][SEED_A]["failed"] == 2


def test_the_embedded_model_honours_its_seed(local_provider, store):
    # Every call starts from a reset context with the seed handed to llama.cpp's sampler and
    # fixed load settings, so seed A repeats run by run; at T=1 seed B samples other tokens.
    # Nothing else varies between calls, so it is seed_honoured, not ..._not_deterministic.
    base = ExperimentSpec(max_tokens=4)
    result = run_seed_check(store, seed_check_spec(base, runs=2), local_provider)
    assert result.verdict == "seed_honoured", result.evidence["explanation"]
    assert result.evidence["same_seed"]["share"] == 1.0
    assert result.evidence["different_seeds"]["share"] == 0.0
    assert result.evidence["fingerprints"] == [local_provider.fingerprint]


def test_latest_checks_recomputes_the_newest_per_backend(fake_server_factory, store):
    honouring, ignoring = fake_server_factory(), fake_server_factory("--ignore-seed")
    first = run_seed_check(store, spec(2), remote(honouring))
    newest = run_seed_check(store, spec(2), remote(honouring))
    other = run_seed_check(store, spec(2), remote(ignoring))
    # A drift probe someone named "check:seed": not a seed check, left out.
    compare_spec = ExperimentSpec(
        provider="openai",
        model="fake-model",
        max_tokens=8,
        arms=[{"label": "seeded", "seed": 1, "temperature": 0.0, "runs": 1}],
    )
    impostor = create_experiment(store, compare_spec, remote(honouring), label=SEED_CHECK_LABEL)
    run_experiment(store, impostor, compare_spec, remote(honouring))

    latest = latest_checks(store)
    assert [(r.experiment_id, r.verdict) for r in latest] == [
        (other.experiment_id, "seed_ignored"),
        (newest.experiment_id, "seed_honoured"),
    ]
    record = latest[1]
    assert (record.kind, record.provider, record.model) == ("seed", "openai", "fake-model")
    assert record.base_url_host == f"127.0.0.1:{honouring.port}"
    assert record.evidence == newest.evidence
    assert record.checked_at <= record.finished_at
    assert record.to_dict()["checked_at"] == record.checked_at.isoformat()
    history = check_history(store, kind="seed")
    assert [r.experiment_id for r in history] == [
        other.experiment_id,
        newest.experiment_id,
        first.experiment_id,
    ]
    assert check_history(store, kind="load") == []
