"""The read queries of the run history, as SQLAlchemy Core statements.

Kept apart from seedscope.store so the benchmark can EXPLAIN exactly what the store runs. Time
ranges are half-open: since <= t < until. Only successful runs (no error) appear on the
timeline, in fingerprint spans and in drift series: a failed call reports no fingerprint and
no text, and counting it would invent a change.
"""

from __future__ import annotations

from datetime import datetime
from typing import TypedDict, Unpack

from seedscope.store.schema import NO_HOST, UTCDateTime, experiments, runs
from sqlalchemy import ColumnElement, Select, Subquery, and_, case, func, literal, select, true

PREVIEW_CHARS = 200


class RunFilters(TypedDict, total=False):
    """Which runs a query covers (as keyword arguments); a missing or None filter means any."""

    provider: str | None
    model: str | None
    since: datetime | None  # since <= started_at (created_at for experiments)
    until: datetime | None  # ... < until


class ExperimentFilters(RunFilters, total=False):
    prompt_contains: str | None  # case-insensitive substring of the prompt
    kind: str | None  # experiment | suite | import
    status: str | None  # running | complete | failed | cancelled | interrupted


def _checked(filters: RunFilters, allowed: type) -> None:
    # **filters accepts any keyword at run time; a misspelt filter must fail, not match all.
    unknown = set(filters) - allowed.__optional_keys__  # type: ignore[attr-defined]
    if unknown:
        raise TypeError(f"unexpected filter {', '.join(sorted(unknown))}")


def _backend_and_time(
    provider: ColumnElement, model: ColumnElement, time: ColumnElement, filters: RunFilters
) -> list[ColumnElement[bool]]:
    """The provider/model/time conditions, on whichever table's columns are given."""
    conditions: list[ColumnElement[bool]] = []
    if filters.get("provider") is not None:
        conditions.append(provider == filters["provider"])
    if filters.get("model") is not None:
        conditions.append(model == filters["model"])
    if filters.get("since") is not None:
        conditions.append(time >= filters["since"])
    if filters.get("until") is not None:
        conditions.append(time < filters["until"])
    return conditions


def _experiment_filters(filters: ExperimentFilters) -> list[ColumnElement[bool]]:
    _checked(filters, ExperimentFilters)
    conditions = _backend_and_time(
        experiments.c.provider, experiments.c.model, experiments.c.created_at, filters
    )
    if filters.get("prompt_contains"):
        conditions.append(
            experiments.c.prompt.icontains(filters["prompt_contains"], autoescape=True)
        )
    if filters.get("kind") is not None:
        conditions.append(experiments.c.kind == filters["kind"])
    if filters.get("status") is not None:
        conditions.append(experiments.c.status == filters["status"])
    return conditions


def run_host() -> ColumnElement:
    """The host of the server that answered a run: its own (NO_HOST: the embedded model), or
    for a run stored before runs had one (NULL), its experiment's. Needs the experiments join."""
    return case(
        (runs.c.base_url_host.is_(None), experiments.c.base_url_host),
        else_=func.nullif(runs.c.base_url_host, NO_HOST),
    )


def _run_filters(filters: RunFilters) -> list[ColumnElement[bool]]:
    _checked(filters, RunFilters)
    return [
        runs.c.error_type.is_(None),
        *_backend_and_time(runs.c.provider, runs.c.model, runs.c.started_at, filters),
    ]


def history_query(
    *, limit: int = 50, offset: int = 0, **filters: Unpack[ExperimentFilters]
) -> Select:
    """A page of experiments, newest first, with run and failure counts."""
    # Counted per listed experiment (an index lookup each), not over the whole runs table.
    run_count = (
        select(func.count())
        .where(runs.c.experiment_id == experiments.c.id)
        .scalar_subquery()
        .label("runs")
    )
    failed_count = (
        select(func.count())
        .where(runs.c.experiment_id == experiments.c.id, runs.c.error_type.is_not(None))
        .scalar_subquery()
        .label("failed_runs")
    )
    return (
        select(
            experiments.c.id,
            experiments.c.created_at,
            experiments.c.finished_at,
            experiments.c.status,
            experiments.c.provider,
            experiments.c.model,
            experiments.c.prompt,
            experiments.c.base_url_host,
            experiments.c.label,
            run_count,
            failed_count,
            experiments.c.kind,
            experiments.c.started_by,
        )
        .where(*_experiment_filters(filters))
        .order_by(experiments.c.created_at.desc(), experiments.c.id.desc())
        .limit(limit)
        .offset(offset)
    )


def count_query(**filters: Unpack[ExperimentFilters]) -> Select:
    return select(func.count()).select_from(experiments).where(*_experiment_filters(filters))


def timeline_query(*, limit: int | None = None, **filters: Unpack[RunFilters]) -> Select:
    """Successful runs in time order, with what the timeline plots."""
    query = (
        select(
            runs.c.started_at,
            runs.c.provider,
            runs.c.model,
            run_host().label("base_url_host"),
            runs.c.system_fingerprint,
            runs.c.arm_label,
            runs.c.run_index,
            runs.c.requested_seed,
            runs.c.effective_seed,
            runs.c.temperature,
            runs.c.text,
            runs.c.experiment_id,
        )
        .join(experiments, experiments.c.id == runs.c.experiment_id)
        .where(*_run_filters(filters))
        .order_by(runs.c.started_at, runs.c.id)
    )
    return query if limit is None else query.limit(limit)


# -- fingerprint series, spans and change events -----------------------------------------------
# The one computation of fingerprint change events (defined in words in seedscope.fingerprints):
# a series is partitioned by (provider, model, base_url_host) and ordered by (started_at, id); a
# run starts a new span when it is its series' first, or when its fingerprint IS DISTINCT FROM
# the previous run's (NULL, "not reported", compares as a value). Every span after the first of
# its series begins with one change event. One query gives the spans and the events (the
# store splits its rows), so the page's tables, count and chart markers cannot disagree.
# Filters apply before the comparison: with a time range, the first run inside it starts
# each series.

_SERIES_COLUMNS = ("provider", "model", "base_url_host")


def _numbered_spans(filters: RunFilters) -> Subquery:
    """Each successful run with its series and the number of its span within the series."""
    series = (runs.c.provider, runs.c.model, run_host())
    order = (runs.c.started_at, runs.c.id)
    previous_id = func.lag(runs.c.id).over(partition_by=series, order_by=order)
    previous_fp = func.lag(runs.c.system_fingerprint).over(partition_by=series, order_by=order)
    starts_span = case(
        (previous_id.is_(None), 1),  # the first run of its series
        (runs.c.system_fingerprint.is_not_distinct_from(previous_fp), 0),
        else_=1,  # a change event
    )
    ordered = (
        select(
            runs.c.id,
            runs.c.provider,
            runs.c.model,
            run_host().label("base_url_host"),
            runs.c.system_fingerprint,
            runs.c.started_at,
            starts_span.label("starts_span"),
        )
        .join(experiments, experiments.c.id == runs.c.experiment_id)
        .where(*_run_filters(filters))
        .subquery("ordered")
    )
    span_number = func.sum(ordered.c.starts_span).over(
        partition_by=[ordered.c[name] for name in _SERIES_COLUMNS],
        order_by=(ordered.c.started_at, ordered.c.id),
        rows=(None, 0),
    )
    return select(ordered, span_number.label("span")).subquery("numbered")


def _spans(filters: RunFilters) -> Subquery:
    """One row per span: series, span number (1 = the series' first), fingerprint, times, runs."""
    numbered = _numbered_spans(filters)
    series = [numbered.c[name] for name in _SERIES_COLUMNS]
    return (
        select(
            *series,
            numbered.c.span,
            numbered.c.system_fingerprint,
            func.min(numbered.c.started_at).label("first_seen"),
            func.max(numbered.c.started_at).label("last_seen"),
            func.count().label("runs"),
        )
        .group_by(*series, numbered.c.span, numbered.c.system_fingerprint)
        .subquery("spans")
    )


def fingerprint_spans_query(**filters: Unpack[RunFilters]) -> Select:
    """Spans (see above) by series (a missing host first), then time: the FingerprintSpan
    columns, then the span's number in its series (1: where the series starts) and, from the
    span before it, the fingerprint, the runs and the last run's time. Every row numbered
    above 1 is a change event, with what it changed from."""
    spans = _spans(filters)
    window = {
        "partition_by": [spans.c[name] for name in _SERIES_COLUMNS],
        "order_by": spans.c.span,
    }
    return select(
        spans.c.provider,
        spans.c.model,
        spans.c.base_url_host,
        spans.c.system_fingerprint,
        spans.c.first_seen,
        spans.c.last_seen,
        spans.c.runs,
        spans.c.span,
        func.lag(spans.c.system_fingerprint).over(**window).label("previous_fingerprint"),
        func.lag(spans.c.runs).over(**window).label("previous_runs"),
        func.lag(spans.c.last_seen, type_=UTCDateTime()).over(**window).label("previous_seen"),
    ).order_by(
        spans.c.provider,
        spans.c.model,
        spans.c.base_url_host.nulls_first(),  # the same on SQLite and PostgreSQL
        spans.c.span,
    )


def drift_query(*, request_key: str | None = None, **filters: Unpack[RunFilters]) -> Select:
    """Each successful seeded run next to the previous run of the same request key.

    The time range applies after the comparison, so the first run inside the range is still
    compared with the one before it.
    """
    order = (runs.c.started_at, runs.c.id)
    window = {"partition_by": runs.c.request_key, "order_by": order}
    since, until = filters.get("since"), filters.get("until")
    conditions = [
        *_run_filters({**filters, "since": None, "until": None}),
        runs.c.requested_seed.is_not(None),
        runs.c.request_key.is_not(None),
    ]
    if request_key is not None:
        conditions.append(runs.c.request_key == request_key)
    compared = (
        select(
            runs.c.id,
            runs.c.request_key,
            runs.c.provider,
            runs.c.model,
            runs.c.requested_seed,
            runs.c.temperature,
            runs.c.top_p,
            runs.c.max_tokens,
            runs.c.started_at,
            runs.c.experiment_id,
            runs.c.arm_label,
            runs.c.run_index,
            runs.c.system_fingerprint,
            func.substr(runs.c.text, 1, PREVIEW_CHARS).label("text_preview"),
            func.lag(runs.c.id).over(**window).label("previous_id"),
            case(
                (func.lag(runs.c.text).over(**window) == runs.c.text, literal(1)),
                else_=literal(0),
            ).label("same_text"),
            func.lag(runs.c.system_fingerprint).over(**window).label("previous_fingerprint"),
            func.lag(runs.c.started_at, type_=UTCDateTime())
            .over(**window)
            .label("previous_started_at"),
            runs.c.base_url_host.label("run_base_url_host"),
        )
        .where(*conditions)
        .subquery("compared")
    )
    outer: list[ColumnElement[bool]] = [true()]
    if since is not None:
        outer.append(compared.c.started_at >= since)
    if until is not None:
        outer.append(compared.c.started_at < until)
    return (
        select(
            compared,
            experiments.c.prompt,
            experiments.c.system_prompt,
            case(  # as run_host(), on the subquery's column
                (compared.c.run_base_url_host.is_(None), experiments.c.base_url_host),
                else_=func.nullif(compared.c.run_base_url_host, NO_HOST),
            ).label("base_url_host"),
        )
        .join(experiments, experiments.c.id == compared.c.experiment_id)
        .where(and_(*outer))
        .order_by(compared.c.request_key, compared.c.started_at, compared.c.id)
    )


def providers_and_models_query() -> Select:
    return (
        select(experiments.c.provider, experiments.c.model)
        .distinct()
        .order_by(experiments.c.provider, experiments.c.model)
    )
