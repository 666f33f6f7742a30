"""lib/experiments.py, the one lifecycle: every final status reached for real (the fake OpenAI
server, an unreachable port, a cancel event, a real SQLite trigger that aborts an insert, the
embedded model), and resume: only the missing runs are sent, none twice, fresh seeds."""

from __future__ import annotations

import sqlite3
import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from seedscope.experiments import (
    ResumeError,
    create_experiment,
    missing_runs,
    resume_experiment,
    run_experiment,
    start_resume,
)
from seedscope.providers.base import Completion
from seedscope.providers.factory import make_provider
from seedscope.providers.openai_compat import OpenAICompatProvider
from seedscope.runner import ProgressEvent
from seedscope.settings import Settings
from seedscope.spec import LOCAL_CHAT_MODEL, ExperimentSpec
from seedscope.store import Store

UNREACHABLE = "http://127.0.0.1:1/v1"


def make_spec(runs: int = 3, *, provider: str = "openai", model: str = "fake-model"):
    return ExperimentSpec(
        prompt="Write one line about Mars.",
        provider=provider,
        model=model,
        max_tokens=8,
        arms=[
            {"label": "unseeded", "seed": None, "temperature": 0.7, "runs": runs},
            {"label": "seeded", "seed": 123, "temperature": 0.0, "runs": runs},
        ],
    )


def remote(server) -> OpenAICompatProvider:
    return OpenAICompatProvider(api_key=None, base_url=server.base_url, model="fake-model")


def pairs(completions: list[Completion]) -> list[tuple[str, int]]:
    return sorted((c.arm_label, c.run_index) for c in completions)


def planned_pairs(spec: ExperimentSpec) -> list[tuple[str, int]]:
    return sorted((arm.label, index) for arm in spec.arms for index in range(arm.runs))


def chat_calls(server) -> int:
    return len(server.stats()["chat_log"])


@pytest.fixture
def database(tmp_path) -> Path:
    return tmp_path / "history.db"


@pytest.fixture
def store(database):
    with Store.open(f"sqlite:///{database}") as opened:
        yield opened


def cancel_after(runs: int) -> tuple[threading.Event, Callable[[ProgressEvent], None]]:
    cancel = threading.Event()

    def on_progress(event: ProgressEvent) -> None:
        if event.done >= runs:
            cancel.set()

    return cancel, on_progress


def fail_inserts_after(database: Path, rows: int) -> None:
    """A real database error: SQLite aborts every insert once `rows` runs are stored."""
    connection = sqlite3.connect(database)
    connection.execute(
        f"CREATE TRIGGER disk_full BEFORE INSERT ON runs WHEN (SELECT count(*) FROM runs) >= "
        f"{rows} BEGIN SELECT RAISE(ABORT, 'simulated disk full'); END"
    )
    connection.commit()
    connection.close()


def allow_inserts(database: Path) -> None:
    connection = sqlite3.connect(database)
    connection.execute("DROP TRIGGER disk_full")
    connection.commit()
    connection.close()


# -- how an experiment ends ---------------------------------------------------------------


def test_complete_stores_every_run_and_says_so(store, fake_server_factory):
    server = fake_server_factory()
    spec = make_spec(3)
    provider = remote(server)
    experiment_id = create_experiment(store, spec, provider)
    assert store.load_experiment(experiment_id).status == "running"
    assert chat_calls(server) == 0  # creating calls nothing

    result = run_experiment(store, experiment_id, spec, provider)

    assert (result.status, result.new_runs, result.problem) == ("complete", 6, None)
    assert result.failure_summary() is None and result.most_common_error() is None
    stored = store.load_experiment(experiment_id)
    assert stored.status == "complete" and stored.summary.finished_at is not None
    assert pairs(stored.completions) == pairs(result.completions) == planned_pairs(spec)
    assert chat_calls(server) == 6


def test_every_run_failing_ends_failed_with_the_most_common_reason(store):
    spec = make_spec(2)
    settings = Settings(openai_max_retries=0)
    origin = "typed in the page"
    provider = make_provider(
        settings, "openai", model="fake-model", base_url=UNREACHABLE, base_url_origin=origin
    )
    result = run_experiment(store, create_experiment(store, spec, provider), spec, provider)

    assert result.status == "failed"
    assert store.load_experiment(result.experiment_id).status == "failed"
    assert result.failed_runs == 4 and len(result.completions) == 4  # failed calls are runs
    reason, count = result.most_common_error()
    assert count == 4 and reason.startswith("APIConnectionError: connection failed")
    assert f"check the base URL typed in the page ({UNREACHABLE})" in reason
    assert (
        result.failure_summary() == f"every run failed; most common reason (4 of 4 runs): {reason}"
    )


def test_one_success_among_failures_is_complete_not_failed(store, fake_server_factory):
    # 500s on every other call (the SDK retries are off): failures are recorded, not fatal.
    server = fake_server_factory("--fault-rate", "0.5", "--faults", "500", "--fault-seed", "3")
    provider = OpenAICompatProvider(
        api_key=None, base_url=server.base_url, model="fake-model", max_retries=0
    )
    spec = make_spec(4)
    result = run_experiment(store, create_experiment(store, spec, provider), spec, provider)
    assert 0 < result.failed_runs < 8
    assert result.status == "complete" and result.failure_summary() is None


def test_cancel_keeps_the_runs_so_far_and_ends_cancelled(store, fake_server_factory):
    server = fake_server_factory("--latency", "0.2")
    spec = make_spec(4)
    provider = remote(server)
    cancel, on_progress = cancel_after(2)
    experiment_id = create_experiment(store, spec, provider)
    result = run_experiment(
        store, experiment_id, spec, provider, cancel=cancel, on_progress=on_progress, concurrency=1
    )
    assert result.status == "cancelled"
    stored = store.load_experiment(experiment_id)
    assert stored.status == "cancelled"
    assert 2 <= len(stored.completions) < 8
    assert pairs(stored.completions) == pairs(result.completions)
    assert chat_calls(server) == len(stored.completions)  # every call made is a stored run


def test_a_database_error_mid_run_ends_interrupted_never_running(
    store, database, fake_server_factory
):
    server = fake_server_factory()
    spec = make_spec(3)
    provider = remote(server)
    experiment_id = create_experiment(store, spec, provider)
    fail_inserts_after(database, 2)

    result = run_experiment(store, experiment_id, spec, provider, concurrency=1)

    assert result.status == "interrupted"
    assert "saving run" in result.problem and "simulated disk full" in result.problem
    assert "The 2 runs saved so far are kept" in result.problem
    stored = store.load_experiment(experiment_id)
    assert stored.status == "interrupted"
    assert len(stored.completions) == 2 and pairs(result.completions) == pairs(stored.completions)


# -- resume -------------------------------------------------------------------------------


def test_resume_after_cancel_sends_only_the_missing_runs_and_ends_complete(
    store, fake_server_factory
):
    server = fake_server_factory("--latency", "0.1")
    spec = make_spec(4)
    provider = remote(server)
    cancel, on_progress = cancel_after(3)
    experiment_id = create_experiment(store, spec, provider)
    run_experiment(
        store, experiment_id, spec, provider, cancel=cancel, on_progress=on_progress, concurrency=2
    )
    before = store.load_experiment(experiment_id)
    assert before.status == "cancelled"
    missing = missing_runs(spec, before.completions)
    assert missing == 8 - len(before.completions) > 0
    server.reset()
    events: list[ProgressEvent] = []

    result = resume_experiment(store, experiment_id, remote(server), on_progress=events.append)

    assert (result.status, result.new_runs) == ("complete", missing)
    assert chat_calls(server) == missing  # no stored run was sent again
    after = store.load_experiment(experiment_id)
    assert after.status == "complete"
    assert pairs(after.completions) == planned_pairs(spec)  # each (arm, run index) once
    assert max(Counter(pairs(after.completions)).values()) == 1
    assert all(c in after.completions for c in before.completions)  # kept, unchanged
    assert pairs(result.completions) == planned_pairs(spec)  # the result covers all of it
    assert events[0].done == len(before.completions) + 1 and events[-1].done == 8


def test_resume_after_a_database_error_completes_the_experiment(
    store, database, fake_server_factory
):
    server = fake_server_factory()
    spec = make_spec(3)
    experiment_id = create_experiment(store, spec, remote(server))
    fail_inserts_after(database, 2)
    assert run_experiment(store, experiment_id, spec, remote(server)).status == "interrupted"
    allow_inserts(database)
    server.reset()

    result = resume_experiment(store, experiment_id, remote(server))

    assert result.status == "complete"
    assert chat_calls(server) == 4
    assert pairs(store.load_experiment(experiment_id).completions) == planned_pairs(spec)


def test_resumed_unseeded_runs_on_the_embedded_model_draw_fresh_seeds(store, local_provider):
    spec = ExperimentSpec(
        prompt="Name a colour.",
        provider="local",
        model=LOCAL_CHAT_MODEL,
        max_tokens=2,
        arms=[{"label": "unseeded", "seed": None, "temperature": 0.7, "runs": 5}],
    )
    cancel, on_progress = cancel_after(2)
    experiment_id = create_experiment(store, spec, local_provider)
    first = run_experiment(
        store, experiment_id, spec, local_provider, cancel=cancel, on_progress=on_progress
    )
    assert first.status == "cancelled" and 2 <= len(first.completions) < 5
    earlier_seeds = {c.effective_seed for c in first.completions}

    result = resume_experiment(store, experiment_id, local_provider)

    assert result.status == "complete"
    new = [c for c in result.completions if c not in first.completions]
    assert len(new) == 5 - len(first.completions)
    new_seeds = [c.effective_seed for c in new]
    assert all(seed is not None and seed not in earlier_seeds for seed in new_seeds)
    assert len(set(new_seeds)) == len(new_seeds)
    assert all(c.requested_seed is None for c in result.completions)


@pytest.mark.parametrize(
    ("status", "message"),
    [
        ("running", "cannot be resumed: it is still running"),
        ("complete", "cannot be resumed: it is complete: every run is stored"),
        ("failed", "cannot be resumed: every run of it was made and failed"),
    ],
)
def test_resume_is_refused_unless_cancelled_or_interrupted(store, status, message):
    spec = make_spec(1)
    provider = OpenAICompatProvider(api_key=None, base_url=UNREACHABLE, model="fake-model")
    experiment_id = create_experiment(store, spec, provider)
    if status != "running":
        store.finish_experiment(experiment_id, status)
    with pytest.raises(ResumeError, match=message) as refused:
        resume_experiment(store, experiment_id, provider)
    assert experiment_id[:12] in str(refused.value)
    stored = store.load_experiment(experiment_id)
    assert (stored.status, stored.completions) == (status, [])  # nothing changed or sent


def test_resume_of_an_unknown_experiment_says_where_to_look(store):
    with pytest.raises(ResumeError, match="no experiment 'f00d'.*seedscope history"):
        start_resume(store, "f00d")


def test_of_two_resumes_only_one_wins(store):
    spec = make_spec(1)
    provider = OpenAICompatProvider(api_key=None, base_url=UNREACHABLE, model="fake-model")
    experiment_id = create_experiment(store, spec, provider)
    store.finish_experiment(experiment_id, "interrupted")
    start_resume(store, experiment_id)
    assert store.load_experiment(experiment_id).status == "running"
    with pytest.raises(ResumeError, match="still running"):
        start_resume(store, experiment_id)
