"""The Compare page: form, the live progress of this session's job, and its results.

Generate starts a background job (seedscope.jobs) and returns at once. The session remembers
the job's experiment id, and so does the page's URL (`?experiment=<id>`), so a reloaded tab
(a new session) finds its job again. While the job runs, a fragment under Generate polls it;
when it ends, the page shows the results.
"""

from __future__ import annotations

import streamlit as st
from seedscope.jobs import Job
from seedscope.settings import Settings
from seedscope.store import StoreError
from seedscope.ui import resources
from seedscope.ui.compare_form import CompareForm, render_compare_form
from seedscope.ui.launch import LaunchError, start_generation
from seedscope.ui.progress import render_job_progress, show_job_problem
from seedscope.ui.results import render_results
from seedscope.ui.text import escape_markdown

EXPERIMENT_KEY = "cmp_experiment_id"
NOTICE_KEY = "cmp_notice"
QUERY_PARAM = "experiment"


def _current_experiment_id() -> str | None:
    """This session's latest experiment; a new session (a reloaded tab) takes it from the URL."""
    experiment_id = st.session_state.get(EXPERIMENT_KEY) or st.query_params.get(QUERY_PARAM)
    if experiment_id:
        st.session_state[EXPERIMENT_KEY] = experiment_id
        if st.query_params.get(QUERY_PARAM) != experiment_id:
            st.query_params[QUERY_PARAM] = experiment_id
    return experiment_id


def _forget_experiment() -> None:
    st.session_state.pop(EXPERIMENT_KEY, None)
    st.query_params.pop(QUERY_PARAM, None)


def _on_generate(settings: Settings, form: CompareForm) -> None:
    """Generate's callback: start the job before the next script run draws the page."""
    if not form.ready or form.spec is None:  # the button is disabled then; never generate
        return
    try:
        job = start_generation(settings, form.spec, form.base_url)
    except LaunchError as exc:
        st.session_state[NOTICE_KEY] = str(exc)
        return
    st.session_state[EXPERIMENT_KEY] = job.experiment_id


def _latest_results(settings: Settings, experiment_id: str | None, job: Job | None) -> None:
    if not experiment_id:
        st.info(
            "Choose a preset and press **Generate**. The cookbook preset sends the prompt five "
            "times without a seed at temperature 0.7 and five times with seed 123 at "
            "temperature 0, then measures how far the answers drift."
        )
        return
    store = resources.store_or_stop(settings)
    try:
        experiment = store.load_experiment(experiment_id)
    except StoreError as exc:
        st.error(f"The latest comparison could not be loaded: {exc}")
        return
    if experiment is None:
        _forget_experiment()
        st.info("The latest comparison was deleted in History. Generate a new one.")
        return
    show_job_problem(job)
    st.page_link(
        "pages/history.py",
        label="Open in History",
        icon=":material/history:",
        query_params={"experiment": experiment.summary.id},
    )
    render_results(settings, experiment, key="cmp")


def _ended_note(job: Job) -> None:
    """Under Generate, where the progress was: how the job ended (the results are below)."""
    result = job.snapshot().result
    if result is not None:
        st.caption(
            f"Generation ended {result.status}: {len(result.completions)} of "
            f"{job.spec.total_runs} runs stored. The results are below."
        )


def render_compare_page() -> None:
    settings = resources.settings_or_stop()
    st.title("Compare")
    st.caption(
        "Send the same chat request many times, with and without a fixed seed, and see how far "
        "the answers drift."
    )
    experiment_id = _current_experiment_id()
    job = resources.job_manager().job(experiment_id) if experiment_id else None
    running = job is not None and not job.snapshot().finished
    form = render_compare_form(
        settings, on_generate=lambda clicked: _on_generate(settings, clicked), busy=running
    )
    assert form.progress is not None
    with form.progress:
        notice = st.session_state.pop(NOTICE_KEY, None)
        if notice:
            st.error(escape_markdown(notice))  # it may quote a base URL typed in the page
        if job is not None and running:
            render_job_progress(job, key="cmp")
        elif job is not None:
            _ended_note(job)
    st.divider()
    if running:
        st.caption("The results appear here when the generation ends.")
        return
    _latest_results(settings, experiment_id, job)
