"""The Suites page: run a whole set of prompts (suite x arms x N runs) in the background, or
import outputs made elsewhere, and see how reproducible the workload is, case by case.

Like Compare: Generate starts a background job and returns at once; the session and the URL
(`?experiment=<id>`) remember the suite, so a reloaded tab finds its job or its results.
"""

from __future__ import annotations

import streamlit as st
from seedscope.imports import import_outputs, parse_import
from seedscope.jobs import Job
from seedscope.settings import Settings
from seedscope.spec import Limits, SpecError
from seedscope.store import StoreError
from seedscope.ui import resources
from seedscope.ui.page_state import (
    generate,
    latest_experiment,
    render_under_generate,
    this_sessions_job,
)
from seedscope.ui.progress import show_job_problem
from seedscope.ui.run_again import show_loaded_notice
from seedscope.ui.suite_form import KEY, extractor_section, render_suite_form
from seedscope.ui.suite_results import render_suite_results

EXPERIMENT_KEY = f"{KEY}_experiment_id"
NOTICE_KEY = f"{KEY}_notice"
IMPORT_PROBLEMS_KEY = f"{KEY}_import_problems"
IMPORT_FILE_TYPES = ["csv", "jsonl", "ndjson"]


def _on_import(settings: Settings) -> None:
    """Import's callback: validate the whole file first; store it only when nothing is wrong."""
    upload = st.session_state.get(f"{KEY}_import_file")
    extractor, problems = st.session_state.get(f"{KEY}_import_extractor_choice", (None, []))
    if upload is None:
        st.session_state[IMPORT_PROBLEMS_KEY] = ["choose an outputs file first"]
        return
    if problems:
        st.session_state[IMPORT_PROBLEMS_KEY] = problems
        return
    try:
        imported = parse_import(
            upload.getvalue(),
            filename=upload.name,
            extractor=extractor,
            limits=Limits.from_settings(settings),
        )
        store = resources.store(settings)
        experiment_id = import_outputs(store, imported)
    except SpecError as exc:
        st.session_state[IMPORT_PROBLEMS_KEY] = exc.messages
        return
    except (StoreError, resources.ResourceError) as exc:
        st.session_state[IMPORT_PROBLEMS_KEY] = [f"the outputs could not be stored: {exc}"]
        return
    st.session_state[EXPERIMENT_KEY] = experiment_id


def _import_section(settings: Settings) -> None:
    with st.expander("Import outputs you already have", icon=":material/upload_file:"):
        st.caption(
            "A CSV (header row) or JSONL file with `case_id`, `arm`, `run`, `text`; optional "
            "`prompt`, `expected`, `model`, `system_fingerprint`, `seed`, `temperature`. "
            "Nothing is generated: the outputs are stored as an import and measured like a "
            "suite. A file with any problem is refused whole, with its row numbers."
        )
        st.file_uploader("Outputs file", type=IMPORT_FILE_TYPES, key=f"{KEY}_import_file")
        choice = extractor_section(key=f"{KEY}_import")
        st.session_state[f"{KEY}_import_extractor_choice"] = choice
        st.button(
            "Import",
            key=f"{KEY}_import",
            icon=":material/upload:",
            on_click=_on_import,
            args=(settings,),
        )
        problems = st.session_state.pop(IMPORT_PROBLEMS_KEY, None)
        if problems:
            st.error("Nothing was imported. Fix these in the file and import it again:")
            for problem in problems:
                st.text(f"• {problem}")  # they quote the file: literal text


def _latest_results(settings: Settings, experiment_id: str | None, job: Job | None) -> None:
    if not experiment_id:
        st.info(
            "Upload a suite (a CSV with `id,prompt` and optionally `system,expected`), or type "
            "prompts one per line, choose the arms and press **Generate**. Every case runs in "
            "every arm N times; the results say which cases reproduce and which do not."
        )
        return
    experiment = latest_experiment(
        settings, experiment_id, session_key=EXPERIMENT_KEY, suite=True, what="suite"
    )
    if experiment is None:
        return
    show_job_problem(job)
    render_suite_results(settings, experiment, key=KEY)


def render_suites_page() -> None:
    settings = resources.settings_or_stop()
    store = resources.store_or_stop(settings)
    st.title("Suites")
    st.caption(
        "The reproducibility of a whole workload: every prompt of a suite, in every arm, N "
        "times, with per-case statistics and answer-level agreement."
    )
    show_loaded_notice("ste")
    experiment_id, job, running = this_sessions_job(EXPERIMENT_KEY)
    form = render_suite_form(
        settings,
        store,
        on_generate=lambda clicked: generate(
            settings, clicked, session_key=EXPERIMENT_KEY, notice_key=NOTICE_KEY
        ),
        busy=running,
    )
    render_under_generate(form, job, running, notice_key=NOTICE_KEY, key=KEY)
    _import_section(settings)
    st.divider()
    if running:
        st.caption("The results appear here when the generation ends.")
        return
    _latest_results(settings, experiment_id, job)
