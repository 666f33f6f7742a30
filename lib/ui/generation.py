"""Generate: run a validated spec with live progress per arm, a Cancel button, every run stored.

The runner calls `sink` (the store) and `on_progress` in this script thread as each run
completes, so the page can draw inside them.

Cancel: a click on Cancel (or on any other widget) ends this script run. Streamlit (with its
default `runner.fastReruns`) asks this script thread to stop and at once starts a new script
run in another thread. The Cancel button's callback also sets `Generation.cancel`, so the
runner starts no further call. When the run in flight finishes, the sink stores it, and the
next drawing call inside `on_progress` raises Streamlit's StopException (or RerunException):
the runner re-raises it and the `finally` below marks the experiment cancelled. Every run that
completed is in the store. The new script run waits for that (`wait_until_settled`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import streamlit as st
from seedscope.providers.base import Completion, Provider
from seedscope.runner import ProgressEvent, RunnerCallbackError, run_spec_sync
from seedscope.spec import ExperimentSpec
from seedscope.store import Store, StoreError
from seedscope.ui.text import escape_markdown, format_seed, shorten

CANCEL_KEY = "cmp_cancel"


@dataclass
class Generation:
    """The generation a session started: its experiment and its cancel signal."""

    experiment_id: str
    cancel: threading.Event = field(default_factory=threading.Event)


@dataclass(frozen=True)
class GenerationResult:
    experiment_id: str
    status: str  # complete | cancelled | interrupted
    runs: int
    failed: int
    seconds: float
    problem: str | None = None


def _live_line(completion: Completion) -> str:
    head = f"{completion.arm_label} · run {completion.run_index} · seed "
    head += format_seed(completion.effective_seed)
    if not completion.ok:
        return f"{head} · FAILED {completion.error_type}: {shorten(completion.error_message or '')}"
    return f"{head} · {shorten(completion.text, 100) or '(empty output)'}"


def run_generation(
    spec: ExperimentSpec,
    provider: Provider,
    store: Store,
    *,
    concurrency: int | None = None,
    on_started: Callable[[Generation], None] | None = None,
) -> GenerationResult:
    """Create the experiment, run it with live progress, and mark how it ended.

    `on_started(generation)` is called once the experiment exists, before any model call,
    so the page can remember it even if this script run is interrupted.
    """
    experiment_id = store.create_experiment(spec, base_url_host=provider.base_url_host)
    generation = Generation(experiment_id)
    if on_started is not None:
        on_started(generation)
    sink = store.sink(experiment_id)
    model = escape_markdown(spec.model)
    status = st.status(f"Generating {spec.total_runs} runs on {model}…", expanded=True)
    # Children are added through the status object, not `with status:`: leaving that block
    # marks the status complete (a check mark) while the runs are still coming in.
    status.button(
        "Cancel",
        key=CANCEL_KEY,
        on_click=generation.cancel.set,
        icon=":material/stop_circle:",
        help="Stop after the runs in flight; completed runs are kept.",
    )
    overall = status.progress(0.0, text=f"0 of {spec.total_runs} runs")
    columns = status.columns(len(spec.arms))
    bars = {
        arm.label: column.progress(0.0, text=f"{escape_markdown(arm.label)}: 0/{arm.runs}")
        for arm, column in zip(spec.arms, columns, strict=True)
    }
    live = status.container(height=220, border=True)

    def on_progress(event: ProgressEvent) -> None:
        overall.progress(event.done / event.total, text=f"{event.done} of {event.total} runs")
        arm = event.arms[event.completion.arm_label]
        failed = f", {arm.failed} failed" if arm.failed else ""
        bars[arm.label].progress(
            arm.done / arm.total,
            text=f"{escape_markdown(arm.label)}: {arm.done}/{arm.total}{failed}",
        )
        live.text(_live_line(event.completion))  # model output as plain text

    started = time.perf_counter()
    final_status, problem, runs, failed = "cancelled", None, 0, 0
    try:
        outcome = run_spec_sync(
            spec,
            provider,
            sink=sink,
            on_progress=on_progress,
            concurrency=concurrency,
            cancel=generation.cancel,
        )
        final_status = "cancelled" if outcome.cancelled else "complete"
        runs = len(outcome.completions)
        failed = sum(not c.ok for c in outcome.completions)
    except RunnerCallbackError as exc:
        # Saving a run failed (say the database went away): stop, keep what was saved.
        final_status = "interrupted"
        saved = [
            c for c in exc.outcome.completions if exc.callback != "sink" or c is not exc.completion
        ]
        runs = len(saved)
        failed = sum(not c.ok for c in saved)
        lost = exc.completion
        action = "Saving" if exc.callback == "sink" else "Showing"
        problem = (
            f"Generation stopped: {action} run {lost.run_index} of arm {lost.arm_label!r} "
            f"failed ({exc.__cause__ or exc}). The {runs} runs saved so far are kept."
        )
    finally:
        # Also reached when Streamlit stops this script run (Cancel): mark it cancelled.
        try:
            store.finish_experiment(experiment_id, final_status)
        except StoreError as exc:
            problem = problem or f"The experiment could not be marked {final_status}: {exc}"
    seconds = time.perf_counter() - started
    label = f"Done: {runs} runs in {seconds:.1f} s" + (f", {failed} failed" if failed else "")
    if problem:
        status.update(label=escape_markdown(problem), state="error", expanded=True)
    else:
        status.update(label=label, state="complete", expanded=False)
    return GenerationResult(experiment_id, final_status, runs, failed, seconds, problem)


def wait_until_settled(
    store: Store, generation: Generation, timeout: float = 600.0, poll: float = 0.25
) -> str | None:
    """Status of the session's generation once it is no longer `running` (None if deleted).

    Called by a script run that started while an earlier run of the same session was still
    generating (Cancel, or another widget): that run finishes the call in flight, stores it and
    marks the experiment. The cancel signal makes sure it starts no other call meanwhile.
    """
    status = _status(store, generation.experiment_id)
    if status != "running":
        return status
    generation.cancel.set()
    deadline = time.monotonic() + timeout
    with st.spinner("Stopping: waiting for the run in flight to finish…"):
        while status == "running" and time.monotonic() < deadline:
            time.sleep(poll)
            status = _status(store, generation.experiment_id)
    return status


def _status(store: Store, experiment_id: str) -> str | None:
    experiment = store.load_experiment(experiment_id)
    return None if experiment is None else experiment.summary.status
