"""lib/capabilities.py: the backend capability table, filled from checks run for real against
two of the project's test servers (one honest with a fingerprint, one that ignores the seed,
changes its output under load and returns no logprobs), with the newest check winning and
"never checked" where none ran; and the fingerprint columns against a hand-built history
(A -> B -> not reported -> A: 3 change events, the Fingerprints page's count)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from seedscope.capabilities import (
    BACKEND,
    CHANGES,
    FINGERPRINT,
    HOST,
    LOAD,
    LOGPROBS,
    LOGPROBS_CHANGE,
    LOGPROBS_CHECKED,
    NEVER_CHECKED,
    SEED,
    SEED_CHECKED,
    TABLE_COLUMNS,
    capability_table,
    logprobs_supported,
    table_row,
)
from seedscope.checks import (
    check_history,
    load_probe_spec,
    logprobs_check_spec,
    run_load_probe,
    run_logprobs_check,
    run_seed_check,
    seed_check_spec,
)
from seedscope.providers.openai_compat import OpenAICompatProvider
from seedscope.spec import ExperimentSpec
from seedscope.store import Store

from tests.store_support import T0, make_completion, make_spec

REMOTE = ExperimentSpec(provider="openai", model="fake-model", max_tokens=8)


def remote(server) -> OpenAICompatProvider:
    return OpenAICompatProvider(api_key=None, base_url=server.base_url, model="fake-model")


@pytest.fixture
def store(tmp_path):
    with Store.open(f"sqlite:///{tmp_path / 'history.db'}") as opened:
        yield opened


def by_host(rows):
    return {row.base_url_host: row for row in rows}


def test_each_column_for_two_hosts_from_real_checks(fake_server_factory, store):
    honest = fake_server_factory("--fingerprint", "fp_a")
    sloppy = fake_server_factory(
        "--ignore-seed", "--load-dependent", "1", "--no-logprobs", "--latency", "0.2"
    )
    honest_seed = run_seed_check(store, seed_check_spec(REMOTE, runs=2), remote(honest))
    honest_logprobs = run_logprobs_check(store, logprobs_check_spec(REMOTE, runs=2), remote(honest))
    run_seed_check(store, seed_check_spec(REMOTE, runs=2), remote(sloppy))
    # Two logprobs checks of one backend: at T=1 a server that ignores the seed does not repeat
    # itself (inconclusive); the newer one at T=0 does, and it is the one the table shows.
    older = run_logprobs_check(store, logprobs_check_spec(REMOTE, runs=2), remote(sloppy))
    newer = run_logprobs_check(
        store, logprobs_check_spec(REMOTE, runs=2, temperature=0.0), remote(sloppy)
    )
    load = run_load_probe(
        store, load_probe_spec(REMOTE, runs=2, copies=2, background=1), remote(sloppy)
    )
    assert (older.verdict, newer.verdict) == ("inconclusive", "logprobs_do_not_change_outputs")
    assert load.verdict == "load_dependent", load.evidence["explanation"]

    rows = capability_table(store)
    host_a, host_b = f"127.0.0.1:{honest.port}", f"127.0.0.1:{sloppy.port}"
    assert [row.backend for row in rows] == sorted(
        [("openai", "fake-model", host_a), ("openai", "fake-model", host_b)]
    )
    a, b = by_host(rows)[host_a], by_host(rows)[host_b]
    experiments = {s.id: s for s in store.list_experiments(limit=100)}

    assert (a.seed_honoured, a.seed_verdict) == ("yes", "seed_honoured")
    assert a.seed_experiment_id == honest_seed.experiment_id
    assert a.seed_checked_at == experiments[honest_seed.experiment_id].created_at
    assert (a.fingerprint_reported, a.fingerprints, a.latest_fingerprint) == (
        "yes",
        ["fp_a"],
        "fp_a",
    )
    assert (a.runs, a.fingerprint_runs) == (6 + 4, 10)
    assert (a.fingerprint_changes, a.fingerprint_ever_changed) == (0, False)
    assert (a.logprobs_supported, a.logprobs_returned_runs, a.logprobs_asked_runs) == ("yes", 2, 2)
    assert a.logprobs_change_outputs == "no"
    assert a.logprobs_experiment_id == honest_logprobs.experiment_id
    assert (a.load_invariant, a.load_verdict, a.load_checked_at) == (None, None, None)

    assert (b.seed_honoured, b.seed_verdict) == ("no", "seed_ignored")
    assert (b.fingerprint_reported, b.fingerprints, b.fingerprint_changes) == ("no", [None], 0)
    assert b.runs == 6 + 8 + (2 + 2 + 2 + 2)
    assert (b.logprobs_supported, b.logprobs_returned_runs, b.logprobs_asked_runs) == ("no", 0, 2)
    assert (b.logprobs_change_outputs, b.logprobs_verdict) == (
        "no",
        "logprobs_do_not_change_outputs",
    )
    assert b.logprobs_experiment_id == newer.experiment_id  # the newest check wins
    assert b.logprobs_checked_at == experiments[newer.experiment_id].created_at
    assert b.logprobs_checked_at > experiments[older.experiment_id].created_at
    assert len(check_history(store, kind="logprobs")) == 3  # the older one is still stored
    assert (b.load_invariant, b.load_verdict) == ("no", "load_dependent")
    assert b.load_experiment_id == load.experiment_id

    # As shown: words, "never checked" where no check exists, times as they are.
    shown_a, shown_b = table_row(a), table_row(b)
    assert list(shown_a) == list(TABLE_COLUMNS)
    assert (shown_a[BACKEND], shown_a[HOST]) == ("openai/fake-model", host_a)
    assert (shown_a[SEED], shown_a[SEED_CHECKED]) == ("yes", a.seed_checked_at)
    assert (shown_a[FINGERPRINT], shown_a[CHANGES]) == ("yes", "no")
    assert (shown_a[LOGPROBS], shown_a[LOGPROBS_CHANGE]) == ("yes (2 of 2)", "no")
    assert shown_a[LOAD] == NEVER_CHECKED == "never checked"
    assert (shown_b[SEED], shown_b[LOGPROBS], shown_b[LOAD]) == ("no", "no (0 of 2)", "no")
    assert shown_b[LOGPROBS_CHECKED] == b.logprobs_checked_at

    # JSON-ready: every field a plain value, times in ISO 8601.
    data = json.loads(json.dumps(a.to_dict()))
    assert data["base_url_host"] == host_a
    assert data["seed_checked_at"] == a.seed_checked_at.isoformat()
    assert data["load_checked_at"] is None
    assert data["fingerprints"] == ["fp_a"]


def test_an_inconclusive_seed_check_and_a_failing_backend(fake_server, store):
    # Every call fails: the checks are stored (inconclusive), the backend has no successful run.
    failing = REMOTE.model_copy(update={"model": "fault-500"})
    provider = OpenAICompatProvider(api_key=None, base_url=fake_server.base_url, max_retries=0)
    run_seed_check(store, seed_check_spec(failing, runs=2), provider)
    run_logprobs_check(store, logprobs_check_spec(failing, runs=2), provider)
    (row,) = capability_table(store)
    assert (row.model, row.seed_honoured, row.seed_verdict) == (
        "fault-500",
        "inconclusive",
        "inconclusive",
    )
    assert (row.runs, row.fingerprint_reported, row.last_run_at) == (0, None, None)
    assert (row.logprobs_supported, row.logprobs_asked_runs) == ("inconclusive", 0)
    shown = table_row(row)
    assert (shown[FINGERPRINT], shown[CHANGES], shown[LOGPROBS]) == (
        "no successful runs",
        "–",
        "inconclusive",
    )


def test_fingerprint_changes_count_as_on_the_fingerprints_page(store):
    """A -> B -> not reported -> A on one host is 3 change events; another host reporting A
    throughout is a series of its own with none; the embedded model shows as "embedded"."""
    spec = make_spec(provider="openai", model="echo", arms=[ARM])
    history = [("h:1", "fp_a"), ("h:2", "fp_a"), ("h:1", "fp_b"), ("h:1", None), ("h:1", "fp_a")]
    for hours, (host, fingerprint) in enumerate(history):
        experiment_id = store.create_experiment(spec, base_url_host=host)
        at = T0 + timedelta(hours=hours)
        store.add_run(
            experiment_id,
            make_completion(spec, "seeded", 0, fingerprint=fingerprint, started_at=at),
        )
        store.finish_experiment(experiment_id, "complete")
    local = make_spec(arms=[ARM])
    experiment_id = store.create_experiment(local, base_url_host=None)
    store.add_run(experiment_id, make_completion(local, "seeded", 0, fingerprint="fp_local"))
    store.finish_experiment(experiment_id, "complete")

    rows = capability_table(store)
    assert [row.backend for row in rows] == [
        ("local", "SmolLM2-135M-Instruct", None),
        ("openai", "echo", "h:1"),
        ("openai", "echo", "h:2"),
    ]
    embedded, first, second = rows
    events = store.fingerprint_events()
    assert len(events) == 3  # the page's count
    assert (first.fingerprint_changes, first.fingerprint_ever_changed) == (3, True)
    assert (first.fingerprint_reported, first.fingerprint_runs, first.runs) == ("partly", 3, 4)
    assert first.fingerprints == ["fp_a", "fp_b", None]
    assert first.latest_fingerprint == "fp_a"
    assert first.last_run_at == T0 + timedelta(hours=4)
    assert (second.fingerprint_changes, second.fingerprint_reported) == (0, "yes")
    assert (embedded.base_url_host, embedded.host_label) == (None, "embedded")
    assert embedded.fingerprint_reported == "yes"

    shown = table_row(first)
    assert shown[CHANGES] == "yes (3 change events)"
    assert shown[FINGERPRINT] == "partly"
    assert all(shown[column] == NEVER_CHECKED for column in (SEED, LOGPROBS, LOAD))
    assert shown[SEED_CHECKED] is None
    assert table_row(embedded)[HOST] == "embedded"


ARM = {"label": "seeded", "seed": 123, "temperature": 0.0, "runs": 1}


@pytest.mark.parametrize(
    ("returned", "asked", "answer"),
    [(3, 3, "yes"), (0, 3, "no"), (1, 3, "partly"), (0, 0, "inconclusive")],
)
def test_logprobs_supported_from_the_runs_that_asked(returned, asked, answer):
    assert logprobs_supported(returned, asked) == answer


def test_an_empty_history_has_no_rows(store):
    assert capability_table(store) == []
