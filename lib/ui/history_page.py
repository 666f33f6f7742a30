"""The History page: past experiments, suites and imports; filters; open one (the Compare or
Suites results view); delete."""

from __future__ import annotations

import streamlit as st
from seedscope.settings import Settings
from seedscope.store import ExperimentSummary, Store, StoredExperiment, StoreError
from seedscope.suites import SuiteSpec
from seedscope.ui import resources
from seedscope.ui.check_results import render_check_verdict
from seedscope.ui.compare_form import available_providers
from seedscope.ui.filters import render_filters
from seedscope.ui.history_compare import render_compare_with
from seedscope.ui.history_table import (
    COLUMNS,
    ROW_HEIGHT,
    experiment_label,
    summary_table,
    table_height,
)
from seedscope.ui.progress import render_job_progress, show_job_problem
from seedscope.ui.results import render_results
from seedscope.ui.run_again import load_into_compare, load_into_suites
from seedscope.ui.status_banner import status_badge
from seedscope.ui.suite_results import render_suite_results
from seedscope.ui.text import count

PAGE_SIZE = 50
OPEN_KEY = "hist_open"
NOTICE_KEY = "hist_notice"
QUERY_KEY = "hist_query_applied"


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
            f"Yes, delete experiment {summary.id[:8]} and its {count(summary.runs, 'run')} "
            "for good",
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
    st.caption(f"{count(total, 'experiment')}, newest first.")
    table = summary_table(summaries, store.load_specs([s.id for s in summaries]))
    st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        height=table_height(len(table)),
        row_height=ROW_HEIGHT,
        column_config=COLUMNS,
    )

    by_id = {s.id: s for s in summaries}
    _open_from_query(store, by_id)
    if st.session_state.get(OPEN_KEY) not in by_id:
        st.session_state[OPEN_KEY] = None
    chosen = st.selectbox(
        "Open an experiment",
        list(by_id),
        index=None,
        format_func=lambda experiment_id: experiment_label(by_id[experiment_id]),
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
    _run_again(settings, experiment)
    if isinstance(experiment.spec, SuiteSpec):
        render_suite_results(settings, experiment, key="hist")
    else:
        render_check_verdict(experiment)  # a check's verdict first, as on the Compare page
        render_compare_with(settings, store, experiment, by_id)
        render_results(settings, experiment, key="hist")
    st.divider()
    _delete_section(store, experiment.summary)


def _run_again(settings: Settings, experiment: StoredExperiment) -> None:
    """Load the experiment's request into its form (Compare, or Suites) and go there."""
    if experiment.kind == "import":
        return  # outputs made elsewhere: there is no request to send again
    form = "Suites" if experiment.kind == "suite" else "Compare"
    clicked = st.button(
        "Run again",
        key=f"hist_run_again_{experiment.id}",
        icon=":material/replay:",
        help=f"Load this experiment's request and arms into the {form} form (nothing runs "
        "until you press Generate there).",
    )
    if clicked:
        providers = available_providers(settings)
        if experiment.kind == "suite":
            page = load_into_suites(experiment, providers)
        else:
            page = load_into_compare(experiment, providers)
        st.switch_page(page)
