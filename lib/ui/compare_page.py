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
from seedscope.ui.compare_form import render_compare_form
from seedscope.ui.page_state import (
    current_experiment_id,
    ended_note,
    forget_experiment,
    generate,
)
from seedscope.ui.progress import render_job_progress, show_job_problem
from seedscope.ui.results import render_results
from seedscope.ui.run_again import show_loaded_notice
from seedscope.ui.text import escape_markdown

EXPERIMENT_KEY = "cmp_experiment_id"
NOTICE_KEY = "cmp_notice"


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
        forget_experiment(EXPERIMENT_KEY)
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


def render_compare_page() -> None:
    settings = resources.settings_or_stop()
    st.title("Compare")
    st.caption(
        "Send the same chat request many times, with and without a fixed seed, and see how far "
        "the answers drift."
    )
    show_loaded_notice("cmp")
    experiment_id = current_experiment_id(EXPERIMENT_KEY)
    job = resources.job_manager().job(experiment_id) if experiment_id else None
    running = job is not None and not job.snapshot().finished
    form = render_compare_form(
        settings,
        on_generate=lambda clicked: generate(
            settings, clicked, session_key=EXPERIMENT_KEY, notice_key=NOTICE_KEY
        ),
        busy=running,
    )
    assert form.progress is not None
    with form.progress:
        notice = st.session_state.pop(NOTICE_KEY, None)
        if notice:
            st.error(escape_markdown(notice))  # it may quote a base URL typed in the page
        if job is not None and running:
            render_job_progress(job, key="cmp")
        elif job is not None:
            ended_note(job)
    st.divider()
    if running:
        st.caption("The results appear here when the generation ends.")
        return
    _latest_results(settings, experiment_id, job)
