"""The History page: past experiments, suites and imports; filters; open one (the Compare or
Suites results view); delete."""

from __future__ import annotations

import pandas as pd
import streamlit as st
from seedscope.settings import Settings
from seedscope.store import ExperimentSummary, Store, StoreError
from seedscope.suites import SuiteSpec
from seedscope.ui import resources
from seedscope.ui.filters import render_filters
from seedscope.ui.progress import render_job_progress, show_job_problem
from seedscope.ui.results import render_results
from seedscope.ui.status_banner import status_badge
from seedscope.ui.suite_results import render_suite_results
from seedscope.ui.text import shorten

PAGE_SIZE = 50
OPEN_KEY = "hist_open"
NOTICE_KEY = "hist_notice"
QUERY_KEY = "hist_query_applied"


def summary_table(summaries: list[ExperimentSummary]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            # What tells experiments apart first: a laptop-width table shows the left columns.
            {
                "id": s.id[:8],
                "kind": s.kind,
                "created (UTC)": s.created_at.replace(tzinfo=None),
                "prompt": shorten(s.label + ": " + s.prompt if s.label else s.prompt, 120),
                "model": f"{s.provider}/{s.model}",
                "runs": s.runs,
                "failed": s.failed_runs,
                "status": s.status,
                "host": s.base_url_host or "",
            }
            for s in summaries
        ]
    )


def _option_label(summary: ExperimentSummary) -> str:
    return (
        f"{summary.id[:8]} · {summary.created_at:%Y-%m-%d %H:%M} · {summary.model} · "
        f"{summary.runs} runs · {shorten(summary.prompt, 60)}"
    )


def _delete(store: Store, experiment_id: str) -> None:
    """Button callback: runs before the next script run, so it may reset the selection."""
    try:
        deleted = store.delete_experiment(experiment_id)
    except StoreError as exc:
        st.session_state[NOTICE_KEY] = ("error", f"Could not delete: {exc}")
        return
    st.session_state[OPEN_KEY] = None
    message = f"Deleted experiment {experiment_id[:8]}." if deleted else "Already deleted."
    st.session_state[NOTICE_KEY] = ("success", message)


def _delete_section(store: Store, summary: ExperimentSummary) -> None:
    with st.expander("Delete this experiment", icon=":material/delete:"):
        confirmed = st.checkbox(
            f"Yes, delete experiment {summary.id[:8]} and its {summary.runs} runs for good",
            key=f"hist_confirm_delete_{summary.id}",
        )
        st.button(
            "Delete",
            type="primary",
            disabled=not confirmed,
            key=f"hist_delete_{summary.id}",
            on_click=_delete,
            args=(store, summary.id),
        )


def _show_notice() -> None:
    notice = st.session_state.pop(NOTICE_KEY, None)
    if notice:
        kind, message = notice
        (st.success if kind == "success" else st.error)(message)


def _open_from_query(store: Store, by_id: dict[str, ExperimentSummary]) -> None:
    """`?experiment=<id or prefix>` opens that experiment (the link on the Compare page), even
    when it is not on the listed page. Applied once per distinct value, so choosing another
    experiment afterwards sticks.
    """
    wanted = st.query_params.get("experiment")
    if not wanted or st.session_state.get(QUERY_KEY) == wanted:
        return
    st.session_state[QUERY_KEY] = wanted
    try:
        found = store.resolve_id(wanted)
        experiment = store.load_experiment(found) if found else None
    except StoreError:
        experiment = None
    if experiment is None:
        st.warning("The experiment in the link was not found; it may have been deleted.")
        return
    by_id.setdefault(experiment.summary.id, experiment.summary)
    st.session_state[OPEN_KEY] = experiment.summary.id


def render_history_page() -> None:
    settings: Settings = resources.settings_or_stop()
    store = resources.store_or_stop(settings)
    st.title("History")
    _show_notice()
    try:
        anything = store.count_experiments() > 0
    except StoreError as exc:
        st.error(str(exc))
        return
    if not anything:
        st.info(
            "No experiments yet. Run a comparison on the Compare page: it appears here as soon "
            "as it starts, with every run saved as it completes."
        )
        st.page_link("pages/compare.py", label="Go to Compare", icon=":material/compare_arrows:")
        return

    filters = render_filters(store, key="hist", with_prompt=True)
    kwargs = filters.store_kwargs(with_prompt=True)
    total = store.count_experiments(**kwargs)
    if total == 0:
        st.info("No experiment matches these filters. Clear a filter to see more.")
        return
    pages = (total + PAGE_SIZE - 1) // PAGE_SIZE
    page = 1
    if pages > 1:
        page = int(st.number_input(f"Page (of {pages})", 1, pages, 1, step=1, key="hist_page"))
    summaries = store.list_experiments(**kwargs, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    st.caption(f"{total} experiments, newest first.")
    st.dataframe(summary_table(summaries), hide_index=True, width="stretch")

    by_id = {s.id: s for s in summaries}
    _open_from_query(store, by_id)
    if st.session_state.get(OPEN_KEY) not in by_id:
        st.session_state[OPEN_KEY] = None
    chosen = st.selectbox(
        "Open an experiment",
        list(by_id),
        index=None,
        format_func=lambda experiment_id: _option_label(by_id[experiment_id]),
        placeholder="Choose an experiment to see its results",
        key=OPEN_KEY,
    )
    if chosen is None:
        return
    experiment = store.load_experiment(chosen)
    if experiment is None:
        st.warning("That experiment no longer exists (deleted in another session).")
        return
    st.divider()
    job = resources.job_manager().job(chosen)
    if job is not None and not job.snapshot().finished:
        # Running in this app: follow it live; the results appear when it ends.
        st.markdown(f"#### Experiment `{chosen[:8]}` {status_badge('running')}")
        render_job_progress(job, key="hist")
        return
    show_job_problem(job)
    if isinstance(experiment.spec, SuiteSpec):
        render_suite_results(settings, experiment, key="hist")
    else:
        render_results(settings, experiment, key="hist")
    st.divider()
    _delete_section(store, experiment.summary)
