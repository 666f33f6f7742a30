"""The Fingerprints page: the system_fingerprint timeline, change events, drift series and the
backend capability table."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pandas as pd
import streamlit as st
from seedscope.capabilities import (
    TABLE_COLUMNS,
    TIME_COLUMNS,
    BackendCapabilities,
    capability_table,
    table_row,
)
from seedscope.charts import DRIFT_COLUMNS, drift_chart, fingerprint_timeline
from seedscope.fingerprints import FingerprintChange, series_label
from seedscope.store import DriftPoint, FingerprintSpan, Store, StoreError, TimelineRow
from seedscope.ui import resources
from seedscope.ui.filters import Filters, render_filters
from seedscope.ui.text import count, fingerprint_label, format_seed, shorten

TIMELINE_LIMIT = 20_000  # most recent runs drawn; enough for months of probes


def _naive(value):  # dataframes show timezone-aware times with an offset; all times are UTC
    return value.replace(tzinfo=None) if value is not None else None


def timeline_frame(rows: list[TimelineRow]) -> pd.DataFrame:
    frame = pd.DataFrame([row.to_dict() for row in rows])
    for column in ("requested_seed", "effective_seed"):
        # int64 seeds: object dtype keeps them exact (floats cannot hold 2^63 - 1)
        frame[column] = pd.Series([getattr(row, column) for row in rows], dtype=object)
    frame["started_at"] = [row.started_at for row in rows]
    return frame


SPAN_COLUMNS = ("series", "system fingerprint", "runs", "first seen (UTC)", "last seen (UTC)")
EVENT_COLUMNS = (
    "when (UTC)",
    "series",
    "from → to",
    "runs before",
    "runs after",
)


def spans_table(spans: list[FingerprintSpan]) -> pd.DataFrame:
    """One row per stretch of consecutive runs of one series with one fingerprint."""
    return pd.DataFrame(
        [
            {
                "series": series_label(s.provider, s.model, s.base_url_host),
                "system fingerprint": fingerprint_label(s.system_fingerprint),
                "runs": s.runs,
                "first seen (UTC)": _naive(s.first_seen),
                "last seen (UTC)": _naive(s.last_seen),
            }
            for s in spans
        ],
        columns=list(SPAN_COLUMNS),
    )


# Narrow enough to read at 1024 px: minutes are enough for when, the counts are small numbers.
EVENT_COLUMN_CONFIG = {
    "when (UTC)": st.column_config.DatetimeColumn("when (UTC)", format="YYYY-MM-DD HH:mm"),
    "runs before": st.column_config.NumberColumn("runs before", width="small"),
    "runs after": st.column_config.NumberColumn("runs after", width="small"),
}


def events_table(events: list[FingerprintChange]) -> pd.DataFrame:
    """The change events, oldest first: when, which series, from → to, and the runs of the
    stretch before and of the stretch after."""
    return pd.DataFrame(
        [
            {
                "when (UTC)": _naive(e.started_at),
                "series": e.series,
                "from → to": e.describe(),
                "runs before": e.runs_before,
                "runs after": e.runs_after,
            }
            for e in events
        ],
        columns=list(EVENT_COLUMNS),
    )


def changes_caption(
    spans: list[FingerprintSpan], events: list[FingerprintChange], *, dated: bool
) -> str:
    """The count, and what it counts (seedscope.fingerprints) in the page's words."""
    series = len({(s.provider, s.model, s.base_url_host) for s in spans})
    counted = f"{count(len(events), 'change event')} in {count(series, 'series', 'series')}"
    dates = (
        " Within the chosen dates, each series starts at its first run in them." if dated else ""
    )
    return (
        f"{counted}. A series is the runs of one provider, model and host; a change event is a "
        "run whose fingerprint differs from the previous run of its series (by time). "
        '"Not reported" (the server sent none) counts as a fingerprint: `fp_a` → not reported '
        "is a change, not reported → not reported is not. A new host starts a new series, "
        f"not a change.{dates}"
    )


# Drift summary columns: text changes split by whether the fingerprint changed with them.
TEXT_CHANGES = "text changes"
WITH_FINGERPRINT = "…with a fingerprint change"
SILENT = "…silent (same fingerprint)"
FINGERPRINT_ONLY = "fingerprint changes, same text"


def drift_summary(points: list[DriftPoint]) -> pd.DataFrame:
    """One row per repeated fixed request: how often its text changed, and with the
    fingerprint or without."""
    labels = request_labels(points)
    rows: dict[str, dict[str, Any]] = {}
    for p in points:
        row = rows.setdefault(
            p.request_key,
            {
                "request": labels[p.request_key],
                "runs": 0,
                TEXT_CHANGES: 0,
                WITH_FINGERPRINT: 0,
                SILENT: 0,
                FINGERPRINT_ONLY: 0,
                "last run (UTC)": None,
            },
        )
        row["runs"] += 1
        row["last run (UTC)"] = _naive(p.started_at)
        if p.status == "changed":
            row[TEXT_CHANGES] += 1
            row[WITH_FINGERPRINT if p.fingerprint_changed else SILENT] += 1
        elif p.status == "same" and p.fingerprint_changed:
            row[FINGERPRINT_ONLY] += 1
    return pd.DataFrame(list(rows.values()))


def request_labels(points: list[DriftPoint]) -> dict[str, str]:
    """A short readable label per fixed request (its key is a hash); the key's start is added
    where two requests would otherwise read the same (say, different system messages)."""
    labels = {
        p.request_key: f"{p.provider}/{p.model} · seed {format_seed(p.seed)} · "
        f"t={p.temperature:g} · {shorten(p.prompt, 32)}"
        for p in points
    }
    counts = Counter(labels.values())
    return {
        key: f"{label} · {key[:6]}" if counts[label] > 1 else label for key, label in labels.items()
    }


def drift_frame(points: list[DriftPoint]) -> pd.DataFrame:
    """The rows `seedscope.charts.drift_chart` draws: one per run of a repeated fixed request."""
    labels = request_labels(points)
    return pd.DataFrame(
        [
            {
                "started_at": p.started_at,
                "request": labels[p.request_key],
                "status": p.status,
                "fingerprint_changed": p.fingerprint_changed,
                "system_fingerprint": p.system_fingerprint,
                "previous_fingerprint": p.previous_fingerprint,
                "text_preview": p.text_preview,
            }
            for p in points
        ],
        columns=list(DRIFT_COLUMNS),
    )


def drift_changes(points: list[DriftPoint]) -> pd.DataFrame:
    """The points where the text of a repeated fixed request changed."""
    labels = request_labels(points)
    return pd.DataFrame(
        [
            {
                "when (UTC)": _naive(p.started_at),
                "request": labels[p.request_key],
                "fingerprint before": fingerprint_label(p.previous_fingerprint),
                "fingerprint now": fingerprint_label(p.system_fingerprint),
                "fingerprint changed": bool(p.fingerprint_changed),
                "new text starts": shorten(p.text_preview, 80),
                "experiment": p.experiment_id[:8],
            }
            for p in points
            if p.status == "changed"
        ]
    )


def _timeline_and_changes(store: Store, filters: Filters) -> bool:
    """The timeline, the change events and the stretches of one fingerprint: all from the
    store's one definition of a change (seedscope.fingerprints). False: no run matches."""
    rows = store.timeline_rows(**filters.store_kwargs(), limit=TIMELINE_LIMIT)
    if not rows:
        return False
    spans, events = store.fingerprint_history(**filters.store_kwargs())
    figure = fingerprint_timeline(timeline_frame(rows), events)
    st.plotly_chart(figure, width="stretch", key="fp_timeline")
    st.caption(
        "One row per series: the runs of one provider, model and host. Colour is the "
        "fingerprint, the symbol the arm; a grey vertical bar marks a change event."
    )
    if len(rows) >= TIMELINE_LIMIT:
        st.caption(
            f"Showing the first {TIMELINE_LIMIT:,} runs; narrow the dates to see others. "
            "Change events after the last run shown are listed below but not marked."
        )

    st.subheader("Fingerprint changes")
    dated = filters.since is not None or filters.until is not None
    st.caption(changes_caption(spans, events, dated=dated))
    if events:
        st.dataframe(
            events_table(events),
            hide_index=True,
            width="stretch",
            column_config=EVENT_COLUMN_CONFIG,
        )
    else:
        st.caption("No change: every series reported one fingerprint throughout.")
    st.caption(
        "Stretches of consecutive runs of one series with one fingerprint. A series' first "
        "row is where it starts; each further row begins with one of the change events above."
    )
    st.dataframe(spans_table(spans), hide_index=True, width="stretch")
    return True


def _drift(store: Store, filters: Filters) -> None:
    st.subheader("Drift of repeated fixed requests")
    points = store.drift_series(**filters.store_kwargs())
    repeated = {p.request_key for p in points if p.status != "first"}
    if not repeated:
        st.info(
            "No fixed request has been repeated yet. A drift series needs the same seeded "
            "request (prompt, system message, seed, temperature, model) run more than once: "
            "repeat a comparison, or schedule `python -m seedscope probe`."
        )
        return
    points = [p for p in points if p.request_key in repeated]
    changed = [p for p in points if p.status == "changed"]
    with_fp = sum(1 for p in changed if p.fingerprint_changed)
    columns = st.columns(3)
    columns[0].metric("Repeated requests", len(repeated))
    columns[1].metric("Text changes", len(changed))
    columns[2].metric(
        "Fingerprint changed too",
        f"{with_fp}/{len(changed)}" if changed else "–",
        help="Text changes that came with a fingerprint change. A text change without one "
        "means the backend drifted silently.",
    )
    st.plotly_chart(drift_chart(drift_frame(points)), width="stretch", key="fp_drift")
    st.caption(
        "Each row is one fixed request; each point a run of it, compared with the run before. "
        "A red × is a text change the fingerprint did not announce (silent drift); a star "
        "marks a run whose fingerprint changed."
    )
    # The request label is long: a capped column keeps the counts in view at laptop width.
    request_column = {"request": st.column_config.TextColumn("request", width="medium")}
    st.dataframe(
        drift_summary(points), hide_index=True, width="stretch", column_config=request_column
    )
    if changed:
        st.caption("Where the text changed")
        st.dataframe(
            drift_changes(points), hide_index=True, width="stretch", column_config=request_column
        )


BACKENDS_CAPTION = (
    "One row per backend (provider, model and host) with runs or checks in the history, as "
    "last checked; the provider and model filters apply, the dates do not. "
    "**seed honoured**: the newest seed check (seed A, A again, B): *yes*, *yes, not "
    "deterministic* (the seed matters but does not always repeat), *no* (ignored), *not needed "
    "(deterministic)* (the same text whatever the seed) or *inconclusive*. "
    "**fingerprint reported**: whether its successful runs carried a `system_fingerprint` "
    "(*partly*: some did); **fingerprint changed**: its change events, counted as under "
    "Fingerprint changes. "
    "**logprobs supported**: whether the newest logprobs check got logprobs back (in how many "
    "of the runs that asked); **logprobs change output**: whether asking for them changed the "
    "text. **load-invariant**: the newest load probe (alone, copies at once, next to "
    "background requests); *one call at a time*: nothing ran at once, so load could not "
    "change it. Each check's time is when it started (UTC). *Never checked*: run "
    "`seedscope check seed`, `seedscope check load` or `seedscope check logprobs` (or the "
    "check presets on the Compare page) against that backend; `seedscope backends` prints "
    "this table."
)
# Narrow enough to read at 1024 px: minutes are enough for when a check ran.
BACKENDS_COLUMN_CONFIG = {
    column: st.column_config.DatetimeColumn(column, format="YYYY-MM-DD HH:mm")
    for column in TIME_COLUMNS
}


def backends_table(rows: list[BackendCapabilities]) -> pd.DataFrame:
    """The capability table as shown (seedscope.capabilities.table_row), times without zone.
    Model names and hosts come from servers and users: dataframe cells show them literally."""
    shown = []
    for row in rows:
        cells = table_row(row)
        shown.append({k: _naive(v) if k in TIME_COLUMNS else v for k, v in cells.items()})
    return pd.DataFrame(shown, columns=list(TABLE_COLUMNS))


def _backends(store: Store, filters: Filters) -> None:
    st.subheader("Backends")
    rows = [
        row
        for row in capability_table(store)
        if filters.provider in (None, row.provider) and filters.model in (None, row.model)
    ]
    if not rows:
        filtered = filters.provider is not None or filters.model is not None
        st.caption(
            "No backend matches the provider and model chosen."
            if filtered
            else "No backend has runs or checks yet. Run a comparison, or check a backend "
            "with `seedscope check seed|load|logprobs`: its capabilities show up here."
        )
        return
    st.dataframe(
        backends_table(rows),
        hide_index=True,
        width="stretch",
        column_config=BACKENDS_COLUMN_CONFIG,
        key="fp_backends",
    )
    st.caption(BACKENDS_CAPTION)


def render_fingerprints_page() -> None:
    settings = resources.settings_or_stop()
    store = resources.store_or_stop(settings)
    st.title("Fingerprints")
    st.caption(
        "The `system_fingerprint` every stored run reported, over time. A fingerprint change "
        "often explains why the same seeded request stopped giving the same answer."
    )
    try:
        filters = render_filters(store, key="fp")
        if not _timeline_and_changes(store, filters):
            st.info(
                "No successful runs match. Run a comparison on the Compare page (or clear the "
                "filters): every run's fingerprint is recorded and shows up here."
            )
            st.page_link(
                "pages/compare.py", label="Go to Compare", icon=":material/compare_arrows:"
            )
        else:
            _drift(store, filters)
        _backends(store, filters)
    except StoreError as exc:
        st.error(str(exc))
