"""Suite experiments through the one lifecycle (lib/experiments.py + lib/runner.py): every run
stored with its case id, requests interleaved across cases and arms, the embedded model's
seeded arm identical per case, and cancel + resume against the fake OpenAI server sending
exactly the missing (case, arm, run) runs."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable

import pytest
from seedscope.experiments import (
    create_experiment,
    missing_runs,
    run_experiment,
    start_resume,
)
from seedscope.providers.openai_compat import OpenAICompatProvider
from seedscope.runner import ProgressEvent, plan_requests
from seedscope.spec import LOCAL_CHAT_MODEL, preset_arms
from seedscope.store import Store
from seedscope.suites import SuiteSpec, validate_suite_spec

CASES = [
    {"id": "mars", "prompt": "Name the red planet."},
    {"id": "sum", "prompt": "What is 2 + 3?", "expected": "5"},
    {"id": "sky", "prompt": "What colour is the sky?", "system": "Answer in one word."},
    {"id": "cat", "prompt": "Say something about cats."},
    {"id": "tea", "prompt": "How do you make tea?"},
]


def suite_spec(runs: int, *, provider: str, model: str, max_tokens: int) -> SuiteSpec:
    return validate_suite_spec(
        {
            "suite": {"name": "five", "cases": CASES},
            "arms": preset_arms("cookbook", runs=runs),
            "provider": provider,
            "model": model,
            "max_tokens": max_tokens,
        }
    )


def triples(completions) -> list[tuple[str, str, int]]:
    return sorted((c.case_id, c.arm_label, c.run_index) for c in completions)


def planned_triples(spec: SuiteSpec) -> list[tuple[str, str, int]]:
    return sorted(
        (case.id, arm.label, index)
        for case in spec.cases
        for arm in spec.arms
        for index in range(arm.runs)
    )


@pytest.fixture
def store(tmp_path):
    with Store.open(f"sqlite:///{tmp_path / 'history.db'}") as opened:
        yield opened


def test_plan_interleaves_run_indexes_over_every_case_and_arm_and_skips_stored_triples():
    spec = suite_spec(2, provider="openai", model="m", max_tokens=8)
    plan = plan_requests(spec)
    order = [(r.run_index, r.case_id, r.arm_label) for r in plan]
    assert order == [
        (index, case["id"], arm)
        for index in range(2)
        for case in CASES
        for arm in ("unseeded", "seeded")
    ]
    sky = [r for r in plan if r.case_id == "sky"]
    assert {(r.prompt, r.system) for r in sky} == {
        ("What colour is the sky?", "Answer in one word.")
    }
    assert {r.system for r in plan if r.case_id != "sky"} == {spec.system}


def test_suite_on_the_embedded_model_stores_every_run_with_its_case_in_interleaved_order(
    store, local_provider
):
    spec = suite_spec(3, provider="local", model=LOCAL_CHAT_MODEL, max_tokens=6)
    events: list[ProgressEvent] = []
    experiment_id = create_experiment(store, spec, local_provider)

    result = run_experiment(store, experiment_id, spec, local_provider, on_progress=events.append)

    assert (result.status, result.new_runs) == ("complete", 30)
    stored = store.load_experiment(experiment_id)
    assert (stored.kind, stored.status, stored.spec) == ("suite", "complete", spec)
    assert triples(stored.completions) == planned_triples(spec)
    assert all(c.ok for c in stored.completions)
    # The embedded model takes one call at a time, so arrival order is the plan's order.
    arrived = [
        (e.completion.run_index, e.completion.case_id, e.completion.arm_label) for e in events
    ]
    assert arrived == [(r.run_index, r.case_id, r.arm_label) for r in plan_requests(spec)]
    # A case is done with its last run, all in the last round (run index 2, both arms).
    assert [e.cases_done for e in events] == [0] * 21 + [1, 1, 2, 2, 3, 3, 4, 4, 5]
    assert (events[-1].done, events[-1].total, events[-1].cases_total) == (30, 30, 5)
    assert events[-1].arms["seeded"].total == 15
    for case in spec.cases:
        seeded = [
            c.text for c in stored.completions if c.case_id == case.id and c.arm_label == "seeded"
        ]
        assert len(seeded) == 3 and len(set(seeded)) == 1, case.id  # seed 123, t=0: identical
        assert seeded[0]  # a real generation, not an empty failure
    texts = {c.case_id: c.text for c in stored.completions if c.arm_label == "seeded"}
    assert len(set(texts.values())) > 1  # each case sent its own prompt
    unseeded_seeds = [c.effective_seed for c in stored.completions if c.arm_label == "unseeded"]
    assert len(set(unseeded_seeds)) == 15  # a fresh seed per unseeded call, recorded


def cancel_after(runs: int) -> tuple[threading.Event, Callable[[ProgressEvent], None]]:
    cancel = threading.Event()

    def on_progress(event: ProgressEvent) -> None:
        if event.done >= runs:
            cancel.set()

    return cancel, on_progress


def test_cancelled_suite_resumes_sending_exactly_the_missing_case_runs(store, fake_server_factory):
    server = fake_server_factory("--latency", "0.05")
    spec = suite_spec(3, provider="openai", model="fake-model", max_tokens=8)

    def remote() -> OpenAICompatProvider:
        return OpenAICompatProvider(api_key=None, base_url=server.base_url, model="fake-model")

    provider = remote()
    cancel, on_progress = cancel_after(7)
    experiment_id = create_experiment(store, spec, provider)
    first = run_experiment(
        store, experiment_id, spec, provider, cancel=cancel, on_progress=on_progress, concurrency=3
    )
    assert first.status == "cancelled"
    before = store.load_experiment(experiment_id)
    assert 7 <= len(before.completions) < 30
    missing = set(planned_triples(spec)) - set(triples(before.completions))
    assert missing_runs(spec, before.completions) == len(missing)
    server.reset()

    # As background jobs resume: start_resume, then run_experiment with the stored runs.
    resumed_spec, previous = start_resume(store, experiment_id)
    assert resumed_spec == spec and triples(previous) == triples(before.completions)
    result = run_experiment(
        store, experiment_id, resumed_spec, remote(), previous=previous, concurrency=4
    )

    assert (result.status, result.new_runs) == ("complete", len(missing))
    prompt_of = {case.id: case.prompt for case in spec.cases}
    seed_of = {arm.label: arm.seed for arm in spec.arms}
    sent = Counter((call["user"], call["seed"]) for call in server.stats()["chat_log"])
    wanted = Counter((prompt_of[case_id], seed_of[arm]) for case_id, arm, _ in missing)
    assert sent == wanted  # exactly the missing runs, per case and arm: none twice, none lost
    after = store.load_experiment(experiment_id)
    assert triples(after.completions) == planned_triples(spec)
    assert all(c in after.completions for c in before.completions)  # kept, unchanged
    seeded_texts = {
        case.id: {
            c.text for c in after.completions if c.case_id == case.id and c.arm_label == "seeded"
        }
        for case in spec.cases
    }
    assert all(len(texts) == 1 for texts in seeded_texts.values())  # resumed runs match
