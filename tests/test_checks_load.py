"""lib/checks/load.py: the load probe's verdict on worked completions for every branch, what
ran at once read from the stored times, its validation, and both verdicts reached for real
(the fake OpenAI server whose output changes above N calls in flight, or not; the embedded
model, which serves one call at a time), with every call it sends stored."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from seedscope.checks import (
    LOAD_PROBE_LABEL,
    evaluate_load_probe,
    latest_checks,
    load_probe_spec,
    run_load_probe,
)
from seedscope.checks.load import BACKGROUND, CONCURRENT, LOAD_ARMS, SEQUENTIAL, UNDER_LOAD
from seedscope.metrics import first_divergence_char
from seedscope.providers.base import Completion
from seedscope.providers.openai_compat import OpenAICompatProvider
from seedscope.spec import ExperimentSpec, Limits, SpecError
from seedscope.store import Store

T0 = datetime(2026, 1, 1, tzinfo=UTC)
REMOTE = ExperimentSpec(provider="openai", model="fake-model", max_tokens=8)
SAME = "Mars rover lands."


def run(
    arm: str, index: int, text: str | None = SAME, *, at: float = 0.0, latency: float = 0.5
) -> Completion:
    """One hand-built run started `at` seconds after T0; text None is a failed call."""
    return Completion(
        arm_label=arm,
        run_index=index,
        text=text or "",
        system_fingerprint="fp_1" if text is not None else None,
        requested_seed=None if arm == BACKGROUND else 123,
        effective_seed=None if arm == BACKGROUND else 123,
        temperature=1.0 if arm == BACKGROUND else 0.0,
        top_p=1.0,
        max_tokens=8,
        provider="openai",
        model="fake-model",
        prompt_tokens=5,
        completion_tokens=3,
        latency_s=latency,
        finish_reason="stop",
        started_at=T0 + timedelta(seconds=at),
        error_type=None if text is not None else "RateLimitError",
        error_message=None if text is not None else "429",
    )


def spec(runs: int = 3, copies: int = 3, background: int = 2, base=REMOTE) -> ExperimentSpec:
    return load_probe_spec(base, runs=runs, copies=copies, background=background)


def probe_runs(runs: int = 3, copies: int = 3, background: int = 2, **texts) -> list[Completion]:
    """A probe as the schedule runs it: sequential one after another, the copies together,
    each under-load run together with its background requests. `texts` overrides a run's
    text by "<arm>_<index>" (arm with _ for spaces), e.g. concurrent_1="other"."""

    def text(arm: str, index: int) -> str | None:
        return texts.get(f"{arm.replace(' ', '_')}_{index}", SAME)

    completions = [run(SEQUENTIAL, i, text(SEQUENTIAL, i), at=i) for i in range(runs)]
    completions += [run(CONCURRENT, i, text(CONCURRENT, i), at=10) for i in range(copies)]
    for r in range(runs):
        completions.append(run(UNDER_LOAD, r, text(UNDER_LOAD, r), at=20 + r))
        completions += [
            run(BACKGROUND, r * background + j, text(BACKGROUND, r * background + j), at=20 + r)
            for j in range(background)
        ]
    return completions


def test_every_measured_run_like_the_reference_is_load_invariant():
    result = evaluate_load_probe(spec(), probe_runs())
    assert result.verdict == "load_invariant"
    evidence = result.evidence
    assert evidence["reference"] == {"arm": SEQUENTIAL, "run_index": 0}
    assert evidence["differing_runs"] == []
    assert evidence["sequential_runs_agree"] is True
    assert (evidence["runs"], evidence["copies"], evidence["background"]) == (3, 3, 2)
    # What ran at once, read from the start times and latencies.
    peaks = {arm: evidence["arms"][arm]["peak_in_flight"] for arm in LOAD_ARMS}
    assert peaks == {SEQUENTIAL: 1, CONCURRENT: 3, UNDER_LOAD: 1, BACKGROUND: 2}
    assert evidence["background_in_flight"] == 2
    assert evidence["one_call_at_a_time"] is False
    assert evidence["arms"][CONCURRENT]["matching_reference"] == 3
    assert "matching_reference" not in evidence["arms"][BACKGROUND]  # not measured
    assert evidence["fingerprints"] == ["fp_1"]


def test_a_run_that_differs_from_the_reference_makes_it_load_dependent():
    changed = "Mars rover crashes."
    completions = probe_runs(concurrent_1=changed, under_load_2=changed)
    result = evaluate_load_probe(spec(), completions)
    assert result.verdict == "load_dependent"
    assert result.evidence["differing_runs"] == [
        {"arm": CONCURRENT, "run_index": 1, "first_divergence_char": 11},
        {"arm": UNDER_LOAD, "run_index": 2, "first_divergence_char": 11},
    ]
    assert first_divergence_char(SAME, changed) == 11
    assert "in concurrent, under load" in result.evidence["explanation"]
    assert "already differ" not in result.evidence["explanation"]
    # A background request's text is never measured.
    assert evaluate_load_probe(spec(), probe_runs(background_3="other")).verdict == (
        "load_invariant"
    )


def test_sequential_runs_that_differ_are_called_out():
    result = evaluate_load_probe(spec(), probe_runs(sequential_2="Something else."))
    assert result.verdict == "load_dependent"
    assert result.evidence["sequential_runs_agree"] is False
    assert "the sequential runs already differ from each other" in result.evidence["explanation"]


def test_the_reference_is_the_first_successful_sequential_run():
    result = evaluate_load_probe(spec(), probe_runs(sequential_0=None))
    assert result.evidence["reference"] == {"arm": SEQUENTIAL, "run_index": 1}
    assert result.verdict == "load_invariant"  # 2 of 3 sequential runs are enough


def test_no_successful_sequential_run_is_inconclusive():
    failed = {f"sequential_{i}": None for i in range(3)}
    result = evaluate_load_probe(spec(), probe_runs(**failed))
    assert result.verdict == "inconclusive"
    assert result.evidence["reference"] is None
    assert "every sequential run failed" in result.evidence["explanation"]


def test_too_many_failures_without_a_difference_are_inconclusive():
    # 4 of 6 background requests refused: "under load" was hardly under load.
    refused = {f"background_{i}": None for i in range(4)}
    result = evaluate_load_probe(spec(), probe_runs(**refused))
    assert result.verdict == "inconclusive"
    assert "fewer than half the runs of background succeeded" in result.evidence["explanation"]
    # 3 of 6 is half: enough.
    half = {f"background_{i}": None for i in range(3)}
    assert evaluate_load_probe(spec(), probe_runs(**half)).verdict == "load_invariant"
    # A difference is evidence whatever failed around it.
    result = evaluate_load_probe(spec(), probe_runs(**refused, concurrent_0="Other."))
    assert result.verdict == "load_dependent"


def test_missing_runs_of_a_cancelled_probe_are_inconclusive():
    completions = [c for c in probe_runs() if c.arm_label == SEQUENTIAL]
    result = evaluate_load_probe(spec(), completions)
    assert result.verdict == "inconclusive"
    assert result.evidence["arms"][CONCURRENT]["missing"] == 3
    assert result.evidence["background_in_flight"] is None


def test_calls_one_after_another_on_the_embedded_model_say_so():
    local = spec(runs=2, copies=2, background=1, base=ExperimentSpec(max_tokens=4))
    # Each call starts exactly when the one before ended (within the tolerance): not overlap.
    arms = [(SEQUENTIAL, 2), (CONCURRENT, 2), (UNDER_LOAD, 2), (BACKGROUND, 2)]
    completions, at = [], 0.0
    for arm, count in arms:
        for index in range(count):
            completions.append(run(arm, index, at=at, latency=0.25))
            at += 0.25
    result = evaluate_load_probe(local, completions)
    assert result.verdict == "load_invariant"
    assert result.evidence["one_call_at_a_time"] is True
    assert result.evidence["arms"][CONCURRENT]["peak_in_flight"] == 1
    assert result.evidence["background_in_flight"] == 0
    assert "The embedded model serves one call at a time" in result.evidence["explanation"]
    # The same on a remote backend: it did not get loaded, and the verdict text says so.
    remote_result = evaluate_load_probe(spec(runs=2, copies=2, background=1), completions)
    assert "No two calls were in flight together" in remote_result.evidence["explanation"]


def test_an_experiment_that_is_not_a_load_probe_is_refused():
    with pytest.raises(ValueError, match="not a load probe"):
        evaluate_load_probe(ExperimentSpec(arms=[{"label": "x", "temperature": 0}]), [])


# -- validation --------------------------------------------------------------------------------


def test_the_spec_has_the_four_arms_on_the_base_request():
    built = load_probe_spec(REMOTE, seed=9, temperature=0.5, runs=3, copies=5, background=2)
    assert [(a.label, a.seed, a.temperature, a.runs) for a in built.arms] == [
        (SEQUENTIAL, 9, 0.5, 3),
        (CONCURRENT, 9, 0.5, 5),
        (UNDER_LOAD, 9, 0.5, 3),
        (BACKGROUND, None, 1.0, 6),  # unseeded: other continuations
    ]
    assert built.total_runs == 3 + 5 + 3 + 6


def test_every_bad_parameter_is_named_at_once():
    with pytest.raises(SpecError) as error:
        load_probe_spec(ExperimentSpec(), temperature=3, runs=1, copies=1, background=0)
    messages = error.value.messages
    assert [m.split(":")[0] for m in messages] == ["runs", "copies", "background", "temperature"]
    assert messages[1] == (
        "copies: 1 is out of range for the copies sent at once; allowed 2 to 100 "
        "(SEEDSCOPE_MAX_RUNS_PER_ARM)"
    )
    # seed 0 is no fixed seed on the embedded model: named once, for the three measured arms.
    with pytest.raises(SpecError) as error:
        load_probe_spec(ExperimentSpec(), seed=0)
    assert len(error.value.messages) == 1
    assert error.value.messages[0].startswith("seed: seed 0 is out of range for the local")
    with pytest.raises(SpecError, match=r"^background: runs x background = 5 x 3 = 15"):
        load_probe_spec(REMOTE, runs=5, background=3, limits=Limits(max_runs_per_arm=10))


# -- for real ----------------------------------------------------------------------------------


def remote(server) -> OpenAICompatProvider:
    return OpenAICompatProvider(api_key=None, base_url=server.base_url, model="fake-model")


@pytest.fixture
def store():
    with Store("sqlite://") as opened:
        yield opened


def test_a_server_whose_output_does_not_depend_on_load(fake_server_factory, store):
    server = fake_server_factory("--latency", "0.5", "--fingerprint", "fp_x")
    result = run_load_probe(store, spec(runs=3, copies=4, background=3), remote(server))
    assert result.verdict == "load_invariant", result.evidence["explanation"]
    evidence = result.evidence
    assert evidence["arms"][SEQUENTIAL]["peak_in_flight"] == 1
    assert evidence["arms"][CONCURRENT]["peak_in_flight"] == 4  # the copies went together
    assert evidence["arms"][UNDER_LOAD]["peak_in_flight"] == 1  # one measured run at a time
    assert evidence["background_in_flight"] == 3
    assert evidence["fingerprints"] == ["fp_x"]
    # The server saw the schedule: the sequential calls alone, the rest with company.
    log = server.stats()["chat_log"]
    assert len(log) == 3 + 4 + 3 + 9
    assert [call["in_flight_peak"] for call in log[:3]] == [1, 1, 1]
    assert {call["in_flight_peak"] for call in log[3:7]} == {4}
    assert [call["seed"] for call in log].count(None) == 9  # the background requests
    assert server.stats()["max_in_flight"] == 4


def test_the_probe_is_one_labelled_experiment_that_stores_every_call(fake_server, store):
    fake_server.reset()
    result = run_load_probe(store, spec(runs=2, copies=2, background=2), remote(fake_server))
    stored = store.load_experiment(result.experiment_id)
    assert stored.summary.label == LOAD_PROBE_LABEL == "check:load"
    assert stored.summary.status == "complete"
    assert [arm.label for arm in stored.spec.arms] == list(LOAD_ARMS)
    sent = len(fake_server.stats()["chat_log"])
    assert sent == len(stored.completions) == 2 + 2 + 2 + 4  # background stored too
    assert result.runs == stored.completions
    [record] = latest_checks(store)
    assert (record.kind, record.verdict, record.experiment_id) == (
        "load",
        result.verdict,
        result.experiment_id,
    )
    assert record.evidence == result.evidence


def test_a_server_whose_output_changes_above_n_calls_in_flight(fake_server_factory, store):
    server = fake_server_factory("--latency", "0.5", "--load-dependent", "3")
    # 4 copies and 3 background + 1 measured exceed 3 in flight: every loaded run changes.
    loaded = run_load_probe(store, spec(runs=2, copies=4, background=3), remote(server))
    assert loaded.verdict == "load_dependent"
    differing = loaded.evidence["differing_runs"]
    assert [(d["arm"], d["run_index"]) for d in differing] == [
        *((CONCURRENT, i) for i in range(4)),
        (UNDER_LOAD, 0),
        (UNDER_LOAD, 1),
    ]
    by_key = {(c.arm_label, c.run_index): c for c in loaded.runs}
    reference = by_key[(SEQUENTIAL, 0)].text
    for entry in differing:
        text = by_key[(entry["arm"], entry["run_index"])].text
        # The server keeps the first half of the words: the fork is inside the text.
        assert 0 < entry["first_divergence_char"] == first_divergence_char(reference, text)
    assert loaded.evidence["sequential_runs_agree"] is True
    # The same server with at most 3 in flight: the other outcome.
    light = run_load_probe(store, spec(runs=2, copies=3, background=2), remote(server))
    assert light.verdict == "load_invariant", light.evidence["explanation"]
    assert light.evidence["arms"][CONCURRENT]["peak_in_flight"] == 3


def test_a_server_that_ignores_the_seed_is_not_reproducible_even_alone(fake_server_factory, store):
    server = fake_server_factory("--ignore-seed")
    random_spec = load_probe_spec(REMOTE, temperature=1.0, runs=3, copies=2, background=1)
    result = run_load_probe(store, random_spec, remote(server))
    assert result.verdict == "load_dependent"
    assert result.evidence["sequential_runs_agree"] is False
    assert "already differ" in result.evidence["explanation"]


def test_the_embedded_model_serves_one_call_at_a_time(local_provider, store):
    assert local_provider.max_concurrency == 1
    probe = spec(runs=2, copies=2, background=1, base=ExperimentSpec(max_tokens=4))
    result = run_load_probe(store, probe, local_provider)
    assert result.verdict == "load_invariant", result.evidence["explanation"]
    assert result.evidence["one_call_at_a_time"] is True
    assert result.evidence["arms"][CONCURRENT]["peak_in_flight"] == 1  # the copies queued
    assert "The embedded model serves one call at a time" in result.evidence["explanation"]
    assert result.status == "complete" and len(result.runs) == 2 + 2 + 2 + 2


def test_cancelling_sends_no_call_that_is_not_stored(fake_server_factory, store):
    server = fake_server_factory("--latency", "0.05")
    cancel = threading.Event()

    def stop_after_two(event) -> None:
        if event.done >= 2:
            cancel.set()

    result = run_load_probe(
        store, spec(runs=3), remote(server), cancel=cancel, on_progress=stop_after_two
    )
    assert result.status == "cancelled"
    assert result.verdict == "inconclusive"
    stored = store.load_experiment(result.experiment_id)
    # The calls held for their turn were never sent; every call that was sent is stored.
    # (The third sequential run may already be on its way when the cancel comes.)
    sent = len(server.stats()["chat_log"])
    assert sent == len(stored.completions) in (2, 3)
    assert {c.arm_label for c in stored.completions} == {SEQUENTIAL}
