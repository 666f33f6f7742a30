"""THE experiment lifecycle: every front end (CLI, probes, background jobs) runs through here.

    experiment_id = create_experiment(store, spec, provider)      # stored `running`, no call yet
    result = run_experiment(store, experiment_id, spec, provider)  # each run stored as it ends
    result.status, result.failure_summary()                        # how it ended, and why
    result = resume_experiment(store, experiment_id, provider)     # only the missing runs

`spec` is an ExperimentSpec (one prompt) or a SuiteSpec (every case of a suite; stored as kind
'suite', every run with its case id): the same functions, statuses and guarantees hold for both.

Without a history (`seedscope compare --no-store`) the same lifecycle runs on an in-memory
SQLite store: there is no second code path.

How an experiment ends (its stored status):
- `complete`    every planned run is stored and at least one succeeded;
- `failed`      every planned run is stored and every one failed (a failed call is still a run);
- `cancelled`   the caller's cancel event (or Ctrl-C) stopped it; the runs so far are kept;
- `interrupted` saving a run failed (say the database went away), or the process died (found
                later by `Store.recover_interrupted`); the runs saved so far are kept.
`cancelled` and `interrupted` experiments can be resumed: only the (case, arm, run index) runs
that are not stored yet are sent, so no run is sent twice or stored twice, and unseeded runs draw
fresh seeds as always.
"""

from __future__ import annotations

import contextlib
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from seedscope.checks.common import check_label_kind
from seedscope.providers.base import Completion, Provider
from seedscope.runner import (
    ProgressEvent,
    RunnerCallbackError,
    completion_order,
    describe_run,
    plan_requests,
    run_spec_sync,
)
from seedscope.store import Store, StoredExperiment, StoreError
from seedscope.suites import AnySpec

RESUMABLE_STATUSES = ("cancelled", "interrupted")


class ResumeError(ValueError):
    """The experiment cannot be resumed; the message says why and what to do."""


@dataclass(frozen=True)
class ExperimentResult:
    """How a run of the lifecycle ended. `completions` holds every stored run of the experiment
    (also those an earlier attempt stored); `new_runs` counts the runs this attempt made."""

    experiment_id: str
    status: str  # complete | failed | cancelled | interrupted
    completions: list[Completion] = field(default_factory=list)
    new_runs: int = 0
    problem: str | None = None  # why it stopped early, readable (never model output unescaped)

    @property
    def failed_runs(self) -> int:
        return sum(not c.ok for c in self.completions)

    def most_common_error(self) -> tuple[str, int] | None:
        """The most frequent failure reason among the runs and how many runs had it."""
        return most_common_error(self.completions)

    def failure_summary(self) -> str | None:
        """For a `failed` experiment, one line: the most common reason and its count."""
        return failure_summary(self.completions) if self.status == "failed" else None


def most_common_error(completions: Sequence[Completion]) -> tuple[str, int] | None:
    reasons = Counter(
        f"{c.error_type}: {c.error_message}" if c.error_message else str(c.error_type)
        for c in completions
        if not c.ok
    )
    if not reasons:
        return None
    reason, count = reasons.most_common(1)[0]
    return reason, count


def failure_summary(completions: Sequence[Completion]) -> str | None:
    """ "every run failed; most common reason (6 of 6 runs): APIConnectionError: ..." when no
    run succeeded, else None. The reason is the backend's text: escape it for its medium."""
    if not completions or any(c.ok for c in completions):
        return None
    reason, count = most_common_error(completions) or ("unknown", len(completions))
    return f"every run failed; most common reason ({count} of {len(completions)} runs): {reason}"


def final_status(spec: AnySpec, completions: Sequence[Completion], cancelled: bool) -> str:
    """`cancelled` when runs are missing, else `failed` if no run succeeded, else `complete`."""
    if cancelled or len(completions) < spec.total_runs:
        return "cancelled"
    if not any(c.ok for c in completions):
        return "failed"
    return "complete"


def create_experiment(
    store: Store,
    spec: AnySpec,
    provider: Provider,
    *,
    label: str | None = None,
    started_by: str | None = None,
) -> str:
    """Store a new `running` experiment (kind 'suite' for a SuiteSpec) for `spec` on
    `provider`'s backend; returns its id. `started_by`: the logged-in user, if any."""
    return store.create_experiment(
        spec, base_url_host=provider.base_url_host, label=label, started_by=started_by
    )


def run_experiment(
    store: Store,
    experiment_id: str,
    spec: AnySpec,
    provider: Provider,
    *,
    previous: Sequence[Completion] = (),
    concurrency: int | None = None,
    cancel: threading.Event | None = None,
    on_progress: Callable[[ProgressEvent], None] | None = None,
) -> ExperimentResult:
    """Run the experiment's missing runs (all of them when `previous` is empty), store each as
    it completes, and finish the experiment with its final status (see the module docstring).

    Ctrl-C (KeyboardInterrupt) finishes it `cancelled` and is re-raised; any other exception
    that escapes the runner finishes it `interrupted` and is re-raised.
    """
    previous = list(previous)
    problem = None
    try:
        outcome = run_spec_sync(
            spec,
            provider,
            sink=store.sink(experiment_id),
            on_progress=on_progress,
            concurrency=concurrency,
            cancel=cancel,
            previous=previous,
        )
        new = outcome.completions
        status = final_status(spec, previous + new, outcome.cancelled)
    except RunnerCallbackError as failure:
        # The run the sink failed on was not saved; everything before it was.
        lost = failure.completion if failure.callback == "sink" else None
        new = [c for c in failure.outcome.completions if c is not lost]
        status = "interrupted"
        action = "saving" if failure.callback == "sink" else "reporting"
        problem = (
            f"stopped while {action} {describe_run(failure.completion)}: "
            f"{failure.__cause__ or failure}. "
            f"The {len(previous) + len(new)} runs saved so far are kept."
        )
    except KeyboardInterrupt:
        _finish_quietly(store, experiment_id, "cancelled")
        raise
    except BaseException:
        _finish_quietly(store, experiment_id, "interrupted")
        raise
    try:
        store.finish_experiment(experiment_id, status)
    except StoreError as exc:
        # The runs are stored; start-up recovery marks the experiment interrupted later.
        problem = problem or f"the experiment could not be marked {status}: {exc}"
        status = "interrupted"
    completions = _ordered(previous + new, spec)
    return ExperimentResult(experiment_id, status, completions, len(new), problem)


def check_resumable(stored: StoredExperiment | None, experiment_id: str) -> StoredExperiment:
    """`stored` if it can be resumed, else ResumeError saying why (checked before a front end
    builds a backend for it; start_resume checks again, atomically)."""
    if stored is None:
        raise ResumeError(f"no experiment {experiment_id!r}: see `seedscope history`")
    kind = check_label_kind(stored.summary.label)
    if kind is not None:
        # A check measures its runs in their order and under their own load (the load probe:
        # in phases); runs sent later as a plain experiment would be another measurement.
        raise ResumeError(
            f"experiment {stored.id[:12]} cannot be resumed: it is a {kind} check, whose runs "
            f"count only as one measurement; run the check again (`seedscope check {kind}`, or "
            "its preset on the Compare page)"
        )
    status = stored.summary.status
    if status not in RESUMABLE_STATUSES:
        reason = {
            "running": "it is still running (a process that died is found at the next start)",
            "complete": "it is complete: every run is stored",
            "failed": "every run of it was made and failed; fix the backend and start a new "
            "experiment instead",
        }.get(status, f"its status is {status!r}")
        raise ResumeError(f"experiment {stored.id[:12]} cannot be resumed: {reason}")
    return stored


def missing_runs(spec: AnySpec, completions: Sequence[Completion]) -> int:
    """How many planned (case, arm, run index) runs have no stored run yet."""
    return len(plan_requests(spec, completions))


def start_resume(store: Store, experiment_id: str) -> tuple[AnySpec, list[Completion]]:
    """Check that the experiment can be resumed and mark it `running` again.

    Returns its spec (a SuiteSpec for a suite) and the runs it already has. Raises ResumeError
    (nothing changed) when it does not exist, is still running, or has ended `complete` or
    `failed`.
    """
    stored = check_resumable(store.load_experiment(experiment_id), experiment_id)
    if not store.reopen_experiment(stored.id, from_statuses=RESUMABLE_STATUSES):
        raise ResumeError(f"experiment {stored.id[:12]} was resumed by someone else just now")
    return stored.spec, stored.completions


def resume_experiment(
    store: Store,
    experiment_id: str,
    provider: Provider,
    *,
    concurrency: int | None = None,
    cancel: threading.Event | None = None,
    on_progress: Callable[[ProgressEvent], None] | None = None,
) -> ExperimentResult:
    """Send only the runs a cancelled or interrupted experiment is missing, then finish it."""
    spec, previous = start_resume(store, experiment_id)
    return run_experiment(
        store,
        experiment_id,
        spec,
        provider,
        previous=previous,
        concurrency=concurrency,
        cancel=cancel,
        on_progress=on_progress,
    )


def _finish_quietly(store: Store, experiment_id: str, status: str) -> None:
    # If the database is gone, start-up recovery marks the experiment interrupted later.
    with contextlib.suppress(StoreError):
        store.finish_experiment(experiment_id, status)


def _ordered(completions: list[Completion], spec: AnySpec) -> list[Completion]:
    return sorted(completions, key=completion_order(spec))
