"""The runner's sink runs on its own writer thread: calls go on while a run is being stored, every
run is still stored in order of completion, and a failed write ends things as before (the
runner keeps what was stored; the lifecycle ends the experiment `interrupted`)."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from seedscope.experiments import create_experiment, run_experiment
from seedscope.providers.base import Completion
from seedscope.providers.openai_compat import OpenAICompatProvider
from seedscope.runner import ProgressEvent, RunnerCallbackError, run_spec_sync
from seedscope.spec import ExperimentSpec
from seedscope.store import Store


def make_spec(runs: int) -> ExperimentSpec:
    return ExperimentSpec(
        prompt="Write one line about Mars.",
        provider="openai",
        model="fake-model",
        max_tokens=8,
        arms=[
            {"label": "unseeded", "seed": None, "temperature": 0.7, "runs": runs},
            {"label": "seeded", "seed": 123, "temperature": 0.0, "runs": runs},
        ],
    )


def remote(server) -> OpenAICompatProvider:
    return OpenAICompatProvider(api_key=None, base_url=server.base_url, model="fake-model")


def keys(completions: list[Completion]) -> list[tuple[str, int]]:
    return sorted((c.arm_label, c.run_index) for c in completions)


def wait_for(condition: Callable[[], bool], timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


def chat_requests(server) -> int:
    return server.stats()["requests"].get("chat", 0)


def test_calls_go_on_while_a_run_is_being_stored(fake_server_factory):
    server = fake_server_factory("--latency", "0.05")
    spec = make_spec(6)  # 12 runs, 4 at a time
    written: list[Completion] = []
    writer_threads: set[int] = set()
    every_call_made_during_first_write: list[bool] = []

    def slow_sink(completion: Completion) -> None:
        writer_threads.add(threading.get_ident())
        if not written:  # a write that takes long (say a busy database): the calls go on
            every_call_made_during_first_write.append(wait_for(lambda: chat_requests(server) == 12))
        written.append(completion)

    events: list[ProgressEvent] = []
    outcome = run_spec_sync(
        spec, remote(server), sink=slow_sink, on_progress=events.append, concurrency=4
    )
    assert every_call_made_during_first_write == [True]  # inline writes would block the loop
    assert threading.get_ident() not in writer_threads
    assert keys(outcome.completions) == keys(written) and len(written) == 12
    assert [e.completion for e in events] == written  # each reported after it was stored
    assert [e.done for e in events] == list(range(1, 13))


def test_a_failed_write_stores_nothing_after_it_and_keeps_what_was_stored(fake_server_factory):
    server = fake_server_factory("--latency", "0.05")
    spec = make_spec(6)
    handed: list[Completion] = []

    def failing_sink(completion: Completion) -> None:
        handed.append(completion)
        if len(handed) == 3:  # slow, then fails, while later runs wait behind it
            wait_for(lambda: chat_requests(server) == 12)
            raise OSError("database is locked")

    with pytest.raises(RunnerCallbackError) as caught:
        run_spec_sync(spec, remote(server), sink=failing_sink, concurrency=4)
    error = caught.value
    assert (error.callback, error.completion) == ("sink", handed[2])
    assert isinstance(error.__cause__, OSError)
    assert len(handed) == 3  # nothing was written after the failed write
    assert keys(error.outcome.completions) == keys(handed)  # the stored two and the failed one
    assert error.outcome.cancelled


def test_cancel_stores_every_run_that_was_made(fake_server_factory):
    server = fake_server_factory("--latency", "0.05")
    spec = make_spec(60)
    written: list[Completion] = []
    cancel = threading.Event()

    def slow_sink(completion: Completion) -> None:
        time.sleep(0.03)  # slower than the calls: runs wait for the writer
        written.append(completion)

    def on_progress(event: ProgressEvent) -> None:
        if event.done == 2:
            cancel.set()

    outcome = run_spec_sync(
        spec, remote(server), sink=slow_sink, on_progress=on_progress, cancel=cancel, concurrency=8
    )
    assert outcome.cancelled
    made = chat_requests(server)
    assert 2 < made < 120
    assert len(written) == len(outcome.completions) == made  # every call made is stored
    assert keys(outcome.completions) == keys(written)


def fail_inserts_after(database: Path, rows: int) -> None:
    """A real database error: SQLite aborts every insert once `rows` runs are stored."""
    connection = sqlite3.connect(database)
    connection.execute(
        f"CREATE TRIGGER disk_full BEFORE INSERT ON runs WHEN (SELECT count(*) FROM runs) >= "
        f"{rows} BEGIN SELECT RAISE(ABORT, 'simulated disk full'); END"
    )
    connection.commit()
    connection.close()


def test_lifecycle_stores_every_run_before_reporting_it(tmp_path, fake_server_factory):
    server = fake_server_factory("--latency", "0.02")
    spec = make_spec(10)
    with Store.open(f"sqlite:///{tmp_path / 'history.db'}") as store:
        experiment_id = create_experiment(store, spec, remote(server))
        stored_when_reported: list[bool] = []

        def on_progress(event: ProgressEvent) -> None:
            stored = store.load_experiment(experiment_id).completions
            stored_when_reported.append(len(stored) >= event.done)

        result = run_experiment(
            store, experiment_id, spec, remote(server), concurrency=8, on_progress=on_progress
        )
        assert result.status == "complete"
        assert stored_when_reported == [True] * 20
        stored = store.load_experiment(experiment_id).completions
        assert keys(stored) == keys(result.completions) and len(stored) == 20


def test_a_database_error_with_runs_waiting_ends_interrupted(tmp_path, fake_server_factory):
    server = fake_server_factory("--latency", "0.02")
    spec = make_spec(20)
    database = tmp_path / "history.db"
    with Store.open(f"sqlite:///{database}") as store:
        experiment_id = create_experiment(store, spec, remote(server))
        fail_inserts_after(database, 5)

        result = run_experiment(store, experiment_id, spec, remote(server), concurrency=8)

        assert result.status == "interrupted"
        assert "saving run" in result.problem and "simulated disk full" in result.problem
        assert "The 5 runs saved so far are kept" in result.problem
        stored = store.load_experiment(experiment_id)
        assert stored.status == "interrupted"
        assert keys(stored.completions) == keys(result.completions) and len(stored.completions) == 5
