"""The results view of a stored suite (or import), shared by the Suites page and History.

Per arm: TARr@N, TARa@N and the accuracy range with their intervals; between arms: the paired
difference of TARr@N; a cases x arms heatmap of modal share; the cases worst first, filterable
by label and arm. Choosing a case opens the Compare results view for that case alone.

The analysis is cached by experiment id, run count, status and embedder, so a filter or a
chosen case redraws from it: nothing is generated or embedded again.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st
from seedscope.embeddings import EmbeddingError
from seedscope.export import suite_export_files
from seedscope.providers.base import Completion
from seedscope.settings import Settings
from seedscope.store import StoredExperiment
from seedscope.suite_analysis import (
    CaseMetrics,
    SuiteAnalysis,
    analyze_suite_spec,
    interval_text,
    shown_label,
    worst_first,
)
from seedscope.suite_charts import modal_share_heatmap
from seedscope.suites import SuiteSpec
from seedscope.ui import resources
from seedscope.ui.results import choose_embedder, render_results, report_button
from seedscope.ui.status_banner import render_status_banner, status_badge
from seedscope.ui.text import count, escape_markdown, shorten

LABELS = ("flaky", "unparseable", "answer-stable", "stable", "excluded")
ALL_ARMS = "All arms"
NOT_EXCLUDED_HELP = "Cases with fewer than N successful runs are excluded from @N figures."


@st.cache_data(max_entries=32, show_spinner="Measuring the suite…")
def _cached_suite_analysis(
    experiment_id: str,
    run_count: int,
    status: str,
    embedder_id: str | None,
    _spec: SuiteSpec,
    _completions: list[Completion],
    _embedder: object,
) -> SuiteAnalysis:
    # Keyed by (experiment id, run count, status, embedder id); the rest is not hashed.
    return analyze_suite_spec(_spec, _completions, _embedder)  # type: ignore[arg-type]


def suite_analysis_for(
    settings: Settings, experiment: StoredExperiment, embedder_kind: str | None
) -> SuiteAnalysis:
    """The cached analysis; `embedder_kind` None skips the embedding distances."""
    assert isinstance(experiment.spec, SuiteSpec)
    embedder = None if embedder_kind is None else resources.embedder(settings, embedder_kind)
    return _cached_suite_analysis(
        experiment.id,
        len(experiment.completions),
        experiment.status,
        None if embedder is None else embedder.id,
        experiment.spec,
        experiment.completions,
        embedder,
    )


def share_text(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def arms_table(analysis: SuiteAnalysis) -> pd.DataFrame:
    """One row per arm: the suite figures as the CLI's JSON has them (fractions 0..1)."""
    rows = []
    for arm in analysis.arms:
        per_run = arm.accuracy_per_run
        rows.append(
            {
                "arm": arm.label,
                "N": arm.n,
                "cases": arm.cases,
                "excluded": arm.cases_excluded,
                "failed runs": arm.failed_runs,
                "TARr@N": arm.tarr_at_n,
                "TARr@N 95% CI": interval_text(arm.tarr_at_n_ci),
                "TARa@N": arm.tara_at_n,
                "TARa@N 95% CI": interval_text(arm.tara_at_n_ci),
                "accuracy best": arm.accuracy_best,
                "accuracy worst": arm.accuracy_worst,
                "spread": arm.accuracy_spread,
                "accuracy per run": "–"
                if per_run is None
                else ", ".join(f"{value:.2f}" for value in per_run),
            }
        )
    return pd.DataFrame(rows)


def cases_table(rows: list[CaseMetrics]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "case": row.case_id,
                "arm": row.arm,
                "label": shown_label(row),
                "runs": row.runs,
                "failed": row.failed_runs,
                "distinct outputs": row.distinct_outputs,
                "modal share": row.modal_share,
                "modal share 95% CI": interval_text(row.modal_share_ci),
                "TARr": row.tarr,
                "TARa": row.tara,
                "correct runs": row.correct_runs,
                # As people count characters (the CSV and JSON count from 0).
                "first divergence (char)": None
                if row.first_divergence_char is None
                else row.first_divergence_char + 1,
                "first divergence (token)": row.first_divergence_token,  # counted from 1
                "mean pairwise distance": row.mean_pairwise_distance,
                "mean edit distance": row.mean_edit_distance,
            }
            for row in rows
        ],
        columns=[
            "case",
            "arm",
            "label",
            "runs",
            "failed",
            "distinct outputs",
            "modal share",
            "modal share 95% CI",
            "TARr",
            "TARa",
            "correct runs",
            "first divergence (char)",
            "first divergence (token)",
            "mean pairwise distance",
            "mean edit distance",
        ],
    )


def _header(experiment: StoredExperiment) -> None:
    summary = experiment.summary
    spec = experiment.spec
    assert isinstance(spec, SuiteSpec)
    what = "Imported outputs" if experiment.kind == "import" else "Suite"
    where = f" at {escape_markdown(summary.base_url_host)}" if summary.base_url_host else ""
    backend = (
        "outputs made elsewhere"
        if spec.provider == "import"
        else f"{escape_markdown(summary.provider)} · {escape_markdown(summary.model)}{where}"
    )
    failed = f", {summary.failed_runs} failed" if summary.failed_runs else ""
    st.markdown(
        f"#### {what} `{summary.id[:8]}` {status_badge(summary.status)}\n"
        f"{escape_markdown(shorten(spec.suite.name, 60))} · {len(spec.cases)} cases · "
        f"{backend} · {summary.created_at:%Y-%m-%d %H:%M:%S} UTC · "
        f"{count(summary.runs, 'run')}{failed}"
    )
    extractor = "none" if spec.extractor is None else spec.extractor.describe()
    st.caption(
        f"Answer extractor: {escape_markdown(extractor)} · max_tokens {spec.max_tokens} · "
        f"top_p {spec.top_p:g}"
    )


def _headline_metrics(analysis: SuiteAnalysis) -> None:
    with st.container(horizontal=True, gap="small"):
        for arm in analysis.arms:
            st.metric(
                f"TARr@{arm.n} · {shorten(arm.label, 24)}",
                share_text(arm.tarr_at_n),
                help=f"Share of the {arm.cases} counted cases whose {arm.n} runs gave one "
                f"identical text (Atil et al., 2024); 95% bootstrap interval "
                f"{interval_text(arm.tarr_at_n_ci)}. {NOT_EXCLUDED_HELP}",
                width=200,
            )


def _arm_figures(analysis: SuiteAnalysis, key: str) -> None:
    st.subheader("Per arm")
    st.dataframe(
        arms_table(analysis),
        hide_index=True,
        width="stretch",
        key=f"{key}_arms_table",
        column_config={
            name: st.column_config.NumberColumn(format="%.2f")
            for name in ("TARr@N", "TARa@N", "accuracy best", "accuracy worst", "spread")
        },
    )
    st.caption(
        "TARr@N: all N texts identical. TARa@N: all N extracted answers parseable and equal. "
        "Accuracy best: share of cases where any run is correct; worst: where all runs are; "
        "spread = best − worst. Intervals: 95% bootstrap over cases (fixed seed). "
        + NOT_EXCLUDED_HELP
    )
    if analysis.differences:
        differences = pd.DataFrame(
            [
                {
                    "arm A": d.a,
                    "arm B": d.b,
                    "cases in both": d.cases,
                    "TARr@N A − B": d.tarr_at_n_diff,
                    "95% CI (paired bootstrap)": interval_text(d.ci),
                }
                for d in analysis.differences
            ]
        )
        st.dataframe(
            differences,
            hide_index=True,
            key=f"{key}_differences",
            column_config={"TARr@N A − B": st.column_config.NumberColumn(format="%+.2f")},
        )


def _case_filters(analysis: SuiteAnalysis, key: str) -> list[CaseMetrics]:
    label_col, arm_col = st.columns([2, 1])
    present = [label for label in LABELS if any(shown_label(r) == label for r in analysis.cases)]
    labels = label_col.multiselect(
        "Labels", present, default=present, key=f"{key}_labels", help=NOT_EXCLUDED_HELP
    )
    arms = [ALL_ARMS, *(arm.label for arm in analysis.arms)]
    arm = arm_col.selectbox("Arm", arms, key=f"{key}_arm_filter")
    return [
        row
        for row in analysis.cases
        if shown_label(row) in labels and (arm == ALL_ARMS or row.arm == arm)
    ]


def _cases(analysis: SuiteAnalysis, key: str) -> str | None:
    """The cases table, worst first; returns the case chosen to open (or None)."""
    st.subheader("Cases, worst first")
    rows = worst_first(_case_filters(analysis, key))
    table = cases_table(rows)
    event = st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        key=f"{key}_cases_table",
        on_select="rerun",
        selection_mode="single-row",
        column_config={
            "modal share": st.column_config.NumberColumn(format="%.2f"),
            "mean pairwise distance": st.column_config.NumberColumn(format="%.4f"),
            "mean edit distance": st.column_config.NumberColumn(format="%.4f"),
        },
    )
    st.caption(f"{len(rows)} of {len(analysis.cases)} case × arm rows. Select a row to open it.")
    open_key = f"{key}_open_case"
    applied_key = f"{key}_applied_selection"
    selected = list(event.selection.rows) if event is not None else []
    if selected and st.session_state.get(applied_key) != selected:
        # A new row was clicked: open its case (later choices in the box below stick).
        st.session_state[applied_key] = selected
        st.session_state[open_key] = rows[selected[0]].case_id
    case_ids = list(dict.fromkeys(row.case_id for row in worst_first(analysis.cases)))
    if st.session_state.get(open_key) not in case_ids:
        st.session_state[open_key] = None
    return st.selectbox(
        "Open a case",
        case_ids,
        index=None,
        placeholder="Choose a case to see its runs side by side",
        key=open_key,
    )


def _answers(analysis: SuiteAnalysis, spec: SuiteSpec, case_id: str) -> None:
    """The extracted answer of each measured run, per arm, and the expected one."""
    if analysis.extractor is None:
        return
    case = spec.suite.case(case_id)
    expected = None if case is None else case.expected
    rows = [
        {"arm": arm, "run": position, "answer": answer}
        for (answered_case, arm), answers in analysis.answers.items()
        if answered_case == case_id
        for position, answer in enumerate(answers)
    ]
    st.caption(
        f"Answers by {analysis.extractor.describe()}; expected: "
        + ("none" if not expected else repr(expected))
    )
    st.dataframe(pd.DataFrame(rows, columns=["arm", "run", "answer"]), hide_index=True)


def _downloads(experiment: StoredExperiment, analysis: SuiteAnalysis, key: str) -> None:
    st.subheader("Download")
    summary = experiment.summary
    files = suite_export_files(
        experiment.completions,
        analysis,
        experiment_id=summary.id,
        created_at=summary.created_at,
        base_url_host=summary.base_url_host,
    )
    columns = st.columns(len(files) + 1)
    for column, (name, data) in zip(columns, files.items(), strict=False):
        column.download_button(
            name,
            data=data,
            file_name=f"seedscope-{summary.id[:8]}-{name}",
            mime="text/csv",
            key=f"{key}_download_{name}",
            on_click="ignore",
            icon=":material/download:",
            width="stretch",
        )
    with columns[-1]:
        report_button(experiment, analysis, key)


def render_suite_results(settings: Settings, experiment: StoredExperiment, *, key: str) -> None:
    """Everything about one suite or import: figures per arm, heatmap, cases, one case."""
    _header(experiment)
    render_status_banner(settings, experiment, key=key)
    if not experiment.completions:
        st.info("No runs were stored for this suite: it stopped before the first run finished.")
        return
    distances = st.toggle(
        "Embedding distances",
        value=True,
        key=f"{key}_distances",
        help="Mean pairwise cosine distance per case (embeds every distinct output once). "
        "Off: those cells stay empty; everything else is measured on the texts.",
    )
    ran_at = experiment.summary.base_url_host
    embedder_kind = choose_embedder(settings, key, ran_at) if distances else None
    try:
        analysis = suite_analysis_for(settings, experiment, embedder_kind)
    except (resources.ResourceError, EmbeddingError) as exc:
        st.error(
            escape_markdown(f"The outputs could not be embedded: {str(exc).rstrip('.')}.")
            + " Switch **Embedding distances** off to measure the texts only."
        )
        return
    _headline_metrics(analysis)
    _arm_figures(analysis, key)
    st.plotly_chart(modal_share_heatmap(analysis), width="stretch", key=f"{key}_modal_heatmap")
    chosen = _cases(analysis, key)
    _downloads(experiment, analysis, key)
    if chosen is None:
        return
    st.divider()
    spec = experiment.spec
    assert isinstance(spec, SuiteSpec)
    position = [case.id for case in spec.cases].index(chosen)
    st.markdown(f"### Case {escape_markdown(shorten(chosen, 80))}")
    _answers(analysis, spec, chosen)
    render_results(settings, experiment.case_view(chosen), key=f"{key}_case{position}")
