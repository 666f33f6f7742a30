"""The sections of a suite (or imported outputs): figures per arm, differences between arms, the
modal-share heatmap, the cases worst first, and each case's runs side by side (collapsed)."""

from __future__ import annotations

from collections.abc import Sequence

from seedscope.providers.base import Completion
from seedscope.report.definitions import CASE_MEASURES, SUITE_ARM_MEASURES
from seedscope.report.figures import Figures
from seedscope.report.html import Cell, Safe, details, element, join, paragraph, pre, section
from seedscope.report.html import table as html_table
from seedscope.report.runs import runs_side_by_side
from seedscope.suite_analysis import SuiteAnalysis, interval_text, shown_label, worst_first
from seedscope.suite_charts import modal_share_heatmap
from seedscope.suites import SuiteSpec
from seedscope.ui.text import count  # Streamlit-free, like seedscope.ui.diff


def _share(value: float | None, signed: bool = False) -> Cell:
    text = "–" if value is None else (f"{value:+.2f}" if signed else f"{value:.2f}")
    return Cell(text, value=value, class_="num")


def _count(value: int | None) -> Cell:
    return Cell("–" if value is None else str(value), value=value, class_="num")


def _definitions(definitions: dict[str, str]) -> Safe:
    return html_table(["measure", "definition"], [[k, v] for k, v in definitions.items()])


def arms_section(analysis: SuiteAnalysis) -> Safe:
    columns = [
        *("arm", "N", "cases", "excluded", "failed runs", "TARr@N", "TARr@N 95% CI"),
        *("TARa@N", "TARa@N 95% CI", "accuracy best", "accuracy worst", "spread"),
        "accuracy per run",
    ]
    rows = [
        [
            arm.label,
            _count(arm.n),
            _count(arm.cases),
            _count(arm.cases_excluded),
            _count(arm.failed_runs),
            _share(arm.tarr_at_n),
            interval_text(arm.tarr_at_n_ci),
            _share(arm.tara_at_n),
            interval_text(arm.tara_at_n_ci),
            _share(arm.accuracy_best),
            _share(arm.accuracy_worst),
            _share(arm.accuracy_spread),
            "–"
            if arm.accuracy_per_run is None
            else ", ".join(f"{value:.2f}" for value in arm.accuracy_per_run),
        ]
        for arm in analysis.arms
    ]
    parts = [html_table(columns, rows, anchor="suite-arms")]
    if analysis.differences:
        diff_rows = [
            [d.a, d.b, _count(d.cases), _share(d.tarr_at_n_diff, signed=True), interval_text(d.ci)]
            for d in analysis.differences
        ]
        parts.append(element("h3", "Differences between arms"))
        parts.append(
            html_table(
                ["arm A", "arm B", "cases in both", "TARr@N A - B", "95% CI (paired bootstrap)"],
                diff_rows,
                anchor="suite-differences",
            )
        )
    parts.append(_definitions(SUITE_ARM_MEASURES))
    return section("suite-arms-section", "Per arm", *parts)


def cases_section(analysis: SuiteAnalysis, figures: Figures) -> Safe:
    columns = [
        *("case", "arm", "label", "runs", "failed", "distinct outputs", "modal share"),
        *("modal share 95% CI", "TARr", "TARa", "correct runs", "first divergence (char)"),
        *("first divergence (token)", "mean pairwise distance", "mean edit distance"),
    ]
    rows = [
        [
            row.case_id,
            row.arm,
            shown_label(row),
            _count(row.runs),
            _count(row.failed_runs),
            _count(row.distinct_outputs),
            _share(row.modal_share),
            interval_text(row.modal_share_ci),
            _count(row.tarr),
            _count(row.tara),
            _count(row.correct_runs),
            _count(None if row.first_divergence_char is None else row.first_divergence_char + 1),
            _count(row.first_divergence_token),  # already counted from 1
            _distance(row.mean_pairwise_distance),
            _distance(row.mean_edit_distance),
        ]
        for row in worst_first(analysis.cases)
    ]
    return section(
        "cases",
        "Cases, worst first",
        figures.add(modal_share_heatmap(analysis)),
        html_table(columns, rows, anchor="suite-cases"),
        _definitions(CASE_MEASURES),
    )


def _distance(value: float | None) -> Cell:
    return Cell("–" if value is None else f"{value:.4f}", value=value, class_="num")


def case_runs_section(spec: SuiteSpec, completions: Sequence[Completion]) -> Safe:
    """Each case's request and its runs x arms, one collapsed block per case."""
    labels = [arm.label for arm in spec.arms]
    by_case: dict[str, list[Completion]] = {}
    for run in completions:
        by_case.setdefault(run.case_id or "", []).append(run)
    extractor = spec.extractor
    blocks = []
    for case in spec.cases:
        runs = by_case.get(case.id, [])
        answers = None
        if extractor is not None:
            answers = {id(run): extractor.extract(run.text) for run in runs if run.ok}
        request = (
            paragraph("System message", class_="meta")
            + pre(spec.system_for(case) or "(none)")
            + paragraph("Prompt", class_="meta")
            + pre(case.prompt)
        )
        if case.expected:
            request += paragraph("Expected answer: ", element("code", case.expected))
        body = request + (
            runs_side_by_side(labels, runs, answers=answers)
            if runs
            else paragraph("No runs stored.", class_="muted")
        )
        blocks.append(details(f"Case {case.id} · {count(len(runs), 'run')}", body))
    return section(
        "case-runs",
        "Runs by case",
        paragraph("Each case's request and its runs side by side (run N of every arm across)."),
        join(blocks),
    )
