"""Live progress of a background job, drawn by a fragment that polls the job's snapshot.

No model call runs in a script thread: the job generates on its own thread (seedscope.jobs).
The fragment below reruns on its own every POLL_SECONDS (the rest of the page is not redrawn),
so editing the form, switching pages or reloading the tab leaves the job alone; only Cancel
stops it. When the job has ended, the fragment asks for one full rerun and the page shows the
results instead.
"""

from __future__ import annotations

import streamlit as st
from seedscope.jobs import Job, JobSnapshot
from seedscope.providers.base import Completion
from seedscope.ui.check_results import CHECK_KINDS
from seedscope.ui.text import count, escape_markdown, format_seed, shorten

POLL_SECONDS = 0.5
LIVE_LINES = 30  # newest runs in the live log


def live_line(completion: Completion) -> str:
    """One run of the live log, as plain text (st.text: model output is never Markdown)."""
    head = f"{completion.arm_label} · run {completion.run_index} · seed "
    head += format_seed(completion.effective_seed)
    if not completion.ok:
        return f"{head} · FAILED {completion.error_type}: {shorten(completion.error_message or '')}"
    return f"{head} · {shorten(completion.text, 100) or '(empty output)'}"


def render_job_progress(job: Job, *, key: str) -> None:
    """The job's progress, here, kept current until the job ends."""
    _poll(job, key)


@st.fragment(run_every=POLL_SECONDS)
def _poll(job: Job, key: str) -> None:
    snapshot = job.snapshot()
    if snapshot.finished:
        st.rerun(scope="app")  # once: the page then shows the results, and no fragment
    _draw(job, snapshot, key)


def _headline(snapshot: JobSnapshot) -> None:
    spec = snapshot.spec
    model = escape_markdown(spec.model)
    if snapshot.state == "waiting":
        st.info(
            f"Waiting for the embedded model, {snapshot.ahead} ahead: it generates for one "
            "job at a time. This job starts by itself when the ones ahead have ended.",
            icon=":material/hourglass_top:",
        )
    elif snapshot.cancel_requested:
        st.warning(
            "Stopping: the runs in flight finish and are kept; no new run starts.",
            icon=":material/stop_circle:",
        )
    else:
        doing = "Resuming" if snapshot.resumed else "Generating"
        check = CHECK_KINDS.get(snapshot.label or "")
        if check is not None:  # a check's fixed title, no user text
            doing = f"{check.title}: {doing.lower()}"
        st.markdown(
            f"**{doing} {snapshot.total} runs on {model}** · {snapshot.elapsed_s:.0f} s. "
            "Every run is saved as it ends; you may edit the form or leave this page."
        )


def _draw(job: Job, snapshot: JobSnapshot, key: str) -> None:
    with st.container(border=True, key=f"{key}_progress"):
        _headline(snapshot)
        share = snapshot.done / snapshot.total if snapshot.total else 0.0
        st.progress(share, text=f"{snapshot.done} of {count(snapshot.total, 'run')}")
        if snapshot.cases_total:
            st.caption(f"{snapshot.cases_done} of {snapshot.cases_total} cases have all their runs")
        for arm in snapshot.arms:
            failed = f", {arm.failed} failed" if arm.failed else ""
            st.progress(
                arm.done / arm.total if arm.total else 0.0,
                text=f"{escape_markdown(arm.label)}: {arm.done}/{arm.total}{failed}",
            )
        st.button(
            "Cancel",
            key=f"{key}_cancel_{snapshot.experiment_id}",
            on_click=job.cancel,
            disabled=snapshot.cancel_requested,
            icon=":material/stop_circle:",
            help="Stop after the runs in flight; completed runs are kept.",
        )
        if snapshot.recent:
            st.caption("Latest runs, newest first")
            with st.container(height=220, border=True):
                for completion in snapshot.recent[:LIVE_LINES]:
                    st.text(live_line(completion))  # model output as plain text


def show_job_problem(job: Job | None) -> None:
    """Why the page's job ended early, if it did (the stored status alone does not say)."""
    if job is None:
        return
    snapshot = job.snapshot()
    if snapshot.result is not None and snapshot.result.problem:
        st.error(escape_markdown(f"Generation interrupted: {snapshot.result.problem}"))
