"""History's table: one row per experiment with what tells experiments of the same prompt apart
(kind, arms, max_tokens, backend and host, status), narrow enough to read at 1024 px."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
import streamlit as st
from seedscope.spec import ExperimentSpec
from seedscope.store import ExperimentSummary
from seedscope.suites import SuiteSpec
from seedscope.ui.text import count, shorten

# Left to right by how much they tell experiments apart; widths in px fit a 1024 px window with
# the sidebar open up to "arms"; the rest scroll into view.
COLUMNS = {
    "id": st.column_config.TextColumn("id", width=70),
    "kind": st.column_config.TextColumn("kind", width=75),
    "status": st.column_config.TextColumn("status", width=85),
    "prompt": st.column_config.TextColumn("prompt", width=200),
    "arms": st.column_config.TextColumn(
        "arms", width=210, help="Each arm: seed (or none), temperature, runs"
    ),
    "runs": st.column_config.NumberColumn("runs", width=50),
    "failed": st.column_config.NumberColumn("failed", width=55),
    "max_tokens": st.column_config.NumberColumn("max_tokens", width=80),
    "backend": st.column_config.TextColumn("backend", width=220),
    "created (UTC)": st.column_config.DatetimeColumn("created (UTC)", width=150),
    "started by": st.column_config.TextColumn(
        "started by", width=160, help="The logged-in user (only when a login is configured)"
    ),
}


def arms_summary(spec: ExperimentSpec | SuiteSpec | None) -> str:
    """The arms in a few words, e.g. "none T0.7 ×5 · seed 123 T0 ×5"."""
    if spec is None:
        return ""
    return " · ".join(
        f"{'none' if arm.seed is None else f'seed {arm.seed}'} T{arm.temperature:g} ×{arm.runs}"
        for arm in spec.arms
    )


def experiment_label(summary: ExperimentSummary, prompt_chars: int = 60) -> str:
    """One experiment on one line, as the pickers list it."""
    return (
        f"{summary.id[:8]} · {summary.created_at:%Y-%m-%d %H:%M} · {summary.model} · "
        f"{count(summary.runs, 'run')} · {shorten(summary.prompt, prompt_chars)}"
    )


def backend_text(summary: ExperimentSummary) -> str:
    where = f" @ {summary.base_url_host}" if summary.base_url_host else ""
    return f"{summary.provider}/{summary.model}{where}"


def summary_table(
    summaries: list[ExperimentSummary], specs: Mapping[str, ExperimentSpec | SuiteSpec]
) -> pd.DataFrame:
    rows = []
    for s in summaries:
        spec = specs.get(s.id)
        rows.append(
            {
                "id": s.id[:8],
                "kind": s.kind,
                "status": s.status,
                "prompt": shorten(s.label + ": " + s.prompt if s.label else s.prompt, 120),
                "arms": arms_summary(spec),
                "runs": s.runs,
                "failed": s.failed_runs,
                "max_tokens": None if spec is None else spec.max_tokens,
                "backend": backend_text(s),
                "created (UTC)": s.created_at.replace(tzinfo=None),
                "started by": s.started_by or "",
            }
        )
    return pd.DataFrame(rows, columns=list(COLUMNS))
