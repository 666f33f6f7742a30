"""What a generating page (Compare, Suites) remembers between reruns: its latest experiment,
kept in the session and in the URL (`?experiment=<id>`) so a reloaded tab, a new session,
finds its job or its results again; and the Generate callback that starts the job."""

from __future__ import annotations

import streamlit as st
from seedscope.jobs import Job
from seedscope.settings import Settings
from seedscope.store import StoredExperiment, StoreError
from seedscope.suites import SuiteSpec
from seedscope.ui import resources
from seedscope.ui.compare_form import CompareForm
from seedscope.ui.launch import LaunchError, start_generation
from seedscope.ui.progress import render_job_progress
from seedscope.ui.text import escape_markdown

QUERY_PARAM = "experiment"


def current_experiment_id(session_key: str) -> str | None:
    """This session's latest experiment; a new session (a reloaded tab) takes it from the URL."""
    experiment_id = st.session_state.get(session_key) or st.query_params.get(QUERY_PARAM)
    if experiment_id:
        st.session_state[session_key] = experiment_id
        if st.query_params.get(QUERY_PARAM) != experiment_id:
            st.query_params[QUERY_PARAM] = experiment_id
    return experiment_id


def forget_experiment(session_key: str) -> None:
    st.session_state.pop(session_key, None)
    st.query_params.pop(QUERY_PARAM, None)


def generate(settings: Settings, form: CompareForm, *, session_key: str, notice_key: str) -> None:
    """Generate's callback: start the job before the next script run draws the page; a launch
    problem is kept under `notice_key` for the page to show."""
    if not form.ready or form.spec is None:  # the button is disabled then; never generate
        return
    try:
        job = start_generation(settings, form.spec, form.base_url)
    except LaunchError as exc:
        st.session_state[notice_key] = str(exc)
        return
    st.session_state[session_key] = job.experiment_id


def ended_note(job: Job) -> None:
    """Under Generate, where the progress was: how the job ended (the results are below)."""
    result = job.snapshot().result
    if result is not None:
        st.caption(
            f"Generation ended {result.status}: {len(result.completions)} of "
            f"{job.spec.total_runs} runs stored. The results are below."
        )


def this_sessions_job(session_key: str) -> tuple[str | None, Job | None, bool]:
    """(the session's latest experiment id, its job in this process if any, whether it runs)."""
    experiment_id = current_experiment_id(session_key)
    job = resources.job_manager().job(experiment_id) if experiment_id else None
    return experiment_id, job, job is not None and not job.snapshot().finished


def render_under_generate(
    form: CompareForm, job: Job | None, running: bool, *, notice_key: str, key: str
) -> None:
    """Right under Generate: a launch problem, the running job's live progress, or how the
    last job ended."""
    assert form.progress is not None
    with form.progress:
        notice = st.session_state.pop(notice_key, None)
        if notice:
            st.error(escape_markdown(notice))  # it may quote a base URL typed in the page
        if job is not None and running:
            render_job_progress(job, key=key)
        elif job is not None:
            ended_note(job)


def latest_experiment(
    settings: Settings, experiment_id: str, *, session_key: str, suite: bool, what: str
) -> StoredExperiment | None:
    """The session's latest experiment, or None after saying why it cannot be shown here
    (`what`: "comparison" or "suite"; `suite`: whether this page shows suites)."""
    store = resources.store_or_stop(settings)
    try:
        experiment = store.load_experiment(experiment_id)
    except StoreError as exc:
        st.error(f"The latest {what} could not be loaded: {exc}")
        return None
    if experiment is None:
        forget_experiment(session_key)
        st.info(f"The latest {what} was deleted in History. Generate a new one.")
        return None
    if isinstance(experiment.spec, SuiteSpec) != suite:
        forget_experiment(session_key)
        st.info(
            "That experiment is a single comparison: open it in History."
            if suite
            else "That experiment is a suite: open it on the Suites page or in History."
        )
        return None
    st.page_link(
        "pages/history.py",
        label="Open in History",
        icon=":material/history:",
        query_params={"experiment": experiment.id},
    )
    return experiment
