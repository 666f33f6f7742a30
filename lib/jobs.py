"""Background jobs: every generation (a new experiment or a resume) runs on its own thread.

    jobs = JobManager()                                    # one per process
    job = jobs.start(store, spec, provider)                # stored `running` at once; returns
    job.snapshot()                                         # thread-safe progress, any time
    job.cancel()                                           # calls in flight finish and are kept
    jobs.job(experiment_id)                                # found again by any session
    job = jobs.start(store, spec, provider, check=run_seed_check, label="check:seed")
    job.snapshot().check                                   # a check's verdict, once finished

Plain Python, no Streamlit: the dashboard holds one JobManager in `st.cache_resource` and
polls snapshots from its pages, so a page that is edited, left or reloaded never stops a job.
Each job runs through the one lifecycle (`seedscope.experiments`).

Checks (seedscope.checks) run as jobs too: `check=` is the check's own run function
(run_seed_check, run_load_probe, run_logprobs_check), called on the job's thread instead of
`run_experiment`, with the job's cancel event and progress callback, so the check keeps its
own concurrency rules (one call at a time; the load probe's phases). The experiment is created
when the job starts, as for any job, and handed to the check's run function by id.

Scheduling
- Jobs for the embedded model wait their turn in one FIFO queue: it generates for one job at a
  time (its calls are serialised anyway), and a waiting job knows how many jobs are ahead.
  A waiting job that is cancelled never starts; its experiment ends `cancelled`.
- Jobs for remote backends start at once and run side by side, each with at most `concurrency`
  calls in flight (the deployment's concurrency setting).

Failure
- Whatever a job thread raises ends the job: the experiment is finished `interrupted` (the runs
  stored so far are kept), the snapshot carries the error, and the traceback goes to the log.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from seedscope.experiments import (
    ExperimentResult,
    create_experiment,
    run_experiment,
    start_resume,
)
from seedscope.providers.base import Completion, Provider
from seedscope.runner import ArmProgress, ProgressEvent, progress_before
from seedscope.store import Store, StoreError
from seedscope.suites import AnySpec

if TYPE_CHECKING:
    from seedscope.checks import CheckResult

# A check's run function: (store, spec, provider, *, label, started_by, cancel, on_progress,
# experiment_id).
CheckRun = Callable[..., "CheckResult"]

JobState = Literal["waiting", "running", "finished"]
RECENT_RUNS = 50  # runs a snapshot carries for the live log, newest first
FINISHED_JOBS_KEPT = 200  # finished jobs stay findable for a while, then the oldest go

_LOG = logging.getLogger("seedscope.jobs")


@dataclass(frozen=True)
class JobSnapshot:
    """A job at one moment; safe to read from any thread."""

    experiment_id: str
    spec: AnySpec  # a SuiteSpec for a suite
    resumed: bool
    state: JobState
    done: int  # runs stored, those of an earlier attempt included
    total: int
    arms: tuple[ArmProgress, ...]  # in the spec's arm order
    cases_done: int  # suites: cases with every run of every arm stored (0 otherwise)
    cases_total: int  # suites: cases in the suite (0 for a plain experiment)
    recent: tuple[Completion, ...]  # the latest runs of this attempt, newest first
    ahead: int  # jobs before this one in the embedded model's queue (0 unless waiting)
    cancel_requested: bool
    elapsed_s: float  # since the job started (or was queued)
    result: ExperimentResult | None  # once finished
    error: str | None  # what a job thread raised, if anything
    label: str | None = None  # the experiment's label, e.g. "check:seed" for a check
    check: CheckResult | None = None  # a check's verdict and evidence, once it has finished

    @property
    def finished(self) -> bool:
        return self.state == "finished"


class Job:
    """One generation on its own thread. Created by JobManager.start / JobManager.resume."""

    def __init__(
        self,
        manager: JobManager,
        store: Store,
        experiment_id: str,
        spec: AnySpec,
        provider: Provider,
        *,
        previous: Sequence[Completion],
        concurrency: int | None,
        owner: str | None = None,
        check: CheckRun | None = None,
        label: str | None = None,
        started_by: str | None = None,
    ) -> None:
        self.experiment_id = experiment_id
        self.spec = spec
        self.label = label
        self.owner = owner  # who started it (a session or a user), for per-session budgets
        self.queued = provider.name == "local"  # the embedded model: one job at a time
        self._manager = manager
        self._store = store
        self._provider = provider
        self._previous = list(previous)
        self._concurrency = concurrency
        self._check = check
        self._started_by = started_by
        self._check_result: CheckResult | None = None
        self._cancel = threading.Event()
        self._lock = threading.Lock()
        self._state: JobState = "waiting"
        self._received: list[Completion] = []
        self._recent: deque[Completion] = deque(maxlen=RECENT_RUNS)
        arms, self._cases_done, self._cases_total = progress_before(spec, self._previous)
        self._arms = arms
        self._result: ExperimentResult | None = None
        self._error: str | None = None
        self._created = time.monotonic()
        self._finished_at: float | None = None
        self._thread = threading.Thread(
            target=self._run, name=f"seedscope-job-{experiment_id[:8]}", daemon=True
        )

    @property
    def resumed(self) -> bool:
        return bool(self._previous)

    def cancel(self) -> None:
        """Start no further call; calls in flight finish and are kept. A waiting job never
        starts. Safe to call from any thread, any number of times."""
        self._cancel.set()
        self._manager._wake_waiters()

    @property
    def cancel_requested(self) -> bool:
        return self._cancel.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job has finished (or `timeout` seconds passed); True if finished."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def snapshot(self) -> JobSnapshot:
        ahead = self._manager._ahead_of(self)
        with self._lock:
            end = self._finished_at or time.monotonic()
            return JobSnapshot(
                experiment_id=self.experiment_id,
                spec=self.spec,
                resumed=self.resumed,
                state=self._state,
                done=sum(arm.done for arm in self._arms.values()),
                total=self.spec.total_runs,
                arms=tuple(self._arms.values()),
                cases_done=self._cases_done,
                cases_total=self._cases_total,
                recent=tuple(self._recent),
                ahead=ahead if self._state == "waiting" else 0,
                cancel_requested=self._cancel.is_set(),
                elapsed_s=end - self._created,
                result=self._result,
                error=self._error,
                label=self.label,
                check=self._check_result,
            )

    def _on_progress(self, event: ProgressEvent) -> None:
        with self._lock:
            self._received.append(event.completion)
            self._recent.appendleft(event.completion)
            self._arms = dict(event.arms)
            self._cases_done = event.cases_done

    def _run(self) -> None:
        result: ExperimentResult | None = None
        error: str | None = None
        try:
            if self.queued and not self._manager._wait_for_turn(self):
                result = self._end_before_start()
            else:
                with self._lock:
                    self._state = "running"
                if self._check is not None:
                    result = self._run_check()
                else:
                    result = run_experiment(
                        self._store,
                        self.experiment_id,
                        self.spec,
                        self._provider,
                        previous=self._previous,
                        concurrency=self._concurrency,
                        cancel=self._cancel,
                        on_progress=self._on_progress,
                    )
        except BaseException as exc:  # noqa: BLE001 - a job's failure is reported, never lost
            _LOG.exception("job for experiment %s failed", self.experiment_id)
            error = f"{type(exc).__name__}: {exc}"
            result = self._end_interrupted(error)
        finally:
            self._manager._release(self)
            with self._lock:
                self._result = result
                self._error = error
                self._state = "finished"
                self._finished_at = time.monotonic()

    def _run_check(self) -> ExperimentResult:
        """The check's own run function on the job's experiment; its verdict is kept for the
        snapshot, and its runs and status make the job's result like any job's."""
        assert self._check is not None
        check = self._check(
            self._store,
            self.spec,
            self._provider,
            label=self.label,
            started_by=self._started_by,
            cancel=self._cancel,
            on_progress=self._on_progress,
            experiment_id=self.experiment_id,
        )
        with self._lock:
            self._check_result = check
            new_runs = len(self._received)
        return ExperimentResult(
            check.experiment_id, check.status, list(check.runs), new_runs, check.problem
        )

    def _end_before_start(self) -> ExperimentResult:
        """Cancelled while waiting: nothing was sent; the experiment ends `cancelled`."""
        try:
            self._store.finish_experiment(self.experiment_id, "cancelled")
        except StoreError as exc:
            problem = f"the experiment could not be marked cancelled: {exc}"
            return ExperimentResult(self.experiment_id, "interrupted", self._previous, 0, problem)
        return ExperimentResult(self.experiment_id, "cancelled", self._previous, 0)

    def _end_interrupted(self, error: str) -> ExperimentResult:
        # The lifecycle marks it interrupted itself when the runner raised; this covers an
        # error anywhere else (marking it twice is harmless).
        with contextlib.suppress(StoreError):
            self._store.finish_experiment(self.experiment_id, "interrupted")
        with self._lock:
            completions = self._previous + self._received
            new_runs = len(self._received)
        problem = f"the generation stopped on an unexpected error ({error})"
        return ExperimentResult(self.experiment_id, "interrupted", completions, new_runs, problem)


class JobManager:
    """Every background job of this process; shared by all sessions (thread-safe)."""

    def __init__(self, finished_kept: int = FINISHED_JOBS_KEPT) -> None:
        self._turns = threading.Condition()  # guards _jobs and _local_queue
        self._jobs: dict[str, Job] = {}
        self._local_queue: list[Job] = []  # the embedded model's jobs; the head one runs
        self._finished_kept = finished_kept

    def start(
        self,
        store: Store,
        spec: AnySpec,
        provider: Provider,
        *,
        concurrency: int | None = None,
        label: str | None = None,
        owner: str | None = None,
        started_by: str | None = None,
        check: CheckRun | None = None,
    ) -> Job:
        """Store a new experiment for `spec` and run it in the background. The experiment
        exists (status `running`) when this returns; raises StoreError if it cannot be saved.
        `owner`: the session or user the job counts for; `started_by`: the logged-in user.
        `check`: a check's run function to run instead of `run_experiment` (`spec` from the
        check's spec function, `label` its label); it sets its own concurrency, so
        `concurrency` is not used."""
        experiment_id = create_experiment(store, spec, provider, label=label, started_by=started_by)
        job = Job(
            self,
            store,
            experiment_id,
            spec,
            provider,
            previous=(),
            concurrency=concurrency,
            owner=owner,
            check=check,
            label=label,
            started_by=started_by,
        )
        return self._submit(job)

    def resume(
        self,
        store: Store,
        experiment_id: str,
        provider: Provider,
        *,
        concurrency: int | None = None,
        owner: str | None = None,
    ) -> Job:
        """Send only the runs a cancelled or interrupted experiment is missing, in the
        background. Raises ResumeError (nothing changed) when it cannot be resumed."""
        spec, previous = start_resume(store, experiment_id)
        job = Job(
            self,
            store,
            experiment_id,
            spec,
            provider,
            previous=previous,
            concurrency=concurrency,
            owner=owner,
        )
        return self._submit(job)

    def job(self, experiment_id: str) -> Job | None:
        """The job of this experiment (running, waiting or recently finished), if any."""
        with self._turns:
            return self._jobs.get(experiment_id)

    def active_jobs(self, owner: str | None = None) -> list[Job]:
        """Jobs waiting or running, oldest first; of one owner if given."""
        with self._turns:
            return [
                job
                for job in self._jobs.values()
                if job._finished_at is None and (owner is None or job.owner == owner)
            ]

    def _submit(self, job: Job) -> Job:
        with self._turns:
            self._forget_old_finished()
            self._jobs[job.experiment_id] = job
            if job.queued:
                self._local_queue.append(job)
        job._thread.start()
        return job

    def _forget_old_finished(self) -> None:
        finished = [key for key, job in self._jobs.items() if job._finished_at is not None]
        for key in finished[: max(0, len(finished) - self._finished_kept + 1)]:
            del self._jobs[key]

    def _ahead_of(self, job: Job) -> int:
        with self._turns:
            return self._local_queue.index(job) if job in self._local_queue else 0

    def _wait_for_turn(self, job: Job) -> bool:
        """Block until `job` heads the embedded model's queue (True) or is cancelled (False)."""
        with self._turns:
            while self._local_queue[0] is not job:
                if job.cancel_requested:
                    return False
                self._turns.wait()
            return not job.cancel_requested

    def _release(self, job: Job) -> None:
        with self._turns:
            if job in self._local_queue:
                self._local_queue.remove(job)
            self._turns.notify_all()

    def _wake_waiters(self) -> None:
        with self._turns:
            self._turns.notify_all()
