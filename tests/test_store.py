"""lib/store/: CRUD, filters, paging, timeline, fingerprint changes, drift, embedding cache,
migrations. Every test runs on SQLite and on a real PostgreSQL (marker `postgres`)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from seedscope.providers.base import request_key, utc_now
from seedscope.spec import REMOTE_SEED_MAX
from seedscope.store import Store, StoreError
from seedscope.store.engine import current_revision, head_revision, resolve_url, upgrade
from seedscope.store.queries import drift_query, history_query, timeline_query
from seedscope.store.schema import (
    EXPERIMENT_STATUSES,
    embedding_cache,
    experiments,
    metadata,
    runs,
)
from sqlalchemy import create_engine, insert, select, text, update
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.exc import IntegrityError

from tests.store_support import (
    BACKENDS,
    ROOT,
    T0,
    database_url,
    make_case_completion,
    make_completion,
    make_spec,
    make_suite_spec,
)


@pytest.fixture(params=BACKENDS)
def url(request, tmp_path) -> str:
    return database_url(request.param, tmp_path, request)


@pytest.fixture
def store(url):
    with Store.open(url) as opened:
        yield opened


def store_spec_runs(store: Store, spec, **kwargs) -> str:
    experiment_id = store.create_experiment(spec, base_url_host=None)
    for arm in spec.arms:
        for index in range(arm.runs):
            store.add_run(experiment_id, make_completion(spec, arm.label, index, **kwargs))
    return experiment_id


# -- experiments and runs -------------------------------------------------------------------


def test_experiment_round_trip_keeps_every_field_and_orders_by_arm_then_run(store):
    spec = make_spec(
        arms=[
            {"label": "zeta", "seed": None, "temperature": 0.7, "runs": 2},
            {"label": "alpha", "seed": REMOTE_SEED_MAX, "temperature": 0.0, "runs": 2},
        ],
        provider="openai",
        model="gpt-4o-mini",
    )
    experiment_id = store.create_experiment(spec, base_url_host="127.0.0.1:8000")
    written = [
        make_completion(spec, "alpha", 1, text="a1"),
        make_completion(spec, "zeta", 1, error=True),
        make_completion(spec, "alpha", 0, text="a0", fingerprint=None),
        make_completion(spec, "zeta", 0, text="z0 ünïcode ✓"),
    ]
    for completion in written:
        store.add_run(experiment_id, completion)

    loaded = store.load_experiment(experiment_id)
    assert loaded is not None
    assert loaded.spec == spec
    assert [(c.arm_label, c.run_index) for c in loaded.completions] == [
        ("zeta", 0),
        ("zeta", 1),
        ("alpha", 0),
        ("alpha", 1),
    ]
    by_key = {(c.arm_label, c.run_index): c for c in written}
    for completion in loaded.completions:
        assert completion == by_key[(completion.arm_label, completion.run_index)]
        assert completion.started_at.tzinfo is not None
        assert completion.started_at.utcoffset() == timedelta(0)
    summary = loaded.summary
    assert (summary.id, summary.status, summary.runs, summary.failed_runs) == (
        experiment_id,
        "running",
        4,
        1,
    )
    assert (summary.provider, summary.model, summary.base_url_host) == (
        "openai",
        "gpt-4o-mini",
        "127.0.0.1:8000",
    )
    assert summary.created_at.tzinfo is not None and summary.finished_at is None


def test_load_unknown_experiment_is_none_and_writes_to_it_fail_clearly(store):
    assert store.load_experiment("0" * 32) is None
    with pytest.raises(StoreError, match="no experiment"):
        store.finish_experiment("0" * 32, "complete")
    with pytest.raises(StoreError, match="no experiment"):
        store.sink("0" * 32)


def test_finish_sets_status_and_time_and_rejects_unknown_status(store):
    spec = make_spec()
    experiment_id = store.create_experiment(spec, base_url_host=None)
    before = utc_now()
    store.finish_experiment(experiment_id, "cancelled")
    summary = store.load_experiment(experiment_id).summary
    assert summary.status == "cancelled"
    assert summary.finished_at >= before
    with pytest.raises(ValueError, match="running"):
        store.finish_experiment(experiment_id, "running")


def test_suite_runs_are_stored_per_case_with_the_cases_own_request_key(store):
    spec = make_suite_spec()
    experiment_id = store.create_experiment(spec, base_url_host="h:9")
    written = [
        make_case_completion(spec, case.id, arm.label, index, text=f"{case.id}-{arm.label}")
        for index in (1, 0)  # out of order: loading sorts by case, arm, run index
        for arm in reversed(spec.arms)
        for case in reversed(spec.cases)
    ]
    for completion in written:
        store.add_run(experiment_id, completion)
    loaded = store.load_experiment(experiment_id)
    assert loaded.kind == loaded.summary.kind == "suite"
    assert loaded.spec == spec
    assert loaded.summary.prompt == "suite tiny: 2 cases"
    assert [(c.case_id, c.arm_label, c.run_index) for c in loaded.completions] == [
        (case.id, arm.label, index)
        for case in spec.cases
        for arm in spec.arms
        for index in range(2)
    ]
    assert sorted(loaded.completions, key=str) == sorted(written, key=str)
    # The same (arm, run) of another case is a different run; of the same case, a duplicate.
    with pytest.raises(StoreError, match="saving a run"):
        store.add_run(experiment_id, written[0])
    with pytest.raises(StoreError, match="case 'q9'"):
        store.add_run(experiment_id, written[0].with_changes(case_id="q9"))
    # Drift series hold seeded runs only: one series per case.
    keys = {point.request_key for point in store.drift_series()}
    expected_q2 = request_key(
        provider="openai",
        base_url_host="h:9",
        model="m",
        prompt="Two?",
        system="Answer with a digit.",  # the case's own system message
        seed=123,
        temperature=0.0,
        top_p=1.0,
        max_tokens=16,
    )
    expected_q1 = request_key(
        provider="openai",
        base_url_host="h:9",
        model="m",
        prompt="One?",
        system=spec.system,  # no system of its own: the suite's
        seed=123,
        temperature=0.0,
        top_p=1.0,
        max_tokens=16,
    )
    assert keys == {expected_q1, expected_q2}
    # A second Store (no cached context) computes the same keys from the stored spec.
    with Store(store_url(store)) as other:
        other.add_run(experiment_id, written[0].with_changes(run_index=7))
    latest = [p for p in store.drift_series() if p.run_index == 7]
    assert [p.request_key for p in latest] == [expected_q2]


def store_url(store: Store) -> str:
    return store._url.render_as_string(hide_password=False)


def test_plain_experiments_keep_kind_experiment_and_no_case(store):
    spec = make_spec()
    experiment_id = store_spec_runs(store, spec)
    loaded = store.load_experiment(experiment_id)
    assert loaded.kind == loaded.summary.kind == "experiment"
    assert {c.case_id for c in loaded.completions} == {None}
    with pytest.raises(ValueError, match="kind 'suite'"):
        store.create_experiment(spec, base_url_host=None, kind="suite")


def test_sink_writes_each_completion_as_it_arrives(store):
    spec = make_spec()
    experiment_id = store.create_experiment(spec, base_url_host=None)
    sink = store.sink(experiment_id)
    for index in range(3):
        sink(make_completion(spec, "seeded", index))
        # Visible to another reader immediately: the write was committed before returning.
        assert store.list_experiments()[0].runs == index + 1


def test_duplicate_run_is_refused_with_a_store_error(store):
    spec = make_spec()
    experiment_id = store.create_experiment(spec, base_url_host=None)
    store.add_run(experiment_id, make_completion(spec, "seeded", 0))
    with pytest.raises(StoreError, match="saving a run"):
        store.add_run(experiment_id, make_completion(spec, "seeded", 0))
    assert store.load_experiment(experiment_id).summary.runs == 1


def test_untrusted_text_with_nul_and_lone_surrogates_is_stored_not_lost(store):
    spec = make_spec()
    experiment_id = store.create_experiment(spec, base_url_host=None)
    nasty = "a\x00b \ud800 c 😀"
    store.add_run(experiment_id, make_completion(spec, "seeded", 0, text=nasty))
    stored = store.load_experiment(experiment_id).completions[0].text
    assert stored == "a\ufffdb \ufffd c 😀"


def test_base_url_host_never_keeps_credentials_or_paths(store, url):
    spec = make_spec(provider="openai", model="m")
    experiment_id = store.create_experiment(
        spec, base_url_host="https://user:sk-secret-123@api.example.com:8443/v1"
    )
    assert store.load_experiment(experiment_id).summary.base_url_host == "api.example.com:8443"
    engine = create_engine(resolve_url(url))
    with engine.connect() as connection:
        row = connection.execute(select(experiments)).one()
    engine.dispose()
    assert "sk-secret" not in repr(tuple(row))


def test_delete_removes_the_experiment_and_its_runs(store):
    spec = make_spec()
    keep = store_spec_runs(store, spec)
    gone = store_spec_runs(store, spec)
    assert store.delete_experiment(gone) is True
    assert store.delete_experiment(gone) is False
    assert store.load_experiment(gone) is None
    assert [summary.id for summary in store.list_experiments()] == [keep]
    assert len(store.timeline_rows()) == spec.total_runs


def test_resolve_id_by_unique_prefix(store):
    experiment_id = store.create_experiment(make_spec(), base_url_host=None)
    assert store.resolve_id(experiment_id[:8]) == experiment_id
    assert store.resolve_id(experiment_id.upper()) == experiment_id
    assert store.resolve_id("zz-not-hex") is None
    missing = "f" * 8 if not experiment_id.startswith("ffff") else "0" * 8
    assert store.resolve_id(missing) is None


# -- history list ---------------------------------------------------------------------------


def test_history_filters_paging_and_counts(store):
    created = []
    boundaries = []
    for index in range(7):
        provider, model = ("openai", "gpt-4o-mini") if index % 2 else ("local", "Smol")
        spec = make_spec(
            prompt=f"Prompt {index} about MARS 100%_done", provider=provider, model=model
        )
        created.append(store.create_experiment(spec, base_url_host=None))
        time.sleep(0.002)  # distinct creation times, so time filters have a clear boundary
        boundaries.append(utc_now())
        time.sleep(0.002)

    newest_first = list(reversed(created))
    assert [s.id for s in store.list_experiments()] == newest_first
    assert store.count_experiments() == 7

    pages = [store.list_experiments(limit=3, offset=offset) for offset in (0, 3, 6)]
    assert [[s.id for s in page] for page in pages] == [
        newest_first[0:3],
        newest_first[3:6],
        newest_first[6:7],
    ]

    openai = store.list_experiments(provider="openai")
    assert [s.id for s in openai] == [created[5], created[3], created[1]]
    assert store.count_experiments(provider="openai") == 3
    assert store.count_experiments(provider="local", model="Smol") == 4
    assert store.count_experiments(model="nope") == 0

    window = store.list_experiments(since=boundaries[1], until=boundaries[4])
    assert [s.id for s in window] == [created[4], created[3], created[2]]
    assert store.count_experiments(since=boundaries[1], until=boundaries[4]) == 3
    naive_since = boundaries[5].astimezone(UTC).replace(tzinfo=None)  # naive means UTC
    assert [s.id for s in store.list_experiments(since=naive_since)] == [created[6]]

    assert [s.id for s in store.list_experiments(prompt_contains="prompt 3 ABOUT")] == [created[3]]
    # LIKE wildcards in the search text are literal characters.
    assert store.count_experiments(prompt_contains="100%_done") == 7
    assert store.count_experiments(prompt_contains="100%%") == 0
    assert store.count_experiments(prompt_contains="0_d") == 0


def test_a_misspelt_filter_is_refused_not_ignored(store):
    store.create_experiment(make_spec(provider="local"), base_url_host=None)
    with pytest.raises(TypeError, match="unexpected filter providr"):
        store.list_experiments(providr="openai")
    with pytest.raises(TypeError, match="unexpected filter prompt_contains"):
        store.timeline_rows(prompt_contains="x")  # runs have no prompt filter
    for query in (store.count_experiments, store.fingerprint_changes, store.drift_series):
        with pytest.raises(TypeError, match="unexpected filter"):
            query(modle="m")


def test_summary_counts_runs_and_failures_and_serialises_to_json(store):
    spec = make_spec()
    experiment_id = store.create_experiment(spec, base_url_host=None)
    store.add_run(experiment_id, make_completion(spec, "seeded", 0))
    store.add_run(experiment_id, make_completion(spec, "seeded", 1, error=True))
    store.add_run(experiment_id, make_completion(spec, "unseeded", 0, error=True))
    store.finish_experiment(experiment_id, "complete")
    (summary,) = store.list_experiments()
    assert (summary.runs, summary.failed_runs, summary.status) == (3, 2, "complete")
    data = summary.to_dict()
    assert data["id"] == experiment_id
    assert datetime.fromisoformat(data["created_at"]) == summary.created_at
    assert data["finished_at"].endswith("+00:00")


def test_providers_and_models_lists_each_pair_once(store):
    for provider, model in [("openai", "b"), ("local", "Smol"), ("openai", "a"), ("openai", "b")]:
        store.create_experiment(make_spec(provider=provider, model=model), base_url_host=None)
    assert store.providers_and_models() == [("local", "Smol"), ("openai", "a"), ("openai", "b")]


# -- timeline, fingerprint changes, drift -----------------------------------------------------


def add_seeded_runs(store, spec, items, *, host=None):
    """items: (text, fingerprint, minutes after T0) per run, in one experiment."""
    experiment_id = store.create_experiment(spec, base_url_host=host)
    for index, (text_, fingerprint, minutes) in enumerate(items):
        completion = make_completion(
            spec,
            spec.arms[0].label,
            index,
            text=text_,
            fingerprint=fingerprint,
            started_at=T0 + timedelta(minutes=minutes),
        )
        store.add_run(experiment_id, completion)
    return experiment_id


def seeded_spec(runs=3, *, model="m", temperature=0.0, seed=7, prompt="Say hi."):
    return make_spec(
        provider="openai",
        model=model,
        prompt=prompt,
        arms=[{"label": "seeded", "seed": seed, "temperature": temperature, "runs": runs}],
    )


def test_timeline_rows_in_time_order_with_filters_and_no_failed_runs(store):
    spec = make_spec()
    experiment_id = store.create_experiment(spec, base_url_host="h:1")
    store.add_run(experiment_id, make_completion(spec, "seeded", 1, fingerprint="fp_b"))
    store.add_run(experiment_id, make_completion(spec, "seeded", 0, fingerprint="fp_a"))
    store.add_run(experiment_id, make_completion(spec, "unseeded", 2, error=True))
    other = seeded_spec(model="other")
    add_seeded_runs(store, other, [("x", "fp_z", 60)])

    rows = store.timeline_rows(provider="local")
    assert [(r.run_index, r.system_fingerprint) for r in rows] == [(0, "fp_a"), (1, "fp_b")]
    first = rows[0]
    assert first.started_at == T0 and first.started_at.tzinfo is not None
    # The embedded model answered: it has no host, whatever the experiment's says.
    assert (first.provider, first.model, first.base_url_host) == ("local", spec.model, None)
    assert (first.arm_label, first.requested_seed, first.effective_seed) == ("seeded", 123, 123)
    assert (first.text, first.experiment_id) == ("hello", experiment_id)

    assert len(store.timeline_rows()) == 3
    assert [r.model for r in store.timeline_rows(model="other")] == ["other"]
    later = store.timeline_rows(since=T0 + timedelta(seconds=1))
    assert [r.system_fingerprint for r in later] == ["fp_b", "fp_z"]
    assert store.timeline_rows(until=T0 + timedelta(seconds=1)) == rows[:1]
    assert len(store.timeline_rows(limit=2)) == 2


def test_fingerprint_changes_are_spans_of_consecutive_runs(store):
    spec = seeded_spec(runs=6)
    add_seeded_runs(
        store,
        spec,
        [("t", "fp_a", 0), ("t", "fp_a", 1), ("t", "fp_b", 2), ("t", None, 3), ("t", None, 4)],
    )
    # A second experiment later on the same backend: the fingerprint goes back to fp_a.
    add_seeded_runs(store, spec, [("t", "fp_a", 10)])
    # Failed runs report no fingerprint and must not split a span.
    failing = store.create_experiment(spec, base_url_host=None)
    failed = make_completion(spec, "seeded", 0, started_at=T0 + timedelta(minutes=11), error=True)
    store.add_run(failing, failed)
    add_seeded_runs(store, spec, [("t", "fp_a", 12)])
    # Another model and another host are separate series.
    add_seeded_runs(store, seeded_spec(model="n"), [("t", "fp_a", 1)])
    add_seeded_runs(store, spec, [("t", "fp_q", 1)], host="other:1")

    spans = store.fingerprint_changes(model="m")
    described = [
        (s.base_url_host, s.system_fingerprint, s.runs, s.first_seen, s.last_seen) for s in spans
    ]
    minute = timedelta(minutes=1)
    assert described == [
        (None, "fp_a", 2, T0, T0 + minute),
        (None, "fp_b", 1, T0 + 2 * minute, T0 + 2 * minute),
        (None, None, 2, T0 + 3 * minute, T0 + 4 * minute),
        (None, "fp_a", 2, T0 + 10 * minute, T0 + 12 * minute),
        ("other:1", "fp_q", 1, T0 + minute, T0 + minute),
    ]
    assert [(s.model, s.runs) for s in store.fingerprint_changes(model="n")] == [("n", 1)]
    windowed = store.fingerprint_changes(model="m", since=T0 + 2 * minute, until=T0 + 5 * minute)
    assert [(s.system_fingerprint, s.runs) for s in windowed] == [("fp_b", 1), (None, 2)]
    assert len(store.fingerprint_changes()) == 6


def add_runs_on_hosts(store, items, *, model="m"):
    """items: (host, fingerprint, minutes after T0) per successful run, each in an experiment
    of its own (the host belongs to the experiment), stored in the order given."""
    spec = seeded_spec(runs=1, model=model)
    for host, fingerprint, minutes in items:
        add_seeded_runs(store, spec, [("t", fingerprint, minutes)], host=host)


def described(events):
    """(host, from, to, minutes after T0, runs before, runs after) per change event."""
    return [
        (
            e.base_url_host,
            e.previous_fingerprint,
            e.system_fingerprint,
            (e.started_at - T0) / timedelta(minutes=1),
            e.runs_before,
            e.runs_after,
        )
        for e in events
    ]


# Worked rows of the change-event definition (seedscope.fingerprints): the runs of one
# provider and model, as (host, fingerprint, minute), and the events they make.
CHANGE_CASES = {
    "same host, fp_a -> fp_b: one event": (
        [("h:1", "fp_a", 0), ("h:1", "fp_a", 1), ("h:1", "fp_b", 2)],
        [("h:1", "fp_a", "fp_b", 2, 2, 1)],
    ),
    "another host is a new series, not a change": (
        [("h:1", "fp_a", 0), ("h:2", "fp_b", 1), ("h:3", None, 2)],
        [],
    ),
    "a fingerprint, then not reported: an event": (
        [("h:1", "fp_a", 0), ("h:1", None, 1)],
        [("h:1", "fp_a", None, 1, 1, 1)],
    ),
    "not reported, then a fingerprint: an event": (
        [("h:1", None, 0), ("h:1", "fp_a", 1)],
        [("h:1", None, "fp_a", 1, 1, 1)],
    ),
    "not reported twice: no event": (
        [("h:1", None, 0), ("h:1", None, 1)],
        [],
    ),
    "no host recorded is a series too": (
        [(None, "fp_a", 0), ("h:1", "fp_b", 1), (None, "fp_b", 2)],
        [(None, "fp_a", "fp_b", 2, 1, 1)],
    ),
    # Each host is compared with its own previous run, however the runs interleave in time.
    "interleaved hosts, by time": (
        [
            ("h:1", "fp_a", 0),
            ("h:2", "fp_b", 1),
            ("h:1", "fp_a", 2),
            ("h:2", "fp_c", 3),
            ("h:1", "fp_b", 4),
            ("h:2", "fp_c", 5),
        ],
        [("h:2", "fp_b", "fp_c", 3, 1, 2), ("h:1", "fp_a", "fp_b", 4, 2, 1)],
    ),
    # Stored out of time order: time decides what "previous" is, not storage order.
    "stored late, compared by time": (
        [("h:1", "fp_b", 5), ("h:1", "fp_a", 0), ("h:1", "fp_a", 1)],
        [("h:1", "fp_a", "fp_b", 5, 2, 1)],
    ),
}


@pytest.mark.parametrize("case", CHANGE_CASES)
def test_fingerprint_change_events_worked_rows(store, case):
    items, expected = CHANGE_CASES[case]
    add_runs_on_hosts(store, items)
    spans, events = store.fingerprint_history()
    assert described(events) == expected
    assert (store.fingerprint_changes(), store.fingerprint_events()) == (spans, events)
    # The spans are the same definition: one more span per series than it has events, and
    # each event's runs before and after are the runs of the spans on either side of it.
    series = {(s.provider, s.model, s.base_url_host) for s in spans}
    assert len(spans) == len(series) + len(events)
    by_start = {(s.base_url_host, s.first_seen): s for s in spans}
    for event in events:
        assert by_start[(event.base_url_host, event.started_at)].runs == event.runs_after


def test_fingerprint_a_to_b_to_not_reported_to_a_is_three_events_another_host_a_series(store):
    """The history of issue 11: openai/echo reports fp_a, fp_b, nothing, fp_a on one host,
    and fp_a on a second host; the page said "0 change events"."""
    add_runs_on_hosts(
        store,
        [
            ("127.0.0.1:8001", "fp_a", 0),
            ("127.0.0.1:8001", "fp_a", 1),
            ("127.0.0.1:8002", "fp_a", 2),
            ("127.0.0.1:8001", "fp_b", 3),
            ("127.0.0.1:8001", None, 4),
            ("127.0.0.1:8002", "fp_a", 5),
            ("127.0.0.1:8001", "fp_a", 6),
        ],
        model="echo",
    )
    events = store.fingerprint_events()
    assert described(events) == [
        ("127.0.0.1:8001", "fp_a", "fp_b", 3, 2, 1),
        ("127.0.0.1:8001", "fp_b", None, 4, 1, 1),
        ("127.0.0.1:8001", None, "fp_a", 6, 1, 1),
    ]
    first = events[0]
    assert (first.provider, first.model) == ("openai", "echo")
    assert first.series == "openai/echo @ 127.0.0.1:8001"
    assert first.previous_seen == T0 + timedelta(minutes=1)
    assert first.started_at.tzinfo is not None and first.previous_seen.tzinfo is not None
    assert first.to_dict()["started_at"] == (T0 + timedelta(minutes=3)).isoformat()
    assert first.describe() == "fp_a → fp_b" and events[1].describe() == "fp_b → not reported"
    spans = store.fingerprint_changes()
    assert [(s.base_url_host, s.system_fingerprint, s.runs) for s in spans] == [
        ("127.0.0.1:8001", "fp_a", 2),
        ("127.0.0.1:8001", "fp_b", 1),
        ("127.0.0.1:8001", None, 1),
        ("127.0.0.1:8001", "fp_a", 1),
        ("127.0.0.1:8002", "fp_a", 2),
    ]


def test_fingerprint_events_skip_failed_runs_and_follow_the_filters(store):
    spec = seeded_spec(runs=1)
    add_runs_on_hosts(store, [("h:1", "fp_a", 0), ("h:1", "fp_b", 3), ("h:1", "fp_b", 5)])
    # A failed run reports no fingerprint: it is neither "not reported" nor a change.
    failing = store.create_experiment(spec, base_url_host="h:1")
    failed = make_completion(spec, "seeded", 0, started_at=T0 + timedelta(minutes=1), error=True)
    store.add_run(failing, failed)
    add_runs_on_hosts(store, [("h:1", "fp_x", 2)], model="n")  # another model: its own series

    assert described(store.fingerprint_events(model="m")) == [("h:1", "fp_a", "fp_b", 3, 1, 2)]
    assert described(store.fingerprint_events(model="n")) == []
    assert len(store.fingerprint_events(provider="openai")) == 1
    assert store.fingerprint_events(provider="local") == []
    # Within a time range the first run inside it starts the series: no event before it.
    minute = timedelta(minutes=1)
    assert store.fingerprint_events(since=T0 + 3 * minute) == []
    assert described(store.fingerprint_events(until=T0 + 4 * minute, model="m")) == [
        ("h:1", "fp_a", "fp_b", 3, 1, 1)
    ]
    with pytest.raises(TypeError, match="unexpected filter modle"):
        store.fingerprint_events(modle="m")


def test_fingerprint_events_of_runs_at_the_same_time_follow_storage_order(store):
    spec = seeded_spec(runs=3)
    experiment_id = store.create_experiment(spec, base_url_host="h:1")
    for index, fingerprint in enumerate(["fp_a", "fp_b", "fp_a"]):
        run = make_completion(spec, "seeded", index, fingerprint=fingerprint, started_at=T0)
        store.add_run(experiment_id, run)
    assert [e.describe() for e in store.fingerprint_events()] == ["fp_a → fp_b", "fp_b → fp_a"]


def test_drift_series_marks_same_and_changed_text_per_fixed_request(store):
    spec = seeded_spec(runs=4)
    add_seeded_runs(store, spec, [("sun", "fp_a", 0), ("sun", "fp_a", 1)])
    add_seeded_runs(store, spec, [("sun", "fp_b", 5), ("moon", "fp_b", 6)])
    # Same prompt, different temperature: another request, another series.
    warm = seeded_spec(runs=1, temperature=0.5)
    add_seeded_runs(store, warm, [("x", "fp_a", 2)])
    # Unseeded runs and failed runs are not part of any drift series.
    unseeded = make_spec(
        provider="openai",
        model="m",
        arms=[{"label": "unseeded", "seed": None, "temperature": 0.0, "runs": 3}],
    )
    store_spec_runs(store, unseeded)
    failing = store.create_experiment(spec, base_url_host=None)
    store.add_run(
        failing,
        make_completion(spec, "seeded", 0, started_at=T0 + timedelta(minutes=3), error=True),
    )

    points = store.drift_series(model="m")
    key = request_key(
        provider="openai",
        base_url_host=None,
        model="m",
        prompt="Say hi.",
        system=spec.system,
        seed=7,
        temperature=0.0,
        top_p=1.0,
        max_tokens=spec.max_tokens,
    )
    series = [p for p in points if p.request_key == key]
    assert [(p.status, p.fingerprint_changed, p.text_preview) for p in series] == [
        ("first", None, "sun"),
        ("same", False, "sun"),
        ("same", True, "sun"),
        ("changed", False, "moon"),
    ]
    assert [p.same_text for p in series] == [None, True, True, False]
    assert series[2].previous_fingerprint == "fp_a" and series[2].system_fingerprint == "fp_b"
    assert series[3].previous_started_at == series[2].started_at
    assert (series[0].prompt, series[0].seed, series[0].temperature) == ("Say hi.", 7, 0.0)
    others = [p for p in points if p.request_key != key]
    assert [(p.temperature, p.status) for p in others] == [(0.5, "first")]
    assert all(p.seed is not None for p in points)

    # The time range applies after comparing: the first run inside it is still compared
    # with the run before it.
    late = store.drift_series(model="m", since=T0 + timedelta(minutes=5))
    assert [(p.status, p.fingerprint_changed) for p in late] == [("same", True), ("changed", False)]
    assert [p.status for p in store.drift_series(request_key=key)] == [
        "first",
        "same",
        "same",
        "changed",
    ]


def test_every_part_of_the_fixed_request_starts_its_own_drift_series(store):
    base = seeded_spec(runs=1)
    variants = {
        "prompt": seeded_spec(runs=1, prompt="Say bye."),
        "system": base.model_copy(update={"system": "Be brief."}),
        "model": seeded_spec(runs=1, model="m2"),
        "seed": seeded_spec(runs=1, seed=8),
        "temperature": seeded_spec(runs=1, temperature=0.5),
        "top_p": base.model_copy(update={"top_p": 0.9}),
        "max_tokens": base.model_copy(update={"max_tokens": base.max_tokens + 1}),
        "provider": base.model_copy(update={"provider": "local"}),
    }
    first_id = add_seeded_runs(store, base, [("same text", "fp", 0)])
    for minutes, variant in enumerate(variants.values(), start=1):
        add_seeded_runs(store, variant, [("same text", "fp", minutes)])
    add_seeded_runs(store, base, [("same text", "fp", 1)], host="elsewhere:1")
    last_id = add_seeded_runs(store, base, [("same text", "fp", 30)])

    points = store.drift_series()
    by_key: dict[str, list] = {}
    for point in points:
        by_key.setdefault(point.request_key, []).append(point)
    assert len(by_key) == 1 + len(variants) + 1  # the base, each variant, the other host
    (base_series,) = [s for s in by_key.values() if s[0].experiment_id == first_id]
    assert [(p.status, p.experiment_id) for p in base_series] == [
        ("first", first_id),
        ("same", last_id),
    ]
    others = [s for s in by_key.values() if s is not base_series]
    assert all([p.status for p in series] == ["first"] for series in others)


def test_drift_keys_separate_hosts_and_previews_are_short(store):
    spec = seeded_spec(runs=1)
    long_text = "word " * 200
    add_seeded_runs(store, spec, [(long_text, "fp", 0)], host="a:1")
    add_seeded_runs(store, spec, [(long_text, "fp", 1)], host="b:1")
    points = store.drift_series()
    assert [(p.base_url_host, p.status) for p in points] in (
        [("a:1", "first"), ("b:1", "first")],
        [("b:1", "first"), ("a:1", "first")],
    )
    assert all(len(p.text_preview) == 200 for p in points)


def sqlite_plan(path, query) -> list[str]:
    """SQLite's EXPLAIN QUERY PLAN lines for a store query (parameter values do not matter)."""
    compiled = query.compile(dialect=sqlite_dialect.dialect())
    parameters = ["x" for _ in compiled.positiontup]
    connection = sqlite3.connect(path)
    try:
        plan = connection.execute(f"EXPLAIN QUERY PLAN {compiled}", parameters).fetchall()
    finally:
        connection.close()
    return [row[-1] for row in plan]


def test_history_timeline_and_drift_queries_are_served_by_indexes(tmp_path):
    path = tmp_path / "history.db"
    Store(f"sqlite:///{path}").close()
    week = {"since": T0, "until": T0 + timedelta(days=7)}
    expected = {
        "ix_experiments_created_at": history_query(),
        "ix_experiments_provider_model_created_at": history_query(provider="p", model="m"),
        "ix_runs_provider_model_started_at": timeline_query(provider="p", model="m", **week),
        "ix_runs_started_at": timeline_query(**week),
        "ix_runs_request_key_started_at": drift_query(request_key="k"),
    }
    for index, query in expected.items():
        plan = sqlite_plan(path, query)
        assert any(f"USING INDEX {index}" in line for line in plan), (index, plan)


# -- embedding cache ------------------------------------------------------------------------


def test_embedding_cache_round_trip(store):
    rng = np.random.default_rng(0)
    vectors = {f"{index:064x}": rng.standard_normal(384) for index in range(1200)}
    store.put_vectors("minilm", vectors)
    hashes = list(vectors) + ["f" * 64]
    found = store.get_vectors("minilm", hashes)
    assert set(found) == set(vectors)
    for digest, vector in vectors.items():
        assert found[digest].dtype == np.float32
        np.testing.assert_array_equal(found[digest], vector.astype(np.float32))
    assert store.get_vectors("other-embedder", hashes) == {}
    assert store.get_vectors("minilm", []) == {}

    first = next(iter(vectors))
    store.put_vectors("minilm", {first: np.ones(3)})  # replaced, with its new dimension
    np.testing.assert_array_equal(store.get_vectors("minilm", [first])[first], np.ones(3))
    found[first][0] = 42.0  # returned arrays are writable copies
    with pytest.raises(ValueError, match="1-D"):
        store.put_vectors("minilm", {"a" * 64: np.ones((2, 2))})


def test_embedding_cache_survives_reopening(url):
    with Store.open(url) as first:
        first.put_vectors("e", {"a" * 64: np.array([0.5, -1.25], dtype=np.float64)})
    with Store.open(url) as second:
        np.testing.assert_array_equal(
            second.get_vectors("e", ["a" * 64])["a" * 64], np.array([0.5, -1.25], np.float32)
        )


# -- start-up recovery ----------------------------------------------------------------------

CREATE_AND_EXIT = """
import sys
from seedscope.providers.base import utc_now
from seedscope.store import Store
from tests.store_support import make_completion, make_spec
spec = make_spec()
store = Store(sys.argv[1])
experiment_id = store.create_experiment(spec, base_url_host=None)
store.add_run(experiment_id, make_completion(spec, "seeded", 0, started_at=utc_now()))
print(experiment_id)
"""


def test_open_with_recover_marks_experiments_of_dead_processes_interrupted(url):
    result = subprocess.run(
        [sys.executable, "-c", CREATE_AND_EXIT, url],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    orphan = result.stdout.strip()
    with Store(url) as store:  # no recovery: left alone
        assert store.load_experiment(orphan).status == "running"
        mine = store.create_experiment(make_spec(), base_url_host=None)
    with Store.open(url) as store:
        assert store.load_experiment(orphan).status == "interrupted"
        assert store.load_experiment(orphan).summary.runs == 1
        summary = store.load_experiment(orphan).summary
        assert summary.created_at <= summary.finished_at <= utc_now()  # its last activity
        assert store.load_experiment(mine).status == "running"  # this process is alive


def test_recover_treats_other_hosts_by_inactivity(url):
    with Store(url) as store:
        stale = store.create_experiment(make_spec(), base_url_host=None)
        fresh = store.create_experiment(make_spec(), base_url_host=None)
    engine = create_engine(resolve_url(url))
    with engine.begin() as connection:
        connection.execute(update(experiments).values(owner_host="another-host", owner_pid=1))
        connection.execute(
            update(experiments)
            .where(experiments.c.id == stale)
            .values(created_at=utc_now() - timedelta(hours=7))
        )
    engine.dispose()
    with Store(url) as store:
        assert store.recover_interrupted() == [stale]
        assert store.load_experiment(fresh).status == "running"
        assert store.recover_interrupted(stale_after=timedelta(0)) == [fresh]


# -- migrations -----------------------------------------------------------------------------


def test_new_database_is_at_head_and_matches_the_table_definitions(store, url):
    engine = create_engine(resolve_url(url))
    try:
        assert current_revision(engine) == head_revision() == "0007"
        with engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), metadata)
        assert differences == []
    finally:
        engine.dispose()


def test_upgrade_from_the_initial_revision_keeps_data_and_fills_request_keys(url):
    engine = create_engine(resolve_url(url))
    upgrade(engine, "0001")
    assert current_revision(engine) == "0001"
    spec = seeded_spec(runs=2)
    old_runs = [
        make_completion(spec, "seeded", 0, text="same", started_at=T0),
        make_completion(spec, "seeded", 1, text="same", started_at=T0 + timedelta(minutes=1)),
    ]
    with engine.begin() as connection:
        # Written with the columns of revision 0001 only (runs had no request_key yet).
        connection.execute(
            insert(experiments).values(
                id="old1",
                created_at=T0,
                status="complete",
                prompt=spec.prompt,
                system_prompt=spec.system,
                provider="openai",
                model="m",
                base_url_host="h:9",
                spec_json=spec.model_dump_json(),
            )
        )
        later = ("id", "request_key", "case_id", "tokens", "base_url_host")  # later revisions
        old_columns = [c.name for c in runs.c if c.name not in later]
        for completion in old_runs:
            values = completion.to_dict() | {"experiment_id": "old1"}
            values["started_at"] = completion.started_at
            connection.execute(insert(runs).values({name: values[name] for name in old_columns}))
        connection.execute(
            insert(embedding_cache).values(
                embedder_id="old-embedder",
                text_sha256="ab" * 32,
                dim=2,
                vector=np.array([1.5, -2.0], dtype="<f4").tobytes(),
            )
        )
    engine.dispose()

    with Store.open(url) as store:
        engine = create_engine(resolve_url(url))
        assert current_revision(engine) == head_revision()
        with engine.connect() as connection:
            keys = connection.execute(select(runs.c.request_key)).scalars().all()
        engine.dispose()
        expected = request_key(
            provider="openai",
            base_url_host="h:9",
            model="m",
            prompt=spec.prompt,
            system=spec.system,
            seed=7,
            temperature=0.0,
            top_p=1.0,
            max_tokens=spec.max_tokens,
        )
        assert keys == [expected, expected]
        loaded = store.load_experiment("old1")
        assert loaded.spec == spec and loaded.status == "complete"
        assert loaded.completions == old_runs  # every field of every run, unchanged
        assert (loaded.summary.created_at, loaded.summary.base_url_host) == (T0, "h:9")
        assert store.get_vectors("old-embedder", ["ab" * 32])["ab" * 32].tolist() == [1.5, -2.0]
        assert [p.status for p in store.drift_series()] == ["first", "same"]
        # New runs of the same request join the migrated series.
        add_seeded_runs(store, spec, [("other", "fp_a", 5)], host="h:9")
        assert [p.status for p in store.drift_series()] == ["first", "same", "changed"]


def test_every_experiment_status_is_accepted_and_any_other_refused_by_the_database(store, url):
    """The CHECK constraint itself (the migrated one), not Store.finish_experiment's guard."""
    spec = make_spec()
    experiment_id = store.create_experiment(spec, base_url_host=None)
    engine = create_engine(resolve_url(url))
    try:
        for status in EXPERIMENT_STATUSES:
            with engine.begin() as connection:
                connection.execute(update(experiments).values(status=status))
            assert store.load_experiment(experiment_id).status == status
        with pytest.raises(IntegrityError), engine.begin() as connection:
            connection.execute(update(experiments).values(status="exploded"))
    finally:
        engine.dispose()


def test_upgrade_from_revision_0002_keeps_every_run_and_allows_failed(url):
    """0003 rebuilds `experiments` on SQLite: its runs (which reference it with ON DELETE
    CASCADE) must all survive, and so must the experiments' fields and indexes."""
    engine = create_engine(resolve_url(url))
    upgrade(engine, "0002")
    spec = make_spec()
    stored_runs = {
        experiment_id: [
            make_completion(spec, arm.label, index) for arm in spec.arms for index in range(2)
        ]
        for experiment_id in ("old-complete", "old-interrupted")
    }
    with engine.begin() as connection:
        # Rows as Seedscope wrote them at 0002 (no case ids: those came with 0004).
        for experiment_id, completions in stored_runs.items():
            connection.execute(
                insert(experiments).values(
                    id=experiment_id,
                    created_at=T0,
                    finished_at=T0 + timedelta(minutes=1),
                    status=experiment_id.removeprefix("old-"),
                    prompt=spec.prompt,
                    system_prompt=spec.system,
                    provider=spec.provider,
                    model=spec.model,
                    base_url_host="h:9",
                    spec_json=spec.model_dump_json(),
                )
            )
            for completion in completions:
                values = completion.to_dict() | {"experiment_id": experiment_id}
                values["started_at"] = completion.started_at
                del values["case_id"], values["tokens"], values["base_url_host"]  # later
                connection.execute(insert(runs).values(values | {"request_key": "k" * 64}))
    engine.dispose()

    with Store.open(url) as store:
        engine = create_engine(resolve_url(url))
        try:
            assert current_revision(engine) == head_revision()
            with engine.connect() as connection:
                differences = compare_metadata(MigrationContext.configure(connection), metadata)
                (run_count,) = connection.execute(text("SELECT count(*) FROM runs")).one()
        finally:
            engine.dispose()
        assert differences == []
        assert run_count == 8
        for experiment_id, completions in stored_runs.items():
            loaded = store.load_experiment(experiment_id)
            assert loaded.status == experiment_id.removeprefix("old-")
            assert loaded.spec == spec and loaded.summary.created_at == T0
            assert sorted(loaded.completions, key=lambda c: (c.arm_label, c.run_index)) == sorted(
                completions, key=lambda c: (c.arm_label, c.run_index)
            )
        store.finish_experiment("old-interrupted", "failed")
        assert store.load_experiment("old-interrupted").status == "failed"
        with pytest.raises(StoreError, match="saving a run"):  # still stored at most once
            store.add_run("old-complete", make_completion(spec, "seeded", 0))
        # Deleting still cascades: the rebuilt table kept its foreign key.
        assert store.delete_experiment("old-complete")
        assert store.load_experiment("old-interrupted").summary.runs == 4
        assert store.count_experiments() == 1


def test_upgrade_from_revision_0003_keeps_every_run_and_stores_suites(url):
    """0004 rebuilds both tables on SQLite and widens the unique key of runs to the case:
    existing runs survive as plain experiments with no case, still stored at most once."""
    engine = create_engine(resolve_url(url))
    upgrade(engine, "0003")
    spec = make_spec()
    old_runs = [make_completion(spec, arm.label, index) for arm in spec.arms for index in range(3)]
    later = ("id", "case_id", "tokens", "base_url_host")  # columns of later revisions
    old_columns = [c.name for c in runs.c if c.name not in later]
    with engine.begin() as connection:
        # Rows as Seedscope wrote them at 0003 (no kind, no case id).
        connection.execute(
            insert(experiments).values(
                id="old",
                created_at=T0,
                finished_at=T0 + timedelta(minutes=1),
                status="failed",
                prompt=spec.prompt,
                system_prompt=spec.system,
                provider=spec.provider,
                model=spec.model,
                base_url_host="h:9",
                spec_json=spec.model_dump_json(),
            )
        )
        for completion in old_runs:
            values = completion.to_dict() | {"experiment_id": "old", "request_key": "k" * 64}
            values["started_at"] = completion.started_at
            connection.execute(insert(runs).values({name: values[name] for name in old_columns}))
    engine.dispose()

    with Store.open(url) as store:
        engine = create_engine(resolve_url(url))
        try:
            assert current_revision(engine) == head_revision() == "0007"
            with engine.connect() as connection:
                differences = compare_metadata(MigrationContext.configure(connection), metadata)
                stored = connection.execute(
                    select(runs.c.case_id, runs.c.request_key).distinct()
                ).all()
        finally:
            engine.dispose()
        assert differences == []  # columns, constraints and indexes as the schema says
        assert stored == [("", "k" * 64)]  # every old run: no case, its key kept
        loaded = store.load_experiment("old")
        assert (loaded.kind, loaded.status, loaded.spec) == ("experiment", "failed", spec)
        assert loaded.summary.created_at == T0
        assert loaded.completions == old_runs  # every field of every run, case id None
        with pytest.raises(StoreError, match="saving a run"):  # still stored at most once
            store.add_run("old", old_runs[0])
        suite = make_suite_spec()
        suite_id = store.create_experiment(suite, base_url_host=None)
        for case in suite.cases:
            store.add_run(suite_id, make_case_completion(suite, case.id, "seeded", 0))
        assert [c.case_id for c in store.load_experiment(suite_id).completions] == ["q1", "q2"]
        assert store.delete_experiment("old")
        assert [s.id for s in store.list_experiments()] == [suite_id]


def test_reopening_keeps_data_and_does_not_migrate_again(url):
    with Store.open(url) as store:
        experiment_id = store_spec_runs(store, make_spec())
    with Store.open(url) as store:
        assert store.load_experiment(experiment_id).summary.runs == 6
        engine = create_engine(resolve_url(url))
        with engine.connect() as connection:
            versions = connection.execute(text("SELECT version_num FROM alembic_version")).all()
        engine.dispose()
        assert versions == [(head_revision(),)]


def test_database_from_a_newer_version_is_refused_with_a_clear_message(url):
    Store(url).close()
    engine = create_engine(resolve_url(url))
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    engine.dispose()
    with pytest.raises(StoreError, match="newer Seedscope.*SEEDSCOPE_DATABASE_URL"):
        Store(url)
