"""Generate: run a validated spec with live progress per arm, a Cancel button, every run stored.

The runner calls `sink` (the store) and `on_progress` in this script thread as each run
completes, so the page can draw inside them. A click on Cancel (or any other widget) makes
Streamlit rerun the script: its next drawing call raises Streamlit's RerunException inside
`on_progress`, the runner stops starting calls and re-raises, and the `finally` below marks the
experiment cancelled. Every run that completed before is already in the store.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import streamlit as st

from lib.providers.base import Completion, Provider
from lib.runner import ProgressEvent, RunnerCallbackError, run_spec_sync
from lib.spec import ExperimentSpec
from lib.store import Store, StoreError
from lib.ui.text import escape_markdown, format_seed, shorten

CANCEL_KEY = "cmp_cancel"


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
    on_started: object = None,
) -> GenerationResult:
    """Create the experiment, run it with live progress, and mark how it ended.

    `on_started(experiment_id)` is called once the experiment exists, before any model call,
    so the page can remember it even if this script run is interrupted.
    """
    experiment_id = store.create_experiment(spec, base_url_host=provider.base_url_host)
    if callable(on_started):
        on_started(experiment_id)
    sink = store.sink(experiment_id)
    model = escape_markdown(spec.model)
    status = st.status(f"Generating {spec.total_runs} runs on {model}…", expanded=True)
    with status:
        st.button(
            "Cancel",
            key=CANCEL_KEY,
            icon=":material/stop_circle:",
            help="Stop after the runs in flight; completed runs are kept.",
        )
        overall = st.progress(0.0, text=f"0 of {spec.total_runs} runs")
        columns = st.columns(len(spec.arms))
        bars = {
            arm.label: column.progress(0.0, text=f"{escape_markdown(arm.label)}: 0/{arm.runs}")
            for arm, column in zip(spec.arms, columns, strict=True)
        }
        live = st.container(height=220, border=True)

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
            spec, provider, sink=sink, on_progress=on_progress, concurrency=concurrency
        )
        final_status = "cancelled" if outcome.cancelled else "complete"
        runs = len(outcome.completions)
        failed = sum(not c.ok for c in outcome.completions)
    except RunnerCallbackError as exc:
        # Saving a run failed (say the database went away): stop, keep what was saved.
        final_status = "interrupted"
        runs = len(exc.outcome.completions)
        failed = sum(not c.ok for c in exc.outcome.completions)
        problem = f"Stopped after {runs} runs: {exc.__cause__ or exc}"
    finally:
        # Also reached when a rerun (Cancel) interrupts this script run: mark it cancelled.
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
