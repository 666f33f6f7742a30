"""The sections of a plain experiment (or one case of a suite): measures per arm with their
definitions, distances between arms, the charts, completions side by side and the diffs."""

from __future__ import annotations

from seedscope.analysis import ArmAnalysis, ExperimentAnalysis
from seedscope.charts import arm_heatmap, distance_distribution, distinct_output_frequency
from seedscope.report.definitions import ARM_MEASURES, BETWEEN_ARMS
from seedscope.report.figures import Figures
from seedscope.report.html import Cell, Safe, element, join, paragraph, section, table
from seedscope.report.runs import arm_diff, runs_side_by_side
from seedscope.spec import ExperimentSpec


def _number(value: float | None, digits: int) -> Cell:
    text = "–" if value is None else f"{value:.{digits}f}"
    return Cell(text, value=value, class_="num")


def _from_one(index: int | None, measured: bool) -> Cell:
    if not measured:
        return Cell("–", class_="num")
    if index is None:
        return Cell("none", class_="num")
    return Cell(str(index + 1), value=index + 1, class_="num")


def _measure_values(arm: ArmAnalysis, planned: int | None) -> dict[str, Cell]:
    m = arm.metrics
    ok = len(arm.ok)
    divergence = ok >= 2
    runs = str(m.runs) if planned is None or planned == m.runs else f"{m.runs} of {planned}"
    return {
        "Runs": Cell(runs, value=m.runs, class_="num"),
        "Failed runs": Cell(str(m.failed_runs), value=m.failed_runs, class_="num"),
        "Distinct outputs": Cell(f"{m.distinct_outputs}/{ok}", value=m.distinct_outputs),
        "Modal share": _number(m.modal_share, 2),
        "Exact-match rate": _number(m.exact_match_rate, 2),
        "TARr@N": Cell(
            "–" if m.tarr is None else f"{m.tarr} (N = {ok})", value=m.tarr, class_="num"
        ),
        "Notebook mean distance": _number(m.mean_distance_first_vs_rest, 4),
        "Mean pairwise distance": _number(m.mean_pairwise_distance, 4),
        "Median pairwise distance": _number(m.median_pairwise_distance, 4),
        "Max pairwise distance": _number(m.max_pairwise_distance, 4),
        "First divergence (word)": _from_one(m.first_divergence_word, divergence),
        "First divergence (character)": _from_one(m.first_divergence_char, divergence),
        "Mean edit distance": _number(m.mean_edit_distance, 4),
        "First divergence (token)": _token_position(arm),
        "Fork": _fork(arm),
        "Knife-edge tokens": _number(m.knife_edge_share, 2),
    }


def _token_position(arm: ArmAnalysis) -> Cell:
    if arm.token_divergences is None or len(arm.token_divergences) < 1:
        return Cell("–", class_="num")  # fewer than two runs with tokens
    position = arm.metrics.first_divergence_token
    return Cell("none" if position is None else str(position), value=position, class_="num")


def _fork(arm: ArmAnalysis) -> Cell:
    """The fork's tokens as repr() text (whitespace visible; the cell is escaped like all)."""
    fork = arm.fork
    if fork is None:
        return Cell("–")

    def side(run: int, token: str | None, logprob: float | None) -> str:
        shown = "(ended)" if token is None else repr(token)
        return f"run {run}: {shown}" + ("" if logprob is None else f" ({logprob:.3f})")

    text = f"{side(fork.run_a, fork.token_a, fork.logprob_a)} vs " + side(
        fork.run_b, fork.token_b, fork.logprob_b
    )
    if fork.margin is not None:
        text += f"; margin {fork.margin:.4f}"
    return Cell(text)


def measures_section(spec: ExperimentSpec, analysis: ExperimentAnalysis) -> Safe:
    planned = {arm.label: arm.runs for arm in spec.arms}
    values = {arm.label: _measure_values(arm, planned.get(arm.label)) for arm in analysis.arms}
    rows = [
        [name, *(values[arm.label][name] for arm in analysis.arms), definition]
        for name, definition in ARM_MEASURES.items()
    ]
    columns = ["measure", *(arm.label for arm in analysis.arms), "definition"]
    parts = [
        paragraph("Only successful runs are measured; run 0 is an arm's first successful run."),
        table(columns, rows, anchor="measures"),
    ]
    if analysis.embedder_id:
        parts.append(
            paragraph(
                "Cosine distances between embeddings from ",
                element("code", analysis.embedder_id),
                " (they only compare within one embedding model).",
                class_="muted",
            )
        )
    if analysis.between_arms:
        rows = [[a, b, _number(d, 4)] for a, b, d in analysis.between_arms]
        parts.append(element("h3", "Between arms"))
        parts.append(paragraph(BETWEEN_ARMS))
        parts.append(table(["arm A", "arm B", "mean cosine distance"], rows, anchor="between"))
    return section("measures-section", "Measures per arm", *parts)


def charts_section(analysis: ExperimentAnalysis, figures: Figures) -> Safe:
    """One heatmap per arm, all on one colour scale from 0, then the distributions."""
    measured = [float(arm.distances.max()) for arm in analysis.arms if arm.distances.size]
    ceiling = max(measured, default=0.0) or 1.0  # all zeros: an honest 0..1 scale
    heatmaps = join(figures.add(arm_heatmap(arm, zmax=ceiling)) for arm in analysis.arms)
    distributions = figures.add(distance_distribution(analysis)) + figures.add(
        distinct_output_frequency(analysis)
    )
    return section(
        "charts",
        "Distances",
        paragraph(
            "Interactive: hover a cell for both runs' text. Every heatmap shares one colour "
            "scale, from 0 to the largest distance of any arm."
        ),
        element("div", heatmaps, class_="grid"),
        element("div", distributions, class_="grid"),
    )


def completions_section(analysis: ExperimentAnalysis) -> Safe:
    labels = [arm.label for arm in analysis.arms]
    runs = [run for arm in analysis.arms for run in arm.completions]
    if not runs:
        return section("completions", "Completions side by side", paragraph("No runs stored."))
    return section(
        "completions",
        "Completions side by side",
        paragraph("One row per run index: run N of every arm reads across."),
        runs_side_by_side(labels, runs, anchor="runs-side-by-side"),
    )


def diff_section(analysis: ExperimentAnalysis) -> Safe:
    return section(
        "diff",
        "Word diff",
        paragraph("Per arm, the two runs whose texts differ most (normalized edit distance)."),
        join(arm_diff(arm) for arm in analysis.arms),
    )
