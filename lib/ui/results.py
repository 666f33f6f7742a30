"""The results view of one stored experiment, shared by Compare and History.

Completions come from the store and the analysis is cached by experiment id (and its run count
and status), so a display control — colour scale, which runs to diff — redraws from the cached
analysis: nothing is generated or embedded again.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from seedscope.analysis import ArmAnalysis, ExperimentAnalysis, analyze
from seedscope.charts import arms_heatmaps, distance_distribution, distinct_output_frequency
from seedscope.embeddings import LOCAL_EMBEDDING_MODEL, EmbeddingError
from seedscope.export import distances_csv, metrics_csv, runs_csv
from seedscope.providers.base import Completion
from seedscope.runner import plan_requests
from seedscope.settings import Settings
from seedscope.store import StoredExperiment
from seedscope.suite_analysis import SuiteAnalysis
from seedscope.ui import resources
from seedscope.ui.diff import diff_as_code, first_difference, word_diff
from seedscope.ui.status_banner import render_status_banner, status_badge
from seedscope.ui.text import (
    code_span,
    count,
    escape_markdown,
    file_name_part,
    fingerprint_markdown,
    format_distance,
    format_latency,
    format_seed,
    format_share,
    shorten,
)
from seedscope.ui.token_view import has_tokens, render_fork, render_token_view
from streamlit.delta_generator import DeltaGenerator

COLOR_SCALES = ("Viridis", "Cividis", "Blues", "Magma", "Plasma", "Greys")
ARMS_PER_ROW = 2
METRIC_WIDTH = 180  # px: the longest measure label and its help icon fit on one line
SCROLL_AFTER_RUNS = 3  # more runs than this per arm go into a scrolling box
LAYOUTS = {"cards": "Per arm", "aligned": "Aligned by run"}


@st.cache_data(max_entries=64, show_spinner="Embedding the outputs and measuring…")
def _cached_analysis(
    experiment_id: str,
    case_id: str | None,
    run_count: int,
    status: str,
    embedder_id: str,
    arm_order: tuple[str, ...],
    _completions: list[Completion],
    _embedder: object,
) -> ExperimentAnalysis:
    # The key is (experiment id, suite case, run count, status, embedder id, arm order); the
    # completions and the embedder themselves are not hashed (underscore arguments).
    return analyze(_completions, _embedder, arm_order=list(arm_order))  # type: ignore[arg-type]


def analysis_for(
    settings: Settings, experiment: StoredExperiment, embedder_kind: str = "local"
) -> ExperimentAnalysis:
    """The cached analysis of a stored experiment (raises ResourceError / EmbeddingError)."""
    embedder = resources.embedder(settings, embedder_kind)
    return _cached_analysis(
        experiment.summary.id,
        experiment.case_id,
        len(experiment.completions),
        experiment.summary.status,
        embedder.id,
        tuple(arm.label for arm in experiment.spec.arms),
        experiment.completions,
        embedder,
    )


def render_results(settings: Settings, experiment: StoredExperiment, *, key: str) -> None:
    """Everything about one experiment, or one case of a suite (StoredExperiment.case_view):
    arms side by side, charts, diff, downloads."""
    _header(experiment)
    if experiment.case_id is None:  # a suite's status is said above its cases
        render_status_banner(settings, experiment, key=key)
    if not experiment.completions:
        st.info(
            "No runs were stored for this experiment: it stopped before the first run "
            "finished. Run it again from the Compare page."
        )
        return
    embedder_kind = choose_embedder(settings, key, experiment.summary.base_url_host)
    try:
        analysis = analysis_for(settings, experiment, embedder_kind)
    except (resources.ResourceError, EmbeddingError) as exc:
        reason = str(exc).rstrip(".")
        fix = (
            f" Choose the embedded {LOCAL_EMBEDDING_MODEL} above instead."
            if embedder_kind == "openai"
            else ""
        )
        st.error(escape_markdown(f"The outputs could not be measured: {reason}.{fix}"))
        analysis = None
    if analysis is None:
        _arms_without_measures(settings, experiment, key)
        return
    _between_arms(analysis)
    _arms_side_by_side(settings, experiment, analysis, key)
    _charts(analysis, key)
    _diff_view(analysis, key)
    _downloads(experiment, analysis, key)


def choose_embedder(settings: Settings, key: str, ran_at: str | None = None) -> str:
    """The embedded MiniLM measures distances, unless the user picks the configured OpenAI(-
    compatible) embeddings: offered only where the remote backend is configured and allowed,
    and only for outputs that came from that same server or were made here (`ran_at`: the host
    the experiment ran at, None for the embedded model or an import), so outputs of one
    server are never sent to another."""
    if not (settings.openai_configured and "openai" in settings.allowed_providers):
        return "local"
    host = settings.base_url_host or "api.openai.com"
    if ran_at is not None and ran_at != host:
        st.caption(
            f"Distances: {LOCAL_EMBEDDING_MODEL} (embedded). This experiment ran at "
            f"{escape_markdown(ran_at)}; the configured embeddings at {escape_markdown(host)} "
            "are offered only for outputs of that server."
        )
        return "local"
    labels = {
        "local": f"{LOCAL_EMBEDDING_MODEL} (embedded, free)",
        "openai": f"{settings.openai_embedding_model} at {host}",
    }
    choice = st.radio(
        "Measure distances with",
        list(labels),
        format_func=labels.__getitem__,
        horizontal=True,
        key=f"{key}_embedder",
        help="Cosine distances only compare within one embedding model. Vectors are cached: "
        "switching back and forth embeds each text once per model.",
    )
    return choice or "local"


def _header(experiment: StoredExperiment) -> None:
    summary = experiment.summary
    spec = experiment.spec
    where = f" at {escape_markdown(summary.base_url_host)}" if summary.base_url_host else ""
    st.markdown(
        f"#### Experiment `{summary.id[:8]}` {status_badge(summary.status)}\n"
        f"{escape_markdown(summary.provider)} · {escape_markdown(summary.model)}"
        f"{where} · {summary.created_at:%Y-%m-%d %H:%M:%S} UTC · {count(summary.runs, 'run')}"
        + (f", {summary.failed_runs} failed" if summary.failed_runs else "")
    )
    with st.expander("Request"):
        st.caption("System message")
        st.text(spec.system or "(none)")
        st.caption("Prompt")
        st.text(spec.prompt)
        st.caption(f"max_tokens {spec.max_tokens} · top_p {spec.top_p:g}")


def _between_arms(analysis: ExperimentAnalysis) -> None:
    pairs = analysis.between_arms
    if not pairs:
        return
    help_text = "Mean cosine distance over every pair of runs across the two arms."
    if len(pairs) == 1:
        first, second, distance = pairs[0]
        st.metric(
            f"Mean distance {escape_markdown(first)} vs {escape_markdown(second)}",
            format_distance(distance),
            help=help_text,
        )
        return
    st.caption("Mean cosine distance between arms, over every cross-arm pair of runs.")
    table = pd.DataFrame([{"arm A": a, "arm B": b, "mean cosine distance": d} for a, b, d in pairs])
    st.dataframe(
        table,
        hide_index=True,
        column_config={"mean cosine distance": st.column_config.NumberColumn(format="%.4f")},
    )


def word_position(index: int | None) -> str:
    """A 0-based word index as people count words ("word 1" is the first word)."""
    return "none" if index is None else f"word {index + 1}"


def finish_text(reason: str | None) -> str:
    """Why a run stopped, in words: "length" means max_tokens cut it short."""
    if not reason:
        return ""
    if reason == "length":
        return " · cut at max_tokens"
    if reason == "stop":
        return " · finished"
    return f" · finish reason {escape_markdown(reason)}"


def _divergence_text(arm: ArmAnalysis) -> str:
    metrics = arm.metrics
    if len(arm.ok) < 2:
        return "–"
    if metrics.first_divergence_char is None:
        return "none"
    return word_position(metrics.first_divergence_word)


TOKEN_DIVERGENCE_HELP = (
    "Earliest generated token where any run differs from the arm's first run with tokens, "
    'counted from 1 (as the Thinking Machines study counts: "token 103"). '
    "—: all runs generated the same tokens, or the backend reported no tokens."
)
KNIFE_EDGE_HELP = (
    "Share of generated positions, over all runs, whose top-1 minus top-2 logprob margin is "
    "under 0.01: near-ties, where a tiny numeric difference can flip the chosen token."
)


def token_position_text(arm: ArmAnalysis) -> str:
    """The measure's value: "token N" where the arm's runs first differ in tokens (from 1),
    "—" when they agree or their tokens are not known."""
    position = arm.metrics.first_divergence_token
    return "—" if position is None else f"token {position}"


def knife_edge_text(share: float) -> str:
    """A percent with one decimal: knife-edge shares are often well under 1%."""
    return f"{share:.1%}"


def _arm_metrics(arm: ArmAnalysis) -> None:
    """The headline measures, in a row that wraps: each keeps a width its label fits in, so as
    many sit side by side as the arm's column allows (two on a wide screen, one on a laptop
    with the sidebar open) and no label is cut short."""
    m = arm.metrics
    ok = len(arm.ok)
    divergence_help = (
        "Earliest word where any run differs from run 0, counted from 1"
        + (
            f" (character {m.first_divergence_char + 1})."
            if m.first_divergence_char is not None
            else "."
        )
        + " The metrics CSV counts from 0."
    )
    measures = (
        (
            "Distinct outputs",
            f"{m.distinct_outputs}/{ok}",
            "How many different texts the successful runs produced (1/N: fully repeatable).",
        ),
        (
            "Notebook mean distance",
            format_distance(m.mean_distance_first_vs_rest),
            "Mean cosine distance from run 0 to each other run (the OpenAI cookbook's measure).",
        ),
        (
            "Mean pairwise distance",
            format_distance(m.mean_pairwise_distance),
            "Mean cosine distance over all pairs of runs.",
        ),
        (
            "Exact-match rate",
            format_share(m.exact_match_rate),
            "Share of the other runs (1..N-1) whose text is identical to run 0.",
        ),
        ("First divergence", _divergence_text(arm), divergence_help),
        ("First divergence (token)", token_position_text(arm), TOKEN_DIVERGENCE_HELP),
        (
            f"TARr@{ok}",
            "–" if m.tarr is None else str(m.tarr),
            "1 when all runs are identical strings, else 0 (Atil et al., 2024).",
        ),
    )
    if m.knife_edge_share is not None:
        measures += (("Knife-edge tokens", knife_edge_text(m.knife_edge_share), KNIFE_EDGE_HELP),)
    with st.container(horizontal=True, gap="small"):
        for label, value, help_text in measures:
            st.metric(label, value, help=help_text, width=METRIC_WIDTH)
    render_fork(arm.fork)
    if m.failed_runs:
        st.caption(f":red[{count(m.failed_runs, 'failed run')}] (listed below, not measured)")


def _arm_heading(experiment: StoredExperiment, label: str) -> None:
    arm = next((a for a in experiment.spec.arms if a.label == label), None)
    st.markdown(f"##### {escape_markdown(label)}")
    if arm is not None:
        stored = sum(1 for c in experiment.completions if c.arm_label == label)
        runs = count(arm.runs, "run")
        if stored != arm.runs:
            runs = f"{stored} of {runs} stored"
        st.caption(f"seed {format_seed(arm.seed)} · temperature {arm.temperature:g} · {runs}")


def arm_columns(count: int) -> list[DeltaGenerator]:
    """One column per arm, at most ARMS_PER_ROW to a row: four arms in one row leave each
    about 120 px on a laptop, too narrow for the measures; the 2x2 grid reads as its grid
    (a row per temperature, seedless and seeded side by side)."""
    columns: list[DeltaGenerator] = []
    for start in range(0, count, ARMS_PER_ROW):
        columns.extend(st.columns(ARMS_PER_ROW, gap="medium")[: count - start])
    return columns


def _arms_side_by_side(
    settings: Settings, experiment: StoredExperiment, analysis: ExperimentAnalysis, key: str
) -> None:
    st.subheader("Arms side by side")
    layout = st.segmented_control(
        "Runs shown",
        list(LAYOUTS),
        format_func=LAYOUTS.__getitem__,
        default="cards",
        key=f"{key}_layout",
        help="Aligned: one row per run index, run N of every arm side by side.",
    )
    columns = arm_columns(len(analysis.arms))
    for index, (column, arm) in enumerate(zip(columns, analysis.arms, strict=True)):
        with column:
            _arm_heading(experiment, arm.label)
            _arm_metrics(arm)
            if has_tokens(arm):
                with st.expander("Tokens"):
                    render_token_view(arm, key=f"{key}_tokens_{index}")
            if layout != "aligned":
                _run_cards(settings, experiment, arm.completions, key)
    if layout == "aligned":
        st.dataframe(runs_aligned(experiment), width="stretch")


def runs_aligned(experiment: StoredExperiment) -> pd.DataFrame:
    """One row per run index, one column per arm (spec order): run N of every arm on one row.
    A failed run shows its error; a run an arm does not have is empty."""
    labels = [arm.label for arm in experiment.spec.arms]
    cells: dict[int, dict[str, str]] = {}
    for c in experiment.completions:
        text = c.text if c.ok else f"FAILED {c.error_type}: {c.error_message or ''}"
        cells.setdefault(c.run_index, {})[c.arm_label] = text
    # The run index is the frame's index, so no arm label can collide with its column.
    runs = sorted(cells)
    frame = pd.DataFrame([cells[index] for index in runs], index=runs, columns=labels)
    frame.index.name = "run"
    return frame


def _arms_without_measures(settings: Settings, experiment: StoredExperiment, key: str) -> None:
    labels = [arm.label for arm in experiment.spec.arms]
    for column, label in zip(arm_columns(len(labels)), labels, strict=True):
        with column:
            _arm_heading(experiment, label)
            runs = [c for c in experiment.completions if c.arm_label == label]
            _run_cards(settings, experiment, runs, key)


def _run_cards(
    settings: Settings, experiment: StoredExperiment, runs: list[Completion], key: str
) -> None:
    if not runs:
        st.caption("No runs stored for this arm.")
        return
    box = st.container(height=560) if len(runs) > SCROLL_AFTER_RUNS else st.container()
    with box:
        for completion in runs:
            _run_card(settings, experiment, completion, key)


def _run_card(
    settings: Settings, experiment: StoredExperiment, completion: Completion, key: str
) -> None:
    c = completion
    with st.container(border=True):
        prompt_tokens = c.prompt_tokens if c.prompt_tokens is not None else "–"
        completion_tokens = c.completion_tokens if c.completion_tokens is not None else "–"
        tokens = f"{prompt_tokens} prompt + {completion_tokens} completion tokens"
        st.caption(
            f"**Run {c.run_index}** · effective seed {format_seed(c.effective_seed)} · "
            f"{tokens} · {format_latency(c.latency_s)}" + finish_text(c.finish_reason)
        )
        st.caption(f"Fingerprint: {fingerprint_markdown(c.system_fingerprint)}")
        if not c.ok:
            st.caption(":red[Failed]")
            st.text(f"{c.error_type}: {c.error_message or ''}")
            return
        if c.text:
            st.code(c.text, language=None, wrap_lines=True)
        else:
            st.caption("(empty output)")
        if c.provider == "local" and c.effective_seed is not None:
            _replay(settings, experiment, c, key)


def _replay(
    settings: Settings, experiment: StoredExperiment, completion: Completion, key: str
) -> None:
    """Run an embedded-model completion again with its effective seed and compare the text."""
    replay_key = (
        f"replay:{experiment.summary.id}:{completion.case_id}:{completion.arm_label}:"
        f"{completion.run_index}"
    )
    clicked = st.button(
        "Replay this run",
        key=f"{key}_{replay_key}",
        icon=":material/replay:",
        help="Generate again with the same effective seed and parameters.",
    )
    if clicked:
        try:
            provider = resources.local_provider(settings)
        except resources.ResourceError as exc:
            st.error(str(exc))
            return
        # The very request the runner sent for this run; replay() takes the seed it used.
        run = (completion.arm_label, completion.run_index)
        request = next(
            r for r in plan_requests(experiment.spec) if (r.arm_label, r.run_index) == run
        )
        with st.spinner("Replaying…"):
            again = provider.replay(completion, request)
        st.session_state[replay_key] = (again, provider.fingerprint)
    stored = st.session_state.get(replay_key)
    if stored is None:
        return
    again, fingerprint = stored
    if not again.ok:
        st.error(f"Replay failed: {again.error_type}")
        st.text(again.error_message or "")
    elif again.text == completion.text:
        st.success("Replay reproduced the text exactly.", icon=":material/check_circle:")
    else:
        st.warning("Replay produced a different text:", icon=":material/warning:")
        st.code(again.text, language=None, wrap_lines=True)
    if fingerprint != completion.system_fingerprint:
        st.caption(
            "The embedded model now loads with different settings than this run had "
            f"(fingerprint {fingerprint_markdown(fingerprint)}), which can change the text."
        )


def _charts(analysis: ExperimentAnalysis, key: str) -> None:
    st.subheader("Distances")
    if analysis.embedder_id:
        st.caption(f"Cosine distances between embeddings from {code_span(analysis.embedder_id)}.")
    scale_col, _ = st.columns([1, 3])
    scale = scale_col.selectbox(
        "Colour scale", COLOR_SCALES, key=f"{key}_colorscale", help="Display only: nothing reruns."
    )
    for index, figure in enumerate(heatmap_figures(analysis, scale)):
        st.plotly_chart(figure, width="stretch", key=f"{key}_heatmaps_{index}", theme="streamlit")
    left, right = st.columns(2)
    left.plotly_chart(distance_distribution(analysis), width="stretch", key=f"{key}_distribution")
    right.plotly_chart(distinct_output_frequency(analysis), width="stretch", key=f"{key}_frequency")


def heatmap_figures(analysis: ExperimentAnalysis, colorscale: str) -> list[go.Figure]:
    """The arms' heatmaps, ARMS_PER_ROW arms to a figure like the arms above them (four side by
    side are too narrow to read on a laptop), all on one colour scale: every figure's colour
    axis runs from 0 to the largest distance in any arm, so the arms still compare honestly."""
    measured = [float(arm.distances.max()) for arm in analysis.arms if arm.distances.size]
    ceiling = max(measured, default=0.0) or 1.0  # all zeros: an honest 0..1 scale
    figures = []
    for start in range(0, len(analysis.arms), ARMS_PER_ROW):
        part = ExperimentAnalysis(
            analysis.arms[start : start + ARMS_PER_ROW],
            between_arms=[],
            embedder_id=analysis.embedder_id,
        )
        figure = arms_heatmaps(part, colorscale=colorscale)
        figure.update_layout(coloraxis_cmax=ceiling)
        if start:  # the first figure's title covers them all; no room kept for another
            figure.update_layout(title=None, margin={"t": 40})
        figures.append(figure)
    return figures


def _run_choice(analysis: ExperimentAnalysis) -> list[tuple[str, int]]:
    return [(arm.label, c.run_index) for arm in analysis.arms for c in arm.ok]


def _diff_view(analysis: ExperimentAnalysis, key: str) -> None:
    st.subheader("Compare two runs word by word")
    choices = _run_choice(analysis)
    if len(choices) < 2:
        st.caption("At least two successful runs are needed for a diff.")
        return
    texts = {(arm.label, c.run_index): c.text for arm in analysis.arms for c in arm.ok}
    left, right = st.columns(2)
    first = left.selectbox(
        "Run A", choices, index=0, key=f"{key}_diff_a", format_func=lambda k: f"{k[0]} · run {k[1]}"
    )
    second = right.selectbox(
        "Run B", choices, index=1, key=f"{key}_diff_b", format_func=lambda k: f"{k[0]} · run {k[1]}"
    )
    diff = word_diff(texts[first], texts[second])
    if diff.identical_text:
        st.success("The two runs are identical.")
        return
    if diff.whitespace_only:
        st.info("The two runs differ only in spacing or line breaks.")
        return
    word_a, word_b = first_difference(diff)
    st.markdown(
        f"First divergence at **{word_position(diff.first_divergence_word)}** (counted in both "
        f"runs, as the arms' measure counts): {_quoted(word_a)} in run A, {_quoted(word_b)} in "
        "run B. In the diff below, lines with `-` are only in run A, lines with `+` only in run B."
    )
    st.code(diff_as_code(diff), language="diff", wrap_lines=True)


def _quoted(word: str) -> str:
    """A word of model output inside Markdown: as inline code (shown literally), or "nothing"
    where a run has none (it ended before)."""
    return code_span(shorten(word, 40)) if word else "nothing (it ends before)"


def _downloads(experiment: StoredExperiment, analysis: ExperimentAnalysis, key: str) -> None:
    st.subheader("Download")
    summary = experiment.summary
    short = summary.id[:8]
    if experiment.case_id is not None:
        short += "-case-" + file_name_part(experiment.case_id)
    files = (
        (
            "Runs CSV",
            f"seedscope-{short}-runs.csv",
            runs_csv(
                experiment.completions,
                experiment_id=summary.id,
                created_at=summary.created_at,
                base_url_host=summary.base_url_host,
            ),
        ),
        (
            "Metrics CSV",
            f"seedscope-{short}-metrics.csv",
            metrics_csv(analysis, experiment_id=summary.id),
        ),
        (
            "Distances CSV",
            f"seedscope-{short}-distances.csv",
            distances_csv(analysis, experiment_id=summary.id),
        ),
    )
    columns = st.columns(len(files) + 1)
    for column, (label, name, data) in zip(columns, files, strict=False):
        column.download_button(
            label,
            data=data,
            file_name=name,
            mime="text/csv",
            key=f"{key}_download_{name}",
            on_click="ignore",
            icon=":material/download:",
            width="stretch",
        )
    with columns[-1]:
        report_button(experiment, analysis, key)


def report_button(
    experiment: StoredExperiment, analysis: ExperimentAnalysis | SuiteAnalysis, key: str
) -> None:
    """The self-contained HTML report, built from this analysis only when clicked (building
    it embeds nothing, but takes about a second for a large experiment)."""
    from seedscope.report import render_report, report_file_name

    st.download_button(
        "Report (HTML)",
        data=lambda: render_report(experiment, analysis=analysis),
        file_name=report_file_name(experiment),
        mime="text/html",
        key=f"{key}_download_report",
        on_click="ignore",
        icon=":material/download:",
        width="stretch",
        help="One file for stakeholders: every measure, the charts, the completions and a "
        "manifest to run it again; opens offline.",
    )
