"""What a generating page (Compare, Suites) remembers between reruns: its latest experiment,
kept in the session and in the URL (`?experiment=<id>`) so a reloaded tab, a new session,
finds its job or its results again; and the Generate callback that starts the job."""

from __future__ import annotations

import streamlit as st
from seedscope.jobs import Job
from seedscope.settings import Settings
from seedscope.ui.compare_form import CompareForm
from seedscope.ui.launch import LaunchError, start_generation

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
