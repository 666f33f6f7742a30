"""History's table: one row per experiment with what tells experiments of the same prompt apart
(kind, status, arms, max_tokens, runs and failures, backend and host), readable at 1024 px."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
import streamlit as st
from seedscope.spec import ExperimentSpec
from seedscope.store import ExperimentSummary
from seedscope.suites import SuiteSpec
from seedscope.ui.text import count, shorten

# Readable at 1024 px without scrolling sideways. Streamlit 1.67 (its frontend theme): the
# sidebar opens 300 px wide (defaultSidebarWidth 18.75rem), and a wide-layout page at least
# 864 px wide pads its content 80 px on each side (wideSidePadding 5rem), so the table gets
# 1024 - 300 - 2 x 80 = 564 px, about 547 px once the main area's scroll bar (~15 px) and the
# grid's border take theirs. Eleven one-line columns cannot be read in that, so a row holds up
# to four lines (Streamlit wraps cell text only in rows taller than 64 px) and related facts
# share a column, one per line. Widths are the longest usual line in the grid's font (Source
# Sans, 14 px) plus its 2 x 8 px cell padding: "interrupted" and "experiment" ~67 px;
# "max_tokens 4096" ~102 px; "127.0.0.1:8000" ~86 px. Together 545 px; on a wider window the
# grid stretches the columns. Longer values (model names, hosts, many arms) wrap or are cut.
ROW_HEIGHT = 72  # px: four lines of 14 px text (13 px glyphs, line height 1.4) and padding
ROWS_SHOWN = 6  # rows visible before the table scrolls (vertically)
PROMPT_CHARS = 64  # what four lines of the prompt column hold at 1024 px
ARM_LINES = 2
COLUMNS = {
    "id, status": st.column_config.TextColumn(
        "id, status",
        width=84,
        help="The experiment's id, its status, and when it was created (UTC)",
    ),
    "kind": st.column_config.TextColumn("kind", width=84, help="experiment, suite or import"),
    "prompt": st.column_config.TextColumn(
        "prompt", width=149, help="The label (probe runs), then the start of the prompt"
    ),
    "runs, arms": st.column_config.TextColumn(
        "runs, arms",
        width=118,
        help="Runs stored and how many failed; max_tokens; each arm: seed (or none), "
        "temperature, runs",
    ),
    "backend": st.column_config.TextColumn(
        "backend",
        width=110,
        help="Provider, model and the server's host; who started it (when a login is configured)",
    ),
}


def _arm_lines(spec: ExperimentSpec | SuiteSpec | None) -> list[str]:
    if spec is None:
        return []
    return [
        f"{'none' if arm.seed is None else f'seed {arm.seed}'} T{arm.temperature:g} ×{arm.runs}"
        for arm in spec.arms
    ]


def experiment_label(summary: ExperimentSummary, prompt_chars: int = 60) -> str:
    """One experiment on one line, as the pickers list it."""
    return (
        f"{summary.id[:8]} · {summary.created_at:%Y-%m-%d %H:%M} · {summary.model} · "
        f"{count(summary.runs, 'run')} · {shorten(summary.prompt, prompt_chars)}"
    )


def _id_cell(s: ExperimentSummary) -> str:
    return f"{s.id[:8]}\n{s.status}\n{s.created_at:%Y-%m-%d}\n{s.created_at:%H:%M} UTC"


def _runs_cell(s: ExperimentSummary, spec: ExperimentSpec | SuiteSpec | None) -> str:
    lines = [count(s.runs, "run") + (f", {s.failed_runs:,} failed" if s.failed_runs else "")]
    if spec is not None and s.kind != "import":  # imported outputs had no request here
        lines.append(f"max_tokens {spec.max_tokens}")
    arms = _arm_lines(spec)
    if len(arms) > ARM_LINES:
        arms = [*arms[: ARM_LINES - 1], f"+{count(len(arms) - ARM_LINES + 1, 'more arm')}"]
    return "\n".join(lines + arms)


def _backend_cell(s: ExperimentSummary) -> str:
    lines = [s.provider, s.model]
    if s.base_url_host:
        lines.append(s.base_url_host)
    if s.started_by:
        lines.append(f"by {s.started_by}")
    return "\n".join(lines)


def table_height(rows: int) -> int:
    """Pixels for the header and up to ROWS_SHOWN rows (and the grid's border)."""
    return 35 + ROW_HEIGHT * max(1, min(rows, ROWS_SHOWN)) + 3


def summary_table(
    summaries: list[ExperimentSummary], specs: Mapping[str, ExperimentSpec | SuiteSpec]
) -> pd.DataFrame:
    rows = []
    for s in summaries:
        spec = specs.get(s.id)
        prompt = s.label + ": " + s.prompt if s.label else s.prompt
        rows.append(
            {
                "id, status": _id_cell(s),
                "kind": s.kind,
                "prompt": shorten(prompt, PROMPT_CHARS),
                "runs, arms": _runs_cell(s, spec),
                "backend": _backend_cell(s),
            }
        )
    return pd.DataFrame(rows, columns=list(COLUMNS))
