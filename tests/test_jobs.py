"""lib/jobs.py on real backends: the embedded model (tiny max_tokens) and the fake OpenAI server
(latency, calls counted at the server), with a real SQLite store."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from seedscope.experiments import ResumeError
from seedscope.jobs import RECENT_RUNS, Job, JobManager, JobSnapshot
from seedscope.providers.base import Completion
from seedscope.providers.openai_compat import OpenAICompatProvider
from seedscope.runner import plan_requests
from seedscope.spec import LOCAL_CHAT_MODEL, ExperimentSpec, validate_spec
from seedscope.store import Store
from seedscope.suites import SuiteSpec, validate_suite_spec

WAIT = 300.0  # seconds: generous, the machine is shared


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(f"sqlite:///{tmp_path / 'jobs.db'}") as opened:
        yield opened


@pytest.fixture
def slow_server(fake_server_factory):
    """A fake OpenAI server whose every chat call takes 0.3 s."""
    return fake_server_factory("--latency", "0.3")


def local_spec(*runs: int, max_tokens: int = 2) -> ExperimentSpec:
    arms = [
        {"label": f"arm{index}", "seed": 100 + index, "temperature": 0.0, "runs": count}
        for index, count in enumerate(runs)
    ]
    return validate_spec(
        {"provider": "local", "model": LOCAL_CHAT_MODEL, "max_tokens": max_tokens, "arms": arms}
    )


def remote_spec(runs: int, arms: int = 1, seed: int | None = 7) -> ExperimentSpec:
    return ExperimentSpec(
        prompt="Write one line about Mars.",
        provider="openai",
        model="fake-model",
        max_tokens=4,
        arms=[
            {"label": f"arm{index}", "seed": seed, "temperature": 0.0, "runs": runs}
            for index in range(arms)
        ],
    )


def remote(server) -> OpenAICompatProvider:
    return OpenAICompatProvider(api_key=None, base_url=server.base_url, model="fake-model")


def wait_for(job: Job, condition: Callable[[JobSnapshot], bool]) -> JobSnapshot:
    """Poll the job's snapshot until `condition` holds (fails after WAIT seconds)."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        snapshot = job.snapshot()
        if condition(snapshot):
            return snapshot
        assert not snapshot.finished or condition(snapshot), snapshot
        time.sleep(0.005)
    raise AssertionError(f"condition not met within {WAIT:.0f}s: {job.snapshot()}")


def finished(job: Job) -> JobSnapshot:
    assert job.wait(WAIT), "the job did not finish"
    snapshot = job.snapshot()
    assert snapshot.state == "finished" and snapshot.result is not None
    return snapshot


def run_keys(store: Store, experiment_id: str) -> list[tuple[str, int]]:
    stored = store.load_experiment(experiment_id)
    assert stored is not None
    return sorted((c.arm_label, c.run_index) for c in stored.completions)


def ended(run: Completion) -> float:
    return (run.started_at + timedelta(seconds=run.latency_s)).timestamp()


def test_embedded_jobs_queue_one_at_a_time_in_order(store, local_provider):
    jobs = JobManager()
    first = jobs.start(store, local_spec(3, 3), local_provider)
    second = jobs.start(store, local_spec(3, 3), local_provider)
    third = jobs.start(store, local_spec(1), local_provider)

    assert wait_for(first, lambda s: s.state == "running").ahead == 0
    waiting = second.snapshot(), third.snapshot()
    assert [(s.state, s.ahead, s.done) for s in waiting] == [("waiting", 1, 0), ("waiting", 2, 0)]
    # When the first is done the queue moves up: the second runs, the third has one ahead.
    wait_for(second, lambda s: s.state == "running")
    assert (third.snapshot().state, third.snapshot().ahead) == ("waiting", 1)

    results = [finished(job).result for job in (first, second, third)]
    assert [(r.status, len(r.completions)) for r in results] == [
        ("complete", 6),
        ("complete", 6),
        ("complete", 1),
    ]
    # One generation at a time: each job's first run started after the previous job's last.
    for before, after in zip(results, results[1:], strict=False):
        assert (
            min(c.started_at.timestamp() for c in after.completions)
            >= max(ended(c) for c in before.completions) - 0.01
        )
    for job in (first, second, third):
        assert store.load_experiment(job.experiment_id).summary.status == "complete"


def test_a_cancelled_waiting_job_never_starts(store, local_provider):
    jobs = JobManager()
    running = jobs.start(store, local_spec(4, 4), local_provider)
    waiting = jobs.start(store, local_spec(2), local_provider)
    wait_for(running, lambda s: s.state == "running")
    assert waiting.snapshot().state == "waiting"

    waiting.cancel()
    snapshot = finished(waiting)
    assert (snapshot.result.status, snapshot.result.completions, snapshot.done) == (
        "cancelled",
        [],
        0,
    )
    assert not running.snapshot().finished  # it ended while the other job still ran
    stored = store.load_experiment(waiting.experiment_id)
    assert (stored.summary.status, stored.summary.runs) == ("cancelled", 0)
    assert finished(running).result.status == "complete"


def test_cancel_while_running_keeps_the_calls_in_flight(store, slow_server):
    jobs = JobManager()
    job = jobs.start(store, remote_spec(runs=30), remote(slow_server), concurrency=3)
    wait_for(job, lambda s: s.done >= 3)
    job.cancel()
    snapshot = finished(job)

    result = snapshot.result
    assert result.status == "cancelled" and snapshot.cancel_requested
    sent = slow_server.stats()["requests"]["chat"]
    assert 3 <= sent < 30
    # Every call that went out (those in flight at the click too) is stored, once.
    assert len(run_keys(store, job.experiment_id)) == len(result.completions) == sent
    assert snapshot.done == sent
    assert store.load_experiment(job.experiment_id).summary.status == "cancelled"


def test_remote_jobs_run_side_by_side(store, slow_server):
    jobs = JobManager()
    first = jobs.start(store, remote_spec(runs=6), remote(slow_server), concurrency=2)
    second = jobs.start(store, remote_spec(runs=6), remote(slow_server), concurrency=2)
    results = [finished(job).result for job in (first, second)]

    assert [(r.status, len(r.completions)) for r in results] == [("complete", 6)] * 2
    # Each job keeps to its own bound; the server saw both jobs' calls at once.
    assert slow_server.stats()["max_in_flight"] > 2
    a, b = (r.completions for r in results)
    assert min(c.started_at.timestamp() for c in b) < max(ended(c) for c in a)
    assert min(c.started_at.timestamp() for c in a) < max(ended(c) for c in b)


def test_snapshots_follow_the_runs_newest_first(store, fake_server):
    fake_server.reset()
    jobs = JobManager()
    spec = remote_spec(runs=30, arms=2)
    job = jobs.start(store, spec, remote(fake_server), concurrency=1)
    assert jobs.job(job.experiment_id) is job
    assert jobs.job("no-such-experiment") is None
    snapshot = finished(job)

    assert (snapshot.done, snapshot.total, snapshot.error) == (60, 60, None)
    assert [(a.label, a.done, a.failed, a.total) for a in snapshot.arms] == [
        ("arm0", 30, 0, 30),
        ("arm1", 30, 0, 30),
    ]
    # With one call at a time the runs arrive in plan order; the snapshot lists them backwards.
    planned = [(r.arm_label, r.run_index) for r in plan_requests(spec)]
    assert len(snapshot.recent) == RECENT_RUNS
    assert [(c.arm_label, c.run_index) for c in snapshot.recent] == planned[::-1][:RECENT_RUNS]
    assert snapshot.result.status == "complete" and not snapshot.resumed
    assert jobs.job(job.experiment_id) is job  # finished jobs stay findable
    assert jobs.active_jobs() == []


def test_resume_sends_only_the_missing_runs(store, slow_server):
    jobs = JobManager()
    spec = remote_spec(runs=10, arms=2, seed=None)
    job = jobs.start(store, spec, remote(slow_server), concurrency=2)
    wait_for(job, lambda s: s.done >= 4)
    job.cancel()
    kept = finished(job).done
    slow_server.reset()

    resumed = jobs.resume(store, job.experiment_id, remote(slow_server), concurrency=4)
    assert jobs.job(job.experiment_id) is resumed
    first = resumed.snapshot()
    assert first.resumed and first.done == kept
    snapshot = finished(resumed)

    assert snapshot.result.status == "complete" and snapshot.done == 20
    assert slow_server.stats()["requests"]["chat"] == 20 - kept
    keys = run_keys(store, job.experiment_id)
    assert keys == sorted({(f"arm{a}", i) for a in range(2) for i in range(10)})
    assert store.load_experiment(job.experiment_id).summary.status == "complete"
    with pytest.raises(ResumeError, match="complete"):
        jobs.resume(store, job.experiment_id, remote(slow_server))


def test_an_exception_in_the_job_thread_ends_the_experiment_interrupted(store, fake_server):
    """A spec built without validation carries a seed the backend refuses: the runner raises
    in the job thread. The experiment is marked interrupted and the snapshot says why."""
    jobs = JobManager()
    job = jobs.start(store, remote_spec(runs=2, seed=-1), remote(fake_server))
    snapshot = finished(job)

    assert snapshot.error is not None and snapshot.error.startswith("SpecError")
    assert "seed -1 is out of range" in snapshot.error
    assert snapshot.result.status == "interrupted"
    assert "unexpected error" in snapshot.result.problem
    assert store.load_experiment(job.experiment_id).summary.status == "interrupted"


def remote_suite_spec(cases: int, runs: int) -> SuiteSpec:
    return validate_suite_spec(
        {
            "suite": {
                "name": "s",
                "cases": [{"id": f"c{i}", "prompt": f"Say {i}."} for i in range(cases)],
            },
            "provider": "openai",
            "model": "fake-model",
            "max_tokens": 4,
            "arms": [
                {"label": "seeded", "seed": 1, "temperature": 0.0, "runs": runs},
                {"label": "unseeded", "seed": None, "temperature": 0.7, "runs": runs},
            ],
        }
    )


def test_a_suite_job_counts_runs_per_arm_over_all_cases_and_whole_cases(store, slow_server):
    jobs = JobManager()
    spec = remote_suite_spec(cases=4, runs=3)
    job = jobs.start(store, spec, remote(slow_server), concurrency=2)
    first = job.snapshot()
    assert (first.done, first.total, first.cases_done, first.cases_total) == (0, 24, 0, 4)
    assert [(a.label, a.total) for a in first.arms] == [("seeded", 12), ("unseeded", 12)]
    wait_for(job, lambda s: s.done >= 9)
    job.cancel()
    kept = finished(job)
    stored = store.load_experiment(job.experiment_id)
    complete_cases = sum(
        sum(c.case_id == case.id for c in stored.completions) == 6 for case in spec.cases
    )
    assert kept.cases_done == complete_cases

    resumed = jobs.resume(store, job.experiment_id, remote(slow_server), concurrency=4)
    again = resumed.snapshot()
    assert (again.done, again.cases_done, again.cases_total) == (kept.done, complete_cases, 4)
    assert [(a.label, a.total) for a in again.arms] == [("seeded", 12), ("unseeded", 12)]
    done = finished(resumed)
    assert (done.done, done.cases_done, done.result.status) == (24, 4, "complete")


def seed_check(runs: int):
    from seedscope.checks import seed_check_spec

    return seed_check_spec(remote_spec(runs=1), runs=runs)


def test_a_check_job_runs_the_checks_own_function_on_the_jobs_experiment(store, fake_server):
    from seedscope.checks import SEED_CHECK_LABEL, run_seed_check

    fake_server.reset()
    jobs = JobManager()
    job = jobs.start(
        store, seed_check(runs=3), remote(fake_server), check=run_seed_check, label=SEED_CHECK_LABEL
    )
    assert store.load_experiment(job.experiment_id).summary.status in ("running", "complete")
    snapshot = finished(job)

    assert (snapshot.done, snapshot.total, snapshot.error) == (9, 9, None)
    assert snapshot.label == SEED_CHECK_LABEL
    assert (snapshot.result.status, len(snapshot.result.completions)) == ("complete", 9)
    check = snapshot.check
    assert (check.kind, check.verdict, check.experiment_id) == (
        "seed",
        "seed_honoured",
        job.experiment_id,
    )
    # The check ran on the job's experiment: no second one, labelled as the check.
    (summary,) = store.list_experiments()
    assert (summary.id, summary.label, summary.status) == (
        job.experiment_id,
        SEED_CHECK_LABEL,
        "complete",
    )
    assert fake_server.stats()["max_in_flight"] == 1  # the check's own rule: one at a time


def test_a_cancelled_check_job_keeps_its_runs_and_judges_them(store, slow_server):
    from seedscope.checks import SEED_CHECK_LABEL, run_seed_check

    jobs = JobManager()
    job = jobs.start(
        store,
        seed_check(runs=10),
        remote(slow_server),
        check=run_seed_check,
        label=SEED_CHECK_LABEL,
        concurrency=8,  # not the check's: it sends one call at a time anyway
    )
    wait_for(job, lambda s: s.done >= 2)
    job.cancel()
    snapshot = finished(job)

    assert snapshot.result.status == "cancelled" and snapshot.check.status == "cancelled"
    assert snapshot.check.verdict == "inconclusive"  # seed B never ran
    sent = slow_server.stats()["requests"]["chat"]
    assert 2 <= sent < 30 and slow_server.stats()["max_in_flight"] == 1
    assert len(run_keys(store, job.experiment_id)) == snapshot.done == sent
    assert store.load_experiment(job.experiment_id).summary.status == "cancelled"
