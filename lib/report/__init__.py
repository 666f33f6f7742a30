"""A stored experiment, suite, import or suite case as one self-contained HTML file.

    html = render_report(experiment, embedder=embedder)          # analyses it here
    html = render_report(experiment, analysis=cached_analysis)   # reuses a page's analysis

The file inlines plotly.js once and loads nothing: no CDN, font, image or MathJax (a
Content-Security-Policy forbids every fetch besides). All model output, prompts, labels, case
ids and fingerprints are escaped; only the stored host of a remote backend is shown, never a
URL or a key. See `seedscope.report.html` for the escaping rules.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from seedscope.analysis import ExperimentAnalysis, analyze
from seedscope.report.experiment import (
    charts_section,
    completions_section,
    diff_section,
    measures_section,
)
from seedscope.report.figures import INIT_SCRIPT, Figures, plotly_js
from seedscope.report.html import Safe, element, join, page, paragraph, pre, section, table
from seedscope.report.manifest import build_manifest, seedscope_version
from seedscope.report.runs import backends_table, fingerprints_table, raw_runs
from seedscope.report.suite import arms_section, case_runs_section, cases_section
from seedscope.spec import ExperimentSpec
from seedscope.suite_analysis import SuiteAnalysis, analyze_suite_spec
from seedscope.suites import IMPORT_PROVIDER, SuiteSpec
from seedscope.ui.text import count  # Streamlit-free, like seedscope.ui.diff

if TYPE_CHECKING:  # the store pulls in SQLAlchemy; rendering needs only the records
    from seedscope.embeddings import Embedder
    from seedscope.store.records import StoredExperiment

__all__ = ["render_report", "report_file_name"]


def render_report(
    experiment: StoredExperiment,
    *,
    embedder: Embedder | None = None,
    analysis: ExperimentAnalysis | SuiteAnalysis | None = None,
    generated_at: datetime | None = None,
) -> str:
    """The report of `experiment` (a suite case too: `StoredExperiment.case_view`) as HTML text.

    Give `analysis` to reuse one already computed for this experiment (nothing is embedded
    again), else `embedder` measures the distances here. A suite may have neither: its cosine
    measures are then left empty. A plain experiment needs one of the two (its measures are
    built on the distances). Raises EmbeddingError when the embedder fails.
    """
    spec = experiment.spec
    figures = Figures()
    if isinstance(spec, SuiteSpec):
        suite = (
            analysis
            if analysis is not None
            else analyze_suite_spec(spec, experiment.completions, embedder)
        )
        if not isinstance(suite, SuiteAnalysis):
            raise TypeError("a suite's report needs a SuiteAnalysis")
        body = [
            arms_section(suite),
            cases_section(suite, figures),
            case_runs_section(spec, experiment.completions),
        ]
        embedder_id = suite.embedder_id
    else:
        if analysis is None:
            if embedder is None:
                raise ValueError("a plain experiment's report needs an embedder or its analysis")
            analysis = analyze(experiment.completions, embedder, [a.label for a in spec.arms])
        if not isinstance(analysis, ExperimentAnalysis):
            raise TypeError("a plain experiment's report needs an ExperimentAnalysis")
        body = [
            measures_section(spec, analysis),
            charts_section(analysis, figures),
            completions_section(analysis),
            diff_section(analysis),
        ]
        embedder_id = analysis.embedder_id
    generated = generated_at or datetime.now(UTC)
    sections = [
        _request_section(experiment),
        _backend_section(experiment),
        *body,
        _manifest_section(experiment, embedder_id, generated),
        section("raw-runs", "Raw runs", raw_runs(experiment.completions)),
    ]
    content = _title_block(experiment, generated) + _contents(sections) + join(sections)
    return page(
        f"Seedscope report · {_what(experiment)} {experiment.id[:8]}",
        element("main", content),
        plotly_js=plotly_js(),
        figures_json=figures.to_json(),
        init_script=INIT_SCRIPT,
    )


_UNSAFE_IN_FILE_NAMES = re.compile(r"[^A-Za-z0-9._-]+")


def report_file_name(experiment: StoredExperiment) -> str:
    """`seedscope-<id8>[-case-<case>]-report.html`, safe as a download's file name."""
    name = f"seedscope-{experiment.id[:8]}"
    if experiment.case_id is not None:
        case = _UNSAFE_IN_FILE_NAMES.sub("_", experiment.case_id).strip("._")[:40] or "case"
        name += f"-case-{case}"
    return f"{name}-report.html"


def _what(experiment: StoredExperiment) -> str:
    if experiment.case_id is not None:
        return "suite case"
    return {"suite": "suite", "import": "imported outputs"}.get(experiment.kind, "experiment")


def _title_block(experiment: StoredExperiment, generated: datetime) -> Safe:
    summary = experiment.summary
    title = f"Seedscope report: {_what(experiment)} {summary.id[:8]}"
    if experiment.case_id is not None:
        title += f", case {experiment.case_id}"
    failed = f", {summary.failed_runs} failed" if summary.failed_runs else ""
    parts = [
        element("h1", title),
        paragraph(
            f"Experiment {summary.id} · created {summary.created_at:%Y-%m-%d %H:%M:%S} UTC · "
            f"status {summary.status} · {count(summary.runs, 'run')}{failed} · report generated "
            f"{generated:%Y-%m-%d %H:%M:%S} UTC",
            class_="muted",
        ),
    ]
    if summary.status != "complete":
        parts.append(
            paragraph(
                f"This experiment is {summary.status}: the figures cover only the runs stored.",
                class_="warn",
            )
        )
    return join(parts)


def _contents(sections: list[Safe]) -> Safe:
    """A list of links to the sections (in-page anchors only)."""
    found = re.findall(r'<section id="([^"]+)"><h2>(.*?)</h2>', "".join(sections))
    items = join(Safe(f'<li><a href="#{anchor}">{title}</a></li>') for anchor, title in found)
    return element("nav", element("ul", items))


def _arms_table(spec: ExperimentSpec | SuiteSpec) -> Safe:
    rows = [
        [arm.label, "none" if arm.seed is None else str(arm.seed), f"{arm.temperature:g}", arm.runs]
        for arm in spec.arms
    ]
    return table(["arm", "seed", "temperature", "runs"], rows, anchor="arms")


def _request_section(experiment: StoredExperiment) -> Safe:
    spec = experiment.spec
    settings = f"max_tokens {spec.max_tokens} · top_p {spec.top_p:g}"
    if isinstance(spec, SuiteSpec):
        extractor = "none" if spec.extractor is None else spec.extractor.describe()
        parts = [
            paragraph(f"Suite {spec.suite.name} · {len(spec.cases)} cases · {settings}"),
            paragraph(f"Answer extractor: {extractor}"),
            paragraph("System message of cases without their own", class_="meta"),
            pre(spec.system or "(none)"),
        ]
    else:
        parts = [
            paragraph(settings),
            paragraph("System message", class_="meta"),
            pre(spec.system or "(none)"),
            paragraph("Prompt", class_="meta"),
            pre(spec.prompt),
        ]
    return section("request", "Request and arms", *parts, _arms_table(spec))


def _backend_section(experiment: StoredExperiment) -> Safe:
    summary = experiment.summary
    if experiment.spec.provider == IMPORT_PROVIDER:
        backend = paragraph("Imported outputs: made elsewhere, not generated by Seedscope.")
    else:
        host = summary.base_url_host or ("embedded model" if summary.provider == "local" else "–")
        backend = paragraph(f"Backend {summary.provider} · model {summary.model} · host {host}")
    return section(
        "backend",
        "Backend and fingerprints",
        backend,
        backends_table(experiment.completions, summary.base_url_host),
        element("h3", "System fingerprints seen"),
        paragraph(
            "As each successful run reported it; not reported: the backend gave none.",
            class_="muted",
        ),
        fingerprints_table(experiment.completions),
    )


def _manifest_section(
    experiment: StoredExperiment, embedder_id: str | None, generated: datetime
) -> Safe:
    manifest = build_manifest(experiment.spec, experiment.summary.base_url_host)
    facts = [
        ["Seedscope version", seedscope_version()],
        ["experiment id", experiment.id],
        ["kind", experiment.kind + ("" if experiment.case_id is None else " (one case)")],
        ["embedder", embedder_id or "none (no embedding distances)"],
        ["generated", f"{generated:%Y-%m-%d %H:%M:%S} UTC"],
    ]
    parts = [table(["field", "value"], facts, anchor="manifest-facts")]
    if manifest.command is not None:
        parts += [element("h3", "Run it again"), pre(manifest.command, class_="command")]
    parts += [paragraph(note) for note in manifest.notes]
    if manifest.cases_file is not None:
        parts += [
            paragraph(f"Save the cases as {manifest.cases_file}:", class_="meta"),
            pre(manifest.cases_text or "", class_="cases-file"),
        ]
    label = "spec.json (save it next to the command)" if manifest.command else "spec.json"
    if isinstance(experiment.spec, SuiteSpec):
        label = "The suite's spec as JSON (what the store keeps)"
    parts += [paragraph(label, class_="meta"), pre(manifest.spec_json, class_="spec-json")]
    return section("manifest", "Manifest", *parts)
