"""Run every arm of a spec against a provider: bounded concurrency, progress, nothing lost.

A spec is an ExperimentSpec (one prompt) or a SuiteSpec (every case of a suite, each request
carrying its case id); everything below holds for both.

How a run goes
- `plan_requests` interleaves the arms (run 0 of every arm, then run 1, ...; for a suite run 0
  of every arm of every case, then run 1, ...) so all arms and cases see the same backend
  conditions; with concurrency 1 the calls go out in exactly that order.
- A fixed pool of workers takes requests in that order, at most
  min(concurrency or DEFAULT_CONCURRENCY, provider.max_concurrency) at a time.
- Workers only call the provider. Each completion goes to `sink` on the runner's one writer
  thread, in order of completion, so a store write (~0.5-1 ms of SQLite and SQLAlchemy) never
  holds up the event loop that sends and reads every call. Once the sink has returned, the
  coroutine that called `run_spec` calls `on_progress` itself, so progress only ever reports
  stored runs, runs in the event-loop thread (the caller's thread under `run_spec_sync`, which
  Streamlit needs), and an exception in either callback surfaces right there.
- Every call is a real call: nothing here caches or deduplicates generation requests.

Resuming
- `previous` holds the runs an earlier attempt already stored: they are not planned again (by
  case, arm and run index), and progress starts from them. The outcome holds only the new runs.

Stopping
- `cancel` (a threading.Event): checked before each new call starts. Calls in flight finish and
  are kept; the outcome has `cancelled=True`.
- A callback that raises: the runner stops starting calls, cancels the calls in flight (their
  results are dropped: an abandoned local generation finishes in its thread), waits for the
  workers to end and for the writer to store what it was handed (nothing after a failed write),
  then re-raises. Every completion handed to the sink before stays with the sink.
  - `Exception` from a callback is re-raised as `RunnerCallbackError`, whose `.outcome` holds
    every completion the sink stored, plus the one the callback failed on, so a failed sink
    write (say a database error) never loses a completion.
  - Anything else (KeyboardInterrupt, SystemExit, Streamlit's StopException/RerunException,
    asyncio.CancelledError) propagates unchanged, because callers rely on its type.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from seedscope.providers.base import (
    Completion,
    CompletionRequest,
    Provider,
    failed_completion,
    utc_now,
)
from seedscope.spec import SpecError, seed_problems
from seedscope.suites import AnySpec, SuiteSpec

DEFAULT_CONCURRENCY = 8


@dataclass(frozen=True)
class ArmProgress:
    label: str
    done: int
    failed: int
    total: int


@dataclass(frozen=True)
class ProgressEvent:
    done: int
    total: int
    arms: dict[str, ArmProgress]
    completion: Completion  # the run that just finished
    cases_done: int = 0  # suites: cases with every run of every arm stored
    cases_total: int = 0  # suites: cases in the suite (0 for a plain experiment)


@dataclass
class RunOutcome:
    # case order (suites), arm order, then run_index
    completions: list[Completion] = field(default_factory=list)
    cancelled: bool = False


class RunnerCallbackError(RuntimeError):
    """A sink or on_progress callback raised; `.outcome` keeps every completion received."""

    def __init__(self, callback: str, completion: Completion, outcome: RunOutcome):
        self.callback = callback
        self.completion = completion
        self.outcome = outcome
        super().__init__(
            f"the {callback} callback failed on {describe_run(completion)}; the run stopped "
            f"and kept {len(outcome.completions)} completions"
        )


def describe_run(completion: Completion) -> str:
    """ "run 2 of arm 'seeded'" (of case 'q1' in a suite), for messages."""
    where = f"run {completion.run_index} of arm {completion.arm_label!r}"
    return where if completion.case_id is None else f"{where} of case {completion.case_id!r}"


Sink = Callable[[Completion], None]
ProgressCallback = Callable[[ProgressEvent], None]


def plan_requests(spec: AnySpec, previous: Sequence[Completion] = ()) -> list[CompletionRequest]:
    """One request per run, interleaved across arms: run 0 of every arm, then run 1, ...
    For a suite: run 0 of every arm of every case (in suite order), then run 1, ...

    Runs already in `previous` (same case id, arm label and run index) are left out.
    """
    done = {(c.case_id, c.arm_label, c.run_index) for c in previous}
    longest = max(arm.runs for arm in spec.arms)
    if isinstance(spec, SuiteSpec):
        requests = [(case.id, case.prompt, spec.system_for(case)) for case in spec.cases]
    else:
        requests = [(None, spec.prompt, spec.system)]
    return [
        CompletionRequest(
            arm_label=arm.label,
            run_index=index,
            prompt=prompt,
            system=system,
            model=spec.model,
            seed=arm.seed,
            temperature=arm.temperature,
            top_p=spec.top_p,
            max_tokens=spec.max_tokens,
            case_id=case_id,
            top_logprobs=arm.top_logprobs,
        )
        for index in range(longest)
        for case_id, prompt, system in requests
        for arm in spec.arms
        if index < arm.runs and (case_id, arm.label, index) not in done
    ]


def completion_order(spec: AnySpec) -> Callable[[Completion], tuple[int, int, int]]:
    """Sort key: case order of a suite, then arm order of the spec, then run index."""
    arm_order = {arm.label: position for position, arm in enumerate(spec.arms)}
    case_order = (
        {case.id: position for position, case in enumerate(spec.cases)}
        if isinstance(spec, SuiteSpec)
        else {}
    )

    def key(completion: Completion) -> tuple[int, int, int]:
        return (
            case_order.get(completion.case_id, len(case_order)),  # type: ignore[arg-type]
            arm_order.get(completion.arm_label, len(arm_order)),
            completion.run_index,
        )

    return key


def effective_concurrency(provider: Provider, concurrency: int | None) -> int:
    if concurrency is not None and concurrency < 1:
        raise ValueError(f"concurrency {concurrency} is out of range; allowed 1 or more")
    limit = concurrency or DEFAULT_CONCURRENCY
    if provider.max_concurrency is not None:
        limit = min(limit, provider.max_concurrency)
    return limit


class _Progress:
    def __init__(self, spec: AnySpec, previous: Sequence[Completion] = ()):
        self.total = spec.total_runs
        cases = len(spec.cases) if isinstance(spec, SuiteSpec) else 1
        self.totals = {arm.label: arm.runs * cases for arm in spec.arms}
        self.done = dict.fromkeys(self.totals, 0)
        self.failed = dict.fromkeys(self.totals, 0)
        # Suites: runs still missing per case, so "cases done" is one subtraction per run.
        self.per_case = spec.runs_per_case if isinstance(spec, SuiteSpec) else 0
        self.case_missing: dict[str | None, int] = (
            dict.fromkeys((case.id for case in spec.cases), self.per_case)
            if isinstance(spec, SuiteSpec)
            else {}
        )
        self.cases_total = len(self.case_missing)
        self.cases_done = 0
        for completion in previous:
            if completion.arm_label in self.totals:
                self._count(completion)

    def _count(self, completion: Completion) -> None:
        label = completion.arm_label
        self.done[label] += 1
        self.failed[label] += 0 if completion.ok else 1
        if completion.case_id in self.case_missing:
            self.case_missing[completion.case_id] -= 1
            self.cases_done += self.case_missing[completion.case_id] == 0

    def arm_progress(self) -> dict[str, ArmProgress]:
        return {
            name: ArmProgress(name, self.done[name], self.failed[name], total)
            for name, total in self.totals.items()
        }

    def record(self, completion: Completion) -> ProgressEvent:
        self._count(completion)
        return ProgressEvent(
            sum(self.done.values()),
            self.total,
            self.arm_progress(),
            completion,
            cases_done=self.cases_done,
            cases_total=self.cases_total,
        )


async def _call(provider: Provider, request: CompletionRequest) -> Completion:
    """provider.complete, with a raise turned into a failed run (the protocol says it won't)."""
    started_at = utc_now()
    start = time.perf_counter()
    try:
        return await provider.complete(request)
    except Exception as exc:  # noqa: BLE001 - a run is never lost, even to a provider bug
        return failed_completion(
            request,
            provider=provider.name,
            model=provider.model,
            started_at=started_at,
            latency_s=time.perf_counter() - start,
            error_type=type(exc).__name__,
            error_message=f"the {provider.name} backend raised: {exc}",
            base_url_host=provider.base_url_host,
        )


async def run_spec(
    spec: AnySpec,
    provider: Provider,
    *,
    sink: Sink | None = None,
    on_progress: ProgressCallback | None = None,
    concurrency: int | None = None,
    cancel: threading.Event | None = None,
    previous: Sequence[Completion] = (),
) -> RunOutcome:
    """Run every arm of `spec` (of every case, for a suite) on `provider`, but the runs in
    `previous`; see the module docstring for the guarantees."""
    problems = seed_problems(spec, provider.name)  # a spec built without validate_spec
    if problems:
        raise SpecError(problems)
    limit = effective_concurrency(provider, concurrency)
    pending = deque(plan_requests(spec, previous))
    planned = len(pending)
    # One inbox for the loop: ("called", c) from a worker, ("stored", c, error) from the writer,
    # ("ended", None, None) when a worker stops.
    inbox: asyncio.Queue[tuple[str, Completion | None, BaseException | None]] = asyncio.Queue()
    stop = asyncio.Event()  # set when a callback failed: no new calls

    def may_start() -> bool:
        return bool(pending) and not stop.is_set() and not (cancel and cancel.is_set())

    async def worker() -> None:
        try:
            while may_start():
                request = pending.popleft()
                inbox.put_nowait(("called", await _call(provider, request), None))
        finally:
            inbox.put_nowait(("ended", None, None))  # this worker is done (or was cancelled)

    loop = asyncio.get_running_loop()

    def report_write(completion: Completion, error: BaseException | None) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is gone (Ctrl-C): nobody to tell
            loop.call_soon_threadsafe(inbox.put_nowait, ("stored", completion, error))

    writer = _SinkWriter(sink, report_write) if sink is not None else None
    workers = [asyncio.create_task(worker()) for _ in range(min(limit, len(pending)))]
    progress = _Progress(spec, previous)
    delivered: list[Completion] = []  # stored (when there is a sink) and reported
    failure: tuple[str, Completion, Exception] | None = None
    running, writing = len(workers), 0
    try:
        while running or writing:
            kind, completion, error = await inbox.get()
            if completion is None:  # "ended"
                running -= 1
                continue
            if kind == "called" and writer is not None:
                writer.put(completion)  # reported back as "stored" once the sink returned
                writing += 1
                continue
            if kind == "stored":
                writing -= 1
            if error is not None:
                if not isinstance(error, Exception):
                    raise error  # a control exception from the sink propagates unchanged
                failure = ("sink", completion, error)
                break
            delivered.append(completion)
            if on_progress is not None:
                try:
                    on_progress(progress.record(completion))
                except Exception as exc:
                    failure = ("on_progress", completion, exc)
                    break
    finally:
        stop.set()
        for task in workers:
            task.cancel()
        if writer is not None:
            writer.close()  # waits for what it was handed: then `writer.stored` is complete
        await asyncio.gather(*workers, return_exceptions=True)
        closer = getattr(provider, "aclose", None)
        if closer is not None:
            await closer()
    kept = writer.stored if writer is not None else delivered
    if failure is not None:
        name, completion, exc = failure
        kept = kept + [completion] if name == "sink" else kept
        outcome = RunOutcome(_ordered(kept, spec), cancelled=True)
        raise RunnerCallbackError(name, completion, outcome) from exc
    return RunOutcome(_ordered(kept, spec), cancelled=len(kept) < planned)


class _SinkWriter:
    """Calls the sink on its own thread, one completion at a time in the order they were put,
    and reports each write back with `report(completion, error)` (called on that thread).
    After a write raises, nothing more is written."""

    def __init__(self, sink: Sink, report: Callable[[Completion, BaseException | None], None]):
        self.stored: list[Completion] = []  # written, in order; complete once close() returned
        self._sink = sink
        self._report = report
        self._queue: queue.SimpleQueue[Completion | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="seedscope-sink", daemon=True)
        self._thread.start()

    def put(self, completion: Completion) -> None:
        self._queue.put(completion)

    def close(self) -> None:
        """Write everything put so far (unless a write failed), then end the thread."""
        self._queue.put(None)
        self._thread.join()

    def _run(self) -> None:
        while (completion := self._queue.get()) is not None:
            try:
                self._sink(completion)
            except BaseException as exc:  # re-raised by run_spec on the loop, whatever it is
                self._report(completion, exc)
                return
            self.stored.append(completion)
            self._report(completion, None)


def _ordered(completions: list[Completion], spec: AnySpec) -> list[Completion]:
    return sorted(completions, key=completion_order(spec))


def run_spec_sync(
    spec: AnySpec,
    provider: Provider,
    *,
    sink: Sink | None = None,
    on_progress: ProgressCallback | None = None,
    concurrency: int | None = None,
    cancel: threading.Event | None = None,
    previous: Sequence[Completion] = (),
) -> RunOutcome:
    """`run_spec` in a fresh event loop on this thread (callbacks run on this thread)."""
    return asyncio.run(
        run_spec(
            spec,
            provider,
            sink=sink,
            on_progress=on_progress,
            concurrency=concurrency,
            cancel=cancel,
            previous=previous,
        )
    )


def progress_before(
    spec: AnySpec, previous: Sequence[Completion] = ()
) -> tuple[dict[str, ArmProgress], int, int]:
    """(per-arm progress, cases done, cases in the suite) before the first new run: what an
    earlier attempt stored, counted as the runner counts it."""
    progress = _Progress(spec, previous)
    return progress.arm_progress(), progress.cases_done, progress.cases_total
