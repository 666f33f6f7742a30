"""lib/runner.py against real backends: the fake OpenAI server (counts, faults, in-flight
measured at the server) and the embedded model."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest
from seedscope.providers.base import Completion, CompletionRequest
from seedscope.providers.openai_compat import OpenAICompatProvider
from seedscope.runner import (
    ProgressEvent,
    RunnerCallbackError,
    effective_concurrency,
    plan_requests,
    run_spec,
    run_spec_sync,
)
from seedscope.spec import ExperimentSpec


def make_spec(*arms: tuple[str, int | None, float, int], max_tokens: int = 8) -> ExperimentSpec:
    return ExperimentSpec(
        prompt="Write one line about Mars.",
        provider="openai",
        model="fake-model",
        max_tokens=max_tokens,
        arms=[
            {"label": label, "seed": seed, "temperature": t, "runs": runs}
            for label, seed, t, runs in arms
        ],
    )


def remote(server, **kw: Any) -> OpenAICompatProvider:
    return OpenAICompatProvider(api_key=None, base_url=server.base_url, model="fake-model", **kw)


def keys(completions: list[Completion]) -> list[tuple[str, int]]:
    return [(c.arm_label, c.run_index) for c in completions]


def test_plan_interleaves_arms():
    spec = make_spec(("a", 1, 0.0, 3), ("b", 2, 0.0, 1), ("c", None, 0.7, 2))
    planned = plan_requests(spec)
    assert keys(planned) == [("a", 0), ("b", 0), ("c", 0), ("a", 1), ("c", 1), ("a", 2)]
    assert all(r.prompt == spec.prompt and r.max_tokens == 8 for r in planned)
    assert [r.seed for r in planned] == [1, 2, None, 1, None, 1]


def test_plan_leaves_out_the_runs_already_stored():
    spec = make_spec(("a", 1, 0.0, 3), ("b", None, 0.7, 2))
    stored = [r for r in plan_requests(spec) if (r.arm_label, r.run_index) in {("a", 1), ("b", 0)}]
    previous = [_done(request) for request in stored]
    assert keys(plan_requests(spec, previous)) == [("a", 0), ("b", 1), ("a", 2)]


def test_previous_runs_are_not_sent_again_and_progress_counts_from_them(fake_server):
    fake_server.reset()
    spec = make_spec(("a", 1, 0.0, 3), ("b", 2, 0.0, 2))
    first = run_spec_sync(spec, remote(fake_server), concurrency=1)
    previous = [c for c in first.completions if c.run_index != 1]  # a1 and b1 "were lost"
    fake_server.reset()
    events: list[ProgressEvent] = []
    outcome = run_spec_sync(
        spec, remote(fake_server), previous=previous, on_progress=events.append, concurrency=1
    )
    log = fake_server.stats()["chat_log"]
    assert [entry["seed"] for entry in log] == [1, 2]  # only the two missing runs
    assert keys(outcome.completions) == [("a", 1), ("b", 1)]  # the outcome holds only new runs
    assert not outcome.cancelled
    assert [(e.done, e.total) for e in events] == [(4, 5), (5, 5)]
    assert (events[-1].arms["a"].done, events[-1].arms["b"].done) == (3, 2)


def _done(request: CompletionRequest) -> Completion:
    """A stored run for a planned request (as a previous attempt left it)."""
    return Completion(
        arm_label=request.arm_label,
        run_index=request.run_index,
        text="earlier",
        system_fingerprint=None,
        requested_seed=request.seed,
        effective_seed=request.seed,
        temperature=request.temperature,
        top_p=request.top_p,
        max_tokens=request.max_tokens,
        provider="openai",
        model=request.model,
        prompt_tokens=1,
        completion_tokens=1,
        latency_s=0.1,
        finish_reason="stop",
        started_at=datetime.now(UTC),
        error_type=None,
        error_message=None,
    )


def test_calls_reach_the_server_interleaved_and_uncached(fake_server):
    fake_server.reset()
    spec = make_spec(("a", 1, 0.0, 3), ("b", 2, 0.0, 1), ("c", 3, 0.0, 2))
    outcome = run_spec_sync(spec, remote(fake_server), concurrency=1)
    log = fake_server.stats()["chat_log"]
    # Every run is a real call, repeated identical requests included (no cache).
    assert [entry["seed"] for entry in log] == [1, 2, 3, 1, 3, 1]
    assert keys(outcome.completions) == [("a", 0), ("a", 1), ("a", 2), ("b", 0), ("c", 0), ("c", 1)]
    assert not outcome.cancelled


def test_concurrency_bound_is_respected_at_the_server(fake_server_factory):
    server = fake_server_factory("--latency", "0.2")
    spec = make_spec(("a", 1, 0.0, 6), ("b", None, 0.7, 6))
    outcome = run_spec_sync(spec, remote(server), concurrency=3)
    stats = server.stats()
    assert len(outcome.completions) == 12 and all(c.ok for c in outcome.completions)
    assert 2 <= stats["max_in_flight"] <= 3
    server.reset()
    big = make_spec(("a", 1, 0.0, 10), ("b", None, 0.7, 10))
    run_spec_sync(big, remote(server))  # default bound: 8
    assert 4 <= server.stats()["max_in_flight"] <= 8


def test_effective_concurrency():
    class Capped:
        max_concurrency = 1

    class Open:
        max_concurrency = None

    assert effective_concurrency(Capped(), 16) == 1
    assert effective_concurrency(Open(), None) == 8
    assert effective_concurrency(Open(), 16) == 16
    with pytest.raises(ValueError, match="concurrency 0 is out of range"):
        effective_concurrency(Open(), 0)


def test_thirty_percent_faults_lose_and_duplicate_nothing(fake_server_factory):
    server = fake_server_factory(
        "--fault-rate", "0.3", "--fault-seed", "11", "--hang", "8", "--retry-after", "0.01",
        "--latency", "0.02",
    )  # fmt: skip
    spec = make_spec(("unseeded", None, 0.7, 20), ("seeded", 123, 0.0, 20))
    provider = remote(server, max_retries=0, timeout=3.0)  # ample for a loaded CI box
    sunk: list[Completion] = []
    outcome = run_spec_sync(spec, provider, sink=sunk.append, concurrency=8)
    expected = [(arm, i) for arm in ("unseeded", "seeded") for i in range(20)]
    assert keys(outcome.completions) == expected  # each run once, in arm then index order
    assert sorted(keys(sunk)) == sorted(expected)
    failed = [c for c in outcome.completions if not c.ok]
    assert failed and len(failed) < 40
    for completion in failed:
        assert completion.text == "" and completion.error_type and completion.error_message
    for completion in outcome.completions:
        if completion.ok:
            assert completion.text and completion.error_message is None
    stats = server.stats()
    assert sum(stats["faults"].values()) == len(failed)  # each injected fault is one recorded run
    assert stats["requests"]["chat"] == 40  # max_retries=0: one call per run
    kinds = {c.error_type for c in failed}
    assert kinds <= {
        "RateLimitError",
        "InternalServerError",
        "APITimeoutError",
        "APIConnectionError",
        "MalformedResponseError",
    }


def test_faults_with_sdk_retries_still_give_one_record_per_run(fake_server_factory):
    server = fake_server_factory(
        "--fault-rate", "0.3", "--fault-seed", "5", "--faults", "429,500,drop,malformed",
        "--retry-after", "0.01",
    )  # fmt: skip
    spec = make_spec(("a", None, 0.7, 15), ("b", 9, 0.0, 15))
    outcome = run_spec_sync(spec, remote(server, max_retries=2), concurrency=8)
    assert Counter(keys(outcome.completions)) == Counter(keys(plan_requests(spec)))
    assert server.stats()["requests"]["chat"] > 30  # the SDK retried some calls


def test_progress_runs_on_the_callers_thread_and_the_sink_on_one_writer_thread(fake_server):
    spec = make_spec(("unseeded", None, 0.7, 5), ("seeded", 123, 0.0, 5))
    caller = threading.get_ident()
    sunk: list[Completion] = []
    events: list[ProgressEvent] = []
    sink_threads: set[int] = set()
    progress_threads: set[int] = set()

    def sink(completion: Completion) -> None:
        sink_threads.add(threading.get_ident())
        sunk.append(completion)

    def on_progress(event: ProgressEvent) -> None:
        progress_threads.add(threading.get_ident())
        assert any(c is event.completion for c in sunk)  # persisted before progress is shown
        events.append(event)

    outcome = run_spec_sync(spec, remote(fake_server), sink=sink, on_progress=on_progress)
    assert progress_threads == {caller}  # Streamlit needs its own thread
    assert len(sink_threads) == 1 and caller not in sink_threads  # writes never block the loop
    assert [e.completion for e in events] == sunk  # progress in the order runs were stored
    assert [e.done for e in events] == list(range(1, 11))
    assert all(e.total == 10 for e in events)
    final = events[-1].arms
    assert {label: (p.done, p.failed, p.total) for label, p in final.items()} == {
        "unseeded": (5, 0, 5),
        "seeded": (5, 0, 5),
    }
    assert sorted(keys(sunk)) == sorted(keys(outcome.completions))
    seeded = {c.text for c in outcome.completions if c.arm_label == "seeded"}
    unseeded = {c.text for c in outcome.completions if c.arm_label == "unseeded"}
    assert len(seeded) == 1 and len(unseeded) >= 2


def test_progress_counts_failures_per_arm(fake_server):
    spec = ExperimentSpec(
        prompt="x",
        model="fault-500",
        provider="openai",
        max_tokens=4,
        arms=[{"label": "only", "seed": 1, "temperature": 0, "runs": 3}],
    )
    events: list[ProgressEvent] = []
    run_spec_sync(spec, remote(fake_server, max_retries=0), on_progress=events.append)
    assert [(e.arms["only"].done, e.arms["only"].failed) for e in events] == [
        (1, 1),
        (2, 2),
        (3, 3),
    ]


def test_cancel_keeps_every_completed_run(fake_server_factory):
    server = fake_server_factory("--latency", "0.3")
    spec = make_spec(("a", None, 0.7, 5), ("b", 1, 0.0, 5))
    cancel = threading.Event()
    cancelled_at: list[datetime] = []
    sunk: list[Completion] = []

    def on_progress(event: ProgressEvent) -> None:
        if event.done == 3:
            cancelled_at.append(datetime.now(UTC))
            cancel.set()

    outcome = run_spec_sync(
        spec, remote(server), sink=sunk.append, on_progress=on_progress, cancel=cancel,
        concurrency=2,
    )  # fmt: skip
    assert outcome.cancelled
    assert 3 <= len(outcome.completions) < 10
    # The guarantee is "no call starts after cancel"; how many were in flight or finished but not
    # yet delivered at that moment depends on timing, so count starts, not completions.
    assert all(c.started_at <= cancelled_at[0] for c in outcome.completions)
    assert sorted(keys(sunk)) == sorted(keys(outcome.completions))
    assert server.stats()["requests"]["chat"] == len(outcome.completions)  # none dropped


def test_cancel_before_start_makes_no_call(fake_server):
    fake_server.reset()
    cancel = threading.Event()
    cancel.set()
    outcome = run_spec_sync(make_spec(("a", 1, 0.0, 3)), remote(fake_server), cancel=cancel)
    assert outcome.cancelled and outcome.completions == []
    assert fake_server.stats()["requests"].get("chat", 0) == 0


class StopScript(BaseException):
    """Like Streamlit's StopException/RerunException: not an Exception subclass."""


def test_control_exception_in_a_callback_stops_cleanly_and_propagates(fake_server_factory):
    server = fake_server_factory("--latency", "0.1")
    spec = make_spec(("a", None, 0.7, 10), ("b", 2, 0.0, 10))
    sunk: list[Completion] = []

    def sink(completion: Completion) -> None:
        sunk.append(completion)
        if len(sunk) == 2:
            raise StopScript

    async def main() -> set[asyncio.Task]:
        with pytest.raises(StopScript):
            await run_spec(spec, remote(server), sink=sink, concurrency=4)
        return asyncio.all_tasks() - {asyncio.current_task()}

    leftover = asyncio.run(main())
    assert leftover == set()  # no worker left running
    assert len(sunk) == 2
    assert server.stats()["requests"]["chat"] < 20  # the rest of the plan never started


def test_streamlit_stop_exception_propagates_unchanged(fake_server):
    stop_exception = pytest.importorskip(
        "streamlit.runtime.scriptrunner_utils.exceptions"
    ).StopException
    spec = make_spec(("a", 1, 0.0, 4))

    def on_progress(event: ProgressEvent) -> None:
        raise stop_exception()

    with pytest.raises(stop_exception):
        run_spec_sync(spec, remote(fake_server), on_progress=on_progress)


def test_keyboard_interrupt_in_a_callback_propagates(fake_server):
    def on_progress(event: ProgressEvent) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_spec_sync(make_spec(("a", 1, 0.0, 4)), remote(fake_server), on_progress=on_progress)


def test_sink_error_keeps_the_completion(fake_server):
    spec = make_spec(("a", 1, 0.0, 4), ("b", None, 0.7, 4))
    calls: list[Completion] = []

    def sink(completion: Completion) -> None:
        calls.append(completion)
        if len(calls) == 3:
            raise OSError("database is locked")

    with pytest.raises(RunnerCallbackError) as caught:
        run_spec_sync(spec, remote(fake_server), sink=sink, concurrency=1)
    error = caught.value
    assert error.callback == "sink"
    assert error.completion is calls[-1]
    assert isinstance(error.__cause__, OSError)
    assert error.outcome.cancelled
    assert sorted(keys(error.outcome.completions)) == sorted(keys(calls))
    assert "kept 3 completions" in str(error)


def test_a_provider_that_raises_still_gives_a_record():
    class BrokenProvider:
        name = "openai"
        model = "broken"
        max_concurrency = None
        base_url_host = None

        async def complete(self, request: CompletionRequest) -> Completion:
            raise RuntimeError("bug in a backend")

        def list_models(self) -> list[str]:
            return []

    outcome = run_spec_sync(make_spec(("a", 1, 0.0, 2)), BrokenProvider())
    assert keys(outcome.completions) == [("a", 0), ("a", 1)]
    assert {c.error_type for c in outcome.completions} == {"RuntimeError"}
    assert "bug in a backend" in outcome.completions[0].error_message


def test_the_same_provider_serves_successive_event_loops(fake_server):
    provider = remote(fake_server)
    spec = make_spec(("a", 1, 0.0, 2))
    for _ in range(3):  # run_spec_sync makes a new loop each time (one per Streamlit rerun)
        outcome = run_spec_sync(spec, provider)
        assert all(c.ok for c in outcome.completions)


def test_embedded_model_runs_one_generation_at_a_time(local_provider):
    in_flight = 0
    peak = 0

    class Counting:
        """Counts concurrent calls into the real embedded provider."""

        name = local_provider.name
        model = local_provider.model
        max_concurrency = local_provider.max_concurrency
        base_url_host = None

        async def complete(self, request: CompletionRequest) -> Completion:
            nonlocal in_flight, peak
            in_flight += 1
            peak = max(peak, in_flight)
            try:
                return await local_provider.complete(request)
            finally:
                in_flight -= 1

        def list_models(self) -> list[str]:
            return local_provider.list_models()

    spec = make_spec(("a", None, 0.7, 2), ("b", 5, 0.7, 2), max_tokens=4)
    outcome = run_spec_sync(spec, Counting(), concurrency=8)
    assert peak == 1
    assert all(c.ok for c in outcome.completions)


def test_concurrent_runs_on_one_loop_share_a_provider_safely(fake_server_factory):
    server = fake_server_factory("--latency", "0.1")
    provider = remote(server)
    short = make_spec(("short", 1, 0.0, 1))
    long = make_spec(("long", None, 0.7, 4))

    async def both():
        # The short run ends (and releases the loop's client) while the long one is mid-call.
        return await asyncio.gather(
            run_spec(short, provider, concurrency=1), run_spec(long, provider, concurrency=1)
        )

    first, second = asyncio.run(both())
    for completion in first.completions + second.completions:
        assert completion.ok, completion.error_message
    assert len(second.completions) == 4


def test_runner_against_llama_cpp_server(llama_server):
    provider = OpenAICompatProvider(api_key=None, base_url=llama_server, model="smollm2")
    spec = ExperimentSpec(
        provider="openai",
        model="smollm2",
        max_tokens=12,
        arms=[
            {"label": "unseeded", "seed": None, "temperature": 0.7, "runs": 3},
            {"label": "seeded", "seed": 123, "temperature": 0.7, "runs": 3},
        ],
    )
    outcome = run_spec_sync(spec, provider, concurrency=2)
    assert keys(outcome.completions) == [
        (arm, i) for arm in ("unseeded", "seeded") for i in range(3)
    ]
    for completion in outcome.completions:
        assert completion.ok, completion.error_message
        assert completion.system_fingerprint is None  # never invented for a remote server
    assert len({c.text for c in outcome.completions if c.arm_label == "seeded"}) == 1
