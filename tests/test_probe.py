"""lib/probe.py: probe runs that are stored and compared with the
previous run: on the embedded model (tiny max_tokens) and on the fake OpenAI-compatible server
restarted with another fingerprint / another output (real drift, no doctored data)."""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path

import pytest
from seedscope.probe import load_probe_config, parse_probe_config, run_probes
from seedscope.providers.factory import make_provider
from seedscope.settings import Settings
from seedscope.store import Store

from tests.helpers import free_port, start_fake_server


@pytest.fixture
def store(tmp_path):
    with Store.open(f"sqlite:///{tmp_path / 'probes.db'}") as opened:
        yield opened


def write_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "probes.toml"
    path.write_text(text)
    return path


# -- running on the embedded model ----------------------------------------------------------

LOCAL_PROBES = """
[defaults]
provider = "local"
runs = 2
max_tokens = 4

[[probe]]
name = "seeded"
prompt = "Name a planet."
seed = 42

[[probe]]
name = "unseeded"
prompt = "Name a planet."
temperature = 1.0
"""


def test_local_probes_are_stored_and_compared_with_their_previous_run(tmp_path, store):
    config = load_probe_config(write_config(tmp_path, LOCAL_PROBES))
    settings = Settings()
    events: list[tuple[str, int]] = []

    first = run_probes(
        config, settings, store, make_provider, on_progress=lambda n, e: events.append((n, e.done))
    )
    assert [r.status for r in first] == ["complete", "complete"]
    assert events == [("seeded", 1), ("seeded", 2), ("unseeded", 1), ("unseeded", 2)]
    for result in first:
        assert result.previous_experiment_id is None
        assert (result.outputs_changed, result.fingerprint_changed, result.drifted) == (
            None,
            None,
            False,
        )
        stored = store.load_experiment(result.experiment_id)
        assert stored.status == "complete" and stored.summary.label == result.name
        assert len(stored.completions) == 2 and all(c.ok for c in stored.completions)
        assert stored.spec.model == "SmolLM2-135M-Instruct"
        assert "first run" in result.summary_line()
    assert first[0].unique_outputs == 1  # same seed, same text
    assert first[0].fingerprints[0].startswith("local-")

    second = run_probes(config, settings, store, make_provider)
    seeded, unseeded = second
    assert seeded.previous_experiment_id == first[0].experiment_id
    assert (seeded.outputs_changed, seeded.fingerprint_changed, seeded.drifted) == (
        False,
        False,
        False,
    )
    assert "outputs unchanged, fingerprint unchanged" in seeded.summary_line()
    assert unseeded.previous_experiment_id == first[1].experiment_id
    assert unseeded.drifted is False  # unseeded outputs may change; that is not drift
    json.dumps([result.to_dict() for result in second])

    # Drift series of the seeded probe: 4 runs of one request, all the same text.
    series = store.drift_series(provider="local")
    assert [point.status for point in series] == ["first", "same", "same", "same"]


# -- running on an OpenAI-compatible server -------------------------------------------------


def remote_probe(port: int, **overrides) -> dict:
    return {
        "name": "remote",
        "prompt": "Name a planet.",
        "provider": "openai",
        "model": "fake-model",
        "base_url": f"http://127.0.0.1:{port}/v1",
        "seed": 7,
        "runs": 2,
        "max_tokens": 8,
    } | overrides


def run_against_server(store, config, *server_options) -> list:
    server = start_fake_server(*server_options)
    try:
        return run_probes(config, Settings(), store, make_provider)
    finally:
        server.stop()


def test_remote_probe_reports_fingerprint_changes_and_drift(store):
    port = free_port()
    config = parse_probe_config({"probe": [remote_probe(port)]})
    (first,) = run_against_server(store, config, "--port", str(port), "--fingerprint", "fp_one")
    assert (first.fingerprints, first.base_url_host, first.drifted) == (
        ["fp_one"],
        f"127.0.0.1:{port}",
        False,
    )

    # Same backend address, new build: same text, new fingerprint. Not drift.
    (second,) = run_against_server(store, config, "--port", str(port), "--fingerprint", "fp_two")
    assert second.previous_experiment_id == first.experiment_id
    assert (second.outputs_changed, second.fingerprint_changed, second.drifted) == (
        False,
        True,
        False,
    )
    assert "fingerprint changed (fp_one -> fp_two)" in second.summary_line()

    # The backend now answers differently to the same seeded request: drift.
    (third,) = run_against_server(
        store, config, "--port", str(port), "--fingerprint", "fp_two", "--payload", "echo"
    )
    assert third.previous_experiment_id == second.experiment_id
    assert (third.outputs_changed, third.fingerprint_changed, third.drifted) == (True, False, True)
    assert "DRIFT: outputs changed" in third.summary_line()
    assert third.to_dict()["drifted"] is True

    spans = store.fingerprint_changes(provider="openai")
    assert [(s.system_fingerprint, s.runs) for s in spans] == [("fp_one", 2), ("fp_two", 4)]


def test_a_changed_request_starts_a_new_comparison_and_a_broken_probe_does_not_stop_others(
    store,
):
    port = free_port()
    base = remote_probe(port)
    unconfigured = {"name": "no-backend", "prompt": "p", "provider": "openai", "seed": 1}
    server = start_fake_server("--port", str(port))
    try:
        run_probes(parse_probe_config({"probe": [base]}), Settings(), store, make_provider)
        changed = parse_probe_config({"probe": [unconfigured, remote_probe(port, max_tokens=9)]})
        broken, remote = run_probes(changed, Settings(), store, make_provider)
    finally:
        server.stop()
    assert broken.status == "error" and broken.experiment_id is None
    assert "OPENAI_API_KEY" in broken.error and "not run" in broken.summary_line()
    assert remote.status == "complete"
    assert remote.previous_experiment_id is None  # max_tokens differs: another request
    assert store.count_experiments() == 2


def test_failed_runs_are_stored_and_not_counted_as_drift(store):
    port = free_port()
    config = parse_probe_config({"probe": [remote_probe(port)]})
    run_against_server(store, config, "--port", str(port))
    (failing,) = run_against_server(
        store, config, "--port", str(port), "--fault-rate", "1", "--faults", "500"
    )
    assert (failing.runs, failing.failed_runs, failing.unique_outputs) == (2, 2, 0)
    assert failing.outputs_changed is None and failing.drifted is False
    assert failing.status == "failed"  # every run failed: the lifecycle says so
    assert "[failed]" in failing.summary_line()
    assert "no successful runs to compare" in failing.summary_line()
    stored = store.load_experiment(failing.experiment_id)
    assert (stored.status, stored.summary.failed_runs) == ("failed", 2)


def test_an_unreachable_probe_server_is_named_as_set_in_the_probes_file(store):
    port = free_port()  # nothing listens there
    config = parse_probe_config({"probe": [remote_probe(port)]})
    (result,) = run_probes(config, Settings(openai_max_retries=0), store, make_provider)
    assert result.status == "failed"
    stored = store.load_experiment(result.experiment_id)
    assert stored.status == "failed"
    for completion in stored.completions:
        assert completion.error_type == "APIConnectionError"
        assert (
            f"check the base URL set in the probes file (http://127.0.0.1:{port}/v1)"
            in completion.error_message
        )


def test_a_database_failure_mid_probe_ends_it_interrupted_with_the_saved_runs(tmp_path):
    """A real SQLite error on the second insert: the probe stops, says why, keeps run 0."""
    database = tmp_path / "probes.db"
    with Store.open(f"sqlite:///{database}") as store:
        connection = sqlite3.connect(database)
        connection.execute(
            "CREATE TRIGGER disk_full BEFORE INSERT ON runs WHEN (SELECT count(*) FROM runs) >= 1 "
            "BEGIN SELECT RAISE(ABORT, 'simulated disk full'); END"
        )
        connection.commit()
        connection.close()
        server = start_fake_server()
        try:
            probe = remote_probe(server.port, runs=3)
            (result,) = run_probes(
                parse_probe_config({"probe": [probe]}),
                Settings(remote_concurrency=1),
                store,
                make_provider,
            )
        finally:
            server.stop()
        assert result.status == "interrupted"
        assert "simulated disk full" in result.error and "[interrupted]" in result.summary_line()
        stored = store.load_experiment(result.experiment_id)
        assert (stored.status, len(stored.completions)) == ("interrupted", 1)


def test_cancelled_before_start_runs_nothing(store):
    config = parse_probe_config({"probe": [remote_probe(free_port())]})
    cancel = threading.Event()
    cancel.set()
    assert run_probes(config, Settings(), store, make_provider, cancel=cancel) == []
    assert store.count_experiments() == 0
