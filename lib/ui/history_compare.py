"""History's "Compare with…": the opened experiment beside another one (e.g. before and after a
fingerprint change): each arm's measures for both, the cosine distance between their outputs,
and the fingerprints each saw (seedscope.experiment_comparison)."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
import streamlit as st
from seedscope.analysis import ArmMetrics
from seedscope.embeddings import EmbeddingError
from seedscope.experiment_comparison import ExperimentComparison, compare_experiments
from seedscope.settings import Settings
from seedscope.store import ExperimentSummary, Store, StoredExperiment
from seedscope.ui import resources
from seedscope.ui.history_table import experiment_label
from seedscope.ui.text import (
    escape_markdown,
    fingerprint_label,
    format_distance,
    format_share,
)

COMPARE_KEY = "hist_compare_with"
MEASURES = (
    ("runs", lambda m: str(m.runs)),
    ("distinct outputs", lambda m: str(m.distinct_outputs)),
    ("exact-match rate", lambda m: format_share(m.exact_match_rate)),
    ("TARr", lambda m: "–" if m.tarr is None else str(m.tarr)),
    ("mean pairwise distance", lambda m: format_distance(m.mean_pairwise_distance)),
    ("failed runs", lambda m: str(m.failed_runs)),
)


@st.cache_data(max_entries=16, show_spinner="Embedding both experiments' outputs…")
def _cached_comparison(
    key: tuple[str, int, str, int, str],
    _first: StoredExperiment,
    _second: StoredExperiment,
    _embedder: object,
) -> ExperimentComparison:
    # Keyed by (first id, its runs, second id, its runs, embedder id); the rest is not hashed.
    return compare_experiments(_first, _second, _embedder)  # type: ignore[arg-type]


def comparison_table(comparison: ExperimentComparison, first: str, second: str) -> pd.DataFrame:
    """One row per arm and measure, a column per experiment (headed by its short id)."""

    def shown(metrics: ArmMetrics | None, measure) -> str:
        return "(no such arm)" if metrics is None else measure(metrics)

    rows = []
    for arm in comparison.arms:
        for name, measure in MEASURES:
            rows.append(
                {
                    "arm": arm.label,
                    "measure": name,
                    first: shown(arm.first, measure),
                    second: shown(arm.second, measure),
                }
            )
        rows.append(
            {
                "arm": arm.label,
                "measure": "distance between the two",
                first: format_distance(arm.distance),
                second: "",
            }
        )
    return pd.DataFrame(rows, columns=["arm", "measure", first, second])


def render_compare_with(
    settings: Settings,
    store: Store,
    experiment: StoredExperiment,
    candidates: Mapping[str, ExperimentSummary],
) -> None:
    """The opened (plain) experiment beside another one of the listed experiments."""
    others = {
        experiment_id: summary
        for experiment_id, summary in candidates.items()
        if experiment_id != experiment.id and summary.kind == "experiment"
    }
    with st.expander("Compare with…", icon=":material/compare:"):
        if not others:
            st.caption("No other single experiment is listed (clear a filter to list more).")
            return
        other_id = st.selectbox(
            "Another experiment",
            list(others),
            index=None,
            format_func=lambda experiment_id: experiment_label(others[experiment_id], 50),
            placeholder="Choose the experiment to put beside this one",
            key=COMPARE_KEY,
        )
        if other_id is None:
            return
        other = store.load_experiment(other_id)
        if other is None:
            st.warning("That experiment no longer exists (deleted in another session).")
            return
        try:
            embedder = resources.embedder(settings, "local")
            comparison = _cached_comparison(
                (experiment.id, len(experiment.completions), other.id, len(other.completions))
                + (embedder.id,),
                experiment,
                other,
                embedder,
            )
        except (resources.ResourceError, EmbeddingError) as exc:
            st.error(escape_markdown(f"The outputs could not be embedded: {exc}"))
            return
        _show(comparison, experiment, other)


def _show(comparison: ExperimentComparison, first: StoredExperiment, second: StoredExperiment):
    a, b = first.id[:8], second.id[:8]
    st.metric(
        f"Mean distance between {a} and {b}",
        format_distance(comparison.distance),
        help="Mean cosine distance over every pair (an output of one, an output of the other), "
        f"embedded by {comparison.embedder_id}. 0: the same texts.",
    )
    st.dataframe(comparison_table(comparison, a, b), hide_index=True, width="stretch")
    left, right = st.columns(2)
    for column, short, seen in zip((left, right), (a, b), comparison.fingerprints, strict=True):
        column.caption(f"Fingerprints {short} saw, first seen first")
        column.text("\n".join(fingerprint_label(f) for f in seen) or "(no successful run)")
