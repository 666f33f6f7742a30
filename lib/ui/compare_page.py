"""The Compare page: form, the live progress of this session's job, and its results.

Generate starts a background job (seedscope.jobs) and returns at once. The session remembers
the job's experiment id, and so does the page's URL (`?experiment=<id>`), so a reloaded tab
(a new session) finds its job again. While the job runs, a fragment under Generate polls it;
when it ends, the page shows the results.

A check preset (seed check, load probe, logprobs check) runs the check as the job, and a
finished check shows its verdict above the usual results (seedscope.ui.check_results).
"""

from __future__ import annotations

import streamlit as st
from seedscope.jobs import Job
from seedscope.settings import Settings
from seedscope.ui import resources
from seedscope.ui.check_results import render_check_verdict
from seedscope.ui.compare_form import CompareForm, render_compare_form
from seedscope.ui.launch import LaunchError, start_check
from seedscope.ui.page_state import (
    generate,
    latest_experiment,
    render_under_generate,
    this_sessions_job,
)
from seedscope.ui.progress import show_job_problem
from seedscope.ui.results import render_results
from seedscope.ui.run_again import show_loaded_notice

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
    experiment = latest_experiment(
        settings, experiment_id, session_key=EXPERIMENT_KEY, suite=False, what="comparison"
    )
    if experiment is None:
        return
    show_job_problem(job)
    render_check_verdict(experiment)
    render_results(settings, experiment, key="cmp")


def _generate(settings: Settings, form: CompareForm) -> None:
    """Generate's callback: a check preset runs its check; any other, the experiment."""
    if form.check is None:
        generate(settings, form, session_key=EXPERIMENT_KEY, notice_key=NOTICE_KEY)
        return
    if not form.ready or form.spec is None:  # the button is disabled then; never generate
        return
    try:
        job = start_check(settings, form.check, form.spec, form.base_url)
    except LaunchError as exc:
        st.session_state[NOTICE_KEY] = str(exc)
        return
    st.session_state[EXPERIMENT_KEY] = job.experiment_id


def render_compare_page() -> None:
    settings = resources.settings_or_stop()
    st.title("Compare")
    st.caption(
        "Send the same chat request many times, with and without a fixed seed, and see how far "
        "the answers drift."
    )
    show_loaded_notice("cmp")
    experiment_id, job, running = this_sessions_job(EXPERIMENT_KEY)
    form = render_compare_form(
        settings,
        on_generate=lambda clicked: _generate(settings, clicked),
        busy=running,
    )
    render_under_generate(form, job, running, notice_key=NOTICE_KEY, key="cmp")
    st.divider()
    if running:
        st.caption("The results appear here when the generation ends.")
        return
    _latest_results(settings, experiment_id, job)
